"""Hybrid retrieval: dense (chroma) and BM25 candidates fused by weighted reciprocal rank
fusion, within optional date and outlet filters.

BM25 is the stronger signal on news (names, numbers, outlets), so it carries more weight; the
weights are set on the MultiHop-RAG dev split (see README) and live in :class:`Settings`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from rag.embedding import Embedder
from rag.settings import Settings
from rag.store import IndexStore
from rag.types import Hit


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


class Retriever:
    """Hybrid search over one index."""

    def __init__(self, store: IndexStore, embedder: Embedder, settings: Settings):
        self.store = store
        self.embedder = embedder
        self.settings = settings

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
        n = max(s.candidates, k)
        rankings: list[tuple[list[str], float]] = []
        if s.lexical_weight > 0:
            lex = self.store.lexical.search(query, n, since, until, outlets)
            rankings.append(([cid for cid, _ in lex], s.lexical_weight))
        else:
            rankings.append(([], 0.0))
        if s.dense_weight > 0:
            vec = self.embedder.embed_query(query)
            dense = self.store.vectors.query(vec, n, since, until, outlets)
            rankings.append(([cid for cid, _ in dense], s.dense_weight))
        else:
            rankings.append(([], 0.0))
        fused = rrf(rankings, k=s.rrf_k)
        # Resolve against the records: vectors without a committed record (an interrupted
        # ingest) are never returned.
        chunks = self.store.records.get_chunks([cid for cid, _, _ in fused[: k * 2]])
        hits: list[Hit] = []
        for cid, score, (lex_rank, dense_rank) in fused:
            ch = chunks.get(cid)
            if ch is None:
                continue
            hits.append(Hit(chunk=ch, score=score, rank=len(hits) + 1, dense_rank=dense_rank, lexical_rank=lex_rank))
            if len(hits) == k:
                break
        return hits
