"""Select candidate sentences for the labelled event-date set and check the set.

Usage::

    python evals/make_event_dates.py candidates KIND [--corpus PATH] [--limit N]
    python evals/make_event_dates.py build LABELS.tsv [--out evals/datasets/event_dates.jsonl]
    python evals/make_event_dates.py --check [--dataset evals/datasets/event_dates.jsonl]

``candidates`` prints sentences of the MultiHop-RAG dev corpus that hold a date phrase of one
kind (``absolute``, ``relative``, ``section``, ``none``), one per line as
``KEY<TAB>published day/weekday<TAB>outlet<TAB>[section line]<TAB>sentence``, KEY being
``article index:start``. A person reads them and writes the labels (see
``evals/datasets/event_dates.md``); nothing here labels a sentence.

``build`` turns a labels file (tab separated: ``KEY, phrase, kind, expected_day,
granularity, date_source, note``; ``-`` for no phrase) into the JSONL set, taking the
sentence text, offsets and article metadata from the corpus as newsrag loads it.

``--check`` loads the corpus the same way and verifies every row: ``body[start:end] ==
sentence``, the span is a sentence of :func:`rag.text.split_sentences`, the phrase (if any)
occurs in the sentence or its section line, and the fields hold allowed values.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.ingest.loaders import iter_articles  # noqa: E402
from rag.text import split_sentences  # noqa: E402
from rag.types import Article  # noqa: E402

# The dev corpus sits in shared/ beside the project checkout (as laid for sessions and CI).
CORPUS = ROOT.parent / "shared" / "datasets" / "multihop-rag" / "corpus.json"
DATASET = ROOT / "evals" / "datasets" / "event_dates.jsonl"
KINDS = ("absolute", "relative", "section", "none")
GRANULARITIES = ("day", "week", "month", "year")
SOURCES = ("stated", "published")

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
# Month + day ("Nov. 17", "October 6, 2023") or day + month ("12 October").
ABSOLUTE = re.compile(rf"\b{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?\b(?:,? \d{{4}})?|\b\d{{1,2}} {_MONTH}\b")
RELATIVE = re.compile(
    rf"\b(?:(?:on|last|this|next|since|by|until|late|early) {_WEEKDAY}|{_WEEKDAY} (?:night|morning|"
    rf"afternoon|evening)|yesterday|today|tonight|last night|this morning|(?:last|this|next|past) "
    rf"(?:week|month|weekend)|earlier this (?:week|month|year)|(?:one|two|three|four|five|six|a|\d+) "
    rf"(?:days?|weeks?) ago)\b", re.I)
# A line that dates the paragraphs under it: only a date ("November 20", "Date: Monday, Nov. 20"),
# or a date and a short heading ("Sept. 24: Swift attends Chiefs game", as in timelines).
SECTION_LINE = re.compile(rf"^(?:Date: )?(?:{_WEEKDAY},? )?{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?(?:,? \d{{4}})?"
                          r"(?::? *|: [^.!?]{1,80})$")
# Any date-ish or time-ish word: a sentence of kind "none" has none of these.
ANY_TIME = re.compile(rf"{ABSOLUTE.pattern}|{RELATIVE.pattern}|\b{_WEEKDAY}\b|\b{_MONTH}\b|\b(?:19|20)\d\d\b|"
                      r"\b(?:now|recent(?:ly)?|week|month|year|day|days|ago|earlier|later|soon|"
                      r"tomorrow|tonight|currently|season|quarter|deadline|date|time|weekend|morning|night|afternoon|evening|"
                      r"summer|winter|spring|autumn|annual)\b", re.I)
# Home time-zone offsets (hours from UTC) of outlets not in the US; every other outlet is taken as
# US Eastern (-5, -4 in summer time; both give the same dates for the hours that pass the check).
OUTLET_UTC_OFFSET = {
    "The Age": 11, "The Sydney Morning Herald": 11, "The Roar | Sports Writers Blog": 11,
    "Wide World Of Sports": 11, "Business World": 8, "Zee Business": 5.5, "Business Line": 5.5,
    "Insidesport": 5.5, "Business Today | Latest Stock Market And Economy News India": 5.5,
    "Globes English | Israel Business Arena": 2, "The Guardian": 0, "BBC News - Entertainment & Arts": 0,
    "BBC News - Technology": 0, "The Independent - Life and Style": 0, "The Independent - Sports": 0,
    "The Independent - Travel": 0, "TalkSport": 0, "Sky Sports": 0, "Sport Grill": 0, "Financial Times": 0,
}
US_EASTERN = -5
# Sentences shorter than this are headings or fragments, not events.
MIN_SENTENCE = 40
# Longer sentences are run-ons (lists, tables) an annotator cannot label with confidence.
MAX_SENTENCE = 400


def load(corpus: Path = CORPUS) -> list[Article]:
    """The corpus's articles exactly as ``rag ingest`` loads them (bad records dropped)."""
    return [a for a in iter_articles([str(corpus)]) if isinstance(a, Article)]


def same_day_at_home(a: Article) -> bool:
    """True when the article's publication instant falls on the same calendar day in UTC and in
    its outlet's home time zone, so "yesterday" or "on Friday" has one reading (relative rows
    are only taken from such articles)."""
    if a.published_at is None:
        return False
    offset = OUTLET_UTC_OFFSET.get(a.outlet or "", US_EASTERN)
    return (a.published_at + timedelta(hours=offset)).date() == a.published_at.date()


def section_lines(body: str) -> list[tuple[int, str]]:
    """``(offset, text)`` of the lines of ``body`` that are only a date."""
    out, pos = [], 0
    for line in body.split("\n"):
        if SECTION_LINE.match(line.strip()):
            out.append((pos + len(line) - len(line.lstrip()), line.strip()))
        pos += len(line) + 1
    return out


def governing_line(body: str, start: int) -> tuple[int, str] | None:
    """The last date-only line before offset ``start``, if any."""
    before = [x for x in section_lines(body) if x[0] < start]
    return before[-1] if before else None


def candidates(arts: list[Article], kind: str, limit: int) -> list[str]:
    """Candidate lines of one kind, at most ``limit`` per article, ordered by article."""
    rows = []
    for i, a in enumerate(arts):
        pub = a.published_at
        head = f"{pub.date().isoformat()} {pub:%a %H:%M}" if pub else "-"
        secs = section_lines(a.body)
        if (kind == "section" and len(secs) < 2) or (kind == "relative" and not same_day_at_home(a)):
            continue
        n = 0
        for s, e in split_sentences(a.body):
            text = a.body[s:e]
            if not MIN_SENTENCE <= len(text) <= MAX_SENTENCE or n >= limit:
                continue
            sec = governing_line(a.body, s)
            if kind == "absolute":
                ok = bool(ABSOLUTE.search(text))
            elif kind == "relative":
                ok = bool(RELATIVE.search(text)) and not ABSOLUTE.search(text)
            elif kind == "section":
                ok = sec is not None and not ANY_TIME.search(text)
            else:
                ok = not ANY_TIME.search(text) and not secs
            if ok:
                n += 1
                rows.append(f"{i}:{s}\t{head}\t{a.outlet}\t{sec[1] if sec and kind == 'section' else ''}\t"
                            f"{text}".replace("\n", " / "))
    return rows


def build(arts: list[Article], labels: Path) -> list[dict]:
    """Dataset rows from a labels file (see the module docstring)."""
    spans = {}
    rows = []
    for n, line in enumerate(labels.read_text(encoding="utf-8").splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        key, phrase, kind, day, gran, source, *note = line.split("\t")
        i, start = (int(x) for x in key.split(":"))
        a = arts[i]
        if i not in spans:
            spans[i] = dict(split_sentences(a.body))
        end = spans[i][start]
        rows.append({
            "id": f"ed-{len(rows) + 1:03d}", "url": a.url, "article_title": a.title, "outlet": a.outlet,
            "published_at": a.published_at.isoformat() if a.published_at else None,
            "sentence": a.body[start:end], "start": start, "end": end,
            "phrase": None if phrase == "-" else phrase, "kind": kind, "expected_day": day,
            "granularity": gran, "date_source": source, "note": note[0] if note else "",
        })
    return rows


def check(arts: list[Article], dataset: Path) -> list[str]:
    """Problems found in the dataset (empty when every row is sound)."""
    by_url = {a.url: a for a in arts}
    problems, seen = [], set()
    for n, line in enumerate(dataset.read_text(encoding="utf-8").splitlines(), 1):
        r = json.loads(line)
        where = f"line {n} ({r.get('id')})"
        a = by_url.get(r["url"])
        if a is None:
            problems.append(f"{where}: no article with url {r['url']}")
            continue
        if a.body[r["start"]:r["end"]] != r["sentence"]:
            problems.append(f"{where}: body[start:end] != sentence")
        if (r["start"], r["end"]) not in set(split_sentences(a.body)):
            problems.append(f"{where}: span is not a sentence of split_sentences")
        if (r["url"], r["start"]) in seen or r["id"] in seen:
            problems.append(f"{where}: duplicate sentence or id")
        seen.update({(r["url"], r["start"]), r["id"]})
        if r["published_at"] != (a.published_at.isoformat() if a.published_at else None):
            problems.append(f"{where}: published_at differs from the loaded article")
        if r["kind"] not in KINDS or r["granularity"] not in GRANULARITIES or r["date_source"] not in SOURCES:
            problems.append(f"{where}: kind/granularity/date_source not allowed")
        day = date.fromisoformat(r["expected_day"])
        start_of = {"week": day.weekday() == 0, "month": day.day == 1, "year": (day.month, day.day) == (1, 1)}
        if not start_of.get(r["granularity"], True):
            problems.append(f"{where}: a {r['granularity']} label must be the first day of its {r['granularity']}")
        named = re.search(_WEEKDAY, r["phrase"] or "")
        if named and r["granularity"] == "day" and named.group(0) != f"{day:%A}":
            problems.append(f"{where}: phrase names {named.group(0)} but {day} is a {day:%A}")
        sec = governing_line(a.body, r["start"])
        context = r["sentence"] + ("\n" + sec[1] if sec else "")
        if r["phrase"] is not None and r["phrase"] not in context:
            problems.append(f"{where}: phrase {r['phrase']!r} not in the sentence or its section line")
        if r["kind"] == "none" and (r["phrase"] is not None or r["date_source"] != "published"
                                    or r["expected_day"] != a.published_at.date().isoformat()):
            problems.append(f"{where}: a 'none' row must be labelled with its publication day")
        if r["kind"] == "section" and (sec is None or r["phrase"] not in sec[1]):
            problems.append(f"{where}: a 'section' row's phrase must be in its governing date line")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", nargs="?", choices=["candidates", "build"])
    p.add_argument("arg", nargs="?", help="KIND for candidates, LABELS.tsv for build")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--dataset", type=Path, default=DATASET)
    p.add_argument("--out", type=Path, default=DATASET)
    p.add_argument("--limit", type=int, default=3, help="candidates per article")
    p.add_argument("--check", action="store_true", help="verify the dataset against the corpus")
    args = p.parse_args(argv)
    arts = load(args.corpus)
    if args.check:
        problems = check(arts, args.dataset)
        rows = [json.loads(x) for x in args.dataset.read_text(encoding="utf-8").splitlines()]
        kinds = {k: sum(r["kind"] == k for r in rows) for k in KINDS}
        print("\n".join(problems) or f"ok: {len(rows)} rows, {kinds}, "
              f"{len({r['url'] for r in rows})} articles, {len({r['outlet'] for r in rows})} outlets")
        return 1 if problems else 0
    if args.command == "candidates":
        print("\n".join(candidates(arts, args.arg, args.limit)))
    elif args.command == "build":
        rows = build(arts, Path(args.arg))
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"wrote {len(rows)} rows to {args.out}")
    else:
        p.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
