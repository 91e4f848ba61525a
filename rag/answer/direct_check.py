"""The verifier's check of the direct-answer line ("Emmett Shear. [1]", "Yes. [1][2]").

When the question asks for a person, organization, place, number, date or yes/no
(:func:`rag.answer.question.answer_type`), the first line of the raw text (up to the first
newline, followed by the evidence) may be a short direct answer: at most
:data:`DIRECT_MAX_WORDS` words without its markers. For a yes/no question it must start with
Yes or No. A first line starting "The archive does not say" is a direct answer of kind
``none`` (undecided) and needs no citation. A name, number or date must occur, every number
and name of it, in each passage it cites (text + metadata): failing citations are removed;
with none left it cites the first source of the kept evidence sentences that holds it (never
another shown passage: a "7" or a common name occurs in some passage of almost any list), else
it is dropped. A Yes/No keeps the citations that also support a kept evidence sentence, else
cites the evidence sentences' sources.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from rag.answer.markers import is_refusal, strip_markers, tidy
from rag.answer.support import Passage
from rag.text import MONTHS, WORDY, stem, terms

DIRECT_MAX_WORDS = 12  # a direct answer is a name, a number with its unit or a date, not a sentence

_UNDECIDED = re.compile(r"^\W*the archive does not say\b", re.I)
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.I)
_LABEL_LINE = re.compile(r"^\s*(?:\*\*)?(?:direct answer|short answer|answer)(?:\*\*)?\s*:\s*(?:\*\*)?", re.I)
_MONTH_ABBR = {m[:3]: m for m in MONTHS} | {"sept": "september"}
_MONTH_STEMS = {stem(m): stem(m[:3]) for m in MONTHS}

Cited = list[tuple[int, tuple[int, int]]]  # (shown-hit index, local span of the supporting window)


def split_direct(raw: str, qtype: str) -> tuple[str | None, str]:
    """(the direct line or None, the rest of ``raw``)."""
    if qtype == "none":
        return None, raw
    lead = len(raw) - len(raw.lstrip())
    nl = raw.find("\n", lead)
    if nl < 0 or not WORDY.search(raw[nl + 1 :]):
        return None, raw
    first = _LABEL_LINE.sub("", raw[lead:nl]).replace("**", "")
    clean = strip_markers(first)[0].strip()
    if not WORDY.search(clean):
        return None, raw
    if _UNDECIDED.match(clean):
        return first, raw[nl + 1 :]
    if len(clean.split()) > DIRECT_MAX_WORDS or is_refusal(clean):
        return None, raw
    if qtype == "yesno" and not _YES_NO.match(clean):
        return None, raw
    return first, raw[nl + 1 :]


def read_markers(raw: str, n_hits: int) -> tuple[str, list[int], int, int]:
    """(``raw`` without markers, the passage numbers in 1..n_hits it cites (first mention
    order, once each), how many numbers its markers hold, how many of them are out of range)."""
    clean, marks = strip_markers(raw)
    nums = [n for _, ns in marks for n in ns]
    valid = list(dict.fromkeys(n for n in nums if 1 <= n <= n_hits))
    return clean, valid, len(nums), sum(1 for n in nums if not 1 <= n <= n_hits)


def _direct_terms(text: str) -> frozenset[str]:
    """Stems a name/number/date answer asserts: its numbers and names (the first word too),
    else, when it has none, all its content words. Month names count in full form."""
    ts = terms(text)
    strong = [t for t in ts if t.kind in ("number", "acronym", "capitalized")] or ts
    out = set()
    for t in strong:
        norm = _MONTH_ABBR.get(t.norm, t.norm)
        out.add(stem(norm))
    return frozenset(out)


def _holds(p: Passage, need: frozenset[str]) -> bool:
    if not need:
        return False
    have = p.body | p.meta
    if need <= have:
        return True
    # month names: the passage may write them abbreviated ("Oct. 5")
    return all(k in have or (k in _MONTH_STEMS and _MONTH_STEMS[k] in have) for k in need)


@dataclass(frozen=True)
class DirectCheck:
    """The checked direct line: its text, its kind ("" when dropped: nothing holds it), the
    passages it keeps citing, and its share of the answer's citation counters."""

    text: str
    kind: str
    cited: Cited
    total: int
    invalid: int
    removed: int


def check_direct(direct_raw: str, qtype: str, passages: Sequence[Passage], kept: Sequence[Cited]) -> DirectCheck:
    """Check the direct line ``direct_raw`` of a ``qtype`` question against the shown
    ``passages``, given what each kept evidence sentence cites (``kept``)."""
    dclean, dnums, total, invalid = read_markers(direct_raw, len(passages))
    dtext = tidy(dclean)
    removed = invalid
    evidence = list(dict.fromkeys(i for k in kept for i, _ in k))
    dkept: Cited = []
    if _UNDECIDED.match(dtext):
        kind = "none"
        removed += len(dnums)
    elif qtype == "yesno":
        kind = _YES_NO.match(dtext).group(1).lower()  # type: ignore[union-attr]
        spans_of = {i: span for k in kept for i, span in k}
        dkept = [(n - 1, spans_of[n - 1]) for n in dnums if (n - 1) in spans_of]
        removed += len(dnums) - len(dkept)
        if not dkept:
            dkept = [(i, spans_of[i]) for i in evidence]
    else:
        kind = qtype
        want = _direct_terms(dtext)
        dneed = {k: (1.0, True) for k in want}
        dkept = [(n - 1, passages[n - 1].support(dneed)[1]) for n in dnums if _holds(passages[n - 1], want)]
        removed += len(dnums) - len(dkept)
        if not dkept:  # the first evidence source that holds it (never an unrelated passage)
            pick = next((i for i in evidence if _holds(passages[i], want)), None)
            if pick is not None:
                dkept = [(pick, passages[pick].support(dneed)[1])]
        if not dkept:
            kind = ""
            removed += 0 if dnums else 1  # its failing markers are counted above
    return DirectCheck(dtext, kind, dkept, total, invalid, removed)
