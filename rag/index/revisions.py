"""Article revisions and event dates in the records (the same SQLite file and transactions).

The ``articles`` row holds an article's current revision. When an ingest brings a new body
under the same id, the body it replaces becomes a row of ``revisions`` (text, title, dates,
``valid_from``/``valid_to``) and its chunks rows of ``revision_chunks`` under the ids
``<chunk id>@r<n>`` (their vectors copied, never re-embedded). ``current_revision`` holds the
current revision's number, ``updated_at`` and ``valid_from``. The search snapshots index the
revision chunks too, with a validity interval per row: the default search masks out the
superseded rows, ``as_of`` keeps the rows current on that date (``rag.index.snapshot``).

``event_dates`` holds, per article and revision, the dates its body states
(``rag.ingest.event_dates.resolve_dates``), written in the article's own transaction.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Iterator, Sequence

from rag.types import Article, Chunk, History, Revision

if TYPE_CHECKING:
    from rag.index.records import Records

REVISION_MARK = "@r"  # a chunk id with this infix is a superseded revision's chunk
_IN_BATCH = 500  # ids per ``IN (...)`` query (under SQLite's 999 bound variables)

SCHEMA = """
CREATE TABLE IF NOT EXISTS revisions (
    article_id TEXT NOT NULL, revision INTEGER NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
    published_at TEXT, updated_at TEXT, valid_from TEXT NOT NULL, valid_to TEXT NOT NULL,
    PRIMARY KEY (article_id, revision)
);
CREATE TABLE IF NOT EXISTS revision_chunks (
    id TEXT PRIMARY KEY, article_id TEXT NOT NULL, revision INTEGER NOT NULL, idx INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, header TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS revision_chunks_article ON revision_chunks(article_id, revision);
CREATE TABLE IF NOT EXISTS current_revision (
    article_id TEXT PRIMARY KEY, revision INTEGER NOT NULL, updated_at TEXT, valid_from TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_dates (
    article_id TEXT NOT NULL, revision INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    day TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS event_dates_article ON event_dates(article_id, revision);
"""


def revision_chunk_id(chunk_id: str, revision: int) -> str:
    """The id a chunk of superseded revision ``revision`` is stored and embedded under."""
    return f"{chunk_id}{REVISION_MARK}{revision}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class EventDate:
    """A date ``body[start:end]`` states in revision ``revision`` of an article, resolved to
    ``day`` (``kind``: absolute, relative or section)."""

    article_id: str
    revision: int
    start: int
    end: int
    day: str
    kind: str
    text: str


@dataclass(frozen=True)
class RevisionWrite:
    """What an ingest commits beside an article's row: its current revision (number,
    ``updated_at``, ``valid_from``) and event dates, and, when its body changed, the
    superseded revision (``old``, a :class:`Revision`) with its chunks."""

    article_id: str
    revision: int
    updated_at: datetime | None
    valid_from: datetime
    event_dates: tuple[EventDate, ...] = ()
    old: Revision | None = None
    old_chunks: tuple[Chunk, ...] = ()


def has_revisions(records: "Records") -> bool:
    """True when some article has a superseded revision."""
    c = records.connection()
    return _has(c) and c.execute("SELECT 1 FROM revisions LIMIT 1").fetchone() is not None


def _has(c: sqlite3.Connection) -> bool:
    return c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='revisions'").fetchone() is not None


def current(records: "Records", article_id: str) -> tuple[int, datetime | None, datetime] | None:
    """(revision, updated_at, valid_from) of an article's current revision, or None for an
    article stored before revisions were kept."""
    c = records.connection()
    if not _has(c):
        return None
    r = c.execute("SELECT revision, updated_at, valid_from FROM current_revision WHERE article_id=?",
                  (article_id,)).fetchone()
    return (r[0], _dt(r[1]), _dt(r[2])) if r else None


def stored_body_hash(records: "Records", article_id: str) -> str | None:
    """The normalized-body hash of an article's current revision."""
    r = records.connection().execute("SELECT body_hash FROM articles WHERE id=?", (article_id,)).fetchone()
    return r[0] if r else None


def plan_write(records: "Records", article: Article, body_changed: bool, dates: Sequence, now: datetime,
               old_article: Article | None = None, old_chunks: Sequence[Chunk] = ()) -> RevisionWrite:
    """The revision rows for ingesting ``article``. A new article is revision 1 from its
    publication (else its ``updated_at``, else ``now``). A changed body supersedes the stored
    one: the new revision is current from its ``updated_at``, else its publication date when
    that is later than the old revision's start, else ``now``; metadata-only edits keep the
    revision. ``dates`` are ``resolve_dates`` results for the new body."""
    cur = current(records, article.id) if old_article is not None else None
    if old_article is None:
        n, start = 1, article.published_at or article.updated_at or now
        old = None
    else:
        n, old_updated, old_from = cur if cur else (1, None, old_article.published_at or now)
        start = old_from
        old = None
        if body_changed:
            start = next((d for d in (article.updated_at, article.published_at) if d is not None and d > old_from), now)
            old = Revision(revision=n, valid_from=old_from, valid_to=start, title=old_article.title,
                           body=old_article.body, published_at=old_article.published_at, updated_at=old_updated)
            n += 1
    kept = tuple(
        Chunk(id=revision_chunk_id(ch.id, old.revision), article_id=ch.article_id, index=ch.index, text=ch.text,
              start=ch.start, end=ch.end, header=ch.header, title=old.title, outlet=ch.outlet, author=ch.author,
              published_at=old.published_at, url=ch.url, category=ch.category)
        for ch in old_chunks
    ) if old is not None else ()
    return RevisionWrite(article.id, n, article.updated_at, start, events_of(article.id, n, dates), old, kept)


def events_of(article_id: str, revision: int, dates: Sequence) -> tuple[EventDate, ...]:
    """The event-date rows of ``resolve_dates`` results for one revision of an article."""
    return tuple(EventDate(article_id, revision, d.start, d.end, d.day.isoformat(), d.kind, d.text) for d in dates)


def write(c: sqlite3.Connection, writes: Sequence[RevisionWrite]) -> None:
    """Store ``writes`` inside the caller's transaction (``Records.commit_articles``' hook)."""
    for w in writes:
        if w.old is not None:
            o = w.old
            c.execute("INSERT OR REPLACE INTO revisions VALUES (?,?,?,?,?,?,?,?)", (
                w.article_id, o.revision, o.title, o.body, _iso(o.published_at), _iso(o.updated_at),
                _iso(o.valid_from), _iso(o.valid_to)))
            c.executemany('INSERT OR REPLACE INTO revision_chunks VALUES (?,?,?,?,?,?,?,?)', [
                (ch.id, w.article_id, o.revision, ch.index, ch.start, ch.end, ch.header, ch.text)
                for ch in w.old_chunks])
        c.execute("INSERT OR REPLACE INTO current_revision VALUES (?,?,?,?)",
                  (w.article_id, w.revision, _iso(w.updated_at), _iso(w.valid_from)))
        c.execute("DELETE FROM event_dates WHERE article_id=? AND revision=?", (w.article_id, w.revision))
        c.executemany("INSERT INTO event_dates VALUES (?,?,?,?,?,?,?)", [
            (e.article_id, e.revision, e.start, e.end, e.day, e.kind, e.text) for e in w.event_dates])


# ---- reads ------------------------------------------------------------------------------
def revision_chunks(c: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Chunk]:
    """Chunks of superseded revisions by id, with their revision's title and dates."""
    out: dict[str, Chunk] = {}
    ids = [i for i in ids if REVISION_MARK in i]
    if not ids or not _has(c):
        return out
    for i in range(0, len(ids), _IN_BATCH):
        part = ids[i : i + _IN_BATCH]
        q = ('SELECT k.id,k.article_id,k.idx,k.text,k.start,k."end",k.header,r.title,a.outlet,a.author,'
             "r.published_at,a.url,a.category FROM revision_chunks k JOIN revisions r ON r.article_id=k.article_id "
             f"AND r.revision=k.revision JOIN articles a ON a.id=k.article_id WHERE k.id IN ({','.join('?' * len(part))})")
        for r in c.execute(q, part):
            out[r[0]] = Chunk(id=r[0], article_id=r[1], index=r[2], text=r[3], start=r[4], end=r[5], header=r[6],
                              title=r[7], outlet=r[8], author=r[9], published_at=_dt(r[10]), url=r[11], category=r[12])
    return out


def index_rows(records: "Records") -> Iterator[tuple[str, str, str, str | None, str | None]]:
    """The search snapshots' rows: every current chunk (``Records.iter_chunk_rows``), then
    every superseded revision's chunk with its revision's publication date."""
    yield from records.iter_chunk_rows()
    c = records.connection()
    if _has(c):
        yield from c.execute(
            "SELECT k.id,k.header,k.text,a.outlet,r.published_at FROM revision_chunks k JOIN revisions r "
            "ON r.article_id=k.article_id AND r.revision=k.revision JOIN articles a ON a.id=k.article_id ORDER BY k.id")


def validity(records: "Records") -> dict[str, tuple[float, float]] | None:
    """{chunk id: (valid from, valid to)} in epoch seconds (-inf: unknown start, +inf: current)
    for every snapshot row, or None when nothing records a revision (an index made before)."""
    c = records.connection()
    if not _has(c):
        return None
    inf = float("inf")

    def ts(v: str | None, default: float) -> float:
        return datetime.fromisoformat(v).timestamp() if v else default

    out = {cid: (ts(vf or pub, -inf), inf) for cid, vf, pub in c.execute(
        "SELECT k.id, r.valid_from, a.published_at FROM chunks k JOIN articles a ON a.id=k.article_id "
        "LEFT JOIN current_revision r ON r.article_id=k.article_id")}
    for cid, vf, vt in c.execute(
            "SELECT k.id, r.valid_from, r.valid_to FROM revision_chunks k JOIN revisions r "
            "ON r.article_id=k.article_id AND r.revision=k.revision"):
        out[cid] = (ts(vf, -inf), ts(vt, inf))
    return out


@dataclass(frozen=True)
class StoredRevisions:
    """An article's revision rows as stored: its current revision (number, ``updated_at``,
    ``valid_from``), the id of its current chunk 0 and each superseded revision with its chunks
    (what the vector store is given to rebuild them: ``rag.index.chunkmeta``)."""

    article_id: str
    revision: int
    updated_at: datetime | None
    valid_from: datetime
    first_chunk: str | None
    old: tuple[tuple[Revision, tuple[Chunk, ...]], ...] = ()


def stored_revisions(records: "Records", article_ids: Sequence[str]) -> list[StoredRevisions]:
    """The revision rows of those of ``article_ids`` that have a current revision row."""
    c = records.connection()
    if not _has(c):
        return []
    out = []
    for i in range(0, len(article_ids), _IN_BATCH):
        part = list(article_ids[i : i + _IN_BATCH])
        marks = ",".join("?" * len(part))
        first = dict(c.execute(f"SELECT article_id, id FROM chunks WHERE idx=0 AND article_id IN ({marks})", part))
        rows: dict[tuple[str, int], list[tuple]] = {}
        for r in c.execute('SELECT id, article_id, revision, idx, start, "end", header, text FROM revision_chunks '
                           f"WHERE article_id IN ({marks}) ORDER BY article_id, revision, idx", part):
            rows.setdefault((r[1], r[2]), []).append(r)
        old: dict[str, list] = {}
        for r in c.execute("SELECT article_id, revision, title, body, published_at, updated_at, valid_from, valid_to "
                           f"FROM revisions WHERE article_id IN ({marks}) ORDER BY article_id, revision", part):
            rev = Revision(r[1], _dt(r[6]), _dt(r[7]), r[2], r[3], _dt(r[4]), _dt(r[5]))
            chunks = tuple(Chunk(id=k[0], article_id=k[1], index=k[3], start=k[4], end=k[5], header=k[6], text=k[7],
                                 title=rev.title, published_at=rev.published_at) for k in rows.get((r[0], r[1]), ()))
            old.setdefault(r[0], []).append((rev, chunks))
        for aid, n, upd, vf in c.execute("SELECT article_id, revision, updated_at, valid_from FROM current_revision "
                                         f"WHERE article_id IN ({marks}) ORDER BY article_id", part):
            out.append(StoredRevisions(aid, n, _dt(upd), _dt(vf), first.get(aid), tuple(old.get(aid, ()))))
    return out


def revision_chunk_ids(records: "Records") -> list[str]:
    """Every stored chunk id of a superseded revision, sorted."""
    c = records.connection()
    return [r[0] for r in c.execute("SELECT id FROM revision_chunks ORDER BY id")] if _has(c) else []


def event_dates(records: "Records", article_id: str, revision: int | None = None) -> list[EventDate]:
    """The dates an article's body states (its current revision's unless ``revision``), by
    position in the body."""
    c = records.connection()
    if not _has(c):
        return []
    if revision is None:
        cur = current(records, article_id)
        revision = cur[0] if cur else 1
    q = ('SELECT article_id, revision, start, "end", day, kind, text FROM event_dates '
         "WHERE article_id=? AND revision=? ORDER BY start")
    return [EventDate(*r) for r in c.execute(q, (article_id, revision))]


def history(records: "Records", article_id: str) -> History | None:
    """An article's revisions, oldest first, each with the sentences it added and removed
    (``rag.text.split_sentences``); None when the article is not stored."""
    from rag.text import split_sentences

    art = records.get_article(article_id)
    if art is None:
        return None
    c = records.connection()
    rows = c.execute("SELECT revision,title,body,published_at,updated_at,valid_from,valid_to FROM revisions "
                     "WHERE article_id=? ORDER BY revision", (article_id,)).fetchall() if _has(c) else []
    cur = current(records, article_id)
    n, upd, vf = cur if cur else (len(rows) + 1, None, art.published_at)
    revs = [(r[0], r[1], r[2], _dt(r[3]), _dt(r[4]), _dt(r[5]), _dt(r[6])) for r in rows]
    revs.append((n, art.title, art.body, art.published_at, upd, vf, None))
    out: list[Revision] = []
    prev: list[str] | None = None
    for num, title, body, pub, updated, v_from, v_to in revs:
        sents = [body[a:b].strip() for a, b in split_sentences(body)]
        added = tuple(s for s in sents if s not in set(prev)) if prev is not None else ()
        removed = tuple(s for s in prev if s not in set(sents)) if prev is not None else ()
        out.append(Revision(num, v_from, v_to, title, body, pub, updated, added, removed))
        prev = sents
    return History(article_id=art.id, url=art.url, revisions=tuple(out))


# ---- integrity (``rag index verify``) ---------------------------------------------------
def problems(records: "Records") -> tuple[list[str], list[tuple[str, int]]]:
    """What is wrong with the revisions: (texts, the (article id, revision) pairs to drop):
    a revision without chunks, chunks without their revision, chunks that are not their
    revision body's spans."""
    c = records.connection()
    if not _has(c):
        return [], []
    texts: list[str] = []
    bad: set[tuple[str, int]] = set()
    empty = c.execute("SELECT r.article_id, r.revision FROM revisions r WHERE NOT EXISTS (SELECT 1 FROM "
                      "revision_chunks k WHERE k.article_id=r.article_id AND k.revision=r.revision)").fetchall()
    if empty:
        texts.append(f"{len(empty)} article revisions have no chunks")
        bad |= {tuple(r) for r in empty}
    lone = c.execute("SELECT DISTINCT k.article_id, k.revision FROM revision_chunks k LEFT JOIN revisions r ON "
                     "r.article_id=k.article_id AND r.revision=k.revision WHERE r.article_id IS NULL").fetchall()
    if lone:
        texts.append(f"chunks of {len(lone)} article revisions have no revision row")
        bad |= {tuple(r) for r in lone}
    wrong = {(aid, rev) for aid, rev, body, start, end, text in c.execute(
        'SELECT k.article_id, k.revision, r.body, k.start, k."end", k.text FROM revision_chunks k JOIN revisions r '
        "ON r.article_id=k.article_id AND r.revision=k.revision") if body[start:end] != text}
    if wrong:
        texts.append(f"{len(wrong)} article revisions have chunks that do not match their body")
        bad |= wrong
    return texts, sorted(bad)


def drop(records: "Records", pairs: Sequence[tuple[str, int]]) -> list[str]:
    """Delete these (article id, revision) revisions with their chunks and event dates, in
    one transaction that bumps the generation; returns the chunk ids deleted (whose vectors
    the caller deletes)."""
    gone: list[str] = []
    with records.transaction() as c:
        for aid, rev in pairs:
            gone += [r[0] for r in c.execute("SELECT id FROM revision_chunks WHERE article_id=? AND revision=?", (aid, rev))]
            for table in ("revisions", "revision_chunks", "event_dates"):
                c.execute(f"DELETE FROM {table} WHERE article_id=? AND revision=?", (aid, rev))
        c.execute("INSERT INTO meta VALUES ('generation','1') ON CONFLICT(key) DO UPDATE "
                  "SET value=CAST(value AS INTEGER)+1")
    return gone
