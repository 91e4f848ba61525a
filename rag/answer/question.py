"""What a question asks for: the expected answer type, read from its wording.

:func:`answer_type` returns one of ``person``, ``org``, ``place``, ``number``, ``date``,
``yesno`` or ``none`` (an open question: "how did X respond", "what does the memo allege").
Questions that open with a framing clause ("Between the report of A and the report of B, was
there...", "After X reported Y, did...", "Considering ..., which company...") are typed by the
clause that asks.
"""
from __future__ import annotations

import re
from functools import lru_cache

ANSWER_TYPES = ("person", "org", "place", "number", "date", "yesno", "none")

_AUX = frozenset(
    "is are was were do does did has have had can could will would should shall may might must "
    "isn't aren't wasn't weren't don't doesn't didn't hasn't haven't".split()
)
_WH = frozenset("who whom whose which what when where how why".split())

_PERSON_NOUNS = frozenset(
    """person individual man woman people persona figure ceo executive founder cofounder
    co-founder chief leader player athlete coach star singer artist actor actress author
    writer journalist reporter official politician president minister senator judge lawyer
    attorney witness entrepreneur billionaire investor mogul musician rapper quarterback
    pop celebrity scientist researcher professor chairman chairwoman director manager
    owner driver boxer fighter golfer tennis""".split()
)
_ORG_NOUNS = frozenset(
    """company companies firm corporation organization organisation entity business startup
    start-up platform service app application product brand team club network outlet
    publication agency group giant maker manufacturer retailer bank exchange developer
    studio publisher league university government conglomerate model chatbot tool
    sportsbook sportsbooks operator provider website site console device game institution
    regulator authority body""".split()
)
_THING_NOUNS = frozenset("type kind sort term name group category entity entities brand".split())
_PLACE_NOUNS = frozenset("city country state place location venue stadium region town nation continent".split())
_DATE_NOUNS = frozenset("date day year month time week".split())
_NUMBER_NOUNS = frozenset("number amount percentage percent share sum figure total count price".split())

_FRAME = re.compile(r"^(?:between|after|before|following|considering|given|according|based|in light|from|in|with|when comparing)\b", re.I)
_CLAUSE_START = re.compile(r"[,;:]\s*([A-Za-z']+)")
_NOUN_LOOKAHEAD = 3  # words after "which"/"what"/"how" searched for the noun they govern ("which two-time MVP")


def _words(question: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'\-]*", question.lower())


def _asking_word(question: str) -> tuple[str, int]:
    """The word that asks (an auxiliary or wh-word) and its index among the words: the first
    word, or, after a framing clause, the first word of the first clause that starts with
    one."""
    words = _words(question)
    if not words:
        return "", -1
    if words[0] in _AUX or words[0] in _WH:
        return words[0], 0
    if _FRAME.match(question.strip()) or words[0] not in _AUX | _WH:
        for m in _CLAUSE_START.finditer(question):
            w = m.group(1).lower()
            if w in _AUX or w in _WH:
                idx = len(_words(question[: m.start(1)]))
                return w, idx
        # "According to X, who ...": no comma found -> first wh/aux word anywhere
        for i, w in enumerate(words):
            if w in _WH:
                return w, i
    return words[0], 0


@lru_cache(maxsize=4096)
def answer_type(question: str) -> str:
    """The expected answer type of ``question`` (see the module docstring)."""
    word, i = _asking_word(question)
    words = _words(question)
    nxt = words[i + 1 : i + 1 + _NOUN_LOOKAHEAD] if i >= 0 else []
    if word in _AUX:
        return "yesno"
    if word in ("who", "whom", "whose"):
        return "person"
    if word == "when":
        return "date"
    if word == "where":
        return "place"
    if word == "how":
        if nxt and nxt[0] in ("many", "much", "long", "old", "large", "big", "high", "far"):
            return "number"
        return "none"
    if word in ("which", "what"):
        # the noun the wh-word governs: "which company", "what is the name of the person",
        # "which two-time MVP"
        for w in nxt:
            if w in ("is", "was", "are", "were", "the", "a", "an", "of", "name", "new", "former", "current", "other"):
                continue
            base = w.rstrip("s") if w.endswith("s") and w[:-1] in _ORG_NOUNS | _PERSON_NOUNS else w
            if base in _PERSON_NOUNS:
                return "person"
            if base in _ORG_NOUNS:
                return "org"
            if base in _PLACE_NOUNS:
                return "place"
            if base in _DATE_NOUNS:
                return "date"
            if base in _NUMBER_NOUNS:
                return "number"
        # "which X", "what type of businesses", "what is the term for": a named thing;
        # "what does the memo allege", "what happened": an open question
        if word == "which":
            return "org"
        # "what type of businesses", "what is the term for", "what group of people": a named
        # thing; "what damages did the jury award", "what does the memo allege": open
        head = [w for w in nxt if w not in ("is", "was", "are", "were", "the", "a", "an")][:1]
        return "org" if head and head[0] in _THING_NOUNS else "none"
    return "none"


def is_yes_no(question: str) -> bool:
    """True when ``question`` is answered by yes or no."""
    return answer_type(question) == "yesno"
