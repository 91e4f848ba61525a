"""The citation support judges: labelled pairs, calibration figures, the offline judge (real
MiniLM) and the LLM judge against a real OpenAI-compatible server with scripted replies."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from evals import judge as J
from rag.errors import BackendUnavailable
from rag.ingest.loaders import iter_articles
from rag.settings import Settings
from tests.fakes import ScriptedLLMServer

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "rag" / "sample"


@pytest.fixture(scope="module")
def pairs():
    return J.load_pairs()


@pytest.fixture(scope="module")
def sample_bodies():
    return [a.body for a in iter_articles([SAMPLE]) if hasattr(a, "body")]


def test_labelled_pairs_are_real_passages_with_hard_negatives(pairs, sample_bodies):
    assert len(pairs) >= 60
    kinds = Counter(p["kind"] for p in pairs)
    assert kinds["hard_negative_number"] >= 10 and kinds["hard_negative_name"] >= 10
    assert kinds["paraphrase"] >= 10 and kinds["exact"] >= 5
    for p in pairs:
        assert isinstance(p["supported"], bool) and p["sentence"].strip()
        assert any(p["passage"] in b for b in sample_bodies), p["passage"][:80]
        assert p["supported"] == (p["kind"] in ("exact", "paraphrase"))
    assert len({(p["sentence"], p["passage"]) for p in pairs}) == len(pairs)


def test_calibration_file_reports_agreement(pairs):
    cal = json.loads(J.CALIBRATION_FILE.read_text(encoding="utf-8"))
    assert cal["n_pairs"] == len(pairs)
    assert set(cal["params"]) == {"bias", *J.FEATURES}
    for which in ("fitted", "leave_one_out"):
        a = cal["agreement"][which]
        assert {"accuracy", "unsupported_precision", "unsupported_recall"} <= set(a)
    loo = cal["agreement"]["leave_one_out"]
    assert loo["accuracy"] >= 0.85 and loo["unsupported_precision"] >= 0.85 and loo["unsupported_recall"] >= 0.8
    text = J.format_agreement(cal)
    assert "leave-one-out: accuracy" in text and "unsupported recall" in text


def test_lexical_features_catch_a_changed_number_or_name():
    passage = "Microsoft has sealed its long-awaited deal for Activision Blizzard, and it's paid $69bn (£56bn) for the privilege."
    assert J.lexical_features("Microsoft paid $69bn for Activision Blizzard.", [passage]) == (1.0, 0)
    lex, miss = J.lexical_features("Microsoft paid $75bn for Activision Blizzard.", [passage])
    assert miss == 1 and lex < 1.0
    assert J.lexical_features("Sony paid $69bn for Activision Blizzard.", [passage])[1] == 1  # first word is a name
    assert J.lexical_features("However, Microsoft paid $69bn.", [passage])[1] == 0  # an opener is not


class _NoModel:
    """An embedder that must not be used."""

    def embed_texts(self, texts, progress=None):
        raise AssertionError("the model should not be needed")


def test_offline_judge_skips_the_model_when_the_verdict_is_decided():
    judge = J.OfflineJudge(embedder=_NoModel())
    passage = "Beeper Mini will allow Android users to send iMessage chats for just $1.99 per month. It launched today."
    assert judge.supports("Beeper Mini will allow Android users to send iMessage chats for just $1.99 per month", [passage])
    assert not judge.supports("The Cyberbeast costs $99,990 and tows 11,000 pounds.", [passage])
    assert not judge.supports("Anything at all here.", [])
    assert "calibrated on" in judge.name and "proxy" in judge.name


def test_offline_judge_with_minilm_reproduces_the_calibration(pairs):
    cal = json.loads(J.CALIBRATION_FILE.read_text(encoding="utf-8"))
    judge = J.make_judge("offline", Settings())
    assert isinstance(judge, J.OfflineJudge)
    assert J.judge_agreement(judge, pairs) == cal["agreement"]["fitted"]


def test_parse_verdict():
    assert J.parse_verdict("SUPPORTED") is True
    assert J.parse_verdict("Verdict: unsupported.") is False
    assert J.parse_verdict("NOT SUPPORTED") is False
    assert J.parse_verdict("<think>it is SUPPORTED?</think>UNSUPPORTED") is False
    assert J.parse_verdict("maybe") is None


def test_llm_judge_against_a_scripted_openai_compatible_server():
    def script(messages):
        user = messages[-1]["content"]
        if "Sentence: The Cyberbeast costs $99,990." in user:
            return "SUPPORTED"
        if "Sentence: The Cyberbeast costs $9." in user:
            return "<think>the number differs</think>UNSUPPORTED"
        return "I am not sure."

    with ScriptedLLMServer(script) as server:
        from rag.answer.llm import OpenAICompatibleLLM

        settings = Settings(llm_base_url=server.base_url, llm_model="scripted-model", llm_timeout=10)
        judge = J.make_judge("auto", settings)
        assert isinstance(judge, J.LLMJudge) and "scripted-model" in judge.name
        passage = "The Cyberbeast has an estimated 320-mile range and $99,990 price tag."
        assert judge.supports("The Cyberbeast costs $99,990.", [passage])
        assert not judge.supports("The Cyberbeast costs $9.", [passage])
        assert not judge.supports("Unclear reply.", [passage, "Second passage."]) and judge.unparsed == 1
        assert judge.supports("The Cyberbeast costs $99,990.", [passage])  # cached: no new request
        assert len(server.requests) == 3
        body = server.requests[0]
        assert body["messages"][0]["role"] == "system" and "SUPPORTED or UNSUPPORTED" in body["messages"][0]["content"]
        assert passage in body["messages"][-1]["content"]
        assert "Second passage." in server.requests[2]["messages"][-1]["content"]
        assert isinstance(judge.llm, OpenAICompatibleLLM)


def test_make_judge_choices():
    assert isinstance(J.make_judge("auto", Settings()), J.OfflineJudge)
    with pytest.raises(BackendUnavailable):
        J.make_judge("llm", Settings())
