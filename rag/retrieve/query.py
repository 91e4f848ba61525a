"""Query understanding without an LLM: outlets, dates, recency and sub-queries of a question.

* Date phrases ("on October 6", "last week of November", "before Oct. 10", "last week") are
  found by :mod:`rag.retrieve.dates` and resolved against the archive's own date span.
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

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Iterable, Sequence

from rag.retrieve.dates import DateRange, is_temporal, parse_dates, recency, reference_now
from rag.text import content_words

# Date parsing lives in rag.retrieve.dates; these names stay importable from here.
__all__ = [
    "DateRange", "OutletMatcher", "OutletMention", "QueryPlan", "SubQuery", "is_temporal", "outlet_aliases",
    "outlet_matcher", "parse_dates", "plan_query", "recency", "reference_now", "split_subqueries",
]
# A date phrase spanning at most this many days can match an article's publication date
# (a month: "in October" still narrows; a year does not).
DAY_DATE_MAX_DAYS = 31

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
    subqueries: tuple[SubQuery, ...] = field(default=())

    @property
    def outlet_names(self) -> tuple[str, ...]:
        """Every outlet the question names, in order of first mention."""
        return tuple(dict.fromkeys(o for m in self.outlets for o in m.outlets))

    @property
    def day_dates(self) -> tuple[DateRange, ...]:
        """Date phrases naming a closed span of at most a month (what an article's date can match)."""
        return tuple(d for d in self.dates if _closed(d))


def _closed(d: DateRange, max_days: int = DAY_DATE_MAX_DAYS) -> bool:
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
    return QueryPlan(question, mentions, found, recency(question) if dates else 0, subs)
