"""Follow-up questions: rewrite "what did the company say about it?" into a standalone question.

With an LLM client (the Archive passes its own when an endpoint is configured) the
conversation and the follow-up go through ``prompts/condense.md``. Without one, a rule applies: when the new question refers
back (pronouns such as *it*, *they*, *he*, *this*; definite references such as *the company*,
*the memo*; or a bare "when?"), the named entities of the previous question that the new one
lacks are carried into it: ``what did the company say about it (Pentagon, Alibaba)?``.

History is a sequence of turns, oldest first, each a ``(role, text)`` pair or a mapping with
``role`` and ``content`` keys, role ``"user"`` or ``"assistant"``. Pass the *standalone* form
of earlier questions as the user turns, so that entities chain across several follow-ups.
Everything here is pure apart from the one LLM call.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Iterable, Mapping, Sequence

from rag.errors import BackendUnavailable, PromptError

log = logging.getLogger(__name__)

Turn = tuple[str, str] | Mapping[str, Any]

# Words that, in a question, point back at something named earlier in the conversation.
_PRONOUNS = frozenset(
    "it its it's itself they them their theirs themselves he him his himself she her hers herself "
    "this that these those there such same former latter".split()
)
_REFERENT_NOUNS = (
    "company|companies|firm|firms|group|organi[sz]ation|agency|department|ministry|government|"
    "administration|country|nation|city|state|region|person|man|woman|official|officials|"
    "spokesperson|spokesman|spokeswoman|ceo|executive|president|leader|minister|team|club|player|"
    "memo|report|document|study|article|story|deal|plan|bill|law|case|lawsuit|incident|event|"
    "attack|announcement|statement|decision|move|program|programme|project|product|service|"
    "platform|app|model|allegations?|claims?|accusations?"
)
_DEFINITE = re.compile(rf"\b(?:the|that|this|these|those)\s+(?:same\s+)?(?:{_REFERENT_NOUNS})\b", re.I)
_ELLIPTIC = re.compile(r"^\s*(?:and|but|so|also)?\s*(?:when|where|why|how|who|what|how much|how many|since when)\b\W*$", re.I)
_CONTINUATION = re.compile(r"^\s*(?:and|what about|how about|also)\b", re.I)

# Capitalized words that are not names when they stand alone (question openers and the like).
_NOT_NAMES = frozenset(
    "a an the what who whom whose which when where why how did does do is are was were will would "
    "can could should shall may might must has have had tell show give list name explain describe "
    "summarize according in on at of for from by with about and or but if so also i we you my our "
    "your it its they their he his she her this that these those there then than please yes no "
    "mr mrs ms dr".split()
)
_CONNECTORS = frozenset("of de del der von van la le du al bin and & for".split())
_CAP = re.compile(r"[A-Z0-9][\w'’.&-]*|[A-Z]")
_TOKEN = re.compile(r"[\w'’.&-]+|[^\w\s]")


def _turns(history: Iterable[Turn]) -> list[tuple[str, str]]:
    out = []
    for t in history or ():
        if isinstance(t, Mapping):
            role, text = t.get("role"), t.get("content")
        else:
            role, text = t
        if isinstance(text, str) and text.strip() and role in ("user", "assistant"):
            out.append((str(role), text.strip()))
    return out


def refers_back(question: str) -> bool:
    """True when ``question`` reads as a follow-up: a pronoun (it, they, he, this...), a
    definite reference (the company, the memo...) or an elliptic "when?" / "and why?"."""
    words = {w.lower().strip("'’") for w in re.findall(r"[\w'’]+", question)}
    return bool(
        words & _PRONOUNS
        or _DEFINITE.search(question)
        or _ELLIPTIC.match(question)
        or (_CONTINUATION.match(question) and not named_entities(question))
    )


def named_entities(text: str) -> list[str]:
    """Names in ``text``, in order and without repeats: runs of capitalized words or acronyms
    (joined by connectors such as "of"), e.g. "People's Liberation Army", "U.S.", "Alibaba".
    Question openers ("What", "Did"...) and a leading "The" are not names; a lone
    capitalized word at the start of a sentence counts only when it is not a common opener."""
    tokens = _TOKEN.findall(text)
    found: list[str] = []
    run: list[str] = []

    def close() -> None:
        while run and run[-1].lower() in _CONNECTORS:
            run.pop()
        while run and run[0].lower() in _NOT_NAMES:
            run.pop(0)
        if run:
            name = " ".join(run).strip("’'")
            if not re.search(r"\b(?:[A-Z]\.){2,}$", name):  # keep the dot of "U.S." but not of "Alibaba."
                name = name.rstrip(".")
            name = re.sub(r"(?:'s|’s)$", "", name)
            if name and name.lower() not in _NOT_NAMES and not name.isdigit() and name.lower() not in (f.lower() for f in found):
                found.append(name)
        run.clear()

    for tok in tokens:
        if re.match(r"[A-Z]", tok) and _CAP.fullmatch(tok):
            run.append(tok)
            if tok.endswith(".") and not re.fullmatch(r"(?:[A-Z]\.)+|(?:Mr|Mrs|Ms|Dr|St|Jr)\.", tok):
                close()  # "Alibaba." ends a sentence; "U.S." and "Dr." do not
        elif run and (tok.lower() in _CONNECTORS or tok.isdigit()):  # "of", "December 2023"
            run.append(tok)
        else:
            close()
    close()
    return found


def _previous_question(history: Sequence[tuple[str, str]]) -> str | None:
    for role, text in reversed(history):
        if role == "user":
            return text
    return None


def rewrite_by_rule(question: str, history: Iterable[Turn]) -> str:
    """The standalone question by the rule: when ``question`` refers back, append the previous
    question's named entities that it lacks, in parentheses before the final "?"."""
    question = question.strip()
    prev = _previous_question(_turns(history))
    if not question or prev is None or not refers_back(question):
        return question
    have = question.lower()
    carry = [e for e in named_entities(prev) if e.lower() not in have]
    if not carry:
        return question
    core = question.rstrip().rstrip("?").rstrip()
    return f"{core} ({', '.join(carry)})?"


def _history_text(history: Sequence[tuple[str, str]], turns: int = 6, limit: int = 600) -> str:
    lines = []
    for role, text in history[-2 * turns :]:
        text = re.sub(r"\s+", " ", text)
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        lines.append(f"{'User' if role == 'user' else 'Assistant'}: {text}")
    return "\n".join(lines)


def _clean_reply(reply: str) -> str:
    lines = [ln.strip() for ln in str(reply).splitlines() if ln.strip()]
    if not lines:
        return ""
    line = re.sub(r"^(?:standalone question|question|rewritten question)\s*:\s*", "", lines[0], flags=re.I)
    return line.strip().strip('"“”\'‘’`').strip()


def rewrite_by_llm(question: str, history: Iterable[Turn], llm: Any) -> str:
    """The standalone question by the LLM (``llm.complete(prompt, system=...)``) with
    ``prompts/condense.md``. Returns ``question`` unchanged when there is no history; raises
    :class:`BackendUnavailable` when the endpoint fails, ``ValueError`` on an unusable reply."""
    from rag.answer.prompts import load_prompt

    question = question.strip()
    turns = _turns(history)
    if not question or not turns:
        return question
    system, user = load_prompt("condense").messages(history=_history_text(turns), question=question)
    rewritten = _clean_reply(llm.complete(user, system=system))
    if not rewritten or len(rewritten) > 4 * len(question) + 300:
        raise ValueError(f"unusable rewrite {rewritten[:80]!r}")
    return rewritten


def standalone_question(question: str, history: Iterable[Turn], llm: Any = None) -> str:
    """Rewrite a follow-up into a standalone question using the conversation ``history``.

    Uses ``llm`` (an :class:`rag.answer.llm.LLMClient`) when given; otherwise, or when the LLM
    fails or replies with nothing usable, :func:`rewrite_by_rule`. Without history the question
    is returned unchanged (stripped)."""
    question = question.strip()
    turns = _turns(history)
    if not question or not turns:
        return question
    if llm is not None:
        try:
            return rewrite_by_llm(question, turns, llm)
        except (BackendUnavailable, PromptError, ValueError) as exc:
            log.warning("follow-up rewriting by rule: %s", exc)
    return rewrite_by_rule(question, turns)
