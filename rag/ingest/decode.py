"""Read a file's bytes and decode them to text, or say in a :class:`BadRecord` why not
(missing, unreadable, empty, too large, binary); :func:`reads_text` turns a parser of text
into a loader of a path.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator

from rag.ingest.fields import PathLike, Result
from rag.types import BadRecord

MAX_BYTES = 200 * 1024 * 1024  # larger files are dumps, not article files: refused before reading
_SNIFF_BYTES = 8192  # enough of a file's head to spot binary magic numbers and NUL bytes

_BINARY_MAGIC = (
    (b"%PDF-", "pdf"), (b"PK\x03\x04", "zip/office"), (b"\x89PNG", "png"), (b"GIF89a", "gif"),
    (b"GIF87a", "gif"), (b"\xff\xd8\xff", "jpeg"), (b"\x1f\x8b", "gzip"), (b"\xfd7zXZ", "xz"),
    (b"SQLite format 3", "sqlite"),
)


def read_file(path: PathLike) -> tuple[bytes, str] | BadRecord:
    """Read and decode a file: UTF-8 (BOM honoured; a few invalid bytes become U+FFFD),
    UTF-16 (with a BOM, or without one when the NUL pattern shows it), UTF-32 with a BOM,
    else cp1252/latin-1.

    Returns ``(raw, text)`` or a BadRecord for missing, unreadable, empty, too large or
    binary files.
    """
    file = str(path)
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            return BadRecord(file, None, f"too large ({size // (1024 * 1024)} MB > 200 MB)")
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return BadRecord(file, None, f"unreadable: {e.strerror or e}")
    if not raw:
        return BadRecord(file, None, "empty file")
    if raw[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        try:
            text = raw.decode("utf-32")
        except UnicodeDecodeError:
            return BadRecord(file, None, "invalid UTF-32")
    elif raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            return BadRecord(file, None, "invalid UTF-16")
    else:
        head = raw[:_SNIFF_BYTES]
        for magic, kind in _BINARY_MAGIC:
            if head.startswith(magic):
                return BadRecord(file, None, f"binary file ({kind})")
        if b"\x00" in head:
            text = _utf16_without_bom(raw, head)
            if text is None:
                return BadRecord(file, None, "binary file")
        else:
            text = _decode_8bit(raw)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return BadRecord(file, None, "empty file")
    return raw, text


def _utf16_without_bom(raw: bytes, head: bytes) -> str | None:
    """UTF-16 text without a byte order mark (mostly-ASCII text has a NUL in every other
    byte, all on one side), or None for binary data."""
    if len(head) < 4 or len(raw) % 2:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if max(even, odd) < 0.3 * len(head) / 2 or min(even, odd) > 0:
        return None
    try:
        text = raw.decode("utf-16-be" if even > odd else "utf-16-le")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for ch in text[:4096] if ch.isprintable() or ch in "\n\r\t")
    return text if printable >= 0.95 * min(len(text), 4096) else None


def _decode_8bit(raw: bytes) -> str:
    """UTF-8 (BOM honoured); a UTF-8 file with a few invalid bytes keeps its UTF-8 (the bad
    bytes become U+FFFD) instead of turning every accented letter into mojibake; otherwise
    cp1252, else latin-1."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    lenient = raw.decode("utf-8-sig", errors="replace")
    bad = lenient.count("\ufffd") - raw.count("\ufffd".encode())
    good = sum(1 for ch in lenient if ord(ch) > 127) - lenient.count("\ufffd")
    if good > bad:
        return lenient
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def text_of(path: PathLike, text: str | None) -> str | BadRecord:
    """``text`` when given, else the decoded contents of ``path`` (or why they cannot be read)."""
    if text is not None:
        return text
    got = read_file(path)
    return got if isinstance(got, BadRecord) else got[1]


def reads_text(parse: Callable[..., Iterator[Result]]) -> Callable[..., Iterator[Result]]:
    """Turn ``parse(file, text, **options)`` into a loader ``load(path, text=None, **options)``:
    ``path`` is read and decoded unless ``text`` is given, and a file that cannot be read is
    its one BadRecord."""

    @functools.wraps(parse)
    def load(path: PathLike, text: str | None = None, **options) -> Iterator[Result]:
        got = text_of(path, text)
        if isinstance(got, BadRecord):
            yield got
            return
        yield from parse(str(path), got, **options)

    return load
