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

Three stages overlap: the calling thread parses and chunks articles into batches of about
``BATCH_CHUNKS`` new chunks, an embedding thread embeds each batch, and a writer thread writes
it as above. Batches are written one at a time in the order they were made, so the per-batch
crash safety holds; at most ``QUEUE_DEPTH`` batches are in flight, so memory stays bounded.
Embedding (MiniLM on a CPU) is nearly all of the cost; the rest now runs beside it.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from rag.ingest.chunking import chunk_article
from rag.index.embedding import Embedder
from rag.errors import BadInput
from rag.ingest.ids import body_hash, content_hash
from rag.ingest.loaders import iter_articles
from rag.index.store import IndexStore
from rag.types import Article, BadRecord, Chunk, IngestReport

BATCH_CHUNKS = 256
QUEUE_DEPTH = 3  # batches parsed ahead of the writer (embedding one, writing one, one waiting)


def article_hash(article: Article) -> str:
    """Hash of everything about an article that a reader sees."""
    d = article.to_dict()
    for k in ("id", "source_file", "also_in"):
        d.pop(k)
    return content_hash(d)


@dataclass
class _Pending:
    upserts: list[tuple[Article, str, str, list[Chunk]]] = field(default_factory=list)
    new_chunks: list[Chunk] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    also_in: list[tuple[str, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    reused: dict[str, np.ndarray] = field(default_factory=dict)  # new chunk id -> vector of an identical old passage


class _Pipeline:
    """The embedding and writer threads of one ingest (see the module docstring).

    ``submit`` hands a batch over (blocking while ``QUEUE_DEPTH`` batches are in flight);
    ``poll``/``wait`` deliver finished batches to the calling thread, which alone reports
    progress. A failure in either thread is re-raised in the calling thread. Batches already
    embedded are written, in order, up to the first failure; after a failure, or ``abort``
    (Ctrl-C), nothing more is embedded or written.
    """

    def __init__(
        self,
        write: Callable[["_Pending", np.ndarray | None], None],
        on_written: Callable[[list["_Pending"]], None],
        embedder: Embedder,
        stats: dict[str, Any],
    ):
        self._write_batch = write
        self._on_written = on_written
        self._embedder = embedder
        self._stats = stats
        self._slots = threading.Semaphore(QUEUE_DEPTH)
        self._to_embed: queue.Queue = queue.Queue()
        self._to_write: queue.Queue = queue.Queue()
        self._done: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.submitted = self.finished = 0
        self.inflight: set[str] = set()  # article ids submitted and not yet written
        self.written: dict[str, np.ndarray] = {}  # chunk id -> vector written to chroma
        self._embedder_thread = threading.Thread(target=self._embed_loop, name="ingest-embed", daemon=True)
        self._writer_thread = threading.Thread(target=self._write_loop, name="ingest-write", daemon=True)
        self._embedder_thread.start()
        self._writer_thread.start()

    def _add(self, key: str, seconds: float) -> None:
        self._stats[key] = self._stats.get(key, 0.0) + seconds

    def _embed_loop(self) -> None:
        failed = False
        while True:
            batch = self._to_embed.get()
            if batch is None:
                self._to_write.put(None)
                return
            vecs = None
            if not failed and not self._stop.is_set():
                try:
                    t = time.perf_counter()
                    vecs = self._vectors(batch)
                    self._add("embed", time.perf_counter() - t)
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    self.error = self.error or exc
                    failed = True
            self._to_write.put((batch, vecs))

    def _vectors(self, batch: "_Pending") -> np.ndarray:
        todo = [c for c in batch.new_chunks if c.id not in batch.reused]
        dim = self._embedder.dim
        out = np.empty((len(batch.new_chunks), dim), dtype=np.float32)
        got = self._embedder.embed_texts([c.indexed_text for c in todo]) if todo else np.zeros((0, dim), np.float32)
        rows = iter(got)
        for i, c in enumerate(batch.new_chunks):
            v = batch.reused.get(c.id)
            out[i] = v if v is not None else next(rows)
        self._stats["embedded"] = self._stats.get("embedded", 0) + len(todo)
        self._stats["reused"] = self._stats.get("reused", 0) + len(batch.new_chunks) - len(todo)
        return out

    def _write_loop(self) -> None:
        failed = False
        while True:
            item = self._to_write.get()
            if item is None:
                return
            batch, vecs = item
            ok = False
            if not failed and vecs is not None:
                try:
                    self._write_batch(batch, vecs)
                    ok = True
                    if vecs is not None:
                        self.written.update(zip((c.id for c in batch.new_chunks), vecs))
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    self.error = self.error or exc
            failed = failed or not ok
            self._done.put((batch, ok))
            self._slots.release()

    def submit(self, batch: "_Pending") -> None:
        t = time.perf_counter()
        while not self._slots.acquire(timeout=0.2):
            self.poll()
        self._add("wait", time.perf_counter() - t)
        self.submitted += 1
        self.inflight |= batch.ids
        self._to_embed.put(batch)
        self.poll()

    def poll(self, timeout: float | None = None) -> list["_Pending"]:
        """Batches written since the last call (waiting up to ``timeout`` for one); raises a
        worker's failure."""
        out = []
        try:
            item = self._done.get(timeout=timeout) if timeout else self._done.get_nowait()
            while True:
                batch, ok = item
                self.finished += 1
                self.inflight -= batch.ids
                if ok:
                    out.append(batch)
                item = self._done.get_nowait()
        except queue.Empty:
            pass
        self._on_written(out)
        if self.error is not None:
            raise self.error
        return out

    def wait(self) -> None:
        """Until every submitted batch is written (or dropped after a failure)."""
        t = time.perf_counter()
        while self.finished < self.submitted:
            self.poll(timeout=0.2)
        self._add("wait", time.perf_counter() - t)
        self.poll()

    def close(self) -> None:
        """Stop both threads after what was submitted (call after :meth:`wait`)."""
        self._to_embed.put(None)
        self._writer_thread.join()

    def abort(self) -> None:
        """Embed nothing more; write the batches already embedded, then stop (the embedding
        thread finishes the batch it holds, drops it, and ends on its own)."""
        self._stop.set()
        self._to_embed.put(None)
        self._to_write.put(None)
        self._writer_thread.join(timeout=120)


def ingest_paths(
    store: IndexStore,
    embedder: Embedder,
    paths: Sequence[str | Path],
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    stats: dict[str, Any] | None = None,
    articles: Iterable[Article | BadRecord | tuple[Article, list[Chunk]]] | None = None,
    batch_chunks: int | None = None,
) -> IngestReport:
    """Ingest every article under ``paths`` into ``store``. Bad records are reported in the
    returned report and skipped; everything else is ingested. ``on_progress(articles,
    chunks)`` is called after each committed batch (the UI uses it), in the calling thread.
    ``stats``, when given, receives seconds per stage (``parse``, ``embed``, ``chroma``,
    ``sqlite``, ``wait``, ``refresh``) and the numbers of chunks ``embedded`` and ``reused``.

    ``articles`` replaces reading ``paths`` (which are then only checked to exist): items as
    :func:`rag.ingest.loaders.iter_articles` yields them, or (article, its chunks) when chunking was
    done elsewhere (``rag.ingest.ray_ingest``). ``batch_chunks`` overrides ``BATCH_CHUNKS``."""
    for p in paths:
        if not Path(p).exists():
            raise BadInput("no such file or directory", file=str(p))
    t0 = time.perf_counter()
    counts = dict(new=0, updated=0, unchanged=0, duplicates=0, skipped=0, chunks_added=0, chunks_removed=0)
    errors: list[BadRecord] = []
    cfg = store.config
    seen_bodies: dict[str, str] = {}
    pending = _Pending()
    bar = None
    done_articles = 0

    stats = {} if stats is None else stats
    batch_chunks = batch_chunks or BATCH_CHUNKS

    def write(batch: _Pending, vecs: np.ndarray | None) -> None:
        # runs on the writer thread, one batch at a time, in order
        t = time.perf_counter()
        if batch.new_chunks:
            store.vectors.upsert(batch.new_chunks, vecs)
        t1 = time.perf_counter()
        store.records.commit_articles(batch.upserts, batch.removed, batch.also_in)
        t2 = time.perf_counter()
        if batch.removed:
            store.vectors.delete(batch.removed)
            store.records.clear_pending_vector_deletes()
        t3 = time.perf_counter()
        stats["chroma"] = stats.get("chroma", 0.0) + (t1 - t) + (t3 - t2)
        stats["sqlite"] = stats.get("sqlite", 0.0) + (t2 - t1)

    def written(batches: list[_Pending]) -> None:
        nonlocal done_articles
        for batch in batches:
            counts["chunks_added"] += len(batch.new_chunks)
            counts["chunks_removed"] += len(batch.removed)
            done_articles += len(batch.upserts)
        if batches:
            if bar is not None:
                bar.set_postfix(chunks=counts["chunks_added"], refresh=False)
            if on_progress is not None:
                on_progress(done_articles, counts["chunks_added"])

    def flush() -> None:
        nonlocal pending
        if not pending.upserts and not pending.also_in:
            return
        pipe.submit(pending)
        pending = _Pending()

    with store.ingest_lock():
        store.release_vectors()  # a chroma client opened before the lock may be stale
        stale = store.records.pending_vector_deletes()
        if stale:  # a killed run committed these deletions but not the vector deletes
            store.vectors.delete(stale)
            store.records.clear_pending_vector_deletes()
        bar = _bar(progress)
        pipe = _Pipeline(write, written, embedder, stats)
        t_loop = time.perf_counter()
        try:
            for item in iter_articles(paths) if articles is None else articles:
                if bar is not None:
                    bar.update(1)
                chunks = None
                if isinstance(item, tuple):
                    item, chunks = item
                if isinstance(item, BadRecord):
                    errors.append(item)
                    counts["skipped"] += 1
                    continue
                if item.id in pending.ids or item.id in pipe.inflight:
                    flush()  # the same article twice in one run: commit the first one first
                    pipe.wait()
                chash, bhash = article_hash(item), body_hash(item.body)
                state = store.records.article_state(item.id)
                if state is not None and state[0] == chash:
                    counts["unchanged"] += 1
                    continue
                dup = seen_bodies.get(bhash) or store.records.find_by_body_hash(bhash)
                if dup is not None and dup != item.id:
                    counts["duplicates"] += 1
                    pending.also_in.append((dup, _where(item)))
                    continue
                seen_bodies[bhash] = item.id
                if chunks is None:
                    chunks = chunk_article(item, cfg.chunk_tokens, cfg.chunk_overlap)
                old = set(state[1]) if state else set()
                new_ids = {c.id for c in chunks}
                pending.upserts.append((item, chash, bhash, chunks))
                fresh = [c for c in chunks if c.id not in old]
                if old and fresh:
                    pending.reused.update(_moved_passages(store, sorted(old), fresh))
                pending.new_chunks.extend(fresh)
                pending.removed.extend(sorted(old - new_ids))
                pending.ids.add(item.id)
                counts["updated" if state else "new"] += 1
                if len(pending.new_chunks) >= batch_chunks:
                    flush()
            flush()
            stats["parse"] = time.perf_counter() - t_loop - stats.get("wait", 0.0)
            pipe.wait()
            pipe.close()
            # ---- syndication clusters (rag/retrieve/syndication.py): sketch new and edited articles
            # and assign each to a story cluster; derived data, so whatever a killed run left
            # unsketched is caught up by the next ingest.
            from rag.retrieve.syndication import update_clusters

            update_clusters(store.records)
            # ---- end syndication clusters
        except BaseException:
            pipe.abort()
            raise
        finally:
            if bar is not None:
                bar.close()
            t_refresh = time.perf_counter()
            try:
                store.refresh(pipe.written)
                stats["refresh"] = time.perf_counter() - t_refresh
            finally:
                store.release_vectors()
    return IngestReport(seconds=time.perf_counter() - t0, errors=tuple(errors), **counts)


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
