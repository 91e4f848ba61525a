"""The lexical index: BM25 (bm25s, English stopwords, Snowball stemming) over each chunk's
indexed text (header + passage), persisted beside the dense store.

It is derived data: rebuilt from the records whenever their generation moves, and written
atomically (a new folder swapped in), so a crash leaves the old index or the new one.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rag.index.snapshot import Filterable, OutletMasks, Validity, read_snapshot, timestamps, writing

_FORMAT = 1


def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english").stemWords
    except ImportError:  # pragma: no cover - PyStemmer is a dependency; degrade, don't die
        return None


class LexicalIndex(Filterable):
    """BM25 over chunk texts, with per-chunk outlet and timestamp arrays for filtering."""

    def __init__(self, ids: list[str], outlets: list[str | None], ts: np.ndarray, bm25, generation: int,
                 validity: Validity | None = None):
        self.ids = ids
        self.outlets = np.array([o or "" for o in outlets], dtype=object)
        self.ts = ts
        self.generation = generation
        self._bm25 = bm25
        self._stem = _stemmer()
        self._outlet_masks: OutletMasks | None = None
        self.validity = validity or Validity(self.ts)

    @classmethod
    def build(cls, rows: Iterable[tuple[str, str, str, str | None, str | None]], generation: int,
              valid: dict[str, tuple[float, float]] | None = None) -> "LexicalIndex":
        """Index (chunk id, header, text, outlet, published_at ISO) rows; ``valid`` gives each
        row's revision validity (:class:`~rag.index.snapshot.Validity`)."""
        import bm25s

        ids, texts, outlets, published = [], [], [], []
        for cid, header, text, outlet, pub in rows:
            ids.append(cid)
            texts.append(f"{header}\n\n{text}" if header else text)
            outlets.append(outlet)
            published.append(pub)
        bm25 = None
        if ids:
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False)
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
        ts = timestamps(published)
        return cls(ids, outlets, ts, bm25, generation, Validity.of(ids, ts, valid))

    def save(self, folder: Path) -> None:
        """Write atomically: build in ``folder.tmp``, then swap it in."""
        with writing(folder, _FORMAT, self.generation, self.ids, self.outlets,
                     ts=[None if np.isnan(t) else t for t in self.ts.tolist()],
                     vfrom=self.validity.vfrom.tolist(), vto=self.validity.vto.tolist()) as tmp:
            if self._bm25 is not None:
                self._bm25.save(str(tmp / "bm25"), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex | None":
        """Load a saved index, or None when it is missing or unreadable (then rebuild)."""
        import bm25s

        def build(folder: Path, meta: dict) -> "LexicalIndex":
            bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False) if meta["ids"] else None
            ts = np.array([np.nan if t is None else t for t in meta["ts"]], dtype=np.float64)
            vfrom, vto = (np.array(meta[k], dtype=np.float64) if k in meta else None for k in ("vfrom", "vto"))
            return cls(meta["ids"], meta["outlets"], ts, bm25, int(meta["generation"]), Validity(ts, vfrom, vto))

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
