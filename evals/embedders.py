"""MiniLM against its int8 ONNX version and the static embedder on the dev split, every figure in
one run (issue #14).

    python -m evals.embedders [--minilm-index /tmp/devidx] [--int8-index DIR] [--static-index DIR] [--out runs/embedders]
        [--low-overlap evals/datasets/low_overlap_dev.json] [--cv] [--refit-out PATH] [--limit N]

Each index holds the same corpus, one per embedder (without ``--*-index``, the cached
``index/eval-<hash>`` that ``rag eval --corpus`` builds with that embedder). Rows, for each
embedder: the dense retriever alone and the full retrieval (hybrid + the shipped rerank) with
it as the dense side; BM25 alone once, as the trivial baseline. Every row runs every question
(with evidence) in the same process, interleaved question by question, so machine load falls
on all rows alike; search p50 per row. Figures follow the MultiHop-RAG rule (``evals.metrics``,
null queries dropped, top 10), on the whole split and on its low-overlap quarter
(:func:`low_overlap`, written to ``--low-overlap`` so it is reproducible). ``--cv`` adds, per
embedder, the rerank refitted on that embedder's candidates with its 5-fold cross-validated
figures (``evals.train_rerank``; needs the ``train`` extra); ``--refit-out`` writes the static
refit there (the shipped ``rag/retrieve/rerank_model.json`` is never touched). Writes
``embedders.md`` and ``embedders.json`` to ``--out``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from evals import metrics as M
from evals.ablation import KEYS, OFF, write_results
from evals.train_rerank import CORPUS, DEV

EMBEDDERS = ("minilm", "minilm-int8", "static")  # the first is the reference of the deltas
BASELINE = "BM25 alone"
DENSE = "dense alone"
FULL = "full (hybrid + shipped rerank)"
ROWS: tuple[tuple[str, dict], ...] = (
    (BASELINE, dict(OFF, dense_weight=0.0)),
    (DENSE, dict(OFF, lexical_weight=0.0)),
    (FULL, {}),
)
# The quarter the example names: 114 of the 453 dev questions, so one question moves a
# figure by under 0.01 and the set is still the hard tail.
LOW_OVERLAP_SHARE = 0.25
# The decision rule: another embedder becomes the default only within this of MiniLM on every figure.
TOLERANCE = 0.01
LOW_OVERLAP_PATH = Path(__file__).parent / "datasets" / "low_overlap_dev.json"
RULE = ("overlap(question) = mean over its gold facts of the share of the fact's content-word stems "
        "(rag.text.stems) that are also stems of the question; the low-overlap set is the "
        f"ceil({LOW_OVERLAP_SHARE} * n) of the n questions with evidence of lowest overlap (ties: dataset order); "
        "position counts only the questions with evidence, in dataset order")


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fact_overlap(query: str, facts: list[str]) -> float:
    """Mean over ``facts`` of the share of the fact's content-word stems found in ``query``
    (facts without content words are skipped; 1.0 when none is left)."""
    from rag.text import stems

    q = stems(query)
    shares = [len(f & q) / len(f) for f in (stems(x) for x in facts) if f]
    return float(np.mean(shares)) if shares else 1.0


def low_overlap(questions: list[dict], share: float = LOW_OVERLAP_SHARE) -> list[int]:
    """Positions in ``questions`` (each with ``query`` and ``evidence_list``) of the
    ``ceil(share * n)`` of lowest :func:`fact_overlap`, in ascending position order."""
    scores = [fact_overlap(q["query"], [e["fact"] for e in q["evidence_list"]]) for q in questions]
    order = sorted(range(len(questions)), key=lambda i: (scores[i], i))
    return sorted(order[: math.ceil(share * len(questions))])


def low_overlap_file(dataset: str, questions: list[dict], picks: list[int]) -> dict:
    """The low-overlap set as written to disk: the rule, the source and its hash, the questions."""
    data = Path(dataset).read_bytes()
    return {"rule": RULE, "share": LOW_OVERLAP_SHARE, "source": str(dataset),
            "source_sha256": hashlib.sha256(data).hexdigest()[:16], "of": len(questions),
            "questions": [{"position": i, "query": questions[i]["query"],
                           "overlap": round(fact_overlap(questions[i]["query"], [e["fact"] for e in questions[i]["evidence_list"]]), 4)}
                          for i in picks]}


def open_archive(corpus: str, dataset: str, index: str | None, embedder: str, log=_stderr):
    """The archive of ``corpus`` with ``embedder``: ``index`` if it holds one, else built there
    (or in the cached ``index/eval-<hash>`` when ``index`` is None), as ``rag eval --corpus`` does."""
    from evals.run import EvalConfig, prepare_archive
    from rag.archive import Archive
    from rag.settings import Settings

    settings = Settings.load(env={}, embedder=embedder)
    if index and (Path(index) / "manifest.json").is_file():
        return Archive.open(index, settings)
    return prepare_archive(EvalConfig(dataset=dataset, corpus=corpus, index=index, progress=False), settings, log)


def _score(texts: list[str], facts: list[str]) -> dict[str, float]:
    return {"hits@4": M.hits_at(texts, facts, 4), "hits@10": M.hits_at(texts, facts, 10),
            "mrr@10": M.mrr_at_10(texts, facts), "allgold@10": M.allgold_at(texts, facts, 10)}


def measure(archives: dict, questions: list[dict], log=_stderr) -> dict[tuple[str, str], dict]:
    """Per (embedder, row): per-question scores and search milliseconds; BM25 alone runs once,
    on the first archive (its embedder does not take part), under the embedder name "-"."""
    from rag.retrieve.retriever import Retriever

    configs = []
    for j, (name, archive) in enumerate(archives.items()):
        for row, cfg in ROWS:
            if row == BASELINE and j:
                continue
            r = Retriever(archive.store, archive.embedder, archive.settings.with_(**cfg))
            forget = getattr(archive.embedder, "clear_query_cache", lambda: None)
            configs.append(("-" if row == BASELINE else name, row, archive, r, forget))
    for _, _, archive, r, _ in configs:  # warm up: models, snapshots, caches
        with archive.store.pinned():
            r.search(questions[0]["query"], k=10)
    out = {(e, row): {"scores": [], "ms": []} for e, row, *_ in configs}
    for i, q in enumerate(questions):
        facts = [e["fact"] for e in q["evidence_list"]]
        for e, row, archive, r, forget in configs:
            with archive.store.pinned():
                forget()  # every row pays for its own question vector
                t = time.perf_counter()
                hits = r.search(q["query"], k=10)
                out[(e, row)]["ms"].append((time.perf_counter() - t) * 1000)
            out[(e, row)]["scores"].append(_score([h.chunk.text for h in hits], facts))
        if (i + 1) % 50 == 0:
            log(f"{i + 1}/{len(questions)} questions")
    return out


def table_rows(measured: dict, subsets: dict[str, list[int]]) -> list[dict]:
    """One row per (question set, embedder, retriever): the four figures and search p50/p95 (ms,
    over the set's questions)."""
    rows = []
    for set_name, picks in subsets.items():
        for (emb, row), m in measured.items():
            sc = [m["scores"][i] for i in picks]
            ms = [m["ms"][i] for i in picks]
            rows.append({"set": set_name, "embedder": emb, "row": row, "questions": len(picks),
                         **{k: round(float(np.mean([s[k] for s in sc])), 3) if sc else None for k in KEYS},
                         "p50_ms": round(float(np.percentile(ms, 50)), 1) if ms else None,
                         "p95_ms": round(float(np.percentile(ms, 95)), 1) if ms else None})
    return rows


def deltas(rows: list[dict], b: str = "minilm") -> dict:
    """Per other embedder, set and retriever: its figure minus ``b``'s, and whether every one is
    within :data:`TOLERANCE`."""
    by = {(r["set"], r["embedder"], r["row"]): r for r in rows}
    out: dict = {}
    for (s, e, row), r in by.items():
        other = by.get((s, b, row))
        if e in (b, "-") or other is None:
            continue
        d = {k: round(r[k] - other[k], 3) for k in KEYS}
        out.setdefault(e, {}).setdefault(s, {})[row] = {**d, "within_tolerance": all(v >= -TOLERANCE for v in d.values())}
    return out


def rerank_refits(archives: dict, dataset: str, limit: int | None, refit_out: str | None, log=_stderr) -> dict:
    """Per embedder: the rerank refitted on its own candidates (LightGBM, the shipped features),
    its 5-fold CV and in-sample figures, and the shipped model's figures on the same candidates."""
    from evals.train_rerank import collect, cross_validate, figures, fit_spec, short_hash, table
    from rag.retrieve.features import FEATURES
    from rag.retrieve.rerank import TreeEnsemble, default_model, model_json

    out = {}
    for name, archive in archives.items():
        log(f"collecting {name} candidates")
        items = collect(archive, dataset, limit=limit)
        X, y = table(items)
        rnd = lambda f: {k: round(v, 3) for k, v in f.items()}  # noqa: E731
        cv = rnd(cross_validate(items))
        spec = fit_spec(X, y, FEATURES)
        res = {"questions": len(items), "candidates": int(len(y)), "positives": int(y.sum()),
               "first_stage": rnd(figures(items, [it["X"][:, FEATURES.index("q_rank")] for it in items])),
               "shipped_model": rnd(figures(items, [default_model().score(it["X"]) for it in items])),
               "refit_cv5": cv, "refit_in_sample": rnd(figures(items, [TreeEnsemble(spec).score(it["X"]) for it in items]))}
        out[name] = res
        if refit_out and name == "static":
            meta = {"fitted_on": f"MultiHop-RAG dev split, {len(items)} questions with evidence; candidates of "
                                 f"Retriever.candidates on the {archive.embedder.name} index {archive.path}",
                    "dataset": dataset, "training_data_sha256": short_hash(Path(dataset).read_bytes()),
                    "embedder": archive.embedder.name, "rows": int(len(y)), "positives": int(y.sum()),
                    "folds": 5, "cross_validated": cv, "in_sample": res["refit_in_sample"],
                    "command": "python -m evals.embedders --cv --refit-out"}
            Path(refit_out).parent.mkdir(parents=True, exist_ok=True)
            Path(refit_out).write_text(model_json(spec, meta), encoding="utf-8")
            res["written"] = str(refit_out)
    return out


def run(corpus: str = CORPUS, dataset: str = DEV, minilm_index: str | None = None, static_index: str | None = None,
        limit: int | None = None, cv: bool = False, refit_out: str | None = None,
        low_overlap_path: str | Path | None = LOW_OVERLAP_PATH, archives: dict | None = None, log=_stderr,
        int8_index: str | None = None, embedders: tuple[str, ...] = EMBEDDERS) -> dict:
    """Every figure for every embedder (``archives``: name -> Archive, else opened from the indexes)."""
    if archives is None:
        where = {"minilm": minilm_index, "minilm-int8": int8_index, "static": static_index}
        archives = {e: open_archive(corpus, dataset, where[e], e, log) for e in embedders}
    qs = [q for q in json.loads(Path(dataset).read_text(encoding="utf-8")) if q.get("evidence_list")][:limit]
    picks = low_overlap(qs)
    if low_overlap_path:
        Path(low_overlap_path).parent.mkdir(parents=True, exist_ok=True)
        Path(low_overlap_path).write_text(json.dumps(low_overlap_file(dataset, qs, picks), indent=1) + "\n", encoding="utf-8")
    load_start = os.getloadavg()[0]
    measured = measure(archives, qs, log)
    rows = table_rows(measured, {"dev": list(range(len(qs))), "low-overlap": picks})
    res = {"dataset": str(dataset), "corpus": str(corpus), "questions": len(qs),
           "indexes": {n: str(a.path) for n, a in archives.items()},
           "embedder_names": {n: a.embedder.name for n, a in archives.items()},
           "low_overlap": {"questions": len(picks), "rule": RULE, "path": str(low_overlap_path) if low_overlap_path else None,
                           "mean_overlap": round(float(np.mean([fact_overlap(qs[i]["query"], [e["fact"] for e in qs[i]["evidence_list"]]) for i in picks])), 3) if picks else None},
           "rows": rows, "deltas": deltas(rows), "load": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
           "nproc": os.cpu_count()}
    if cv:
        res["rerank_refit"] = rerank_refits(archives, dataset, limit, refit_out, log)
    return res


def markdown(res: dict) -> str:
    """The figures table (and the refit table) as markdown."""
    lo = res["low_overlap"]
    lines = [f"Embedders on {res['dataset']} ({res['questions']} questions with evidence; low-overlap: "
             f"{lo['questions']}, mean overlap {lo['mean_overlap']}), MultiHop-RAG rule, top 10; all rows in one run, "
             f"interleaved question by question; load average {res['load']['start']} at start, {res['load']['end']} at end "
             f"({res['nproc']} cores).", "",
             "| questions | embedder | retrieval | Hits@4 | Hits@10 | MRR@10 | AllGold@10 | search p50 ms | p95 ms |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in res["rows"]:
        lines.append(f"| {r['set']} | {r['embedder']} | {r['row']} | {r['hits@4']:.3f} | {r['hits@10']:.3f} | "
                     f"{r['mrr@10']:.3f} | {r['allgold@10']:.3f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} |")
    for e, per_set in res["deltas"].items():
        lines += ["", f"{e} minus MiniLM (within {TOLERANCE} on every figure?):", ""]
        for s, per in per_set.items():
            for row, d in per.items():
                lines.append(f"- {s}, {row}: " + ", ".join(f"{k} {d[k]:+.3f}" for k in KEYS)
                             + f" -> {'within' if d['within_tolerance'] else 'NOT within'}")
    rf = res.get("rerank_refit")
    if rf:
        lines += ["", "Rerank refitted per embedder on its own candidates (LightGBM, shipped features; candidates ranked "
                  "as evals.train_rerank scores them):", "",
                  "| embedder | ranking | Hits@4 | Hits@10 | MRR@10 | AllGold@10 |", "| --- | --- | --- | --- | --- | --- |"]
        for name, r in rf.items():
            for label, key in (("first stage", "first_stage"), ("shipped model", "shipped_model"),
                               ("refit, 5-fold CV", "refit_cv5"), ("refit, in-sample", "refit_in_sample")):
                f = r[key]
                lines.append(f"| {name} | {label} | {f['hits@4']:.3f} | {f['hits@10']:.3f} | {f['mrr@10']:.3f} | {f['allgold@10']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.embedders", description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=CORPUS)
    p.add_argument("--dataset", default=DEV)
    p.add_argument("--minilm-index", help="an index of the corpus built with MiniLM (default: index/eval-<hash>)")
    p.add_argument("--int8-index", help="an index of the corpus built with minilm-int8, or where to build it")
    p.add_argument("--static-index", help="an index of the corpus built with static, or where to build it")
    p.add_argument("--embedders", default=",".join(EMBEDDERS), help="which to compare (comma-separated; minilm first)")
    p.add_argument("--out", default="runs/embedders")
    p.add_argument("--low-overlap", default=str(LOW_OVERLAP_PATH), help="where to write the low-overlap question set")
    p.add_argument("--limit", type=int)
    p.add_argument("--cv", action="store_true", help="refit the rerank per embedder, 5-fold CV (needs the train extra)")
    p.add_argument("--refit-out", help="write the static refit model here (never the shipped one)")
    args = p.parse_args(argv)
    res = run(args.corpus, args.dataset, args.minilm_index, args.static_index, args.limit, args.cv,
              args.refit_out, args.low_overlap, int8_index=args.int8_index, embedders=tuple(args.embedders.split(",")))
    write_results(args.out, "embedders", res, markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
