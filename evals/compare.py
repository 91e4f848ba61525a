"""How often ``rag compare`` shows each named outlet's gold fact, on MultiHop-RAG dev.

    python -m evals.compare --index /tmp/devidx [--dataset .../queries-dev.json] [--limit N] [--failures] [--cv]

Questions: the dev comparison queries whose evidence comes from two outlets (both named in
the question). A question counts when, under each of its two outlets, ``compare`` shows a
passage holding one of that outlet's gold facts (the MultiHop-RAG rule: the fact with white
space removed is a substring of the passage with white space removed). Reported beside it:
the same with every gold fact, with the fact inside the shown quote itself, and two baselines
measured in the same run: plain ``Archive.search(query, k=10)`` split by outlet, and the whole
query searched with each outlet's filter, top 5 (``rag search --outlet A``, then ``--outlet B``).
Latency: each question's compare timed in search order (``Selection(pool=0)``, no sentence
vectors), then with the shipped Selection cold (the sentence-vector cache emptied first) and
again warm (the same compare asked twice). ``--cv``: each
:class:`~rag.stories.compare.Selection` of :func:`_grid` scored in-sample, and the one chosen
on 4 folds scored on the 5th (5-fold cross-validation). The index is only read.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from evals import metrics as M

DEV = Path(__file__).resolve().parent.parent.parent / "shared/datasets/multihop-rag/queries-dev.json"
BASELINE_K = 10  # the plain search baseline: the benchmark's top 10
FILTERED_K = 5  # the outlet-filtered baseline: as many passages as compare shows per outlet
FOLDS = 5  # cross-validation folds for --cv
FOLD_SEED = 13  # the fixed shuffle of questions into folds (the same folds on every run)


def two_outlet_questions(dataset: str | Path) -> list[dict]:
    """Comparison queries whose gold facts come from exactly two outlets."""
    out = []
    for q in json.loads(Path(dataset).read_text(encoding="utf-8")):
        if q.get("question_type") != "comparison_query":
            continue
        facts: dict[str, list[str]] = {}
        for e in q["evidence_list"]:
            facts.setdefault(e["source"], []).append(e["fact"])
        if len(facts) == 2:
            out.append({"query": q["query"], "facts": facts})
    return out


def _holds(texts: list[str], facts: list[str]) -> tuple[bool, bool]:
    """(some fact in some text, every fact in some text) by the MultiHop-RAG rule."""
    found = [any(M.squash(f) in M.squash(t) for t in texts) for f in facts]
    return any(found), all(found)


def _timed(fn) -> tuple[object, float]:
    t = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t) * 1000


def score_question(archive, q: dict) -> dict:
    """Per-outlet results of ``compare`` and of the plain search baseline for one question."""
    from rag.stories.compare import SENTENCE_VECTORS, Selection, compare

    forget = getattr(archive.embedder, "clear_query_cache", lambda: None)  # each pays its own forward passes
    forget()
    _, search_order_ms = _timed(lambda: compare(archive, q["query"], sel=Selection(pool=0)))
    forget()
    SENTENCE_VECTORS.clear()
    comp, ms = _timed(lambda: archive.compare(q["query"]))
    _, warm_ms = _timed(lambda: archive.compare(q["query"]))
    hits = archive.search(q["query"], BASELINE_K)
    filtered = {o: archive.search(q["query"], FILTERED_K, outlets=[o]) for o in q["facts"]}
    shown = {v.outlet: v.passages for v in comp.outlets}
    row = {"query": q["query"], "ms": ms, "warm_ms": warm_ms, "search_order_ms": search_order_ms,
           "outlets_shown": list(shown), "per_outlet": {}}
    for outlet, facts in q["facts"].items():
        passages = shown.get(outlet, ())
        any_p, all_p = _holds([p.passage for p in passages], facts)
        any_q, _ = _holds([p.quote for p in passages], facts)
        base, _ = _holds([h.chunk.text for h in hits if h.chunk.outlet == outlet], facts)
        filt, _ = _holds([h.chunk.text for h in filtered[outlet]], facts)
        row["per_outlet"][outlet] = {"passage": any_p, "all": all_p, "quote": any_q, "baseline": base,
                                     "filtered": filt, "shown": outlet in shown, "found_any": bool(passages)}
    for key in ("passage", "all", "quote", "baseline", "filtered"):
        row[key] = all(r[key] for r in row["per_outlet"].values())
    return row


def _grid():
    from rag.stories.compare import Selection

    default = Selection()
    search_order = [Selection(overall_k=o, side_slots=s, article_cap=c, pool=0)
                    for o in (0, 10, 20) for s in (0, 1, 2) for c in (0, 2, 3)]
    # re-ranked by sentences: ~45-60 sentences embedded a question when cold (p50; at most pool x sentences x 2
    # outlets, fewer once shared sentences and those sharing no word with the claim are left out)
    sentences = [Selection(pool=p, sentences=n, sentence_weight=w)
                 for p, n in ((20, 1), (30, 1), (40, 1), (20, 2)) for w in (7.5, 10.0, 12.5)]
    return [default] + [g for g in sentences + search_order if g != default]  # ties go to the shipped default


def cv_table(archive, qs: list[dict]) -> dict:
    """For each question and each Selection of the grid: did compare's passages hold each named
    outlet's gold fact? The searches run once per question (the widest the grid needs) and
    :func:`rag.stories.compare.choose` picks from them as ``compare`` does."""
    from rag.stories.compare import PASSAGES_PER_OUTLET, Selection, choose, outlet_searches, pick_outlets

    grid = _grid()
    widest = Selection(overall_k=max(g.overall_k for g in grid), side_slots=max(g.side_slots for g in grid),
                       pool=max(g.pool for g in grid), sentences=max(g.sentences for g in grid))
    hits: list[list[bool]] = []
    for q in qs:
        searched = {s.outlet: s for s in outlet_searches(archive, q["query"], pick_outlets(archive, q["query"]),
                                                         sel=widest)}
        row = []
        for g in grid:
            ok = True
            for outlet, facts in q["facts"].items():
                s = searched.get(outlet)
                texts = [h.chunk.text for h, _ in choose(s, PASSAGES_PER_OUTLET, g)] if s else []
                ok = ok and _holds(texts, facts)[0]
            row.append(ok)
        hits.append(row)
    return {"grid": grid, "hits": hits}


def cross_validate(hits: list[list[bool]], folds: int = FOLDS, seed: int = FOLD_SEED) -> tuple[int, list[int]]:
    """Questions passed when each fold is scored with the grid entry that passes most questions
    on the other folds (first entry on ties); and the entry chosen for each fold."""
    import random

    order = list(range(len(hits)))
    random.Random(seed).shuffle(order)
    fold_of = {qi: i % folds for i, qi in enumerate(order)}
    passed, chosen = 0, []
    for f in range(folds):
        train = [h for qi, h in enumerate(hits) if fold_of[qi] != f]
        totals = [sum(h[j] for h in train) for j in range(len(hits[0]))]
        best = totals.index(max(totals))
        chosen.append(best)
        passed += sum(h[best] for qi, h in enumerate(hits) if fold_of[qi] == f)
    return passed, chosen


def report_cv(table: dict) -> None:
    grid, hits = table["grid"], table["hits"]
    n = len(hits)
    if not n:
        return
    totals = [sum(h[j] for h in hits) for j in range(len(grid))]
    print(f"  selections (in-sample, {n} questions):")
    for j in sorted(range(len(grid)), key=lambda j: -totals[j]):
        print(f"    {totals[j] / n:.3f} ({totals[j]}/{n})  {grid[j]}")
    best = totals.index(max(totals))
    passed, chosen = cross_validate(hits)
    print(f"  best in-sample: {totals[best] / n:.3f} ({grid[best]}); the shipped default: {totals[0] / n:.3f}")
    plain = [j for j, g in enumerate(grid) if g.pool == 0 and g.side_slots == 0 and g.article_cap == 0 and g.overall_k == 10]
    if plain:
        print(f"  search order (pool=0, no sentence re-rank; the previous default): {totals[plain[0]] / n:.3f}")
    print(f"  {FOLDS}-fold cross-validated (chosen on 4 folds, scored on the 5th): {passed / n:.3f} ({passed}/{n});"
          f" chosen per fold: {[str(grid[c]) for c in chosen]}")


def cause(row: dict) -> str:
    """Why a question failed: the outlet was not detected, or its fact was not retrieved."""
    for outlet, r in row["per_outlet"].items():
        if not r["shown"]:
            return f"outlet not detected ({outlet})"
    return "fact not in the outlet's passages" + (" (plain search found it)" if row["baseline"] else "")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", default="/tmp/devidx")
    p.add_argument("--dataset", default=str(DEV))
    p.add_argument("--limit", type=int)
    p.add_argument("--failures", action="store_true", help="list the failed questions and why")
    p.add_argument("--out", help="write the per-question rows as JSON here")
    p.add_argument("--cv", action="store_true", help="score every Selection of GRID in-sample and 5-fold cross-validated")
    args = p.parse_args(argv)
    from rag.archive import Archive

    archive = Archive.open(args.index)
    qs = two_outlet_questions(args.dataset)[: args.limit]
    rows = [score_question(archive, q) for q in qs]
    n = len(rows)
    print(f"index {args.index} ({archive.store.config.embedder}); {n} two-outlet comparison questions")
    for key, label in [("passage", "compare: each outlet's gold fact in one of its passages"),
                       ("all", "compare: every gold fact in its outlet's passages"),
                       ("quote", "compare: each outlet's gold fact inside a shown quote"),
                       ("baseline", f"baseline: plain search k={BASELINE_K} split by outlet"),
                       ("filtered", f"baseline: whole query filtered to each outlet, top {FILTERED_K}")]:
        print(f"  {label}: {sum(r[key] for r in rows) / max(n, 1):.3f} ({sum(r[key] for r in rows)}/{n})")
    if rows:
        p50 = {key: sorted(r[key] for r in rows)[n // 2] for key in ("search_order_ms", "ms", "warm_ms")}
        print(f"  compare latency p50: search order (pool=0) {p50['search_order_ms']:.0f} ms; shipped, cold"
              f" {p50['ms']:.0f} ms ({p50['ms'] / max(p50['search_order_ms'], 1e-9):.1f}x), warm {p50['warm_ms']:.0f} ms"
              f" ({p50['warm_ms'] / max(p50['search_order_ms'], 1e-9):.1f}x)")
    causes = Counter(cause(r) for r in rows if not r["passage"])
    for c, k in causes.most_common():
        print(f"  failure: {c}: {k}")
    if args.failures:
        for r in rows:
            if not r["passage"]:
                print(f"- {cause(r)}: {r['query']}")
    if args.cv:
        report_cv(cv_table(archive, qs))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
