"""The vector-store contract (rag.index.vectors): the factory gives an embedded chroma store that
satisfies the VectorStore protocol and round-trips vectors, metadata and deletes; and the
article record spread over chunk metadata (rag.index.chunkmeta) comes back whole."""
from __future__ import annotations

import uuid

import numpy as np
import pytest

from rag.index.chunkmeta import VERSION_KEY, chunk_metadata, restore_articles
from rag.index.vectors import CHROMA_BATCH, VectorStore, open_vector_store
from rag.ingest.chunking import chunk_article
from rag.ingest.ids import body_hash
from rag.ingest.pipeline import article_hash
from tests.test_chroma_server import chroma_server  # noqa: F401 - a fixture
from tests.test_records import _article


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def store(tmp_path):
    s = open_vector_store("newsrag_test", path=tmp_path / "chroma")
    yield s
    s.close()


def test_the_factory_gives_a_server_store(chroma_server):
    s = open_vector_store(f"newsrag_test_{uuid.uuid4().hex[:10]}", url=chroma_server)
    try:
        assert isinstance(s, VectorStore)
        test_upsert_get_update_delete_count(s)
    finally:
        s.close()


def test_the_factory_gives_a_vector_store(store):
    assert isinstance(store, VectorStore)
    with pytest.raises(ValueError):
        open_vector_store("newsrag_test")  # neither a folder nor a server


def test_upsert_get_update_delete_count(store):
    art = _article(1)
    chunks = chunk_article(art, 16, 0)
    vecs = _vectors(len(chunks))
    assert store.count() == 0 and store.ids() == set()
    store.upsert(chunks, vecs)
    ids = [c.id for c in chunks]
    assert store.count() == len(chunks) and store.ids() == set(ids)
    got = store.get_vectors([*ids, "nope"])
    assert set(got) == set(ids) and all(np.allclose(got[c], v, atol=1e-6) for c, v in zip(ids, vecs))
    entries = {c: (md, doc) for c, md, doc in store.entries()}
    assert {c: doc for c, (_md, doc) in entries.items()} == {c.id: c.indexed_text for c in chunks}
    md = entries[ids[0]][0]
    assert (md["article_id"], md["outlet"], md["start"], md["end"]) == (art.id, "Wire", chunks[0].start, chunks[0].end)
    store.upsert(chunks[:1], -vecs[:1])  # re-adding an id replaces it
    assert store.count() == len(chunks) and np.allclose(store.get_vectors(ids[:1])[ids[0]], -vecs[0], atol=1e-6)
    store.update_metadata({ids[0]: {"extra": "x", "n": 3}, "nope": {"extra": "y"}})
    md = {c: m for c, m, _d in store.entries()}[ids[0]]
    assert md["extra"] == "x" and md["n"] == 3 and md["article_id"] == art.id  # merged, not replaced
    store.delete([ids[0], "nope"])
    assert store.ids() == set(ids[1:]) and store.count() == len(ids) - 1


def test_ids_and_entries_page_past_one_batch(store, monkeypatch):
    import rag.index.vectors as vectors

    monkeypatch.setattr(vectors, "CHROMA_BATCH", 3)
    chunks = [c for n in range(1, 4) for c in chunk_article(_article(n), 16, 0)]
    assert len(chunks) > 3
    store.upsert(chunks, _vectors(len(chunks)))
    assert store.ids() == {c.id for c in chunks} and len(list(store.entries())) == len(chunks)
    store.delete([c.id for c in chunks])
    assert store.count() == 0 and CHROMA_BATCH == 5000


def test_an_article_comes_back_from_its_chunk_metadata(store):
    arts = [_article(1, body="  Lead space.   First sentence here.\n\nSecond one, after a gap.  Third.\n\n"),
            _article(2, outlet=None, author=None, published_at=None, url=None, category=None, also_in=("X | 2024",))]
    for art in arts:
        chunks = chunk_article(art, 16, 0)
        store.upsert(chunks, _vectors(len(chunks)))
        store.update_metadata(chunk_metadata(art, article_hash(art), chunks))
    got = restore_articles(store.entries())
    assert got.lost == {} and got.unused == []
    by_id = {r.article.id: r for r in got.articles}
    for art in arts:
        r = by_id[art.id]
        assert r.article == art and r.content_hash == article_hash(art) and r.body_hash == body_hash(art.body)
        assert list(r.chunks) == chunk_article(art, 16, 0)


def test_what_cannot_be_rebuilt_is_named(store):
    art = _article(1)
    chunks = chunk_article(art, 16, 0)
    assert len(chunks) > 1
    store.upsert(chunks, _vectors(len(chunks)))  # no record on the chunks
    got = restore_articles(store.entries())
    assert got.articles == [] and "before the vector store kept whole records" in got.lost[art.id]
    assert sorted(got.lost_chunks) == sorted(c.id for c in chunks)
    meta = chunk_metadata(art, article_hash(art), chunks)
    store.update_metadata(meta)
    store.delete([chunks[0].id])  # a chunk lost: the body cannot be laid out
    got = restore_articles(store.entries())
    assert got.articles == [] and "missing" in got.lost[art.id]
    assert all(m[VERSION_KEY] == 1 for m in meta.values())
