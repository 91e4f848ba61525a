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
   metadata, sub-query and article signals orders the union of all candidates. Without it,
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
from datetime import datetime, timedelta
from typing import Sequence

import numpy as np

from rag.index.embedding import Embedder
from rag.settings import Settings
from rag.index.store import IndexStore
from rag.types import Chunk, Hit

# Publication times are stored with their offsets; a date named in a question is a local
# calendar day somewhere between UTC-12 and UTC+14.
DATE_SLACK = timedelta(hours=14)
_FEATURE_DEPTH = 300  # BM25 scores looked up this deep for features (0 below)


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


@dataclass
class _Sub:
    """One sub-query's results: BM25 (id -> score share, id -> 0-based rank), its terms, and
    the filters a chunk must pass to count as its candidate."""

    kind: str
    text: str
    share: dict[str, float]
    rank: dict[str, int]
    order: list[str]
    outlets: tuple[str, ...]
    since: datetime | None
    until: datetime | None

    def admits(self, ch: Chunk) -> bool:
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


@dataclass
class Candidates:
    """Everything the second stage knows about one question's candidates (also what
    ``evals/train_rerank.py`` fits the model on)."""

    plan: object
    ids: list[str]
    chunks: dict[str, Chunk]
    features: np.ndarray  # rows = ids, columns = rag.retrieve.rerank.FEATURES
    first: list[str]  # first-stage order
    first_score: dict[str, float]
    lex_rank: dict[str, int]
    dense_rank: dict[str, int]
    subs: list[_Sub] = field(default_factory=list)
    per_sub: list[dict] = field(default_factory=list)  # per sub-query: kind, text, elig, bm25, rank, sent arrays


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
                from rag.retrieve.rerank import TermWeights
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
    ) -> list[Hit]:
        """The top ``k`` chunks for ``query`` within the filters, best first."""
        s = self.settings
        k = k or s.top_k
        if not (s.query_outlets or s.query_dates or s.subqueries or s.rerank):
            return self._finish(self._plain(query, k, since, until, outlets), k)
        cand = self.candidates(query, k, since, until, outlets)
        if not cand.ids:
            return []
        if s.rerank:
            from rag.retrieve.rerank import default_model

            scores = default_model().score(cand.features)
            score_of = dict(zip(cand.ids, scores.tolist()))
            ids = sorted(cand.ids, key=lambda c: -score_of[c])
        else:
            ids, score_of = self._merge(cand)
        if s.diversify_cap > 0 or s.diversify_penalty > 0:
            from rag.retrieve.diversify import diversify

            order = diversify([score_of[c] for c in ids], [cand.chunks[c].article_id for c in ids], k,
                              s.diversify_cap, s.diversify_penalty)
            ids = [ids[i] for i in order]
        rows = [(cand.chunks[c], score_of[c], cand.lex_rank.get(c), cand.dense_rank.get(c)) for c in ids]
        return self._finish(rows, k)

    def _finish(self, rows: list[tuple[Chunk, float, int | None, int | None]], k: int) -> list[Hit]:
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

    # ---- the plain hybrid search (every technique off) -------------------------------
    def _plain(self, query, k, since, until, outlets) -> list[tuple[Chunk, float, int | None, int | None]]:
        s = self.settings
        n = max(s.candidates, k)
        lex = self.store.lexical.search(query, n, since, until, outlets) if s.lexical_weight > 0 else []
        dense: list[tuple[str, float]] = []
        vec = None
        if s.dense_weight > 0:
            vec = self.embedder.embed_query(query)
            dense = self.store.dense.query(vec, n, since, until, outlets)
        if s.fusion == "rrf":
            fused = rrf([([c for c, _ in lex], s.lexical_weight), ([c for c, _ in dense], s.dense_weight)], k=s.rrf_k)
        else:
            fused = self._score_fusion(lex, dense, vec)
        # Resolve against the records: vectors without a committed record (an interrupted
        # ingest) are never returned. Syndicated copies may be dropped: keep a margin.
        chunks = self.store.records.get_chunks([cid for cid, _, _ in fused[: k * 3]])
        return [(chunks[c], score, lr, dr) for c, score, (lr, dr) in fused[: k * 3] if c in chunks]

    def _score_fusion(self, lex, dense, vec) -> list[tuple[str, float, list[int | None]]]:
        """(id, score, [lexical rank, dense rank]) by ``bm25/max + w * cosine``, best first."""
        s = self.settings
        lex_rank = {c: i for i, (c, _) in enumerate(lex, start=1)}
        dense_rank = {c: i for i, (c, _) in enumerate(dense, start=1)}
        top = lex[0][1] if lex else 1.0
        cos = dict(dense)
        if vec is not None:
            missing = [c for c, _ in lex if c not in cos]
            for c, v in self.store.dense.get_vectors(missing).items():
                cos[c] = float(v @ vec)
        bm25 = dict(lex)
        ids = list(dict.fromkeys([c for c, _ in lex] + [c for c, _ in dense]))
        scored = [
            (c, s.lexical_weight * bm25.get(c, 0.0) / top + s.dense_weight * cos.get(c, 0.0), [lex_rank.get(c), dense_rank.get(c)])
            for c in ids
        ]
        scored.sort(key=lambda x: -x[1])
        return scored

    # ---- candidates and their features -----------------------------------------------
    def candidates(
        self,
        query: str,
        k: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        outlets: Sequence[str] | None = None,
    ) -> Candidates:
        """First-stage and sub-query candidates of ``query`` with their rerank features."""
        from rag.retrieve.rerank import FEATURES, SentenceTable, group_rank, masked_rank

        s = self.settings
        k = k or s.top_k
        n = max(s.candidates, k)
        ctx = self._context()
        terms = ctx["terms"]
        plan = self.plan(query)
        lexical, dense = self.store.lexical, self.store.dense

        lex_all = lexical.search(query, max(n, _FEATURE_DEPTH), since, until, outlets) if s.lexical_weight > 0 else []
        lex = lex_all[:n]
        vec = self.embedder.embed_query(query) if s.dense_weight > 0 else None
        dn = dense.query(vec, n, since, until, outlets) if vec is not None else []
        if s.fusion == "rrf":
            fused = rrf([([c for c, _ in lex], s.lexical_weight), ([c for c, _ in dn], s.dense_weight)], k=s.rrf_k)
        else:
            fused = self._score_fusion(lex, dn, vec)
        first = [c for c, _, _ in fused]
        first_score = {c: sc for c, sc, _ in fused}

        subs: list[_Sub] = []
        for sq in plan.subqueries:
            sub = self._sub_search(sq, since, until, outlets, lexical)
            if sub is not None:
                subs.append(sub)

        side_n, clause_n = s.sub_candidates, max(1, (2 * s.sub_candidates) // 3)
        pool = list(first[:n])
        for sub in subs:
            pool += sub.order[: side_n if sub.kind == "side" else clause_n]
        ids = list(dict.fromkeys(pool))
        chunks = self.store.records.get_chunks(ids)
        ids = [c for c in ids if c in chunks]

        # ---- features
        F = {name: np.zeros(len(ids)) for name in FEATURES}
        bm25 = dict(lex_all)
        top = lex_all[0][1] if lex_all else 1.0
        cos = dict(dn)
        if vec is not None:
            for c, v in dense.get_vectors([c for c in ids if c not in cos]).items():
                cos[c] = float(v @ vec)
        rank1 = {c: i for i, c in enumerate(first)}
        table = SentenceTable([terms.chunk_sentences(c, chunks[c].text) for c in ids])
        q_ids = terms.ids(query)
        qv, q_total = terms.vector(q_ids)
        F["q_sent"], F["q_sent2"] = table.best(qv, q_total)
        named = set(plan.outlet_names)
        days = [(d.since - DATE_SLACK, d.until + DATE_SLACK) for d in plan.day_dates]
        first_day, last_day = ctx["span"]
        span_s = (last_day - first_day).total_seconds() if first_day and last_day and last_day > first_day else 0.0
        for j, c in enumerate(ids):
            ch = chunks[c]
            F["q_bm25"][j] = bm25.get(c, 0.0) / top if top > 0 else 0.0
            F["q_cos"][j] = cos.get(c, 0.0)
            F["q_rank"][j] = 1.0 / (1 + rank1[c]) if c in rank1 else 0.0
            if ch.title:
                title = terms.ids(ch.title)
                tw = float(terms.idf[title].sum()) if len(title) else 0.0
                F["title"][j] = float(qv[title].sum()) / tw if tw > 0 else 0.0
            F["named"][j] = float(ch.outlet in named)
            pub = ch.published_at
            F["date"][j] = float(pub is not None and any(a <= pub <= b for a, b in days))
            if plan.recency and pub is not None and span_s > 0:
                F["recent"][j] = plan.recency * (pub - first_day).total_seconds() / span_s
            F["position"][j] = 1.0 / (1 + ch.index)
        per_sub: list[dict] = []
        for sub in subs:
            p = sub.kind
            elig = np.array([sub.admits(chunks[c]) for c in ids], dtype=bool)
            if not elig.any():
                continue
            sv, s_total = terms.vector(terms.ids(sub.text))
            sent, _ = table.best(sv, s_total)
            share = np.array([sub.share.get(c, 0.0) for c in ids])
            rank = np.array([1.0 / (1 + sub.rank[c]) if c in sub.rank else 0.0 for c in ids])
            per_sub.append({"kind": p, "text": sub.text, "elig": elig, "bm25": np.where(elig, share, 0.0),
                            "rank": np.where(elig, rank, 0.0), "sent": np.where(elig, sent, 0.0)})
            if s.part_features:
                F["sub_sent_rank"] = np.maximum(F["sub_sent_rank"], masked_rank(sent, elig))
            F[p + "_elig"] = np.maximum(F[p + "_elig"], elig)
            F[p + "_bm25"] = np.maximum(F[p + "_bm25"], np.where(elig, share, 0.0))
            F[p + "_rank"] = np.maximum(F[p + "_rank"], np.where(elig, rank, 0.0))
            F[p + "_sent"] = np.maximum(F[p + "_sent"], np.where(elig, sent, 0.0))
        by_art: dict[str, list[int]] = {}
        for j, c in enumerate(ids):
            by_art.setdefault(chunks[c].article_id, []).append(j)
        for js in by_art.values():
            F["art_bm25"][js] = F["q_bm25"][js].max()
            for name, src in (("sent_gap", "q_sent"), ("side_gap", "side_sent"), ("clause_gap", "clause_sent"),
                              ("cos_gap", "q_cos")):
                F[name][js] = F[src][js] - F[src][js].max()
            order = sorted(js, key=lambda j: -F["q_sent"][j])
            for r, j in enumerate(order):
                F["art_sent_rank"][j] = 1.0 / (1 + r)
        F["n_subs"][:] = len(per_sub)
        for ps in per_sub:
            F["n_admit"] += ps["elig"]
        arts = [chunks[c].article_id for c in ids]
        if s.part_features and ids:
            F["pair"] = terms.pair_coverage(terms.pairs(query), [terms.chunk_pairs(c, chunks[c].text) for c in ids])
            F["pair_art_rank"], F["pair_gap"] = group_rank(F["pair"], arts)
            F["qcos_art_rank"], _ = group_rank(F["q_cos"], arts)
        X = np.column_stack([F[name] for name in FEATURES]) if ids else np.zeros((0, len(FEATURES)))
        lex_rank = {c: i for i, (c, _) in enumerate(lex, start=1)}
        dense_rank = {c: i for i, (c, _) in enumerate(dn, start=1)}
        return Candidates(plan, ids, chunks, X, [c for c in first if c in chunks], first_score, lex_rank, dense_rank,
                          subs, per_sub)

    def _sub_search(self, sq, since, until, outlets, lexical) -> _Sub | None:
        """BM25 of one sub-query within its filters intersected with the caller's."""
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
        res = lexical.search(sq.text, _FEATURE_DEPTH, a, b, f_outlets)
        if not res and (s_since is not None or s_until is not None):
            s_since = s_until = None  # no article of that outlet on that date: drop the date
            res = lexical.search(sq.text, _FEATURE_DEPTH, since, until, f_outlets)
        if not res:
            return None
        top = res[0][1] or 1.0
        return _Sub(
            kind=sq.kind, text=sq.text, share={c: v / top for c, v in res}, rank={c: i for i, (c, _) in enumerate(res)},
            order=[c for c, _ in res], outlets=sub_outlets, since=s_since, until=s_until,
        )

    def _merge(self, cand: Candidates) -> tuple[list[str], dict[str, float]]:
        """Without the rerank: the first-stage list interleaved with the side sub-query lists
        (round robin, first stage first), so every named side gets evidence."""
        from rag.retrieve.rerank import FEATURES

        col = {name: i for i, name in enumerate(FEATURES)}
        row = {c: j for j, c in enumerate(cand.ids)}
        boost = {c: 0.1 * cand.features[row[c], col["named"]] + 0.1 * cand.features[row[c], col["date"]] for c in cand.ids}
        first = sorted(cand.first, key=lambda c: -(cand.first_score.get(c, 0.0) + boost[c]))
        lists = [first] + [[c for c in sub.order if c in row] for sub in cand.subs if sub.kind == "side"]
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
        out += [c for c in cand.ids if c not in seen]
        n = len(out)
        return out, {c: float(n - i) for i, c in enumerate(out)}
