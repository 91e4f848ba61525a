"""Each article's record, spread over its chunks' metadata in the vector store, and back.

The vector store holds every chunk's indexed text (its document) and the few fields filters
need (article id, outlet, timestamp, offsets). With the fields below as well, it holds enough
to rebuild the SQLite records when they are lost: every field of the article, its content hash,
each chunk's index and header, and the parts of the body no chunk covers (the white space
between sentences that fall between two chunks, and what follows the last one), so that the
body is the chunks' texts laid at their offsets with those gaps filled.

Values are strings and ints only (chroma rejects None): a missing field is written as ``""``
and named in ``nulls``. :func:`chunk_metadata` writes them from the records
(``rag.index.store.IndexStore.sync_vector_metadata``); :func:`restore_articles` reads them back
(``rag index verify --repair``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from rag.index.revisions import REVISION_MARK
from rag.ingest.ids import body_hash, chunk_id
from rag.types import Article, Chunk

VERSION_KEY = "records_meta"  # present (= VERSION) on chunks that carry the whole record
VERSION = 1
_OPTIONAL = ("outlet", "author", "published_at", "url", "category", "source_file")


def chunk_metadata(article: Article, content_hash: str, chunks: Iterable[Chunk]) -> dict[str, dict[str, Any]]:
    """{chunk id: metadata} carrying ``article`` (as stored, with its ``content_hash``) on each
    of its ``chunks`` (all of them: the gaps between them depend on the whole set)."""
    body = article.body
    values = {
        "outlet": article.outlet,
        "author": article.author,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "url": article.url,
        "category": article.category,
        "source_file": article.source_file,
    }
    common: dict[str, Any] = {
        VERSION_KEY: VERSION,
        "title": article.title,
        "also_in": json.dumps(list(article.also_in)),
        "content_hash": content_hash,
        "body_len": len(body),
        "nulls": ",".join(k for k in _OPTIONAL if values[k] is None),
        **{k: v or "" for k, v in values.items()},
    }
    ordered = sorted(chunks, key=lambda c: c.index)
    out: dict[str, dict[str, Any]] = {}
    covered = 0
    for i, ch in enumerate(ordered):
        last = i == len(ordered) - 1
        out[ch.id] = {
            **common,
            "chunk_index": ch.index,
            "header": ch.header,
            "gap": body[covered : ch.start] if ch.start > covered else "",
            "tail": body[max(covered, ch.end) :] if last else "",
        }
        covered = max(covered, ch.end)
    return out


@dataclass(frozen=True)
class RestoredArticle:
    """An article rebuilt from the vector store: what ``Records.commit_articles`` takes."""

    article: Article
    content_hash: str
    body_hash: str
    chunks: tuple[Chunk, ...]


@dataclass
class Restored:
    """What :func:`restore_articles` could and could not rebuild."""

    articles: list[RestoredArticle] = field(default_factory=list)
    # article id -> why it cannot be rebuilt; "" stands for chunks that name no article
    lost: dict[str, str] = field(default_factory=dict)
    # ids of the stored chunks of those articles: the vector store's only copy of them
    lost_chunks: list[str] = field(default_factory=list)
    # ids of stored chunks a rebuilt article does not use (an older version of it)
    unused: list[str] = field(default_factory=list)


def restore_articles(entries: Iterable[tuple[str, Mapping[str, Any], str]]) -> Restored:
    """Rebuild articles from vector-store entries (chunk id, metadata, document), grouped by
    article. An article is rebuilt only when its chunks carry the record (``VERSION_KEY``),
    their texts match their ids, and laid at their offsets with the stored gaps they give a
    body of the stored length; when an article's chunks hold two versions (an ingest stopped
    before its metadata was rewritten), the one version that rebuilds is taken."""
    by_article: dict[str, list[tuple[str, Mapping[str, Any], str]]] = {}
    out = Restored()
    for cid, md, doc in entries:
        if REVISION_MARK in cid:  # a superseded revision's chunk: not restored (its rows are lost)
            out.unused.append(cid)
            continue
        aid = (md or {}).get("article_id")
        if not aid:
            out.lost[""] = "chunks that name no article"
            out.lost_chunks.append(cid)
            continue
        by_article.setdefault(aid, []).append((cid, md, doc))
    for aid in sorted(by_article):
        group = by_article[aid]
        if any(md.get(VERSION_KEY) != VERSION for _c, md, _d in group):
            out.lost[aid] = "its chunks were written before the vector store kept whole records"
            out.lost_chunks.extend(c for c, _m, _d in group)
            continue
        versions: dict[str, list] = {}
        for entry in group:
            versions.setdefault(str(entry[1].get("content_hash")), []).append(entry)
        rebuilt, why = [], ""
        for entries_ in versions.values():
            try:
                rebuilt.append(_rebuild(aid, entries_))
            except ValueError as exc:
                why = str(exc)
        if len(rebuilt) != 1:
            out.lost[aid] = why if not rebuilt else f"its chunks hold {len(rebuilt)} whole versions"
            out.lost_chunks.extend(c for c, _m, _d in group)
            continue
        art = rebuilt[0]
        out.articles.append(art)
        keep = {c.id for c in art.chunks}
        out.unused.extend(c for c, _m, _d in group if c not in keep)
    return out


def _rebuild(aid: str, entries: list[tuple[str, Mapping[str, Any], str]]) -> RestoredArticle:
    """One article from the entries of one version of it; ValueError says what is wrong."""
    entries = sorted(entries, key=lambda e: int(e[1]["chunk_index"]))
    if [int(md["chunk_index"]) for _c, md, _d in entries] != list(range(len(entries))):
        raise ValueError("some of its chunks are missing from the vector store")
    md0 = entries[0][1]
    nulls = set(filter(None, str(md0.get("nulls", "")).split(",")))

    def opt(key: str) -> str | None:
        return None if key in nulls else str(md0.get(key, ""))

    published = opt("published_at")
    article_fields = dict(
        id=aid, title=str(md0["title"]), outlet=opt("outlet"), author=opt("author"),
        published_at=datetime.fromisoformat(published) if published else None, url=opt("url"),
        category=opt("category"), source_file=opt("source_file"), also_in=tuple(json.loads(md0["also_in"])),
    )
    body = ""
    texts = []
    for cid, md, doc in entries:
        start, end, gap = int(md["start"]), int(md["end"]), str(md["gap"])
        n = end - start
        text = doc[len(doc) - n :] if 0 < n <= len(doc) else ""
        if n < 0 or chunk_id(aid, start, end, text) != cid:
            raise ValueError(f"the text of chunk {cid} in the vector store does not match its id")
        if gap or start > len(body):
            if len(body) + len(gap) != start:
                raise ValueError(f"chunk {cid} does not start where the body before it ends")
            body += gap
        if end <= len(body):
            if body[start:end] != text:
                raise ValueError(f"chunk {cid} overlaps the chunk before it with other text")
        else:
            if not text.startswith(body[start:]):
                raise ValueError(f"chunk {cid} overlaps the chunk before it with other text")
            body = body[:start] + text
        texts.append(text)
    body += str(entries[-1][1]["tail"])
    if len(body) != int(md0["body_len"]):
        raise ValueError("its chunks and gaps do not add up to its body")
    article = Article(body=body, **article_fields)
    chunks = tuple(
        Chunk(id=cid, article_id=aid, index=int(md["chunk_index"]), text=text, start=int(md["start"]),
              end=int(md["end"]), header=str(md["header"]), title=article.title, outlet=article.outlet,
              author=article.author, published_at=article.published_at, url=article.url, category=article.category)
        for (cid, md, _doc), text in zip(entries, texts)
    )
    return RestoredArticle(article, str(md0["content_hash"]), body_hash(body), chunks)
