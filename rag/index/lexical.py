"""The lexical index: BM25 (bm25s, English stopwords, Snowball stemming) over each chunk's
indexed text (header + passage), persisted beside the dense store.

It is derived data: rebuilt from the records whenever their generation moves, and written
atomically (a new folder swapped in), so a crash leaves the old index or the new one. Beside
BM25 it keeps each chunk's sentences as term ids (:class:`SentenceTerms`): the rerank's term
tables, computed once per index instead of once per question.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from rag.index.snapshot import Filterable, OutletMasks, Validity, read_snapshot, timestamps, writing
from rag.text import lexical_tokens, split_sentences

_FORMAT = 1


def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english").stemWords
    except ImportError:  # pragma: no cover - PyStemmer is a dependency; degrade, don't die
        return None


def _stopwords() -> frozenset[str]:
    try:
        from bm25s.stopwords import STOPWORDS_EN

        return frozenset(STOPWORDS_EN)
    except ImportError:  # pragma: no cover
        return frozenset()


class WordIds:
    """Lower-cased words -> term ids of the lexical vocabulary (bm25s' English stopwords and
    stemmer; -1: a stopword or a word not in the vocabulary), remembered."""

    def __init__(self, vocab: dict[str, int], stem=None):
        self.vocab = vocab
        self._stem = stem
        self._stop = _stopwords()
        self._word: dict[str, int] = {}

    def learn(self, words: Iterable[str]) -> dict[str, int]:
        """The table, with a term id for every word of ``words``."""
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


def sentence_words(text: str) -> list[list[str]]:
    """The lexical tokens of each sentence of ``text`` (:func:`rag.text.split_sentences`)."""
    return [lexical_tokens(text[a:b]) for a, b in split_sentences(text)]


class SentenceTerms:
    """Each row's sentences as term-id sequences in reading order (stopwords and words not in
    the vocabulary left out), as flat arrays: ``terms``, sentence bounds ``sent_ptr`` into it,
    row bounds ``row_ptr`` into the sentences. About 4 bytes per content word of the archive."""

    FILES = ("terms.npy", "sent_ptr.npy", "row_ptr.npy")

    def __init__(self, terms: np.ndarray, sent_ptr: np.ndarray, row_ptr: np.ndarray):
        self.terms, self.sent_ptr, self.row_ptr = terms, sent_ptr, row_ptr

    @classmethod
    def build(cls, texts: Iterable[str], learn: Callable[[Iterable[str]], dict[str, int]]) -> "SentenceTerms":
        """The table of ``texts`` with ``learn`` (:meth:`WordIds.learn`) mapping words to ids."""
        terms: list[int] = []
        sent_ptr, row_ptr = [0], [0]
        for text in texts:
            per = sentence_words(text)
            table = learn(w for ws in per for w in ws)
            for ws in per:
                terms.extend(i for i in map(table.__getitem__, ws) if i >= 0)
                sent_ptr.append(len(terms))
            row_ptr.append(len(sent_ptr) - 1)
        return cls(np.array(terms, dtype=np.int32), np.array(sent_ptr, dtype=np.int64), np.array(row_ptr, dtype=np.int64))

    def gather(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sentences of ``rows`` in that order, flat: (term ids, the gathered sentence each
        term belongs to, the position in ``rows`` each gathered sentence belongs to)."""
        rows = np.asarray(rows, dtype=np.int64)
        sents = _ranges(self.row_ptr[rows], self.row_ptr[rows + 1])
        owner = np.repeat(np.arange(len(rows)), self.row_ptr[rows + 1] - self.row_ptr[rows])
        lo, hi = self.sent_ptr[sents], self.sent_ptr[sents + 1]
        terms = self.terms[_ranges(lo, hi)].astype(np.int64)
        return terms, np.repeat(np.arange(len(sents)), hi - lo), owner

    def sequences(self, row: int) -> list[list[int]]:
        """The term-id sequence of each sentence of ``row``."""
        ptr = self.sent_ptr[self.row_ptr[row]: self.row_ptr[row + 1] + 1].tolist()
        flat = self.terms[ptr[0]: ptr[-1]].tolist() if ptr else []
        base = ptr[0] if ptr else 0
        return [flat[a - base: b - base] for a, b in zip(ptr, ptr[1:])]

    def save(self, folder: Path) -> None:
        for name, arr in zip(self.FILES, (self.terms, self.sent_ptr, self.row_ptr)):
            np.save(folder / name, arr)

    @classmethod
    def load(cls, folder: Path, rows: int) -> "SentenceTerms | None":
        """The saved table (memory-mapped), or None when absent (an index saved before it)
        or not of ``rows`` rows."""
        if not all((folder / name).is_file() for name in cls.FILES):
            return None
        # mapped, not read: pages load as questions touch them (plain views: a memmap's own
        # slicing is several times slower)
        terms, sent_ptr, row_ptr = (np.asarray(np.load(folder / name, mmap_mode="r")) for name in cls.FILES)
        return cls(terms, sent_ptr, row_ptr) if len(row_ptr) == rows + 1 else None


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(lo[i], hi[i])`` over i."""
    n = hi - lo
    return np.arange(int(n.sum()), dtype=np.int64) + np.repeat(lo - (np.cumsum(n) - n), n)


class LexicalIndex(Filterable):
    """BM25 over chunk texts, with per-chunk outlet and timestamp arrays for filtering."""

    def __init__(self, ids: list[str], outlets: list[str | None], ts: np.ndarray, bm25, generation: int,
                 validity: Validity | None = None, sentence_terms: SentenceTerms | None = None):
        self.ids = ids
        self.outlets = np.array([o or "" for o in outlets], dtype=object)
        self.ts = ts
        self.generation = generation
        self._bm25 = bm25
        self._stem = _stemmer()
        self._outlet_masks: OutletMasks | None = None
        self.validity = validity or Validity(self.ts)
        self.sentence_terms = sentence_terms  # None: an index saved before the table existed
        self._rows: dict[str, int] | None = None

    def row_of(self, chunk_id: str) -> int | None:
        """The row of ``chunk_id`` (the id -> row map is built on first use, once per index)."""
        if self._rows is None:
            self._rows = {c: i for i, c in enumerate(self.ids)}
        return self._rows.get(chunk_id)

    def sentence_sequences(self, chunk_id: str) -> list[list[int]] | None:
        """Term ids of each sentence of the chunk's text in reading order, from the per-index
        table; None when the index has no table or not this chunk."""
        if self.sentence_terms is None:
            return None
        row = self.row_of(chunk_id)
        return None if row is None else self.sentence_terms.sequences(row)

    @classmethod
    def build(cls, rows: Iterable[tuple[str, str, str, str | None, str | None]], generation: int,
              valid: dict[str, tuple[float, float]] | None = None) -> "LexicalIndex":
        """Index (chunk id, header, text, outlet, published_at ISO) rows; ``valid`` gives each
        row's revision validity (:class:`~rag.index.snapshot.Validity`)."""
        import bm25s

        ids, texts, bodies, outlets, published = [], [], [], [], []
        for cid, header, text, outlet, pub in rows:
            ids.append(cid)
            texts.append(f"{header}\n\n{text}" if header else text)
            bodies.append(text)
            outlets.append(outlet)
            published.append(pub)
        bm25 = table = None
        if ids:
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False)
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
            table = SentenceTerms.build(bodies, WordIds(bm25.vocab_dict, _stemmer()).learn)
        ts = timestamps(published)
        return cls(ids, outlets, ts, bm25, generation, Validity.of(ids, ts, valid), table)

    def save(self, folder: Path) -> None:
        """Write atomically: build in ``folder.tmp``, then swap it in."""
        with writing(folder, _FORMAT, self.generation, self.ids, self.outlets,
                     ts=[None if np.isnan(t) else t for t in self.ts.tolist()],
                     vfrom=self.validity.vfrom.tolist(), vto=self.validity.vto.tolist()) as tmp:
            if self._bm25 is not None:
                self._bm25.save(str(tmp / "bm25"), show_progress=False)
            if self.sentence_terms is not None:
                self.sentence_terms.save(tmp)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex | None":
        """Load a saved index, or None when it is missing or unreadable (then rebuild)."""
        import bm25s

        def build(folder: Path, meta: dict) -> "LexicalIndex":
            bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False) if meta["ids"] else None
            ts = np.array([np.nan if t is None else t for t in meta["ts"]], dtype=np.float64)
            vfrom, vto = (np.array(meta[k], dtype=np.float64) if k in meta else None for k in ("vfrom", "vto"))
            return cls(meta["ids"], meta["outlets"], ts, bm25, int(meta["generation"]), Validity(ts, vfrom, vto),
                       SentenceTerms.load(folder, len(meta["ids"])))

        return read_snapshot(folder, _FORMAT, build)

    def search(
        self,
        query: str,
        k: int,
        since: datetime | None = None,
        until: datetime | None = None,
        outlets: Sequence[str] | None = None,
        as_of: datetime | None = None,
    ) -> list[tuple[str, float]]:
        """Top-``k`` (chunk id, BM25 score) with a positive score, within the filters (current
        revisions, or those current on ``as_of``)."""
        if self._bm25 is None or not self.ids:
            return []
        import bm25s

        toks = bm25s.tokenize([query], stopwords="en", stemmer=self._stem, return_ids=False, show_progress=False)[0]
        vocab = self._bm25.vocab_dict
        toks = [t for t in toks if t in vocab]
        if not toks:
            return []
        scores = self._bm25.get_scores(toks)
        m = self.mask(since, until, outlets, as_of)
        if m is not None:
            scores = np.where(m, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
