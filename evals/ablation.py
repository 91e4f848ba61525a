"""Ablation of the news-grade retrieval techniques, measured in one run on one index.

    python -m evals.ablation --corpus ../shared/datasets/multihop-rag/corpus.json \\
        --dataset ../shared/datasets/multihop-rag/queries-dev.json [--out runs/ablation] [--cv]

The corpus is ingested into the same cached ``index/eval-<hash>`` that ``rag eval --corpus``
uses (``--index`` names another, already built index instead).

Rows: the reference retrievers (BM25 alone, MiniLM alone, equal-weight RRF, the plain hybrid
score fusion), the full pipeline, the full pipeline with each technique switched off, and
with diversification switched on. Every row runs every question, in the same process, with
the configurations interleaved question by question so that machine load falls on all rows
alike; search p50/p95 latency is per row. Retrieval follows the MultiHop-RAG rule
(``evals.metrics``, null queries dropped, top 10). ``--cv`` adds the rerank's k-fold
cross-validated figures (the packaged model was fitted on this split, so its in-sample row is
optimistic; needs the ``train`` extra). Writes ``ablation.md`` and ``ablation.json`` to ``--out``; also reports the
syndication clusters of the index's articles (computed on a copy of its records: the index is
not modified).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evals import metrics as M
from evals.train_rerank import CORPUS, DEV

OFF = dict(query_outlets=False, query_dates=False, subqueries=False, rerank=False)

ROWS: list[tuple[str, dict]] = [
    ("BM25 only", dict(OFF, dense_weight=0.0)),
    ("dense MiniLM only", dict(OFF, lexical_weight=0.0)),
    ("equal-weight RRF", dict(OFF, fusion="rrf", dense_weight=1.0, lexical_weight=1.0)),
    ("plain hybrid (bm25/max + 0.3 cos)", dict(OFF)),
    ("full (default settings)", {}),
    ("full - outlet detection", dict(query_outlets=False)),
    ("full - dates/recency", dict(query_dates=False)),
    ("full - sub-queries", dict(subqueries=False)),
    ("full - rerank (interleave instead)", dict(rerank=False)),
    ("full - syndication collapse", dict(syndication=False)),
    ("full - part features (word pairs, per-part and in-article ranks)", dict(part_features=False)),
    ("full - bigger sub-query pool (30 instead of 45)", dict(sub_candidates=30)),
    ("full + per-article cap 3", dict(diversify_cap=3)),
    ("full + MMR penalty 0.5", dict(diversify_penalty=0.5)),
]
PLAIN = "plain hybrid (bm25/max + 0.3 cos)"
KEYS = ("hits@4", "hits@10", "mrr@10", "allgold@10")


def cluster_stats(index: Path) -> dict:
    """Syndication clusters of the index's articles, computed on a temporary copy of its
    records (sketching writes a table; the index itself stays untouched)."""
    from rag.index.records import Records
    from rag.retrieve.syndication import update_clusters

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "records.sqlite3"
        src = Records(index / "records.sqlite3")
        src._conn().execute("VACUUM INTO ?", (str(db),))  # a consistent snapshot, even in WAL mode
        src.close()
        rec = Records(db)
        t = time.perf_counter()
        stats = update_clusters(rec).to_dict()
        stats["seconds"] = round(time.perf_counter() - t, 2)
        stats["multi_clusters"] = [
            [f"{o} | {(d or '')[:10]} | {aid}" for aid, o, d, _ in members] for members in rec.multi_clusters().values()
        ][:20]
        rec.close()
    return stats


def run(corpus: str, dataset: str, limit: int | None = None, cv: bool = False, log=print,
        index: str | None = None) -> dict:
    """Every row on every question (with evidence) of ``dataset`` over the index of ``corpus``."""
    from evals.train_rerank import eval_index
    from rag.retrieve.retriever import Retriever

    archive = eval_index(corpus, dataset, index)
    base = archive.settings
    index = str(archive.path)
    qs = [q for q in json.loads(Path(dataset).read_text(encoding="utf-8")) if q.get("evidence_list")][:limit]
    # Every row pays for its own question vector, as a search of a new question does: the
    # embedder's question cache would otherwise hand the first row's vector to all later rows
    # (plain hybrid would then time as BM25 alone). It is cleared before each timed search.
    forget = getattr(archive.embedder, "clear_query_cache", lambda: None)
    retrievers = {name: Retriever(archive.store, archive.embedder, base.with_(**cfg)) for name, cfg in ROWS}
    for r in retrievers.values():  # warm up: models, snapshots, caches of the archive context
        with archive.store.pinned():
            r.search(qs[0]["query"], k=10)
    acc = {name: {k: 0.0 for k in KEYS} for name, _ in ROWS}
    lat: dict[str, list[float]] = {name: [] for name, _ in ROWS}
    for i, q in enumerate(qs):
        facts = [e["fact"] for e in q["evidence_list"]]
        for name, _ in ROWS:
            with archive.store.pinned():
                forget()
                t = time.perf_counter()
                hits = retrievers[name].search(q["query"], k=10)
                lat[name].append((time.perf_counter() - t) * 1000)
            texts = [h.chunk.text for h in hits]
            acc[name]["hits@4"] += M.hits_at(texts, facts, 4)
            acc[name]["hits@10"] += M.hits_at(texts, facts, 10)
            acc[name]["mrr@10"] += M.mrr_at_10(texts, facts)
            acc[name]["allgold@10"] += M.allgold_at(texts, facts, 10)
        if (i + 1) % 50 == 0:
            log(f"{i + 1}/{len(qs)} questions", file=sys.stderr)
    n = len(qs)
    rows = []
    for name, cfg in ROWS:
        row = {"row": name, "settings": cfg, **{k: round(acc[name][k] / n, 3) for k in KEYS},
               "p50_ms": round(float(np.percentile(lat[name], 50)), 1),
               "p95_ms": round(float(np.percentile(lat[name], 95)), 1)}
        rows.append(row)
    out = {"index": index, "dataset": dataset, "questions": n, "rows": rows,
           "latency_ratio_full_vs_plain": round(rows[4]["p50_ms"] / rows[3]["p50_ms"], 2)}
    if cv:
        from evals.train_rerank import collect, cross_validate

        items = collect(archive, dataset, limit=limit)
        out["rerank_cv"] = {k: round(v, 3) for k, v in cross_validate(items).items()}
    out["syndication"] = cluster_stats(Path(index))
    return out


def markdown(res: dict) -> str:
    """The ablation table (and the CV row and cluster statistics) as markdown."""
    lines = [
        f"Retrieval ablation on {res['dataset']} ({res['questions']} questions with evidence, "
        f"MultiHop-RAG matching rule, top 10), index {res['index']}; all rows in one run.",
        "",
        "| configuration | Hits@4 | Hits@10 | MRR@10 | AllGold@10 | search p50 ms | p95 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in res["rows"]:
        lines.append(f"| {r['row']} | {r['hits@4']:.3f} | {r['hits@10']:.3f} | {r['mrr@10']:.3f} | "
                     f"{r['allgold@10']:.3f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} |")
    if "rerank_cv" in res:
        cv = res["rerank_cv"]
        lines.append(f"| full, rerank 5-fold cross-validated | {cv['hits@4']:.3f} | {cv['hits@10']:.3f} | "
                     f"{cv['mrr@10']:.3f} | {cv['allgold@10']:.3f} | | |")
    lines += ["", f"Search latency, full vs plain hybrid (p50): {res['latency_ratio_full_vs_plain']}x."]
    syn = res.get("syndication")
    if syn:
        lines += ["", f"Syndication clusters: {syn['articles']} articles in {syn['clusters']} clusters, "
                  f"{syn['multi']} with more than one article (largest {syn['largest']}); sketched in {syn['seconds']} s."]
        for members in syn.get("multi_clusters", []):
            lines.append("- " + "; ".join(members))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=CORPUS)
    p.add_argument("--dataset", default=DEV)
    p.add_argument("--index", help="an already built index of the corpus (default: index/eval-<hash>)")
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--limit", type=int)
    p.add_argument("--cv", action="store_true", help="also cross-validate the rerank (needs the train extra)")
    args = p.parse_args(argv)
    res = run(args.corpus, args.dataset, args.limit, args.cv, index=args.index)
    write_results(args.out, "ablation", res, markdown(res))
    return 0


def write_results(out: str | Path, name: str, res: dict, md: str) -> None:
    """``name.json`` and ``name.md`` in the folder ``out`` (created); the markdown printed too."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    (out / f"{name}.md").write_text(md, encoding="utf-8")
    print(md)


if __name__ == "__main__":
    raise SystemExit(main())
