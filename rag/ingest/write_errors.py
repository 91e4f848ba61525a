"""Write failures of an ingest as a user meets them: one :class:`rag.errors.WriteFailed` line
(:class:`rag.errors.StorageFull` when the disk or quota is full) naming what failed, where,
how far the ingest got and what to do, instead of an OS, SQLite or chroma traceback.
"""
from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

from rag.errors import RagError, StorageFull, WriteFailed, storage_full

_MAX_REASON = 300  # characters of a foreign error message kept in the one line
# Chroma on a full disk may only say "Error in compaction: Failed to apply logs": a store error
# with less than this free under the folder it wrote is taken as a full disk (chroma grows its
# files in steps of megabytes, so "almost full" fails as surely as "full").
LOW_SPACE_BYTES = 64 * 2**20


def committed_so_far(upto: tuple[int, str | None] | None) -> str:
    """How far an ingest got: ``upto`` is (ordinal, source file) of the last article committed
    in this run, or None."""
    if upto is None:
        return "nothing was committed in this run"
    n, file = upto
    return f"articles up to #{n}" + (f" ({file})" if file else "") + " were committed, nothing after"


def write_failure(exc: BaseException, where: str, so_far: str) -> WriteFailed | None:
    """The one-line error for ``exc``, raised while writing ``where``; None when ``exc`` is not
    a storage failure (a bug or an interrupt keeps its own type and traceback)."""
    if isinstance(exc, RagError) or not isinstance(exc, Exception):
        return None
    if isinstance(exc, OSError) and exc.filename:
        where = str(exc.filename)
    if storage_full(exc) or (_store_error(exc) and free_bytes(where) < LOW_SPACE_BYTES):
        return StorageFull(f"no space left on device while writing {where}; {so_far}; free space and re-run `rag ingest`")
    if _store_error(exc):
        return WriteFailed(f"cannot write {where}: {_reason(exc)}; {so_far}; fix that and re-run `rag ingest`")
    return None


def free_bytes(where: str) -> int:
    """Bytes an unprivileged user may still write on the file system holding ``where`` (its
    nearest existing folder); a huge number when that cannot be told (``where`` is no path)."""
    p = Path(where)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except (OSError, ValueError):
        return 2**63
    return st.f_bavail * st.f_frsize


def _store_error(exc: BaseException) -> bool:
    return isinstance(exc, (OSError, sqlite3.Error)) or type(exc).__module__.startswith("chromadb")


def _reason(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    text = re.sub(r"\s+", " ", text).strip() or type(exc).__name__
    return text[:_MAX_REASON]
