"""Performance benchmark: ``rag bench`` / ``python -m evals.bench``.

    rag bench [--corpus PATH] [--scale N] [--out DIR] [--articles N] [--queries N]
              [--million N] [--embedder minilm|hash] [--vectors-from INDEX] [--no-llama]

Every comparison is measured in the same run and reported as a ratio; the table is printed
and written to ``DIR/bench.md``, everything measured to ``DIR/bench.json``.

1. Ingest of ``--articles`` articles of the corpus, in rounds that alternate the three
   contenders (so that load from other processes hits all of them alike): newsrag's ingest
   (what ``rag ingest`` runs; model already loaded), the limit (bare
   ``SentenceTransformer.encode`` of the very same chunk texts, at batch sizes 16 and 32 in
   every round, the faster counting), and a plain llama-index pipeline (``VectorStoreIndex.from_documents`` with
   ``SentenceSplitter(200, 40)``, the same model behind a ``BaseEmbedding`` that mirrors
   ``HuggingFaceEmbedding``'s defaults, and a Chroma store).
2. Re-ingest of that corpus unchanged, and with 1% of its articles edited (a sentence inserted
   in the middle of the body).
3. Scale: the corpus replicated to ``--scale`` chunks (each replica a distinct URL and a tag
   word at the end of the body), ingested by the real pipeline in a child process whose
   embedder reuses the vectors computed for the originals (from ``--vectors-from``, an index
   of the same corpus, else from step 1's index, replicating only its articles): everything
   but the model is measured at full size, including chroma's insert and peak memory. Then
   ``search`` and ``ask`` (extractive) p50/p95, warm, without filter, with a date filter
   (about half the corpus) and with an outlet filter, against llama-index's retriever and
   query engine (``MockLLM``: retrieval and prompt packing, no generation) over the same
   chroma collection; the cold ``rag ask`` (process start to answer) and its peak RSS.
4. The dense store alone at ``--million`` random vectors: search p50 with and without masks.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets" / "multihop-rag"
DEFAULT_CORPUS = SHARED / "corpus.json"
DEFAULT_QUERIES = SHARED / "queries-dev.json"
DEFAULT_VECTORS = ROOT / "index" / "multihop"
SAMPLE = ROOT / "rag" / "sample"
_TAG = re.compile(r" \[r\d+\]$")


# ---- helpers ---------------------------------------------------------------------------------
def _pct(xs: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(xs), q)) if len(xs) else None


def _lat(xs: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/mean in milliseconds of durations in seconds."""
    ms = [x * 1000 for x in xs]
    return {"p50_ms": _pct(ms, 50), "p95_ms": _pct(ms, 95), "mean_ms": statistics.fmean(ms) if ms else None, "n": len(ms)}


def _load() -> float:
    return os.getloadavg()[0]


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB. Not ``ru_maxrss``: Linux carries the
    parent's peak over into a child at exec, so a child of a big process would report that."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    from importlib import metadata

    versions = {}
    for pkg in ("torch", "sentence-transformers", "chromadb", "llama-index-core", "bm25s", "numpy", "ray"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return {"cpu": cpu, "nproc": os.cpu_count(), "mem_gb": mem, "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions, "load_at_start": round(_load(), 2)}


def _run_child(cmd: list[str], env: dict | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Run a process to completion; wall seconds, exit code, output and its peak RSS (MB)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - t
    # communicate() reaped the child; its rusage is in RUSAGE_CHILDREN only as a max over all
    # children, so children that need their own figure report it themselves (see _worker).
    return {"seconds": wall, "code": proc.returncode, "stdout": out, "stderr": err[-4000:]}


def _corpus_articles(path: Path) -> list:
    from rag.ingest.loaders import iter_articles

    return [a for a in iter_articles([path]) if hasattr(a, "body")]


def _write_jsonl(articles, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps({
                "title": a.title, "body": a.body, "source": a.outlet, "author": a.author,
                "published_at": a.published_at.isoformat() if a.published_at else None,
                "url": a.url, "category": a.category,
            }, ensure_ascii=False) + "\n")
    return path


def _edit(article, n: int):
    """The article with a short sentence inserted at a sentence boundary near the middle."""
    body = article.body
    mid = body.find(". ", len(body) // 2)
    mid = len(body) if mid == -1 else mid + 1
    return dataclasses.replace(article, body=body[:mid] + f" Correction {n}: an earlier version misstated a detail." + body[mid:])


def _edited(articles: list, share: float = 0.01) -> tuple[list, int]:
    """``articles`` with ``share`` of them (at least one) edited, spread evenly; articles with a
    URL are picked (an article without one is identified by its text: an edit makes it new)."""
    n = max(1, math.ceil(len(articles) * share))
    cands = [i for i, a in enumerate(articles) if a.url] or list(range(len(articles)))
    picks = cands[:: max(1, len(cands) // n)][:n]
    out = list(articles)
    for j, i in enumerate(picks):
        out[i] = _edit(articles[i], j)
    return out, len(picks)


def _settings(index: Path, embedder: str):
    from rag.settings import Settings

    return Settings.load(env={}, index=str(index), embedder=embedder)


# ---- embedding that reuses the vectors of originals (scale runs) ----------------------------
def _key(text: str) -> str:
    return hashlib.sha1(_TAG.sub("", text).encode("utf-8")).hexdigest()


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
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        miss = []
        for i, t in enumerate(texts):
            v = self.lookup.get(_key(t))
            if v is None:
                miss.append(i)
            else:
                out[i] = v
        if miss:
            vecs = self.fallback.embed_texts([texts[i] for i in miss])
            for i, v in zip(miss, vecs):
                out[i] = v
                self.lookup[_key(texts[i])] = v
        self.misses += len(miss)
        self.hits += len(texts) - len(miss)
        if progress is not None:
            progress(len(texts))
        return out

    def embed_query(self, text):
        return self.fallback.embed_query(text)


def _lookup_from_index(index: Path) -> dict[str, np.ndarray]:
    """{hash of indexed text: vector} of an index folder, read without opening it for writing."""
    import sqlite3

    from rag.index.dense import DenseIndex

    dense = DenseIndex.load(index / "dense")
    if dense is None:
        return {}
    conn = sqlite3.connect(f"file:{index / 'records.sqlite3'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, header, text FROM chunks").fetchall()
    finally:
        conn.close()
    out = {}
    for cid, header, text in rows:
        row = dense._row.get(cid)
        if row is not None:
            out[_key(f"{header}\n\n{text}" if header else text)] = np.asarray(dense.vectors[row], dtype=np.float32)
    return out


def _save_lookup(lookup: dict[str, np.ndarray], path: Path) -> Path:
    keys = list(lookup)
    np.savez(path, keys=np.array(keys), vectors=np.stack([lookup[k] for k in keys]) if keys else np.zeros((0, 384), np.float32))
    return path


def _read_lookup(path: Path) -> dict[str, np.ndarray]:
    z = np.load(path)
    return dict(zip(z["keys"].tolist(), z["vectors"]))


# ---- llama-index baseline pieces -------------------------------------------------------------
def llama_embedding(embed_texts: Callable[[list[str]], np.ndarray], embed_query: Callable[[str], np.ndarray], batch_size: int = 10):
    """A llama-index ``BaseEmbedding`` over our functions. With ``SentenceTransformer.encode``
    and ``batch_size=10`` it does what ``HuggingFaceEmbedding`` does by default (that package
    is not installed here)."""
    from llama_index.core.embeddings import BaseEmbedding

    class _Embedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return np.asarray(embed_query(query)).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return np.asarray(embed_texts([text])[0]).tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return np.asarray(embed_texts(texts)).tolist()

    return _Embedding(model_name="all-MiniLM-L6-v2", embed_batch_size=batch_size)


def _llama_filters(since_ts: float | None, outlet: str | None):
    from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

    if since_ts is not None:
        return MetadataFilters(filters=[MetadataFilter(key="published_ts", value=int(since_ts), operator=FilterOperator.GTE)])
    if outlet is not None:
        return MetadataFilters(filters=[MetadataFilter(key="outlet", value=outlet, operator=FilterOperator.EQ)])
    return None


# ---- 1. ingest -------------------------------------------------------------------------------
def bench_ingest(articles: list, out: Path, embedder_name: str, llama: bool, rounds: int, log) -> dict[str, Any]:
    """Ingest ``articles`` three ways in alternating rounds; returns seconds, rates, ratios."""
    from rag.archive import Archive
    from rag.ingest.chunking import chunk_article
    from rag.index.embedding import make_embedder

    settings = _settings(out / "ingest-index", embedder_name)
    shutil.rmtree(out / "ingest-index", ignore_errors=True)
    embedder = make_embedder(settings)
    texts_by_article = [[c.indexed_text for c in chunk_article(a, settings.chunk_tokens, settings.chunk_overlap)] for a in articles]
    n_chunks = sum(map(len, texts_by_article))

    # the limit: the bare model call at its best batch size
    if embedder_name == "minilm":
        model = embedder._load()

        def encode(texts: list[str], bs: int) -> np.ndarray:
            return model.encode(texts, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

        encode([t for ts in texts_by_article for t in ts][:8], 8)  # warm
        # the limit is measured at each of these batch sizes in every round, and the faster
        # total counts (a one-off sweep picked noise on this shared machine)
        sizes = (16, 32)
    else:
        def encode(texts: list[str], bs: int) -> np.ndarray:
            return embedder.embed_texts(texts)

        sizes = (0,)
        embedder.embed_texts(["warm"])
    embedder.embed_texts([t for ts in texts_by_article[:1] for t in ts][:4])  # the ingest path's model too

    parts = [list(range(i, len(articles), rounds)) for i in range(rounds)]
    secs = {"newsrag": 0.0, "limit": 0.0, "llama": 0.0}
    limit_by_bs = {bs: 0.0 for bs in sizes}
    import chromadb  # noqa: F401 - imports outside the timed rounds, for every contender
    import llama_index.vector_stores.chroma  # noqa: F401

    archive = Archive.create(settings=settings)
    llama_chunks = 0
    if llama:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import Document, StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        if embedder_name == "minilm":
            li_embed = llama_embedding(lambda ts: encode(ts, 10), embedder.embed_query, batch_size=10)
        else:
            li_embed = llama_embedding(embedder.embed_texts, embedder.embed_query, batch_size=10)
        shutil.rmtree(out / "llama-chroma", ignore_errors=True)
        client = chromadb.PersistentClient(path=str(out / "llama-chroma"), settings=ChromaSettings(anonymized_telemetry=False))
        li_collection = client.get_or_create_collection("llama_baseline")
    for r, idx in enumerate(parts):
        part_file = _write_jsonl([articles[i] for i in idx], out / "ingest-parts" / f"part{r}.jsonl")
        # newsrag (what `rag ingest` runs)
        t = time.perf_counter()
        archive.ingest([part_file])
        secs["newsrag"] += time.perf_counter() - t
        # the limit: the same chunk texts, one encode call per batch size
        texts = [t_ for i in idx for t_ in texts_by_article[i]]
        for bs in sizes:
            t = time.perf_counter()
            encode(texts, bs)
            limit_by_bs[bs] += time.perf_counter() - t
        if llama:
            t = time.perf_counter()
            rows = [json.loads(line) for line in part_file.read_text(encoding="utf-8").splitlines()]
            docs = [Document(text=d["body"], metadata={"title": d["title"], "source": d["source"] or "", "published_at": d["published_at"] or ""}) for d in rows]
            store = ChromaVectorStore(chroma_collection=li_collection)
            VectorStoreIndex.from_documents(
                docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=li_embed,
                transformations=[SentenceSplitter(chunk_size=200, chunk_overlap=40)], show_progress=False,
            )
            secs["llama"] += time.perf_counter() - t
        log(f"  round {r + 1}/{rounds}: newsrag {secs['newsrag']:.1f}s, limit "
            + ", ".join(f"{v:.1f}s (batch {bs})" for bs, v in limit_by_bs.items()) + f", llama-index {secs['llama']:.1f}s")
    best = min(limit_by_bs, key=limit_by_bs.get)
    secs["limit"] = limit_by_bs[best]
    if llama:
        llama_chunks = li_collection.count()
    res = {
        "articles": len(articles), "chunks": n_chunks, "rounds": rounds,
        "limit_chunks_per_s_by_batch": {bs: n_chunks / v for bs, v in limit_by_bs.items()},
        "best_batch_size": best, "seconds": secs, "llama_chunks": llama_chunks,
        "articles_per_s": {k: len(articles) / v if v else None for k, v in secs.items()},
        "chunks_per_s": {"newsrag": n_chunks / secs["newsrag"], "limit": n_chunks / secs["limit"],
                         "llama": llama_chunks / secs["llama"] if secs["llama"] else None},
        "ratio_vs_limit": secs["limit"] / secs["newsrag"],
        "ratio_vs_llama": secs["llama"] / secs["newsrag"] if secs["llama"] else None,
    }
    return res


def bench_reingest(articles: list, out: Path, embedder_name: str, full_seconds: float, log) -> dict[str, Any]:
    """Re-ingest the step-1 index's corpus unchanged, then with 1% of the articles edited."""
    from rag.archive import Archive
    from rag.ingest.pipeline import ingest_paths

    archive = Archive.open(settings=_settings(out / "ingest-index", embedder_name))
    files = sorted((out / "ingest-parts").glob("part*.jsonl"))
    st: dict[str, Any] = {}
    t = time.perf_counter()
    r1 = ingest_paths(archive.store, archive.embedder, files, progress=False, stats=st)
    unchanged = time.perf_counter() - t
    edited, _ = _edited(articles)
    # the same files as before, with the edited articles in place
    by_id = {a.id: a for a in edited}
    edit_files = []
    for f in files:
        ids = [a.id for a in _corpus_articles(f)]
        edit_files.append(_write_jsonl([by_id[i] for i in ids], out / "ingest-edited" / f.name))
    st2: dict[str, Any] = {}
    t = time.perf_counter()
    r2 = ingest_paths(archive.store, archive.embedder, edit_files, progress=False, stats=st2)
    edit_s = time.perf_counter() - t
    log(f"  unchanged {unchanged:.2f}s ({r1.unchanged} unchanged); 1% edited {edit_s:.2f}s ({r2.updated} updated, "
        f"{st2.get('embedded', 0)} chunks embedded, {st2.get('reused', 0)} reused)")
    return {
        "unchanged_seconds": unchanged, "unchanged_ratio": unchanged / full_seconds,
        "edited_articles": r2.updated + r2.new, "edited_seconds": edit_s, "edited_ratio": edit_s / full_seconds,
        "edited_chunks_embedded": st2.get("embedded", 0), "edited_chunks_reused": st2.get("reused", 0),
        "edited_chunks_added": r2.chunks_added, "edited_chunks_removed": r2.chunks_removed,
        "edited_stages": {k: round(v, 3) for k, v in st2.items()},
    }


# ---- 3. scale --------------------------------------------------------------------------------
def _with_param(url: str, key: str, value: str) -> str:
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
                url = _with_param(a.url, "replica", str(r)) if a.url else None
                body = a.body + f" [r{r}]"
                out.append(dataclasses.replace(a, id=article_id(url, a.title, body), url=url, body=body))
            total += n
        r += 1
    return out, total


def _worker_scale_ingest(job: dict) -> dict[str, Any]:
    """In a child process: full ingest of the replicated corpus with the replica embedder, then
    an unchanged re-ingest and a 1%-edited one. Reports times, stages and peak RSS."""
    from rag.archive import Archive
    from rag.index.embedding import make_embedder
    from rag.ingest.pipeline import ingest_paths

    settings = _settings(Path(job["index"]), job["embedder"])
    fallback = make_embedder(settings)
    if job["embedder"] == "minilm":
        fallback._load()  # a real ingest holds the model: count its memory
    emb = ReplicaEmbedder(_read_lookup(Path(job["lookup"])), fallback)
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
    """Build the replicated index in a child process (see :func:`_worker_scale_ingest`)."""
    from rag.settings import Settings

    s = Settings()
    replicas, total = build_replicas(articles, target, s.chunk_tokens, s.chunk_overlap)
    files, per_file = [], 2000
    shutil.rmtree(out / "scale-corpus", ignore_errors=True)
    for i in range(0, len(replicas), per_file):
        files.append(str(_write_jsonl(replicas[i : i + per_file], out / "scale-corpus" / f"part{i // per_file:03d}.jsonl")))
    edited, _ = _edited(replicas)
    edited_files = []
    for i in range(0, len(edited), per_file):
        edited_files.append(str(_write_jsonl(edited[i : i + per_file], out / "scale-edited" / f"part{i // per_file:03d}.jsonl")))
    index = out / "scale-index"
    shutil.rmtree(index, ignore_errors=True)
    lookup_path = _save_lookup(lookup, out / "lookup.npz")
    job = {"index": str(index), "embedder": embedder_name, "lookup": str(lookup_path), "files": files, "edited_files": edited_files}
    log(f"  {len(replicas)} articles (~{total} chunks) -> {index} (child process)")
    r = _run_child([sys.executable, "-m", "evals.bench", "--worker", json.dumps(job)], env=_child_env(embedder_name))
    if r["code"] != 0:
        raise RuntimeError(f"scale ingest failed:\n{r['stderr']}")
    res = json.loads(r["stdout"].strip().splitlines()[-1])
    res["articles"] = len(replicas)
    res["process_seconds"] = r["seconds"]
    return res


def _child_env(embedder_name: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAG_EMBEDDER=embedder_name, HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false")
    for k in ("RAG_INDEX", "RAG_CHROMA_URL", "RAG_CONFIG"):
        env.pop(k, None)
    return env


def _questions(path: Path | None, articles: list, n: int) -> list[str]:
    if path is not None and path.is_file():
        qs = [q["query"] for q in json.loads(path.read_text(encoding="utf-8")) if q.get("query")]
    else:
        qs = [a.title for a in articles if a.title]
    step = max(1, len(qs) // n)
    return qs[::step][:n]


def _filters(articles: list) -> dict[str, dict]:
    dates = sorted(a.published_at for a in articles if a.published_at)
    outlets: dict[str, int] = {}
    for a in articles:
        if a.outlet:
            outlets[a.outlet] = outlets.get(a.outlet, 0) + 1
    out = {"none": {}}
    if dates:
        out["date"] = {"since": dates[len(dates) // 2]}
    if outlets:
        out["outlet"] = {"outlet": max(outlets, key=outlets.get)}
    return out


def bench_queries(index: Path, embedder_name: str, questions: list[str], articles: list, llama: bool, log) -> dict[str, Any]:
    """Warm search/ask latency per filter, and llama-index's retriever and query engine over
    the same chroma collection."""
    from rag.archive import Archive

    archive = Archive.open(settings=_settings(index, embedder_name))
    filters = _filters(articles)
    res: dict[str, Any] = {"filters": {k: {kk: str(vv) for kk, vv in v.items()} for k, v in filters.items()}}
    for q in questions[:3]:  # warm: snapshots loaded, pages mapped, model loaded
        archive.ask(q)
    # every timed call embeds its question itself (the embedder remembers recent questions,
    # which would let a later contender reuse an earlier one's vector)
    # (and its term tables per passage, which a second call on the same question would reuse)
    forget = archive.retriever.clear_caches
    for name, f in filters.items():
        kw = {"since": f.get("since"), "outlets": [f["outlet"]] if "outlet" in f else None}
        if "since" in f:
            frac = float(np.mean(archive.store.dense.mask(f["since"], None, None)))
        elif "outlet" in f:
            frac = float(np.mean(archive.store.dense.mask(None, None, [f["outlet"]])))
        else:
            frac = 1.0
        s_t, a_t = [], []
        for q in questions:
            forget()
            t = time.perf_counter()
            archive.search(q, **kw)
            s_t.append(time.perf_counter() - t)
            forget()
            t = time.perf_counter()
            archive.ask(q, **kw)
            a_t.append(time.perf_counter() - t)
        res[f"search_{name}"] = _lat(s_t)
        res[f"ask_{name}"] = _lat(a_t)
        res[f"fraction_{name}"] = frac
        log(f"  newsrag {name:7s} (matches {frac:.0%}): search p50 {res[f'search_{name}']['p50_ms']:.1f} ms, ask p50 {res[f'ask_{name}']['p50_ms']:.1f} ms")
    if llama:
        from llama_index.core import VectorStoreIndex
        from llama_index.core.llms import MockLLM
        from llama_index.vector_stores.chroma import ChromaVectorStore

        coll = archive.store.vectors.collection
        emb = archive.embedder
        li_index = VectorStoreIndex.from_vector_store(
            ChromaVectorStore(chroma_collection=coll), embed_model=llama_embedding(emb.embed_texts, emb.embed_query)
        )
        k = archive.settings.top_k
        for name, f in filters.items():
            since_ts = f["since"].timestamp() if "since" in f else None
            retriever = li_index.as_retriever(similarity_top_k=k, filters=_llama_filters(since_ts, f.get("outlet")))
            engine = li_index.as_query_engine(
                llm=MockLLM(max_tokens=64), similarity_top_k=archive.settings.answer_passages,
                filters=_llama_filters(since_ts, f.get("outlet")),
            )
            retriever.retrieve(questions[0])
            r_t, e_t = [], []
            for q in questions:
                forget()
                t = time.perf_counter()
                retriever.retrieve(q)
                r_t.append(time.perf_counter() - t)
                forget()
                t = time.perf_counter()
                engine.query(q)
                e_t.append(time.perf_counter() - t)
            res[f"llama_retrieve_{name}"] = _lat(r_t)
            res[f"llama_query_{name}"] = _lat(e_t)
            log(f"  llama-index {name:7s}: retrieve p50 {res[f'llama_retrieve_{name}']['p50_ms']:.1f} ms, "
                f"query engine p50 {res[f'llama_query_{name}']['p50_ms']:.1f} ms")
    archive.store.release_vectors()
    return res


_COLD = """
import atexit, sys
from pathlib import Path
def _peak():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            print("VmHWM_kB", line.split()[1], file=sys.stderr)
atexit.register(_peak)
sys.argv = ["rag", *sys.argv[1:]]
from rag.cli import main
sys.exit(main())
"""


def bench_cold(index: Path, embedder_name: str, question: str, runs: int, log) -> dict[str, Any]:
    """Seconds from process start to the printed answer of ``rag ask`` (what the ``rag``
    script runs: ``rag.cli.main``), and that process's peak RSS."""
    walls, rss = [], []
    out = ""
    for _ in range(runs):
        r = _run_child([sys.executable, "-c", _COLD, "ask", question, "--index", str(index)], env=_child_env(embedder_name), timeout=600)
        if r["code"] != 0:
            raise RuntimeError(f"rag ask failed: {r['stderr'][-2000:]}")
        walls.append(r["seconds"])
        kb = [int(x.split()[1]) for x in r["stderr"].splitlines() if x.startswith("VmHWM_kB")]
        rss.append(kb[-1] / 1024 if kb else float("nan"))
        out = r["stdout"]
    log(f"  cold rag ask: {', '.join(f'{w:.1f}s' for w in walls)}; peak RSS {max(rss):.0f} MB")
    return {"seconds": walls, "median_s": statistics.median(walls), "peak_rss_mb": max(rss), "answer_chars": len(out),
            "abstained": "no passage" in out}


# ---- 4. the dense store at 1M --------------------------------------------------------------
def bench_million(n: int, queries: int, log) -> dict[str, Any]:
    """DenseIndex over ``n`` random unit vectors: build seconds, memory and query p50/p95
    without a filter, with a date filter matching half, and an outlet filter matching 2%."""
    from datetime import datetime, timezone

    from rag.index.dense import DenseIndex

    rng = np.random.default_rng(0)
    t = time.perf_counter()
    vecs = rng.standard_normal((n, 384), dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [f"c{i:08d}" for i in range(n)]
    outlets = [f"outlet{i % 50}" for i in range(n)]
    ts = np.linspace(1.6e9, 1.7e9, n)
    from rag.index.dense import DenseIndex as _D  # noqa: F401 - (import cost outside the timing)

    dense = DenseIndex(ids, vecs, outlets, ts, 1)
    build = time.perf_counter() - t
    half = datetime.fromtimestamp(1.65e9, tz=timezone.utc)
    qv = rng.standard_normal((queries, 384), dtype=np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    res: dict[str, Any] = {"vectors": n, "build_s": build, "matrix_mb": vecs.nbytes / 2**20}
    for name, kw in (("none", {}), ("date", {"since": half}), ("outlet", {"outlets": ["outlet7"]})):
        dense.query(qv[0], 60, **kw)
        times = []
        for v in qv:
            t = time.perf_counter()
            dense.query(v, 60, **kw)
            times.append(time.perf_counter() - t)
        res[f"query_{name}"] = _lat(times)
        log(f"  dense {n} {name:7s}: p50 {res[f'query_{name}']['p50_ms']:.1f} ms")
    return res


# ---- Ray path ----------------------------------------------------------------------------------
def bench_ray(articles: list, out: Path, embedder_name: str, log) -> dict[str, Any]:
    """The same articles ingested by the single process and by ``--ray`` on a local cluster
    (started here and timed apart), in the same run; both indexes must hold the same chunks."""
    import logging

    import ray

    from rag.archive import Archive
    from rag.ingest.ray_ingest import ingest_ray

    corpus = _write_jsonl(articles, out / "ray-corpus" / "articles.jsonl")
    res: dict[str, Any] = {"articles": len(articles)}
    ids = {}
    for name in ("single", "ray"):
        index = out / f"ray-{name}-index"
        shutil.rmtree(index, ignore_errors=True)
        archive = Archive.create(settings=_settings(index, embedder_name))
        if name == "single":
            t = time.perf_counter()
            archive.ingest([corpus])
            res["single_s"] = time.perf_counter() - t
        else:
            t = time.perf_counter()
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            res["cluster_start_s"] = time.perf_counter() - t
            try:
                st: dict[str, Any] = {}
                t = time.perf_counter()
                ingest_ray(archive, [corpus], progress=False, stats=st)
                res["ray_s"] = time.perf_counter() - t
                res["ray_stages"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in st.items()}
            finally:
                ray.shutdown()
        ids[name] = archive.store.records.chunk_ids()
    res["chunks"] = len(ids["single"])
    res["same_chunk_ids"] = ids["single"] == ids["ray"]
    res["overhead_ratio"] = res["ray_s"] / res["single_s"]
    log(f"  single process {res['single_s']:.1f}s; ray {res['ray_s']:.1f}s (+ cluster start {res['cluster_start_s']:.1f}s); "
        f"same chunk ids: {res['same_chunk_ids']}")
    return res


# ---- the run and its table -------------------------------------------------------------------
def run_bench(args) -> dict[str, Any]:
    from rag.errors import BadInput

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = Path(args.corpus) if args.corpus else (DEFAULT_CORPUS if DEFAULT_CORPUS.is_file() else SAMPLE)
    if not corpus.exists():
        raise BadInput("no such corpus", file=str(corpus))
    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    t_start = time.perf_counter()
    res: dict[str, Any] = {"machine": machine(), "corpus": str(corpus), "embedder": args.embedder, "args": vars(args).copy()}
    res["args"].pop("func", None)
    articles = _corpus_articles(corpus)
    if not articles:
        raise BadInput("the corpus holds no articles", file=str(corpus))
    step = max(1, len(articles) // max(1, args.articles))
    subset = articles[::step][: args.articles]
    timer = {}

    log(f"[1/5] ingest: {len(subset)} articles, newsrag vs bare encode vs llama-index ({args.rounds} rounds)")
    t = time.perf_counter()
    res["ingest"] = bench_ingest(subset, out, args.embedder, not args.no_llama, args.rounds, log)
    timer["ingest"] = time.perf_counter() - t

    log("[2/5] re-ingest: unchanged, 1% edited")
    t = time.perf_counter()
    res["reingest"] = bench_reingest(subset, out, args.embedder, res["ingest"]["seconds"]["newsrag"], log)
    timer["reingest"] = time.perf_counter() - t

    qpath = Path(args.questions) if args.questions else (DEFAULT_QUERIES if corpus == DEFAULT_CORPUS else None)
    questions = _questions(qpath, articles, args.queries)
    if args.scale:
        log(f"[3/5] scale: {args.scale} chunks")
        t = time.perf_counter()
        vsrc = Path(args.vectors_from) if args.vectors_from else (DEFAULT_VECTORS if corpus == DEFAULT_CORPUS and args.embedder == "minilm" else None)
        lookup = _lookup_from_index(vsrc) if vsrc is not None and (vsrc / "dense").is_dir() else {}
        base = articles if lookup else subset
        lookup.update(_lookup_from_index(out / "ingest-index"))
        res["scale_source"] = {"vectors_from": str(vsrc) if vsrc and len(base) == len(articles) else str(out / "ingest-index"),
                               "articles_replicated": len(base), "lookup_vectors": len(lookup)}
        res["scale"] = bench_scale(base, lookup, out, args.embedder, args.scale, log)
        timer["scale_build"] = time.perf_counter() - t
        log(f"  built in {res['scale']['full']['seconds']:.0f}s, peak RSS {res['scale']['peak_rss_mb']:.0f} MB")
        t = time.perf_counter()
        log("[4/5] queries at scale, cold start")
        res["queries"] = bench_queries(out / "scale-index", args.embedder, questions, articles, not args.no_llama, log)
        res["cold"] = bench_cold(out / "scale-index", args.embedder, questions[0], args.cold_runs, log)
        timer["queries"] = time.perf_counter() - t
    if args.ray_articles:
        try:
            import ray  # noqa: F401
        except ImportError:
            log("[ray] skipped: pip install 'newsrag[ray]'")
        else:
            log(f"[ray] {args.ray_articles} articles: single process vs --ray on a local cluster")
            t = time.perf_counter()
            res["ray"] = bench_ray(subset[: args.ray_articles], out, args.embedder, log)
            timer["ray"] = time.perf_counter() - t
    if args.million:
        log(f"[5/5] dense store at {args.million} vectors")
        t = time.perf_counter()
        res["million"] = bench_million(args.million, min(50, max(5, args.queries)), log)
        timer["million"] = time.perf_counter() - t
    res["timer_s"] = timer
    res["total_s"] = time.perf_counter() - t_start
    res["machine"]["load_at_end"] = round(_load(), 2)
    (out / "bench.json").write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
    table = render_table(res)
    (out / "bench.md").write_text(table + "\n", encoding="utf-8")
    return res


def _f(x, fmt="{:.1f}") -> str:
    return "–" if x is None else fmt.format(x)


def render_table(res: dict[str, Any]) -> str:
    """The markdown table of a result dict (the README holds one)."""
    m = res["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['nproc']} cores, {m['mem_gb']} GB RAM; load average {m['load_at_start']} at start, "
        f"{m.get('load_at_end')} at end; embedder {res['embedder']}; corpus {Path(res['corpus']).name}; "
        f"total {res.get('total_s', 0) / 60:.1f} min.",
        "",
        "| measure | newsrag | baseline | ratio | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    ing = res["ingest"]
    n = ing["articles"]
    lines.append(f"| ingest, {n} articles / {ing['chunks']} chunks (articles/s; chunks/s) | "
                 f"{_f(ing['articles_per_s']['newsrag'], '{:.2f}')}; {_f(ing['chunks_per_s']['newsrag'])} | "
                 f"bare encode (batch {ing['best_batch_size']}): {_f(ing['articles_per_s']['limit'], '{:.2f}')}; {_f(ing['chunks_per_s']['limit'])} | "
                 f"{_f(ing['ratio_vs_limit'], '{:.2f}')}x | >= 0.8x |")
    if ing.get("ratio_vs_llama"):
        lines.append(f"| ingest vs plain llama-index (articles/s) | {_f(ing['articles_per_s']['newsrag'], '{:.2f}')} | "
                     f"{_f(ing['articles_per_s']['llama'], '{:.2f}')} ({ing['llama_chunks']} chunks) | "
                     f"{_f(ing['ratio_vs_llama'], '{:.2f}')}x | >= 1.5x |")
    re_ = res["reingest"]
    lines.append(f"| re-ingest unchanged (s) | {_f(re_['unchanged_seconds'], '{:.2f}')} | full ingest {_f(ing['seconds']['newsrag'])} | "
                 f"{_f(100 * re_['unchanged_ratio'], '{:.1f}')}% | <= 5% |")
    lines.append(f"| re-ingest, 1% edited ({re_['edited_articles']} articles; {re_['edited_chunks_embedded']} chunks embedded, "
                 f"{re_['edited_chunks_reused']} reused) (s) | {_f(re_['edited_seconds'], '{:.2f}')} | full ingest {_f(ing['seconds']['newsrag'])} | "
                 f"{_f(100 * re_['edited_ratio'], '{:.1f}')}% | <= 8% |")
    sc = res.get("scale")
    if sc:
        full = sc["full"]
        chunks = sc["counts"]["chunks"]
        st = full["stages"]
        embed_s = chunks / ing["chunks_per_s"]["limit"] if ing["chunks_per_s"]["limit"] else None
        other = full["seconds"] - st.get("parse", 0) - st.get("wait", 0) - st.get("refresh", 0)
        lines.append(f"| scale ingest, {sc['articles']} articles / {chunks} chunks, vectors reused (s) | {_f(full['seconds'])} "
                     f"(writer thread: chroma {_f(st.get('chroma'))}, sqlite {_f(st.get('sqlite'))}; main thread: parse+chunk "
                     f"{_f(st.get('parse'))}, then syndication clusters {_f(other)}, snapshots {_f(st.get('refresh'))}) | "
                     f"embedding them at the limit: {_f(embed_s, '{:.0f}')} | "
                     f"{_f(100 * full['seconds'] / embed_s if embed_s else None, '{:.1f}')}% | everything but the model small |")
        lines.append(f"| peak RSS of that ingest (MB) | {_f(sc['peak_rss_mb'], '{:.0f}')} | | | <= 3072 |")
        for name in ("unchanged", "edited"):
            r = sc[name]
            lines.append(f"| scale re-ingest {name} (s) | {_f(r['seconds'])} | full ingest projected {_f((embed_s or 0) + full['seconds'], '{:.0f}')} | "
                         f"{_f(100 * r['seconds'] / ((embed_s or 0) + full['seconds']), '{:.2f}')}% | {'<= 5%' if name == 'unchanged' else '<= 8%'} |")
    q = res.get("queries")
    if q:
        for name in ("none", "date", "outlet"):
            if f"search_{name}" not in q:
                continue
            frac = q.get(f"fraction_{name}", 1.0)
            label = {"none": "no filter", "date": f"date filter ({frac:.0%} of chunks)", "outlet": f"outlet filter ({frac:.1%})"}[name]
            li_r = q.get(f"llama_retrieve_{name}", {})
            li_q = q.get(f"llama_query_{name}", {})
            s, a = q[f"search_{name}"], q[f"ask_{name}"]
            lines.append(f"| search p50 / p95 ms, {label} | {_f(s['p50_ms'])} / {_f(s['p95_ms'])} | llama-index retriever {_f(li_r.get('p50_ms'))} / {_f(li_r.get('p95_ms'))} | "
                         f"{_f(li_r['p50_ms'] / s['p50_ms'] if li_r.get('p50_ms') else None, '{:.2f}')}x | <= 50 ms; not slower |")
            lines.append(f"| ask (extractive) p50 / p95 ms, {label} | {_f(a['p50_ms'])} / {_f(a['p95_ms'])} | llama-index query engine (MockLLM) {_f(li_q.get('p50_ms'))} / {_f(li_q.get('p95_ms'))} | "
                         f"{_f(li_q['p50_ms'] / a['p50_ms'] if li_q.get('p50_ms') else None, '{:.2f}')}x | <= 250 ms |")
    c = res.get("cold")
    if c:
        lines.append(f"| cold `rag ask` at scale (s, median of {len(c['seconds'])}) | {_f(c['median_s'])} | | | <= 8 s |")
        lines.append(f"| peak RSS of that query process (MB) | {_f(c['peak_rss_mb'], '{:.0f}')} | | | |")
    ry = res.get("ray")
    if ry:
        lines.append(f"| `rag ingest --ray` (local cluster), {ry['articles']} articles / {ry['chunks']} chunks (s) | {_f(ry['ray_s'])} "
                     f"(+ cluster start {_f(ry['cluster_start_s'])}; same chunk ids: {'yes' if ry['same_chunk_ids'] else 'NO'}) | "
                     f"single process {_f(ry['single_s'])} | {_f(ry['overhead_ratio'], '{:.2f}')}x the time | |")
    mm = res.get("million")
    if mm:
        lines.append(f"| dense store, {mm['vectors']} vectors ({mm['matrix_mb']:.0f} MB): top-60 p50 ms no filter / date (50%) / outlet (2%) | "
                     f"{_f(mm['query_none']['p50_ms'])} / {_f(mm['query_date']['p50_ms'])} / {_f(mm['query_outlet']['p50_ms'])} | | | |")
    return "\n".join(lines)


# ---- command line ------------------------------------------------------------------------------
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", help="articles to ingest (default: the MultiHop-RAG corpus beside the clone, else the bundled sample)")
    p.add_argument("--scale", type=int, default=100_000, help="chunks in the replicated index (0: skip; default 100000)")
    p.add_argument("--out", default="runs/bench", help="output folder (default runs/bench)")
    p.add_argument("--articles", type=int, default=48, help="articles in the model-backed ingest comparison (default 48)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of that comparison (default 2)")
    p.add_argument("--queries", type=int, default=30, help="questions per latency measurement (default 30)")
    p.add_argument("--questions", help="MultiHop-RAG query JSON for the latency questions (default: the dev split beside the corpus, else titles)")
    p.add_argument("--million", type=int, default=1_000_000, help="vectors in the dense-store-alone test (0: skip)")
    p.add_argument("--cold-runs", type=int, default=3, help="cold `rag ask` runs (default 3)")
    p.add_argument("--ray-articles", type=int, default=20, help="articles ingested by the single process and by --ray (0: skip; default 20)")
    p.add_argument("--embedder", default="minilm", choices=["minilm", "hash"], help="hash: a quick smoke run of the harness")
    p.add_argument("--vectors-from", help="an index of the same corpus whose vectors the replicas reuse (default index/multihop for the MultiHop corpus)")
    p.add_argument("--no-llama", action="store_true", help="skip the llama-index baselines")
    p.add_argument("--quiet", action="store_true")


def cmd_bench(args) -> int:
    """Run the benchmark; print the table."""
    res = run_bench(args)
    print(render_table(res))
    print(f"\nwrote {Path(args.out) / 'bench.json'} and bench.md", file=sys.stderr)
    return 0


def register(subparsers, add_common) -> None:
    """The ``bench`` subcommand of ``rag`` (entry point ``rag.commands``)."""
    p = subparsers.add_parser("bench", help="measure ingest, re-ingest, query latency, cold start and memory against baselines")
    _add_arguments(p)
    p.set_defaults(func=cmd_bench)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        print(json.dumps(_worker_scale_ingest(json.loads(argv[1])), default=str))
        return 0
    p = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__.split("\n\n")[0])
    _add_arguments(p)
    args = p.parse_args(argv)
    from rag.errors import RagError

    try:
        return cmd_bench(args)
    except RagError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
