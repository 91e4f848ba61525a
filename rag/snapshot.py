"""Helpers shared by the derived indexes (BM25, dense matrix): atomic folder replacement and
the date/outlet filter mask over per-chunk arrays."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np


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
