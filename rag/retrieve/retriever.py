"""News-grade hybrid retrieval: BM25 and dense candidates, question understanding,
sub-queries, a learned rerank, optional diversification and syndication collapse.

Stages of :meth:`Retriever.search` (each can be switched off in :class:`~rag.settings.Settings`;
with all of them off it is the plain hybrid search below):

1. **Plan** (:mod:`rag.retrieve.query`): outlets the question names (matched against the archive's own
   outlet list), date phrases resolved against the archive's own date span, recency words,
   and sub-queries for questions that name several outlets, dates or events
   (``query_outlets``, ``query_dates``, ``subqueries``).
2. **First stage**: BM25 and dense candidates fused by score,
   ``bm25 / max(bm25) + dense_weight * cosine`` (``fusion = "rrf"`` keeps the rank-based fusion
   for comparison). BM25 is the stronger signal on news (names, numbers, outlets); on the
   MultiHop-RAG dev split every reciprocal rank fusion with MiniLM scored below BM25 alone.
3. **Sub-queries**: each is a BM25 search of its own words within its outlet and date
   filters (no extra embedding: the question's vector scores every candidate), so that each
   named side of a comparison gets candidates of its own.
4. **Rerank** (:mod:`rag.retrieve.rerank`, ``rerank``): a learned model over question, sentence, headline,
   metadata, sub-query and article signals (:mod:`rag.retrieve.features`) orders the union of all candidates. Without it,
   the first-stage list is interleaved with the sub-query lists. Among its signals
   (``part_features``), some tell apart the chunks of one long article and find the best
   evidence for each part of a multi-part question: question word pairs kept in one sentence,
   per-sub-query sentence ranks, ranks within the article.
5. **Diversify** (:mod:`rag.retrieve.diversify`, ``diversify_cap`` / ``diversify_penalty``, off by
   default) and **syndication** (:mod:`rag.retrieve.syndication`, ``syndication``): one member per
   story cluster, the others listed in ``Hit.also_ran_in``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Sequence

import numpy as np

from rag.index.embedding import Embedder
from rag.index.store import IndexStore
from rag.retrieve.dates import DATE_SLACK
from rag.retrieve.features import FEATURES, Signals, SubHits, feature_matrix
from rag.settings import Settings
from rag.types import Chunk, Hit

# BM25 scores are looked up this deep for the features (a candidate below it gets 0): sub-query
# pools and the dense list bring in chunks far below the question's own top 60.
FEATURE_DEPTH = 300
# The plain search resolves k times this many fused ids: collapsing syndicated copies and
# dropping vectors without a committed record (an interrupted ingest) may remove some.
PLAIN_MARGIN = 3
# A "clause" sub-query adds this share of a "side" sub-query's candidates to the pool: a
# question has more clauses than sides, and a clause is not narrowed by an outlet or date.
CLAUSE_POOL_SHARE = Fraction(2, 3)
# Without the rerank, a chunk of an outlet or on a date the question names moves up by this
# much of the fused score (bm25/max + 0.3 cos, 0 to 1.3): a tie-breaker, not an override.
MERGE_BOOST = 0.1

Row = tuple[Chunk, float, "int | None", "int | None"]  # chunk, score, lexical rank, dense rank


def rrf(
    rankings: Sequence[tuple[Sequence[str], float]], k: int = 60
) -> list[tuple[str, float, list[int | None]]]:
    """Weighted reciprocal rank fusion of ranked id lists.

    ``rankings`` holds (ids best first, weight) pairs. Returns (id, fused score, 1-based rank
    in each input or None), best first; ties keep first-seen order.
    """
    scores: dict[str, float] = {}
    ranks: dict[str, list[int | None]] = {}
    for r, (ids, weight) in enumerate(rankings):
        for pos, cid in enumerate(ids, start=1):
            scores[cid] = scores.get(cid, 0.0) + weight / (k + pos)
            ranks.setdefault(cid, [None] * len(rankings))[r] = pos
    order = sorted(scores, key=lambda c: -scores[c])
    return [(c, scores[c], ranks[c]) for c in order]


@dataclass(frozen=True)
class Filters:
    """The caller's filters: publication dates (inclusive), outlets (None: any) and the date
    whose revisions to search (None: the current ones)."""

    since: datetime | None = None
    until: datetime | None = None
    outlets: Sequence[str] | None = None
    as_of: datetime | None = None


NO_FILTERS = Filters()


@dataclass(frozen=True)
class FirstStage:
    """BM25 (``lex_all``, looked up deeper than the ``lex`` list that is fused), the question's
    vector, the dense list, and their fusion: (id, score, [lexical rank, dense rank]) best first."""

    lex_all: list[tuple[str, float]]
    lex: list[tuple[str, float]]
    vec: np.ndarray | None
    dense: list[tuple[str, float]]
    fused: list[tuple[str, float, list[int | None]]]


@dataclass(frozen=True)
class Candidates:
    """Everything the second stage knows about one question's candidates (also what
    ``evals/train_rerank.py`` fits the model on)."""

    plan: object
    ids: list[str]
    chunks: dict[str, Chunk]
    features: np.ndarray  # rows = ids, columns = rag.retrieve.features.FEATURES
    first: list[str]  # first-stage order
    first_score: dict[str, float]
    lex_rank: dict[str, int]
    dense_rank: dict[str, int]
    subs: list[SubHits] = field(default_factory=list)
    signals: Signals | None = None  # what the features were computed from

    @property
    def per_sub(self) -> list[dict]:
        """Per sub-query admitting some candidate: kind, text, elig, bm25, rank, sent arrays."""
        return self.signals.per_sub if self.signals is not None else []

    def column(self, name: str) -> np.ndarray:
        """Feature ``name`` of every candidate."""
        return self.features[:, FEATURES.index(name)]


class Retriever:
    """Hybrid search over one index."""

    def __init__(self, store: IndexStore, embedder: Embedder, settings: Settings):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._lock = threading.Lock()
        self._ctx: tuple | None = None

    def clear_caches(self) -> None:
        """Forget what earlier questions left behind: remembered question vectors and the
        per-passage term tables (benchmarks time a new question against a cold cache with
        this; a long-running service keeps them warm)."""
        clear = getattr(self.embedder, "clear_query_cache", None)
        if clear is not None:
            clear()
        with self._lock:
            if self._ctx is not None:
                self._ctx[1]["terms"].clear()

    # ---- archive context (outlets, dates, term weights, clusters), cached per generation --
    def _context(self) -> dict:
        records = self.store.records
        lexical = self.store.lexical
        key = (records.generation(), records.clusters_version(), id(lexical))
        with self._lock:
            if self._ctx is None or self._ctx[0] != key:
                from rag.retrieve.terms import TermWeights
                from rag.retrieve.syndication import ClusterMap

                first, last = records.date_span()
                self._ctx = (key, {
                    "outlets": [o for o, _ in records.outlets()],
                    "span": (first, last),
                    "terms": TermWeights.from_lexical(lexical),
                    "clusters": ClusterMap.load(records),
                })
            return self._ctx[1]

    def plan(self, query: str):
        """What the question names: outlets, dates, recency, sub-queries (:mod:`rag.retrieve.query`)."""
        from rag.retrieve.query import plan_query

        s = self.settings
        ctx = self._context()
        return plan_query(
            query, ctx["outlets"] if s.query_outlets else (), span=ctx["span"],
            dates=s.query_dates, subqueries=s.subqueries,
        )

    # ---- search --------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        outlets: Sequence[str] | None = None,
        as_of: datetime | None = None,
    ) -> list[Hit]:
        """The top ``k`` chunks for ``query`` within the filters, best first (from the
        revisions current on ``as_of`` when given)."""
        s = self.settings
        k = k or s.top_k
        filters = Filters(since, until, outlets, as_of)
        if not (s.query_outlets or s.query_dates or s.subqueries or s.rerank):
            return self._finish(self._plain(query, k, filters), k)
        cand = self.candidates(query, k, filters)
        if not cand.ids:
            return []
        ids, score_of = self._rerank(cand) if s.rerank else self._merge(cand)
        if s.diversify_cap > 0 or s.diversify_penalty > 0:
            from rag.retrieve.diversify import diversify

            order = diversify([score_of[c] for c in ids], [cand.chunks[c].article_id for c in ids], k,
                              s.diversify_cap, s.diversify_penalty)
            ids = [ids[i] for i in order]
        rows = [(cand.chunks[c], score_of[c], cand.lex_rank.get(c), cand.dense_rank.get(c)) for c in ids]
        return self._finish(rows, k)

    def _finish(self, rows: list[Row], k: int) -> list[Hit]:
        """Collapse syndicated copies (one member per story) and number the top ``k``."""
        clusters = self._context()["clusters"] if self.settings.syndication else None
        if clusters is not None and clusters.members:
            from rag.retrieve.syndication import collapse

            rows = [rows[i] for i in collapse([r[0].article_id for r in rows], clusters)]
        rows = rows[:k]
        extra = self.store.records.also_in([r[0].article_id for r in rows]) if rows else {}
        hits = []
        for ch, score, lex_rank, dense_rank in rows:
            also = tuple(extra.get(ch.article_id, ()))
            if clusters is not None:
                also += tuple(x for x in clusters.also_ran_in(ch.article_id) if x not in also)
            hits.append(Hit(chunk=ch, score=float(score), rank=len(hits) + 1, dense_rank=dense_rank,
                            lexical_rank=lex_rank, also_ran_in=also))
        return hits

    # ---- the first stage: BM25 and dense, fused ----------------------------------------
    def _first_stage(self, query: str, n: int, depth: int, f: Filters) -> FirstStage:
        """The top ``n`` of BM25 (looked up ``depth`` deep) and of the dense scan, fused."""
        s = self.settings
        lex_all = self.store.lexical.search(query, depth, f.since, f.until, f.outlets, f.as_of) if s.lexical_weight > 0 else []
        lex = lex_all[:n]
        vec = self.embedder.embed_query(query) if s.dense_weight > 0 else None
        dense = self.store.dense.query(vec, n, f.since, f.until, f.outlets, f.as_of) if vec is not None else []
        if s.fusion == "rrf":
            fused = rrf([([c for c, _ in lex], s.lexical_weight), ([c for c, _ in dense], s.dense_weight)], k=s.rrf_k)
        else:
            fused = self._score_fusion(lex, dense, vec)
        return FirstStage(lex_all, lex, vec, dense, fused)

    def _plain(self, query: str, k: int, filters: Filters) -> list[Row]:
        """The plain hybrid search (every technique off): the fused list, resolved."""
        n = max(self.settings.candidates, k)
        fused = self._first_stage(query, n, n, filters).fused[: k * PLAIN_MARGIN]
        chunks = self.store.records.get_chunks([cid for cid, _, _ in fused])
        return [(chunks[c], score, lr, dr) for c, score, (lr, dr) in fused if c in chunks]

    def _score_fusion(self, lex, dense, vec) -> list[tuple[str, float, list[int | None]]]:
        """(id, score, [lexical rank, dense rank]) by ``bm25/max + w * cosine``, best first."""
        s = self.settings
        lex_rank = {c: i for i, (c, _) in enumerate(lex, start=1)}
        dense_rank = {c: i for i, (c, _) in enumerate(dense, start=1)}
        top = lex[0][1] if lex else 1.0
        cos = self._cosines([c for c, _ in lex], dense, vec)
        bm25 = dict(lex)
        ids = list(dict.fromkeys([c for c, _ in lex] + [c for c, _ in dense]))
        scored = [
            (c, s.lexical_weight * bm25.get(c, 0.0) / top + s.dense_weight * cos.get(c, 0.0), [lex_rank.get(c), dense_rank.get(c)])
            for c in ids
        ]
        scored.sort(key=lambda x: -x[1])
        return scored

    def _cosines(self, ids: Sequence[str], dense: list[tuple[str, float]], vec) -> dict[str, float]:
        """Cosine to the question of the dense list's ids and of ``ids`` (stored vectors)."""
        cos = dict(dense)
        if vec is not None:
            for c, v in self.store.dense.get_vectors([c for c in ids if c not in cos]).items():
                cos[c] = float(v @ vec)
        return cos

    # ---- candidates and their features -----------------------------------------------
    def candidates(self, query: str, k: int | None = None, filters: Filters = NO_FILTERS) -> Candidates:
        """First-stage and sub-query candidates of ``query`` within ``filters``, with their
        rerank features."""
        s = self.settings
        n = max(s.candidates, k or s.top_k)
        ctx = self._context()
        plan = self.plan(query)
        stage = self._first_stage(query, n, max(n, FEATURE_DEPTH), filters)
        first = [c for c, _, _ in stage.fused]
        subs = self._sub_searches(plan, filters)
        pool = self._pool(first[:n], subs)
        chunks = self.store.records.get_chunks(pool)
        ids = [c for c in pool if c in chunks]
        signals = Signals(
            query=query, plan=plan, ids=ids, chunks=chunks, terms=ctx["terms"], bm25=dict(stage.lex_all),
            bm25_top=stage.lex_all[0][1] if stage.lex_all else 1.0, cos=self._cosines(ids, stage.dense, stage.vec),
            first_rank={c: i for i, c in enumerate(first)}, span=ctx["span"], subs=subs,
            part_features=s.part_features,
        )
        return Candidates(
            plan, ids, chunks, feature_matrix(signals), [c for c in first if c in chunks],
            {c: sc for c, sc, _ in stage.fused}, {c: i for i, (c, _) in enumerate(stage.lex, start=1)},
            {c: i for i, (c, _) in enumerate(stage.dense, start=1)}, subs, signals,
        )

    def _pool(self, first: list[str], subs: Sequence[SubHits]) -> list[str]:
        """The candidate ids: the first stage's, then each sub-query's top (sides get
        ``sub_candidates``, clauses :data:`CLAUSE_POOL_SHARE` of it), each id once."""
        side_n = self.settings.sub_candidates
        clause_n = max(1, int(CLAUSE_POOL_SHARE * side_n))
        pool = list(first)
        for sub in subs:
            pool += sub.order[: side_n if sub.kind == "side" else clause_n]
        return list(dict.fromkeys(pool))

    def _sub_searches(self, plan, filters: Filters) -> list[SubHits]:
        """BM25 results of every sub-query of the plan that the caller's filters leave open."""
        found = (self._sub_search(sq, filters) for sq in plan.subqueries)
        return [sub for sub in found if sub is not None]

    def _sub_search(self, sq, filters: Filters) -> SubHits | None:
        """BM25 of one sub-query within its filters intersected with the caller's."""
        lexical = self.store.lexical
        since, until, outlets = filters.since, filters.until, filters.outlets
        sub_outlets = tuple(sq.outlets)
        if outlets and sub_outlets:
            sub_outlets = tuple(o for o in sub_outlets if o in set(outlets))
            if not sub_outlets:
                return None  # the caller's filter excludes this side
        f_outlets = list(sub_outlets) or (list(outlets) if outlets else None)
        s_since = sq.since - DATE_SLACK if sq.since is not None and self.settings.query_dates else None
        s_until = sq.until + DATE_SLACK if sq.until is not None and self.settings.query_dates else None
        a = max([d for d in (since, s_since) if d is not None], default=None)
        b = min([d for d in (until, s_until) if d is not None], default=None)
        res = lexical.search(sq.text, FEATURE_DEPTH, a, b, f_outlets, filters.as_of)
        if not res and (s_since is not None or s_until is not None):
            s_since = s_until = None  # no article of that outlet on that date: drop the date
            res = lexical.search(sq.text, FEATURE_DEPTH, since, until, f_outlets, filters.as_of)
        if not res:
            return None
        top = res[0][1] or 1.0
        return SubHits(
            kind=sq.kind, text=sq.text, share={c: v / top for c, v in res}, rank={c: i for i, (c, _) in enumerate(res)},
            order=[c for c, _ in res], outlets=sub_outlets, since=s_since, until=s_until,
        )

    # ---- ordering ------------------------------------------------------------------------
    @staticmethod
    def _rerank(cand: Candidates) -> tuple[list[str], dict[str, float]]:
        """The candidates by the learned model's score, best first."""
        from rag.retrieve.rerank import default_model

        scores = default_model().score(cand.features)
        score_of = dict(zip(cand.ids, scores.tolist()))
        return sorted(cand.ids, key=lambda c: -score_of[c]), score_of

    @staticmethod
    def _merge(cand: Candidates) -> tuple[list[str], dict[str, float]]:
        """Without the rerank: the first-stage list (named outlets and dates boosted by
        :data:`MERGE_BOOST`) interleaved with the side sub-query lists (round robin, first
        stage first), so every named side gets evidence."""
        row = {c: j for j, c in enumerate(cand.ids)}
        named, dated = cand.column("named"), cand.column("date")
        boost = {c: MERGE_BOOST * named[row[c]] + MERGE_BOOST * dated[row[c]] for c in cand.ids}
        first = sorted(cand.first, key=lambda c: -(cand.first_score.get(c, 0.0) + boost[c]))
        lists = [first] + [[c for c in sub.order if c in row] for sub in cand.subs if sub.kind == "side"]
        out = _round_robin(lists)
        seen = set(out)
        out += [c for c in cand.ids if c not in seen]
        n = len(out)
        return out, {c: float(n - i) for i, c in enumerate(out)}


def _round_robin(lists: Sequence[Sequence[str]]) -> list[str]:
    """One new id from each list in turn until all are used up (each id once)."""
    out: list[str] = []
    seen: set[str] = set()
    pos = [0] * len(lists)
    while any(pos[i] < len(lst) for i, lst in enumerate(lists)):
        for i, lst in enumerate(lists):
            while pos[i] < len(lst):
                c = lst[pos[i]]
                pos[i] += 1
                if c not in seen:
                    seen.add(c)
                    out.append(c)
                    break
    return out
