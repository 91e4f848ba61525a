"""Loaders of one-article pages: plain text / Markdown (a ``Key: value`` header, the seed
layout, or a title line) and HTML / XHTML (trafilatura, with the page's meta tags).
trafilatura is imported on first use so that importing the loaders stays cheap.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

from rag.ingest.decode import reads_text
from rag.ingest.fields import Result, clean_str, make_article, parse_date
from rag.types import BadRecord

_HEADER_LINE = re.compile(
    r"^(title|headline|outlet|source|publisher|date|published|url|link|author|byline|category|section)"
    r"\s*:\s*(.*)$", re.I)
_HEADER_FIELD = {"headline": "title", "source": "outlet", "publisher": "outlet",
                 "published": "published_at", "date": "published_at", "link": "url",
                 "byline": "author", "section": "category"}


def _strip_md_heading(line: str) -> str:
    """A Markdown heading line without its ``#`` marks."""
    return re.sub(r"^#{1,6}\s+", "", line.strip()).strip()


@reads_text
def load_txt(file: str, text: str) -> Iterator[Result]:
    """Load one article from plain text or Markdown. Three layouts, tried in order:

    1. ``Key: value`` header block (Title, Outlet/Source, Date, URL, Author, Category), then a
       blank line, then the body.
    2. Seed layout: line 1 outlet, line 2 section (category), line 3 blank, line 4 headline,
       then body paragraphs.
    3. Otherwise: first non-empty line is the title (``#`` stripped), the rest is the body.

    Missing date, author and URL stay ``None``.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
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
            yield make_article(file, None, "", body="\n".join(lines[len(head) + 1:]), **{
                k: fields.get(k) for k in ("title", "outlet", "author", "published_at", "url", "category")})
            return
    # 2. seed layout
    if (len(lines) >= 5 and lines[0].strip() and lines[1].strip() and not lines[2].strip()
            and lines[3].strip() and len(lines[0]) <= 80 and len(lines[1]) <= 40
            and not re.search(r"[.!?:;,]$", lines[0].strip() + lines[1].strip())):
        yield make_article(file, None, "", outlet=lines[0], category=lines[1],
                           title=_strip_md_heading(lines[3]), body="\n".join(lines[4:]))
        return
    # 3. first line is the title
    yield make_article(file, None, "", title=_strip_md_heading(lines[0]) if lines else "",
                       body="\n".join(lines[1:]))


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
_META_MODIFIED = ("article:modified_time", "og:updated_time", "datemodified", "dc.date.modified",
                  "dcterms.modified", "last-modified")
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
        if el.get("datetime") and (el.get("itemprop") or "").lower() in ("datepublished", "datemodified"):
            out.setdefault(el.get("itemprop").lower(), el.get("datetime"))
    for el in tree.iter("script"):
        if (el.get("type") or "").lower() == "application/ld+json" and el.text:
            for key, val in _json_ld_dates(el.text):
                out.setdefault(key, val)
    return out


def _json_ld_dates(text: str) -> Iterator[tuple[str, str]]:
    """(``datemodified``, value) of the JSON-LD objects in a script (their ``dateModified``)."""
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return
    todo = data if isinstance(data, list) else [data]
    while todo:
        obj = todo.pop(0)
        if isinstance(obj, dict):
            todo.extend(obj["@graph"] if isinstance(obj.get("@graph"), list) else [])
            if isinstance(obj.get("dateModified"), str):
                yield "datemodified", obj["dateModified"]


@reads_text
def load_html(file: str, text: str) -> Iterator[Result]:
    """Load one article from an HTML page with trafilatura (main text; scripts, navigation
    and boilerplate removed). Title, sitename (outlet), author, URL and date come from the
    page metadata; an exact ``article:published_time``-style meta tag wins over trafilatura's
    date, and trafilatura's text-based date guessing is disabled. A leading line equal to the
    title is dropped from the body."""
    import trafilatura  # lazy: ~0.3 s import

    try:
        doc = trafilatura.bare_extraction(
            text, with_metadata=True, include_comments=False, include_tables=True,
            favor_recall=True, date_extraction_params={
                "extensive_search": False, "original_date": True,
                "outputformat": "%Y-%m-%dT%H:%M:%S%z"})
    except Exception as e:  # noqa: BLE001 - trafilatura/lxml errors on malformed markup
        yield BadRecord(file, None, f"HTML extraction failed: {type(e).__name__}: {e}")
        return
    meta = _meta_tags(text)

    def get(name: str) -> Any:
        if doc is None:
            return None
        return doc.get(name) if isinstance(doc, dict) else getattr(doc, name, None)

    body = get("text") or ""
    if not body.strip():  # trafilatura found no main content: fall back to the whole <body>
        m = re.search(r"<body\b[^>]*>(.*)</body\s*>", text, re.I | re.S)
        frag = re.sub(r"<(nav|header|footer|aside|form)\b.*?</\1\s*>", " ", m.group(1) if m else text, flags=re.I | re.S)
        body = html_to_text(frag)
    else:
        body = "\n\n".join(ln.strip() for ln in body.split("\n") if ln.strip())
    title = get("title") or meta.get("og:title")
    if not title:
        m = re.search(r"<title[^>]*>(.*?)</title\s*>", text, re.I | re.S)
        title = html.unescape(m.group(1)) if m else None
    ct = clean_str(title)
    if ct:
        first, _, rest = body.partition("\n")
        if clean_str(first) == ct and rest.strip():
            body = rest
    date_raw = next((meta[k] for k in _META_DATE if k in meta and parse_date(meta[k])), None) or get("date")
    modified = next((meta[k] for k in _META_MODIFIED if k in meta and parse_date(meta[k])), None)
    author = next((meta[k] for k in _META_AUTHOR if k in meta and "://" not in meta[k]), None) or get("author")
    yield make_article(file, None, "", title=title, body=body, outlet=get("sitename") or meta.get("og:site_name"),
                       author=author, published_at=date_raw, url=get("url") or meta.get("og:url"),
                       category=meta.get("article:section") or (get("categories") or [None])[0],
                       updated_at=modified)
