"""The rerank's signals, declared once: :data:`FEATURE_TABLE` maps each feature name to the
function that computes its column from one question's :class:`Signals`. The feature matrix is
filled from the table by name (:func:`feature_matrix`); the model file records the names it
was fitted on, and :func:`rag.retrieve.rerank.load_model` refuses a model fitted on others.

Signals per candidate chunk, all normalized within one question so that the model carries
over to other archives:

* the question: BM25 score / best BM25 score, MiniLM cosine (the stored chunk vector: no
  extra embedding), 1 / (1 + rank) in the first-stage fusion;
* sentences: the best and second-best IDF-weighted share of the question's terms found in one
  sentence of the chunk (a fact is usually one sentence), and the same against sub-queries;
* the headline: share of the headline's terms found in the question;
* metadata: the chunk's outlet is named in the question; its date matches a date of the
  question; its recency when the question asks for the latest news;
* sub-queries (:mod:`rag.retrieve.query`): BM25 share, rank and sentence coverage under the
  best "side" (outlet/date-anchored part) and the best "clause" sub-query whose filters the
  chunk passes, and whether any admits it;
* the article: the best BM25 share of its candidate chunks; the chunk's gap to the article's
  best on sentence coverage (question, side, clause) and cosine; 1 / (1 + rank of its best
  sentence among the article's candidates); 1 / (1 + position in the article);
* the question's shape: its number of sub-queries, and how many of them admit the chunk;
* parts of a multi-part question (``Settings.part_features``, :data:`PART_FEATURES`): the
  IDF-weighted share of the question's adjacent content-word pairs kept in one sentence, the
  chunk's rank and gap on that within its article, its best rank over the sub-queries that
  admit it on their sentence coverage, and its rank within its article on cosine. Articles
  are long (14 chunks on average in MultiHop-RAG); these tell the chunks of one article apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Callable, Sequence

import numpy as np

from rag.retrieve.dates import DATE_SLACK
from rag.retrieve.terms import SentenceTable, TermWeights, group_best, group_rank, masked_rank
from rag.types import Chunk


@dataclass(frozen=True)
class SubHits:
    """One sub-query's BM25 results (id -> score share, id -> 0-based rank, ids best first)
    and the filters a chunk must pass to count as its candidate."""

    kind: str
    text: str
    share: dict[str, float]
    rank: dict[str, int]
    order: list[str]
    outlets: tuple[str, ...]
    since: datetime | None
    until: datetime | None

    def admits(self, ch: Chunk) -> bool:
        """Does ``ch`` pass this sub-query's outlet and date filters?"""
        if self.outlets and ch.outlet not in self.outlets:
            return False
        if self.since is not None or self.until is not None:
            if ch.published_at is None:
                return False
            if self.since is not None and ch.published_at < self.since:
                return False
            if self.until is not None and ch.published_at > self.until:
                return False
        return True


@dataclass(frozen=True)
class Signals:
    """What one question's feature columns are computed from; shared intermediate results
    (sentence tables, per-sub-query arrays) are computed once, on first use."""

    query: str
    plan: object  # rag.retrieve.query.QueryPlan
    ids: list[str]
    chunks: dict[str, Chunk]
    terms: TermWeights
    bm25: dict[str, float]  # first-stage BM25 score of every id looked up
    bm25_top: float  # the best of them (1.0 when BM25 found nothing)
    cos: dict[str, float]  # cosine to the question of every candidate
    first_rank: dict[str, int]  # 0-based rank in the first-stage fusion
    span: tuple[datetime | None, datetime | None]  # the archive's first and last publication
    subs: Sequence[SubHits] = ()
    part_features: bool = True

    @cached_property
    def _columns(self) -> dict[str, np.ndarray]:
        return {}

    def column(self, name: str) -> np.ndarray:
        """Feature ``name`` of every candidate, computed by its function in :data:`FEATURE_TABLE`."""
        got = self._columns.get(name)
        if got is None:
            got = self._columns[name] = FEATURE_TABLE[name](self)
        return got

    def each(self, fn: Callable[[str, Chunk], float]) -> np.ndarray:
        """``fn(id, chunk)`` for every candidate, as an array."""
        return np.array([fn(c, self.chunks[c]) for c in self.ids], dtype=np.float64)

    @cached_property
    def articles(self) -> list[str]:
        return [self.chunks[c].article_id for c in self.ids]

    @cached_property
    def table(self) -> SentenceTable:
        return self.terms.sentence_table(self.ids, [self.chunks[c].text for c in self.ids])

    @cached_property
    def question_vector(self) -> tuple[np.ndarray, float]:
        return self.terms.vector(self.terms.ids(self.query))

    @cached_property
    def question_sentences(self) -> tuple[np.ndarray, np.ndarray]:
        """(best, second-best) sentence coverage of the question per candidate."""
        return self.table.best(*self.question_vector)

    @cached_property
    def per_sub(self) -> list[dict]:
        """Per sub-query admitting some candidate: kind, text, and the ``elig`` mask and
        ``bm25``, ``rank``, ``sent`` arrays (0 where not admitted)."""
        out = []
        for sub in self.subs:
            elig = np.array([sub.admits(self.chunks[c]) for c in self.ids], dtype=bool)
            if not elig.any():
                continue
            sent, _ = self.table.best(*self.terms.vector(self.terms.ids(sub.text)))
            share = np.array([sub.share.get(c, 0.0) for c in self.ids])
            rank = np.array([1.0 / (1 + sub.rank[c]) if c in sub.rank else 0.0 for c in self.ids])
            out.append({"kind": sub.kind, "text": sub.text, "elig": elig, "bm25": np.where(elig, share, 0.0),
                        "rank": np.where(elig, rank, 0.0), "sent": np.where(elig, sent, 0.0)})
        return out

    def best_over_subs(self, kind: str, key: str) -> np.ndarray:
        """The largest ``key`` value over the ``kind`` sub-queries (0 when none admits)."""
        out = np.zeros(len(self.ids))
        for ps in self.per_sub:
            if ps["kind"] == kind:
                out = np.maximum(out, ps[key])
        return out

    @cached_property
    def pair_share(self) -> np.ndarray:
        """Share of the question's adjacent word pairs kept in one sentence of each candidate."""
        t = self.terms
        query_pairs = t.pairs(self.query)
        return t.pair_coverage(query_pairs, t.pair_sets(self.ids, [self.chunks[c].text for c in self.ids], query_pairs))

    def in_article(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(rank, gap to the best) of feature ``name`` within each candidate's article."""
        return group_rank(self.column(name), self.articles)


def _q_bm25(s: Signals) -> np.ndarray:
    top = s.bm25_top
    return s.each(lambda c, ch: s.bm25.get(c, 0.0) / top if top > 0 else 0.0)


def _named(s: Signals) -> np.ndarray:
    named = set(s.plan.outlet_names)
    return s.each(lambda c, ch: float(ch.outlet in named))


def _title(s: Signals) -> np.ndarray:
    qv, _ = s.question_vector
    idf = s.terms.idf

    def share(ch: Chunk) -> float:
        if not ch.title:
            return 0.0
        title = s.terms.ids(ch.title)
        tw = float(idf[title].sum()) if len(title) else 0.0
        return float(qv[title].sum()) / tw if tw > 0 else 0.0

    return s.each(lambda c, ch: share(ch))


def _date(s: Signals) -> np.ndarray:
    days = [(d.since - DATE_SLACK, d.until + DATE_SLACK) for d in s.plan.day_dates]
    return s.each(lambda c, ch: float(ch.published_at is not None and any(a <= ch.published_at <= b for a, b in days)))


def _recent(s: Signals) -> np.ndarray:
    first, last = s.span
    span_s = (last - first).total_seconds() if first and last and last > first else 0.0
    if not s.plan.recency or span_s <= 0:
        return np.zeros(len(s.ids))
    return s.each(lambda c, ch: 0.0 if ch.published_at is None
                  else s.plan.recency * (ch.published_at - first).total_seconds() / span_s)


def _sub_sent_rank(s: Signals) -> np.ndarray:
    out = np.zeros(len(s.ids))
    if s.part_features:
        for ps in s.per_sub:
            out = np.maximum(out, masked_rank(ps["sent"], ps["elig"]))
    return out


def _n_admit(s: Signals) -> np.ndarray:
    out = np.zeros(len(s.ids))
    for ps in s.per_sub:
        out += ps["elig"]
    return out


def _part(fn: Callable[[Signals], np.ndarray]) -> Callable[[Signals], np.ndarray]:
    """A part feature: 0 for every candidate when ``part_features`` is off."""
    return lambda s: fn(s) if s.part_features else np.zeros(len(s.ids))


def _sub(kind: str, key: str) -> Callable[[Signals], np.ndarray]:
    return lambda s: s.best_over_subs(kind, key)


def _gap(name: str) -> Callable[[Signals], np.ndarray]:
    return lambda s: s.in_article(name)[1]


# name -> its column; the order is the model's column order.
FEATURE_TABLE: dict[str, Callable[[Signals], np.ndarray]] = {
    "q_bm25": _q_bm25,
    "q_cos": lambda s: s.each(lambda c, ch: s.cos.get(c, 0.0)),
    "q_rank": lambda s: s.each(lambda c, ch: 1.0 / (1 + s.first_rank[c]) if c in s.first_rank else 0.0),
    "q_sent": lambda s: s.question_sentences[0],
    "q_sent2": lambda s: s.question_sentences[1],
    "title": _title,
    "named": _named,
    "date": _date,
    "recent": _recent,
    "side_bm25": _sub("side", "bm25"),
    "side_rank": _sub("side", "rank"),
    "side_sent": _sub("side", "sent"),
    "side_elig": _sub("side", "elig"),
    "clause_bm25": _sub("clause", "bm25"),
    "clause_rank": _sub("clause", "rank"),
    "clause_sent": _sub("clause", "sent"),
    "clause_elig": _sub("clause", "elig"),
    "art_bm25": lambda s: group_best(s.column("q_bm25"), s.articles),
    "sent_gap": _gap("q_sent"),
    "position": lambda s: s.each(lambda c, ch: 1.0 / (1 + ch.index)),
    "side_gap": _gap("side_sent"),
    "clause_gap": _gap("clause_sent"),
    "cos_gap": _gap("q_cos"),
    "n_subs": lambda s: np.full(len(s.ids), float(len(s.per_sub))),
    "art_sent_rank": lambda s: s.in_article("q_sent")[0],
    "n_admit": _n_admit,
    "pair": _part(lambda s: s.pair_share),
    "pair_art_rank": _part(lambda s: group_rank(s.pair_share, s.articles)[0]),
    "pair_gap": _part(lambda s: group_rank(s.pair_share, s.articles)[1]),
    "sub_sent_rank": _sub_sent_rank,
    "qcos_art_rank": _part(lambda s: s.in_article("q_cos")[0]),
}
FEATURES: tuple[str, ...] = tuple(FEATURE_TABLE)
# The signals ``Settings.part_features = False`` switches off (0 for every candidate).
PART_FEATURES = ("pair", "pair_art_rank", "pair_gap", "sub_sent_rank", "qcos_art_rank")


def feature_matrix(signals: Signals, names: Sequence[str] = FEATURES) -> np.ndarray:
    """Rows = candidates, one column per name, each filled by its function in the table."""
    if not signals.ids:
        return np.zeros((0, len(names)))
    return np.column_stack([signals.column(name) for name in names])
