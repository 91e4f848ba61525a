"""Turn files and directories into :class:`rag.types.Article` objects.

Every loader is a generator of ``Article | BadRecord``: a bad record or an unreadable file
becomes a :class:`rag.types.BadRecord` (file, line, reason) and loading goes on. Only a
top-level path that does not exist raises :class:`rag.errors.BadInput`.

Formats: JSON (array, single object, or ``{"articles": [...]}``), JSONL/NDJSON, CSV/TSV,
plain text/Markdown, HTML (trafilatura) and RSS/Atom (feedparser). Unknown extensions are
sniffed. Metadata is never invented: a missing or unparseable field stays ``None``; dates
are timezone-aware (naive -> UTC). trafilatura and feedparser are imported lazily so that
``import rag.ingest.loaders`` stays cheap.
"""
from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import sys
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Union

from rag.errors import BadInput
from rag.ingest.ids import article_id
from rag.types import Article, BadRecord

Result = Union[Article, BadRecord]
PathLike = Union[str, Path]

MAX_BYTES = 200 * 1024 * 1024
MAX_BODY_CHARS = 1_000_000  # a record longer than this is not one news article (~170k words)
_SNIFF_BYTES = 8192
_MISSING = {"", "none", "null", "nil", "nan", "n/a"}

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

_BINARY_MAGIC = (
    (b"%PDF-", "pdf"), (b"PK\x03\x04", "zip/office"), (b"\x89PNG", "png"), (b"GIF89a", "gif"),
    (b"GIF87a", "gif"), (b"\xff\xd8\xff", "jpeg"), (b"\x1f\x8b", "gzip"), (b"\xfd7zXZ", "xz"),
    (b"SQLite format 3", "sqlite"),
)

# Field aliases, in order of preference; keys are compared lower-cased without "_", "-", " ".
ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline", "name"),
    "body": ("body", "text", "content", "article", "articlebody", "maintext", "fulltext",
             "story", "description", "summary"),
    "outlet": ("outlet", "source", "publisher", "site", "sitename", "sourcename"),
    "author": ("author", "byline", "authors", "creator"),
    "published_at": ("publishedat", "date", "published", "pubdate", "datetime", "time",
                     "datepublished", "publicationdate", "publishdate"),
    "url": ("url", "link", "href", "permalink"),
    "category": ("category", "section", "categories"),
}
_WRAPPER_KEYS = ("articles", "items", "records", "data", "entries", "results")


# --------------------------------------------------------------------------- helpers

def _key(k: Any) -> str:
    return re.sub(r"[\s_\-]", "", str(k)).lower()


def _clean_str(value: Any) -> str | None:
    """Short metadata value -> single-line string, or None for missing markers."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dict):
        value = value.get("name") or value.get("title")
        return _clean_str(value)
    if isinstance(value, (list, tuple)):
        parts = [p for p in (_clean_str(v) for v in value) if p]
        return ", ".join(parts) or None
    s = _no_surrogates(str(value))
    if "&" in s:
        s = html.unescape(s)
    s = re.sub(r"\s+", " ", s).strip()
    return None if s.lower() in _MISSING else s


_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone surrogates (JSON "\\ud800"): not encodable


def _no_surrogates(s: str) -> str:
    return _SURROGATE.sub("\ufffd", s) if _SURROGATE.search(s) else s


def normalize_body(text: str) -> str:
    """Normalize a body: ``\\n`` line endings, no control characters, no trailing spaces on
    lines, at most one blank line between paragraphs, no leading/trailing blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = _no_surrogates(_CTRL.sub("", text))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


_MONTH_FORMATS = (
    "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y", "%d %B, %Y",
    "%B %d, %Y %I:%M %p", "%b %d, %Y %I:%M %p", "%B %d, %Y %H:%M", "%b %d, %Y %H:%M",
    "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S",
)


_RFC2822 = re.compile(r"^([A-Za-z]{3},?\s+)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(:\d{2})?(\s+\S+)?$")


def _parse_date_str(s: str) -> datetime | None:
    iso = s[:-1] + "+00:00" if s[-1:] in "Zz" and len(s) > 10 else s
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    if _RFC2822.match(s):
        try:
            return parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    t = re.sub(r"^(mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+", "", s, flags=re.I)
    t = re.sub(r"\b(Sept)\b", "Sep", t, flags=re.I)
    t = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", t)
    t = re.sub(r"\b([A-Za-z]{3})\.", r"\1", t)  # AP style "Nov. 27, 2023"
    t = re.sub(r"\b(a\.m\.|p\.m\.)", lambda m: m.group(1).replace(".", "").upper(), t, flags=re.I)
    t = re.sub(r"\s+(UTC|GMT|Z)$", " +0000", t.strip())
    for fmt in _MONTH_FORMATS:
        try:
            return datetime.strptime(t, fmt)
        except ValueError:
            continue
    return None


def parse_date(value: Any) -> datetime | None:
    """Parse a publication date into a timezone-aware datetime, or ``None``.

    Accepts ISO 8601 (with or without offset, ``Z``), plain ``YYYY-MM-DD``, RFC 2822
    (``Mon, 27 Nov 2023 08:45:59 +0000``), ``Month D, YYYY`` (also ``Nov. 27, 2023`` and
    ``27 November 2023``), ``datetime``/``date`` objects and epoch seconds or milliseconds.
    Naive results are taken as UTC. Ambiguous numeric forms (``03/04/2023``), relative dates
    and anything else unparseable give ``None``: a date is never guessed.
    """
    dt: datetime | None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)):
        v = float(value)
        if 1e11 <= abs(v) < 1e14:
            v /= 1000.0
        if not 1e8 <= v < 1e10:
            return None
        return datetime.fromtimestamp(v, tz=timezone.utc)
    elif isinstance(value, str):
        s = value.strip()
        if s.lower() in _MISSING:
            return None
        try:
            dt = _parse_date_str(s)
        except (ValueError, OverflowError):
            dt = None
    else:
        return None
    if dt is None:
        return None
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def _make(file: str, where: int | None, label: str, *, title: Any, body: Any, outlet: Any = None,
          author: Any = None, published_at: Any = None, url: Any = None,
          category: Any = None) -> Result:
    """Validate and build one Article; ``label`` prefixes the reason of a BadRecord."""
    prefix = f"{label}: " if label else ""
    if isinstance(body, (list, tuple)) and all(isinstance(p, str) for p in body):
        body = "\n\n".join(body)
    if body is None:
        return BadRecord(file, where, f"{prefix}no body field")
    if not isinstance(body, str):
        return BadRecord(file, where, f"{prefix}body is not text ({type(body).__name__})")
    if len(body) > MAX_BODY_CHARS:
        return BadRecord(file, where, f"{prefix}body too large ({len(body):,} characters > {MAX_BODY_CHARS:,})")
    body = normalize_body(body)
    if body.lower() in _MISSING:
        return BadRecord(file, where, f"{prefix}empty body")
    title_s = _clean_str(title) or ""
    url_s = _clean_str(url)
    return Article(
        id=article_id(url_s, title_s, body),
        title=title_s,
        body=body,
        outlet=_clean_str(outlet),
        author=_clean_str(author),
        published_at=parse_date(published_at),
        url=url_s,
        category=_clean_str(category),
        source_file=file,
    )


def _pick(keyed: dict[str, Any], field: str) -> Any:
    """First alias of ``field`` present in ``keyed`` with a non-missing value."""
    for alias in ALIASES[field]:
        v = keyed.get(alias)
        if v is None or (isinstance(v, str) and v.strip().lower() in _MISSING):
            continue
        return v
    return None


def record_to_article(rec: Any, file: str, where: int | None, label: str = "") -> Result:
    """Map one JSON/CSV record (a dict) to an Article using :data:`ALIASES` (keys compared
    case-insensitively, ignoring ``_``/``-``/spaces; ``"None"``/``"null"``/``""`` = missing)."""
    prefix = f"{label}: " if label else ""
    if not isinstance(rec, dict):
        return BadRecord(file, where, f"{prefix}record is not an object ({type(rec).__name__})")
    keyed: dict[str, Any] = {}
    for k, v in rec.items():
        keyed.setdefault(_key(k), v)
    fields = {f: _pick(keyed, f) for f in ALIASES}
    if fields["body"] is None:
        if any(a in keyed for a in ALIASES["body"]):
            return BadRecord(file, where, f"{prefix}empty body")
        return BadRecord(file, where, f"{prefix}no body field (body, text, content, article, ...)")
    return _make(file, where, label, **fields)


def _read(path: PathLike) -> tuple[bytes, str] | BadRecord:
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


def _text_of(path: PathLike, text: str | None) -> str | BadRecord:
    if text is not None:
        return text
    got = _read(path)
    return got if isinstance(got, BadRecord) else got[1]


# --------------------------------------------------------------------------- JSON / JSONL

def _line_index(text: str) -> list[int]:
    return [m.start() for m in re.finditer("\n", text)]


def load_json(path: PathLike, text: str | None = None) -> Iterator[Result]:
    """Load a JSON file: an array of records, a single record, or an object wrapping a list
    under ``articles``/``items``/``records``/``data``/``entries``/``results``.

    A file that does not parse is one BadRecord with the JSONDecodeError line and nothing
    else is loaded from it. For a bad record of an array, ``BadRecord.line`` is the 1-based
    line where the record starts and the reason begins ``record N`` (1-based index); for a
    wrapped list the line is ``None`` (only the record index is known).
    """
    file = str(path)
    got = _text_of(path, text)
    if isinstance(got, BadRecord):
        yield got
        return
    text = got
    dec = json.JSONDecoder()
    ws = " \t\n\r"
    i = len(text) - len(text.lstrip(ws))
    items: list[tuple[Any, int | None]] = []
    try:
        if text.startswith("[", i):
            newlines = None
            i += 1
            while True:
                while i < len(text) and text[i] in ws:
                    i += 1
                if text.startswith("]", i) and not items:
                    i += 1
                    break
                obj, end = dec.raw_decode(text, i)
                if newlines is None:
                    newlines = _line_index(text)
                items.append((obj, bisect_right(newlines, i - 1) + 1))
                i = end
                while i < len(text) and text[i] in ws:
                    i += 1
                if text.startswith(",", i):
                    i += 1
                    continue
                if text.startswith("]", i):
                    i += 1
                    break
                raise json.JSONDecodeError("Expecting ',' delimiter or ']'", text, i)
        else:
            obj, i = dec.raw_decode(text, i)
            items.append((obj, 1 + text.count("\n", 0, len(text) - len(text.lstrip(ws)))))
        if text[i:].strip(ws):
            raise json.JSONDecodeError("Extra data", text, i + len(text[i:]) - len(text[i:].lstrip(ws)))
    except json.JSONDecodeError as e:
        yield BadRecord(file, e.lineno, f"invalid JSON: {e.msg} (column {e.colno})")
        return
    except (ValueError, RecursionError) as e:  # e.g. int too long, nesting too deep
        yield BadRecord(file, None, f"invalid JSON: {type(e).__name__}: {e}")
        return
    if len(items) == 1 and isinstance(items[0][0], dict):
        rec = items[0][0]
        keyed = {_key(k): v for k, v in rec.items()}
        if not any(a in keyed for a in ALIASES["body"]):
            for w in _WRAPPER_KEYS:
                if isinstance(keyed.get(w), list):
                    for n, sub in enumerate(keyed[w], 1):
                        yield record_to_article(sub, file, None, f"record {n}")
                    return
    for n, (obj, line) in enumerate(items, 1):
        yield record_to_article(obj, file, line, f"record {n}")


# JSON Lines end at \n, \r\n or \r only: U+2028, U+0085 and friends are legal inside JSON
# strings (str.splitlines would cut records there).
_LINES = re.compile(r"\r\n|\r|\n")


def load_jsonl(path: PathLike, text: str | None = None) -> Iterator[Result]:
    """Load JSON Lines: one record per line (blank lines skipped). Each unparseable line or
    non-object is one BadRecord with its 1-based line number; other lines still load."""
    file = str(path)
    got = _text_of(path, text)
    if isinstance(got, BadRecord):
        yield got
        return
    for n, line in enumerate(_LINES.split(got), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            yield BadRecord(file, n, f"invalid JSON: {e.msg} (column {e.colno})")
            continue
        except (ValueError, RecursionError) as e:
            yield BadRecord(file, n, f"invalid JSON: {type(e).__name__}: {e}")
            continue
        yield record_to_article(rec, file, n)


def _looks_like_jsonl(text: str) -> bool:
    lines = [ln for ln in _LINES.split(text.lstrip(), 3)[:3] if ln.strip()]
    if len(lines) < 2 or not lines[1].lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(lines[0]), dict)
    except json.JSONDecodeError:
        return False


# --------------------------------------------------------------------------- CSV

def load_csv(path: PathLike, text: str | None = None, delimiter: str | None = None) -> Iterator[Result]:
    """Load CSV (or TSV: ``.tsv`` or a tab-only header). The first row is the header and must
    name a body column (see :data:`ALIASES`). ``BadRecord.line`` is the physical line where
    the row starts; a CSV syntax error stops the file at that line."""
    file = str(path)
    got = _text_of(path, text)
    if isinstance(got, BadRecord):
        yield got
        return
    text = got
    if delimiter is None:
        first = text.split("\n", 1)[0]
        tsv = str(path).lower().endswith(".tsv") or ("\t" in first and "," not in first)
        delimiter = "\t" if tsv else ","
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    # An odd number of quotes means a quoted field is never closed: a lenient reader would
    # swallow every later row into it, so read strictly and report the row where it opens.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=text.count('"') % 2 == 1)
    prev = 0
    try:
        header = next(reader, None)
        prev = reader.line_num
        if not header or not any(_key(h) in ALIASES["body"] for h in header):
            yield BadRecord(file, 1, "CSV header row has no body/text/content column")
            return
        for row in reader:
            start, prev = prev + 1, reader.line_num
            if not any(c.strip() for c in row):
                continue
            rec = {h: (row[i] if i < len(row) else None) for i, h in enumerate(header)}
            yield record_to_article(rec, file, start)
    except csv.Error as e:
        yield BadRecord(file, prev + 1, f"CSV error: {e}")


# --------------------------------------------------------------------------- plain text

_HEADER_LINE = re.compile(
    r"^(title|headline|outlet|source|publisher|date|published|url|link|author|byline|category|section)"
    r"\s*:\s*(.*)$", re.I)
_HEADER_FIELD = {"headline": "title", "source": "outlet", "publisher": "outlet",
                 "published": "published_at", "date": "published_at", "link": "url",
                 "byline": "author", "section": "category"}


def _strip_md_heading(line: str) -> str:
    return re.sub(r"^#{1,6}\s+", "", line.strip()).strip()


def load_txt(path: PathLike, text: str | None = None) -> Iterator[Result]:
    """Load one article from plain text or Markdown. Three layouts, tried in order:

    1. ``Key: value`` header block (Title, Outlet/Source, Date, URL, Author, Category), then a
       blank line, then the body.
    2. Seed layout: line 1 outlet, line 2 section (category), line 3 blank, line 4 headline,
       then body paragraphs.
    3. Otherwise: first non-empty line is the title (``#`` stripped), the rest is the body.

    Missing date, author and URL stay ``None``.
    """
    file = str(path)
    got = _text_of(path, text)
    if isinstance(got, BadRecord):
        yield got
        return
    lines = got.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    # 1. Key: value header block
    head = []
    for ln in lines:
        if not ln.strip():
            break
        head.append(_HEADER_LINE.match(ln.strip()))
    if head and all(head) and len(head) < len(lines):
        fields: dict[str, Any] = {}
        for m in head:
            name = m.group(1).lower()
            fields.setdefault(_HEADER_FIELD.get(name, name), m.group(2))
        if "title" in fields or "url" in fields or "published_at" in fields:
            yield _make(file, None, "", body="\n".join(lines[len(head) + 1:]), **{
                k: fields.get(k) for k in ("title", "outlet", "author", "published_at", "url", "category")})
            return
    # 2. seed layout
    if (len(lines) >= 5 and lines[0].strip() and lines[1].strip() and not lines[2].strip()
            and lines[3].strip() and len(lines[0]) <= 80 and len(lines[1]) <= 40
            and not re.search(r"[.!?:;,]$", lines[0].strip() + lines[1].strip())):
        yield _make(file, None, "", outlet=lines[0], category=lines[1],
                    title=_strip_md_heading(lines[3]), body="\n".join(lines[4:]))
        return
    # 3. first line is the title
    yield _make(file, None, "", title=_strip_md_heading(lines[0]) if lines else "",
                body="\n".join(lines[1:]))


# --------------------------------------------------------------------------- HTML

_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote|pre|tr|section|article|header|footer|ul|ol|table)\s*>|<br\s*/?>|<hr\s*/?>", re.I)
_DROP = re.compile(r"<(script|style|noscript|template|iframe|svg)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")


def html_to_text(fragment: str) -> str:
    """Strip HTML to plain text: drop scripts/styles/comments, block ends become paragraph
    breaks, entities are unescaped, runs of spaces collapse."""
    s = _DROP.sub(" ", fragment)
    s = _BLOCK_END.sub("\n\n", s)
    s = _TAG.sub(" ", s)
    s = html.unescape(s).replace("\xa0", " ")
    paras = (re.sub(r"[ \t\f\v]+", " ", p).strip() for p in re.split(r"\n\s*\n", s))
    return "\n\n".join(" ".join(ln.strip() for ln in p.split("\n") if ln.strip()) for p in paras if p)


_META_DATE = ("article:published_time", "og:article:published_time", "datepublished",
              "pubdate", "publishdate", "dc.date.issued", "dcterms.issued", "parsely-pub-date",
              "sailthru.date", "date")
_META_AUTHOR = ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author")


def _meta_tags(text: str) -> dict[str, str]:
    """``<meta name|property|itemprop=... content=...>`` values (first wins), lower-case keys."""
    from lxml import html as lhtml  # installed with trafilatura

    out: dict[str, str] = {}
    try:
        tree = lhtml.document_fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", text))
    except Exception:  # noqa: BLE001 - lxml raises several types on junk; metadata is optional
        return out
    for el in tree.iter("meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop")
        val = el.get("content")
        if key and val and val.strip():
            out.setdefault(key.strip().lower(), val.strip())
    for el in tree.iter("time"):
        if el.get("datetime") and (el.get("itemprop") or "").lower() == "datepublished":
            out.setdefault("datepublished", el.get("datetime"))
    return out


def load_html(path: PathLike, text: str | None = None) -> Iterator[Result]:
    """Load one article from an HTML page with trafilatura (main text; scripts, navigation
    and boilerplate removed). Title, sitename (outlet), author, URL and date come from the
    page metadata; an exact ``article:published_time``-style meta tag wins over trafilatura's
    date, and trafilatura's text-based date guessing is disabled. A leading line equal to the
    title is dropped from the body."""
    import trafilatura  # lazy: ~0.3 s import

    file = str(path)
    got = _text_of(path, text)
    if isinstance(got, BadRecord):
        yield got
        return
    try:
        doc = trafilatura.bare_extraction(
            got, with_metadata=True, include_comments=False, include_tables=True,
            favor_recall=True, date_extraction_params={
                "extensive_search": False, "original_date": True,
                "outputformat": "%Y-%m-%dT%H:%M:%S%z"})
    except Exception as e:  # noqa: BLE001 - trafilatura/lxml errors on malformed markup
        yield BadRecord(file, None, f"HTML extraction failed: {type(e).__name__}: {e}")
        return
    meta = _meta_tags(got)

    def get(name: str) -> Any:
        if doc is None:
            return None
        return doc.get(name) if isinstance(doc, dict) else getattr(doc, name, None)

    body = get("text") or ""
    if not body.strip():  # trafilatura found no main content: fall back to the whole <body>
        m = re.search(r"<body\b[^>]*>(.*)</body\s*>", got, re.I | re.S)
        frag = re.sub(r"<(nav|header|footer|aside|form)\b.*?</\1\s*>", " ", m.group(1) if m else got, flags=re.I | re.S)
        body = html_to_text(frag)
    else:
        body = "\n\n".join(ln.strip() for ln in body.split("\n") if ln.strip())
    title = get("title") or meta.get("og:title")
    if not title:
        m = re.search(r"<title[^>]*>(.*?)</title\s*>", got, re.I | re.S)
        title = html.unescape(m.group(1)) if m else None
    ct = _clean_str(title)
    if ct:
        first, _, rest = body.partition("\n")
        if _clean_str(first) == ct and rest.strip():
            body = rest
    date_raw = next((meta[k] for k in _META_DATE if k in meta and parse_date(meta[k])), None) or get("date")
    author = next((meta[k] for k in _META_AUTHOR if k in meta and "://" not in meta[k]), None) or get("author")
    yield _make(file, None, "", title=title, body=body, outlet=get("sitename") or meta.get("og:site_name"),
                author=author, published_at=date_raw, url=get("url") or meta.get("og:url"),
                category=meta.get("article:section") or (get("categories") or [None])[0])


# --------------------------------------------------------------------------- RSS / Atom

def load_feed(path: PathLike, data: bytes | str | None = None) -> Iterator[Result]:
    """Load an RSS 0.9x/1.0/2.0 or Atom feed with feedparser: each entry is an article.

    Body = longest ``content`` value, else ``summary``, stripped to text. Outlet = feed
    title, category = first tag. An entry date that cannot be parsed gives ``None``. Bad
    entries are BadRecords with ``line=None`` and reason ``entry N: ...``; a document with no
    entries that feedparser flags as malformed is one BadRecord.
    """
    import feedparser  # lazy: feedparser pulls in sgmllib and friends

    file = str(path)
    if data is None:
        got = _read(path)
        if isinstance(got, BadRecord):
            yield got
            return
        data = got[0]
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:  # a file object: feedparser never treats it as a URL or a path
        parsed = feedparser.parse(io.BytesIO(raw))
    except Exception as e:  # noqa: BLE001
        yield BadRecord(file, None, f"feed parse failed: {type(e).__name__}: {e}")
        return
    if not parsed.entries:
        reason = "not a valid RSS/Atom feed" if parsed.get("bozo") else "feed has no entries"
        exc = parsed.get("bozo_exception")
        line = exc.getLineNumber() if hasattr(exc, "getLineNumber") else None
        yield BadRecord(file, line, f"{reason}: {exc}" if exc else reason)
        return
    outlet = parsed.feed.get("title")
    for n, e in enumerate(parsed.entries, 1):
        contents = [c for c in e.get("content", []) if c.get("value")]
        if contents:
            best = max(contents, key=lambda c: len(c["value"]))
            raw_body, ctype = best["value"], best.get("type", "text/html")
        else:
            raw_body = e.get("summary") or e.get("description") or ""
            ctype = (e.get("summary_detail") or {}).get("type", "text/html")
        body = html_to_text(raw_body) if "html" in ctype or "<" in raw_body else raw_body
        title = e.get("title") or ""
        if "<" in title:
            title = html_to_text(title)
        published = None
        for k in ("published", "updated", "created"):
            if e.get(k):
                published = parse_date(e[k])
                if published is None and e.get(f"{k}_parsed"):
                    try:  # feedparser's struct_time can hold year -1 or month 0: no date then
                        published = datetime(*e[f"{k}_parsed"][:6], tzinfo=timezone.utc)
                    except (ValueError, TypeError, OverflowError):
                        published = None
                if published is not None:
                    break
        tags = e.get("tags") or []
        author = e.get("author") or ", ".join(a.get("name", "") for a in e.get("authors", []) if a.get("name"))
        yield _make(file, None, f"entry {n}", title=title, body=body, outlet=outlet, author=author or None,
                    published_at=published, url=e.get("link"), category=tags[0].get("term") if tags else None)


# --------------------------------------------------------------------------- dispatch

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
        return "jsonl" if _looks_like_jsonl(text) else "json"
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
        return "jsonl" if _looks_like_jsonl(text) else "json"
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
    got = _read(path)
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


def _walk(paths: Sequence[PathLike]) -> Iterator[str | BadRecord]:
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
    return sum(1 for x in _walk(paths) if isinstance(x, str))


def iter_articles(paths: Sequence[PathLike]) -> Iterator[Result]:
    """Yield an Article for each good record and a BadRecord for each bad record or file in
    ``paths`` (files or directories, walked recursively in sorted order; see :func:`_walk`).

    ``Article.source_file`` is the file path as given/joined. Raises :class:`BadInput` (before
    yielding anything) only if a top-level path does not exist.
    """
    for item in _walk(paths):
        if isinstance(item, BadRecord):
            yield item
        else:
            yield from load_file(item)
