"""One benchmark run: every step in order, its result dict, ``bench.json`` and ``bench.md``."""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

from evals.bench.common import (DEFAULT_CORPUS, DEFAULT_QUERIES, SAMPLE, corpus_articles, default_vectors,
                                load_average, machine)
from evals.bench.embedders import bench_embedders
from evals.bench.hostile import bench_hostile
from evals.bench.ingest import bench_ingest, bench_ray, bench_reingest, bench_static_corpus
from evals.bench.queries import ANN_QUESTIONS, bench_ann, bench_cold, bench_million, bench_queries, pick_questions
from evals.bench.report import render_table
from evals.bench.scale import bench_scale, lookup_from_index


def _scale_steps(args, corpus: Path, articles: list, subset: list, out: Path, res: dict, timer: dict, log) -> None:
    """Steps 3 and 4: the replicated index, then queries against it and the cold start."""
    qpath = Path(args.questions) if args.questions else (DEFAULT_QUERIES if corpus == DEFAULT_CORPUS else None)
    questions = pick_questions(qpath, articles, args.queries)
    log(f"[3/5] scale: {args.scale} chunks")
    t = time.perf_counter()
    vsrc = Path(args.vectors_from) if args.vectors_from else (default_vectors(args.embedder) if corpus == DEFAULT_CORPUS and args.embedder != "hash" else None)
    lookup = lookup_from_index(vsrc) if vsrc is not None and (vsrc / "dense").is_dir() else {}
    base = articles if lookup else subset
    lookup.update(lookup_from_index(out / "ingest-index"))
    res["scale_source"] = {"vectors_from": str(vsrc) if vsrc and len(base) == len(articles) else str(out / "ingest-index"),
                           "articles_replicated": len(base), "lookup_vectors": len(lookup)}
    res["scale"] = bench_scale(base, lookup, out, args.embedder, args.scale, log)
    timer["scale_build"] = time.perf_counter() - t
    log(f"  built in {res['scale']['full']['seconds']:.0f}s, peak RSS {res['scale']['peak_rss_mb']:.0f} MB")
    t = time.perf_counter()
    log("[4/5] queries at scale, cold start")
    res["queries"] = bench_queries(out / "scale-index", args.embedder, questions, articles, not args.no_llama, log)
    res["cold"] = bench_cold(out / "scale-index", args.embedder, questions[0], args.cold_runs, log)
    res["ann"] = bench_ann(out / "scale-index", args.embedder, pick_questions(qpath, articles, ANN_QUESTIONS), articles, log)
    timer["queries"] = time.perf_counter() - t


def run_bench(args) -> dict[str, Any]:
    """Run every step ``args`` asks for; write ``bench.json`` and ``bench.md``; return the result."""
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
    articles = corpus_articles(corpus)
    if not articles:
        raise BadInput("the corpus holds no articles", file=str(corpus))
    step = max(1, len(articles) // max(1, args.articles))
    subset = articles[::step][: args.articles]
    timer: dict[str, float] = {}

    def timed(name: str, fn, *a):
        t = time.perf_counter()
        out_ = fn(*a)
        timer[name] = time.perf_counter() - t
        return out_

    log(f"[1/5] ingest: {len(subset)} articles, newsrag vs bare encode vs llama-index ({args.rounds} rounds)")
    res["ingest"] = timed("ingest", bench_ingest, subset, out, args.embedder, not args.no_llama, args.rounds, log,
                          not getattr(args, "no_static", False))  # + static `rag ingest` processes
    if "static" in res["ingest"] and len(articles) > len(subset):  # the rate, past the processes' fixed start
        res["ingest"]["static_corpus"] = timed("static_corpus", bench_static_corpus, articles, out,
                                               res["ingest"]["chunks_per_s"]["limit"], log)
    log("[2/5] re-ingest: unchanged, 1% edited")
    res["reingest"] = timed("reingest", bench_reingest, subset, out, args.embedder, res["ingest"]["seconds"]["newsrag"], log)
    if args.scale:
        _scale_steps(args, corpus, articles, subset, out, res, timer, log)
    if args.ray_articles:
        if importlib.util.find_spec("ray") is None:
            log("[ray] skipped: pip install 'newsrag[ray]'")
        else:
            log(f"[ray] {args.ray_articles} articles: single process vs --ray on a local cluster")
            res["ray"] = timed("ray", bench_ray, subset[: args.ray_articles], out, args.embedder, log)
    if getattr(args, "embedders", False):  # MiniLM vs static retrieval on the dev split
        log("[embedders] MiniLM vs static: retrieval on the dev split and its low-overlap quarter")
        qpath = Path(args.questions) if args.questions else DEFAULT_QUERIES
        res["embedders"] = timed("embedders", bench_embedders, corpus, qpath, args.embedder_indexes, out, log)
    if not args.no_hostile:
        log("[hostile] the hostile corpus: 50 MB lines, loading, ingest")
        res["hostile"] = timed("hostile", bench_hostile, out, log)
    if args.million:
        log(f"[5/5] dense store at {args.million} vectors")
        res["million"] = timed("million", bench_million, args.million, min(50, max(5, args.queries)), log)
    res["timer_s"] = timer
    res["total_s"] = time.perf_counter() - t_start
    res["machine"]["load_at_end"] = round(load_average(), 2)
    (out / "bench.json").write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
    (out / "bench.md").write_text(render_table(res) + "\n", encoding="utf-8")
    return res
