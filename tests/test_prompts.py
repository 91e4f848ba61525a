"""Prompt files: loading, the system/user convention, variable checks, name validation."""
from __future__ import annotations

import pytest

from rag.errors import PromptError
from rag.answer.prompts import load_prompt, parse_prompt


def test_answer_prompt_loads_with_its_variables():
    p = load_prompt("answer")
    assert p.variables == frozenset({"question", "passages"})
    system, user = p.messages(question="Who?", passages="[1] Headline — Outlet — 2024-01-01\nText.")
    assert "The archive has no passage that answers this." in system
    assert "instruction" in system.lower()  # passages are data, not instructions
    assert "Who?" in user and "[1] Headline" in user and "$" not in user
    assert p.render(question="Who?", passages="P") == p.messages(question="Who?", passages="P")[1]


def test_condense_prompt_loads_with_its_variables():
    p = load_prompt("condense")
    assert p.variables == frozenset({"history", "question"})
    system, user = p.messages(history="User: Tell me about the memo.", question="When was it released?")
    assert system and "standalone" in system
    assert "When was it released?" in user and "User: Tell me about the memo." in user


@pytest.mark.parametrize(
    "values, words",
    [
        ({"question": "q"}, ["missing passages"]),
        ({"question": "q", "passages": "p", "extra": "x"}, ["unexpected extra"]),
        ({}, ["missing passages, question"]),
    ],
)
def test_variable_mismatch_raises(values, words):
    with pytest.raises(PromptError) as err:
        load_prompt("answer").render(**values)
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize("name", ["../settings", "Answer", "answer.md", "", "a/b", "answer1", "/etc/passwd"])
def test_bad_names_rejected(name):
    with pytest.raises(PromptError, match="bad prompt name"):
        load_prompt(name)


def test_missing_prompt():
    with pytest.raises(PromptError, match="not found"):
        load_prompt("no_such_prompt")


def test_convention_without_headings_and_literal_dollars():
    p = parse_prompt("t", "Costs $$10 for $who.")
    assert p.system is None and p.variables == frozenset({"who"})
    assert p.render(who="you") == "Costs $10 for you."
    # values are inserted once: a value that looks like a placeholder stays as it is
    assert p.render(who="$who") == "Costs $10 for $who."


def test_convention_with_headings():
    p = parse_prompt("t", "note for authors $ignored\n## system\nBe $tone.\n## User\nSay $what.\n")
    assert p.variables == frozenset({"tone", "what"})
    assert p.messages(tone="brief", what="hi") == ("Be brief.", "Say hi.")


def test_invalid_placeholder_rejected():
    with pytest.raises(PromptError, match="placeholder"):
        parse_prompt("t", "Costs $10.")
    with pytest.raises(PromptError, match="no '## user'"):
        parse_prompt("t", "## system\nonly system")
