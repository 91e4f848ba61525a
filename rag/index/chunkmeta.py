"""Each article's record, spread over its chunks' metadata in the vector store, and back.

The vector store holds every chunk's indexed text (its document) and the few fields filters
need (article id, outlet, timestamp, offsets). With the fields below as well, it holds enough
to rebuild the SQLite records when they are lost: every field of the article, its content hash,
each chunk's index and header, and the parts of the body no chunk covers (the white space
between sentences that fall between two chunks, and what follows the last one), so that the
body is the chunks' texts laid at their offsets with those gaps filled.

The revisions ride along (:func:`revision_metadata`, written by each ingest): an article's
chunk 0 carries its current revision's number and dates, and each superseded revision's chunks
carry their indexes, headers and gaps, its chunk 0 also its record (title, dates, validity).

Values are strings and ints only (chroma rejects None): a missing field is written as ``""``
and named in ``nulls``. :func:`chunk_metadata` writes them from the records
(``rag.index.store.IndexStore.sync_vector_metadata``); :func:`restore_articles` reads them back
(``rag index verify --repair``).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from rag.index.revisions import REVISION_MARK, StoredRevisions
from rag.ingest.ids import body_hash, chunk_id
from rag.types import Article, Chunk, Revision

VERSION_KEY = "records_meta"  # present (= VERSION) on chunks that carry the whole record
VERSION = 1
REVISION_KEY = "revision_meta"  # present (= VERSION) on the superseded revision chunk that carries its record
_REV_DATES = ("published_at", "updated_at", "valid_from", "valid_to")
Entry = tuple[str, Mapping[str, Any], str]  # (chunk id, metadata, document) from the vector store
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
    return {cid: {**common, **md} for cid, md in _spans(body, chunks).items()}


def _spans(body: str, chunks: Iterable[Chunk]) -> dict[str, dict[str, Any]]:
    """{chunk id: its index, header, and the body text between it and the chunk before it
    (``gap``) and, on the last, after it (``tail``)}."""
    ordered = sorted(chunks, key=lambda c: c.index)
    out: dict[str, dict[str, Any]] = {}
    covered = 0
    for i, ch in enumerate(ordered):
        last = i == len(ordered) - 1
        out[ch.id] = {
            "chunk_index": ch.index,
            "header": ch.header,
            "gap": body[covered : ch.start] if ch.start > covered else "",
            "tail": body[max(covered, ch.end) :] if last else "",
        }
        covered = max(covered, ch.end)
    return out


def revision_metadata(stored: Iterable[StoredRevisions]) -> dict[str, dict[str, Any]]:
    """{chunk id: metadata} that lets a restore rebuild the revision rows: each article's
    current revision (number, ``valid_from``, ``updated_at``) on its chunk 0, and each
    superseded revision's spans on its chunks with its record on its chunk 0 only."""
    out: dict[str, dict[str, Any]] = {}
    for s in stored:
        if s.first_chunk:
            out[s.first_chunk] = {"revision": s.revision, "revision_from": s.valid_from.isoformat(),
                                  "revision_updated": s.updated_at.isoformat() if s.updated_at else ""}
        for rev, chunks in s.old:
            spans = _spans(rev.body, chunks)
            first = min(chunks, key=lambda c: c.index).id if chunks else None
            for cid, md in spans.items():
                out[cid] = md
            if first is not None:
                dates = {k: v.isoformat() if v else "" for k, v in
                         zip(_REV_DATES, (rev.published_at, rev.updated_at, rev.valid_from, rev.valid_to))}
                out[first] = {**out[first], REVISION_KEY: VERSION, "title": rev.title, "body_len": len(rev.body), **dates}
    return out


@dataclass(frozen=True)
class RestoredArticle:
    """An article rebuilt from the vector store: what ``Records.commit_articles`` takes."""

    article: Article
    content_hash: str
    body_hash: str
    chunks: tuple[Chunk, ...]
    current: tuple[int, datetime | None, datetime] | None = None  # revision, updated_at, valid_from
    revisions: tuple[tuple[Revision, tuple[Chunk, ...]], ...] = ()  # superseded, oldest first


@dataclass
class Restored:
    """What :func:`restore_articles` could and could not rebuild."""

    articles: list[RestoredArticle] = field(default_factory=list)
    # superseded revisions that could not be rebuilt (their chunks are in ``unused``)
    revisions_lost: int = 0
    # article id -> why it cannot be rebuilt; "" stands for chunks that name no article
    lost: dict[str, str] = field(default_factory=dict)
    # ids of the stored chunks of those articles: the vector store's only copy of them
    lost_chunks: list[str] = field(default_factory=list)
    # ids of stored chunks a rebuilt article does not use (an older version of it)
    unused: list[str] = field(default_factory=list)


def restore_articles(entries: Iterable[Entry]) -> Restored:
    """Rebuild articles from vector-store entries (chunk id, metadata, document), grouped by
    article. An article is rebuilt only when its chunks carry the record (``VERSION_KEY``),
    their texts match their ids, and laid at their offsets with the stored gaps they give a
    body of the stored length; when an article's chunks hold two versions (an ingest stopped
    before its metadata was rewritten), the one version that rebuilds is taken. Its
    superseded revisions are rebuilt the same way, when its chunk 0 names its current one."""
    by_article: dict[str, list[Entry]] = {}
    by_revision: dict[str, dict[int, list[Entry]]] = {}  # article id -> revision -> its chunks
    out = Restored()
    for cid, md, doc in entries:
        aid = (md or {}).get("article_id")
        if REVISION_MARK in cid:
            n = cid.rsplit(REVISION_MARK, 1)[1]
            if aid and n.isdigit():
                by_revision.setdefault(aid, {}).setdefault(int(n), []).append((cid, md, doc))
            else:
                out.unused.append(cid)
            continue
        if not aid:
            out.lost[""] = "chunks that name no article"
            out.lost_chunks.append(cid)
            continue
        by_article.setdefault(aid, []).append((cid, md, doc))
    for aid in sorted(by_article):
        group = by_article[aid]
        old = by_revision.pop(aid, {})
        if any(md.get(VERSION_KEY) != VERSION for _c, md, _d in group):
            out.lost[aid] = "its chunks were written before the vector store kept whole records"
            out.lost_chunks.extend(c for c, _m, _d in [*group, *(e for es in old.values() for e in es)])
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
            out.lost_chunks.extend(c for c, _m, _d in [*group, *(e for es in old.values() for e in es)])
            continue
        art = rebuilt[0]
        keep = {c.id for c in art.chunks}
        out.unused.extend(c for c, _m, _d in group if c not in keep)
        first = next(md for c, md, _d in group if c == art.chunks[0].id)
        out.articles.append(_with_revisions(art, first, old, out))
    for old in by_revision.values():  # revisions of no current article's chunks
        out.revisions_lost += len(old)
        out.unused.extend(c for es in old.values() for c, _m, _d in es)
    return out


def _with_revisions(art: RestoredArticle, first: Mapping[str, Any], old: dict[int, list[Entry]],
                    out: Restored) -> RestoredArticle:
    """``art`` with its current revision (from the metadata of its chunk 0, ``first``) and the
    superseded revisions that rebuild from ``old``; the chunks of the others go to ``unused``."""
    n = first.get("revision")
    if not isinstance(n, int) or not first.get("revision_from"):
        out.revisions_lost += len(old)
        out.unused.extend(c for es in old.values() for c, _m, _d in es)
        return art
    current = (n, _date(first.get("revision_updated")), datetime.fromisoformat(str(first["revision_from"])))
    revs = []
    for r in sorted(old):
        try:
            if r >= n:
                raise ValueError("not a superseded revision")
            revs.append(_rebuild_revision(art.article, r, old[r]))
        except (ValueError, KeyError):
            out.revisions_lost += 1
            out.unused.extend(c for c, _m, _d in old[r])
    return dataclasses.replace(art, current=current, revisions=tuple(revs))


def _date(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def _rebuild_revision(article: Article, n: int, entries: list[Entry]) -> tuple[Revision, tuple[Chunk, ...]]:
    """Superseded revision ``n`` of ``article`` from the entries of its chunks."""
    entries = sorted(entries, key=lambda e: int(e[1]["chunk_index"]))
    md0 = entries[0][1]
    if md0.get(REVISION_KEY) != VERSION:
        raise ValueError("its chunks were written before the vector store kept revisions")
    body, texts = _body(article.id, entries, int(md0["body_len"]))
    pub, upd, vf, vt = (_date(md0.get(k)) for k in _REV_DATES)
    if vf is None or vt is None:
        raise ValueError("its validity interval is missing")
    rev = Revision(revision=n, valid_from=vf, valid_to=vt, title=str(md0["title"]), body=body, published_at=pub,
                   updated_at=upd)
    chunks = tuple(
        Chunk(id=cid, article_id=article.id, index=int(md["chunk_index"]), text=text, start=int(md["start"]),
              end=int(md["end"]), header=str(md["header"]), title=rev.title, outlet=article.outlet,
              author=article.author, published_at=pub, url=article.url, category=article.category)
        for (cid, md, _doc), text in zip(entries, texts)
    )
    return rev, chunks


def _rebuild(aid: str, entries: list[Entry]) -> RestoredArticle:
    """One article from the entries of one version of it; ValueError says what is wrong."""
    entries = sorted(entries, key=lambda e: int(e[1]["chunk_index"]))
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
    body, texts = _body(aid, entries, int(md0["body_len"]))
    article = Article(body=body, **article_fields)
    chunks = tuple(
        Chunk(id=cid, article_id=aid, index=int(md["chunk_index"]), text=text, start=int(md["start"]),
              end=int(md["end"]), header=str(md["header"]), title=article.title, outlet=article.outlet,
              author=article.author, published_at=article.published_at, url=article.url, category=article.category)
        for (cid, md, _doc), text in zip(entries, texts)
    )
    return RestoredArticle(article, str(md0["content_hash"]), body_hash(body), chunks)


def _body(aid: str, entries: Sequence[Entry], body_len: int) -> tuple[str, list[str]]:
    """The body the chunk entries (sorted by index) lay out with their gaps, and each chunk's
    text; ValueError says what is wrong. A revision chunk's id is checked without its mark."""
    if [int(md["chunk_index"]) for _c, md, _d in entries] != list(range(len(entries))):
        raise ValueError("some of its chunks are missing from the vector store")
    body = ""
    texts = []
    for cid, md, doc in entries:
        start, end, gap = int(md["start"]), int(md["end"]), str(md["gap"])
        n = end - start
        text = doc[len(doc) - n :] if 0 < n <= len(doc) else ""
        if n < 0 or chunk_id(aid, start, end, text) != cid.split(REVISION_MARK, 1)[0]:
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
    if len(body) != body_len:
        raise ValueError("its chunks and gaps do not add up to its body")
    return body, texts
