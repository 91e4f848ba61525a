"""A story's timeline: the sentences of its passages that report something happening, dated
and merged across outlets, in date order.

:func:`build_timeline` searches the archive generously, keeps each whole sentence of the
passages that reports an event (a past-tense or news verb; not a question, not a quotation
with a speaker tag, not page furniture or a first-person aside) and names a word of the query,
dates it with :func:`rag.ingest.event_dates.date_of_span` over its article's stated dates
(undated sentences are left out), and merges the same event told by several outlets or by
syndicated copies (a day apart at most, mostly the same words) into one
:class:`~rag.types.TimelineEvent` whose sources name every outlet and mark the first to publish.
Every quote is ``body[start:end]`` of its article, checked before it is returned.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Sequence

from rag.answer.features import candidates
from rag.ingest.event_dates import PUBLISHED, STATED, StatedDate, date_of_span, resolve_dates
from rag.text import idf, split_sentences, stem, stems
from rag.types import Article, Hit, Timeline, TimelineEvent, TimelineSource

if TYPE_CHECKING:
    from rag.archive import Archive

TIMELINE_PASSAGES = 40  # passages searched per timeline: a story spread over a dozen articles
MAX_EVENTS = 60  # the most relevant events kept: more is a list no one reads as a timeline
MERGE_DAYS = 1  # outlets date the same event a day apart (time zones, "late Friday")
# Two reports are one event when the other holds this share of the shorter one's content words
# and this many of them beyond the query's own (which every event shares): nearly the same
# sentence, or a paraphrase sharing many words (calibrated on the OpenAI story of the dev corpus)
MERGE_OVERLAP, MERGE_SHARED = 0.6, 2
PARAPHRASE_OVERLAP, PARAPHRASE_SHARED = 0.5, 6
MAX_QUOTED_SHARE = 0.6  # a sentence mostly inside quotation marks is a quote, not an event report
MAX_EVENT_WORDS = 70  # longer "sentences" are lists and run-ons: poor events
PASSAGE_CHARS = 700  # the paragraph shown around a quote is cut to about this many characters

# words of a timeline query that ask for the timeline rather than name the story
_ASKING = frozenset(stem(w) for w in "timeline story stories events event happened happen latest news updates update "
                    "chronology history what when how".split())
# irregular past tenses of verbs that report something happening
_IRREGULAR = frozenset(
    """became began bought brought broke built came caught chose cut dealt drew drove fell felt fought found fled flew
    forbade forgot froze gave got grew hid hit held hung kept knew laid led left lent let lost made meant met paid put
    quit ran rose said sank sat saw sent set shook shot shut slid sold sought spent split spoke spread stood stole
    struck stuck swore swept took taught tore told threw thought understood undertook upheld withdrew won wrote
    overtook oversaw""".split()
)
# news verbs in the present tense ("Altman joins Microsoft"), by stem
_NEWS_VERBS = frozenset(
    stem(w)
    for w in """announces launches files joins fires ousts resigns sues rules testifies pleads sentences convicts
    appoints names acquires releases signs approves bans raises cuts reports reaches agrees starts begins ends opens
    closes returns reinstates hires leaves wins loses unveils introduces posts votes charges arrests settles blocks
    warns says tells accuses denies confirms invests buys sells collapses halts delays steps takes makes gets
    faces finds rejects adds shows plans expects""".split()
)
# "-ed" words that are rarely a reported action
_NOT_PAST = frozenset("based related used need needed red bed shed hundred embed speed seed feed breed creed".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_QUOTED = re.compile(r"[\"“][^\"“”]*[\"”]")
# a stated date that names a day ("Nov. 12", "on Friday", "yesterday"); "2015", "November
# 2022" or "last week" name a longer span: a timeline places no event by them
_DAY_PRECISE = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?\b|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|"
                          r"\b(?:yesterday|today|tonight|tomorrow)\b|\bdays? (?:ago|before|after|earlier|later)\b", re.I)
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I’m|I've|I’ve|my|we|we're|we’re|our|us)\b")


def is_event(sentence: str) -> bool:
    """True when ``sentence`` reads as a report of something happening: it has a past-tense
    or present-tense news verb outside quotation marks, is not a question, is not mostly a
    quotation, and is no first-person aside or over-long list."""
    s = sentence.strip()
    if not s or s.rstrip("\"'”’)").endswith("?") or len(s.split()) > MAX_EVENT_WORDS:
        return False
    outside = _QUOTED.sub(" ", s)
    if len(s) - len(outside.strip()) > MAX_QUOTED_SHARE * len(s) or _FIRST_PERSON.search(outside):
        return False
    words = _WORD.findall(outside)
    for i, w in enumerate(words):
        low = w.lower()
        if low in _IRREGULAR or (low.endswith("ed") and len(low) >= 5 and low not in _NOT_PAST):
            return True
        if i and low.endswith("s") and w[0].islower() and stem(low) in _NEWS_VERBS:
            return True
    return False


@dataclass
class _Candidate:
    """One dated event sentence of one article (body offsets)."""

    article: Article
    start: int
    end: int
    day: date
    source: str  # STATED | PUBLISHED
    stems: frozenset[str]
    relevance: float


@dataclass
class _Event:
    """Candidates reporting the same event (at most one per article), best first."""

    members: list[_Candidate] = field(default_factory=list)

    @property
    def day(self) -> date:
        stated = Counter(c.day for c in self.members if c.source == STATED)
        if stated:
            top = max(stated.values())
            return min(d for d, n in stated.items() if n == top)
        return min(c.day for c in self.members)

    @property
    def source(self) -> str:
        return STATED if any(c.source == STATED for c in self.members) else PUBLISHED


class _Articles:
    """Articles and their stated dates, read once per timeline through the records."""

    def __init__(self, records):
        self.records = records
        self._articles: dict[str, Article | None] = {}
        self._dates: dict[str, tuple[StatedDate, ...]] = {}

    def get(self, article_id: str) -> Article | None:
        if article_id not in self._articles:
            self._articles[article_id] = self.records.get_article(article_id)
        return self._articles[article_id]

    def dates(self, article: Article) -> tuple[StatedDate, ...]:
        if article.id not in self._dates:
            self._dates[article.id] = resolve_dates(article.body, article.published_at)
        return self._dates[article.id]


def query_stems(query: str) -> frozenset[str]:
    """The stems of the query's content words that name the story (not "timeline", "latest")."""
    return frozenset(stems(query)) - _ASKING


def event_candidates(query: str, hits: Sequence[Hit], articles: _Articles) -> list[_Candidate]:
    """Every dated event sentence of ``hits`` that names a word of ``query``, once per body span."""
    q = query_stems(query)
    cands, seen = [], set()
    for c in candidates(hits):
        if c.stems.isdisjoint(q) or not is_event(c.text):
            continue
        chunk = hits[c.hit].chunk
        start, end = chunk.start + c.start, chunk.start + c.end
        if (chunk.article_id, start) in seen:  # overlapping chunks hold the same sentence
            continue
        seen.add((chunk.article_id, start))
        art = articles.get(chunk.article_id)
        if art is None or art.body[start:end] != c.text:
            continue
        dates = articles.dates(art)
        if any(d.start >= start and d.end <= end and not _DAY_PRECISE.search(d.text) for d in dates) and not any(
                d.start >= start and d.end <= end and _DAY_PRECISE.search(d.text) for d in dates):
            continue  # about a year, a month or a week, not a day: not placed on the timeline
        day, source = date_of_span([d for d in dates if _DAY_PRECISE.search(d.text)], start, end, art.published_at)
        if day is None:  # undated material is left out, not guessed
            continue
        cands.append(_Candidate(art, start, end, day, source, c.stems, 0.0))
    df = Counter(s for c in cands for s in c.stems & q)
    for c in cands:
        c.relevance = sum(idf(df[s], len(cands)) for s in c.stems & q)
    return cands


def same_event(a: _Candidate, b: _Candidate, q: frozenset[str]) -> bool:
    """True when two sentences of different articles are the same sentence, or, a day apart
    at most, share most of their content words (beyond the query's own)."""
    if a.article.id == b.article.id:
        return False
    if a.stems == b.stems:  # the same sentence re-run (a syndicated copy, a reused caption): one report
        return True
    if abs((a.day - b.day).days) > MERGE_DAYS:
        return False
    if a.day != b.day and a.source == b.source == STATED:
        return False  # both state their day and the days differ: two events ("told Thursday", "fired Friday")
    shared = a.stems & b.stems
    share, beyond = len(shared) / max(1, min(len(a.stems), len(b.stems))), len(shared - q)
    return (share >= MERGE_OVERLAP and beyond >= MERGE_SHARED) or (share >= PARAPHRASE_OVERLAP and beyond >= PARAPHRASE_SHARED)


def merge(cands: Sequence[_Candidate], q: frozenset[str]) -> list[_Event]:
    """Group candidates into events, most relevant first; at most :data:`MAX_EVENTS`."""
    events: list[_Event] = []
    for c in sorted(cands, key=lambda c: (-c.relevance, c.day, c.article.id, c.start)):
        home = next((e for e in events if all(m.article.id != c.article.id for m in e.members)
                     and any(same_event(c, m, q) for m in e.members)), None)
        if home is not None:
            home.members.append(c)
        elif len(events) < MAX_EVENTS:
            events.append(_Event([c]))
    return events


def _parse_where(place: str) -> tuple[str | None, datetime | None, str | None]:
    """(outlet, published, url) of an ``outlet | YYYY-MM-DD | location`` entry (parts may be
    missing; an outlet may itself hold " | "; a location that is no http(s) URL is dropped)."""
    parts = [p.strip() for p in place.split(" | ")]
    i = next((j for j, p in enumerate(parts) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", p)), None)
    if i is not None:
        day = datetime.fromisoformat(parts[i] + "T00:00:00+00:00")
        outlet, loc = parts[:i], parts[i + 1:]
    else:
        day = None
        located = len(parts) > 1 and ("/" in parts[-1] or "\\" in parts[-1])
        outlet, loc = (parts[:-1], parts[-1:]) if located else (parts, [])
    url = loc[-1] if loc and re.match(r"https?://", loc[-1]) else None
    return " | ".join(outlet) or None, day, url


def _passage(body: str, start: int, end: int) -> tuple[str, int]:
    """The paragraph around ``body[start:end]`` (cut to about :data:`PASSAGE_CHARS`) and its start."""
    a = body.rfind("\n", 0, start) + 1
    b = body.find("\n", end)
    b = len(body) if b < 0 else b
    spare = max(0, PASSAGE_CHARS - (end - start)) // 2
    a, b = max(a, start - spare), min(b, end + spare)
    return body[a:b], a


def _source(art: Article, start: int, end: int, outlet=None, published=None, url=None) -> TimelineSource:
    passage, p0 = _passage(art.body, start, end)
    return TimelineSource(
        n=0, article_id=art.id, outlet=outlet or art.outlet, title=art.title, published_at=published or art.published_at,
        url=url or art.url, quote=art.body[start:end], start=start, end=end, passage=passage, passage_start=p0,
    )


def _copy_span(text: str, want: frozenset[str], body: str) -> tuple[int, int] | None:
    """Where a syndicated copy's ``body`` tells the sentence ``text``: the same words, else
    the sentence sharing most of its content words (None when none shares enough)."""
    i = body.find(text)
    if i >= 0:
        return i, i + len(text)
    best, span = 0.0, None
    for s, e in split_sentences(body):
        have = stems(body[s:e])
        share = len(have & want) / max(1, min(len(have), len(want)))
        if share > best:
            best, span = share, (s, e)
    return span if best >= MERGE_OVERLAP else None


def _first_key(s: TimelineSource, day_only: bool) -> tuple:
    """Order of publication: by day, then (within a day) timed reports before reports known
    only by their day (an identical copy's ``also_in`` keeps no time), then by time."""
    if s.published_at is None:
        return (date.max, 1, 0.0, s.outlet or "")
    return (s.published_at.date(), int(day_only), s.published_at.timestamp(), s.outlet or "")


def _sources(ev: _Event, articles: _Articles, copies: dict[str, list[str]]) -> list[TimelineSource]:
    """Every report of ``ev``: its members, the outlets that ran an identical body, and the
    near-duplicate copies of its articles; the earliest published is marked ``first``."""
    out: list[tuple[tuple, TimelineSource]] = []
    have = {m.article.id for m in ev.members}
    for m in ev.members:
        src = _source(m.article, m.start, m.end)
        out.append((_first_key(src, False), src))
        for place in m.article.also_in:
            outlet, published, url = _parse_where(place)
            src = _source(m.article, m.start, m.end, outlet, published, url)
            out.append((_first_key(src, True), src))
        for other_id in copies.get(m.article.id, ()):
            other = articles.get(other_id) if other_id not in have else None
            span = _copy_span(m.article.body[m.start:m.end], m.stems, other.body) if other else None
            if span is not None:
                have.add(other_id)
                src = _source(other, *span)
                out.append((_first_key(src, False), src))
    out.sort(key=lambda t: t[0])
    return [dataclasses.replace(s, first=(i == 0 and s.published_at is not None)) for i, (_, s) in enumerate(out)]


def _copies(records, article_ids: Sequence[str]) -> dict[str, list[str]]:
    """article id -> the other members of its syndication cluster (near-duplicate copies)."""
    from rag.retrieve.syndication import ClusterMap

    clusters = ClusterMap.load(records)
    out = {}
    for aid in article_ids:
        key = clusters.cluster.get(aid)
        if key is not None:
            out[aid] = [m[0] for m in clusters.members[key] if m[0] != aid]
    return out


def _within(day: date, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or day >= since.date()) and (until is None or day <= until.date())


def timeline_from_hits(query: str, hits: Sequence[Hit], records, since: datetime | None = None,
                       until: datetime | None = None) -> Timeline:
    """The timeline of ``query`` over retrieved ``hits`` (articles read from ``records``):
    events dated within ``since``/``until``, in date order, sources numbered from 1."""
    articles = _Articles(records)
    q = query_stems(query)
    events = [e for e in merge(event_candidates(query, hits, articles), q) if _within(e.day, since, until)]
    copies = _copies(records, sorted({m.article.id for e in events for m in e.members}))
    built = []
    for e in events:
        srcs = _sources(e, articles, copies)
        built.append((e.day, srcs[0].published_at or datetime.max, e, srcs))
    built.sort(key=lambda t: (t[0], t[1].replace(tzinfo=None), t[2].members[0].article.id, t[2].members[0].start))
    out, n = [], 0
    for day, _, e, srcs in built:
        numbered = []
        for s in srcs:
            n += 1
            numbered.append(dataclasses.replace(s, n=n))
        best = e.members[0]
        out.append(TimelineEvent(date=day, date_source=e.source, text=best.article.body[best.start:best.end],
                                 sources=tuple(numbered)))
    check_quotes(out, articles)
    return Timeline(query=query, events=tuple(out))


def check_quotes(events: Sequence[TimelineEvent], articles: _Articles) -> None:
    """Raise AssertionError when a source's quote is not its article's ``body[start:end]``."""
    for e in events:
        for s in e.sources:
            art = articles.get(s.article_id)
            if art is None or art.body[s.start:s.end] != s.quote:
                raise AssertionError(f"timeline quote of {s.article_id} at {s.start}:{s.end} is not in its body")


def build_timeline(archive: "Archive", query: str, k: int | None = None, since=None, until=None,
                   outlets: Sequence[str] | None = None) -> Timeline:
    """The timeline of ``query`` in ``archive``: events dated between ``since`` and ``until``
    (articles published before ``since`` are not searched; later ones are, since they
    recount earlier events), from the outlets named, if any."""
    from rag.archive import parse_date

    lo, hi = parse_date(since), parse_date(until, end_of_day=True)
    hits = archive.search(query, k or TIMELINE_PASSAGES, since=lo, outlets=outlets)
    return timeline_from_hits(query, hits, archive.store.records, lo, hi)

