"""The dense store: chromadb (embedded PersistentClient, or a ``chroma run`` server) through
llama-index's ChromaVectorStore. This adapter is the only module that touches chroma or
llama-index vector-store types; it speaks chunk ids, numpy vectors and plain filters.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

import numpy as np

from rag.errors import BackendUnavailable
from rag.types import Chunk

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

NO_DATE = -1  # chroma metadata cannot be null: undated chunks carry this timestamp


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
    """Chunk vectors in one chroma collection (cosine space)."""

    def __init__(self, collection: str, path: Path | None = None, url: str | None = None):
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.vector_stores.chroma import ChromaVectorStore

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
        self._store = ChromaVectorStore(chroma_collection=self._collection)

    def close(self) -> None:
        """Release the client. An embedded chroma keeps its index in memory per process: a
        client held while another process writes the folder serves stale state (chroma then
        fails with "Error finding id"), so the index store closes it after each ingest."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    @property
    def collection(self):
        """The chroma collection (llama-index's ``ChromaVectorStore`` reads it as it is)."""
        return self._collection

    def count(self) -> int:
        """Number of vectors stored."""
        return self._collection.count()

    def ids(self) -> set[str]:
        """Every stored chunk id."""
        out: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self._collection.get(include=[], limit=page, offset=offset)["ids"]
            out.update(got)
            if len(got) < page:
                return out
            offset += page

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
        step = 5000  # well under chroma's maximum batch size
        for i in range(0, len(ids), step):
            self._collection.upsert(
                ids=ids[i : i + step], embeddings=vecs[i : i + step],
                metadatas=metadatas[i : i + step], documents=documents[i : i + step],
            )

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors by chunk id (unknown ids are ignored)."""
        ids = list(ids)
        for i in range(0, len(ids), 5000):
            self._store.delete_nodes(node_ids=ids[i : i + 5000])

    def query(
        self,
        vector: np.ndarray,
        k: int,
        since: datetime | None = None,
        until: datetime | None = None,
        outlets: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Top-``k`` (chunk id, cosine similarity), optionally within a date range and outlets."""
        from llama_index.core.vector_stores.types import (
            FilterOperator,
            MetadataFilter,
            MetadataFilters,
            VectorStoreQuery,
        )

        conds = []
        if since is not None or until is not None:
            conds.append(MetadataFilter(key="published_ts", value=max(timestamp(since), 0), operator=FilterOperator.GTE))
        if until is not None:
            conds.append(MetadataFilter(key="published_ts", value=timestamp(until), operator=FilterOperator.LTE))
        if outlets:
            conds.append(MetadataFilter(key="outlet", value=list(outlets), operator=FilterOperator.IN))
        q = VectorStoreQuery(
            query_embedding=vector.tolist(),
            similarity_top_k=max(1, min(k, self.count() or 1)),
            filters=MetadataFilters(filters=conds) if conds else None,
        )
        if self.count() == 0:
            return []
        res = self._store.query(q)
        # chroma reports cosine distance d; llama-index turns it into exp(-d). Undo that.
        sims = [1.0 - float(-np.log(s)) if s and s > 0 else 0.0 for s in (res.similarities or [])]
        return list(zip(res.ids or [], sims))
