"""Query understanding without an LLM: dates, outlets, recency and sub-queries of a question.

* :func:`parse_dates` finds date phrases ("on October 6, 2023", "in October", "last week of
  November", "mid-October", "before Oct. 10", "between 1 and 15 December", "last week",
  "2023-10-06") and turns each into a :class:`DateRange`. Missing years and relative phrases
  are resolved against a reference "now" that the caller chooses: the archive's latest
  publication date, unless the archive is current (see :func:`reference_now`). Never wall-clock
  time for an old archive.
* :class:`OutletMatcher` finds mentions of the archive's own outlets ("according to
  TechCrunch", "The Verge reported", "CNBC", "CBS Sports") with alias and fuzzy matching built
  from the outlet list itself: names before a tagline separator ("Cnbc | World Business News
  Leader" -> "Cnbc"), a leading "The" optional, case, spacing and a trailing ".com" ignored.
  Tokens that are capitalized in the outlet name must be capitalized in a normally-cased
  question, so "on the verge of" is not The Verge and "a fortune" is not Fortune.
* :func:`plan_query` combines both into a :class:`QueryPlan` with sub-queries: a question that
  names two or more outlets (or the same outlet on different dates) is split into clauses,
  and each outlet mention gets a "side" sub-query of its own clause's words, filtered to that
  outlet (and to its date when the clause has one); each clause of a multi-part question
  ("accused of X, claimed Y, and charged with Z") also becomes a "clause" sub-query, filtered
  to the outlets the question names. The retriever gives every sub-query candidates of its
  own, so that every named side and every event gets evidence.

All of this is general text processing: no rule depends on a benchmark's wording or outlets.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Sequence

from rag.text import content_words

# ---- dates -------------------------------------------------------------------------------

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MON = r"(?P<mon>january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
_MON2 = _MON.replace("?P<mon>", "?P<mon2>")
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_DAY2 = _DAY.replace("?P<day>", "?P<day2>")
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_ORD = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": -1, "final": -1}
_NUMWORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
             "few": 3, "several": 5, "a": 1}

# Ordered: the first pattern that matches at a position wins; longer forms come first.
_DATE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("between_days", re.compile(rf"\bbetween\s+{_MON}\s+{_DAY}\s+and\s+(?:{_MON2}\s+)?{_DAY2}(?:,?\s+{_YEAR})?\b", re.I)),
    ("between_days_dm", re.compile(rf"\bbetween\s+{_DAY}\s+and\s+{_DAY2}\s+(?:of\s+)?{_MON}(?:,?\s+{_YEAR})?\b", re.I)),
    ("iso", re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<m>[01]?\d)-(?P<day>[0-3]?\d)\b")),
    ("mdy", re.compile(rf"\b{_MON}\s+{_DAY}(?![\d:])(?:(?:,\s*|\s+){_YEAR})?\b(?!\s*(?:%|percent|million|billion|points?|yards?))", re.I)),
    ("dmy", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MON}(?:,?\s+{_YEAR})?\b", re.I)),
    ("week_of", re.compile(rf"\b(?:the\s+)?(?P<ord>first|1st|second|2nd|third|3rd|fourth|4th|last|final)\s+week\s+of\s+{_MON}(?:,?\s+{_YEAR})?\b", re.I)),
    ("part_of", re.compile(rf"\b(?P<part>early|mid|middle of|late|end of|the end of|beginning of|the beginning of|start of|the start of)[\s-]+{_MON}(?:,?\s+{_YEAR})?\b", re.I)),
    ("month", re.compile(rf"\b{_MON}(?:,?\s+{_YEAR})?\b", re.I)),
    ("relative", re.compile(
        r"\b(?P<rel>yesterday|today|this\s+(?:week|month|year)|(?:last|past|previous|prior)\s+(?:week|month|year)"
        r"|(?:last|past|previous)\s+(?P<n>\d+|one|two|three|four|five|six|seven|eight|nine|ten|few|several)\s+(?P<unit>days?|weeks?|months?))\b",
        re.I)),
    ("year", re.compile(rf"\b(?:in|during|of|throughout)\s+{_YEAR}\b(?!\s*(?:season|model|edition))", re.I)),
]
_BEFORE = re.compile(r"\b(?:before|prior\s+to|earlier\s+than|until|till|through|up\s+to|by)\s*$", re.I)
_AFTER = re.compile(r"\b(?:after|since|later\s+than|following|from)\s*$", re.I)
_BOUND_MODE = {"before": "before", "prior": "before", "earlier": "before", "until": "until", "till": "until",
               "through": "until", "up": "until", "by": "until", "after": "after", "later": "after",
               "following": "after", "since": "since", "from": "since"}
# Words that make "May" a verb, and "March" a verb or noun, rather than a month.
_MAY_VERB = re.compile(r"^\s*(?:be|have|not|also|soon|still|never|well|need|want|face|affect|see|get|take|make|help|lead|"
                       r"cause|only|even|already|just|seem|come|go|require|result|include|allow|use|mean|continue|"
                       r"become|apply|change|offer|provide|prove|find|give|hold|keep|reach|reduce|rise|fall|"
                       r"[a-z]+ly)\b", re.I)

_RECENT = re.compile(r"\b(?:latest|most\s+recent(?:ly)?|newest|most\s+up[-\s]to[-\s]date|last\s+reported)\b", re.I)
_OLDEST = re.compile(r"\b(?:earliest|first\s+reported|oldest)\b", re.I)
_TEMPORAL = re.compile(
    r"\b(?:when|what\s+(?:date|day|time)|which\s+(?:\w+\s+){0,4}(?:first|earlier|later|last|more\s+recent)"
    r"|came\s+first|before|after|earlier|later|since|until|most\s+recent(?:ly)?|latest|earliest|published\s+on"
    r"|between\s+the\b|chronolog\w*|timeline|how\s+long\s+(?:ago|after|before))\b",
    re.I,
)


@dataclass(frozen=True)
class DateRange:
    """A date phrase of a question and the span of time it means (UTC, inclusive).

    ``since``/``until`` are None for an open side ("before October 10" has no ``since``).
    ``precision`` is "day", "week", "month", "year" or "range"; ``start``/``end`` locate the
    phrase (with any "before"/"after" word) in the question.
    """

    since: datetime | None
    until: datetime | None
    precision: str
    start: int
    end: int
    text: str


def reference_now(first: datetime | None, last: datetime | None, wall_clock: datetime | None = None,
                  current_days: int = 31) -> datetime:
    """The "now" that relative dates refer to: wall-clock time when the archive is current (its
    latest article within ``current_days`` of it), else the archive's latest publication date,
    so that "last week" means the archive's last week, not this calendar week."""
    wall = wall_clock or datetime.now(timezone.utc)
    if last is None:
        return wall
    last = last if last.tzinfo else last.replace(tzinfo=timezone.utc)
    return wall if wall - last <= timedelta(days=current_days) else last


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def _day_end(d: date) -> datetime:
    return datetime.combine(d, time.max, tzinfo=timezone.utc)


def _month_last(y: int, m: int) -> int:
    return calendar.monthrange(y, m)[1]


def _infer_year(month: int, day: int | None, now: datetime, span: tuple[datetime | None, datetime | None]) -> int:
    """The year of a month (and day) given without one: the latest such date not after
    ``now``, unless only another year falls inside the archive's span."""
    first, last = span
    cands = [now.year + 1, now.year, now.year - 1, now.year - 2]
    d = min(day or 1, 28)
    if first is not None and last is not None:
        inside = [y for y in cands if first.date() <= date(y, month, _month_last(y, month) if day is None else d)
                  and date(y, month, 1 if day is None else d) <= last.date()]
        if inside:
            return max(inside)
    past = [y for y in cands if date(y, month, 1 if day is None else d) <= now.date()]
    return max(past) if past else now.year


def _month_of(m: re.Match, key: str = "mon") -> int:
    return _MONTHS[m.group(key).lower().rstrip(".")]


def _range_of(kind: str, m: re.Match, now: datetime, span) -> tuple[date, date, str] | None:
    """(first day, last day, precision) of one matched date phrase, or None if it is not a date."""
    g = m.groupdict()
    year = int(g["year"]) if g.get("year") else None
    if kind == "iso":
        try:
            d = date(int(g["year"]), int(g["m"]), int(g["day"]))
        except ValueError:
            return None
        return d, d, "day"
    if kind in ("mdy", "dmy"):
        mon, day = _month_of(m), int(g["day"])
        y = year or _infer_year(mon, day, now, span)
        try:
            d = date(y, mon, day)
        except ValueError:
            return None
        return d, d, "day"
    if kind in ("between_days", "between_days_dm"):
        mon = _month_of(m)
        mon2 = _month_of(m, "mon2") if g.get("mon2") else mon
        y = year or _infer_year(mon, int(g["day"]), now, span)
        try:
            a, b = date(y, mon, int(g["day"])), date(y if mon2 >= mon else y + 1, mon2, int(g["day2"]))
        except ValueError:
            return None
        return (a, b, "range") if a <= b else (b, a, "range")
    if kind == "week_of":
        mon = _month_of(m)
        y = year or _infer_year(mon, None, now, span)
        last = _month_last(y, mon)
        o = _ORD[g["ord"].lower()]
        if o == -1:
            return date(y, mon, last - 6), date(y, mon, last), "week"
        return date(y, mon, 7 * (o - 1) + 1), date(y, mon, min(7 * o, last)), "week"
    if kind == "part_of":
        mon = _month_of(m)
        y = year or _infer_year(mon, None, now, span)
        last = _month_last(y, mon)
        part = g["part"].lower()
        if part.startswith(("early", "beginning", "the beginning", "start", "the start")):
            return date(y, mon, 1), date(y, mon, 10), "week"
        if part.startswith(("mid", "middle")):
            return date(y, mon, 11), date(y, mon, 20), "week"
        return date(y, mon, 21), date(y, mon, last), "week"
    if kind == "month":
        mon = _month_of(m)
        y = year or _infer_year(mon, None, now, span)
        return date(y, mon, 1), date(y, mon, _month_last(y, mon)), "month"
    if kind == "year":
        y = int(g["year"])
        return date(y, 1, 1), date(y, 12, 31), "year"
    if kind == "relative":
        rel = re.sub(r"\s+", " ", g["rel"].lower())
        today = now.date()
        if rel == "today":
            return today, today, "day"
        if rel == "yesterday":
            return today - timedelta(days=1), today - timedelta(days=1), "day"
        if rel == "this week":
            return today - timedelta(days=today.weekday()), today, "week"
        if rel == "this month":
            return today.replace(day=1), today, "month"
        if rel == "this year":
            return today.replace(month=1, day=1), today, "year"
        if g.get("unit"):
            raw = g["n"].lower()
            n = int(raw) if raw.isdigit() else _NUMWORDS.get(raw, 1)
            unit = g["unit"].lower().rstrip("s")
            days = n * {"day": 1, "week": 7, "month": 30}[unit]
            return today - timedelta(days=days), today, "range"
        word, unit = rel.split(" ", 1)
        if word == "past":  # "past week": a rolling window ending now
            days = {"week": 7, "month": 30, "year": 365}[unit]
            return today - timedelta(days=days), today, "range"
        if unit == "week":  # "last week": the previous calendar week (Monday..Sunday)
            monday = today - timedelta(days=today.weekday() + 7)
            return monday, monday + timedelta(days=6), "week"
        if unit == "month":
            end = today.replace(day=1) - timedelta(days=1)
            return end.replace(day=1), end, "month"
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), "year"
    return None  # pragma: no cover


def _looks_like_verb(kind: str, m: re.Match, text: str) -> bool:
    """"may" and "march" used as words, not months ("may soon", "the march on")."""
    mon = (m.groupdict().get("mon") or "").lower()
    if mon not in ("may", "mar", "march") or m.groupdict().get("year"):
        return False
    raw = m.group("mon")
    if kind == "month" and raw[0].islower():
        return True
    return bool(_MAY_VERB.match(text[m.end():])) if kind == "month" else False


def parse_dates(text: str, now: datetime, span: tuple[datetime | None, datetime | None] = (None, None)) -> list[DateRange]:
    """Every date phrase of ``text`` as a :class:`DateRange`, in order of appearance.

    ``now`` resolves relative phrases ("last week") and years left out ("October 6"); with
    the archive's ``span`` (first, last publication date) a year left out is the one that puts
    the date inside the archive. "before X" keeps only ``until`` (the start of X), "after X"
    only ``since`` (the end of X), "since X" / "until X" / "by X" include X itself.
    """
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, int, date, date, str]] = []
    for kind, pat in _DATE_PATTERNS:
        for m in pat.finditer(text):
            s, e = m.span()
            if any(s < te and ts < e for ts, te in taken):
                continue
            if kind in ("month", "mdy", "dmy") and _looks_like_verb(kind, m, text):
                continue
            r = _range_of(kind, m, now, span)
            if r is None:
                continue
            taken.append((s, e))
            found.append((s, e, *r))
    found.sort()
    out: list[DateRange] = []
    for s, e, a, b, precision in found:
        since, until = _day_start(a), _day_end(b)
        head = text[max(0, s - 20) : s]
        bound = _BEFORE.search(head) or _AFTER.search(head)
        if bound is not None:
            mode = _BOUND_MODE[bound.group(0).split()[0].lower()]
            s = s - (len(head) - bound.start())
            if mode == "before":
                since, until, precision = None, _day_start(a) - timedelta(microseconds=1), "range"
            elif mode == "until":
                since, precision = None, "range"
            elif mode == "after":
                since, until, precision = _day_end(b) + timedelta(microseconds=1), None, "range"
            else:  # since
                until, precision = None, "range"
        out.append(DateRange(since, until, precision, s, e, text[s:e]))
    return out


def recency(text: str) -> int:
    """+1 when the question asks for the latest news, -1 for the earliest, else 0."""
    if _RECENT.search(text):
        return 1
    if _OLDEST.search(text):
        return -1
    return 0


def is_temporal(text: str) -> bool:
    """True when a question asks when something happened, or in which order."""
    return bool(_TEMPORAL.search(text))


# ---- outlets -----------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:[.&'’][^\W_]+)*", re.U)
_SEPARATORS = re.compile(r"\s+[|\-–—:]\s+|:\s+|\s*\|\s*")
_DOMAIN = re.compile(r"\.(?:com|net|org|co\.uk|co|io|news|tv)$", re.I)
_MAX_ALIAS_TOKENS = 6


def _tokens(text: str) -> list[tuple[str, int, int]]:
    out = []
    for m in _WORD.finditer(text):
        w, s, e = m.group(0), m.start(), m.end()
        if w.lower().endswith(("'s", "’s")):
            w, e = w[:-2], e - 2
        out.append((w, s, e))
    return out


def _compact(words: Iterable[str]) -> str:
    return "".join(re.sub(r"[^\w]", "", w) for w in words).lower()


def _camel(word: str) -> bool:
    """A coined brand name ("TechCrunch", "CBSSports"): never an ordinary lowercase word."""
    return any(c.islower() for c in word) and any(c.isupper() for c in word[1:])


def outlet_aliases(outlet: str) -> set[str]:
    """Surface forms of an outlet name: itself, the part before a tagline separator, and each
    without a trailing domain suffix; all with and without a leading "The"."""
    base = {outlet.strip()}
    head = _SEPARATORS.split(outlet.strip(), maxsplit=1)[0].strip()
    if head:
        base.add(head)
    for a in list(base):
        base.add(_DOMAIN.sub("", a))
    out = set()
    for a in base:
        out.add(a)
        if re.match(r"(?i)the\s+\S", a):
            out.add(a[4:].strip())
    return {a for a in out if a and _compact([a])}


@dataclass(frozen=True)
class OutletMention:
    """A mention of one or more archive outlets in a question (an alias can stand for several
    outlets: "FOX News" for "FOX News - Health" and "FOX News - Lifestyle")."""

    outlets: tuple[str, ...]
    start: int
    end: int
    text: str


class OutletMatcher:
    """Finds mentions of a fixed list of outlets (the archive's own) in questions."""

    def __init__(self, outlets: Sequence[str]):
        self.outlets = tuple(o for o in outlets if o and o.strip())
        # compact alias -> (outlets, alias words as written); a full name beats a shared head
        index: dict[str, tuple[set[str], list[str], bool]] = {}
        for o in self.outlets:
            for alias in outlet_aliases(o):
                words = [w for w, _, _ in _tokens(alias)]
                key = _compact(words)
                if not key or len(words) > _MAX_ALIAS_TOKENS:
                    continue
                full = alias == o.strip()
                prev = index.get(key)
                if prev is None:
                    index[key] = ({o}, words, full)
                elif full and not prev[2]:
                    index[key] = ({o}, words, True)
                elif full == prev[2]:
                    prev[0].add(o)
        self._index = {k: (tuple(sorted(v[0], key=self.outlets.index)), v[1]) for k, v in index.items()}
        self._max_tokens = max((len(v[1]) for v in self._index.values()), default=0) + 1

    def find(self, text: str) -> list[OutletMention]:
        """Non-overlapping outlet mentions in ``text``, longest first at each position, in order."""
        toks = _tokens(text)
        if not toks or not self._index:
            return []
        letters = [c for c in text if c.isalpha()]
        plain_case = not any(c.isupper() for c in letters) or all(c.isupper() for c in letters)
        out: list[OutletMention] = []
        compact = [_compact([w]) for w, _, _ in toks]  # once per token, joined per window
        i = 0
        while i < len(toks):
            best = None
            for n in range(min(self._max_tokens, len(toks) - i), 0, -1):
                words = [w for w, _, _ in toks[i : i + n]]
                hit = self._index.get("".join(compact[i : i + n]))
                if hit is None or not self._case_ok(words, hit[1], plain_case):
                    continue
                # A lone "The" would make "The Age" out of "the age of ...": require the rest.
                best = (n, hit[0])
                break
            if best is None:
                i += 1
                continue
            n, outlets = best
            s, e = toks[i][1], toks[i + n - 1][2]
            if i > 0 and toks[i - 1][0].lower() == "the" and not words[0].lower() == "the":
                s = toks[i - 1][1]  # "the Verge": the article belongs to the mention
            out.append(OutletMention(outlets, s, e, text[s:e]))
            i += n
        return out

    @staticmethod
    def _case_ok(words: list[str], alias_words: list[str], plain_case: bool) -> bool:
        """Capitalized alias words must be capitalized in a normally-cased question, except
        "The" and coined names; a one-letter-per-word spelling difference is allowed
        ("CBS Sports" for "CBSSports")."""
        if plain_case:
            return True
        q_caps = [w for w in words if w.lower() != "the"]
        a_words = [w for w in alias_words if w.lower() != "the"]
        if not q_caps:
            return False  # "the" alone is never an outlet
        if any(_camel(w) for w in a_words) and len(a_words) == 1 and _compact(q_caps) == _compact(a_words):
            return True
        if len(q_caps) != len(a_words):  # "CBS Sports" for "CBSSports": check the first word
            q_caps, a_words = q_caps[:1], a_words[:1]
        return all(q[:1].isupper() or q[:1].isdigit() for q, a in zip(q_caps, a_words) if a[:1].isupper())


@lru_cache(maxsize=16)
def _matcher(outlets: tuple[str, ...]) -> OutletMatcher:
    return OutletMatcher(outlets)


def outlet_matcher(outlets: Sequence[str]) -> OutletMatcher:
    """A cached :class:`OutletMatcher` for this outlet list."""
    return _matcher(tuple(outlets))


# ---- sub-queries -------------------------------------------------------------------------

# Clause boundaries: a comma or semicolon, and contrast words.
_CLAUSE = re.compile(
    r"[;,]\s*|\s+(?=(?:while(?!\s+\w+ing\b)|whereas|but|in\s+contrast\s+to|compared\s+(?:to|with)|as\s+opposed\s+to|versus|vs\.?)\b)"
    r"|\s+and\s+(?=(?:does|did|do|is|was|were|has|had|how|what|which|who|whether)\b)",
    re.I,
)
# Attribution filler left over once the outlet name is removed from a clause.
_FILLER = re.compile(
    r"\b(?:according\s+to|as\s+reported\s+by|reported\s+by|as\s+per|per|from|by|in|of|on|the|an?|and|both|"
    r"article|articles|report|reports|reported|reporting|story|stories|coverage|piece|news|source|sources|"
    r"published|as|that|while|whereas|but|also|does|did|do|is|was|suggest|suggests|claim|claims)\b",
    re.I,
)
_MIN_OWN_WORDS = 3  # a clause with fewer own content words uses the whole question's words


@dataclass(frozen=True)
class SubQuery:
    """One part of a multi-part question: its words, and the outlets and dates it is about.

    ``kind`` is "side" for a part anchored on an outlet or date mention ("the TechCrunch
    report on X published on October 6"), "clause" for one clause of the question ("accused of
    X") asked of the outlets the question names.
    """

    text: str
    outlets: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    kind: str = "side"


@dataclass(frozen=True)
class QueryPlan:
    """What :func:`plan_query` understood of a question."""

    question: str
    outlets: tuple[OutletMention, ...] = ()
    dates: tuple[DateRange, ...] = ()
    recency: int = 0
    temporal: bool = False
    subqueries: tuple[SubQuery, ...] = field(default=())

    @property
    def outlet_names(self) -> tuple[str, ...]:
        """Every outlet the question names, in order of first mention."""
        return tuple(dict.fromkeys(o for m in self.outlets for o in m.outlets))

    @property
    def day_dates(self) -> tuple[DateRange, ...]:
        """Date phrases naming a closed span of at most a month (what an article's date can match)."""
        return tuple(d for d in self.dates if _closed(d))

    @property
    def text(self) -> str:
        """The question without its outlet names (they become filters and boosts)."""
        return _strip_spans(self.question, [(m.start, m.end) for m in self.outlets])


def _closed(d: DateRange, max_days: int = 31) -> bool:
    return d.since is not None and d.until is not None and (d.until - d.since) <= timedelta(days=max_days)


def _strip_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    out, last = [], 0
    for s, e in sorted(spans):
        if s < last:
            continue
        out.append(text[last:s])
        out.append(" ")
        last = e
    out.append(text[last:])
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _clauses(text: str, protected: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Clause spans of ``text``; boundaries inside ``protected`` spans (dates) are ignored."""
    cuts = [m for m in _CLAUSE.finditer(text) if not any(s <= m.start() < e for s, e in protected)]
    spans, last = [], 0
    for m in cuts:
        if m.start() > last:
            spans.append((last, m.start()))
        last = m.end()
    if last < len(text):
        spans.append((last, len(text)))
    return spans


_AND = re.compile(r"\s(?:and|or|with|to|versus|vs\.?)\s", re.I)


def _split_between_anchors(text: str, span: tuple[int, int], anchors: Sequence[tuple[int, int]],
                           min_gap_words: int = 0) -> list[tuple[int, int]]:
    """Cut a clause holding several anchors of one kind ("published on D1 and the one on D2")
    at the last "and"/"or" before each later anchor (or right before it). Anchors with fewer
    than ``min_gap_words`` content words between them stay together (a list: "by both
    TechCrunch and The Verge")."""
    cs, ce = span
    inside = sorted(a for a in anchors if cs <= a[0] < ce)
    if len(inside) < 2:
        return [span]
    out, start = [], cs
    for (prev_s, prev_e), (next_s, _) in zip(inside, inside[1:]):
        if min_gap_words and len(_own_words(text[prev_e:next_s])) < min_gap_words:
            continue
        cut = None
        for m in _AND.finditer(text, prev_e, next_s):
            cut = m.start()
        if cut is None:
            cut = next_s
        if cut > start:
            out.append((start, cut))
            start = cut
    out.append((start, ce))
    return out


def _own_words(text: str) -> list[str]:
    return content_words(_FILLER.sub(" ", text))


def split_subqueries(question: str, mentions: Sequence[OutletMention], dates: Sequence[DateRange],
                     clauses: bool = True, min_clause_words: int = 4) -> list[SubQuery]:
    """Sub-queries of a question that names several outlets, dates or events.

    The question is cut into clauses (commas, semicolons, contrast words; a clause holding two
    dates or two mentions of one outlet is cut between them). A clause with an outlet mention
    or a day date starts a *side*; clauses without one join the side before them. A side's
    sub-query is its own words without the outlet names and date phrases, filtered to its
    outlets (or, without one, to every outlet the question names) and to its date; a side with
    too few words of its own ("as reported by The Verge, and TechCrunch") takes the words of
    the whole question. With ``clauses``, each clause with at least ``min_clause_words`` content
    words of its own also becomes a sub-query, filtered like its side, so that every event
    of a multi-part question is looked up by itself.

    Returns [] for a question with one side and one clause: the main query covers it.
    """
    days = [d for d in dates if _closed(d)]
    protected = [(d.start, d.end) for d in dates] + [(m.start, m.end) for m in mentions]
    pieces: list[tuple[int, int]] = []
    for span in _clauses(question, protected):
        for sub in _split_between_anchors(question, span, [(d.start, d.end) for d in days]):
            pieces.extend(_split_between_anchors(question, sub, [(m.start, m.end) for m in mentions], min_gap_words=2))
    named = tuple(dict.fromkeys(o for m in mentions for o in m.outlets))
    sides: list[dict] = []
    lead: list[tuple[int, int]] = []
    for cs, ce in pieces:
        ms = [m for m in mentions if cs <= m.start < ce]
        ds = [d for d in days if cs <= d.start < ce]
        if ms or ds:
            sides.append({"spans": [(cs, ce)], "mentions": ms, "dates": ds})
        elif sides:
            sides[-1]["spans"].append((cs, ce))
        else:
            lead.append((cs, ce))
    strip = [(m.start, m.end) for m in mentions] + [(d.start, d.end) for d in dates]
    whole = _strip_spans(question, strip)

    def words_of(spans: Sequence[tuple[int, int]]) -> str:
        parts = []
        for cs, ce in spans:
            inner = [(max(s, cs) - cs, min(e, ce) - cs) for s, e in strip if s < ce and e > cs]
            parts.append(_strip_spans(question[cs:ce], inner))
        return " ".join(p for p in parts if p)

    out: list[SubQuery] = []
    side_filter: dict[tuple[int, int], tuple[tuple[str, ...], datetime | None, datetime | None]] = {}
    for p in sides:
        groups = list(dict.fromkeys(m.outlets for m in p["mentions"])) or [named]
        since = min((d.since for d in p["dates"]), default=None)
        until = max((d.until for d in p["dates"]), default=None)
        text = words_of(p["spans"])
        if len(_own_words(text)) < _MIN_OWN_WORDS:
            text = whole
        for g in groups:  # a list of outlets in one clause: one sub-query per outlet
            out.append(SubQuery(text, g, since, until, "side"))
        for sp in p["spans"]:
            side_filter[sp] = (tuple(dict.fromkeys(o for g in groups for o in g)), since, until)
    if clauses:
        for sp in lead + [sp for p in sides for sp in p["spans"]]:
            text = words_of([sp])
            if len(_own_words(text)) < min_clause_words:
                continue
            outlets, since, until = side_filter.get(sp, (named, None, None))
            out.append(SubQuery(text, outlets, since, until, "clause"))
    uniq: dict[tuple, SubQuery] = {}
    for q in out:
        uniq.setdefault((q.text, q.outlets, q.since, q.until), q)
    out = list(uniq.values())
    if len(out) < 2:
        return []
    return out


def plan_query(question: str, outlets: Sequence[str] = (), now: datetime | None = None,
               span: tuple[datetime | None, datetime | None] = (None, None), *, dates: bool = True,
               subqueries: bool = True, clauses: bool = True) -> QueryPlan:
    """Understand ``question`` against an archive's ``outlets`` and date ``span`` (first, last
    publication date). ``dates=False`` ignores date phrases and recency words;
    ``subqueries=False`` makes no sub-queries; ``clauses=False`` makes only outlet/date sides."""
    now = now or reference_now(*span)
    mentions = tuple(outlet_matcher(outlets).find(question)) if outlets else ()
    found = tuple(parse_dates(question, now, span)) if dates else ()
    # a date phrase inside an outlet name is not a date
    found = tuple(d for d in found if not any(m.start <= d.start < m.end for m in mentions))
    subs = tuple(split_subqueries(question, mentions, found, clauses=clauses)) if subqueries else ()
    return QueryPlan(question, mentions, found, recency(question) if dates else 0, is_temporal(question), subs)
