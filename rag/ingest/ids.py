"""Stable identifiers: article ids from canonical URLs (or normalized text), chunk ids from
content, and content hashes used to detect unchanged and duplicate articles."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|mc_|ref$|ref_src$|cmpid$|ocid$|smid$|taid$)")
_WS = re.compile(r"\s+")


def _h(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme and host, drop ``www.``, fragments, tracking parameters and a trailing
    slash, so that the same story fetched by different links gets one id."""
    if not url or not url.strip():
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.netloc.lower()
    if host.startswith("www."):
        host = host[4:]
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k.lower()))
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https" if parts.scheme.lower() in ("http", "https") else parts.scheme.lower(), host, path, query, ""))


def normalize_text(text: str) -> str:
    """NFKC, lower case, collapsed white space: the form compared for identical bodies."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def article_id(url: str | None, title: str, body: str) -> str:
    """Stable article id: from the canonical URL when there is one, else from the text."""
    canon = canonical_url(url)
    if canon:
        return "u" + _h(canon)
    return "t" + _h(normalize_text(title) + "\n" + normalize_text(body))


def body_hash(body: str) -> str:
    """Hash of the normalized body: equal for bodies that differ only in case or spacing."""
    return _h(normalize_text(body), 32)


def content_hash(fields: dict) -> str:
    """Hash of every stored field of an article: changes when anything a user sees changes."""
    parts = [f"{k}={fields.get(k)!s}" for k in sorted(fields)]
    return _h("\x1f".join(parts), 32)


def chunk_id(article_id_: str, start: int, end: int, text: str) -> str:
    """Chunk id from its article, offsets and text: unchanged passages keep their id (and
    their embedding) when an article is edited elsewhere."""
    return f"{article_id_}-{_h(f'{start}:{end}:{text}', 12)}"
