"""Helpers shared by the derived indexes (BM25, dense matrix): atomic folder replacement, their
``meta.json``, and the date/outlet/validity filter mask over per-chunk arrays."""
from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


@contextmanager
def replace_dir(folder: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder to write into; on success swap it in for ``folder``
    (the old one is renamed aside first, so a crash leaves one whole version on disk)."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def readable_dir(folder: Path) -> Path:
    """``folder``, or its ``.old`` twin when a crash happened between the two renames."""
    folder = Path(folder)
    old = folder.with_name(folder.name + ".old")
    return old if not folder.exists() and old.exists() else folder


def timestamps(published: Sequence[str | None]) -> np.ndarray:
    """Epoch seconds of ISO dates, NaN where undated."""
    return np.array([datetime.fromisoformat(p).timestamp() if p else np.nan for p in published], dtype=np.float64)


def filter_mask(
    ts: np.ndarray, outlet_arr: np.ndarray, since: datetime | None, until: datetime | None, outlets: Sequence[str] | None
) -> np.ndarray | None:
    """Rows passing a date range and outlet list; None when no filter is set. Undated rows
    never pass a date filter."""
    if since is None and until is None and not outlets:
        return None
    m = np.ones(len(ts), dtype=bool)
    if since is not None:
        m &= ts >= since.timestamp()  # NaN compares False
    if until is not None:
        m &= ts <= until.timestamp()
    if outlets:
        m &= np.isin(outlet_arr, list(outlets))
    return m


class OutletMasks:
    """Row masks for outlet lists, from integer outlet codes computed once per snapshot:
    ``np.isin`` over the object array of names took ~5 ms a call at 100k rows, on the codes
    well under one. Masks are cached per outlet set and read-only."""

    def __init__(self, outlet_arr: np.ndarray):
        names, codes = np.unique(np.asarray(outlet_arr).astype(str), return_inverse=True)
        self._index = {n: i for i, n in enumerate(names.tolist())}
        self._codes = codes.astype(np.int32).ravel()
        self._cache: dict[tuple[str, ...], np.ndarray] = {}

    def mask(self, outlets: Sequence[str]) -> np.ndarray:
        """Rows whose outlet is one of ``outlets`` (``""`` stands for no outlet)."""
        key = tuple(sorted(set(outlets)))
        m = self._cache.get(key)
        if m is None:
            wanted = [self._index[o] for o in key if o in self._index]
            m = np.isin(self._codes, wanted) if wanted else np.zeros(len(self._codes), dtype=bool)
            m.flags.writeable = False
            if len(self._cache) < 256:
                self._cache[key] = m
        return m


def cached_filter_mask(
    ts: np.ndarray, masks: OutletMasks, since: datetime | None, until: datetime | None, outlets: Sequence[str] | None
) -> np.ndarray | None:
    """:func:`filter_mask` with the outlet part from ``masks``."""
    m = filter_mask(ts, None, since, until, None)
    if outlets:
        om = masks.mask(outlets)
        m = om if m is None else m & om
    return m


class Validity:
    """Each row's validity interval in epoch seconds (``vfrom`` <= t < ``vto``; ``vto`` is
    +inf for a current revision's rows): superseded revisions' rows are masked out by default
    and an ``as_of`` date keeps the rows current then. Snapshots saved without intervals
    (older indexes) take every row as current since its publication (undated: always)."""

    def __init__(self, ts: np.ndarray, vfrom: np.ndarray | None = None, vto: np.ndarray | None = None):
        if vfrom is None or vto is None or len(vfrom) != len(ts):
            vfrom = np.where(np.isnan(ts), -np.inf, ts)
            vto = np.full(len(ts), np.inf)
        self.vfrom = np.asarray(vfrom, dtype=np.float64)
        self.vto = np.asarray(vto, dtype=np.float64)
        live = np.isinf(self.vto)
        self.live = None if live.all() else live  # None: no superseded row, nothing to mask

    @classmethod
    def of(cls, ids: Sequence[str], ts: np.ndarray, valid: dict[str, tuple[float, float]] | None) -> "Validity":
        """From ``{id: (from, to)}`` (``rag.index.revisions.validity``) aligned to ``ids``."""
        if valid is None:
            return cls(ts)
        pairs = np.array([valid.get(c, (-np.inf, np.inf)) for c in ids], dtype=np.float64).reshape(len(ids), 2)
        return cls(ts, pairs[:, 0], pairs[:, 1])

    def mask(self, as_of: datetime | None) -> np.ndarray | None:
        """Rows current on ``as_of`` (None: the current revisions; None back: every row)."""
        if as_of is None:
            return self.live
        t = as_of.timestamp()
        return (self.vfrom <= t) & (t < self.vto)


def combine(m: np.ndarray | None, r: np.ndarray | None) -> np.ndarray | None:
    """Two optional row masks and-ed (None stands for every row)."""
    if r is None:
        return m
    return r if m is None else m & r


def save_meta(folder: Path, fmt: int, generation: int, ids: Sequence[str], outlets: np.ndarray, **extra) -> None:
    """Write a derived index's ``meta.json``: format, generation, chunk ids, outlets, ``extra``."""
    meta = {"format": fmt, "generation": generation, "ids": list(ids),
            "outlets": [o or None for o in outlets.tolist()], **extra}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


@contextmanager
def writing(folder: Path, fmt: int, generation: int, ids: Sequence[str], outlets: np.ndarray, **extra) -> Iterator[Path]:
    """Write a derived index atomically: yield a fresh folder for its arrays, then add its
    ``meta.json`` and swap it in (:func:`replace_dir`)."""
    with replace_dir(folder) as tmp:
        yield tmp
        save_meta(tmp, fmt, generation, ids, outlets, **extra)


def read_snapshot(folder: Path, fmt: int, build: Callable[[Path, dict], T | None]) -> T | None:
    """Load a derived index with ``build(folder, meta)`` from the readable folder (see
    :func:`readable_dir`); None when it is missing, unreadable, damaged or of another format
    (the caller then rebuilds it)."""
    folder = readable_dir(folder)
    meta = load_meta(folder, fmt)
    if meta is None:
        return None
    try:
        return build(folder, meta)
    except (OSError, ValueError, KeyError):
        return None


def load_meta(folder: Path, fmt: int) -> dict | None:
    """A derived index's ``meta.json``, or None when missing, unreadable or of another format
    (the caller then rebuilds the index)."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == fmt else None


class Filterable:
    """The filter mask of a derived index (BM25, the dense matrix) over its per-chunk arrays
    ``ts``, ``outlets`` and ``validity``; ``_outlet_masks`` is built on first use."""

    ts: np.ndarray
    outlets: np.ndarray
    validity: "Validity"
    _outlet_masks: "OutletMasks | None" = None

    def mask(self, since: datetime | None, until: datetime | None, outlets: Sequence[str] | None,
             as_of: datetime | None = None) -> np.ndarray | None:
        """Boolean mask of rows passing the filters and current (on ``as_of``), or None when
        every row passes."""
        if outlets and self._outlet_masks is None:
            self._outlet_masks = OutletMasks(self.outlets)
        return combine(cached_filter_mask(self.ts, self._outlet_masks, since, until, outlets), self.validity.mask(as_of))
