"""Reading and writing an answer's raw text: citation markers, refusals, tidy sentences.

Only markers in the answer text count (``[n]``, ``[n, m]``, ``[n][m]``, ``[n-m]``, optionally
labelled ``[passage 2]``); passage text is never parsed. :func:`strip_markers` takes them out
with their positions, :func:`render_sentence` writes them back after a verified sentence, and
:func:`neutralize_markers` makes marker-like text in sentences harmless.
"""
from __future__ import annotations

import re

from rag.types import ABSTAIN_TEXT, Sentence

_LABEL = r"(?:(?:passage|source|doc|document)s?\s*)?"
# a marker's numbers have at most 6 digits: a longer bracketed number is text, not a citation
MARKER = re.compile(rf"\[\s*{_LABEL}(\d{{1,6}}(?:\s*[,;\-–]\s*{_LABEL}\d{{1,6}})*)\s*\]", re.I)
_MAX_RANGE = 50  # "[1-999999]" cites at most this many passages, not a million
_FINAL = ".!?…\"'”’)»"
_ENDS = re.compile(r"[.!?…][\"'”’»)\]]*$")

_META = r"(?:passages?|archive|context|sources?|documents?|articles?|provided (?:text|information|material))"
_REFUSAL = re.compile(
    "|".join(
        [
            r"\barchive (?:has|contains|holds|includes) no\b",
            r"\bno (?:passage|article|source|document)s?\b.{0,60}\b(?:answers?|address|mentions?|contains?|says?|states?|covers?|discuss)",
            rf"\b(?:the|these|those|provided|given) {_META}\b.{{0,40}}\b(?:do|does|did) ?n[o']t\b",
            r"\b(?:insufficient|not enough) (?:information|context|evidence|data)\b",
            r"\b(?:i|we) (?:cannot|can't|can not|am unable to|are unable to|am not able to|do not have|don't have)\b",
            r"\bunable to (?:answer|determine|find|say|tell)\b",
            rf"\bno (?:information|mention|details?|data)\b.{{0,60}}\b(?:in|from) the {_META}",
            rf"\b{_META} (?:has|have|contain|contains|provide|provides|include|includes|offer|offers|gives?) no\b",
            rf"\bnot (?:mentioned|stated|specified|addressed|covered|answered|provided) (?:in|by) the {_META}",
            rf"\bnone of the {_META}\b",
            rf"\bbased on the (?:provided |given )?{_META}\b.{{0,60}}\b(?:no|not|cannot|unclear|impossible)\b",
            r"\bthere is no (?:information|mention) (?:about|of|on|regarding)\b",
        ]
    ),
    re.I,
)


def is_refusal(text: str) -> bool:
    """True when ``text`` reads as "the passages do not answer this" rather than a claim."""
    return bool(_REFUSAL.search(text)) or text.strip() == ABSTAIN_TEXT


def _numbers(spec: str) -> list[int]:
    out: list[int] = []
    for item in re.split(r"\s*[,;]\s*", re.sub(r"[^\d,;\-–]", "", spec)):
        if not item:
            continue
        ends = [int(x) for x in re.split(r"\s*[\-–]\s*", item) if x]
        if not ends:
            continue
        lo, hi = min(ends), max(ends)
        out.extend(range(lo, min(hi, lo + _MAX_RANGE - 1) + 1))
    return out


def strip_markers(raw: str) -> tuple[str, list[tuple[int, list[int]]]]:
    """Remove citation markers; return the clean text and (position in it, numbers) per marker."""
    parts, markers, last, size = [], [], 0, 0
    for m in MARKER.finditer(raw):
        parts.append(raw[last : m.start()])
        size += m.start() - last
        markers.append((size, _numbers(m.group(1))))
        last = m.end()
    parts.append(raw[last:])
    return "".join(parts), markers


def neutralize_markers(text: str) -> str:
    """Turn any leftover marker-like ``[n]`` in sentence text into ``(n)`` so that no citation
    can appear that the verifier did not check."""
    while MARKER.search(text):
        text = MARKER.sub(lambda m: "(" + m.group(0)[1:-1] + ")", text)
    return text


def tidy(text: str) -> str:
    """A sentence of the answer as shown: no space before punctuation, no empty brackets,
    markers neutralized, and a final full stop when it ends without one."""
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    text = re.sub(r"\(\s*\)", "", text)
    text = neutralize_markers(re.sub(r"[ \t]{2,}", " ", text).strip())
    if text and not _ENDS.search(text):
        text = text.rstrip(":;,– ") + "."  # keeps sentences apart when the answer text is joined and read again
    return text


def render_sentence(s: Sentence) -> str:
    """A sentence as it appears in the answer text: its text, then ``[n]`` markers."""
    if not s.citations:
        return s.text
    sep = "" if s.text and s.text[-1] in _FINAL else " "
    return s.text + sep + "".join(f"[{c}]" for c in s.citations)
