"""The baseline a user would otherwise build: a plain llama-index pipeline over a Chroma store.
The only bench module that imports chromadb or llama-index."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

# what llama-index's SentenceSplitter is given: its usual small-chunk setting
SPLIT_TOKENS, SPLIT_OVERLAP = 200, 40
# HuggingFaceEmbedding's default batch size (the baseline mirrors its defaults)
LLAMA_EMBED_BATCH = 10


def preload() -> None:
    """Import chromadb and llama-index's chroma store, so that no contender's timing pays it."""
    import chromadb
    import llama_index.vector_stores.chroma as chroma_store

    del chromadb, chroma_store  # imported for their cost only


def llama_embedding(embed_texts: Callable[[list[str]], np.ndarray], embed_query: Callable[[str], np.ndarray],
                    batch_size: int = LLAMA_EMBED_BATCH):
    """A llama-index ``BaseEmbedding`` over our functions. With ``SentenceTransformer.encode``
    and ``batch_size=10`` it does what ``HuggingFaceEmbedding`` does by default (that package
    is not installed here)."""
    from llama_index.core.embeddings import BaseEmbedding

    class _Embedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return np.asarray(embed_query(query)).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return np.asarray(embed_texts([text])[0]).tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return np.asarray(embed_texts(texts)).tolist()

    return _Embedding(model_name="all-MiniLM-L6-v2", embed_batch_size=batch_size)


def llama_filters(since_ts: float | None, outlet: str | None):
    """llama-index metadata filters for a date floor or one outlet (None: no filter)."""
    from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

    if since_ts is not None:
        return MetadataFilters(filters=[MetadataFilter(key="published_ts", value=int(since_ts), operator=FilterOperator.GTE)])
    if outlet is not None:
        return MetadataFilters(filters=[MetadataFilter(key="outlet", value=outlet, operator=FilterOperator.EQ)])
    return None


class LlamaIngest:
    """``VectorStoreIndex.from_documents`` with ``SentenceSplitter(200, 40)`` into a persistent
    Chroma collection in ``folder`` (emptied first); :meth:`ingest` is what gets timed."""

    def __init__(self, folder: Path, embed_model):
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import Document, StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self._classes = (Document, StorageContext, VectorStoreIndex, SentenceSplitter, ChromaVectorStore)
        self.embed_model = embed_model
        shutil.rmtree(folder, ignore_errors=True)
        client = chromadb.PersistentClient(path=str(folder), settings=ChromaSettings(anonymized_telemetry=False))
        self.collection = client.get_or_create_collection("llama_baseline")

    def ingest(self, jsonl: Path) -> None:
        """Read a JSONL file of articles and index its bodies (title, source, date as metadata)."""
        Document, StorageContext, VectorStoreIndex, SentenceSplitter, ChromaVectorStore = self._classes
        rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
        docs = [Document(text=d["body"], metadata={"title": d["title"], "source": d["source"] or "", "published_at": d["published_at"] or ""}) for d in rows]
        store = ChromaVectorStore(chroma_collection=self.collection)
        VectorStoreIndex.from_documents(
            docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=self.embed_model,
            transformations=[SentenceSplitter(chunk_size=SPLIT_TOKENS, chunk_overlap=SPLIT_OVERLAP)], show_progress=False,
        )

    def count(self) -> int:
        """Chunks (nodes) stored so far."""
        return self.collection.count()


def llama_query_contenders(collection, embedder, top_k: int, answer_passages: int):
    """``make(since_ts, outlet) -> (retriever, query engine)`` over an existing chroma
    collection: the retriever returns ``top_k`` nodes, the engine (``MockLLM``: retrieval and
    prompt packing, no generation) packs ``answer_passages``."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.vector_stores.chroma import ChromaVectorStore

    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=collection), embed_model=llama_embedding(embedder.embed_texts, embedder.embed_query)
    )

    def make(since_ts: float | None, outlet: str | None):
        retriever = index.as_retriever(similarity_top_k=top_k, filters=llama_filters(since_ts, outlet))
        engine = index.as_query_engine(llm=MockLLM(max_tokens=64), similarity_top_k=answer_passages,
                                       filters=llama_filters(since_ts, outlet))
        return retriever, engine

    return make
