"""Article and chunk records in SQLite: the source of truth for what an index holds.

An article counts as ingested once its row and its chunk rows are committed in one
transaction; the dense store and BM25 are derived from these rows and can be checked and
rebuilt against them. ``generation`` increases with every commit that changes content.
Superseded revisions and event dates live in the same file (:mod:`rag.index.revisions`).

A damaged database file (overwritten, truncated: SQLite says "file is not a database" or
"database disk image is malformed") raises :class:`rag.errors.IndexDamaged` from every method,
one line naming the file and the repair command, never a ``sqlite3.DatabaseError``.
"""
from __future__ import annotations

import functools
import inspect
import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from rag.errors import IndexDamaged
from rag.index import revisions
from rag.types import Article, Chunk, byline

_IN_BATCH = 500  # ids per ``IN (...)`` query: under SQLite's default limit of 999 bound variables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    outlet TEXT, author TEXT, published_at TEXT, url TEXT, category TEXT, source_file TEXT,
    also_in TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS articles_body_hash ON articles(body_hash);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id),
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    header TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


# ---- syndication clusters (rag/retrieve/syndication.py) ----------------------------------------
# One MinHash sketch per article and the cluster (story) it belongs to. Derived data: an
# index made before this table existed opens as it is and gets it on its next ingest.
_CLUSTER_SCHEMA = """
CREATE TABLE IF NOT EXISTS sketches (
    article_id TEXT PRIMARY KEY,
    body_hash TEXT NOT NULL,
    sig BLOB NOT NULL,
    kind TEXT NOT NULL,
    cluster TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sketches_cluster ON sketches(cluster);
"""

# ---- article metadata in the vector store (rag/index/chunkmeta.py) ---------------------------
# Articles whose chunks' metadata in the vector store must be rewritten from these records,
# journaled by the commit that changed them and cleared by IndexStore.sync_vector_metadata.
# An index made before this table existed gets it on open (and has nothing journaled).
_VECTOR_META_SCHEMA = """
CREATE TABLE IF NOT EXISTS vector_meta_todo (article_id TEXT PRIMARY KEY);
"""


@dataclass(frozen=True)
class StoredArticle:
    """An article as the records hold it: the article, its content hash and its chunks."""

    article: Article
    content_hash: str
    chunks: tuple[Chunk, ...]


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _article(row: Sequence) -> Article:
    """An Article from (id, title, body, outlet, author, published_at, url, category, source_file, also_in)."""
    return Article(
        id=row[0], title=row[1], body=row[2], outlet=row[3], author=row[4],
        published_at=_dt(row[5]), url=row[6], category=row[7], source_file=row[8],
        also_in=tuple(json.loads(row[9])),
    )


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _is_damage(exc: BaseException) -> bool:
    """SQLite's corrupt and not-a-database errors are plain ``DatabaseError``s; its subclasses
    (locked, read-only, disk full, constraint failures...) are not damage to the file."""
    return type(exc) is sqlite3.DatabaseError


def _damaged(path: Path, exc: BaseException) -> IndexDamaged:
    return IndexDamaged(f"{path} is damaged ({exc}); run `rag index verify --repair --index {path.parent}`")


def _reports_damage(fn):
    """Wrap a :class:`Records` method (or generator method) so that a damaged file raises
    :class:`IndexDamaged` instead of ``sqlite3.DatabaseError``."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(self, *args, **kwargs):
            try:
                yield from fn(self, *args, **kwargs)
            except sqlite3.DatabaseError as exc:
                if _is_damage(exc):
                    raise _damaged(self.path, exc) from exc
                raise
        return gen

    @functools.wraps(fn)
    def call(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                raise _damaged(self.path, exc) from exc
            raise
    return call


def _every_method_reports_damage(cls):
    """Apply :func:`_reports_damage` to ``__init__`` and every public method of ``cls``."""
    for name, value in list(vars(cls).items()):
        if inspect.isfunction(value) and (name == "__init__" or not name.startswith("_")):
            setattr(cls, name, _reports_damage(value))
    return cls


@_every_method_reports_damage
class Records:
    """SQLite-backed article and chunk records (WAL mode, one writer, many readers)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self._conn() as c:
            c.executescript(_SCHEMA)
        for script in (_CLUSTER_SCHEMA, _VECTOR_META_SCHEMA, revisions.SCHEMA):
            try:
                self._conn().executescript(script)
            except sqlite3.OperationalError:
                pass  # a read-only index made before these tables existed: it has none

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (for reads of :mod:`rag.index.revisions`)."""
        return self._conn()

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): committed when the block ends, rolled
        back when it raises; writers of this object take turns."""
        with self._write_lock:
            c = self._conn()
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    # ---- reads -------------------------------------------------------------------------
    def generation(self) -> int:
        """The content generation: bumped by every commit that changes articles or chunks."""
        row = self._conn().execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def article_state(self, article_id: str) -> tuple[str, list[str]] | None:
        """(content_hash, chunk ids) of a stored article, or None."""
        c = self._conn()
        row = c.execute("SELECT content_hash FROM articles WHERE id=?", (article_id,)).fetchone()
        if row is None:
            return None
        ids = [r[0] for r in c.execute("SELECT id FROM chunks WHERE article_id=? ORDER BY idx", (article_id,))]
        return row[0], ids

    def find_by_body_hash(self, body_hash: str) -> str | None:
        """Id of a stored article with this normalized body, if any."""
        row = self._conn().execute("SELECT id FROM articles WHERE body_hash=? LIMIT 1", (body_hash,)).fetchone()
        return row[0] if row else None

    def get_article(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        row = self._conn().execute(
            "SELECT id,title,body,outlet,author,published_at,url,category,source_file,also_in "
            "FROM articles WHERE id=?",
            (article_id,),
        ).fetchone()
        return _article(row) if row is not None else None

    def get_chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks by id (ids not stored are left out)."""
        out: dict[str, Chunk] = {}
        c = self._conn()
        ids = list(chunk_ids)
        for i in range(0, len(ids), _IN_BATCH):
            part = ids[i : i + _IN_BATCH]
            q = (
                'SELECT c.id,c.article_id,c.idx,c.text,c.start,c."end",c.header,a.title,a.outlet,'
                "a.author,a.published_at,a.url,a.category FROM chunks c JOIN articles a "
                f"ON a.id=c.article_id WHERE c.id IN ({_marks(len(part))})"
            )
            for r in c.execute(q, part):
                out[r[0]] = Chunk(
                    id=r[0], article_id=r[1], index=r[2], text=r[3], start=r[4], end=r[5],
                    header=r[6], title=r[7], outlet=r[8], author=r[9], published_at=_dt(r[10]),
                    url=r[11], category=r[12],
                )
        out.update(revisions.revision_chunks(c, [i for i in ids if i not in out]))
        return out

    def iter_chunk_rows(self) -> Iterator[tuple[str, str, str, str | None, str | None]]:
        """(chunk id, header, text, outlet, published_at) of every chunk, in a stable order."""
        q = 'SELECT c.id,c.header,c.text,a.outlet,a.published_at FROM chunks c JOIN articles a ON a.id=c.article_id ORDER BY c.id'
        yield from self._conn().execute(q)

    def chunk_ids(self) -> list[str]:
        """Every stored chunk id, sorted."""
        return [r[0] for r in self._conn().execute("SELECT id FROM chunks ORDER BY id")]

    def counts(self) -> dict[str, int]:
        """Numbers of articles and chunks."""
        c = self._conn()
        return {
            "articles": c.execute("SELECT count(*) FROM articles").fetchone()[0],
            "chunks": c.execute("SELECT count(*) FROM chunks").fetchone()[0],
        }

    def outlets(self) -> list[tuple[str, int]]:
        """(outlet, article count), most articles first."""
        q = "SELECT outlet, count(*) FROM articles WHERE outlet IS NOT NULL GROUP BY outlet ORDER BY 2 DESC, 1"
        return [(r[0], r[1]) for r in self._conn().execute(q)]

    def date_span(self) -> tuple[datetime | None, datetime | None]:
        """Earliest and latest publication dates."""
        r = self._conn().execute("SELECT min(published_at), max(published_at) FROM articles").fetchone()
        return _dt(r[0]), _dt(r[1])

    def iter_articles(self) -> Iterator[Article]:
        """Every stored article."""
        for (aid,) in self._conn().execute("SELECT id FROM articles ORDER BY id").fetchall():
            art = self.get_article(aid)
            if art is not None:
                yield art

    def pending_vector_deletes(self) -> list[str]:
        """Chunk ids whose rows a commit deleted but whose vectors may remain (a run killed
        before the vector delete), minus any id stored again since."""
        c = self._conn()
        row = c.execute("SELECT value FROM meta WHERE key='pending_vector_deletes'").fetchone()
        ids = json.loads(row[0]) if row else []
        stored = {r[0] for i in range(0, len(ids), _IN_BATCH)
                  for r in c.execute(f"SELECT id FROM chunks WHERE id IN ({_marks(len(ids[i:i + _IN_BATCH]))})", ids[i : i + _IN_BATCH])}
        return [i for i in ids if i not in stored]

    def clear_pending_vector_deletes(self) -> None:
        """Forget the journal of :meth:`pending_vector_deletes` (their vectors are deleted)."""
        with self._write_lock:
            self._conn().execute("DELETE FROM meta WHERE key='pending_vector_deletes'")

    # ---- writes ------------------------------------------------------------------------
    def commit_articles(
        self,
        upserts: Iterable[tuple[Article, str, str, Sequence[Chunk]]],
        removed_chunk_ids: Iterable[str],
        also_in: Iterable[tuple[str, str]] = (),
        extra: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """In one transaction: replace each (article, content_hash, body_hash, chunks), delete
        the given chunk rows, record extra outlets of duplicate bodies, and run ``extra(conn)``
        (revisions and event dates). Every article it changes is journaled for
        :meth:`vector_metadata_todo`."""
        with self.transaction() as c:
            removed = list(removed_chunk_ids)
            for i in range(0, len(removed), _IN_BATCH):
                part = removed[i : i + _IN_BATCH]
                c.execute(f"DELETE FROM chunks WHERE id IN ({_marks(len(part))})", part)
            if removed:  # their vectors go after this commit: journal them with it
                row = c.execute("SELECT value FROM meta WHERE key='pending_vector_deletes'").fetchone()
                pending = sorted(set(json.loads(row[0]) if row else []) | set(removed))
                c.execute("INSERT OR REPLACE INTO meta VALUES ('pending_vector_deletes', ?)", (json.dumps(pending),))
            changed: list[str] = []
            for art, chash, bhash, chunks in upserts:
                prev = c.execute("SELECT also_in FROM articles WHERE id=?", (art.id,)).fetchone()
                more = sorted(set(json.loads(prev[0]) if prev else []) | set(art.also_in))
                c.execute(
                    "INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        art.id, chash, bhash, art.title, art.body, art.outlet, art.author,
                        art.published_at.isoformat() if art.published_at else None,
                        art.url, art.category, art.source_file, json.dumps(more),
                    ),
                )
                c.executemany(
                    'INSERT OR REPLACE INTO chunks (id,article_id,idx,start,"end",header,text) VALUES (?,?,?,?,?,?,?)',
                    [(ch.id, ch.article_id, ch.index, ch.start, ch.end, ch.header, ch.text) for ch in chunks],
                )
                changed.append(art.id)
            for aid, where in also_in:
                row = c.execute("SELECT also_in FROM articles WHERE id=?", (aid,)).fetchone()
                if row is not None:
                    vals = sorted(set(json.loads(row[0])) | {where})
                    c.execute("UPDATE articles SET also_in=? WHERE id=?", (json.dumps(vals), aid))
                    changed.append(aid)
            if changed and self._has_table("vector_meta_todo"):
                c.executemany("INSERT OR IGNORE INTO vector_meta_todo VALUES (?)", [(a,) for a in changed])
            if extra is not None:
                extra(c)
            c.execute(
                "INSERT INTO meta VALUES ('generation','1') ON CONFLICT(key) DO UPDATE "
                "SET value=CAST(value AS INTEGER)+1"
            )

    # ---- article metadata in the vector store ------------------------------------------
    def vector_metadata_todo(self, limit: int | None = None) -> list[str]:
        """Ids of articles changed by a commit whose chunk metadata in the vector store is not
        rewritten yet (at most ``limit``), oldest journal entry first."""
        if not self._has_table("vector_meta_todo"):
            return []
        q = "SELECT article_id FROM vector_meta_todo ORDER BY rowid" + (" LIMIT ?" if limit else "")
        return [r[0] for r in self._conn().execute(q, (limit,) if limit else ())]

    def clear_vector_metadata_todo(self, article_ids: Sequence[str]) -> None:
        """Take ``article_ids`` off the journal of :meth:`vector_metadata_todo`."""
        ids = list(article_ids)
        if not ids:
            return
        with self.transaction() as c:
            for i in range(0, len(ids), _IN_BATCH):
                part = ids[i : i + _IN_BATCH]
                c.execute(f"DELETE FROM vector_meta_todo WHERE article_id IN ({_marks(len(part))})", part)

    def stored_articles(self, article_ids: Sequence[str]) -> list[StoredArticle]:
        """The stored articles among ``article_ids`` with their content hashes and chunks, in
        the order given (ids not stored are left out)."""
        ids = list(dict.fromkeys(article_ids))
        rows: dict[str, tuple] = {}
        chunks: dict[str, list[Chunk]] = {}
        c = self._conn()
        for i in range(0, len(ids), _IN_BATCH):
            part = ids[i : i + _IN_BATCH]
            for r in c.execute(
                "SELECT id,title,body,outlet,author,published_at,url,category,source_file,also_in,content_hash "
                f"FROM articles WHERE id IN ({_marks(len(part))})", part,
            ):
                rows[r[0]] = r
            for r in c.execute(
                'SELECT id,article_id,idx,text,start,"end",header FROM chunks '
                f"WHERE article_id IN ({_marks(len(part))}) ORDER BY article_id, idx", part,
            ):
                chunks.setdefault(r[1], []).append(r)
        out = []
        for aid in ids:
            r = rows.get(aid)
            if r is None:
                continue
            art = _article(r)
            out.append(StoredArticle(art, r[10], tuple(
                Chunk(id=cid, article_id=aid, index=idx, text=text, start=start, end=end, header=header,
                      **byline(art), category=art.category)
                for cid, _aid, idx, text, start, end, header in chunks.get(aid, ())
            )))
        return out

    # ---- what the integrity check reads ------------------------------------------------
    def quick_check(self) -> list[str]:
        """SQLite's ``PRAGMA quick_check``: ``["ok"]`` for a sound file, else what is wrong (an
        unreadable file raises :class:`IndexDamaged`; a locked one gives SQLite's error)."""
        try:
            return [r[0] for r in self._conn().execute("PRAGMA quick_check")]
        except sqlite3.OperationalError as exc:
            return [str(exc)]

    def orphan_chunk_ids(self) -> list[str]:
        """Ids of chunk rows whose article row is gone."""
        q = "SELECT id FROM chunks WHERE article_id NOT IN (SELECT id FROM articles)"
        return [r[0] for r in self._conn().execute(q)]

    def bodies(self) -> dict[str, str]:
        """{article id: body} of every article."""
        return dict(self._conn().execute("SELECT id, body FROM articles"))

    def iter_chunk_spans(self) -> Iterator[tuple[str, str, int, int, int, str]]:
        """(chunk id, article id, index, start, end, text) of every chunk row, by article and index."""
        yield from self._conn().execute('SELECT id, article_id, idx, start, "end", text FROM chunks ORDER BY article_id, idx')

    def repeated_bodies(self) -> int:
        """How many articles repeat the normalized body of another one."""
        return self._conn().execute("SELECT count(*) - count(DISTINCT body_hash) FROM articles").fetchone()[0]

    # ---- syndication clusters ----------------------------------------------------------
    def _has_table(self, name: str) -> bool:
        row = self._conn().execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        return row is not None

    def sketch_todo(self) -> list[tuple[str, str, str, str | None]]:
        """(id, body, body_hash, published_at) of articles without an up-to-date sketch."""
        if not self._has_table("sketches"):
            return []
        q = ("SELECT a.id, a.body, a.body_hash, a.published_at FROM articles a LEFT JOIN sketches s "
             "ON s.article_id = a.id WHERE s.article_id IS NULL OR s.body_hash != a.body_hash")
        return [tuple(r) for r in self._conn().execute(q)]

    def sketch_row(self, article_id: str) -> tuple[str, str, str, str | None] | None:
        """The :meth:`sketch_todo` row of one article."""
        r = self._conn().execute("SELECT id, body, body_hash, published_at FROM articles WHERE id=?", (article_id,)).fetchone()
        return tuple(r) if r else None

    def sketches(self) -> list[tuple[str, bytes, str, str]]:
        """(article id, signature bytes, signature kind, cluster) of every sketched article."""
        if not self._has_table("sketches"):
            return []
        q = "SELECT s.article_id, s.sig, s.kind, s.cluster FROM sketches s JOIN articles a ON a.id = s.article_id"
        return [tuple(r) for r in self._conn().execute(q)]

    def save_sketches(self, rows: Sequence[tuple[str, str, bytes, str, str]]) -> None:
        """Store (article id, body hash, signature, kind, cluster) rows in one transaction."""
        if not rows:
            return
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO sketches VALUES (?,?,?,?,?)", rows)
            c.execute(
                "INSERT INTO meta VALUES ('clusters','1') ON CONFLICT(key) DO UPDATE "
                "SET value=CAST(value AS INTEGER)+1"
            )

    def clusters_version(self) -> int:
        """Bumped by every change to the clusters."""
        row = self._conn().execute("SELECT value FROM meta WHERE key='clusters'").fetchone()
        return int(row[0]) if row else 0

    def cluster_sizes(self) -> list[int]:
        """Number of articles in each cluster."""
        if not self._has_table("sketches"):
            return []
        q = "SELECT count(*) FROM sketches s JOIN articles a ON a.id = s.article_id GROUP BY s.cluster"
        return [r[0] for r in self._conn().execute(q)]

    def multi_clusters(self) -> dict[str, list[tuple[str, str | None, str | None, str | None]]]:
        """cluster -> [(article id, outlet, published_at, url)] for clusters of 2+ articles."""
        if not self._has_table("sketches"):
            return {}
        q = ("SELECT s.cluster, a.id, a.outlet, a.published_at, a.url FROM sketches s JOIN articles a "
             "ON a.id = s.article_id WHERE s.cluster IN (SELECT cluster FROM sketches GROUP BY cluster "
             "HAVING count(*) > 1) ORDER BY s.cluster, a.published_at, a.id")
        out: dict[str, list] = {}
        for cluster, aid, outlet, published, url in self._conn().execute(q):
            out.setdefault(cluster, []).append((aid, outlet, published, url))
        return {c: ms for c, ms in out.items() if len(ms) > 1}

    def also_in(self, article_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The ``also_in`` entries (identical bodies stored once) of the given articles."""
        out: dict[str, tuple[str, ...]] = {}
        ids = list(dict.fromkeys(article_ids))
        for i in range(0, len(ids), _IN_BATCH):
            part = ids[i : i + _IN_BATCH]
            q = f"SELECT id, also_in FROM articles WHERE id IN ({_marks(len(part))})"
            for aid, raw in self._conn().execute(q, part):
                vals = tuple(json.loads(raw or "[]"))
                if vals:
                    out[aid] = vals
        return out
