"""The embedding and writer threads of one ingest, and the batch they pass along.

The calling thread parses and chunks articles into :class:`Batch` es; an embedding thread
embeds each one and a writer thread writes it. Batches are written one at a time in the order
they were made, so the per-batch crash safety of :mod:`rag.ingest.pipeline` holds; at most
``QUEUE_DEPTH`` batches are in flight, so memory stays bounded.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from rag.index.embedding import Embedder
from rag.index.revisions import RevisionWrite
from rag.types import Article, Chunk

QUEUE_DEPTH = 3  # batches parsed ahead of the writer (embedding one, writing one, one waiting)
JOIN_SECONDS = 120  # how long a stop waits for a thread to finish the batch it holds


@dataclass
class Batch:
    """What one write commits: articles with their hashes and chunks, the chunks to embed (a
    superseded revision's among them, its vectors in ``reused``), the chunk ids an edit
    removed, duplicate bodies' other outlets, revision rows, and how far the input it covers
    reached (``upto``: ordinal and source file of its last article)."""

    upserts: list[tuple[Article, str, str, tuple[Chunk, ...]]] = field(default_factory=list)
    new_chunks: list[Chunk] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    also_in: list[tuple[str, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    reused: dict[str, np.ndarray] = field(default_factory=dict)  # new chunk id -> vector of an identical old passage
    upto: tuple[int, str | None] | None = None
    revisions: list[RevisionWrite] = field(default_factory=list)  # revision rows and event dates to commit


class Stages:
    """The embedding and writer threads of one ingest.

    ``submit`` hands a batch over (blocking while ``QUEUE_DEPTH`` batches are in flight);
    ``poll``/``wait`` deliver finished batches to the calling thread, which alone reports
    progress. A failure in either thread is re-raised in the calling thread. Batches already
    embedded are written, in order, up to the first failure; after a failure, or ``abort``
    (Ctrl-C), nothing more is embedded or written, and both threads are joined.
    """

    def __init__(
        self,
        write: Callable[[Batch, np.ndarray], None],
        on_written: Callable[[list[Batch]], None],
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

    def _vectors(self, batch: Batch) -> np.ndarray:
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
                    self.written.update(zip((c.id for c in batch.new_chunks), vecs))
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    self.error = self.error or exc
            failed = failed or not ok
            self._done.put((batch, ok))
            self._slots.release()

    def submit(self, batch: Batch) -> None:
        """Hand ``batch`` to the embedding thread (waiting for a free slot)."""
        t = time.perf_counter()
        while not self._slots.acquire(timeout=0.2):
            self.poll()
        self._add("wait", time.perf_counter() - t)
        self.submitted += 1
        self.inflight |= batch.ids
        self._to_embed.put(batch)
        self.poll()

    def poll(self, timeout: float | None = None) -> list[Batch]:
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
        self._embedder_thread.join()

    def abort(self) -> None:
        """Embed nothing more; write the batches already embedded, then stop both threads (the
        embedding thread finishes the batch it holds and drops it)."""
        self._stop.set()
        self._to_embed.put(None)
        self._to_write.put(None)
        self._writer_thread.join(timeout=JOIN_SECONDS)
        self._embedder_thread.join(timeout=JOIN_SECONDS)
