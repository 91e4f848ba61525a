"""Regenerate the bundled sample archive ``rag/sample/`` from the MultiHop-RAG corpus.

Usage::

    python evals/make_sample.py /path/to/multihop-rag/corpus.json [--out rag/sample]

The selection is deterministic (no randomness, no network): articles in the ``technology``
and ``business`` categories whose *title* matches one of the :data:`TOPICS` regular
expressions (topics close to the seed article: OpenAI, Google antitrust, FTX/crypto,
China, Meta, AI policy, Apple, Tesla, Amazon/Microsoft). Shopping/deals listicles and very
short or very long bodies are skipped. Inside a topic, candidates are ranked by how often
the topic pattern occurs in the body (ties: date, URL) and then taken round-robin across
outlets, so most topics contain the same story told by two or more outlets (good for
multi-article questions).

Writes ``multihop-sample.jsonl`` (one corpus record per line, same field names, sorted by
date then URL) and ``SOURCES.md`` (provenance and a table of the included articles). The
seed article ``ksmo-alibaba-pla-memo.txt`` is copied separately and is not touched here.
"""
from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

# (topic, title pattern, body pattern used for ranking, number of articles)
TOPICS: list[tuple[str, str, str, int]] = [
    ("OpenAI and Sam Altman", r"OpenAI|Altman|ChatGPT", r"OpenAI|Altman", 7),
    ("Google antitrust trials", r"Google.*(antitrust|trial|court)|US v Google|Epic v\. Google|"
     r"Epic Games.*Google|Google Search|Google Search deal", r"antitrust|Google", 6),
    ("FTX, Sam Bankman-Fried and crypto", r"Bankman-Fried|\bSBF\b|\bFTX\b|Binance|Coinbase",
     r"Bankman-Fried|FTX|Binance", 7),
    ("China and US-China tech", r"China|Chinese|Temu|TikTok", r"China|Chinese", 4),
    ("Meta in Europe and AI", r"\bMeta\b", r"Meta", 4),
    ("AI regulation", r"\bAIs?\b.*(EU|rules|executive order|\bEO\b|Senate|Insight)|"
     r"(EU|White House|Biden).*\bAIs?\b", r"\bAI\b|regulat", 6),
    ("Apple", r"Apple Watch.*banned|Beeper|iMessage|Apple defends", r"Apple", 4),
    ("Tesla Cybertruck", r"Tesla|Cybertruck", r"Cybertruck|Tesla", 2),
    ("Amazon and Microsoft competition cases", r"Amazon.*(FTC|antitrust|iRobot)|Microsoft Activision",
     r"antitrust|FTC|competition|CMA", 3),
]
# Stories the README and the answer tests ask about, taken whatever their category: the 2023
# Nobel prizes (who won physics? chemistry? -- and literature, which the archive lacks) and
# TwitchCon / Twitch's co-founder Emmett Shear (OpenAI's interim CEO).
EXTRA_TOPICS: list[tuple[str, str, str, int]] = [
    ("2023 Nobel prizes", r"Nobel", r"Nobel|prize", 2),
    ("Twitch and Emmett Shear", r"TwitchCon", r"Twitch|Shear", 1),
]
CATEGORIES = {"technology", "business"}
EXCLUDE_TITLE = re.compile(r"\bdeals\b|\bbest\b|gift|everything you need to know|earnings week|"
                           r"comprehensive list|Prime Day|Black Friday|Cyber Monday", re.I)
MIN_BODY, MAX_BODY = 2500, 15000
FIELDS = ("title", "author", "source", "published_at", "category", "url", "body")


def select(corpus: list[dict]) -> list[tuple[str, dict]]:
    """Return ``(topic, record)`` pairs, deterministic for a given corpus."""
    chosen: list[tuple[str, dict]] = []
    used: set[str] = set()
    for topic, title_pat, body_pat, k in TOPICS + EXTRA_TOPICS:
        tre, bre = re.compile(title_pat), re.compile(body_pat)
        any_category = (topic, title_pat, body_pat, k) in EXTRA_TOPICS
        cands = [a for a in corpus
                 if (any_category or a.get("category") in CATEGORIES) and a["url"] not in used
                 and tre.search(a["title"]) and not EXCLUDE_TITLE.search(a["title"])
                 and MIN_BODY <= len(a["body"]) <= MAX_BODY]
        cands.sort(key=lambda a: (-len(bre.findall(a["body"])), a["published_at"], a["url"]))
        by_outlet: dict[str, list[dict]] = defaultdict(list)
        for a in cands:  # dict keeps first-seen order: best-ranked outlet first
            by_outlet[a["source"]].append(a)
        picked: list[dict] = []
        while len(picked) < k and any(by_outlet.values()):
            for outlet in list(by_outlet):
                if by_outlet[outlet] and len(picked) < k:
                    picked.append(by_outlet[outlet].pop(0))
        for a in picked:
            used.add(a["url"])
            chosen.append((topic, a))
    chosen.sort(key=lambda ta: (ta[1]["published_at"], ta[1]["url"]))
    return chosen


SOURCES_HEAD = """# Sources of the bundled sample archive

This directory is the small archive `rag` ingests for demos and smoke tests.

## `ksmo-alibaba-pla-memo.txt`

The seed article the project started from: KSMO Santa Monica, section "News", headline
"U.S. Defense Memo Exposes Alleged Ties Between Alibaba and Chinese Military, Citing Security
Risks". No date, author or URL is given in the file, so none is recorded (the loader leaves
them empty). Copied unchanged.

## `multihop-sample.jsonl`

{n} news articles selected from the MultiHop-RAG corpus (Yixuan Tang and Yi Yang,
"MultiHop-RAG: Benchmarking Retrieval-Augmented Generation for Multi-Hop Queries", 2024,
https://github.com/yixuantt/MultiHop-RAG). The dataset is released under the Open Data
Commons Attribution License (ODC-BY); the article texts remain (c) their respective
publishers and are included here only as a small research/demo sample. Records keep the
corpus field names (`title`, `author`, `source` = outlet, `published_at`, `category`, `url`,
`body`); `author` is `null` where the corpus has none.

Selection: deterministic, by title keywords on topics related to the seed article (AI,
China, big tech, business, crypto), plus the 2023 Nobel prizes and TwitchCon (stories the
answer tests ask about); several stories are covered by more than one outlet.
Regenerate with:

    python evals/make_sample.py /path/to/multihop-rag/corpus.json --out rag/sample

| # | Topic | Title | Outlet | Date | URL |
|---|-------|-------|--------|------|-----|
"""


def _cell(s: str | None) -> str:
    return (s or "").replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: read the corpus, write the sample files, print a summary."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", help="path to MultiHop-RAG corpus.json")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "rag" / "sample"),
                    help="output directory (default: rag/sample)")
    args = ap.parse_args(argv)
    corpus = json.loads(Path(args.corpus).read_text(encoding="utf-8"))
    chosen = select(corpus)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({f: a.get(f) for f in FIELDS}, ensure_ascii=False) for _, a in chosen]
    (out / "multihop-sample.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = [f"| {i} | {_cell(t)} | {_cell(a['title'])} | {_cell(a['source'])} | "
            f"{a['published_at'][:10]} | {a['url']} |" for i, (t, a) in enumerate(chosen, 1)]
    (out / "SOURCES.md").write_text(SOURCES_HEAD.format(n=len(chosen)) + "\n".join(rows) + "\n",
                                    encoding="utf-8")
    size = sum(len(x.encode("utf-8")) + 1 for x in lines)
    print(f"{len(chosen)} articles, {size / 1024:.0f} KB -> {out / 'multihop-sample.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
