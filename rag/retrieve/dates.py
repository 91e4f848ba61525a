"""Date phrases of a question without an LLM: :func:`parse_dates` finds "on October 6, 2023",
"in October", "last week of November", "mid-October", "before Oct. 10", "between 1 and 15
December", "last week", "2023-10-06" and turns each into a :class:`DateRange`. Missing years
and relative phrases are resolved against a reference "now" that the caller chooses: the
archive's latest publication date, unless the archive is current (:func:`reference_now`).
Never wall-clock time for an old archive. Also :func:`recency` ("latest", "earliest") and
:func:`is_temporal` (does a question ask when, or in which order?).
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

# Publication times are stored with their offsets; a date named in a question is a local
# calendar day somewhere between UTC-12 and UTC+14.
DATE_SLACK = timedelta(hours=14)
# An archive whose latest article is at most this old is current: "last week" means the
# calendar's last week; an older archive's "now" is its latest publication date.
CURRENT_ARCHIVE_DAYS = 31
# "early / mid / late October": thirds of the month, ending on these days (late: the month's end).
EARLY_MONTH_LAST_DAY = 10
MID_MONTH_LAST_DAY = 20
# "past week / month / year": a rolling window of this many days ending now.
PAST_WINDOW_DAYS = {"week": 7, "month": 30, "year": 365}
# "last 3 months": a unit counted in days (a rolling window needs no calendar months).
DAYS_PER_UNIT = {"day": 1, "week": 7, "month": 30}
# "before" / "prior to" / "earlier than" and the like are looked for this far before a date.
BOUND_WORD_CHARS = 20
# Every month has this day: a year is inferred on it when the phrase's own day may not exist.
DAY_IN_EVERY_MONTH = 28

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
                  current_days: int = CURRENT_ARCHIVE_DAYS) -> datetime:
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
    d = min(day or 1, DAY_IN_EVERY_MONTH)
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
            return date(y, mon, 1), date(y, mon, EARLY_MONTH_LAST_DAY), "week"
        if part.startswith(("mid", "middle")):
            return date(y, mon, EARLY_MONTH_LAST_DAY + 1), date(y, mon, MID_MONTH_LAST_DAY), "week"
        return date(y, mon, MID_MONTH_LAST_DAY + 1), date(y, mon, last), "week"
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
            days = n * DAYS_PER_UNIT[unit]
            return today - timedelta(days=days), today, "range"
        word, unit = rel.split(" ", 1)
        if word == "past":  # "past week": a rolling window ending now
            days = PAST_WINDOW_DAYS[unit]
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
        head = text[max(0, s - BOUND_WORD_CHARS) : s]
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
