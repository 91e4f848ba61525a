"""Event dates: the dates an article's text states, resolved to calendar days with exact body
offsets, and the date each sentence is about.

Three kinds, all resolved against the article's publication date (``published``):
``absolute`` ("November 17", "Oct. 6, 2023"), ``relative`` ("on Friday", "last week",
"yesterday") and ``section`` (a line that is only a date, as in live blogs and timeline
articles, dates the paragraphs under it until the next such line). A sentence's date is the
date it states, else the section date governing it, else its publication date
(``date_source``: ``stated`` or ``published``); undated text stays undated.

Candidates are found by regular expressions tried only at cheap anchors (dateparser's
``search_dates`` is slow and reads plain numbers as dates); absolute phrases are parsed by
dateparser (once per distinct phrase), "N months/years ago" by dateparser against the base day
(the governing section date, else the publication date); the rest follow these conventions,
which dateparser does not offer: a weekday is the nearest such day on or before the base (AP
style: "said Monday" in Monday's paper is that Monday), on or after it when its sentence is in
the future or present tense ("will", "scheduled", "The match on Wednesday is"); week, month and
year phrases resolve to the first day (Monday, the 1st, January 1) of that period; a year-less
date takes the year nearest the base, in the direction its sentence's tense gives. Without a
publication date relative phrases are left out and year-less dates too, unless a section date
gives the year.

CONTRACT (shared by ingest, records, timeline and answers; keep these names and shapes):
``resolve_dates(body, published) -> tuple[StatedDate, ...]`` sorted by ``start``;
``date_of_span(dates, start, end, published) -> tuple[date | None, str]``.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Sequence

import dateparser

from rag.text import split_sentences

STATED, PUBLISHED = "stated", "published"
ABSOLUTE, RELATIVE, SECTION = "absolute", "relative", "section"
DAY, WEEKEND, WEEK, MONTH, YEAR = "day", "weekend", "week", "month", "year"


@dataclass(frozen=True)
class StatedDate:
    """A date phrase of a body: ``body[start:end] == text``, resolved to ``day``."""

    start: int
    end: int
    day: date
    kind: str  # "absolute" | "relative" | "section"
    text: str


# ---- the phrases ---------------------------------------------------------------------------
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "oct": 10, "nov": 11, "dec": 12,
}
_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
          r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_DAYNUM = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?(?![\d,.]\d)"
_YEARNUM = r"(?:19|20)\d\d(?![\d’'])(?!s\b)"  # not "1970s"
_FULL_YEAR = r"(?:1[6-9]|20)\d\d(?!\d)"  # a year written after a month and day may be old ("Oct. 3, 1873")
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a few": 3, "several": 3,
}
_COUNT = r"(?:\d[\d,]*|a few|several|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"

_FULL_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
# Where a phrase may start: one cheap pass over the body finds these anchors, and the phrase
# patterns below are tried only there (one alternation over the whole body is ~20x slower).
_ANCHOR = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|Mon|Tue|Wed|Thu|Fri|Sat|Sun"
                     r"|[Yy]esterday|[Tt]o(?:day|morrow|night)|[Tt]his|[Ll]ast|[Nn]ext|[Ee]arlier|[Ll]ater|ago\b|\d)")
# tried in this order at an anchor; the first that matches wins, so longer forms come first
_AT_ANCHOR: tuple[tuple[str, re.Pattern], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("month_day", rf"(?:{_WEEKDAY},?\s+)?{_MONTH}\s+{_DAYNUM}(?:,?\s+{_FULL_YEAR})?"),  # "Friday, Nov. 17, 2023"
    ("day_month", rf"(?:{_WEEKDAY},?\s+)?{_DAYNUM}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_FULL_YEAR})?(?!\w)"),  # "17 November 2023"
    ("month_year", rf"{_MONTH}\s+{_YEARNUM}"),  # "November 2023"
    ("numeric", rf"{_YEARNUM}-(?:0[1-9]|1[0-2])-(?:[0-2]\d|3[01])\b|(?:1[0-2]|0?[1-9])/(?:[12]\d|3[01]|0?[1-9])/{_YEARNUM}"),
    ("month", rf"(?:(?:last|this|next) )?{_FULL_MONTH}\b"),  # "in May", "since last October": after a preposition
    ("year", rf"{_YEARNUM}(?![-–/]|\s*(?:%|percent))"),  # "in 2022": after a preposition
    ("word", r"(?:yesterday|Yesterday|tomorrow|Tomorrow|tonight|Tonight|today|Today|last night|Last night|[Tt]his (?:morning|afternoon|evening))\b"
             r"|(?:[Tt]his past|[Tt]his|[Ll]ast|[Nn]ext|[Ee]arlier this|[Ll]ater this)\s+(?:week(?:end)?|month|year)\b"),
    ("weekday", rf"(?:(?:[Ll]ast|[Nn]ext|[Tt]his)\s+)?{_WEEKDAY}\b"),
))
_AFTER_PREPOSITION = {"month", "year"}
_PREPOSITION = re.compile(r"\b(?:in|In|since|Since|during|until|through|by|from|early|late|mid-|of)\s$")
_AGO = re.compile(rf"\b(?i:{_COUNT})\s+(?:day|week|month|year)s?\s+$")  # read backwards from "ago"
_AGO_BACK = 24  # characters before "ago" that can hold its count and unit
_PREPOSITION_BACK = 9  # characters before a bare month or year that can hold its preposition ("through ")
_RELATIVE_GROUPS = frozenset({"word", "ago", "weekday"})
# weekdays that are part of a name ("Black Friday", "Monday Night Football", "Sunday Times")
_NAME_BEFORE = re.compile(r"\b(?:Black|Cyber|Super|Good|Giving|Ash|Holy|Easter|Palm|Maundy|Bloody|Manic|Travel|Small Business)\s+$")
_NAME_AFTER = re.compile(r"\s+(?:Times|Ticket|Telegraph|Mirror|Express|Post|Funday|Service|Edition|Mail|Independent|Herald|Show|Night Live)\b")
_OPENS_SENTENCE = ("", ".", "!", "?", '"', "“", ":")  # a capitalized "Today" after these is the word, else a name
# a clause that speaks of the future: a weekday in it is on or after the base day
_FUTURE = re.compile(r"\b(?:will|won['’]t|shall|['’]ll|set to|set for|scheduled|slated|expected to|plans? to|"
                     r"planning to|going to|upcoming|due to|to be held|to take place|next|must|hopes? to|aims? to)\b|['’]ll\b", re.I)
_PAST = re.compile(r"(?<!\bbe )(?<!\bbeen )(?<!\bbeing )\b(?:said|told|was|were|had|did|didn['’]t|wasn['’]t|came|went|took|made|began|won|lost|met|saw|gave|"
                   r"got|left|ran|fell|rose|led|sent|paid|brought|found|held|kept|spent|struck|wrote|became|"
                   r"ago|last|earlier)\b|(?<![-\w])(?<!\bbe )(?<!\bbeen )(?<!\bbeing )(?!(?:need|schedul|expect|slat|plann|bas|call|nam|aim)ed)(?-i:[a-z]{2,}ed)\b",
                   re.I)  # "-ed" words count unless passive ("will be held"), capitalized or hyphenated ("UK-listed")
_PRESENT = re.compile(r"\b(?:is|are|take|takes|meet|meets|face|faces|host|hosts|visit|visits|play|plays|open|opens|"
                      r"begin|begins|start|starts|kick|kicks|return|returns|travel|travels)\b", re.I)
_NO_TENSE = re.compile(r"\d{4}-|ago$|^(?:yesterday|today|tomorrow|tonight|last night)$|\b(?:week|month|year|morning|afternoon|evening)$", re.I)
_SENTENCE_BACK = 200  # characters either side read for the tense when the phrase spans sentences
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*\s|\n")
_PARAGRAPH = re.compile(r"[^\n]+")
_SECTION_PREFIX = re.compile(r"^(?:Date\s*:\s*|Updated\s*:?\s*)?", re.I)
_HEADING_MAX = 90  # "Sept. 24: Swift attends Chiefs game": a date, a colon and a short heading dates what follows
_SECTION_MAX = 40  # a date line longer than this is a sentence that states a date, not a heading
_PAST_SLACK = timedelta(days=7)  # a past-tense date may fall a few days after its base (updated articles, time zones)


def _month(word: str) -> int:
    return _MONTHS[word.lower()[:3]]


def granularity(text: str) -> str:
    """How precise the date phrase ``text`` is: ``day``, ``week``, ``month`` or ``year``."""
    low = text.lower()
    if low.endswith("weekend"):
        return WEEKEND
    if re.search(r"\bweek\b|weeks ago", low):
        return WEEK
    if re.search(r"\bmonths? (?:ago)?|\bmonth\b", low):
        return MONTH
    if re.search(r"\byears?\b", low):
        return YEAR
    if re.fullmatch(_YEARNUM, text.strip()):
        return YEAR
    if re.fullmatch(rf"(?:(?:last|this|next) )?{_MONTH}(?:\s+{_YEARNUM})?", text.strip(), re.I):
        return MONTH
    return DAY


def _week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _shift_month(d: date, months: int) -> date:
    m = d.year * 12 + d.month - 1 + months
    return date(m // 12, m % 12 + 1, 1)


_LEAP_BASE = datetime(2000, 6, 1)  # a leap year, so a year-less "Feb. 29" parses; its year is then chosen


@lru_cache(maxsize=16384)
def _parse(phrase: str, base: date | None = None) -> date | None:
    """dateparser on one cleaned phrase: an absolute one ("Oct 6 2023", "17 November") when
    ``base`` is None (cached by phrase alone, so each distinct phrase is parsed once), else a
    relative one ("2 weeks ago") against ``base``."""
    settings = {"PREFER_DAY_OF_MONTH": "first", "RETURN_AS_TIMEZONE_AWARE": False}
    if base is None:
        settings.update(PARSERS=["absolute-time"], RELATIVE_BASE=_LEAP_BASE, REQUIRE_PARTS=["month"])
    else:
        settings.update(PREFER_DATES_FROM="past", RELATIVE_BASE=datetime(base.year, base.month, base.day, 12))
    try:
        got = dateparser.parse(phrase, languages=["en"], settings=settings)
    except (ValueError, OverflowError):
        return None
    return got.date() if got else None


def _nearest_year(d: date, base: date, tense: str | None = None) -> date | None:
    """``d`` moved to the year (base's, the one before or after) that puts it nearest ``base``,
    on or before it in a past-tense sentence, on or after it in a future one."""
    best = None
    for y in (base.year - 1, base.year, base.year + 1):
        try:
            c = d.replace(year=y)
        except ValueError:  # February 29
            continue
        if (tense == "past" and c > base + _PAST_SLACK) or (tense == "future" and c < base):
            continue
        if best is None or abs((c - base).days) < abs((best - base).days):
            best = c
    return best


def _absolute(phrase: str, base: date | None, tense: str | None) -> date | None:
    text = re.sub(rf"^{_WEEKDAY},?\s+", "", phrase)
    text = " ".join(re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", text).replace(" of ", " ").replace(",", " ").replace(".", " ").split())
    has_year = re.search(_FULL_YEAR + r"$", text) is not None or re.match(_YEARNUM + "-", text) is not None
    if re.fullmatch(_YEARNUM, text):
        return date(int(text), 1, 1)
    words = text.split()
    if words[0].lower() in ("last", "this", "next"):  # "last October"
        if base is None:
            return None
        month = _month(words[1])
        d = date(base.year, month, 1)
        if words[0].lower() == "last" and d >= date(base.year, base.month, 1):
            d = d.replace(year=base.year - 1)
        elif words[0].lower() == "next" and d <= date(base.year, base.month, 1):
            d = d.replace(year=base.year + 1)
        return d
    if re.fullmatch(_MONTH, text):  # "in May": the last May up to the base month (the next, in the future)
        if base is None:
            return None
        d = date(base.year, _month(text), 1)
        if tense == "future" and d < date(base.year, base.month, 1):
            return d.replace(year=base.year + 1)
        return d.replace(year=base.year - 1) if tense != "future" and d > base else d
    if not has_year and base is None:
        return None
    parsed = _parse(text)
    if parsed is None or has_year:
        return parsed
    return _nearest_year(parsed, base, tense)


def _tense(body: str, start: int, end: int, sentences: Sequence[tuple[int, int]]) -> str | None:
    """``past`` or ``future`` for the sentence around ``body[start:end]``, by the nearest tense
    marker before the phrase ("said on Monday it will": past), else the first after it; ``present`` for a sentence in the
    present tense only ("The match on Wednesday is ..."); None when there is no verb to go by."""
    i = bisect_right(sentences, (start, len(body))) - 1
    lo, hi = sentences[i] if i >= 0 and sentences[i][1] >= end else (max(0, start - _SENTENCE_BACK), end + _SENTENCE_BACK)
    marks = [(m.start(), "future") for m in _FUTURE.finditer(body, lo, hi)]
    marks += [(m.start(), "past") for m in _PAST.finditer(body, lo, hi)]
    before = [m for m in marks if m[0] < start]
    if before:  # the verb governing a date mostly comes before it ("will continue ... on Thursday, followed by")
        return max(before)[1]
    if marks:  # "On Monday, Epic Games will drag ..."
        return min(marks)[1]
    return "present" if _PRESENT.search(body, lo, hi) else None


def _weekday(phrase: str, base: date, tense: str | None) -> date:
    words = phrase.lower().split()
    target = _WEEKDAYS.index(words[-1])
    back = (base.weekday() - target) % 7
    if words[0] == "last":
        return base - timedelta(days=back or 7)
    if words[0] == "next":
        return base + timedelta(days=(target - base.weekday()) % 7 or 7)
    if words[0] == "this" or tense in ("future", "present"):
        return base + timedelta(days=(target - base.weekday()) % 7)
    return base - timedelta(days=back)


def _relative(phrase: str, base: date, tense: str | None) -> date | None:
    low = phrase.lower()
    if re.search(r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)$", low):
        return _weekday(phrase, base, tense)
    if low in ("today", "tonight") or low.startswith("this ") and low.endswith(("morning", "afternoon", "evening")):
        return base
    if low in ("yesterday", "last night"):
        return base - timedelta(days=1)
    if low == "tomorrow":
        return base + timedelta(days=1)
    m = re.fullmatch(r"(this past|this|last|next|earlier this|later this)\s+(week(?:end)?|month|year)", low)
    if m:
        step = {"last": -1, "next": 1}.get(m.group(1), 0)
        if m.group(1) == "this past" or (m.group(2) == "weekend" and step == 0 and tense == "past"):
            step = -1 if base.weekday() < 5 else 0  # the week (weekend) just gone
        unit = m.group(2)
        if unit == "weekend":  # the Saturday of that weekend
            this = base + timedelta(days=(5 - base.weekday()) % 7 if base.weekday() < 5 else 5 - base.weekday())
            if step < 0:
                return this - timedelta(days=7) if base.weekday() >= 5 else base - timedelta(days=(base.weekday() - 5) % 7)
            return this + timedelta(days=7 * step)
        if unit == "week":
            return _week_start(base) + timedelta(days=7 * step)
        if unit == "month":
            return _shift_month(base, step)
        return date(base.year + step, 1, 1)
    m = re.fullmatch(rf"({_COUNT})\s+(day|week|month|year)s?\s+ago", " ".join(low.split()))
    if m:
        count = m.group(1).replace(",", "")
        n = int(count) if count.isdigit() else _NUMBER_WORDS[count]
        if m.group(2) in ("day", "week"):
            return base - timedelta(days=n * (7 if m.group(2) == "week" else 1))
        return _parse(f"{n} {m.group(2)}s ago", base)
    return None


def _candidates(body: str) -> list[tuple[int, int, str]]:
    """The date phrases of ``body`` as (start, end, kind), without weekdays that are part of a
    name and a capitalized "Today" inside a sentence."""
    out: list[tuple[int, int, str]] = []
    for a in _ANCHOR.finditer(body):
        pos = a.start()
        if out and pos < out[-1][1]:
            continue
        if body.startswith("ago", pos):
            back = _AGO.search(body, max(0, pos - _AGO_BACK), pos)
            if back:
                out.append((back.start(), pos + 3, RELATIVE))
            continue
        for name, pattern in _AT_ANCHOR:
            m = pattern.match(body, pos)
            if not m:
                continue
            s, e = m.span()
            if name in _AFTER_PREPOSITION and not _PREPOSITION.search(body, max(0, s - _PREPOSITION_BACK), s):
                break
            if name == "weekday" and (_NAME_BEFORE.search(body, max(0, s - 20), s) or _NAME_AFTER.match(body, e)):
                break
            if m.group(0) == "Today" and body[:s].rstrip()[-1:] not in _OPENS_SENTENCE:
                break  # "USA Today", the "Today" show
            out.append((s, e, RELATIVE if name in _RELATIVE_GROUPS else ABSOLUTE))
            break
    return out


def _is_section(body: str, s: int, e: int) -> bool:
    """True when the phrase ``body[s:e]`` is the whole of its line ("November 20", "Date:
    Wednesday, Dec. 6") and that line is alone in its paragraph."""
    ls = body.rfind("\n", 0, s) + 1
    le = body.find("\n", e)
    le = len(body) if le < 0 else le
    rest = body[e:le].strip(" .–-\t")
    if rest and not (rest.startswith(":") and len(rest) <= _HEADING_MAX and not _SENTENCE_END.search(rest + " ", 0, len(rest) - 1)):
        return False
    if len(body[ls:e].strip()) > _SECTION_MAX:
        return False
    head = body[ls:s].strip()
    if head and not _SECTION_PREFIX.fullmatch(head + " "):
        return False
    before_blank = ls == 0 or body[max(0, ls - 2):ls] == "\n\n" or not body[:ls].strip()
    after_blank = le >= len(body) or body[le:le + 2] == "\n\n"
    return before_blank and after_blank


def resolve_dates(body: str, published: datetime | None) -> tuple[StatedDate, ...]:
    """Every date phrase ``body`` states, resolved against ``published`` (or the section date
    governing it), sorted by ``start``; phrases that cannot be resolved are left out."""
    pub = published.date() if published is not None else None
    out: list[StatedDate] = []
    sentences: list[tuple[int, int]] = []  # split only when a phrase needs its sentence's tense
    section: date | None = None
    section_month = False

    def tense(s: int, e: int, phrase: str) -> str | None:
        if re.search(_FULL_YEAR + "$", phrase) or _NO_TENSE.search(phrase):
            return None  # "Oct. 6, 2023", "yesterday", "2 weeks ago": the tense changes nothing
        if not sentences:
            sentences.extend(split_sentences(body))
        return _tense(body, s, e, sentences)

    for s, e, kind in _candidates(body):
        phrase = body[s:e]
        base = section or pub
        if kind == ABSOLUTE:
            day = _absolute(phrase, base, tense(s, e, phrase))
            if day is not None and section_month and section and day.month == section.month and not re.search(_FULL_YEAR + "$", phrase):
                day = day.replace(year=section.year)  # "November 6" under "November 2023"
            if day is not None and _is_section(body, s, e):
                kind = SECTION
                section, section_month = day, granularity(phrase) == MONTH
        else:
            day = _relative(phrase, base, tense(s, e, phrase)) if base is not None else None
        if day is not None:
            out.append(StatedDate(s, e, day, kind, phrase))
    return tuple(out)


_PRECISION = {DAY: 0, WEEKEND: 1, WEEK: 2, MONTH: 3, YEAR: 4}


def stated_in(dates: Sequence[StatedDate], start: int, end: int) -> StatedDate | None:
    """The date that ``body[start:end]`` states and is about: the most precise non-section
    date inside the span, an absolute one before a relative one of the same precision ("on
    Wednesday (Sept. 27)"), the first among equals; else the last section date starting
    before its end; None when there is neither."""
    inside = [d for d in dates if d.kind != SECTION and d.start >= start and d.end <= end]
    if inside:
        return min(inside, key=lambda d: (_PRECISION[granularity(d.text)], d.kind != ABSOLUTE, d.start))
    sections = [d for d in dates if d.kind == SECTION and d.start < end]
    return sections[-1] if sections else None


def date_of_span(dates: Sequence[StatedDate], start: int, end: int, published: datetime | None) -> tuple[date | None, str]:
    """The day the text ``body[start:end]`` is about and where that came from: the date it
    states (:func:`stated_in`), else the publication date; ``(None, PUBLISHED)`` when there is
    none."""
    d = stated_in(dates, start, end)
    if d is not None:
        return d.day, STATED
    return (published.date() if published else None), PUBLISHED
