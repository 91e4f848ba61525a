"""Measure timelines on a built archive: for each story, its events, distinct event days, the
share dated by a stated date rather than publication, and whether every quote is its
article's ``body[start:end]``.

    python -m evals.timeline --index /tmp/devidx [--json] [--story "QUERY" ...]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

# Five stories of the MultiHop-RAG corpus (2023-09 .. 2023-12), as a journalist would name them.
STORIES = (
    "OpenAI board fires Sam Altman and leadership crisis",
    "Sam Bankman-Fried FTX fraud trial",
    "Google search antitrust trial Justice Department",
    "Israel Hamas war Gaza",
    "Microsoft Activision Blizzard acquisition",
)


def measure(archive, query: str) -> dict:
    """The figures of one story's timeline."""
    t0 = time.perf_counter()
    tl = archive.timeline(query)
    seconds = time.perf_counter() - t0
    records = archive.store.records
    sources = [s for e in tl.events for s in e.sources]
    exact = sum(1 for s in sources if (a := records.get_article(s.article_id)) and a.body[s.start:s.end] == s.quote)
    return {
        "story": query,
        "events": len(tl.events),
        "event_days": len({e.date for e in tl.events}),
        "stated_share": round(sum(e.date_source == "stated" for e in tl.events) / max(1, len(tl.events)), 3),
        "multi_outlet_events": sum(1 for e in tl.events if len({s.outlet for s in e.sources}) > 1),
        "sources": len(sources),
        "quotes_exact": round(exact / max(1, len(sources)), 3),
        "first_day": min((e.date for e in tl.events), default=None),
        "last_day": max((e.date for e in tl.events), default=None),
        "seconds": round(seconds, 2),
    }


def table(rows: list[dict]) -> str:
    """A markdown table of :func:`measure` rows."""
    head = "| story | events | event days | stated share | multi-outlet events | quotes exact | span |\n|---|---|---|---|---|---|---|"
    lines = [
        f"| {r['story']} | {r['events']} | {r['event_days']} | {r['stated_share']:.2f} | {r['multi_outlet_events']} | "
        f"{r['quotes_exact']:.2f} | {r['first_day']} .. {r['last_day']} |"
        for r in rows
    ]
    return "\n".join([head, *lines])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", required=True)
    p.add_argument("--story", action="append", help="a story query (repeatable; default: the five built in)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from rag.archive import Archive
    from rag.settings import Settings

    archive = Archive.open(args.index, Settings.load(index=args.index))
    rows = [measure(archive, q) for q in (args.story or STORIES)]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print(table(rows))
    return 0 if all(r["quotes_exact"] == 1.0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
