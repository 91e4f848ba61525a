"""The index folder: records (SQLite), vectors (chroma), and the two search-time indexes
derived from them (BM25 and the dense matrix), plus a manifest that records which embedding
model and chunking built it.

Layout of ``<index>/``: ``records.sqlite3``, ``chroma/``, ``bm25/``, ``dense/``,
``manifest.json``, ``ingest.lock``. Opening an index with another embedding model or dimension
raises :class:`IndexMismatch`.

Readers see snapshots: the derived indexes are rebuilt and swapped in whole at the end of an
ingest, so a query during an ingest sees the old state or the new, never half of it. When the
records are ahead of the snapshots and no ingest holds the lock (a run was killed), the next
reader rebuilds them.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from rag.index.dense import DenseIndex
from rag.errors import IndexMismatch, IndexMissing, RagError
from rag.index.lexical import LexicalIndex
from rag.index.records import Records
from rag.settings import Settings

if TYPE_CHECKING:  # the vector store is imported on first use: queries do not need it
    from rag.index.vectors import VectorStore

FORMAT = 1
MANIFEST = "manifest.json"
RECORDS = "records.sqlite3"  # the SQLite store of record, in the index folder
CHROMA = "chroma"  # the embedded vector store's folder, in the index folder (unused with a server)
# manifest keys an index cannot be opened without (the rest are informative)
MANIFEST_REQUIRED = ("format", "embedder", "dim", "chunk_tokens", "chunk_overlap", "collection")
DERIVED = ("bm25", "dense")  # the search-time snapshots, each in a folder of that name
# pinned(): another process swaps bm25 before dense; wait for its second swap this often, this
# long apart (5 s at most), then serve the last matching pair or what there is
PIN_TRIES = 100
PIN_WAIT_S = 0.05
SYNC_BATCH = 500  # articles whose vector-store metadata one sync step rewrites


def package_versions() -> dict[str, str]:
    """Versions of newsrag and the packages that shape an index (recorded in the manifest)."""
    out = {}
    for pkg in ("newsrag", "chromadb", "llama-index-core", "sentence-transformers", "bm25s"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file and an atomic rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def new_manifest(path: Path, settings: Settings, embedder_name: str, dim: int, collection: str | None = None) -> dict:
    """The manifest of a new, empty index at ``path`` (its collection named after the folder
    unless ``collection`` is given)."""
    return {
        "format": FORMAT,
        "embedder": embedder_name,
        "dim": dim,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "collection": collection or "newsrag_" + _slug(Path(path).resolve().name),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "counts": {"articles": 0, "chunks": 0},
        "generation": 0,
        "versions": package_versions(),
    }


def read_manifest(path: Path) -> tuple[dict | None, str | None]:
    """The manifest at ``path`` and None, or None and why it cannot be used (missing,
    unreadable, not an object, lacking a required key)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError) as exc:
        return None, f"unreadable ({exc})"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    missing = [k for k in MANIFEST_REQUIRED if k not in data]
    if missing:
        return None, f"incomplete (no {', '.join(missing)})"
    return data, None


@contextmanager
def ingest_lock(path: Path) -> Iterator[None]:
    """Hold the ingest lock of the index folder ``path`` (an flock on ``ingest.lock``); a
    second holder fails clearly."""
    fd = os.open(Path(path) / "ingest.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RagError(f"another ingest is running on {path}; wait for it to finish") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


@dataclass(frozen=True)
class IndexConfig:
    """What an index is built with; fixed at creation and checked at every open."""

    embedder: str
    dim: int
    chunk_tokens: int
    chunk_overlap: int
    collection: str


class IndexStore:
    """One index folder. Build with :meth:`open`; the facade (``rag.archive``) drives it."""

    def __init__(self, path: Path, config: IndexConfig, settings: Settings, manifest: dict):
        self.path = path
        self.config = config
        self.manifest = manifest
        self.records = Records(path / RECORDS)
        self._chroma_url = settings.chroma_url
        self._vectors = None
        self._derived: dict[str, Any] = {}
        self._signatures: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._pinned = threading.local()
        self._pair = None  # the last (bm25, dense) pair at one generation
        if settings.chroma_url:
            _ = self.vectors  # a server URL is checked at open: fail early and clearly

    @classmethod
    def open(cls, path: str | Path, settings: Settings, embedder_name: str, dim: int, create: bool) -> "IndexStore":
        """Open the index at ``path`` (creating it when ``create``), checking the manifest."""
        path = Path(path)
        mpath = path / MANIFEST
        if mpath.is_file():
            try:
                manifest = json.loads(mpath.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise IndexMismatch(f"{mpath}: unreadable manifest ({exc}); run `rag index verify --repair`") from exc
            if manifest.get("format") != FORMAT:
                raise IndexMismatch(f"{path}: index format {manifest.get('format')} is not {FORMAT}; rebuild it")
            if manifest["embedder"] != embedder_name or manifest["dim"] != dim:
                raise IndexMismatch(
                    f"{path} was built with {manifest['embedder']} ({manifest['dim']}-d), not "
                    f"{embedder_name} ({dim}-d): set RAG_EMBEDDER to match or use another --index"
                )
        elif create:
            path.mkdir(parents=True, exist_ok=True)
            manifest = new_manifest(path, settings, embedder_name, dim)
            write_json_atomic(mpath, manifest)
        else:
            raise IndexMissing(f"no index at {path}: build one with `rag ingest PATH --index {path}`")
        config = IndexConfig(
            embedder=manifest["embedder"], dim=manifest["dim"], chunk_tokens=manifest["chunk_tokens"],
            chunk_overlap=manifest["chunk_overlap"], collection=manifest["collection"],
        )
        return cls(path, config, settings, manifest)

    # ---- the store of record for vectors ---------------------------------------------
    def open_vectors(self) -> "VectorStore":
        """A new connection to this index's vector store (embedded in ``<index>/chroma`` or
        on the configured chroma server; see ``rag.index.vectors``), which the caller closes;
        :attr:`vectors` is the shared one."""
        from rag.index.vectors import open_vector_store

        return open_vector_store(
            self.config.collection, path=None if self._chroma_url else self.path / CHROMA, url=self._chroma_url
        )

    @property
    def vectors_location(self) -> str:
        """Where the vectors are written: the chroma server's URL when one is configured,
        else the embedded store's folder (what a write-failure message names)."""
        return self._chroma_url or str(self.path / CHROMA)

    @property
    def vectors(self) -> "VectorStore":
        """The vector store (imported and connected on first use: queries do not need it)."""
        with self._lock:
            if self._vectors is None:
                self._vectors = self.open_vectors()
            return self._vectors

    def release_vectors(self) -> None:
        """Close the embedded chroma client (reopened on next use), so that what another
        process wrote is seen. Called at the start and end of every ingest (under the ingest
        lock) and after a reader rebuilt a snapshot from the vectors."""
        with self._lock:
            if self._vectors is not None and not self._chroma_url:
                try:
                    self._vectors.close()
                finally:
                    self._vectors = None

    # ---- ingest lock -------------------------------------------------------------------
    def ingest_lock(self):
        """Held for the whole of an ingest; a second concurrent ingest fails clearly."""
        return ingest_lock(self.path)

    def ingest_running(self) -> bool:
        """True while some process (this one included) holds the ingest lock."""
        fd = os.open(self.path / "ingest.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    # ---- derived search indexes --------------------------------------------------------
    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 snapshot (this thread's pinned one inside :meth:`pinned`)."""
        pair = getattr(self._pinned, "pair", None)
        return pair[0] if pair is not None else self._snapshot("bm25")

    @property
    def dense(self) -> DenseIndex:
        """The dense-matrix snapshot (this thread's pinned one inside :meth:`pinned`)."""
        pair = getattr(self._pinned, "pair", None)
        return pair[1] if pair is not None else self._snapshot("dense")

    @contextmanager
    def pinned(self):
        """Within the block this thread sees one BM25 + dense pair, taken together under the
        lock that :meth:`refresh` holds while it swaps both: a search that reads both never
        mixes the state before an ingest with the state after it."""
        if getattr(self._pinned, "pair", None) is not None:  # nested: keep the outer pair
            yield
            return
        for _ in range(PIN_TRIES):
            with self._lock:
                pair = (self._snapshot("bm25"), self._snapshot("dense"))
                if pair[0].generation == pair[1].generation:
                    self._pair = pair
                    break
                # another process is between its two snapshot swaps (bm25 is new, dense not
                # yet): keep serving the last matching pair, or wait for the second swap
                if self._pair is not None:
                    pair = self._pair
                    break
            time.sleep(PIN_WAIT_S)
        self._pinned.pair = pair
        try:
            yield
        finally:
            self._pinned.pair = None

    def _load(self, name: str):
        return (LexicalIndex if name == "bm25" else DenseIndex).load(self.path / name)

    def _build(self, name: str, generation: int, added: Mapping[str, Any] | None = None):
        from rag.index.revisions import index_rows, validity

        rows, valid = index_rows(self.records), validity(self.records)  # superseded revisions too
        if name == "bm25":
            return LexicalIndex.build(rows, generation, valid)
        return DenseIndex.build(rows, self._vector_source(added), self.config.dim, generation, valid=valid)

    def _vector_source(self, added: Mapping[str, Any] | None):
        """``fetch(ids) -> {id: vector}`` for a dense rebuild: vectors an ingest just wrote
        (``added``), then the previous dense snapshot, then chroma for whatever is left. A
        chunk id names its content, so a vector found under an id in the old snapshot is the
        one chroma holds; after an ingest only the new vectors are new, and reading all of them
        back from chroma (~0.1 ms each) is what made a rebuild slow at 100k chunks."""
        prev = self._derived.get("dense") or self._load("dense")

        def fetch(ids: list[str]) -> dict[str, Any]:
            out = {c: added[c] for c in ids if c in added} if added else {}
            rest = [c for c in ids if c not in out]
            if rest and prev is not None and len(prev.ids):
                out.update(prev.get_vectors(rest))
                rest = [c for c in rest if c not in out]
            if rest:
                out.update(self.vectors.get_vectors(rest))
            return out

        return fetch

    def _signature(self, name: str):
        try:
            st = os.stat(self.path / name / "meta.json")
            return (st.st_mtime_ns, st.st_ino)
        except OSError:
            return None

    def _snapshot(self, name: str):
        with self._lock:
            current = self._derived.get(name)
            gen = self.records.generation()
            if current is not None and current.generation == gen:
                return current
            sig = self._signature(name)
            if sig is not None and (current is None or sig != self._signatures.get(name)):
                loaded = self._load(name)
                if loaded is not None:
                    current, self._signatures[name] = loaded, sig
            if current is None and self.ingest_running():
                # nothing saved yet and the first ingest is running: its records are half
                # written, so serve the state before it (empty), not a build of half of them
                current = self._empty(name)
            elif current is None or (current.generation != gen and not self.ingest_running()):
                current = self._rebuild(name, gen)
                if name == "dense":
                    self.release_vectors()
            self._derived[name] = current
            return current

    def _empty(self, name: str):
        if name == "bm25":
            return LexicalIndex.build(iter(()), -1)
        return DenseIndex.build(iter(()), lambda ids: {}, self.config.dim, -1)

    def _rebuild(self, name: str, gen: int, added: Mapping[str, Any] | None = None):
        built = self._build(name, gen, added)
        try:
            built.save(self.path / name)
            self._signatures[name] = self._signature(name)
        except OSError:
            pass  # read-only index folder: serve it from memory
        return built

    def rebuild_derived(self, names: Iterable[str]) -> int:
        """Rebuild the named snapshots (of :data:`DERIVED`) from the records and the vector
        store only, their folders and leftovers removed first (a dense rebuild would otherwise
        reuse rows of the snapshot being replaced); returns the generation they are at."""
        names = set(names)
        with self._lock:
            gen = self.records.generation()
            for name in DERIVED:
                if name in names:
                    self._derived.pop(name, None)
                    for leftover in (self.path / name, self.path / f"{name}.old", self.path / f"{name}.tmp"):
                        shutil.rmtree(leftover, ignore_errors=True)
                    self._derived[name] = self._rebuild(name, gen)
        return gen

    def reopen_records(self) -> None:
        """Drop the records connection and open ``records.sqlite3`` again (after it was
        replaced on disk: ``rag index verify --repair`` restoring it)."""
        with self._lock:
            self.records.close()
            self.records = Records(self.path / RECORDS)
            self._derived.clear()
            self._signatures.clear()
            self._pair = None

    def vector_metadata(self, article_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """{chunk id: metadata} the vector store keeps of these articles (``rag.index.chunkmeta``):
        each article's record on its chunks, and its revisions (the current number on chunk 0,
        superseded ones on their own chunks)."""
        from rag.index.chunkmeta import chunk_metadata, revision_metadata
        from rag.index.revisions import stored_revisions

        metadata: dict[str, dict[str, Any]] = {}
        for stored in self.records.stored_articles(article_ids):
            metadata.update(chunk_metadata(stored.article, stored.content_hash, stored.chunks))
        for cid, md in revision_metadata(stored_revisions(self.records, article_ids)).items():
            metadata[cid] = {**metadata.get(cid, {}), **md}
        return metadata

    def sync_vector_metadata(self) -> int:
        """Rewrite, from the records, the metadata the vector store keeps of every article a
        commit changed since the last sync (``rag.index.chunkmeta``: what lets ``rag index
        verify --repair`` rebuild lost records from the vector store); the caller holds the
        ingest lock. Returns the number of articles synced."""
        done = 0
        while True:
            todo = self.records.vector_metadata_todo(limit=SYNC_BATCH)
            if not todo:
                return done
            metadata = self.vector_metadata(todo)
            if metadata:
                self.vectors.update_metadata(metadata)
            self.records.clear_vector_metadata_todo(todo)
            done += len(todo)

    def refresh(self, added_vectors: Mapping[str, Any] | None = None) -> None:
        """Rebuild the derived indexes after an ingest (caller holds the ingest lock), write
        the manifest and bring the vector store's article metadata up to date.
        ``added_vectors`` ({chunk id: vector}, what the ingest wrote to chroma) spares the
        dense rebuild reading them back."""
        with self._lock:
            gen = self.records.generation()
            for name in DERIVED:
                current = self._derived.get(name) or self._load(name)
                if current is None or current.generation != gen:
                    current = self._rebuild(name, gen, added_vectors if name == "dense" else None)
                self._derived[name] = current
        self.manifest = dict(self.manifest)
        self.manifest.update(
            counts=self.records.counts(),
            generation=self.records.generation(),
            updated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            versions=package_versions(),
        )
        write_json_atomic(self.path / MANIFEST, self.manifest)
        self.sync_vector_metadata()

    def close(self) -> None:
        """Release this thread's database connection."""
        self.records.close()


def _slug(name: str) -> str:
    s = "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_") or "index"
    return s[:48]
