"""Ingest: files -> articles -> chunks -> vectors + records, in committed batches.

Order per batch (crash-safe): new chunk vectors are written to chroma first, then the
article and chunk records are committed in one SQLite transaction (which also journals the
chunk ids an edit removed), then those chunks' vectors are deleted and the journal cleared (a
run killed before that finishes the deletes at the start of the next run). An article is
"ingested" once its records commit; a crash at any point leaves an index that opens, and the
next run redoes only what was not committed. The chroma client is opened under the ingest
lock and closed at the end: an embedded chroma caches state per process.
Unchanged articles are skipped by content hash; unchanged passages of an edited article keep
their chunk ids and are not embedded again (nor are passages an edit only moved: their vectors
are taken from the dense snapshot by text); identical bodies under other URLs are stored once.
An edit that changes the body keeps the body it replaces as a revision
(:mod:`rag.index.revisions`), its chunks stored again under revision ids with their vectors
copied; the dates each body states are stored with it, in the same transaction. The store's
refresh gives the vector store each committed article's revisions (:mod:`rag.index.chunkmeta`),
so that a restore of lost records brings them back.

Three stages overlap (:mod:`rag.ingest.stages`): the calling thread parses and chunks
articles into batches of about ``BATCH_CHUNKS`` new chunks, an embedding thread embeds each
batch, and a writer thread writes it as above. Embedding (MiniLM on a CPU) is nearly all of
the cost; the rest runs beside it. A write that fails (a full disk above all) stops the run
with one :class:`rag.errors.WriteFailed` line saying how far it got; what was committed stays.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from rag.errors import BadInput
from rag.index import revisions
from rag.index.embedding import Embedder
from rag.index.store import IndexStore
from rag.ingest.chunking import chunk_article
from rag.ingest.ids import body_hash, content_hash
from rag.ingest.loaders import iter_articles
from rag.ingest.stages import Batch, Stages
from rag.ingest.write_errors import committed_so_far, write_failure
from rag.types import Article, BadRecord, Chunk, ChunkedArticle, IngestReport

BATCH_CHUNKS = 256  # new chunks per committed batch: a few seconds of MiniLM embedding on a CPU


def article_hash(article: Article) -> str:
    """Hash of everything about an article that a reader sees."""
    d = article.to_dict()
    for k in ("id", "source_file", "also_in", "updated_at"):  # a new updated_at alone is no edit
        d.pop(k, None)
    return content_hash(d)


def ingest_paths(
    store: IndexStore,
    embedder: Embedder,
    paths: Sequence[str | Path],
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    stats: dict[str, Any] | None = None,
    chunked: Iterable[ChunkedArticle] | None = None,
    bad_records: list[BadRecord] | None = None,
    batch_chunks: int | None = None,
) -> IngestReport:
    """Ingest every article under ``paths`` into ``store``. Bad records are reported in the
    returned report and skipped; everything else is ingested. ``on_progress(articles,
    chunks)`` is called after each committed batch (the UI uses it), in the calling thread.
    ``stats``, when given, receives seconds per stage (``parse``, ``embed``, ``chroma``,
    ``sqlite``, ``wait``, ``refresh``) and the numbers of chunks ``embedded`` and ``reused``.

    ``chunked`` replaces reading ``paths`` (which are then only checked to exist): articles
    chunked elsewhere (``rag.ingest.ray_ingest``), whose producer appends the BadRecords it
    meets to ``bad_records`` (read once ``chunked`` is exhausted). ``batch_chunks`` overrides
    ``BATCH_CHUNKS``. A failed write raises :class:`rag.errors.WriteFailed` (``StorageFull``
    for a full disk)."""
    _check_exist(paths)
    t0 = time.perf_counter()
    bad = [] if bad_records is None or chunked is None else bad_records
    items = _read(paths, bad) if chunked is None else ((c.article, c.chunks) for c in chunked)
    stats = {} if stats is None else stats
    with store.ingest_lock():
        store.release_vectors()  # a chroma client opened before the lock may be stale
        _finish_killed_deletes(store)
        embedded_before = stats.get("embedded", 0)
        run = _Run(store, embedder, stats, batch_chunks or BATCH_CHUNKS, progress, on_progress)
        run.ingest(items)
    return IngestReport(seconds=time.perf_counter() - t0, skipped=len(bad), errors=tuple(bad), embedder=embedder.name,
                        chunks_embedded=stats.get("embedded", 0) - embedded_before, **run.counts)


def _check_exist(paths: Sequence[str | Path]) -> None:
    for p in paths:
        if not Path(p).exists():
            raise BadInput("no such file or directory", file=str(p))


def _read(paths: Sequence[str | Path], bad: list[BadRecord]) -> Iterator[tuple[Article, None]]:
    """The articles under ``paths``, not yet chunked (chunked only if new or edited); the bad
    records go to ``bad``."""
    for item in iter_articles(paths):
        if isinstance(item, BadRecord):
            bad.append(item)
        else:
            yield item, None


def _finish_killed_deletes(store: IndexStore) -> None:
    """Delete the vectors of chunks a killed run committed the removal of, then the journal."""
    stale = store.records.pending_vector_deletes()
    if stale:
        store.vectors.delete(stale)
        store.records.clear_pending_vector_deletes()


class _Run:
    """One ingest run: what it counted, the batch being filled, and its steps in order
    (:meth:`ingest` -> :meth:`add` per article -> :meth:`write` per batch on the writer
    thread -> clusters -> :meth:`refresh`)."""

    def __init__(self, store: IndexStore, embedder: Embedder, stats: dict[str, Any], batch_chunks: int,
                 progress: bool, on_progress: Callable[[int, int], None] | None):
        self.store = store
        self.stats = stats
        self.batch_chunks = batch_chunks
        self.on_progress = on_progress
        self.counts = dict(new=0, updated=0, revised=0, unchanged=0, duplicates=0, chunks_added=0, chunks_removed=0)
        self.seen_bodies: dict[str, str] = {}  # body hash -> article id, this run
        self.pending = Batch()
        self.read = 0  # articles read so far: the ordinal of the current one
        self.done_articles = 0
        self.committed: tuple[int, str | None] | None = None  # how far the writer got
        self.bar = _bar(progress)
        self.stages = Stages(self.write, self.on_written, embedder, stats)

    # ---- the calling thread ---------------------------------------------------------
    def ingest(self, items: Iterable[tuple[Article, Sequence[Chunk] | None]]) -> None:
        """Plan and batch every article, wait for the writes, update the story clusters, and
        refresh the search snapshots (also after a failure: what was committed is served)."""
        failing = False
        t_loop = time.perf_counter()
        try:
            for article, chunks in items:
                self.add(article, chunks)
            self.flush()
            self.stats["parse"] = time.perf_counter() - t_loop - self.stats.get("wait", 0.0)
            self.stages.wait()
            self.stages.close()
            self.update_clusters()
        except BaseException:
            failing = True
            self.stages.abort()
            raise
        finally:
            if self.bar is not None:
                self.bar.close()
            self.refresh(failing)

    def add(self, article: Article, chunks: Sequence[Chunk] | None) -> None:
        """Skip ``article`` if unchanged, note it as a copy if its body is already stored,
        else put it (chunked now if ``chunks`` is None) in the batch."""
        self.read += 1
        if self.bar is not None:
            self.bar.update(1)
        if article.id in self.pending.ids or article.id in self.stages.inflight:
            self.flush()  # the same article twice in one run: commit the first one first
            self.stages.wait()
        chash, bhash = article_hash(article), body_hash(article.body)
        state = self.store.records.article_state(article.id)
        if state is not None and state[0] == chash:
            self.counts["unchanged"] += 1
            return
        dup = self.seen_bodies.get(bhash) or self.store.records.find_by_body_hash(bhash)
        if dup is not None and dup != article.id:
            self.counts["duplicates"] += 1
            self.pending.also_in.append((dup, _where(article)))
            self.pending.upto = (self.read, article.source_file)
            return
        self.seen_bodies[bhash] = article.id
        if chunks is None:
            chunks = chunk_article(article, self.store.config.chunk_tokens, self.store.config.chunk_overlap)
        self._stage(article, chash, bhash, tuple(chunks), state)
        self.counts["updated" if state else "new"] += 1
        if len(self.pending.new_chunks) >= self.batch_chunks:
            self.flush()

    def _stage(self, article: Article, chash: str, bhash: str, chunks: tuple[Chunk, ...], state) -> None:
        """Put a new or edited article in the batch: only its chunks not stored already are
        embedded (or take the vector of an identical old passage); its dropped chunks go; a
        replaced body is kept as a revision."""
        batch = self.pending
        old = set(state[1]) if state else set()
        batch.upserts.append((article, chash, bhash, chunks))
        batch.revisions.append(self._revision(article, bhash, state is not None))
        fresh = [c for c in chunks if c.id not in old]
        if old and fresh:
            batch.reused.update(_moved_passages(self.store, sorted(old), fresh))
        batch.new_chunks.extend(fresh)
        batch.removed.extend(sorted(old - {c.id for c in chunks}))
        batch.ids.add(article.id)
        batch.upto = (self.read, article.source_file)

    def _revision(self, article: Article, bhash: str, stored: bool) -> revisions.RevisionWrite:
        """The revision rows of ``article`` and its event dates; when its body changed, the
        stored revision's chunks join the batch under revision ids with their vectors."""
        from rag.ingest.event_dates import resolve_dates

        records, now = self.store.records, datetime.now(timezone.utc)
        dates = resolve_dates(article.body, article.published_at)
        if not stored:
            return revisions.plan_write(records, article, False, dates, now)
        (prev,) = records.stored_articles([article.id])
        changed = revisions.stored_body_hash(records, article.id) != bhash
        rev = revisions.plan_write(records, article, changed, dates, now, prev.article, prev.chunks)
        if rev.old_chunks:
            ids = [c.id for c in prev.chunks]
            vecs = self.store.dense.get_vectors(ids)
            missing = [c for c in ids if c not in vecs]
            if missing:
                vecs.update(self.store.vectors.get_vectors(missing))
            for was, kept in zip(prev.chunks, rev.old_chunks):
                if was.id in vecs:
                    self.pending.reused[kept.id] = np.asarray(vecs[was.id], dtype=np.float32)
            self.pending.new_chunks.extend(rev.old_chunks)
        return rev

    def flush(self) -> None:
        """Hand the batch being filled to the embedding thread (if it holds anything)."""
        if not self.pending.upserts and not self.pending.also_in:
            return
        self.stages.submit(self.pending)
        self.pending = Batch()

    def on_written(self, batches: list[Batch]) -> None:
        """Count committed batches and report progress."""
        for batch in batches:
            self.counts["chunks_added"] += len(batch.new_chunks) - sum(len(r.old_chunks) for r in batch.revisions)
            self.counts["chunks_removed"] += len(batch.removed)
            self.counts["revised"] += sum(1 for r in batch.revisions if r.old is not None)
            self.done_articles += len(batch.upserts)
        if batches:
            if self.bar is not None:
                self.bar.set_postfix(chunks=self.counts["chunks_added"], refresh=False)
            if self.on_progress is not None:
                self.on_progress(self.done_articles, self.counts["chunks_added"])

    def update_clusters(self) -> None:
        """Sketch new and edited articles into story clusters (rag/retrieve/syndication.py):
        derived data, so whatever a killed run left unsketched the next ingest catches up."""
        from rag.retrieve.syndication import update_clusters

        with self._writing(self._records_file()):
            update_clusters(self.store.records)

    def refresh(self, failing: bool) -> None:
        """Rebuild the search snapshots from what was committed, and close chroma. When the run
        is already failing, a failed refresh is left to the next reader (which rebuilds them)
        and the first error stands."""
        t = time.perf_counter()
        try:
            with self._writing(str(self.store.path)):  # bm25/, dense/, manifest.json
                self.store.refresh(self.stages.written)
            self.stats["refresh"] = time.perf_counter() - t
        except Exception:
            if not failing:
                raise
        finally:
            self.store.release_vectors()

    # ---- the writer thread ----------------------------------------------------------
    def write(self, batch: Batch, vecs: np.ndarray) -> None:
        """Write one batch: vectors, then records in one transaction, then removed vectors."""
        stats, store = self.stats, self.store
        t = time.perf_counter()
        if batch.new_chunks:
            with self._writing(self._vectors_folder()):
                store.vectors.upsert(batch.new_chunks, vecs)
        t1 = time.perf_counter()
        with self._writing(self._records_file()):
            store.records.commit_articles(batch.upserts, batch.removed, batch.also_in,
                                          extra=lambda c: revisions.write(c, batch.revisions))
        self.committed = batch.upto or self.committed
        t2 = time.perf_counter()
        if batch.removed:
            with self._writing(self._vectors_folder()):
                store.vectors.delete(batch.removed)
            with self._writing(self._records_file()):
                store.records.clear_pending_vector_deletes()
        t3 = time.perf_counter()
        stats["chroma"] = stats.get("chroma", 0.0) + (t1 - t) + (t3 - t2)
        stats["sqlite"] = stats.get("sqlite", 0.0) + (t2 - t1)

    @contextmanager
    def _writing(self, where: str):
        """A storage failure inside the block becomes one WriteFailed line naming ``where``."""
        try:
            yield
        except Exception as exc:
            err = write_failure(exc, where, committed_so_far(self.committed))
            if err is None:
                raise
            raise err from exc

    def _vectors_folder(self) -> str:
        return self.store.vectors_location  # chroma's folder, or the chroma server's URL

    def _records_file(self) -> str:
        return str(self.store.path / "records.sqlite3")


def _moved_passages(store: IndexStore, old_ids: list[str], fresh: list[Chunk]) -> dict[str, np.ndarray]:
    """Vectors for new chunks of an edited article whose indexed text equals one of its old
    chunks' (an edit earlier in the body moves later passages: new offsets, so new ids, but
    the same text), from the dense snapshot."""
    old = store.records.get_chunks(old_ids)
    by_text = {ch.indexed_text: cid for cid, ch in old.items()}
    match = {c.id: by_text[c.indexed_text] for c in fresh if c.indexed_text in by_text}
    if not match:
        return {}
    vecs = store.dense.get_vectors(list(set(match.values())))
    return {new: np.asarray(vecs[o], dtype=np.float32) for new, o in match.items() if o in vecs}


def _where(article: Article) -> str:
    parts = [p for p in (article.outlet, article.published_at.date().isoformat() if article.published_at else None, article.url or article.source_file) if p]
    return " | ".join(parts)


def _bar(progress: bool):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(desc="ingest", unit="article", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
