"""The index folder: records (SQLite), dense vectors (chroma), BM25, and a manifest that
records which embedding model and chunking built it.

Layout of ``<index>/``: ``records.sqlite3``, ``chroma/``, ``bm25/``, ``manifest.json``.
Opening an index with another embedding model or dimension raises :class:`IndexMismatch`.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from rag.errors import IndexMismatch, IndexMissing
from rag.lexical import LexicalIndex
from rag.records import Records
from rag.settings import Settings
from rag.vectors import ChromaVectors

FORMAT = 1
MANIFEST = "manifest.json"


def _versions() -> dict[str, str]:
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
        self.records = Records(path / "records.sqlite3")
        self.vectors = ChromaVectors(
            config.collection,
            path=None if settings.chroma_url else path / "chroma",
            url=settings.chroma_url,
        )
        self._lexical: LexicalIndex | None = None
        self._lex_lock = threading.Lock()

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
            manifest = {
                "format": FORMAT,
                "embedder": embedder_name,
                "dim": dim,
                "chunk_tokens": settings.chunk_tokens,
                "chunk_overlap": settings.chunk_overlap,
                "collection": "newsrag_" + _slug(path.resolve().name),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "counts": {"articles": 0, "chunks": 0},
                "generation": 0,
                "versions": _versions(),
            }
            write_json_atomic(mpath, manifest)
        else:
            raise IndexMissing(f"no index at {path}: build one with `rag ingest PATH --index {path}`")
        config = IndexConfig(
            embedder=manifest["embedder"], dim=manifest["dim"], chunk_tokens=manifest["chunk_tokens"],
            chunk_overlap=manifest["chunk_overlap"], collection=manifest["collection"],
        )
        return cls(path, config, settings, manifest)

    # ---- lexical index -----------------------------------------------------------------
    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index, loaded once and rebuilt if the records moved on since it was saved."""
        with self._lex_lock:
            gen = self.records.generation()
            lex = self._lexical
            if lex is None or lex.generation != gen:
                lex = LexicalIndex.load(self.path / "bm25")
                if lex is None or lex.generation != gen:
                    lex = LexicalIndex.build(self.records.iter_chunk_rows(), gen)
                    try:
                        lex.save(self.path / "bm25")
                    except OSError:
                        pass  # read-only index: keep it in memory
                self._lexical = lex
            return lex

    def refresh(self) -> None:
        """Rebuild derived data after an ingest and write the manifest."""
        _ = self.lexical
        self.manifest = dict(self.manifest)
        self.manifest.update(
            counts=self.records.counts(),
            generation=self.records.generation(),
            updated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            versions=_versions(),
        )
        write_json_atomic(self.path / MANIFEST, self.manifest)

    def close(self) -> None:
        """Release this thread's database connection."""
        self.records.close()


def _slug(name: str) -> str:
    s = "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_") or "index"
    return s[:48]
