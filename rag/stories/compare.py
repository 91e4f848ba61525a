"""Outlets side by side: each outlet's most relevant passages on a topic, and what differs.

:func:`compare` picks the outlets (the ones given, else the ones the query names, else the
ones whose articles cover the topic), searches each with an outlet filter
(:func:`outlet_searches`), re-ranks the outlet's top hits by their best sentence for what the
query asks of that outlet (:func:`claim_text`, :func:`sentence_scores`), picks its passages
(:func:`choose`, as a :class:`Selection` says), and quotes from every passage the sentence,
or two neighbouring ones, that best says that outlet's claim, by meaning and by shared words
(:func:`meaning_spans`; an exact body span). The differences between
the outlets (figures for the same quantity, claims only one outlet makes) come from
:mod:`rag.stories.compare_diff`.
"""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np

from rag.answer.support import Passage, needs, window_score
from rag.errors import BadInput
from rag.retrieve.query import outlet_matcher, plan_query
from rag.stories.compare_diff import differences
from rag.text import split_sentences, stems
from rag.types import Chunk, Comparison, Hit, OutletView, Source, byline

if TYPE_CHECKING:
    from rag.archive import Archive, DateLike

# dev: both named outlets' gold facts shown for 0.86 of questions at 5 (0.84-0.86 5-fold CV;
# in search order 0.81-0.82, 0.71 at 3)
PASSAGES_PER_OUTLET = 5
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
SENTENCE_CACHE_CHUNKS = 1024  # passages whose sentence vectors are remembered (a few MB with MiniLM)
# What a question asks of one outlet, once the attribution around it is dropped: "Does the
# article from <outlet> suggest that X, without mentioning Y?" asks for X.
_ATTRIBUTION = re.compile(
    r"^\W*(?:(?:while|whereas|but|and|as\s+opposed\s+to|in\s+contrast\s+to|compared\s+(?:to|with)|does|did|do|is|"
    r"was|has|had|the|both|an?|from|by|article|articles|report|reports|piece|story|that)\b\W*)+", re.I)
_REPORTING_VERB = re.compile(
    r"^(?:(?:which|that)\s+)?(?:suggests?|claims?|indicates?|reports?|impl(?:y|ies)|discuss(?:es)?|describes?|"
    r"mentions?|attributes?|credits?|alleges?|asserts?|says?|states?|focus(?:es)?\s+on|concentrates?\s+on|"
    r"(?:only\s+)?confirms?|highlights?|questions?|portrays?)\b\s*(?:that\s+)?", re.I)
_CONTRAST_TAIL = re.compile(
    r"\s*,?\s+(?:without\s+mentioning|without\s+(?:any\s+)?(?:reference|comparing|indicating|discussing)|indicating|"
    r"suggesting\s+a\s+difference|compared\s+to|as\s+opposed\s+to|in\s+contrast\s+to|similar\s+to\s+how)\b.*$", re.I)
_MIN_CLAIM_WORDS = 3  # a shorter claim keeps its contrast tail
POOL = 20  # an outlet's top hits re-ranked by their sentences (Selection.pool)
SENTENCE_WEIGHT = 7.5  # Selection.sentence_weight: in units of the reranked search score (a logit)
# a quote's score: cosine to the claim + this x its shared-word support (dev: both outlets' gold facts
# in the quotes for 0.616 at 0.3, 0.552 at 0, 0.576 at 1.0; 5-fold CV over 0-1: 0.608)
QUOTE_WORDS_WEIGHT = 0.3
SENTENCES_PER_PASSAGE = 2  # Selection.sentences: the cost of a cold compare is ~pool x this forward passes an outlet


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


def meaning_spans(chunk: Chunk, target: np.ndarray, embedder, vectors: "SentenceVectors | None" = None,
                  need: Mapping | None = None, words_weight: float = QUOTE_WORDS_WEIGHT) -> list[tuple[int, int]]:
    """The local spans of the sentences, and pairs of neighbouring sentences, best first for
    ``target`` (an outlet's claim, embedded): the cosine of the sentence's vector (a pair's
    normalized sum), plus ``words_weight`` x its support of ``need`` by shared words
    (:func:`~rag.answer.support.window_score`, the measure of :func:`quote_span`), with the
    heading and not-a-report penalties of :func:`quote_span`. On dev (125 two-outlet
    questions, the same passages shown), both outlets' highlighted quotes hold their gold facts
    for 0.616 of questions (0.608 5-fold cross-validated over the weight), 0.552 by meaning
    alone, 0.480 by shared words alone: a paraphrase ("he could no longer run both companies"
    for "management capabilities were challenged") shares few words with the question, and the
    words still tell which of two close sentences names the right thing. Every sentence of the
    passage is embedded (remembered in ``vectors``)."""
    spans = split_sentences(chunk.text)
    if not spans:
        return [(0, len(chunk.text))]
    v = np.stack((vectors or SENTENCE_VECTORS).get(embedder, [(chunk, spans)])[0])
    windows = [(float(v[j] @ target), spans[j]) for j in range(len(spans))]
    for j in range(len(spans) - 1):
        if _adjacent(chunk.text, spans[j], spans[j + 1]):
            pair = v[j] + v[j + 1]
            windows.append((float(pair @ target) / max(float(np.linalg.norm(pair)), 1e-12),
                            (spans[j][0], spans[j + 1][1])))
    meta = Passage.of(chunk).meta if need and words_weight else None
    keyed = []
    for cos, (s, e) in windows:
        sc, words = max(cos, 0.0), stems(chunk.text[s:e])
        if meta is not None:
            sc += words_weight * window_score(need, meta, words, meta)
        if len(words) < MIN_QUOTE_TERMS:
            sc *= SHORT_QUOTE_FACTOR
        if _NOT_A_REPORT.search(chunk.text[s:e]):
            sc *= NOT_A_REPORT_FACTOR
        keyed.append(((round(sc, 9), -(e - s)), (s, e)))
    return [span for _, span in sorted(keyed, key=lambda x: x[0], reverse=True)]


def same_words(text: str) -> str:
    """``text`` with its white space collapsed and its case folded: two quotes that read the same."""
    return " ".join(text.split()).casefold()


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


def claim_text(clause: str) -> str:
    """What ``clause`` (an outlet's clause of the query, outlet name removed) says that outlet
    reported: without the attribution before it ("Does the article from suggest that") and
    the contrast after it ("without mentioning ...", "indicating a difference ..."). The
    sentence vectors are compared with this: on dev (offline, in-sample, every sentence
    scored, pool 30-40), 108-109 questions of 125 passed instead of 106 with the clause as it is."""
    claim = _REPORTING_VERB.sub("", _ATTRIBUTION.sub("", clause)).strip(" ?'\"’‘“”")
    short = _CONTRAST_TAIL.sub("", claim)
    claim = short if len(short.split()) >= _MIN_CLAIM_WORDS else claim
    return claim or clause


class SentenceVectors:
    """Embedding vectors of passage sentences, remembered per chunk (the last ``size`` chunks,
    per embedder): a second compare on the same story embeds nothing again. Thread-safe."""

    def __init__(self, size: int = SENTENCE_CACHE_CHUNKS):
        self.size = size
        self._chunks: OrderedDict[tuple[str, str], dict[tuple[int, int], np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, embedder, wanted: Sequence[tuple[Chunk, Sequence[tuple[int, int]]]]) -> list[list[np.ndarray]]:
        """For each (chunk, sentence spans): the spans' vectors, embedding only those not
        remembered, in batches the embedder runs without torch (its ``small_batch``)."""
        name = getattr(embedder, "name", type(embedder).__name__)
        have: list[dict[tuple[int, int], np.ndarray]] = []
        todo: list[tuple[int, tuple[int, int]]] = []
        with self._lock:
            for i, (c, spans) in enumerate(wanted):
                known = self._chunks.get((name, c.id))
                if known is not None:
                    self._chunks.move_to_end((name, c.id))
                have.append(dict(known) if known else {})
                todo.extend((i, sp) for sp in spans if sp not in have[i])
        if todo:
            texts = [wanted[i][0].text[s:e] for i, (s, e) in todo]
            unique = list(dict.fromkeys(texts))  # overlapping chunks share sentences
            batch = max(1, int(getattr(embedder, "small_batch", 64)))
            vecs = np.concatenate([embedder.embed_texts(unique[b:b + batch]) for b in range(0, len(unique), batch)])
            row = {t: vecs[j] for j, t in enumerate(unique)}
            for (i, sp), t in zip(todo, texts):
                have[i][sp] = row[t]
            with self._lock:
                for i, (c, _) in enumerate(wanted):
                    self._chunks[(name, c.id)] = {**self._chunks.get((name, c.id), {}), **have[i]}
                    self._chunks.move_to_end((name, c.id))
                while len(self._chunks) > self.size:
                    self._chunks.popitem(last=False)
        return [[have[i][sp] for sp in spans] for i, (_, spans) in enumerate(wanted)]

    def clear(self) -> None:
        """Forget every remembered vector (benchmarks time cold compares with this)."""
        with self._lock:
            self._chunks.clear()


SENTENCE_VECTORS = SentenceVectors()  # one per process, shared by every Archive


def sentence_scores(embedder, chunks: Sequence[Chunk], claim: str, most: int = 1,
                    vectors: SentenceVectors = SENTENCE_VECTORS,
                    target: np.ndarray | None = None) -> dict[str, tuple[float, ...]]:
    """For each chunk, ``most`` scores: the n-th is the best cosine between ``claim`` and one of
    the chunk's n sentences that share most content words with it (first ones on ties), or two
    of those that are neighbours (the normalized sum of their vectors). Only those sentences
    are embedded: on dev (offline, in-sample), every sentence sharing a word with the claim
    (~115 a question) passed 1-2 questions of 125 more than one a passage (~46) at 2.5x the
    cost. A chunk with no such sentence scores 0."""
    want = stems(claim)
    picked: list[list[tuple[int, int]]] = []
    for c in chunks:
        spans = split_sentences(c.text)
        shared = [len(stems(c.text[s:e]) & want) for s, e in spans]
        top = sorted((j for j in range(len(spans)) if shared[j]), key=lambda j: (-shared[j], j))[:most]
        picked.append([spans[j] for j in top])
    wanted = [(c, sp) for c, sp in zip(chunks, picked) if sp]
    vecs = iter(vectors.get(embedder, wanted) if wanted else [])
    if wanted and target is None:
        target = np.asarray(embedder.embed_query(claim), dtype=np.float32)  # ``target``: already embedded
    out: dict[str, tuple[float, ...]] = {}
    for c, spans in zip(chunks, picked):
        if not spans:
            out[c.id] = (0.0,) * most
            continue
        v = np.stack(next(vecs))
        best, scores = -1.0, []
        for n in range(most):
            if n < len(spans):
                best = max(best, float(v[n] @ target))
                for m in range(n):  # the n-th and an earlier pick that are neighbours, read as one window
                    first, second = sorted((m, n), key=lambda j: spans[j])
                    if _adjacent(c.text, spans[first], spans[second]):
                        pair = v[m] + v[n]
                        best = max(best, float(pair @ target) / max(float(np.linalg.norm(pair)), 1e-12))
            scores.append(best)
        out[c.id] = tuple(scores)
    return out


def _adjacent(text: str, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether sentence span ``b`` follows ``a`` with only white space between them."""
    return a[1] <= b[0] and not text[a[1]:b[0]].strip()


@dataclass(frozen=True)
class Selection:
    """How each outlet's passages are chosen from its searches. The outlet's top ``pool`` hits
    of the whole query (filtered to it) are re-ranked by search score + ``sentence_weight`` x
    the best cosine of one of their sentences (or two) with the outlet's claim
    (:func:`sentence_scores`): the gold fact often sits at rank 6-20, in a chunk whose search
    score is close to the shown ones, and a sentence of it paraphrases the question. On dev
    (``python -m evals.compare --cv``, 125 two-outlet questions, the int8 MiniLM index) both
    outlets' gold facts are shown for 0.856 with these defaults (the grid entry every
    cross-validation fold chose), 0.856 5-fold cross-validated over the grid (0.840 on an index
    built on another CPU), against 0.816 in search order (``pool=0``, the previous default) and
    the baselines' 0.824 (plain search, k=10, split by outlet) and 0.800 (filtered, top 5).
    The cost is the sentences' forward passes when cold (~40 an outlet, then every sentence
    of the shown passages for their quotes): p50 0.44 s against 0.07 s in search order on a
    loaded 2-core Intel Xeon (the quotes by meaning 1.5x those by shared words); a repeated
    compare finds them remembered (0.09 s). Clause slots and caps per article lose (the gold
    fact is often a later chunk of the top article). Offline, in-sample: neighbouring chunks of
    the top articles as extra candidates add nothing; rank fusion (RRF) of search and sentence
    ranks, a score normalized per outlet, and static (model2vec) sentence vectors lose."""

    overall_k: int = OVERALL_K  # the unfiltered search's passages offered to each outlet first (0: none)
    side_slots: int = 0  # slots kept for the top passages of the outlet's own clause, searched alone
    article_cap: int = 0  # at most this many passages from one article (0: no cap)
    pool: int = POOL  # the whole query's top hits re-ranked by their sentences (0: search order)
    sentence_weight: float = SENTENCE_WEIGHT  # search-score units per unit of sentence cosine
    sentences: int = SENTENCES_PER_PASSAGE  # sentences embedded per re-ranked passage (sentence_scores)


@dataclass(frozen=True)
class OutletSearches:
    """One outlet's ranked hits: from the unfiltered search, the whole query filtered to the
    outlet, and the outlet's own clause filtered to it (empty when the query has none); with
    the sentence scores of the filtered hits re-ranked (chunk id -> :func:`sentence_scores`)
    and how a passage's quote is picked."""

    outlet: str
    clause: str  # the words that pick each passage's quote (the outlet's clause, else the query)
    overall: tuple[Hit, ...]
    whole: tuple[Hit, ...]
    side: tuple[Hit, ...] = ()
    sentences: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    quotes: Callable[[Chunk], list[tuple[int, int]]] | None = field(default=None, compare=False)  # meaning_spans

    def quote_of(self, chunk: Chunk, taken: set[tuple[str, int]] | frozenset = frozenset(),
                 said: set[str] | frozenset = frozenset()) -> tuple[int, int]:
        """The span of ``chunk`` to highlight: the best of :func:`meaning_spans` not ``taken``
        ((article id, body offset) of quotes already shown) and whose words were not ``said``
        (:func:`same_words` of quotes already shown) when the searches were re-ranked by
        sentences, else by shared words (:func:`quote_span`)."""
        if self.quotes is None:
            return quote_span(chunk, self.clause)
        ranked = self.quotes(chunk)
        return next((sp for sp in ranked if (chunk.article_id, chunk.start + sp[0]) not in taken
                     and same_words(chunk.text[sp[0]:sp[1]]) not in said), ranked[0])


def outlet_searches(archive: "Archive", query: str, outlets: Sequence[str], since=None, until=None,
                    k: int = PASSAGES_PER_OUTLET, sel: Selection = Selection()) -> list[OutletSearches]:
    """The searches :func:`choose` picks each outlet's passages from (only those ``sel`` uses),
    and the sentence scores of the top ``sel.pool`` filtered hits."""
    sides = _sides(query, outlets, archive.outlets())
    overall = archive.search(query, sel.overall_k, since, until) if len(outlets) > 1 and sel.overall_k > 0 else []
    out = []
    for o in outlets:
        # the whole query, filtered to the outlet, ranks its gold facts higher than the clause
        # about it alone (dev: 0.71 vs 0.58 of questions at 3 passages); the clause picks the quote
        whole = archive.search(query, max(k + SPARE_HITS, sel.pool), since, until, [o])
        side = archive.search(sides[o], k + SPARE_HITS, since, until, [o]) if sel.side_slots > 0 and sides[o] != query else []
        scored, quote = {}, None
        if sel.pool > 0 and sel.sentences > 0:
            claim = claim_text(sides[o])
            target = np.asarray(archive.embedder.embed_query(claim), dtype=np.float32)  # once: re-rank and quotes
            scored = sentence_scores(archive.embedder, [h.chunk for h in whole[: sel.pool]], claim, sel.sentences,
                                     target=target)
            quote = partial(meaning_spans, target=target, embedder=archive.embedder, need=needs(sides[o]))
        out.append(OutletSearches(o, sides[o], tuple(h for h in overall if h.chunk.outlet == o), tuple(whole), tuple(side),
                                  scored, quote))
    return out


def choose(s: OutletSearches, k: int = PASSAGES_PER_OUTLET, sel: Selection = Selection()) -> list[tuple[Hit, tuple[int, int]]]:
    """Up to ``k`` (hit, quote span) for one outlet: ``sel.side_slots`` from its clause search,
    then the filtered search's top ``sel.pool`` by search score + ``sel.sentence_weight`` x
    sentence cosine (none when ``sel.pool`` is 0), then the unfiltered then the filtered search
    in search order; a passage whose best quote by shared words was already chosen (overlapping
    chunks of one article) or reads the same as one chosen (a line an article repeats, a copy's)
    is skipped, at most ``sel.article_cap`` passages per article. Each passage then quotes by
    meaning when the selection re-ranks by sentences, a span neither quoted nor read already
    (:meth:`OutletSearches.quote_of`), by shared words in search order. On dev the same lines
    had been quoted twice or more in 4 of 250 outlet views, Polygon's deals roundup five times;
    the passages holding gold facts did not change (0.856)."""
    ranked = [h for h in s.overall if h.rank <= sel.overall_k] + list(s.whole[: k + SPARE_HITS])
    if sel.pool > 0 and sel.sentences > 0 and s.sentences:
        def fused(h: Hit) -> float:
            scores = s.sentences.get(h.chunk.id, ())
            return h.score + sel.sentence_weight * (scores[min(sel.sentences, len(scores)) - 1] if scores else 0.0)

        ranked = sorted(s.whole[: sel.pool], key=lambda h: -fused(h)) + ranked
    order = list(s.side[: sel.side_slots]) + ranked if s.side else ranked
    out: list[tuple[Hit, tuple[int, int]]] = []
    seen_chunks: set[str] = set()
    seen_quotes: set[tuple[str, int]] = set()
    seen_words: set[str] = set()
    per_article: dict[str, int] = {}
    for h in order:
        c = h.chunk
        if len(out) >= k:
            break
        if c.id in seen_chunks or (sel.article_cap and per_article.get(c.article_id, 0) >= sel.article_cap):
            continue
        seen_chunks.add(c.id)
        span = quote_span(c, s.clause)
        words = same_words(c.text[span[0]:span[1]])
        if (c.article_id, c.start + span[0]) in seen_quotes or words in seen_words:
            continue  # overlapping chunks of one article, or a line it (or a copy) repeats: once
        seen_quotes.add((c.article_id, c.start + span[0]))
        seen_words.add(words)
        per_article[c.article_id] = per_article.get(c.article_id, 0) + 1
        out.append((h, span))
    if not (sel.pool > 0 and sel.sentences > 0 and s.quotes is not None):
        return out
    shown: set[tuple[str, int]] = set()  # by meaning, two overlapping chunks could quote one sentence
    said: set[str] = set()  # ... and two passages the same line (one an article repeats, or a copy's)
    for i, (h, _) in enumerate(out):
        span = s.quote_of(h.chunk, shown, said)
        shown.add((h.chunk.article_id, h.chunk.start + span[0]))
        said.add(same_words(h.chunk.text[span[0]:span[1]]))
        out[i] = (h, span)
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
