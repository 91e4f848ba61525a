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


# ---- search-time work done once per index: exact scores, the sentence table ---------------

LONG_ROWS = ROWS + [  # several sentences, repeated words, a stopword-only sentence, no sentence
    ("c5", "", "Ferries ran late. The storm hit the harbour, and the harbour closed! It was.\n\nCouncil met.",
     "Herald", "2024-02-11T08:00:00+00:00"),
    ("c6", "", "", "Herald", None),
]


def test_the_sentence_table_equals_tokenizing_each_passage(tmp_path):
    import numpy as np

    from rag.retrieve.terms import SentenceTable, TermWeights

    bm = LexicalIndex.build(LONG_ROWS, generation=2)
    bm.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded.sentence_terms is not None
    texts = {cid: text for cid, _h, text, _o, _p in LONG_ROWS}
    keys = list(texts)
    for index in (bm, loaded):
        stored = TermWeights.from_lexical(index)
        plain = TermWeights(stored.vocab, stored.idf, index._stem)  # no table: tokenizes
        assert stored._stored is not None and plain._stored is None
        for cid, text in texts.items():
            a, b = stored.chunk_terms(cid, text), plain.chunk_terms(cid, text)
            assert len(a[0]) == len(b[0]) and all(np.array_equal(x, y) for x, y in zip(a[0], b[0])) and a[1] == b[1]
        # the table of all passages at once, in numpy, equals the one built passage by passage
        got = stored.sentence_table(keys, [texts[k] for k in keys])
        want = SentenceTable([plain.chunk_sentences(k, texts[k]) for k in keys])
        for name in ("flat", "starts", "owner"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), name
        q, total = plain.vector(plain.ids("harbour storm council ferries"))
        assert [x.tolist() for x in got.best(q, total)] == [x.tolist() for x in want.best(q, total)]
        assert got.best(q, total)[0].max() > 0
        # word pairs: only sentences holding a pair of the question are kept; coverage unchanged
        pairs = plain.pairs("the storm hit the harbour; harbour closed")
        assert pairs
        sparse = stored.pair_sets(keys, [texts[k] for k in keys], pairs)
        full = [plain.chunk_pairs(k, texts[k]) for k in keys]
        assert sum(map(len, sparse)) < sum(map(len, full))
        assert stored.pair_coverage(pairs, sparse).tolist() == plain.pair_coverage(pairs, full).tolist()
        assert stored.pair_coverage(pairs, sparse).max() > 0


def test_an_index_saved_without_the_sentence_table_still_serves(tmp_path):
    from rag.retrieve.terms import TermWeights

    bm = LexicalIndex.build(LONG_ROWS, generation=3)
    bm.save(tmp_path / "bm25")
    for name in ("terms.npy", "sent_ptr.npy", "row_ptr.npy"):
        (tmp_path / "bm25" / name).unlink()
    old = LexicalIndex.load(tmp_path / "bm25")
    assert old is not None and old.sentence_terms is None and old.sentence_sequences("c5") is None
    assert old.search("storm harbour", 3) == bm.search("storm harbour", 3)
    tw = TermWeights.from_lexical(old)
    assert tw._stored is None and len(tw.chunk_sentences("c5", LONG_ROWS[4][2])) == 4
    assert bm.sentence_sequences("nope") is None
