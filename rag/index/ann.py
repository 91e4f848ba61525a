"""An approximate dense search that keeps the filters exact: an inverted-file (IVF) partition
of the dense matrix's rows by spherical k-means, searched by scanning only the rows of the
lists whose centroids are nearest the question.

It keeps the centroids, per list its row numbers (ascending) in the dense matrix
(``rag.index.dense``, rows in publication order), and a second copy of the vectors in list
order, so a probed list is one contiguous block of a memory-mapped file (gathering scattered
rows from the publication-ordered matrix was ~20x slower here). A date filter (a row range)
cuts each list to a sub-block with a binary search; any other filter is a mask over the
candidate rows: no row outside the filters is ever returned. Saved inside the dense snapshot's
folder (same atomic swap, same generation); a folder without it is searched by brute force.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

MIN_ROWS = 300_000  # below this a brute-force scan is under ~20 ms here: no partition is built
MIN_SHARE = 0.10  # a filter keeping fewer rows scans them exactly (1M x 10% ~ 7 ms)
# An outlet's rows cluster by topic: the lists nearest a question hold few of them. At 1M rows
# (bench, 60 dev questions) one outlet of 18.7% gave recall@60 0.933 in 62.7 ms p50 by the
# partition and 1.000 in 51.7 ms by an exact scan; three outlets of 42%: 0.958 in 19 ms.
MIN_OUTLET_SHARE = 0.30  # an outlet filter keeping fewer rows scans them exactly
NPROBE = 24  # lists scanned unfiltered: the fewest keeping dev recall@60 >= 0.95 at 1M, any filter
SAMPLE_PER_LIST = 40  # k-means trains on this many rows per list (faiss's own rule of thumb)
ITERATIONS = 8  # k-means rounds: the recall figures (README) were measured with this many
BLOCK = 32_768  # rows per matrix product when assigning, to bound the temporary memory
CHECK_ROWS = 16  # rows compared with the dense matrix on load: catches a stale copy, costs ~nothing
FILES = ("ivf_centroids.npy", "ivf_rows.npy", "ivf_offsets.npy", "ivf_vectors.npy")


def lists_for(n: int) -> int:
    """How many lists for ``n`` rows: about 2 sqrt(n) (lists of ~sqrt(n)/2 rows)."""
    return max(1, min(n, int(2 * math.sqrt(n))))


def _assign(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid (inner product) of each row."""
    out = np.empty(len(vectors), dtype=np.int32)
    ct = np.ascontiguousarray(centroids.T)
    for b in range(0, len(vectors), BLOCK):
        out[b : b + BLOCK] = np.argmax(np.asarray(vectors[b : b + BLOCK], dtype=np.float32) @ ct, axis=1)
    return out


def train(vectors: np.ndarray, nlist: int, seed: int = 0) -> np.ndarray:
    """Unit-length centroids of ``nlist`` lists by spherical k-means on a sample of rows."""
    rng = np.random.default_rng(seed)
    n = len(vectors)
    sample = np.sort(rng.choice(n, size=min(n, nlist * SAMPLE_PER_LIST), replace=False))
    x = np.asarray(vectors[sample], dtype=np.float32)
    centroids = x[rng.choice(len(x), size=nlist, replace=False)].copy()
    for _ in range(ITERATIONS):
        labels = _assign(x, centroids)
        counts = np.bincount(labels, minlength=nlist)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        sums = np.zeros_like(centroids)
        sums[counts > 0] = np.add.reduceat(x[np.argsort(labels, kind="stable")], starts[counts > 0], axis=0)
        norms = np.linalg.norm(sums, axis=1)
        full = norms > 0  # an empty list keeps its old centroid
        centroids[full] = sums[full] / norms[full, None]
    return centroids


class IVF:
    """Centroids; per list its dense-matrix rows in ascending order (``rows`` sliced by
    ``offsets``) and their vectors (``vectors``, in the same order)."""

    def __init__(self, centroids: np.ndarray, rows: np.ndarray, offsets: np.ndarray, vectors: np.ndarray | None,
                 nprobe: int = NPROBE, source: np.ndarray | None = None):
        self.centroids = centroids
        self.rows = rows
        self.offsets = offsets
        self._vectors = vectors
        self._source = source  # the dense matrix, until the list-ordered copy is made or saved
        self.nprobe = nprobe

    @property
    def vectors(self) -> np.ndarray:
        """The vectors in list order (made from the dense matrix on first use when unsaved)."""
        if self._vectors is None:
            self._vectors = np.asarray(self._source[self.rows], dtype=np.float32)
            self._source = None
        return self._vectors

    @property
    def nlist(self) -> int:
        return len(self.centroids)

    @classmethod
    def build(cls, vectors: np.ndarray, nlist: int | None = None, nprobe: int = NPROBE, seed: int = 0) -> "IVF":
        """Partition the rows of ``vectors`` (unit rows) into ``nlist`` lists (default :func:`lists_for`)."""
        nlist = nlist or lists_for(len(vectors))
        centroids = train(vectors, nlist, seed)
        labels = _assign(vectors, centroids)
        rows = np.argsort(labels, kind="stable")  # stable: rows ascend within a list
        rows = rows.astype(np.int32 if len(rows) < 2**31 else np.int64)  # half the bytes on disk
        offsets = np.searchsorted(labels[rows], np.arange(nlist + 1)).astype(np.int64)
        return cls(centroids, rows, offsets, None, nprobe, source=vectors)

    def save(self, folder: Path) -> None:
        """Write the arrays into ``folder`` (the dense snapshot's temporary folder); the list
        vectors are then read back memory-mapped (the in-memory copy is released)."""
        for name, arr in zip(FILES[:3], (self.centroids, self.rows, self.offsets)):
            np.save(folder / name, arr)
        if self._vectors is not None:
            np.save(folder / FILES[3], self._vectors)
        else:  # block by block from the dense matrix: no second in-memory copy while ingesting
            out = np.lib.format.open_memmap(folder / FILES[3], mode="w+", dtype=np.float32,
                                            shape=(len(self.rows), self.centroids.shape[1]))
            for b in range(0, len(self.rows), BLOCK):
                out[b : b + BLOCK] = self._source[self.rows[b : b + BLOCK]]
            out.flush()
            del out
        self._vectors, self._source = np.load(folder / FILES[3], mmap_mode="r"), None

    @classmethod
    def load(cls, folder: Path, n_rows: int) -> "IVF | None":
        """The saved partition (row lists memory-mapped), or None when absent or not of ``n_rows``."""
        if not all((folder / f).exists() for f in FILES):
            return None
        try:
            centroids = np.load(folder / FILES[0])
            rows = np.load(folder / FILES[1], mmap_mode="r")
            offsets = np.load(folder / FILES[2])
            vectors = np.load(folder / FILES[3], mmap_mode="r")
        except (OSError, ValueError):
            return None
        if (len(rows) != n_rows or len(vectors) != n_rows or len(offsets) != len(centroids) + 1
                or offsets[-1] != n_rows):
            return None
        return cls(centroids, rows, offsets, vectors)

    def matches(self, matrix: np.ndarray, sample: int = CHECK_ROWS) -> bool:
        """Whether a sample of the list-ordered vectors equals their rows of ``matrix``."""
        pos = np.linspace(0, len(self.rows) - 1, num=min(sample, len(self.rows))).astype(np.int64)
        return bool(np.array_equal(np.asarray(self.vectors[pos]), np.asarray(matrix[np.asarray(self.rows)[pos]])))

    def probes(self, share: float) -> int:
        """Lists to scan when a filter keeps ``share`` of the rows: more as it keeps fewer, so
        about as many passing rows are scored as unfiltered."""
        return min(self.nlist, math.ceil(self.nprobe / max(share, 1e-9)))

    def search(self, vector: np.ndarray, nprobe: int, lo: int = 0, hi: int | None = None,
               keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, similarities) of the rows in ``[lo, hi)`` (and ``keep``, a row mask, when
        given) of the ``nprobe`` lists nearest ``vector``."""
        v = np.asarray(vector, dtype=np.float32)
        scores = self.centroids @ v
        nprobe = min(nprobe, self.nlist)
        top = np.argpartition(-scores, nprobe - 1)[:nprobe] if nprobe < self.nlist else np.arange(self.nlist)
        rows, sims = [], []
        for j in top:
            a, b = int(self.offsets[j]), int(self.offsets[j + 1])
            if lo > 0 or hi is not None:
                part = self.rows[a:b]
                a, b = (a + int(np.searchsorted(part, lo)) if lo > 0 else a,
                        a + int(np.searchsorted(part, hi)) if hi is not None else b)
            if b > a:
                rows.append(self.rows[a:b])
                # einsum, not BLAS: a threaded gemv on a few hundred rows waits on its threads
                sims.append(np.einsum("ij,j->i", self.vectors[a:b], v))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        r, s = np.concatenate(rows), np.concatenate(sims)
        if keep is not None:
            passing = keep[r]
            r, s = r[passing], s[passing]
        return r, s
