"""Term matching for the rerank's signals: IDF-weighted coverage of a question's terms by each
sentence of a passage (the lexical index's tokens, stopwords and stems), adjacent word pairs,
and ranks within groups (articles) or among admitted candidates. Pure numpy; no model here."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from rag.text import idf as text_idf
from rag.text import lexical_tokens, split_sentences


def _stopwords() -> frozenset[str]:
    try:
        from bm25s.stopwords import STOPWORDS_EN

        return frozenset(STOPWORDS_EN)
    except ImportError:  # pragma: no cover
        return frozenset()


class TermWeights:
    """IDF-weighted term matching with the lexical index's tokenization (bm25s pattern,
    English stopwords, Snowball stemming) and its document frequencies. Terms are ids in
    the lexical vocabulary, so that coverage is numpy arithmetic."""

    _MAX_CACHED_CHUNKS = 50_000  # passages' term tables kept (a few hundred MB at most) before the cache restarts

    def __init__(self, vocab: dict[str, int] | None = None, idf: np.ndarray | None = None, stem=None):
        self.vocab = dict(vocab or {})
        self.idf = np.asarray(idf, dtype=np.float64) if idf is not None else np.ones(max(len(self.vocab), 1))
        self._stem = stem
        self._stop = _stopwords()
        self._word: dict[str, int] = {}  # lowercased word -> term id (-1: stopword or unknown)
        self._chunks: dict[str, list[np.ndarray]] = {}
        self._pairs: dict[str, list[set[tuple[int, int]]]] = {}

    def clear(self) -> None:
        """Forget the cached per-passage term ids and word pairs."""
        self._chunks.clear()
        self._pairs.clear()

    @classmethod
    def from_lexical(cls, lexical) -> "TermWeights":
        """Weights from a :class:`rag.index.lexical.LexicalIndex` (uniform IDF if it has none)."""
        bm25 = getattr(lexical, "_bm25", None)
        vocab = getattr(bm25, "vocab_dict", None) if bm25 is not None else None
        idf = None
        try:
            ptr = np.asarray(bm25.scores["indptr"])
            n = float(bm25.scores["num_docs"])
            df = np.diff(ptr).astype(np.float64)
            idf = text_idf(df, n)
        except (AttributeError, KeyError, TypeError):
            pass
        if idf is not None and vocab is not None and len(idf) < len(vocab):
            idf = None
        return cls(vocab, idf if vocab else None, getattr(lexical, "_stem", None))

    def _learn(self, words: Iterable[str]) -> dict[str, int]:
        """Make sure every word has a term id (-1: stopword or not in the vocabulary)."""
        table = self._word
        new = [w for w in set(words) if w not in table]
        if new:
            keep = [w for w in new if w not in self._stop]
            stems = self._stem(keep) if self._stem and keep else keep
            for w in new:
                table[w] = -1
            for w, st in zip(keep, stems):
                table[w] = self.vocab.get(st, -1)
        return table

    @staticmethod
    def _array(ids: set[int]) -> np.ndarray:
        ids.discard(-1)
        return np.fromiter(sorted(ids), dtype=np.int64, count=len(ids))

    def ids(self, text: str) -> np.ndarray:
        """Sorted unique term ids of ``text`` (words not in the vocabulary left out)."""
        words = lexical_tokens(text)
        table = self._learn(words)
        return self._array({table[w] for w in words})

    def chunk_sentences(self, key: str, text: str) -> list[np.ndarray]:
        """Term ids of each sentence of a passage (cached by ``key``: a chunk id)."""
        got = self._chunks.get(key)
        if got is None:
            per = [lexical_tokens(x) for x in sentences(text)]
            table = self._learn(w for ws in per for w in ws)
            got = [self._array({table[w] for w in ws}) for ws in per] or [np.zeros(0, dtype=np.int64)]
            if len(self._chunks) >= self._MAX_CACHED_CHUNKS:
                self._chunks.clear()
            self._chunks[key] = got
        return got

    def sequence(self, text: str) -> list[int]:
        """Term ids of ``text`` in reading order (stopwords and unknown words left out)."""
        words = lexical_tokens(text)
        table = self._learn(words)
        return [table[w] for w in words if table[w] >= 0]

    def pairs(self, text: str) -> set[tuple[int, int]]:
        """Adjacent content-term pairs of ``text`` (stopwords skipped: "ad revenue",
        "valid alternative", "siphons off content" -> (siphon, content))."""
        seq = self.sequence(text)
        return set(zip(seq, seq[1:]))

    def chunk_pairs(self, key: str, text: str) -> list[set[tuple[int, int]]]:
        """Adjacent term pairs of each sentence of a passage (cached by ``key``)."""
        got = self._pairs.get(key)
        if got is None:
            got = [self.pairs(x) for x in sentences(text)]
            if len(self._pairs) >= self._MAX_CACHED_CHUNKS:
                self._pairs.clear()
            self._pairs[key] = got
        return got

    def pair_coverage(self, query_pairs: set[tuple[int, int]], per_chunk: Sequence[list[set]]) -> np.ndarray:
        """Per passage, the best sentence's IDF-weighted share of ``query_pairs`` (a pair weighs
        the IDF of both its terms)."""
        out = np.zeros(len(per_chunk))
        if not query_pairs:
            return out
        w = {p: float(self.idf[p[0]] + self.idf[p[1]]) for p in query_pairs}
        total = sum(w.values())
        if total <= 0:
            return out
        for j, sents in enumerate(per_chunk):
            best = 0.0
            for st in sents:
                common = st & query_pairs
                if common:
                    best = max(best, sum(w[p] for p in common))
            out[j] = best / total
        return out

    def vector(self, ids: np.ndarray) -> tuple[np.ndarray, float]:
        """A dense vocabulary-sized weight vector of a query's terms, and its total weight."""
        q = np.zeros(len(self.idf), dtype=np.float64)
        if len(ids):
            q[ids] = self.idf[ids]
        return q, float(q.sum())

    def coverage(self, query: np.ndarray, have: np.ndarray) -> float:
        """IDF-weighted share of the ``query`` term ids found in ``have``."""
        total = float(self.idf[query].sum()) if len(query) else 0.0
        if total <= 0:
            return 0.0
        return float(self.idf[np.intersect1d(query, have)].sum()) / total


class SentenceTable:
    """The sentences of a list of passages as one flat term array, scored against a query in
    one numpy pass: per passage the best and second-best sentence coverage."""

    def __init__(self, per_chunk: Sequence[list[np.ndarray]]):
        sizes, flat, owner = [], [], []
        for j, sents in enumerate(per_chunk):
            for st in sents:
                if len(st):
                    flat.append(st)
                    sizes.append(len(st))
                    owner.append(j)
        self.n = len(per_chunk)
        self.flat = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes else np.zeros(0, np.int64)
        self.owner = np.array(owner, dtype=np.int64)

    def best(self, q: np.ndarray, total: float) -> tuple[np.ndarray, np.ndarray]:
        """(best, second best) sentence coverage per passage for the weight vector ``q``."""
        best = np.zeros(self.n)
        second = np.zeros(self.n)
        if total <= 0 or not len(self.flat):
            return best, second
        cov = np.add.reduceat(q[self.flat], self.starts) / total
        order = np.lexsort((-cov, self.owner))  # by passage, best sentence first
        own, cv = self.owner[order], cov[order]
        first = np.ones(len(own), dtype=bool)
        first[1:] = own[1:] != own[:-1]
        best[own[first]] = cv[first]
        nxt = np.zeros(len(own), dtype=bool)
        nxt[1:] = first[:-1] & ~first[1:]
        second[own[nxt]] = cv[nxt]
        return best, second


def _groups(groups: Sequence) -> list[list[int]]:
    """Positions of each group's members, groups in order of first appearance."""
    by: dict = {}
    for j, g in enumerate(groups):
        by.setdefault(g, []).append(j)
    return list(by.values())


def group_rank(values: np.ndarray, groups: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Within each group (an article): 1 / (1 + rank of the value, best first; ties keep input
    order), and the value minus the group's best."""
    values = np.asarray(values, dtype=np.float64)
    rank = np.zeros(len(values))
    gap = np.zeros(len(values))
    for js in _groups(groups):
        order = sorted(js, key=lambda j: -values[j])
        for r, j in enumerate(order):
            rank[j] = 1.0 / (1 + r)
        gap[js] = values[js] - values[order[0]]
    return rank, gap


def group_best(values: np.ndarray, groups: Sequence) -> np.ndarray:
    """Each value replaced by the best (largest) value of its group."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros(len(values))
    for js in _groups(groups):
        out[js] = values[js].max()
    return out


def masked_rank(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + rank) of each value among the ``mask``-ed ones (best first, ties in input
    order); 0 outside the mask."""
    values = np.asarray(values, dtype=np.float64)
    if mask is not None:
        values = np.where(mask, values, -np.inf)
    order = np.argsort(-values, kind="stable")
    rank = np.empty(len(values))
    rank[order] = np.arange(len(values))
    out = 1.0 / (1 + rank)
    return np.where(mask, out, 0.0) if mask is not None else out


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (:func:`rag.text.split_sentences`, the one splitter)."""
    return [text[s:e] for s, e in split_sentences(text)]
