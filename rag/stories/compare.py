"""Outlets side by side: each outlet's most relevant passages on a topic, and what differs.

:func:`compare` picks the outlets (the ones given, else the ones the query names, else the
ones whose articles cover the topic), searches each with an outlet filter
(:func:`outlet_searches`), picks its passages (:func:`choose`, as a :class:`Selection` says),
and quotes from every passage its best-supporting sentence(s) for the query (an exact body span). The
differences between the outlets (figures for the same quantity, claims only one outlet
makes) come from :mod:`rag.stories.compare_diff`.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from rag.answer.support import Passage, needs, window_score
from rag.errors import BadInput
from rag.retrieve.query import outlet_matcher, plan_query
from rag.stories.compare_diff import differences
from rag.types import Chunk, Comparison, Hit, OutletView, Source, byline

if TYPE_CHECKING:
    from rag.archive import Archive, DateLike

PASSAGES_PER_OUTLET = 5  # dev: the outlet's gold fact is shown for 0.81 of questions at 5, 0.71 at 3
SPARE_HITS = 3  # extra hits searched per outlet to replace quotes repeated by overlapping chunks
MAX_OUTLETS = 4  # more columns than this cannot be read side by side
MIN_QUOTE_TERMS = 6  # a window with fewer content words is a heading or a fragment ("Key subtext")
SHORT_QUOTE_FACTOR = 0.5  # such a window is quoted only when it supports the query twice as well
OVERALL_K = 10  # the unfiltered search's passages offered to each outlet first
COVER_K = 20  # passages searched (no filter) to find the outlets that cover an unnamed topic
# A question to the reader ("Do you work at OpenAI ...?") or an embedded post's signature
# ("— Sam Altman (@sama) November 17, 2023") is not what an outlet reports: quoted last.
_NOT_A_REPORT = re.compile(r"\?[\"”’']?\s*$|\(@\w+\)")
NOT_A_REPORT_FACTOR = 0.1  # such a window is quoted only when no report supports the query a tenth as well


def resolve_outlets(names: Sequence[str], known: Sequence[str]) -> list[str]:
    """The archive outlets meant by ``names`` (exact names, or aliases such as "the Verge"
    for "The Verge"); ``BadInput`` for a name that matches none."""
    out: list[str] = []
    lower = {o.lower(): o for o in known}
    for name in names:
        name = name.strip()
        if name.lower() in lower:
            out.append(lower[name.lower()])
            continue
        found = [o for m in outlet_matcher(known).find(name) for o in m.outlets]
        if not found:
            raise BadInput(f"no outlet {name!r} in the archive (rag stats lists them)")
        out.extend(found)
    return list(dict.fromkeys(out))


def quote_span(chunk: Chunk, query: str) -> tuple[int, int]:
    """The local span (in ``chunk.text``) of the one or two sentences that best support
    ``query``, a heading or fragment only when nothing longer does; the whole passage when
    no sentence window is usable."""
    p = Passage.of(chunk)
    need = needs(query)
    best: tuple | None = None
    for (s, e), st in p.windows.items():
        sc = window_score(need, p.meta, st, p.meta) if need else 0.0
        if len(st) < MIN_QUOTE_TERMS:
            sc *= SHORT_QUOTE_FACTOR
        if _NOT_A_REPORT.search(chunk.text[s:e]):
            sc *= NOT_A_REPORT_FACTOR
        key = (round(sc, 9), -(e - s))
        if best is None or key > best[0]:
            best = (key, (s, e))
    return best[1] if best is not None else (0, len(chunk.text))


def source_of(n: int, chunk: Chunk, span: tuple[int, int], also_ran_in: Sequence[str] = ()) -> Source:
    """A :class:`Source` quoting ``chunk.text[span]`` (body offsets: ``chunk.start`` + span)."""
    s, e = span
    return Source(
        n=n, article_id=chunk.article_id, chunk_id=chunk.id, **byline(chunk), quote=chunk.text[s:e],
        start=chunk.start + s, end=chunk.start + e, passage=chunk.text, passage_start=chunk.start,
        passage_end=chunk.end, also_ran_in=tuple(also_ran_in),
    )


def _sides(query: str, outlets: Sequence[str], known: Sequence[str]) -> dict[str, str]:
    """For each outlet, the words of the query's clause about it (the plan's "side"
    sub-query), or the query itself when the query has no clause of its own for it."""
    plan = plan_query(query, known, dates=False)
    out = {o: query for o in outlets}
    for sq in plan.subqueries:
        if sq.kind == "side" and len(sq.outlets) == 1 and sq.outlets[0] in out and out[sq.outlets[0]] == query:
            out[sq.outlets[0]] = sq.text
    return out


@dataclass(frozen=True)
class Selection:
    """How each outlet's passages are chosen from its searches. On dev (``python -m
    evals.compare --cv``) no entry of its grid beats the default by more than 1 question of 125;
    clause slots and caps per article lose (the gold fact is often a later chunk of the top article)."""

    overall_k: int = OVERALL_K  # the unfiltered search's passages offered to each outlet first (0: none)
    side_slots: int = 0  # slots kept for the top passages of the outlet's own clause, searched alone
    article_cap: int = 0  # at most this many passages from one article (0: no cap)


@dataclass(frozen=True)
class OutletSearches:
    """One outlet's ranked hits: from the unfiltered search, the whole query filtered to the
    outlet, and the outlet's own clause filtered to it (empty when the query has none)."""

    outlet: str
    clause: str  # the words that pick each passage's quote (the outlet's clause, else the query)
    overall: tuple[Hit, ...]
    whole: tuple[Hit, ...]
    side: tuple[Hit, ...] = ()


def outlet_searches(archive: "Archive", query: str, outlets: Sequence[str], since=None, until=None,
                    k: int = PASSAGES_PER_OUTLET, sel: Selection = Selection()) -> list[OutletSearches]:
    """The searches :func:`choose` picks each outlet's passages from (only those ``sel`` uses)."""
    sides = _sides(query, outlets, archive.outlets())
    overall = archive.search(query, sel.overall_k, since, until) if len(outlets) > 1 and sel.overall_k > 0 else []
    out = []
    for o in outlets:
        # the whole query, filtered to the outlet, ranks its gold facts higher than the clause
        # about it alone (dev: 0.71 vs 0.58 of questions at 3 passages); the clause picks the quote
        whole = archive.search(query, k + SPARE_HITS, since, until, [o])
        side = archive.search(sides[o], k + SPARE_HITS, since, until, [o]) if sel.side_slots > 0 and sides[o] != query else []
        out.append(OutletSearches(o, sides[o], tuple(h for h in overall if h.chunk.outlet == o), tuple(whole), tuple(side)))
    return out


def choose(s: OutletSearches, k: int = PASSAGES_PER_OUTLET, sel: Selection = Selection()) -> list[tuple[Hit, tuple[int, int]]]:
    """Up to ``k`` (hit, quote span) for one outlet: ``sel.side_slots`` from its clause search,
    the rest from the unfiltered then the filtered search; each quote once (overlapping chunks
    of one article), at most ``sel.article_cap`` passages per article."""
    ranked = [h for h in s.overall if h.rank <= sel.overall_k] + list(s.whole)
    order = list(s.side[: sel.side_slots]) + ranked if s.side else ranked
    out: list[tuple[Hit, tuple[int, int]]] = []
    seen_chunks: set[str] = set()
    seen_quotes: set[tuple[str, int]] = set()
    per_article: dict[str, int] = {}
    for h in order:
        c = h.chunk
        if len(out) >= k:
            break
        if c.id in seen_chunks or (sel.article_cap and per_article.get(c.article_id, 0) >= sel.article_cap):
            continue
        seen_chunks.add(c.id)
        span = quote_span(c, s.clause)
        if (c.article_id, c.start + span[0]) in seen_quotes:
            continue  # overlapping chunks of one article: the same quote once
        seen_quotes.add((c.article_id, c.start + span[0]))
        per_article[c.article_id] = per_article.get(c.article_id, 0) + 1
        out.append((h, span))
    return out


def covering_outlets(archive: "Archive", query: str, since, until, limit: int = MAX_OUTLETS) -> list[str]:
    """The outlets of the best passages for ``query`` (no outlet filter), best first."""
    hits = archive.search(query, COVER_K, since, until)
    return list(dict.fromkeys(h.chunk.outlet for h in hits if h.chunk.outlet))[:limit]


def pick_outlets(archive: "Archive", query: str, outlets: Sequence[str] | None = None, since=None, until=None) -> list[str]:
    """The outlets compared: ``outlets`` resolved, else those the query names, else those covering it."""
    known = archive.outlets()
    if outlets:
        return resolve_outlets(outlets, known)
    return list(plan_query(query, known, dates=False).outlet_names) or covering_outlets(archive, query, since, until)


def compare(archive: "Archive", query: str, outlets: Sequence[str] | None = None, since: "DateLike" = None,
            until: "DateLike" = None, k: int = PASSAGES_PER_OUTLET, sel: Selection = Selection()) -> Comparison:
    """Set the outlets that cover ``query`` side by side (see the module docstring)."""
    if not query or not query.strip():
        raise BadInput("empty query")
    t0 = time.perf_counter()
    chosen = pick_outlets(archive, query, outlets, since, until)
    views: list[OutletView] = []
    n = 0
    for searched in outlet_searches(archive, query, chosen, since, until, k, sel):
        passages: list[Source] = []
        for h, span in choose(searched, k, sel):
            n += 1
            passages.append(source_of(n, h.chunk, span, h.also_ran_in))
        views.append(OutletView(searched.outlet, tuple(passages)))
    diffs = differences(query, views)
    return Comparison(query, tuple(views), tuple(diffs), {"total": round((time.perf_counter() - t0) * 1000, 1)})
