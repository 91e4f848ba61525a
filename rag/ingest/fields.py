"""Record fields -> :class:`rag.types.Article`: field aliases, clean metadata strings, body
normalization and publication dates. Shared by every format family's loader.

Metadata is never invented: a missing or unparseable field stays ``None``; dates are
timezone-aware (naive -> UTC).
"""
from __future__ import annotations

import html
import re
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Union

from rag.ingest.ids import article_id
from rag.types import Article, BadRecord

Result = Union[Article, BadRecord]
PathLike = Union[str, Path]

MAX_BODY_CHARS = 1_000_000  # a record longer than this is not one news article (~170k words)
MISSING = {"", "none", "null", "nil", "nan", "n/a"}  # values that mean "no value" in exported data

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
    "updated_at": ("updatedat", "modified", "datemodified", "modifiedat", "lastmodified"),
}


def field_key(k: Any) -> str:
    """A field name as :data:`ALIASES` compares it: lower case, no spaces, ``_`` or ``-``."""
    return re.sub(r"[\s_\-]", "", str(k)).lower()


def clean_str(value: Any) -> str | None:
    """Short metadata value -> single-line string, or None for missing markers."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dict):
        value = value.get("name") or value.get("title")
        return clean_str(value)
    if isinstance(value, (list, tuple)):
        parts = [p for p in (clean_str(v) for v in value) if p]
        return ", ".join(parts) or None
    s = _no_surrogates(str(value))
    if "&" in s:
        s = html.unescape(s)
    s = re.sub(r"\s+", " ", s).strip()
    return None if s.lower() in MISSING else s


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
        if s.lower() in MISSING:
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


def make_article(file: str, where: int | None, label: str, *, title: Any, body: Any, outlet: Any = None,
                 author: Any = None, published_at: Any = None, url: Any = None,
                 category: Any = None, updated_at: Any = None) -> Result:
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
    if body.lower() in MISSING:
        return BadRecord(file, where, f"{prefix}empty body")
    title_s = clean_str(title) or ""
    url_s = clean_str(url)
    return Article(
        id=article_id(url_s, title_s, body),
        title=title_s,
        body=body,
        outlet=clean_str(outlet),
        author=clean_str(author),
        published_at=parse_date(published_at),
        url=url_s,
        category=clean_str(category),
        source_file=file,
        updated_at=parse_date(updated_at),
    )


def _pick(keyed: dict[str, Any], field: str) -> Any:
    """First alias of ``field`` present in ``keyed`` with a non-missing value."""
    for alias in ALIASES[field]:
        v = keyed.get(alias)
        if v is None or (isinstance(v, str) and v.strip().lower() in MISSING):
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
        keyed.setdefault(field_key(k), v)
    fields = {f: _pick(keyed, f) for f in ALIASES}
    if fields["body"] is None:
        if any(a in keyed for a in ALIASES["body"]):
            return BadRecord(file, where, f"{prefix}empty body")
        return BadRecord(file, where, f"{prefix}no body field (body, text, content, article, ...)")
    return make_article(file, where, label, **fields)
