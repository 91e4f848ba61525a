"""Second-stage rerank of fused candidates: a learned fusion of dense, BM25, sentence, title
and metadata signals. Needs nothing outside the packages: the model is a small gradient-boosted
tree ensemble stored as plain numbers in :mod:`rag.retrieve.rerank_model` and evaluated with numpy.

Signals per candidate chunk (see :data:`FEATURES`), all normalized within one question so that
the model carries over to other archives:

* the question: BM25 score / best BM25 score, MiniLM cosine (the stored chunk vector: no
  extra embedding), 1 / (1 + rank) in the first-stage fusion;
* sentences: the best and second-best IDF-weighted share of the question's terms found in one
  sentence of the chunk (a fact is usually one sentence; a chunk that matches the question
  only across many sentences is weaker evidence), and the same against each sub-query;
* the headline: share of the headline's terms found in the question;
* metadata: the chunk's outlet is named in the question; its date matches a date of the
  question; its recency when the question asks for the latest news;
* sub-queries (see :mod:`rag.retrieve.query`): BM25 share, rank and sentence coverage under the best
  "side" sub-query (outlet/date-anchored part) and the best "clause" sub-query that the chunk
  passes the filters of;
* the article: the best BM25 share of any candidate chunk of the same article; how far the
  chunk is behind the article's best candidate on sentence coverage (question, side and clause
  sub-queries) and on cosine; 1 / (1 + rank of the chunk's best sentence among the article's
  candidates); 1 / (1 + position in the article);
* the question's shape: its number of sub-queries, and how many of them admit the chunk;
* parts of a multi-part question (``Settings.part_features``): the IDF-weighted share of the
  question's adjacent content-word pairs ("valid alternative", "ad revenue") found as adjacent
  pairs in one sentence of the chunk (a paraphrased fact keeps some of the question's
  phrases), the chunk's rank on that within its article and its gap to the article's best;
  the chunk's best rank, over the sub-queries that admit it, among all candidates on that
  sub-query's sentence coverage (is it the best evidence for some part of the question?);
  and its rank within its article on the question's cosine. Articles are long (14 chunks on
  average in MultiHop-RAG) and about half of the facts a top 10 misses sit in another chunk
  of an article it already holds: these signals tell the chunks of one article apart.

The model was fitted on the MultiHop-RAG dev split only (``evals/train_rerank.py`` writes
:mod:`rag.retrieve.rerank_model`; README has the cross-validated figures).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

from rag.text import idf as text_idf
from rag.text import lexical_tokens, split_sentences

FEATURES: tuple[str, ...] = (
    "q_bm25", "q_cos", "q_rank", "q_sent", "q_sent2", "title", "named", "date", "recent",
    "side_bm25", "side_rank", "side_sent", "side_elig",
    "clause_bm25", "clause_rank", "clause_sent", "clause_elig",
    "art_bm25", "sent_gap", "position",
    "side_gap", "clause_gap", "cos_gap", "n_subs", "art_sent_rank", "n_admit",
    "pair", "pair_art_rank", "pair_gap", "sub_sent_rank", "qcos_art_rank",
)
# The signals ``Settings.part_features = False`` switches off (0 for every candidate).
PART_FEATURES = ("pair", "pair_art_rank", "pair_gap", "sub_sent_rank", "qcos_art_rank")



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

    _MAX_CACHED_CHUNKS = 50_000

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


def group_rank(values: np.ndarray, groups: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Within each group (an article): 1 / (1 + rank of the value, best first; ties keep input
    order), and the value minus the group's best."""
    values = np.asarray(values, dtype=np.float64)
    rank = np.zeros(len(values))
    gap = np.zeros(len(values))
    by: dict = {}
    for j, g in enumerate(groups):
        by.setdefault(g, []).append(j)
    for js in by.values():
        order = sorted(js, key=lambda j: -values[j])
        for r, j in enumerate(order):
            rank[j] = 1.0 / (1 + r)
        gap[js] = values[js] - values[order[0]]
    return rank, gap


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


class TreeEnsemble:
    """A gradient-boosted tree ensemble (sklearn ``HistGradientBoosting`` exported to lists),
    evaluated with numpy over all trees at once: ``score(X)`` is the raw margin, higher is
    more relevant."""

    def __init__(self, spec: dict):
        self.features = tuple(spec["features"])
        self.base = float(spec.get("base", 0.0))
        trees = spec["trees"]
        width = max((len(t["f"]) for t in trees), default=1)
        shape = (len(trees), width)
        self.feat = np.zeros(shape, dtype=np.int64)
        self.thr = np.zeros(shape)
        self.left = np.zeros(shape, dtype=np.int64)
        self.right = np.zeros(shape, dtype=np.int64)
        self.value = np.zeros(shape)
        self.miss_left = np.zeros(shape, dtype=bool)
        depth = 0
        for i, t in enumerate(trees):
            m = len(t["f"])
            own = np.arange(m)
            left, right = np.asarray(t["l"]), np.asarray(t["r"])
            leaf = left < 0
            self.feat[i, :m] = t["f"]
            self.thr[i, :m] = t["t"]
            self.left[i, :m] = np.where(leaf, own, left)  # a leaf points at itself
            self.right[i, :m] = np.where(leaf, own, right)
            self.value[i, :m] = t["v"]
            self.miss_left[i, :m] = t["m"]
            depth = max(depth, _depth(left, right))
        self.depth = depth

    def score(self, X: np.ndarray) -> np.ndarray:
        """Margins for the rows of ``X`` (columns in :attr:`features` order)."""
        X = np.asarray(X, dtype=np.float64)
        n, t = X.shape[0], self.feat.shape[0]
        if n == 0 or t == 0:
            return np.full(n, self.base)
        # flat indices (tree * nodes + node; row * features + feature): 1-d takes are several
        # times faster than 2-d fancy indexing
        width = self.feat.shape[1]
        feat, thr = self.feat.ravel(), self.thr.ravel()
        left, right, miss = self.left.ravel(), self.right.ravel(), self.miss_left.ravel()
        offset = (np.arange(t) * width)[:, None]
        row_off = (np.arange(n) * X.shape[1])[None, :]
        Xf = np.ascontiguousarray(X).ravel()
        flat = np.broadcast_to(offset, (t, n)).copy()
        for _ in range(self.depth):
            x = Xf.take(row_off + feat.take(flat))
            go_left = np.where(np.isnan(x), miss.take(flat), x <= thr.take(flat))
            flat = offset + np.where(go_left, left.take(flat), right.take(flat))
        return self.base + self.value.ravel().take(flat).sum(axis=0)


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Depth of a tree given child arrays (-1 at leaves)."""
    best, stack = 0, [(0, 0)]
    while stack:
        node, d = stack.pop()
        if left[node] < 0:
            best = max(best, d)
        else:
            stack += [(int(left[node]), d + 1), (int(right[node]), d + 1)]
    return best


class LinearModel:
    """Fallback scorer when no trained model is available: a hand-set weighted sum."""

    WEIGHTS = {"q_bm25": 1.0, "q_cos": 0.3, "q_sent": 0.5, "named": 0.2, "date": 0.3, "side_bm25": 0.5,
               "side_sent": 0.3, "clause_sent": 0.2}

    features = FEATURES

    def score(self, X: np.ndarray) -> np.ndarray:
        """Weighted sum of the features."""
        w = np.array([self.WEIGHTS.get(f, 0.0) for f in FEATURES])
        return np.asarray(X, dtype=np.float64) @ w


@lru_cache(maxsize=1)
def default_model():
    """The packaged model (``rag.retrieve.rerank_model``) or the linear fallback."""
    try:
        from rag.retrieve.rerank_model import MODEL
    except ImportError:  # pragma: no cover - the module ships with the package
        return LinearModel()
    if tuple(MODEL["features"]) != FEATURES:
        return LinearModel()  # stale model for another feature set: never misalign columns
    return TreeEnsemble(MODEL)


def export_sklearn(model, features: Sequence[str]) -> dict:
    """The plain-data spec of a fitted ``HistGradientBoostingClassifier`` (binary)."""
    trees = []
    for (pred,) in model._predictors:
        nodes = pred.nodes
        leaf = nodes["is_leaf"].astype(bool)
        trees.append({
            "f": [int(x) for x in nodes["feature_idx"]],
            "t": [float(x) for x in nodes["num_threshold"]],
            "l": [int(x) if not lf else -1 for x, lf in zip(nodes["left"], leaf)],
            "r": [int(x) if not lf else -1 for x, lf in zip(nodes["right"], leaf)],
            "v": [round(float(x), 6) for x in nodes["value"]],
            "m": [bool(x) for x in nodes["missing_go_to_left"]],
        })
    base = float(np.ravel(model._baseline_prediction)[0])
    return {"features": list(features), "base": base, "trees": trees}
