"""The vector store: chunk vectors with the metadata filters need and, since it is the one
copy besides the SQLite records, each article's whole record (``rag.index.chunkmeta``).

:class:`VectorStore` is what the rest of newsrag asks of it; :func:`open_vector_store` is the
one place that picks an implementation. Today that is chroma (embedded ``PersistentClient``,
or a ``chroma run`` server) in :class:`ChromaVectors`, records written in llama-index's node
format: this module is the only one that touches chroma or llama-index vector-store types.
Another store means another class here and another branch in the factory.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol, Sequence, runtime_checkable
from urllib.parse import urlsplit

import numpy as np

from rag.errors import BackendUnavailable
from rag.types import Chunk

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

NO_DATE = -1  # chroma metadata cannot be null: undated chunks carry this timestamp
# rows per chroma get/upsert/update/delete call: well under chroma's maximum batch size
# (``client.get_max_batch_size()``, 5461 on this chroma), so no call is ever refused for size
CHROMA_BATCH = 5000


@runtime_checkable
class VectorStore(Protocol):
    """Chunk vectors by chunk id, with per-chunk metadata. Writers hold the index's ingest
    lock; :meth:`close` releases the connection (an embedded store caches state per process)."""

    def count(self) -> int:
        """Number of vectors stored."""

    def ids(self) -> set[str]:
        """Every stored chunk id."""

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (missing ids left out)."""

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store chunk vectors with the metadata filters need; re-adding an id replaces it."""

    def update_metadata(self, metadata: Mapping[str, Mapping[str, Any]]) -> None:
        """Add or replace metadata keys of stored chunks ({chunk id: {key: str or int}});
        ids not stored are ignored, keys not given are kept."""

    def entries(self) -> Iterator[tuple[str, dict[str, Any], str]]:
        """(chunk id, metadata, indexed text) of every stored chunk."""

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors by chunk id (unknown ids are ignored)."""

    def close(self) -> None:
        """Release the connection (reopened by the next :func:`open_vector_store`)."""


def open_vector_store(collection: str, path: Path | None = None, url: str | None = None) -> VectorStore:
    """The vector store of one index: the chroma server at ``url`` when one is given, else
    the embedded chroma folder ``path``. Raises ``BackendUnavailable`` when it cannot be used."""
    if url:
        return ChromaVectors(collection, url=url)
    if path is None:
        raise ValueError("open_vector_store needs a folder or a server URL")
    return ChromaVectors(collection, path=path)


def timestamp(value: datetime | None) -> int:
    """Seconds since the epoch for a timezone-aware datetime, or NO_DATE."""
    return int(value.timestamp()) if value is not None else NO_DATE


def collection_names(path: Path) -> list[str]:
    """Names of the collections in the embedded chroma folder ``path`` (opened and closed
    again; used by ``rag index verify`` to rebuild a lost manifest)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))
    try:
        return [c.name if hasattr(c, "name") else str(c) for c in client.list_collections()]
    finally:
        client.close()


class ChromaVectors:
    """Chunk vectors in one chroma collection (cosine space): a :class:`VectorStore`."""

    def __init__(self, collection: str, path: Path | None = None, url: str | None = None):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        cfg = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if url:
                parts = urlsplit(url if "://" in url else f"http://{url}")
                client = chromadb.HttpClient(
                    host=parts.hostname or "127.0.0.1",
                    port=parts.port or 8000,
                    ssl=parts.scheme == "https",
                    settings=cfg,
                )
                client.heartbeat()
            else:
                assert path is not None
                client = chromadb.PersistentClient(path=str(path), settings=cfg)
            self._client = client
            self._collection = client.get_or_create_collection(
                name=collection, metadata={"hnsw:space": "cosine"}
            )
        except BackendUnavailable:
            raise
        except Exception as exc:  # chroma raises many kinds; the user needs one line
            where = url or str(path)
            raise BackendUnavailable(f"chroma store at {where} unavailable: {exc}") from exc

    def close(self) -> None:
        """Release the client. An embedded chroma keeps its index in memory per process: a
        client held while another process writes the folder serves stale state (chroma then
        fails with "Error finding id"), so the index store closes it after each ingest."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    @property
    def collection(self):
        """The chroma collection (llama-index's ``ChromaVectorStore`` reads it as it is;
        ``rag bench`` times that pipeline against ours). Not part of :class:`VectorStore`."""
        return self._collection

    def count(self) -> int:
        """Number of vectors stored."""
        return self._collection.count()

    def _pages(self, include: list[str]) -> Iterator[dict[str, Any]]:
        """``collection.get`` over the whole collection, ``CHROMA_BATCH`` rows at a time."""
        offset = 0
        while True:
            got = self._collection.get(include=include, limit=CHROMA_BATCH, offset=offset)
            yield got
            if len(got["ids"]) < CHROMA_BATCH:
                return
            offset += CHROMA_BATCH

    def ids(self) -> set[str]:
        """Every stored chunk id."""
        out: set[str] = set()
        for page in self._pages([]):
            out.update(page["ids"])
        return out

    def entries(self) -> Iterator[tuple[str, dict[str, Any], str]]:
        """(chunk id, metadata, indexed text) of every stored chunk."""
        for page in self._pages(["metadatas", "documents"]):
            yield from zip(page["ids"], (dict(m or {}) for m in page["metadatas"]), (d or "" for d in page["documents"]))

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (missing ids left out)."""
        if not ids:
            return {}
        got = self._collection.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store chunk vectors with the metadata filters need; re-adding an id replaces it.

        Records are written in llama-index's node format (``node_to_metadata_dict``, the text as
        the document), so ``ChromaVectorStore`` over this collection reads them as TextNodes,
        but through one ``collection.upsert`` per batch: ``ChromaVectorStore.add`` uses
        ``collection.add``, which skips existing ids and so needed a delete first."""
        if not chunks:
            return
        from llama_index.core.schema import TextNode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        ids, metadatas, documents = [], [], []
        for ch in chunks:
            text = ch.indexed_text
            node = TextNode(
                id_=ch.id,
                text=text,
                metadata={
                    "article_id": ch.article_id,
                    "outlet": ch.outlet or "",
                    "published_ts": timestamp(ch.published_at),
                    "start": ch.start,
                    "end": ch.end,
                },
            )
            md = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
            metadatas.append({k: "" if v is None else v for k, v in md.items()})
            ids.append(ch.id)
            documents.append(text)
        vecs = np.asarray(vectors, dtype=np.float32)
        for i in range(0, len(ids), CHROMA_BATCH):
            self._collection.upsert(
                ids=ids[i : i + CHROMA_BATCH], embeddings=vecs[i : i + CHROMA_BATCH],
                metadatas=metadatas[i : i + CHROMA_BATCH], documents=documents[i : i + CHROMA_BATCH],
            )

    def update_metadata(self, metadata: Mapping[str, Mapping[str, Any]]) -> None:
        """Add or replace metadata keys of stored chunks (chroma merges them into what each
        chunk has; unknown ids are ignored)."""
        ids = list(metadata)
        for i in range(0, len(ids), CHROMA_BATCH):
            part = ids[i : i + CHROMA_BATCH]
            self._collection.update(ids=part, metadatas=[dict(metadata[c]) for c in part])

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors by chunk id (unknown ids are ignored)."""
        ids = list(ids)
        for i in range(0, len(ids), CHROMA_BATCH):
            self._collection.delete(ids=ids[i : i + CHROMA_BATCH])
