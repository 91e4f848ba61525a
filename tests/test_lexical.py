"""BM25 over chunk texts (rag.index.lexical): the chunk that holds the query's words ranks first,
stemming and the header count, filters by date and outlet hold, and a saved index answers as
the built one did."""
from __future__ import annotations

from datetime import datetime, timezone

from rag.index.lexical import LexicalIndex

ROWS = [  # (chunk id, header, text, outlet, published ISO)
    ("c1", "Council budget — Gazette — 2024-01-05", "The city council approved the budget for schools and clinics.",
     "Gazette", "2024-01-05T10:00:00+00:00"),
    ("c2", "Harbour storm — Herald — 2024-02-10", "A storm closed the harbour and ferries were cancelled.",
     "Herald", "2024-02-10T08:00:00+00:00"),
    ("c3", "Election — Gazette — 2024-03-15", "Voters elected a new mayor after a close race.",
     "Gazette", "2024-03-15T12:00:00+00:00"),
    ("c4", "Undated note", "Ferries resumed after the storm, the harbour master said.", None, None),
]


def _dt(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


def test_the_matching_chunk_ranks_first():
    bm = LexicalIndex.build(ROWS, generation=3)
    assert bm.generation == 3 and bm.ids == ["c1", "c2", "c3", "c4"]
    assert bm.search("council budget schools", 4)[0][0] == "c1"
    assert bm.search("approving budgets", 4)[0][0] == "c1"  # stemmed
    assert [i for i, _ in bm.search("mayor", 4)] == ["c3"]  # only chunks with a positive score
    top = bm.search("storm harbour ferries", 4)
    assert {i for i, _ in top} == {"c2", "c4"} and all(s > 0 for _, s in top)
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    assert {i for i, _ in bm.search("Gazette", 4)} == {"c1", "c3"}  # the header is indexed
    assert bm.search("zebra quantum", 4) == [] and bm.search("the and of", 4) == []  # unknown words, stopwords
    assert len(bm.search("storm harbour ferries", 1)) == 1


def test_filters_by_date_and_outlet():
    bm = LexicalIndex.build(ROWS, generation=1)
    q = "storm harbour ferries council election"
    assert {i for i, _ in bm.search(q, 4, outlets=["Gazette"])} == {"c1", "c3"}
    assert {i for i, _ in bm.search(q, 4, since=_dt("2024-02-01"))} == {"c2", "c3"}  # undated never passes
    assert {i for i, _ in bm.search(q, 4, since=_dt("2024-02-01"), until=_dt("2024-02-28"))} == {"c2"}
    assert bm.search(q, 4, outlets=["Nobody"]) == []
    assert {i for i, _ in bm.search(q, 4, outlets=[""])} == {"c4"}  # "" stands for no outlet


def test_saved_and_loaded_it_answers_the_same(tmp_path):
    bm = LexicalIndex.build(ROWS, generation=7)
    bm.save(tmp_path / "bm25")
    again = LexicalIndex.load(tmp_path / "bm25")
    assert again is not None and again.generation == 7 and again.ids == bm.ids
    for q in ("storm harbour", "council budget", "mayor"):
        assert again.search(q, 4, since=_dt("2024-01-01")) == bm.search(q, 4, since=_dt("2024-01-01"))
    assert LexicalIndex.load(tmp_path / "nothing") is None


def test_an_empty_index_finds_nothing(tmp_path):
    bm = LexicalIndex.build(iter(()), generation=0)
    assert bm.search("anything", 5) == []
    bm.save(tmp_path / "bm25")
    assert LexicalIndex.load(tmp_path / "bm25").search("anything", 5) == []
