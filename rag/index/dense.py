"""The search-time dense index: every chunk vector in one float32 matrix, searched by a
brute-force dot product over the rows that pass the filters.

Chroma stays the store of record; this matrix is derived from it (like BM25 from the records)
and saved beside it as ``dense/`` at the end of each ingest. Why: a chroma query with a
``where`` filter on half of 100k vectors took ~300 ms here, the same filtered scan in numpy a
few milliseconds, and the query path then needs neither chromadb nor llama-index imported.

Rows are kept in publication order (undated last), so a date filter is a contiguous slice of
the matrix and costs in proportion to what it keeps: the scan is memory-bound (~150 MB per
query at 100k chunks), so scanning half the rows takes half the time. An outlet filter scans
only that outlet's rows (an index per outlet, built on first use).

Past ``rag.index.ann.MIN_ROWS`` rows a saved snapshot also holds an inverted-file partition
(:class:`~rag.index.ann.IVF`): searches whose filters keep at least ``ann.MIN_SHARE`` of the
rows (``ann.MIN_OUTLET_SHARE`` with an outlet filter) score only the rows of the nearest lists
(approximate; filters still exact), narrower filters scan their rows exactly.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from rag.index import ann as ann_mod
from rag.index.snapshot import Filterable, OutletMasks, Validity, read_snapshot, timestamps, writing

_FORMAT = 1
# Scoring a contiguous span reads rows ~6-7x cheaper than gathering the same rows from the
# memory-mapped matrix (45k of 100k rows gathered 17 ms, all 100k scanned 6 ms; 190k of 1M
# gathered 86 ms, all 1M scanned 64 ms): a span up to this many times the passing rows is
# scanned whole and the rows picked from it.
SCAN_OVER_GATHER = 6


class DenseIndex(Filterable):
    """Chunk vectors (rows L2-normalized) with outlet and timestamp arrays for filters."""

    def __init__(self, ids: list[str], vectors: np.ndarray, outlets: Sequence[str | None], ts: np.ndarray, generation: int,
                 validity: Validity | None = None, ann: ann_mod.IVF | None = None):
        self.ids = ids
        self.ann = ann  # the approximate partition of the rows, when saved with one
        self.vectors = vectors
        self.outlets = np.array([o or "" for o in outlets], dtype=object)
        self.ts = np.asarray(ts, dtype=np.float64)
        self.generation = generation
        self._row_of: dict[str, int] | None = None  # id -> row, built on first use (~2 s at 1M rows)
        dated = ~np.isnan(self.ts)
        n_dated = int(dated.sum())
        # publication order (undated last): date filters become slices (indexes saved before
        # this order still work, through the mask)
        self._time_ordered = bool(dated[:n_dated].all() and np.all(np.diff(self.ts[:n_dated]) >= 0))
        self._by_outlet: dict[str, np.ndarray] | None = None
        self._outlet_masks: OutletMasks | None = None
        self.validity = validity or Validity(self.ts)

    @classmethod
    def build(
        cls,
        rows: Iterable[tuple[str, str, str, str | None, str | None]],
        fetch: Callable[[list[str]], dict[str, np.ndarray]],
        dim: int,
        generation: int,
        batch: int = 5000,
        valid: dict[str, tuple[float, float]] | None = None,
    ) -> "DenseIndex":
        """From (chunk id, header, text, outlet, published ISO) rows, fetching vectors in
        batches with ``fetch(ids) -> {id: vector}``; chunks without a stored vector are left out.
        ``valid`` gives each row's revision validity (:class:`~rag.index.snapshot.Validity`)."""
        ids, outlets, published = [], [], []
        for cid, _h, _t, outlet, pub in rows:
            ids.append(cid)
            outlets.append(outlet)
            published.append(pub)
        ts = timestamps(published)
        mat = np.zeros((len(ids), dim), dtype=np.float32)
        keep = np.zeros(len(ids), dtype=bool)
        for b in range(0, len(ids), batch):
            got = fetch(ids[b : b + batch])
            for j, cid in enumerate(ids[b : b + batch], start=b):
                v = got.get(cid)
                if v is not None:
                    mat[j] = v
                    keep[j] = True
        order = np.flatnonzero(keep)
        order = order[np.argsort(ts[order], kind="stable")]  # publication order, undated (NaN) last
        if len(order) != len(ids) or np.any(order != np.arange(len(ids))):
            ids = [ids[i] for i in order]
            outlets = [outlets[i] for i in order]
            mat, ts = mat[order], ts[order]
        return cls(ids, mat, outlets, ts, generation, Validity.of(ids, ts, valid))

    def save(self, folder: Path) -> None:
        """Write atomically: build in ``folder.tmp``, then swap it in (with an ANN partition
        built first when there are at least ``ann.MIN_ROWS`` rows)."""
        if self.ann is None and len(self.ids) >= ann_mod.MIN_ROWS:
            self.ann = ann_mod.IVF.build(self.vectors)
        with writing(folder, _FORMAT, self.generation, self.ids, self.outlets) as tmp:
            np.save(tmp / "vectors.npy", self.vectors)
            np.save(tmp / "ts.npy", self.ts)
            np.save(tmp / "valid.npy", np.stack([self.validity.vfrom, self.validity.vto]))
            if self.ann is not None:
                self.ann.save(tmp)

    @classmethod
    def load(cls, folder: Path) -> "DenseIndex | None":
        """Load a saved index (vectors memory-mapped), or None when missing or unreadable."""

        def build(folder: Path, meta: dict) -> "DenseIndex | None":
            vectors = np.load(folder / "vectors.npy", mmap_mode="r")
            ts = np.load(folder / "ts.npy")
            valid = np.load(folder / "valid.npy") if (folder / "valid.npy").exists() else None
            if len(meta["ids"]) != len(vectors):
                return None
            validity = Validity(ts, valid[0], valid[1]) if valid is not None and valid.shape == (2, len(ts)) else None
            ivf = ann_mod.IVF.load(folder, len(vectors))
            if ivf is not None and not ivf.matches(vectors):
                ivf = None  # not of these vectors: brute force until the next save rebuilds it
            return cls(meta["ids"], vectors, meta["outlets"], ts, int(meta["generation"]), validity, ivf)

        return read_snapshot(folder, _FORMAT, build)

    def _rows(self, since: datetime | None, until: datetime | None, outlets: Sequence[str] | None,
              as_of: datetime | None = None):
        """The rows passing the filters: ``None`` (all), a ``slice``, or an index array."""
        if as_of is not None or self.validity.live is not None:  # revisions: one mask
            m = self.mask(since, until, outlets, as_of)
            return None if m is None else np.flatnonzero(m)
        if since is None and until is None and not outlets:
            return None
        if not self._time_ordered:
            return np.flatnonzero(self.mask(since, until, outlets))
        n_dated = int(np.count_nonzero(~np.isnan(self.ts)))
        lo, hi = 0, len(self.ids)
        if since is not None or until is not None:
            hi = n_dated
            if since is not None:
                lo = int(np.searchsorted(self.ts[:n_dated], since.timestamp(), side="left"))
            if until is not None:
                hi = int(np.searchsorted(self.ts[:n_dated], until.timestamp(), side="right"))
            hi = max(lo, hi)
        if not outlets:
            return slice(lo, hi)
        if self._by_outlet is None:
            names, inverse = np.unique(self.outlets.astype(str), return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
            self._by_outlet = {str(nm): order[bounds[i] : bounds[i + 1]] for i, nm in enumerate(names)}
        parts = []
        for o in dict.fromkeys(outlets):
            rows = self._by_outlet.get(o)
            if rows is not None and len(rows):
                parts.append(rows[np.searchsorted(rows, lo) : np.searchsorted(rows, hi)])
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def _ann_rows(self, v: np.ndarray, k: int, since: datetime | None, until: datetime | None,
                  outlets: Sequence[str] | None, as_of: datetime | None) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, similarities) from the ANN partition, all rows passing the filters; None when
        brute force should run instead (a narrow filter, or fewer than ``k`` found)."""
        n = len(self.ids)
        lo, hi, keep = 0, None, None
        if outlets or as_of is not None or self.validity.live is not None or not self._time_ordered:
            keep = self.mask(since, until, outlets, as_of)  # outlet masks are cached per set
            kept = n if keep is None else int(np.count_nonzero(keep))
        else:
            rows = self._rows(since, until, None)  # None or a slice: rows in publication order
            if rows is None:
                kept = n
            else:
                lo, hi, kept = rows.start, rows.stop, rows.stop - rows.start
        if kept < (ann_mod.MIN_OUTLET_SHARE if outlets else ann_mod.MIN_SHARE) * n or kept < k:
            return None
        rows, sims = self.ann.search(v, self.ann.probes(kept / n), lo, hi, keep)
        return (rows, sims) if len(rows) >= k else None

    def query(
        self,
        vector: np.ndarray,
        k: int,
        since: datetime | None = None,
        until: datetime | None = None,
        outlets: Sequence[str] | None = None,
        as_of: datetime | None = None,
    ) -> list[tuple[str, float]]:
        """Top-``k`` (chunk id, cosine similarity) within the filters (current revisions, or
        those current on ``as_of``)."""
        if not self.ids or k <= 0:
            return []
        v = np.asarray(vector, dtype=np.float32)
        found = self._ann_rows(v, k, since, until, outlets, as_of) if self.ann is not None else None
        rows = found[0] if found is not None else self._rows(since, until, outlets, as_of)
        if found is not None:
            sims, base = found[1], rows
        elif rows is None:
            sims, base = self.vectors @ v, None
        elif isinstance(rows, slice):
            sims, base = self.vectors[rows] @ v, rows.start
        elif len(rows) and int(rows[-1]) + 1 - int(rows[0]) <= SCAN_OVER_GATHER * len(rows):
            # rows (ascending) filling their span well enough: scan the span, then pick (no
            # gather copy): a date range under revision masks, or most rows
            lo = int(rows[0])
            sims, base = (self.vectors[lo : int(rows[-1]) + 1] @ v)[rows - lo], rows
        else:
            sims, base = self.vectors[rows] @ v, rows
        k = min(k, len(sims))
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        if base is None:
            rows_out = top
        elif isinstance(base, np.ndarray):
            rows_out = base[top]
        else:
            rows_out = top + base
        return [(self.ids[int(i)], float(s)) for i, s in zip(rows_out, sims[top])]

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors by chunk id (ids not indexed are left out)."""
        if self._row_of is None:
            self._row_of = dict(zip(self.ids, range(len(self.ids))))
        row = self._row_of
        return {c: np.asarray(self.vectors[row[c]]) for c in ids if c in row}
