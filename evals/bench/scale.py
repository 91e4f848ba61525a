"""Scale: the corpus replicated to N chunks (distinct URLs, a tag word per replica) and ingested
by the real pipeline in a child process whose embedder reuses the originals' vectors; then an
unchanged and a 1%-edited re-ingest. Everything but the model is measured at full size."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench.common import child_env, dir_mb, edited, peak_rss_mb, run_child, settings_for, write_parts

TAG = re.compile(r" \[r\d+\]$")  # the replica tag at the end of a chunk's text
PER_FILE = 2000  # articles per corpus file of the replicated corpus (files as a user would have them)
CHILD_TIMEOUT_S = 4 * 3600  # a 1M-chunk ingest with its re-ingests runs 2-3 h here: 1 h cut it off
DIM = 384  # MiniLM's (and the hash embedder's) dimension: the shape of an empty lookup


def with_param(url: str, key: str, value: str) -> str:
    """``url`` with ``key=value`` added to its query (before any fragment)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    query = f"{parts.query}&{key}={value}" if parts.query else f"{key}={value}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def build_replicas(articles: list, target_chunks: int, chunk_tokens: int, overlap: int) -> tuple[list, int]:
    """The articles, then replicas of them (a distinct URL and a ``[rN]`` tag word at the end
    of the body), until about ``target_chunks`` chunks."""
    from rag.ingest.chunking import chunk_article
    from rag.ingest.ids import article_id

    per = [len(chunk_article(a, chunk_tokens, overlap)) for a in articles]
    out, total, r = [], 0, 0
    while total < target_chunks:
        for a, n in zip(articles, per):
            if total >= target_chunks:
                break
            if r == 0:
                out.append(a)
            else:
                url = with_param(a.url, "replica", str(r)) if a.url else None
                body = a.body + f" [r{r}]"
                out.append(dataclasses.replace(a, id=article_id(url, a.title, body), url=url, body=body))
            total += n
        r += 1
    return out, total


def text_key(text: str) -> str:
    """The lookup key of a chunk text: the hash of the text without its replica tag."""
    return hashlib.sha1(TAG.sub("", text).encode("utf-8")).hexdigest()


class ReplicaEmbedder:
    """Embeds a replica's text with the vector of its original (the same text without the
    replica tag), looked up by hash; texts without an original are embedded by ``fallback``
    once and cached. Queries go to ``fallback``. Stands in for the model at 100k chunks, which
    would take hours to embed here."""

    def __init__(self, lookup: dict[str, np.ndarray], fallback):
        self.lookup = lookup
        self.fallback = fallback
        self.name = fallback.name
        self.dim = fallback.dim
        self.misses = 0
        self.hits = 0

    def embed_texts(self, texts, progress=None):
        """Vectors of ``texts``: looked up, else embedded by the fallback (and remembered)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        miss = []
        for i, t in enumerate(texts):
            v = self.lookup.get(text_key(t))
            if v is None:
                miss.append(i)
            else:
                out[i] = v
        if miss:
            vecs = self.fallback.embed_texts([texts[i] for i in miss])
            for i, v in zip(miss, vecs):
                out[i] = v
                self.lookup[text_key(texts[i])] = v
        self.misses += len(miss)
        self.hits += len(texts) - len(miss)
        if progress is not None:
            progress(len(texts))
        return out

    def embed_query(self, text):
        """The fallback's question vector."""
        return self.fallback.embed_query(text)


def lookup_from_index(index: Path) -> dict[str, np.ndarray]:
    """{key of indexed text: vector} of an index folder: its saved dense matrix and its chunk
    records (``records.sqlite3`` and ``dense/``, see ``rag.index.store``); no chroma, no rebuild."""
    from rag.index.dense import DenseIndex
    from rag.index.records import Records

    dense = DenseIndex.load(index / "dense")
    if dense is None:
        return {}
    records = Records(index / "records.sqlite3")
    try:
        rows = [(cid, header, text) for cid, header, text, _outlet, _pub in records.iter_chunk_rows()]
    finally:
        records.close()
    vectors = dense.get_vectors([cid for cid, _h, _t in rows])
    return {text_key(f"{header}\n\n{text}" if header else text): np.asarray(vectors[cid], dtype=np.float32)
            for cid, header, text in rows if cid in vectors}


def save_lookup(lookup: dict[str, np.ndarray], path: Path) -> Path:
    """Write a lookup as ``.npz`` (keys and vectors) for the child process."""
    keys = list(lookup)
    np.savez(path, keys=np.array(keys), vectors=np.stack([lookup[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32))
    return path


def read_lookup(path: Path) -> dict[str, np.ndarray]:
    """A lookup written by :func:`save_lookup`."""
    z = np.load(path)
    return dict(zip(z["keys"].tolist(), z["vectors"]))


def worker_scale_ingest(job: dict) -> dict[str, Any]:
    """In a child process: full ingest of the replicated corpus with the replica embedder, then
    an unchanged re-ingest and a 1%-edited one. Reports times, stages and peak RSS."""
    from rag.archive import Archive
    from rag.index.embedding import make_embedder
    from rag.ingest.pipeline import ingest_paths

    settings = settings_for(Path(job["index"]), job["embedder"])
    fallback = make_embedder(settings)
    if job["embedder"] != "hash":
        # a real ingest holds the model: count its memory (MiniLM: a batch this large loads torch)
        fallback.embed_texts(["warm"] * (getattr(fallback, "small_batch", 0) + 1))
    emb = ReplicaEmbedder(read_lookup(Path(job["lookup"])), fallback)
    archive = Archive.create(settings=settings)
    res: dict[str, Any] = {}
    for name, files in (("full", job["files"]), ("unchanged", job["files"]), ("edited", job["edited_files"])):
        st: dict[str, Any] = {}
        t = time.perf_counter()
        rep = ingest_paths(archive.store, emb, files, progress=False, stats=st)
        res[name] = {"seconds": time.perf_counter() - t, "report": rep.to_dict(), "stages": st,
                     "rss_mb": peak_rss_mb()}
        res[name]["report"].pop("errors", None)
    res["replica_hits"], res["replica_misses"] = emb.hits, emb.misses
    res["peak_rss_mb"] = peak_rss_mb()
    res["counts"] = archive.store.records.counts()
    return res


def bench_scale(articles: list, lookup: dict[str, np.ndarray], out: Path, embedder_name: str, target: int, log) -> dict[str, Any]:
    """Build the replicated index in a child process (see :func:`worker_scale_ingest`)."""
    from rag.settings import Settings

    s = Settings()
    replicas, total = build_replicas(articles, target, s.chunk_tokens, s.chunk_overlap)
    shutil.rmtree(out / "scale-corpus", ignore_errors=True)
    files = write_parts(replicas, out / "scale-corpus", PER_FILE)
    edited_files = write_parts(edited(replicas)[0], out / "scale-edited", PER_FILE)
    index = out / "scale-index"
    shutil.rmtree(index, ignore_errors=True)
    lookup_path = save_lookup(lookup, out / "lookup.npz")
    job = {"index": str(index), "embedder": embedder_name, "lookup": str(lookup_path), "files": files, "edited_files": edited_files}
    log(f"  {len(replicas)} articles (~{total} chunks) -> {index} (child process)")
    r = run_child([sys.executable, "-m", "evals.bench", "--worker", json.dumps(job)], env=child_env(embedder_name), timeout=CHILD_TIMEOUT_S)
    if r["code"] != 0:
        raise RuntimeError(f"scale ingest failed:\n{r['stderr']}")
    res = json.loads(r["stdout"].strip().splitlines()[-1])
    res["articles"] = len(replicas)
    res["process_seconds"] = r["seconds"]
    res["index_mb"] = dir_mb(index)
    res["parts_mb"] = {name: dir_mb(index / name) for name in ("dense", "bm25", "chroma") if (index / name).is_dir()}
    return res
