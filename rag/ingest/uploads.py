"""Safe handling of uploaded files: copy them into ``<index>/uploads/`` before ingesting.

Rules: only the extensions in :data:`ALLOWED_EXTENSIONS`; at most ``settings.max_upload_mb``
MiB each; the stored name is a safe basename (letters, digits, ``._-``; no leading dot) of the
name the client gave; names that are absolute or climb out with ``..`` are rejected, and so are
sources that are symlinks or not regular files. Files are written only inside the uploads
folder, never over an existing file (a second upload with the same name gets ``-2``, ``-3``...;
an identical file already there is reused). Each bad file becomes a :class:`BadRecord` in the
result; the good ones are saved all the same.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Iterable

from rag.errors import BadInput
from rag.ingest.loaders import LOADABLE_EXTENSIONS
from rag.types import BadRecord

# Exactly the types ingest loads (one list, defined in rag/ingest/loaders.py).
ALLOWED_EXTENSIONS = LOADABLE_EXTENSIONS
UPLOADS_DIR = "uploads"
_MAX_NAME = 120
_CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadResult:
    """What :func:`save_uploads` did: the saved paths (inside the uploads folder) and one
    :class:`BadRecord` per rejected file."""

    saved: tuple[Path, ...] = ()
    errors: tuple[BadRecord, ...] = ()


def safe_filename(name: str) -> str:
    """The safe basename to store an upload named ``name`` under.

    Raises :class:`BadInput` when the name is empty, absolute, climbs out with ``..``, holds a
    NUL byte, or has an extension outside :data:`ALLOWED_EXTENSIONS`. Directory parts are
    dropped; characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``."""
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise BadInput("empty or invalid file name", file=repr(name))
    raw = name.strip()
    if PurePosixPath(raw).is_absolute() or PureWindowsPath(raw).is_absolute() or PureWindowsPath(raw).drive:
        raise BadInput("absolute file names are not accepted", file=raw)
    parts = re.split(r"[\\/]+", raw)
    if any(p == ".." for p in parts):
        raise BadInput("file names may not contain '..'", file=raw)
    base = parts[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem.strip(". "):
        raise BadInput(f"no file extension (allowed: {', '.join(sorted(ALLOWED_EXTENSIONS))})", file=raw)
    ext = "." + ext.lower()
    if ext not in ALLOWED_EXTENSIONS:
        raise BadInput(f"file type {ext} is not accepted (allowed: {', '.join(sorted(ALLOWED_EXTENSIONS))})", file=raw)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-") or "upload"
    return stem[: _MAX_NAME - len(ext)] + ext


def uploads_dir(index_path: str | Path) -> Path:
    """``<index>/uploads``, created if missing; refuses a symlink or non-directory there."""
    d = Path(index_path) / UPLOADS_DIR
    if d.is_symlink() or (d.exists() and not d.is_dir()):
        raise BadInput("is not a plain folder; refusing to write uploads there", file=str(d))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _source(item: Any) -> tuple[str, Path]:
    """(client name, server path) of one upload item: a path, a ``(name, path)`` pair, a
    mapping with ``path`` (and ``orig_name``), or an object with ``.path``/``.name``."""
    if isinstance(item, (str, os.PathLike)):
        p = Path(item)
        return p.name, p
    if isinstance(item, tuple) and len(item) == 2:
        return str(item[0]), Path(item[1])
    if isinstance(item, dict):
        p = Path(item["path"])
        return str(item.get("orig_name") or p.name), p
    path = getattr(item, "path", None) or getattr(item, "name", None)
    if path is None:
        raise BadInput(f"not an uploaded file: {type(item).__name__}")
    p = Path(path)
    return str(getattr(item, "orig_name", None) or p.name), p


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _copy_one(name: str, src: Path, dest_dir: Path, limit: int) -> Path:
    safe = safe_filename(name)
    try:
        st = os.lstat(src)
    except OSError as exc:
        raise BadInput(f"cannot read upload: {exc.strerror or exc}", file=name) from exc
    if stat.S_ISLNK(st.st_mode):
        raise BadInput("symbolic links are not accepted", file=name)
    if not stat.S_ISREG(st.st_mode):
        raise BadInput("not a regular file", file=name)
    if st.st_size > limit:
        raise BadInput(f"file is {st.st_size / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB", file=name)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(src, flags)
    with os.fdopen(fd, "rb") as f:
        data_hash = hashlib.sha256()
        blocks = []
        size = 0
        for block in iter(lambda: f.read(_CHUNK), b""):
            size += len(block)
            if size > limit:  # grew after the check
                raise BadInput(f"file exceeds the limit of {limit / 2**20:.0f} MiB", file=name)
            data_hash.update(block)
            blocks.append(block)
    digest = data_hash.hexdigest()
    stem, ext = safe[: -len(Path(safe).suffix)], Path(safe).suffix
    for i in range(1, 1000):
        dest = dest_dir / (safe if i == 1 else f"{stem}-{i}{ext}")
        if dest.is_symlink():
            continue
        if dest.exists():
            if dest.is_file() and dest.stat().st_size == size and _sha256(dest) == digest:
                return dest  # the same file uploaded again
            continue
        try:
            out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            continue
        with os.fdopen(out, "wb") as w:
            for block in blocks:
                w.write(block)
        if dest.resolve().parent != dest_dir.resolve():  # pragma: no cover - defensive
            dest.unlink()
            raise BadInput("refusing to write outside the uploads folder", file=name)
        return dest
    raise BadInput("too many uploads with this name", file=name)


def save_uploads(index_path: str | Path, files: Iterable[Any] | None, settings: Any) -> UploadResult:
    """Copy uploaded ``files`` into ``<index_path>/uploads/`` following the module's rules.

    ``files`` items are paths (the client's name is the basename), ``(name, path)`` pairs,
    gradio ``FileData``-like objects or dicts. Bad files are reported in
    :attr:`UploadResult.errors`; the others are saved."""
    limit = int(settings.max_upload_mb) * 2**20
    saved: list[Path] = []
    errors: list[BadRecord] = []
    items = list(files or [])
    if not items:
        return UploadResult()
    dest_dir = uploads_dir(index_path)
    for item in items:
        name = "?"
        try:
            name, src = _source(item)
            path = _copy_one(name, src, dest_dir, limit)
            if path not in saved:
                saved.append(path)
        except BadInput as exc:
            errors.append(BadRecord(file=exc.file or name, line=None, reason=exc.reason))
        except OSError as exc:
            errors.append(BadRecord(file=name, line=None, reason=f"cannot save upload: {exc.strerror or exc}"))
    return UploadResult(saved=tuple(saved), errors=tuple(errors))
