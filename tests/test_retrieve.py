"""Hybrid retrieval: fusion arithmetic, filters, and real MiniLM + BM25 on real articles."""
from __future__ import annotations

import pytest

from rag.archive import Archive
from rag.errors import BadInput
from rag.retrieve.retriever import rrf


def test_rrf_weights_and_ranks():
    fused = rrf([(["a", "b", "c"], 1.0), (["c", "d"], 0.5)], k=10)
    scores = {cid: s for cid, s, _ in fused}
    assert scores["a"] == pytest.approx(1 / 11)
    assert scores["c"] == pytest.approx(1 / 13 + 0.5 / 11)
    assert [cid for cid, _, _ in fused][:2] == ["c", "a"]
    assert dict((cid, r) for cid, _, r in fused)["d"] == [None, 2]


def test_weight_zero_retriever_is_ignored():
    fused = rrf([(["a", "b"], 1.0), (["b", "a"], 0.0)], k=60)
    assert [c for c, _, _ in fused] == ["a", "b"]


def test_filters_by_date_and_outlet(hash_archive):
    hits = hash_archive.search("AI", k=20, since="2023-12-01")
    assert hits and all(h.chunk.published_at and h.chunk.published_at.date().isoformat() >= "2023-12-01" for h in hits)
    hits = hash_archive.search("AI", k=20, until="2023-10-31")
    assert hits and all(h.chunk.published_at.date().isoformat() <= "2023-10-31" for h in hits)
    hits = hash_archive.search("deal", k=20, outlets=["BBC News - Technology"])
    assert hits and {h.chunk.outlet for h in hits} == {"BBC News - Technology"}
    # undated articles (the seed) never pass a date filter, and do pass no filter
    assert all(h.chunk.outlet != "KSMO Santa Monica" for h in hash_archive.search("Alibaba", k=50, since="2000-01-01"))
    assert hash_archive.search("Alibaba Pentagon memo")[0].chunk.outlet == "KSMO Santa Monica"
    with pytest.raises(BadInput):
        hash_archive.search("x", since="last tuesday")


def test_hits_carry_metadata_offsets_and_ranks(hash_archive):
    hits = hash_archive.search("Beeper Mini Apple iMessage", k=5)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    top = hits[0].chunk
    assert "Beeper" in top.title and top.outlet == "TechCrunch" and top.url.startswith("https://techcrunch.com/")
    body = hash_archive.store.records.get_article(top.article_id).body
    assert body[top.start : top.end] == top.text


def test_minilm_hybrid_finds_the_seed_article(minilm_archive):
    # a paraphrase with little word overlap: the dense side has to carry it
    hits = minilm_archive.search("Which online retailer is said to help China's army?", k=3)
    assert hits[0].chunk.outlet == "KSMO Santa Monica"
    assert hits[0].dense_rank is not None
    hits = minilm_archive.search("OpenAI board veto power over risky AI models", k=3)
    assert hits[0].chunk.title.startswith("OpenAI buffs safety team")


def test_score_fusion_keeps_a_decisive_bm25_match_first(hash_settings, corpus_dir):
    """A chunk far ahead on BM25 stays first even when the dense side ranks it low (the case
    that made rank fusion lose to BM25 alone on the dev split)."""
    a = Archive.create(settings=hash_settings)
    a.ingest([corpus_dir])
    q = "Beeper Mini iMessage Apple shut down"
    lex_top = a.store.lexical.search(q, 1)[0][0]
    assert a.search(q, k=1)[0].chunk.id == lex_top
    rrf_archive = Archive.open(settings=hash_settings.with_(fusion="rrf"))
    assert len(rrf_archive.search(q, k=5)) == 5


# ---- news-grade retrieval: plan, sub-queries, filters ------------------------------------

ALL_OFF = dict(query_outlets=False, query_dates=False, subqueries=False, rerank=False)


def test_plan_uses_the_archives_outlets_and_dates(hash_archive):
    p = hash_archive.retriever.plan("What did BBC News say about the Microsoft deal in October?")
    assert p.outlet_names == ("BBC News - Technology",)
    (d,) = p.dates
    assert (d.since.date().isoformat(), d.until.date().isoformat()) == ("2023-10-01", "2023-10-31")
    # "last week" is the archive's last week (it ends on Monday 2023-12-18), not this calendar week
    (lw,) = hash_archive.retriever.plan("What happened last week?").dates
    assert lw.since.date().isoformat() == "2023-12-11" and lw.until.date().isoformat() == "2023-12-17"


def test_each_named_outlet_gets_evidence(hash_archive):
    q = ("Does the BBC News article say the Activision deal helps gamers, while the Mashable "
         "article lists Cyber Monday deals on Amazon?")
    hits = hash_archive.search(q, k=4)
    assert {"BBC News - Technology", "Mashable"} <= {h.chunk.outlet for h in hits}
    cand = hash_archive.retriever.candidates(q)
    assert {s.outlets for s in cand.subs if s.kind == "side"} == {("BBC News - Technology",), ("Mashable",)}


def test_caller_filters_bind_sub_queries(hash_archive):
    q = "Did TechCrunch and BBC News both cover the Microsoft Activision deal?"
    hits = hash_archive.search(q, k=10, outlets=["TechCrunch"])
    assert hits and {h.chunk.outlet for h in hits} == {"TechCrunch"}
    hits = hash_archive.search(q, k=10, since="2023-12-01")
    assert hits and all(h.chunk.published_at.date().isoformat() >= "2023-12-01" for h in hits)


def test_a_date_in_the_question_prefers_that_days_article(hash_archive):
    q = "What did the TechCrunch article published on December 7, 2023 say about the AI model?"
    assert hash_archive.search(q, k=1)[0].chunk.published_at.date().isoformat() == "2023-12-07"


def test_everything_off_is_the_plain_hybrid(hash_settings, corpus_dir):
    a = Archive.create(settings=hash_settings.with_(**ALL_OFF))
    a.ingest([corpus_dir])
    q = "Beeper Mini iMessage Apple shut down"
    lex_top = a.store.lexical.search(q, 1)[0][0]
    hits = a.search(q, k=5)
    assert hits[0].chunk.id == lex_top and hits[0].lexical_rank == 1
    assert all(h.also_ran_in == () for h in hits)


def test_when_question_answer_states_publication_dates(hash_archive):
    ans = hash_archive.ask("When did TechCrunch report that Beeper Mini was back in operation?")
    assert not ans.abstained
    assert all(s.supported for s in ans.sentences)
    by_n = {s.n: s for s in ans.sources}
    for sent in ans.sentences:
        src = by_n[sent.citations[0]]
        d = src.published_at
        assert sent.text.startswith(f"{src.outlet}, {d.strftime('%B')} {d.day}, {d.year}: ")
    dates = [by_n[s.citations[0]].published_at for s in ans.sentences]
    assert dates == sorted(dates)  # oldest first
    plain = hash_archive.ask("What did TechCrunch report about Beeper Mini?")
    assert not any(s.text.startswith("TechCrunch, ") for s in plain.sentences)


def test_clear_caches_forgets_per_passage_tables_and_keeps_results(hash_archive):
    q = "What did TechCrunch report about the FTX trial?"
    first = [(h.chunk.id, round(h.score, 9)) for h in hash_archive.search(q)]
    terms = hash_archive.retriever._context()["terms"]
    # the index's sentence table served the search; a passage outside it is tokenized and kept
    assert terms._stored is not None
    terms.chunk_terms("not-indexed", "A passage outside the index. Two sentences.")
    assert terms._chunks
    hash_archive.retriever.clear_caches()
    assert not terms._chunks
    assert [(h.chunk.id, round(h.score, 9)) for h in hash_archive.search(q)] == first  # same answer, cold
