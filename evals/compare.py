"""How often ``rag compare`` shows each named outlet's gold fact, on MultiHop-RAG dev.

    python -m evals.compare --index /tmp/devidx [--dataset .../queries-dev.json] [--limit N] [--failures]

Questions: the dev comparison queries whose evidence comes from two outlets (both named in
the question). A question counts when, under each of its two outlets, ``compare`` shows a
passage holding one of that outlet's gold facts (the MultiHop-RAG rule: the fact with white
space removed is a substring of the passage with white space removed). Reported beside it:
the same with every gold fact, with the fact inside the shown quote itself, and the baseline
of plain ``Archive.search(query, k=10)`` split by outlet. The index is only read.
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


def score_question(archive, q: dict) -> dict:
    """Per-outlet results of ``compare`` and of the plain search baseline for one question."""
    t = time.perf_counter()
    comp = archive.compare(q["query"])
    ms = (time.perf_counter() - t) * 1000
    hits = archive.search(q["query"], BASELINE_K)
    shown = {v.outlet: v.passages for v in comp.outlets}
    row = {"query": q["query"], "ms": ms, "outlets_shown": list(shown), "per_outlet": {}}
    for outlet, facts in q["facts"].items():
        passages = shown.get(outlet, ())
        any_p, all_p = _holds([p.passage for p in passages], facts)
        any_q, _ = _holds([p.quote for p in passages], facts)
        base, _ = _holds([h.chunk.text for h in hits if h.chunk.outlet == outlet], facts)
        row["per_outlet"][outlet] = {"passage": any_p, "all": all_p, "quote": any_q, "baseline": base,
                                     "shown": outlet in shown, "found_any": bool(passages)}
    for key in ("passage", "all", "quote", "baseline"):
        row[key] = all(r[key] for r in row["per_outlet"].values())
    return row


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
                       ("baseline", f"plain search k={BASELINE_K} split by outlet")]:
        print(f"  {label}: {sum(r[key] for r in rows) / max(n, 1):.3f} ({sum(r[key] for r in rows)}/{n})")
    ms = sorted(r["ms"] for r in rows)
    if ms:
        print(f"  compare latency p50 {ms[len(ms) // 2]:.0f} ms")
    causes = Counter(cause(r) for r in rows if not r["passage"])
    for c, k in causes.most_common():
        print(f"  failure: {c}: {k}")
    if args.failures:
        for r in rows:
            if not r["passage"]:
                print(f"- {cause(r)}: {r['query']}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
