"""Term matching for the rerank's signals: IDF-weighted coverage of a question's terms by each
sentence of a passage (the lexical index's tokens, stopwords and stems), adjacent word pairs,
and ranks within groups (articles) or among admitted candidates. Pure numpy; no model here."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from rag.index.lexical import WordIds, sentence_words
from rag.text import idf as text_idf
from rag.text import lexical_tokens, split_sentences


class TermWeights:
    """IDF-weighted term matching with the lexical index's tokenization (bm25s pattern,
    English stopwords, Snowball stemming) and its document frequencies. Terms are ids in
    the lexical vocabulary, so that coverage is numpy arithmetic. Passages come from the
    index's sentence table (:class:`rag.index.lexical.SentenceTerms`) when it has one, and
    are tokenized per question otherwise (with the same result)."""

    _MAX_CACHED_CHUNKS = 50_000  # passages' term tables kept (a few hundred MB at most) before the cache restarts

    def __init__(self, vocab: dict[str, int] | None = None, idf: np.ndarray | None = None, stem=None,
                 stored=None):
        self.vocab = dict(vocab or {})
        self.idf = np.asarray(idf, dtype=np.float64) if idf is not None else np.ones(max(len(self.vocab), 1))
        self._learn = WordIds(self.vocab, stem).learn  # lowercased word -> term id (-1: stopword or unknown)
        # the lexical index whose per-chunk sentence table (computed at index time) stands in
        # for tokenizing passages per question (None, or an index without one: tokenize)
        self._stored = stored if getattr(stored, "sentence_terms", None) is not None else None
        # chunk id -> (term ids of each sentence, adjacent term pairs of each sentence)
        self._chunks: dict[str, tuple[list[np.ndarray], list[set[tuple[int, int]]]]] = {}

    def clear(self) -> None:
        """Forget the cached per-passage term ids and word pairs."""
        self._chunks.clear()

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
        return cls(vocab, idf if vocab else None, getattr(lexical, "_stem", None), lexical)

    @staticmethod
    def _array(ids: set[int]) -> np.ndarray:
        ids.discard(-1)
        return np.fromiter(sorted(ids), dtype=np.int64, count=len(ids))

    def ids(self, text: str) -> np.ndarray:
        """Sorted unique term ids of ``text`` (words not in the vocabulary left out)."""
        words = lexical_tokens(text)
        table = self._learn(words)
        return self._array({table[w] for w in words})

    def chunk_terms(self, key: str, text: str) -> tuple[list[np.ndarray], list[set[tuple[int, int]]]]:
        """Per sentence of a passage: its sorted unique term ids and its adjacent term pairs,
        from the index's table when it has the chunk, else from one split and one tokenization
        of ``text`` (cached by ``key``: a chunk id)."""
        got = self._chunks.get(key)
        if got is None:
            seqs = self._stored.sentence_sequences(key) if self._stored is not None else None
            if seqs is None:
                per = sentence_words(text)
                table = self._learn(w for ws in per for w in ws)
                seqs = [[i for i in map(table.__getitem__, ws) if i >= 0] for ws in per]
            sents = [np.array(sorted(set(seq)), dtype=np.int64) for seq in seqs]
            got = (sents or [np.zeros(0, dtype=np.int64)], [set(zip(seq, seq[1:])) for seq in seqs])
            if len(self._chunks) >= self._MAX_CACHED_CHUNKS:
                self._chunks.clear()
            self._chunks[key] = got
        return got

    def _rows(self, keys: Sequence[str]) -> list[int] | None:
        """Rows of ``keys`` in the index's sentence table; None when any is not there."""
        if self._stored is None:
            return None
        rows = [self._stored.row_of(k) for k in keys]
        return None if None in rows else rows

    def sentence_table(self, keys: Sequence[str], texts: Sequence[str]) -> "SentenceTable":
        """The :class:`SentenceTable` of passages ``keys`` (chunk ids) with ``texts``: from the
        index's table in a few numpy passes when it holds them all, else passage by passage."""
        rows = self._rows(keys)
        if rows is None:
            return SentenceTable([self.chunk_sentences(k, t) for k, t in zip(keys, texts)])
        terms, sent, owner = self._stored.sentence_terms.gather(rows)
        order = np.lexsort((terms, sent))  # by sentence, then term id: sorted unique per sentence
        terms, sent = terms[order], sent[order]
        keep = np.ones(len(terms), dtype=bool)
        keep[1:] = (terms[1:] != terms[:-1]) | (sent[1:] != sent[:-1])
        terms, sent = terms[keep], sent[keep]
        sizes = np.bincount(sent, minlength=len(owner))
        return SentenceTable.of_arrays(len(keys), terms, sizes[sizes > 0], owner[sizes > 0])

    def pair_sets(self, keys: Sequence[str], texts: Sequence[str], query_pairs: set[tuple[int, int]]) -> list[list[set]]:
        """Per passage, the adjacent-pair sets (:meth:`chunk_pairs`) of those of its sentences
        that hold one of ``query_pairs`` (the others add nothing to :meth:`pair_coverage`)."""
        if not query_pairs:
            return [[] for _ in keys]
        rows = self._rows(keys)
        if rows is None:
            return [self.chunk_pairs(k, t) for k, t in zip(keys, texts)]
        terms, sent, owner = self._stored.sentence_terms.gather(rows)
        out: list[list[set]] = [[] for _ in keys]
        if len(terms) < 2:
            return out
        width = max(len(self.idf), int(terms.max()) + 1, max(max(p) for p in query_pairs) + 1)
        codes = terms[:-1] * width + terms[1:]
        wanted = np.array([a * width + b for a, b in query_pairs], dtype=np.int64)
        hit = (sent[:-1] == sent[1:]) & np.isin(codes, wanted)
        starts = np.searchsorted(sent, np.arange(len(owner) + 1))
        for g in np.unique(sent[:-1][hit]).tolist():
            seq = terms[starts[g]: starts[g + 1]].tolist()
            out[int(owner[g])].append(set(zip(seq, seq[1:])))
        return out

    def chunk_sentences(self, key: str, text: str) -> list[np.ndarray]:
        """Term ids of each sentence of a passage (cached by ``key``: a chunk id)."""
        return self.chunk_terms(key, text)[0]

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
        return self.chunk_terms(key, text)[1]

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

    @classmethod
    def of_arrays(cls, n: int, flat: np.ndarray, sizes: np.ndarray, owner: np.ndarray) -> "SentenceTable":
        """The table of ``n`` passages from its flat form: the term ids of the non-empty
        sentences one after another, each one's size, and the passage it belongs to."""
        table = cls([])
        table.n, table.flat, table.owner = n, flat.astype(np.int64), owner.astype(np.int64)
        table.starts = (np.cumsum(sizes) - sizes).astype(np.int64)
        return table

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


def _codes(groups: Sequence) -> tuple[np.ndarray, int]:
    """Each member's group as 0, 1, ... in order of first appearance, and the number of groups."""
    by: dict = {}
    codes = np.fromiter((by.setdefault(g, len(by)) for g in groups), dtype=np.int64, count=len(groups))
    return codes, len(by)


def group_rank(values: np.ndarray, groups: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Within each group (an article): 1 / (1 + rank of the value, best first; ties keep input
    order), and the value minus the group's best."""
    values = np.asarray(values, dtype=np.float64)
    codes, n = _codes(groups)
    order = np.lexsort((-values, codes))  # by group, then best first; stable: ties in input order
    first = np.searchsorted(codes[order], np.arange(n))  # where each group starts in ``order``
    rank = np.empty(len(values))
    rank[order] = 1.0 / (1 + (np.arange(len(values)) - first[codes[order]]))
    return rank, values - values[order[first]][codes]


def group_best(values: np.ndarray, groups: Sequence) -> np.ndarray:
    """Each value replaced by the best (largest) value of its group."""
    values = np.asarray(values, dtype=np.float64)
    codes, n = _codes(groups)
    best = np.full(n, -np.inf)
    np.maximum.at(best, codes, values)
    return best[codes]


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
