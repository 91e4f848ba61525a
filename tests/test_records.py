"""The SQLite records (rag.index.records): the source of truth of an index. Articles and chunks
round-trip field for field, an update replaces, a removal journals its vectors, every commit
moves the generation, and a damaged file is one IndexDamaged line, never a sqlite3 error."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from rag.errors import IndexDamaged
from rag.index.records import Records
from rag.ingest.chunking import chunk_article
from rag.ingest.ids import body_hash
from rag.ingest.pipeline import article_hash
from rag.types import Article

IST = timezone(timedelta(hours=5, minutes=30))


def _article(n: int = 1, **kw) -> Article:
    fields = dict(
        id=f"a{n}", title=f"Headline {n}",
        body=f"First sentence of story {n}, which says what happened. Second sentence, with more detail about it."
             "\n\nA third one closes the story with a quote from an official.",
        outlet="Wire", author="A. Writer", published_at=datetime(2024, 3, n, 9, 30, tzinfo=IST),
        url=f"https://example.com/{n}", category="world", source_file=f"/data/{n}.json", also_in=(),
    )
    fields.update(kw)
    return Article(**fields)


def _upsert(art: Article, chunk_tokens: int = 16):
    return (art, article_hash(art), body_hash(art.body), chunk_article(art, chunk_tokens, 0))


@pytest.fixture
def records(tmp_path):
    r = Records(tmp_path / "records.sqlite3")
    yield r
    r.close()


def test_articles_and_chunks_round_trip(records):
    full = _article(1)
    bare = _article(2, outlet=None, author=None, published_at=None, url=None, category=None, source_file=None)
    up_full, up_bare = _upsert(full), _upsert(bare)
    records.commit_articles([up_full, up_bare], [])
    assert records.get_article("a1") == full and records.get_article("a2") == bare
    assert records.get_article("nope") is None
    chunks = up_full[3] + up_bare[3]
    assert records.get_chunks([c.id for c in chunks] + ["nope"]) == {c.id: c for c in chunks}
    assert records.article_state("a1") == (up_full[1], [c.id for c in up_full[3]])
    assert records.counts() == {"articles": 2, "chunks": len(chunks)}
    assert records.chunk_ids() == sorted(c.id for c in chunks)
    assert records.find_by_body_hash(body_hash(full.body.upper())) == "a1"  # normalized body
    stored = records.stored_articles(["a2", "a1", "nope"])
    assert [(s.article, s.content_hash, s.chunks) for s in stored] == [
        (bare, up_bare[1], tuple(up_bare[3])), (full, up_full[1], tuple(up_full[3]))]
    assert [r[0] for r in records.iter_chunk_rows()] == sorted(c.id for c in chunks)
    assert list(records.iter_articles()) == [full, bare]
    assert records.outlets() == [("Wire", 1)]
    assert records.date_span() == (full.published_at, full.published_at)


def test_an_update_replaces_and_a_removal_is_journaled(records):
    records.commit_articles([_upsert(_article(1))], [])
    gen = records.generation()
    old_ids = records.article_state("a1")[1]
    edited = _article(1, title="New headline", body="Only one sentence now.")
    up = _upsert(edited)
    gone = sorted(set(old_ids) - {c.id for c in up[3]})
    records.commit_articles([up], gone)
    assert records.generation() == gen + 1
    assert records.get_article("a1") == edited and records.counts()["articles"] == 1
    assert records.article_state("a1")[1] == [c.id for c in up[3]]
    assert records.pending_vector_deletes() == gone
    records.clear_pending_vector_deletes()
    assert records.pending_vector_deletes() == []


def test_also_in_accumulates_and_every_change_is_journaled_for_the_vector_store(records):
    records.commit_articles([_upsert(_article(1, also_in=("Other | 2024-03-01",)))], [])
    records.commit_articles([_upsert(_article(2))], [], also_in=[("a1", "Third | 2024-03-02"), ("missing", "x")])
    assert records.get_article("a1").also_in == ("Other | 2024-03-01", "Third | 2024-03-02")
    assert records.also_in(["a1", "a2"]) == {"a1": ("Other | 2024-03-01", "Third | 2024-03-02")}
    assert records.vector_metadata_todo() == ["a1", "a2"]
    assert records.vector_metadata_todo(limit=1) == ["a1"]
    records.clear_vector_metadata_todo(["a1", "a2"])
    assert records.vector_metadata_todo() == []


def test_generation_moves_with_every_commit_and_a_failed_commit_changes_nothing(records):
    assert records.generation() == 0
    records.commit_articles([_upsert(_article(1))], [])
    records.commit_articles([], [])
    assert records.generation() == 2
    art, _chash, bhash, chunks = _upsert(_article(2))
    with pytest.raises(sqlite3.IntegrityError):  # content_hash is NOT NULL: the whole commit rolls back
        records.commit_articles([_upsert(_article(3)), (art, None, bhash, chunks)], [])
    assert records.generation() == 2 and records.counts()["articles"] == 1


def test_integrity_helpers(records):
    a, b = _article(1), _article(2, id="a2", body=_article(1).body)  # two articles, one body
    records.commit_articles([_upsert(a), _upsert(b)], [])
    assert records.quick_check() == ["ok"]
    assert records.repeated_bodies() == 1
    assert records.bodies() == {"a1": a.body, "a2": a.body}
    spans = list(records.iter_chunk_spans())
    assert all(records.bodies()[aid][s:e] == text for _c, aid, _i, s, e, text in spans)
    assert records.orphan_chunk_ids() == []


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_file_is_one_index_damaged_line(tmp_path, damage):
    path = tmp_path / "records.sqlite3"
    r = Records(path)
    r.commit_articles([_upsert(_article(n, body=f"Story {n}. " + "Words go on. " * 400)) for n in range(1, 20)], [])
    r.close()  # the last connection closed: the WAL is checkpointed into the file
    data = path.read_bytes()
    path.write_bytes(b"garbage!" * 2000 if damage == "garbage" else data[: len(data) // 3])
    want = f"{path} is damaged"
    with pytest.raises(IndexDamaged, match="rag index verify --repair --index") as caught:
        Records(path).counts() if damage == "truncated" else Records(path)
    assert str(caught.value).startswith(want) and "\n" not in str(caught.value)
    if damage == "truncated":  # generators too
        with pytest.raises(IndexDamaged):
            list(Records(path).iter_articles())
