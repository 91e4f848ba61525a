"""The public Archive API on a small archive (the seed article + six JSONL articles, the
bag-of-words embedder): ingest reports, filtered search, cited and verified answers, follow-ups
rewritten from a conversation (by rule, and by a real OpenAI-compatible server with scripted
replies), stats, and reopening the folder."""
from __future__ import annotations

import re
import shutil

import pytest

from rag.archive import Archive
from rag.errors import BackendUnavailable, BadInput, IndexMissing
from rag.settings import Settings
from tests.fakes import DATA, SEED, ScriptedLLMServer

MINI = DATA / "mini.jsonl"

SUBJECT = "How much did Microsoft pay for Activision Blizzard?"
FOLLOW_UP = "And when was it announced?"
REWRITTEN = "And when was it announced (Microsoft, Activision Blizzard)?"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """The seed + mini corpus, ingested once for the read-only tests of this module."""
    idx = tmp_path_factory.mktemp("archive") / "idx"
    a = Archive.create(idx, Settings.load(env={}, index=str(idx), embedder="hash"))
    a.ingest([SEED, MINI])
    return a


def _history(archive: Archive, question: str) -> list[tuple[str, str]]:
    return [("user", question), ("assistant", archive.ask(question).text)]


def _assert_cited_and_verified(archive: Archive, ans) -> None:
    """Every [n] resolves to a source, and every quote is the exact span of its article."""
    numbers = {s.n for s in ans.sources}
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", ans.text)}
    assert cited and cited <= numbers
    for s in ans.sources:
        body = archive.store.records.get_article(s.article_id).body
        assert body[s.start:s.end] == s.quote


# ---- ingest ------------------------------------------------------------------------------------
def test_ingest_reports_counts_skips_bad_records_and_is_incremental(hash_settings, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    lines = MINI.read_text(encoding="utf-8").splitlines()
    (corpus / "mini.jsonl").write_text("\n".join(lines[:3] + ["{not json"] + lines[3:]) + "\n", encoding="utf-8")
    a = Archive.create(settings=hash_settings)
    report = a.ingest(corpus)
    assert (report.new, report.updated, report.unchanged) == (7, 0, 0)
    assert report.chunks_added >= 7 and report.chunks_removed == 0
    assert len(report.errors) == 1 and report.errors[0].line == 4 and report.errors[0].file.endswith("mini.jsonl")
    assert "7 new" in report.summary()
    again = a.ingest([corpus])
    assert (again.new, again.unchanged, again.chunks_added) == (0, 7, 0)
    assert a.stats()["articles"] == 7


# ---- search ------------------------------------------------------------------------------------
def test_search_ranks_the_matching_article_first(archive):
    hits = archive.search("Pentagon memo Alibaba Chinese military", k=3)
    assert len(hits) == 3 and hits[0].chunk.outlet == "KSMO Santa Monica"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_respects_since_until_and_outlets(archive):
    december = archive.search("AI", k=20, since="2023-12-01", until="2023-12-31")
    assert december and all(h.chunk.published_at.strftime("%Y-%m") == "2023-12" for h in december)
    up_to = archive.search("deal", k=20, until="2023-12-07")  # the end of that day is included
    assert up_to and all(h.chunk.published_at.date().isoformat() <= "2023-12-07" for h in up_to)
    assert any(h.chunk.published_at.date().isoformat() == "2023-12-07" for h in archive.search("Gemini", k=5, until="2023-12-07"))
    bbc = archive.search("deal", k=20, outlets=["BBC News - Technology"])
    assert bbc and {h.chunk.outlet for h in bbc} == {"BBC News - Technology"}
    assert all(h.chunk.outlet != "KSMO Santa Monica" for h in archive.search("Alibaba", k=50, since="2000-01-01"))  # undated


def test_search_refuses_bad_input(archive):
    with pytest.raises(BadInput, match="empty query"):
        archive.search("   ")
    with pytest.raises(BadInput, match="not a date"):
        archive.search("Alibaba", since="last tuesday")


# ---- ask ---------------------------------------------------------------------------------------
def test_ask_returns_cited_verified_sources(archive):
    ans = archive.ask("What does the Pentagon memo allege about Alibaba and the Chinese military?")
    assert not ans.abstained and ans.rewritten_question is None
    _assert_cited_and_verified(archive, ans)
    assert any(s.outlet == "KSMO Santa Monica" for s in ans.sources)
    assert ans.settings_hash == archive.settings.answer_hash()
    assert {"retrieve", "total"} <= set(ans.timing_ms) and ans.timing_ms["total"] >= ans.timing_ms["retrieve"]


def test_ask_respects_filters(archive):
    ans = archive.ask("What did the Pentagon memo allege about Alibaba?", outlets=["TechCrunch"])
    assert all(s.outlet == "TechCrunch" for s in ans.sources)


def test_ask_with_history_rewrites_a_follow_up(archive):
    history = _history(archive, SUBJECT)
    ans = archive.ask(FOLLOW_UP, history=history)
    assert ans.question == FOLLOW_UP and ans.rewritten_question == REWRITTEN
    assert ans.to_dict()["rewritten_question"] == REWRITTEN
    assert any("Activision" in s.title for s in ans.sources)
    plain = archive.ask(REWRITTEN)  # the rewrite is what was searched and answered
    assert ans.text == plain.text and [s.chunk_id for s in ans.sources] == [s.chunk_id for s in plain.sources]


def test_ask_with_history_keeps_a_standalone_question(archive):
    history = _history(archive, SUBJECT)
    ans = archive.ask("What are early impressions of Google's Gemini?", history=history)
    assert ans.rewritten_question is None and ans.question == "What are early impressions of Google's Gemini?"


def test_ask_stream_with_history_names_the_rewrite_before_the_first_delta(archive):
    history = [{"role": "user", "content": SUBJECT}, {"role": "assistant", "content": "$69bn.[1]"}]
    stream = archive.ask_stream(FOLLOW_UP, history=history)
    assert stream.rewritten_question == REWRITTEN and stream.answer is None
    text = "".join(stream)
    assert text and stream.answer is not None and stream.answer.rewritten_question == REWRITTEN
    assert stream.answer.text == archive.ask(FOLLOW_UP, history=history).text


def test_ask_errors_are_domain_errors(archive):
    with pytest.raises(BadInput, match="empty query"):
        archive.ask("")
    with pytest.raises(BackendUnavailable, match="RAG_LLM_BASE_URL"):
        archive.ask("What did Alibaba say?", answerer="llm")


def test_one_llm_client_condenses_follow_ups_and_writes_answers(archive):
    """With an endpoint configured the Archive rewrites follow-ups with it (prompts/condense.md)
    and the llm answerer writes with it; the scripted server sees both."""
    rewrite = "When was Microsoft's purchase of Activision Blizzard announced?"

    def script(messages):
        if "Follow-up question:" in messages[-1]["content"]:
            return rewrite
        return "The deal was completed for $69bn.[1]"

    with ScriptedLLMServer(script) as srv:
        settings = archive.settings.with_(llm_base_url=srv.base_url, llm_model=srv.model, llm_timeout=10.0)
        with_llm = Archive.open(archive.path, settings)
        history = [("user", SUBJECT), ("assistant", "Microsoft paid $69bn.[1]")]
        ans = with_llm.ask(FOLLOW_UP, history=history, answerer="llm")
        again = with_llm.ask("Did gamers benefit?", history=history, answerer="llm")
    assert ans.rewritten_question == rewrite and ans.answerer == "llm"
    assert again.rewritten_question == rewrite  # the scripted rewrite again
    condense = [r for r in srv.requests if "Follow-up question:" in r["messages"][-1]["content"]]
    assert len(condense) == 2 and len(srv.requests) == 4
    assert f"User: {SUBJECT}" in condense[0]["messages"][-1]["content"]


# ---- information and reopening -------------------------------------------------------------------
def test_stats_and_outlets(archive):
    st = archive.stats()
    assert (st["articles"], st["embedder"]) == (7, archive.store.config.embedder)
    assert st["chunks"] >= 7 and st["index"] == str(archive.path)
    assert st["outlets"] == {"TechCrunch": 4, "BBC News - Technology": 1, "Mashable": 1, "KSMO Santa Monica": 1}
    assert st["first_date"].startswith("2023-10-01") and st["last_date"].startswith("2023-12-18")
    assert archive.outlets()[0] == "TechCrunch" and set(archive.outlets()) == set(st["outlets"])


def test_reopening_the_folder_sees_the_same_articles(hash_settings):
    with Archive.create(settings=hash_settings) as a:
        a.ingest([SEED, MINI])
        before = a.stats()
        hits = [h.chunk.id for h in a.search("Beeper Mini Apple iMessage", k=5)]
        text = a.ask("How did Apple try to shut down Beeper Mini?").text
    reopened = Archive.open(hash_settings.index, hash_settings)
    assert reopened.stats() == before
    assert [h.chunk.id for h in reopened.search("Beeper Mini Apple iMessage", k=5)] == hits
    assert reopened.ask("How did Apple try to shut down Beeper Mini?").text == text


def test_open_refuses_a_missing_index(tmp_path):
    with pytest.raises(IndexMissing):
        Archive.open(tmp_path / "nothing-here", Settings.load(env={}, embedder="hash"))
