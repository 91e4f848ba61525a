"""Query speed: warm search and ask per filter against llama-index's retriever and query engine
over the same chroma collection, the cold ``rag ask`` (process start to answer), the approximate
dense search against brute force (recall@60), and the dense store alone at a million random
vectors."""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench.common import child_env, lat, run_child, settings_for

WARM_QUESTIONS = 3  # asked before timing: snapshots loaded, pages mapped, model loaded
DENSE_TOP = 60  # rows the dense store returns per question (the retriever's dense candidates)
DIM = 384  # MiniLM's dimension: the random vectors of the dense-store-alone test
ANN_QUESTIONS = 60  # dev questions for the ANN's recall@60 (the issue asks for at least 50)
TIE_EPS = 1e-5  # scores this close to the exact k-th count as found (replicas tie exactly)


def pick_questions(path: Path | None, articles: list, n: int) -> list[str]:
    """``n`` questions spread over a MultiHop-RAG query file, else over the article titles."""
    if path is not None and path.is_file():
        qs = [q["query"] for q in json.loads(path.read_text(encoding="utf-8")) if q.get("query")]
    else:
        qs = [a.title for a in articles if a.title]
    step = max(1, len(qs) // n)
    return qs[::step][:n]


def pick_filters(articles: list) -> dict[str, dict]:
    """No filter; a date floor at the median date (about half the corpus); the largest outlet."""
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


def _timed(calls, questions: list[str], forget) -> list[list[float]]:
    """Seconds of each of ``calls`` on each question, in turn, each after ``forget()``."""
    times: list[list[float]] = [[] for _ in calls]
    for q in questions:
        for call, ts in zip(calls, times):
            forget()
            t = time.perf_counter()
            call(q)
            ts.append(time.perf_counter() - t)
    return times


def bench_queries(index: Path, embedder_name: str, questions: list[str], articles: list, llama: bool, log) -> dict[str, Any]:
    """Warm search/ask latency per filter, and llama-index's retriever and query engine over
    the same chroma collection."""
    from rag.archive import Archive

    archive = Archive.open(settings=settings_for(index, embedder_name))
    filters = pick_filters(articles)
    res: dict[str, Any] = {"filters": {k: {kk: str(vv) for kk, vv in v.items()} for k, v in filters.items()}}
    for q in questions[:WARM_QUESTIONS]:
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
        s_t, a_t = _timed([lambda q: archive.search(q, **kw), lambda q: archive.ask(q, **kw)], questions, forget)
        res[f"search_{name}"] = lat(s_t)
        res[f"ask_{name}"] = lat(a_t)
        res[f"fraction_{name}"] = frac
        log(f"  newsrag {name:7s} (matches {frac:.0%}): search p50 {res[f'search_{name}']['p50_ms']:.1f} ms, ask p50 {res[f'ask_{name}']['p50_ms']:.1f} ms")
    if llama:
        from evals.bench.llama import llama_query_contenders

        make = llama_query_contenders(archive.store.vectors.collection, archive.embedder,
                                      archive.settings.top_k, archive.settings.answer_passages)
        for name, f in filters.items():
            retriever, engine = make(f["since"].timestamp() if "since" in f else None, f.get("outlet"))
            retriever.retrieve(questions[0])
            r_t, e_t = _timed([retriever.retrieve, engine.query], questions, forget)
            res[f"llama_retrieve_{name}"] = lat(r_t)
            res[f"llama_query_{name}"] = lat(e_t)
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
        r = run_child([sys.executable, "-c", _COLD, "ask", question, "--index", str(index)], env=child_env(embedder_name), timeout=600)
        if r["code"] != 0:
            raise RuntimeError(f"rag ask failed: {r['stderr'][-2000:]}")
        walls.append(r["seconds"])
        kb = [int(x.split()[1]) for x in r["stderr"].splitlines() if x.startswith("VmHWM_kB")]
        rss.append(kb[-1] / 1024 if kb else float("nan"))
        out = r["stdout"]
    log(f"  cold rag ask: {', '.join(f'{w:.1f}s' for w in walls)}; peak RSS {max(rss):.0f} MB")
    return {"seconds": walls, "median_s": statistics.median(walls), "peak_rss_mb": max(rss), "answer_chars": len(out),
            "abstained": "no passage" in out}


def bench_million(n: int, queries: int, log) -> dict[str, Any]:
    """DenseIndex over ``n`` random unit vectors: build seconds, memory and query p50/p95
    without a filter, with a date filter matching half, and an outlet filter matching 2%."""
    from datetime import datetime, timezone

    from rag.index.dense import DenseIndex

    rng = np.random.default_rng(0)
    t = time.perf_counter()
    vecs = rng.standard_normal((n, DIM), dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [f"c{i:08d}" for i in range(n)]
    outlets = [f"outlet{i % 50}" for i in range(n)]
    ts = np.linspace(1.6e9, 1.7e9, n)
    dense = DenseIndex(ids, vecs, outlets, ts, 1)
    build = time.perf_counter() - t
    half = datetime.fromtimestamp(1.65e9, tz=timezone.utc)
    qv = rng.standard_normal((queries, DIM), dtype=np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    res: dict[str, Any] = {"vectors": n, "build_s": build, "matrix_mb": vecs.nbytes / 2**20}
    for name, kw in (("none", {}), ("date", {"since": half}), ("outlet", {"outlets": ["outlet7"]})):
        dense.query(qv[0], DENSE_TOP, **kw)
        times = []
        for v in qv:
            t = time.perf_counter()
            dense.query(v, DENSE_TOP, **kw)
            times.append(time.perf_counter() - t)
        res[f"query_{name}"] = lat(times)
        log(f"  dense {n} {name:7s}: p50 {res[f'query_{name}']['p50_ms']:.1f} ms")
    return res


def tie_recall(got: list[tuple[str, float]], exact: list[tuple[str, float]]) -> float:
    """Share of the exact top-k the approximate search found, counted by score: a result
    scoring at least the exact k-th (within :data:`TIE_EPS`) is one of an exact top-k (the
    replicated index holds each vector many times, so ids tie and id overlap would undercount)."""
    if not exact:
        return 1.0
    kth = exact[-1][1] - TIE_EPS
    return min(len(exact), sum(1 for _c, s in got if s >= kth)) / len(exact)


def bench_ann(index: Path, embedder_name: str, questions: list[str], articles: list, log) -> dict[str, Any]:
    """The dense snapshot's approximate search against its brute-force scan, per filter:
    recall@60 (:func:`tie_recall`) and p50/p95 of each; ``{"ann": False}`` without one."""
    from rag.index.dense import DenseIndex
    from rag.index.embedding import make_embedder

    dense = DenseIndex.load(index / "dense")
    if dense is None or dense.ann is None:
        return {"ann": False}
    emb = make_embedder(settings_for(index, embedder_name))
    vecs = [np.asarray(emb.embed_query(q), dtype=np.float32) for q in questions]
    ivf = dense.ann
    res: dict[str, Any] = {"ann": True, "rows": len(dense.ids), "nlist": ivf.nlist, "nprobe": ivf.nprobe, "questions": len(vecs)}
    for name, f in pick_filters(articles).items():
        kw = {"since": f.get("since"), "outlets": [f["outlet"]] if "outlet" in f else None}
        times: dict[str, list[float]] = {"ann": [], "brute": []}
        recalls = []
        for v in vecs:
            out = {}
            for mode in ("brute", "ann"):
                dense.ann = ivf if mode == "ann" else None
                t = time.perf_counter()
                out[mode] = dense.query(v, DENSE_TOP, **kw)
                times[mode].append(time.perf_counter() - t)
            recalls.append(tie_recall(out["ann"], out["brute"]))
        dense.ann = ivf
        res[name] = {"recall": float(np.mean(recalls)), "recall_min": float(np.min(recalls)),
                     "ann": lat(times["ann"]), "brute": lat(times["brute"])}
        log(f"  ann {name:7s}: recall@{DENSE_TOP} {res[name]['recall']:.3f}, p50 {res[name]['ann']['p50_ms']:.1f} ms "
            f"(brute force {res[name]['brute']['p50_ms']:.1f} ms)")
    return res
