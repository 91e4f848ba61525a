"""Follow-up rewriting: the entity-carrying rule, and the LLM path through prompts/condense.md
against a real OpenAI-compatible HTTP server with scripted replies."""
from __future__ import annotations

import pytest

from rag.answer.followup import named_entities, refers_back, rewrite_by_llm, rewrite_by_rule, standalone_question
from rag.answer.llm import OpenAICompatibleLLM
from rag.settings import Settings
from tests.fakes import ScriptedError, ScriptedLLMServer

FIRST = "What does the Pentagon memo allege about Alibaba and the Chinese military?"
HISTORY = [
    ("user", FIRST),
    ("assistant", "The memo alleges that Alibaba provides the PLA with 'opportunities' that 'threaten U.S. security.'[1]"),
]


def _client(srv: ScriptedLLMServer) -> OpenAICompatibleLLM:
    """A real client of the scripted server, as the Archive builds it from its settings."""
    settings = Settings.load(env={}, index="unused", llm_base_url=srv.base_url, llm_model=srv.model, llm_timeout=10.0)
    return OpenAICompatibleLLM(settings)


@pytest.mark.parametrize(
    "text, names",
    [
        (FIRST, ["Pentagon", "Alibaba", "Chinese"]),
        ("Did the U.S. Department of Defense name the Chinese People’s Liberation Army?", ["U.S. Department of Defense", "Chinese People’s Liberation Army"]),
        ("What did OpenAI announce in December 2023?", ["OpenAI", "December 2023"]),
        ("How did The New York Times cover Sam Altman's return?", ["New York Times", "Sam Altman"]),
        ("what happened next?", []),
        ("Where is Alibaba. Who runs Alibaba?", ["Alibaba"]),
    ],
)
def test_named_entities(text, names):
    assert named_entities(text) == names


@pytest.mark.parametrize(
    "question, follow",
    [
        ("what did the company say about it?", True),
        ("How did they respond?", True),
        ("What did he say?", True),
        ("Is that true?", True),
        ("When?", True),
        ("and why", True),
        ("What did the memo claim?", True),
        ("What did Apple announce?", False),
        ("Who won the Riverside Marathon?", False),
    ],
)
def test_refers_back(question, follow):
    assert refers_back(question) is follow


def test_rule_carries_previous_entities_into_a_follow_up():
    out = rewrite_by_rule("what did the company say about it?", HISTORY)
    assert out == "what did the company say about it (Pentagon, Alibaba, Chinese)?"


def test_rule_keeps_standalone_questions_and_entities_already_present():
    assert rewrite_by_rule("What did Apple announce?", HISTORY) == "What did Apple announce?"
    assert rewrite_by_rule("What did Alibaba say about it?", HISTORY) == "What did Alibaba say about it (Pentagon, Chinese)?"
    assert rewrite_by_rule("  what did it say?  ", []) == "what did it say?"


def test_rule_uses_the_latest_user_turn_and_accepts_message_dicts():
    history = [
        {"role": "user", "content": "Who won the Riverside Marathon?"},
        {"role": "assistant", "content": "Grace Wanjiru won.[1]"},
        {"role": "user", "content": "What did Phoenix record on Sunday?"},
        {"role": "assistant", "content": "123 degrees.[1]"},
    ]
    assert rewrite_by_rule("Was it a record?", history) == "Was it a record (Phoenix, Sunday)?"


def test_rule_chains_through_standalone_forms():
    q2 = rewrite_by_rule("what did the company say about it?", HISTORY)
    history = HISTORY + [("user", q2), ("assistant", "It called the memo 'nonsense'.[1]")]
    assert rewrite_by_rule("Did they deny it?", history) == "Did they deny it (Pentagon, Alibaba, Chinese)?"


def test_rule_without_entities_leaves_the_question():
    history = [("user", "what happened next?"), ("assistant", "x")]
    assert rewrite_by_rule("why did it happen?", history) == "why did it happen?"


def test_standalone_without_llm_uses_the_rule():
    assert standalone_question("what did the company say about it?", HISTORY) == (
        "what did the company say about it (Pentagon, Alibaba, Chinese)?"
    )
    assert standalone_question("What did Apple announce?", []) == "What did Apple announce?"


def test_llm_rewrite_uses_condense_prompt_and_history():
    reply = 'Standalone question: "What did Alibaba say about the Pentagon memo alleging ties to the Chinese military?"'
    with ScriptedLLMServer(reply) as srv:
        out = standalone_question("what did the company say about it?", HISTORY, _client(srv))
    assert out == "What did Alibaba say about the Pentagon memo alleging ties to the Chinese military?"
    messages = srv.requests[0]["messages"]
    assert messages[0]["role"] == "system" and "standalone" in messages[0]["content"]
    user = messages[-1]["content"]
    assert f"User: {FIRST}" in user and "Assistant: The memo alleges" in user
    assert "Follow-up question: what did the company say about it?" in user


def test_llm_is_not_called_without_history():
    with ScriptedLLMServer("should not be used") as srv:
        assert standalone_question("What did Apple announce?", [], _client(srv)) == "What did Apple announce?"
    assert srv.requests == []


def test_llm_failure_or_empty_reply_falls_back_to_the_rule():
    def fail(_messages):
        raise ScriptedError(500, "model crashed")

    for script in (fail, ["   "]):
        with ScriptedLLMServer(script) as srv:
            out = standalone_question("what did the company say about it?", HISTORY, _client(srv))
        assert out == "what did the company say about it (Pentagon, Alibaba, Chinese)?"


def test_rewrite_by_llm_with_a_client_object():
    class Echo:
        def __init__(self):
            self.calls = []

        def complete(self, prompt, system=None):
            self.calls.append((system, prompt))
            return "What did Alibaba say about the memo?\nextra commentary"

    llm = Echo()
    assert rewrite_by_llm("what did they say?", HISTORY, llm) == "What did Alibaba say about the memo?"
    system, prompt = llm.calls[0]
    assert system and "Chat history:" in prompt
