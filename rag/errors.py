"""Domain errors, and the one-line form of any failure a user meets (:func:`describe`)."""
from __future__ import annotations

import errno


class RagError(Exception):
    """Base class of every error newsrag raises on purpose."""

    exit_code = 1


class BadInput(RagError):
    """Input that cannot be read: names the file and, where known, the line or record."""

    exit_code = 2

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{where}{message}")
        self.reason = message


class IndexMismatch(RagError):
    """The index was built with a different embedding model, dimension or format."""

    exit_code = 3


class IndexMissing(RagError):
    """No index exists at the given path."""

    exit_code = 3


class IndexDamaged(RagError):
    """A file of the index cannot be read (e.g. ``records.sqlite3`` is not a database any
    more); the message names the file and says to run ``rag index verify --repair``."""

    exit_code = 3


class WriteFailed(RagError):
    """Writing the index failed mid-ingest; the message names the file, how far the ingest
    got and what to do (what was committed stays)."""


class StorageFull(WriteFailed):
    """The disk (or quota) under the index filled up mid-ingest."""


class BackendUnavailable(RagError):
    """A configured backend (LLM endpoint, chroma server, optional package) cannot be used."""

    exit_code = 4


class PromptError(RagError):
    """A prompt template is missing or its variables do not match what the code supplies."""

    exit_code = 5


# errno values of a full disk or an exhausted quota
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# how SQLite ("database or disk is full") and chroma (Rust "No space left on device (os error
# 28)") word it when they do not raise an OSError
_FULL_WORDS = ("no space", "disk full", "disk is full", "quota exceeded")


def storage_full(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it was raised from) says the disk or quota is full:
    the one definition of a full disk (the ingest's write errors and :func:`describe`)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in _FULL_ERRNOS:
            return True
        if any(w in str(cur).lower() for w in _FULL_WORDS):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


# What to do about the other file-system failures a user meets (errno -> advice).
_OS_ADVICE = {
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
    errno.EEXIST: "a file is in the way of a folder: give --index a folder path",
    errno.ENOTDIR: "a file is in the way of a folder: give --index a folder path",
    errno.EROFS: "the file system is read-only: choose another --index",
}


def describe(exc: BaseException, hint: str = "re-run with --debug for the traceback") -> str:
    """One line for any failure that reaches the CLI, the API or the chat: what failed, which
    file, and what to do. :class:`RagError` messages are already written that way; the rest
    (the OS, SQLite, chroma) are translated here so that no traceback reaches a user (the CLI
    shows one with ``--debug``; the chat says where its log is: ``hint``)."""
    if isinstance(exc, RagError):
        return _first_line(str(exc))
    if storage_full(exc):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        if "chromadb" in type(exc).__module__:
            where = " while writing chroma/"
        return f"no space left on device{where}; free space and re-run (what was committed is kept)"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        advice = _OS_ADVICE.get(exc.errno or 0)
        return f"{exc.strerror or type(exc).__name__}{where}" + (f"; {advice}" if advice else "")
    if type(exc).__module__.startswith("sqlite3"):
        return f"the index's records database failed ({_first_line(str(exc))}); run `rag index verify --repair`"
    if "chromadb" in type(exc).__module__:
        return f"the vector store (chroma) failed: {_first_line(str(exc))}"
    return f"unexpected {type(exc).__name__}: {_first_line(str(exc))} ({hint})"


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:500] if line else "(no message)"
