"""The loader of RSS 0.9x/1.0/2.0 and Atom feeds (feedparser, imported on first use): each
entry is an article.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timezone

from rag.ingest.decode import read_file
from rag.ingest.fields import PathLike, Result, make_article, parse_date
from rag.ingest.pages import html_to_text
from rag.types import BadRecord

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
        got = read_file(path)
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
        raw_updated = dict.get(e, "updated")  # feedparser's own get falls back to <published>
        updated = parse_date(raw_updated) if raw_updated else None  # RSS/Atom <updated>
        tags = e.get("tags") or []
        author = e.get("author") or ", ".join(a.get("name", "") for a in e.get("authors", []) if a.get("name"))
        yield make_article(file, None, f"entry {n}", title=title, body=body, outlet=outlet, author=author or None,
                           published_at=published, url=e.get("link"), category=tags[0].get("term") if tags else None,
                           updated_at=updated)
