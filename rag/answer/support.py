"""How well a passage supports a sentence: the lexical scoring the verifier judges by.

A sentence asserts weighted content words (:func:`needs`: numbers, names, reporting verbs,
ordinary words); a passage offers windows of one or two of its sentences plus its metadata
(:class:`Passage`). :func:`window_score` is the weighted recall of the sentence's words in a
window, halved per number or name the window lacks; metadata supplies only names, years and
dates (:func:`claim`). Paragraphs that address the model (:func:`injected_spans`) never
support anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Sequence

from rag.text import MONTHS, WORDY, idf, split_sentences, stem, stems, terms
from rag.types import Chunk

NUMBER_WEIGHT = 3.0  # a number is the claim most often wrong ("right topic, wrong number")
NAME_WEIGHT = 2.0  # a name or acronym says who or what the claim is about
LOW_WEIGHT = 0.5  # reporting verbs and meta words ("said", "passage") carry little of a claim
WORD_WEIGHT = 1.0  # any other content word
RARITY_FLOOR = 0.5  # a word found in every shown sentence still weighs half; one found in none, all
MISSING_FACTOR = 0.5  # support is halved per missing number or name: with the default threshold any one fails
_TIE_DIGITS = 9  # windows whose scores agree to this many digits tie (float noise is not a better window)

# reporting verbs and meta words: a claim word is never one of these
LOW_STEMS = frozenset(
    stem(w)
    for w in "said says say told tell reported report reports according added stated noted "
    "claimed mentioned mentions passage passages article articles archive source sources".split()
)

# Text in an article that addresses the model rather than the reader: an instruction to drop
# the rules, a fake chat turn, a fake end of the passage block. A paragraph holding one is
# data, and untrusted: it never supports a sentence (so an answer that obeys it finds no
# support there), and the extractive answerer never quotes it.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^\n]{0,60}?\b(?:instructions?|rules|prompts?|guidelines)\b"
    r"|^\W{0,3}(?:system|assistant|user|developer)\s*:"
    r"|\b(?:developer|jailbreak|god) mode\b|\bnew instructions\s*:|</?(?:passages?|context|system|instructions?)>",
    re.I | re.M,
)


def injected_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every paragraph (line) of ``text`` that addresses the model
    (see :data:`_INJECTION`)."""
    out = []
    for m in re.finditer(r"[^\n]+", text):
        if _INJECTION.search(m.group(0)):
            out.append((m.start(), m.end()))
    return out


def overlaps(s: int, e: int, spans: Sequence[tuple[int, int]]) -> bool:
    """True when ``[s, e)`` overlaps any of ``spans``."""
    return any(s < be and bs < e for bs, be in spans)


Need = dict[str, tuple[float, bool]]  # stem -> (weight, strong: number or name)


def needs(sentence: str, rarity: dict[str, float] | None = None) -> Need:
    """Weighted content words a sentence asserts: numbers 3, names/acronyms 2, reporting and
    meta words 0.5, others 1; each times ``0.5 + 0.5 * rarity`` (rarity in [0, 1], 1 for words
    absent from the shown passages) when ``rarity`` is given."""
    first = WORDY.search(sentence)
    first_at = first.start() if first else 0
    out: Need = {}
    for t in terms(sentence):
        key = stem(t.norm)
        if t.kind == "number":
            w, strong = NUMBER_WEIGHT, True
        elif t.kind == "acronym" or (t.kind == "capitalized" and t.start != first_at):
            w, strong = NAME_WEIGHT, True
        elif key in LOW_STEMS:
            w, strong = LOW_WEIGHT, False
        else:
            w, strong = WORD_WEIGHT, False
        if rarity is not None:
            w *= RARITY_FLOOR + (1 - RARITY_FLOOR) * rarity.get(key, 1.0)
        if key not in out or w > out[key][0]:
            out[key] = (w, strong)
    return out


def rarity(sentence_stems: Sequence[frozenset[str]]) -> dict[str, float]:
    """Normalized IDF in [0, 1] of every stem over the given sentences (1 = in none)."""
    n = len(sentence_stems)
    df: dict[str, int] = {}
    for st in sentence_stems:
        for k in st:
            df[k] = df.get(k, 0) + 1
    top = idf(0, n)
    return {k: idf(d, n) / top for k, d in df.items()}


def score(need: Need, have: set[str] | frozenset[str]) -> float:
    """Support in [0, 1]: weighted recall of ``need`` in ``have``, halved per missing
    number or name."""
    total = sum(w for w, _ in need.values())
    if total <= 0:
        return 0.0
    got = sum(w for k, (w, _) in need.items() if k in have)
    missing = sum(1 for k, (_, strong) in need.items() if strong and k not in have)
    return got / total * MISSING_FACTOR**missing


def meta_stems(chunk: Chunk) -> frozenset[str]:
    """Stems of a passage's headline, outlet, author, header and publication date."""
    return _meta_stems(chunk.title or "", chunk.outlet or "", chunk.author or "", chunk.header or "", chunk.published_at)


@lru_cache(maxsize=4096)
def _meta_stems(title: str, outlet: str, author: str, header: str, d: datetime | None) -> frozenset[str]:
    out = set(stems(" ".join([title, outlet, author, header])))
    if d is not None:
        month = MONTHS[d.month - 1]
        out |= {str(d.year), str(d.month), str(d.day), stem(month), stem(month[:3])}
    return frozenset(out)


_MONTH_WORD = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
# "May 14", "14 May", "2024-05-14", "5/14/24": a sentence that writes a date
_DATE_EXPR = re.compile(
    rf"\b{_MONTH_WORD}\.?\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{_MONTH_WORD}\b|\b\d{{4}}-\d{{1,2}}-\d{{1,2}}\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b",
    re.I)
_YEAR = re.compile(r"^(?:19|20)\d\d$")


def claim(sentence: str, rare: dict[str, float] | None) -> tuple[Need, frozenset[str]]:
    """(:func:`needs` of ``sentence``, the stems that passage metadata may supply: its
    acronyms and capitalized words, the first word included (an outlet, an author, a
    headline name), years, and other numbers only when the sentence writes a date ("May 14",
    "2024-05-14"): a publication day must not stand in for "$15 billion")."""
    dated = bool(_DATE_EXPR.search(sentence))
    allow = set()
    for t in terms(sentence):
        if t.kind in ("acronym", "capitalized") or (t.kind == "number" and (dated or _YEAR.match(t.norm))):
            allow.add(stem(t.norm))
    return needs(sentence, rare), frozenset(allow)


def window_score(need: Need, allow: frozenset[str], window: frozenset[str], meta: frozenset[str]) -> float:
    """Support of ``need`` by a window of passage text plus the passage metadata.

    Weighted recall over the window, halved per missing number or name; a word the window
    lacks but the metadata supplies (only names, years and dates: ``allow``) is attribution
    ("Fortune reported ...", a dateline), checked but neutral: it neither adds to the claim's
    support nor counts as missing. A sentence that is all attribution scores 1."""
    total = got = 0.0
    missing = 0
    for k, (w, strong) in need.items():
        if k in window:
            total += w
            got += w
        elif k in meta and k in allow:
            continue
        else:
            total += w
            missing += strong
    if total <= 0:
        return 1.0 if need else 0.0
    return got / total * MISSING_FACTOR**missing


@dataclass(frozen=True)
class Passage:
    """A shown passage as the verifier reads it: its sentences' stems, its usable windows of
    one or two sentences (none inside a paragraph that addresses the model), its metadata."""

    chunk: Chunk
    sentences: list[frozenset[str]]  # stems per passage sentence
    windows: dict[tuple[int, int], frozenset[str]]  # local span of 1-2 sentences -> stems
    meta: frozenset[str]
    body: frozenset[str]  # stems of every usable window

    @classmethod
    def of(cls, chunk: Chunk) -> "Passage":
        """The passage's windows and stems (cached per chunk: the same passages come back
        with every ask about a story; never mutated)."""
        return _passage(chunk)

    @classmethod
    def build(cls, chunk: Chunk) -> "Passage":
        """Read ``chunk`` afresh (uncached)."""
        text = chunk.text
        spans = split_sentences(text) or [(0, len(text))]
        sets = [stems(text[s:e]) for s, e in spans]
        bad = injected_spans(text)
        ok = [not overlaps(s, e, bad) for s, e in spans]
        wins = {sp: st for sp, st, good in zip(spans, sets, ok) if good}
        for i in range(len(spans) - 1):
            if ok[i] and ok[i + 1]:
                wins.setdefault((spans[i][0], spans[i + 1][1]), sets[i] | sets[i + 1])
        body = frozenset().union(*wins.values()) if wins else frozenset()
        return cls(chunk, sets, wins, meta_stems(chunk), body)

    def have(self, span: tuple[int, int]) -> frozenset[str]:
        """Stems a window offers: its words plus the passage metadata."""
        return self.windows.get(span, frozenset()) | self.meta

    def support(self, need: Need, allow: frozenset[str] | None = None) -> tuple[float, tuple[int, int]]:
        """Best (score, local span) over windows; ties go to the tighter, more precise span.
        (-1, (0, 0)) when the passage has no usable window (all of it addresses the model).
        Metadata supplies only the stems in ``allow`` (all of them when None)."""
        allow = self.meta if allow is None else allow
        best, best_key = (-1.0, (0, 0)), None
        keys = set(need)
        for (s, e), st in self.windows.items():
            sc = window_score(need, allow, st, self.meta)
            prec = len(st & keys) / len(st) if st else 0.0
            key = (round(sc, _TIE_DIGITS), prec, -(e - s))
            if best_key is None or key > best_key:
                best, best_key = (sc, (s, e)), key
        return best


@lru_cache(maxsize=2048)
def _passage(chunk: Chunk) -> Passage:
    return Passage.build(chunk)
