"""Turn files and directories into :class:`rag.types.Article` objects: the one entry point of
loading (the format families live in ``structured``, ``pages`` and ``feeds``; fields and
decoding in ``fields`` and ``decode``).

Every loader is a generator of ``Article | BadRecord``: a bad record or an unreadable file
becomes a :class:`rag.types.BadRecord` (file, line, reason) and loading goes on. Only a
top-level path that does not exist raises :class:`rag.errors.BadInput`.

Formats: JSON (array, single object, or ``{"articles": [...]}``), JSONL/NDJSON, CSV/TSV,
plain text/Markdown, HTML (trafilatura) and RSS/Atom (feedparser). Unknown extensions are
sniffed. trafilatura and feedparser are imported lazily so that ``import rag.ingest.loaders``
stays cheap.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.errors import BadInput
from rag.ingest.decode import read_file
from rag.ingest.feeds import load_feed
from rag.ingest.fields import (
    ALIASES, MAX_BODY_CHARS, PathLike, Result, normalize_body, parse_date, record_to_article,
)
from rag.ingest.pages import html_to_text, load_html, load_txt
from rag.ingest.structured import load_csv, load_json, load_jsonl, looks_like_jsonl
from rag.types import BadRecord

__all__ = [
    "ALIASES", "CSV_EXT", "DOC_STEMS", "FEED_EXT", "HTML_EXT", "JSONL_EXT", "JSON_EXT", "LOADABLE_EXTENSIONS",
    "MAX_BODY_CHARS", "TXT_EXT", "count_files", "html_to_text", "iter_articles", "iter_files", "load_csv",
    "load_feed", "load_file", "load_html", "load_json", "load_jsonl", "load_txt", "normalize_body",
    "parse_date", "record_to_article", "sniff_format",
]


# Extensions :func:`sniff_format` maps to a loader by name alone (others are sniffed by content).
JSON_EXT = frozenset({".json"})
JSONL_EXT = frozenset({".jsonl", ".ndjson"})
CSV_EXT = frozenset({".csv", ".tsv"})
TXT_EXT = frozenset({".txt", ".md", ".text", ".markdown"})
HTML_EXT = frozenset({".html", ".htm", ".xhtml"})
FEED_EXT = frozenset({".xml", ".rss", ".atom"})
# The one list of file types newsrag loads: the dispatch below and the upload check
# (rag/ingest/uploads.py, the chat's file picker) both use it.
LOADABLE_EXTENSIONS = JSON_EXT | JSONL_EXT | CSV_EXT | TXT_EXT | HTML_EXT | FEED_EXT

# In directory walks, files with these stems (any extension) are documentation, not articles.
DOC_STEMS = {"README", "LICENSE", "LICENCE", "SOURCES", "CHANGELOG", "NOTICE", "COPYING", "AUTHORS"}


def sniff_format(path: PathLike, text: str) -> str:
    """Format name for a file: by extension, else by content. One of ``json``, ``jsonl``,
    ``csv``, ``txt``, ``html``, ``feed`` or ``xml`` (XML that is not a feed)."""
    ext = Path(path).suffix.lower()
    head = text.lstrip()[:2048].lower()
    if ext not in LOADABLE_EXTENSIONS:
        return _sniff_content(text, head)
    if ext in JSONL_EXT:
        return "jsonl"
    if ext in JSON_EXT:
        return "jsonl" if looks_like_jsonl(text) else "json"
    if ext in CSV_EXT:
        return "csv"
    if ext in HTML_EXT:
        return "html"
    if ext in TXT_EXT:
        return "txt"
    is_feed = bool(re.search(r"<(rss|feed|rdf:rdf)\b", head))
    if ext in (".rss", ".atom"):
        return "feed"
    # the rest of FEED_EXT (.xml): a feed, an XHTML page, or XML newsrag does not load
    return "feed" if is_feed else ("html" if re.search(r"<html\b", head) else "xml")


def _sniff_content(text: str, head: str) -> str:
    """Format name of a file whose extension is not in :data:`LOADABLE_EXTENSIONS`."""
    is_feed = bool(re.search(r"<(rss|feed|rdf:rdf)\b", head))
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        return "jsonl" if looks_like_jsonl(text) else "json"
    if is_feed and (head.startswith("<?xml") or head.startswith("<rss") or head.startswith("<feed")
                    or head.startswith("<rdf")):
        return "feed"
    if re.match(r"(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!doctype html|<html\b|<head\b)", head, re.S):
        return "html"
    return "txt"


def load_file(path: PathLike) -> Iterator[Result]:
    """Load one file of any supported format (see :func:`sniff_format`). Never raises for bad
    content: unreadable, empty, binary or too-large files become one BadRecord, and an
    unexpected exception inside a format loader becomes a BadRecord ``could not load``
    (articles already yielded from that file stay yielded)."""
    got = read_file(path)
    if isinstance(got, BadRecord):
        yield got
        return
    raw, text = got
    fmt = sniff_format(path, text)
    if fmt == "xml":
        yield BadRecord(str(path), None, "XML file is not an RSS/Atom feed")
        return
    loader = {"json": load_json, "jsonl": load_jsonl, "csv": load_csv, "html": load_html,
              "txt": load_txt}.get(fmt)
    try:
        yield from (load_feed(path, raw) if loader is None else loader(path, text))
    except Exception as e:  # noqa: BLE001 - safety net: one odd file must not stop an ingest
        yield BadRecord(str(path), None, f"could not load ({fmt}): {type(e).__name__}: {e}")


def iter_files(paths: Sequence[PathLike]) -> Iterator[str | BadRecord]:
    """File paths to load, in order: explicit files as given; directories recursively in
    sorted path order, skipping hidden entries, documentation files (:data:`DOC_STEMS`),
    symlinks that leave the tree (reported as BadRecord) and anything already visited
    (symlink loops, links to files already seen)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    for p in paths:
        if not os.path.exists(p):
            raise BadInput("no such file or directory", file=str(p))
    for p in paths:
        if os.path.isdir(p):
            root = os.path.realpath(p)
            yield from _walk_dir(str(p), root, {root})
        else:
            yield str(p)


def _walk_dir(d: str, root: str, seen: set[str]) -> Iterator[str | BadRecord]:
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError as e:
        yield BadRecord(d, None, f"unreadable directory: {e.strerror or e}")
        return
    inside = root.rstrip(os.sep) + os.sep
    for e in entries:
        if e.name.startswith("."):
            continue
        full = os.path.join(d, e.name)
        real = os.path.realpath(full)
        if e.is_symlink() and real != root and not real.startswith(inside):
            yield BadRecord(full, None, "symlink points outside the tree; skipped")
            continue
        if real in seen:
            continue
        if os.path.isdir(full):
            seen.add(real)
            yield from _walk_dir(full, root, seen)
        elif os.path.isfile(full) and Path(e.name).stem.upper() not in DOC_STEMS:
            seen.add(real)
            yield full


def count_files(paths: Sequence[PathLike]) -> int:
    """Number of files :func:`iter_articles` will open (for progress bars).
    Raises BadInput if a given path does not exist."""
    return sum(1 for x in iter_files(paths) if isinstance(x, str))


def iter_articles(paths: Sequence[PathLike]) -> Iterator[Result]:
    """Yield an Article for each good record and a BadRecord for each bad record or file in
    ``paths`` (files or directories, walked recursively in sorted order; see :func:`iter_files`).

    ``Article.source_file`` is the file path as given/joined. Raises :class:`BadInput` (before
    yielding anything) only if a top-level path does not exist.
    """
    for item in iter_files(paths):
        if isinstance(item, BadRecord):
            yield item
        else:
            yield from load_file(item)
