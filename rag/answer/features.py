"""Signals for choosing answer-bearing sentences, named for the learned sentence selector.

A question is read once (:class:`QuestionInfo`: its weighted terms, names and numbers, word
pairs, expected answer type, whether it asks what someone said). Every sentence of the shown
passages becomes a :class:`SentenceCandidate` with exact local offsets, and
:func:`sentence_features` turns each into one row of :data:`SENTENCE_FEATURES`. The weights
live in ``rag/answer/models/sentence.json`` (fitted on the MultiHop-RAG dev split by
``evals/train_answer.py``: its evidence lists name the answer-bearing sentences).

The signals favour sentences that *answer*: names, numbers and dates of the expected type
that the question does not already contain, the question's terms by stem, its word pairs,
reporting verbs when the question asks what someone said; and they mark what reads badly out
of context: questions, first-person asides, parentheticals, a headline glued to the first
sentence, a bare pronoun or a dangling connective at the start.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np

from rag.answer.question import answer_type
from rag.answer.markers import is_refusal
from rag.answer.support import MISSING_FACTOR, injected_spans, meta_stems, needs, overlaps
from rag.text import MONTHS, WEEKDAYS, entity_spans, idf, split_sentences, stem, stems, terms
from rag.types import Hit

SENTENCE_FEATURES: tuple[str, ...] = (
    "lex", "meta", "strong", "pairs", "hit_rank", "hit_score", "sent_pos",
    "new_names", "type_match", "new_number", "has_date", "report", "report_asked",
    "question_mark", "first_person", "pronoun_start", "connective_start", "paren",
    "log_len", "too_long", "glued_headline", "quoted", "best_in_passage",
)

_REPORT = frozenset(
    stem(w)
    for w in """said says say told tells tell stated states claimed claims alleged alleges allege
    allegation accused accuses accusing argued argues called calls condemned condemns denied
    denies responded responds response reply replied warned warns added noted according
    insisted insists wrote writes described describes declared announced announces
    emphasized emphasised criticized slammed dismissed rejected""".split()
)
_ASKS_REPORT = re.compile(
    r"\b(?:say|said|says|allege|alleged|alleges|claim|claimed|claims|respond|responded|react|reacted|"
    r"reaction|response|describe|described|argue|argued|accuse|accused|report|reported|reports|suggest|"
    r"suggested|suggests|state|stated|think|thinks|warn|warned|announce|announced)\b",
    re.I,
)
_PRONOUN = re.compile(r"^[\"'“‘(]?(?:he|she|it|they|this|these|that|those|his|her|its|their|him|them)\b", re.I)
_CONNECTIVES = """however|but|meanwhile|still|yet|also|and|so|moreover|furthermore|additionally|instead|nonetheless|
    nevertheless|besides|then|thus|therefore|indeed|of course|in addition|on the other hand|at the same time""".split("|")
_CONNECTIVE = re.compile(r"^[\"'“‘]?(?:" + "|".join(w.strip() for w in _CONNECTIVES) + r")\b[,]?\s*", re.I)
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I’m|I've|I’ve|me|my|we|we're|we’re|our|us)\b")
_MONTH = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+\d{1,2}\b|\b(?:19|20)\d\d\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today)\b",
    re.I,
)
_CALENDAR = frozenset(stem(w) for w in WEEKDAYS + MONTHS)
_QUOTES = re.compile(r"[\"“”]")

_MIN_HEADLINE_CHARS = 12  # a shorter "headline" (a word or two) also opens ordinary sentences
_MIN_AFTER_HEADLINE = 20  # characters after a glued headline: a real sentence follows it
_MIN_SENTENCE_WORDS = 5  # shorter fragments are captions, bylines and headings, not answers
_LONG_SENTENCE_WORDS = 55  # longer is a run-on or a list: poor to quote (feature "too_long")
_MAX_NEW_NAMES = 4  # feature "new_names" counts up to this (as fitted: more says no more)
_MIN_REST_CHARS = 10  # dropping a connective must leave a sentence, not a scrap
_FLOAT_TOL = 1e-9  # equal up to float rounding
# abstain features, as fitted: counts capped, the term count scaled to [0, 1]
_MAX_ABSENT_NAMES = 4
_MAX_TERMS = 30
_MAX_OUTLETS_ABSENT = 3


@dataclass(frozen=True)
class QuestionInfo:
    """What the selector needs to know about a question, computed once."""

    text: str
    need: dict[str, tuple[float, bool]]
    strong: frozenset[str]
    names: frozenset[str]  # strong terms that are not weekdays or months
    name_groups: tuple[frozenset[str], ...]  # one per name or number of the question
    pairs: frozenset[tuple[str, str]]
    words: frozenset[str]  # lowercased word forms of the question (for "new" names)
    kind: str
    asks_report: bool

    @classmethod
    def of(cls, question: str) -> "QuestionInfo":
        """The question read once (cached: one answer reads it in several steps)."""
        return _question_info(question)

    @classmethod
    def _read(cls, question: str) -> "QuestionInfo":
        need = needs(question)
        toks = [stem(t.norm) for t in terms(question)]
        words = frozenset(w.lower() for w in re.findall(r"[\w'’\-]+", question))
        return cls(
            text=question,
            need=need,
            strong=frozenset(k for k, (_, s) in need.items() if s),
            names=frozenset(k for k, (_, s) in need.items() if s and k not in _CALENDAR),
            name_groups=_name_groups(question, need),
            pairs=frozenset(zip(toks, toks[1:])),
            words=words | frozenset(w.split("'")[0].split("’")[0] for w in words),
            kind=answer_type(question),
            asks_report=bool(_ASKS_REPORT.search(question)),
        )


def _name_groups(question: str, need: dict[str, tuple[float, bool]]) -> tuple[frozenset[str], ...]:
    """The question's names and numbers as groups of stems: a multi-word name ("Mira
    Murati") is one group, met by any of its words; each other name or number is its own."""
    groups: list[frozenset[str]] = []
    seen: set[str] = set()
    for e in entity_spans(question):
        g = frozenset(stem(t.norm) for t in terms(e.text)) & {k for k, (_, s) in need.items() if s}
        g -= _CALENDAR
        if g:
            groups.append(g)
            seen |= g
    for k, (_, strong) in need.items():
        if strong and k not in seen and k not in _CALENDAR:
            groups.append(frozenset([k]))
    return tuple(groups)


def covers(q: "QuestionInfo", have: frozenset[str] | set[str]) -> bool:
    """True when ``have`` (a sentence's stems plus its passage's metadata) holds every name
    and number the question hinges on (any word of a multi-word name will do)."""
    return all(g & have for g in q.name_groups)


@lru_cache(maxsize=1024)
def _question_info(question: str) -> QuestionInfo:
    return QuestionInfo._read(question)


@dataclass
class SentenceCandidate:
    """One sentence of a shown passage: ``hit`` is its passage's index among the shown hits,
    ``start``/``end`` its span in the passage text (exact: ``chunk.text[start:end]``)."""

    hit: int
    start: int
    end: int
    text: str
    position: int  # sentence index within the passage
    stems: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    score: float = 0.0
    features: np.ndarray | None = field(default=None, repr=False)


def _strip_glued_headline(text: str, title: str) -> int:
    """How many characters of a sentence are a headline repeated in front of it."""
    t = (title or "").strip()
    if len(t) >= _MIN_HEADLINE_CHARS and text.startswith(t) and len(text) > len(t) + _MIN_AFTER_HEADLINE:
        return len(t) + (len(text[len(t):]) - len(text[len(t):].lstrip()))
    return 0


def candidates(hits: Sequence[Hit]) -> list[SentenceCandidate]:
    """Every quotable sentence of ``hits``: whole sentences of >= 5 words that start like one,
    not in a paragraph that addresses the model, with a glued headline cut off."""
    out: list[SentenceCandidate] = []
    for i, h in enumerate(hits):
        text = h.chunk.text
        bad = injected_spans(text)
        for pos, (s, e) in enumerate(split_sentences(text)):
            if overlaps(s, e, bad):
                continue
            cut = _strip_glued_headline(text[s:e], h.chunk.title)
            s += cut
            sent = text[s:e]
            if not _is_sentence(sent):
                continue
            toks = [stem(t.norm) for t in terms(sent)]
            out.append(SentenceCandidate(i, s, e, sent, pos, frozenset(toks), frozenset(zip(toks, toks[1:]))))
    return out


# page furniture that survives scraping ("Zoom In Icon Arrows pointing outwards", "Image
# source, Getty Images"): never quoted
_BOILERPLATE = re.compile(r"Zoom In Icon|Arrows pointing outwards|Image source,|Getty Images|Sign up for|"
                          r"Subscribe to|Click here|Read more:|Advertisement", re.I)


def _is_sentence(s: str) -> bool:
    s = s.strip()
    if _BOILERPLATE.search(s):
        return False
    if len(s.split()) < _MIN_SENTENCE_WORDS or not (s[0].isupper() or s[0].isdigit() or s[0] in "\"'“‘(«$"):
        return False
    core = s.rstrip("\"'”’)»")
    return bool(core) and core[-1] in ".!?…" and not is_refusal(s)


def idf_weights(q: QuestionInfo, cands: Sequence[SentenceCandidate]) -> dict[str, float]:
    """The question's term weights (numbers x3, names x2, ...) times their IDF over the
    candidate sentences."""
    n = len(cands)
    df: dict[str, int] = {}
    for c in cands:
        for k in c.stems & q.need.keys():
            df[k] = df.get(k, 0) + 1
    return {k: boost * idf(df.get(k, 0), n) for k, (boost, _) in q.need.items()}


def _new_names(q: QuestionInfo, text: str) -> list[str]:
    out = []
    for e in entity_spans(text):
        words = [w.lower() for w in re.findall(r"[\w'’\-]+", e.text)]
        if words and not all(w in q.words for w in words):
            out.append(e.text)
    return out


def sentence_features(q: QuestionInfo, hits: Sequence[Hit], cands: Sequence[SentenceCandidate]) -> np.ndarray:
    """One row of :data:`SENTENCE_FEATURES` per candidate (also stored on each candidate)."""
    w = idf_weights(q, cands)
    total = sum(w.values()) or 1.0
    strong_total = sum(w[k] for k in q.strong) or 1.0
    pair_total = len(q.pairs) or 1
    metas = [meta_stems(h.chunk) for h in hits]
    top_score = max((h.score for h in hits), default=1.0) or 1.0
    rows = np.zeros((len(cands), len(SENTENCE_FEATURES)))
    lex_all = [sum(v for k, v in w.items() if k in c.stems) / total for c in cands]
    best_by_hit: dict[int, float] = {}
    for c, lx in zip(cands, lex_all):
        best_by_hit[c.hit] = max(best_by_hit.get(c.hit, 0.0), lx)
    for r, (c, lex) in enumerate(zip(cands, lex_all)):
        text = c.text
        meta_only = metas[c.hit] - c.stems
        names = _new_names(q, text)
        nums_new = any(t.kind == "number" and t.norm not in q.need for t in terms(text))
        has_date = bool(_MONTH.search(text))
        kind = q.kind
        if kind == "person":
            tm = any(len(n.split()) >= 2 for n in names)
        elif kind in ("org", "place"):
            tm = bool(names)
        elif kind == "number":
            tm = nums_new
        elif kind == "date":
            tm = has_date
        else:
            tm = False
        report = bool(c.stems & _REPORT)
        n_words = len(text.split())
        quoted = len(_QUOTES.findall(text)) >= 2 or text.lstrip()[:1] in "\"“"
        rows[r] = (
            lex,
            sum(v for k, v in w.items() if k in meta_only) / total,
            sum(w[k] for k in q.strong if k in c.stems) / strong_total if q.strong else 0.0,
            len(c.pairs & q.pairs) / pair_total,
            1.0 / (1 + c.hit),
            hits[c.hit].score / top_score if top_score > 0 else 0.0,
            1.0 / (1 + c.position),
            min(len(names), _MAX_NEW_NAMES),
            float(tm),
            float(nums_new),
            float(has_date),
            float(report),
            float(report and q.asks_report),
            float(text.rstrip("\"'”’)» ").endswith("?")),
            float(bool(_FIRST_PERSON.search(_QUOTES.sub("", text))) and not quoted),
            float(bool(_PRONOUN.match(text))),
            float(bool(_CONNECTIVE.match(text))),
            float(text.lstrip().startswith("(") or text.count("(") >= 2),
            math.log(n_words),
            float(n_words > _LONG_SENTENCE_WORDS),
            float(_strip_glued_headline(text, hits[c.hit].chunk.title) > 0),
            float(quoted),
            float(lex >= best_by_hit[c.hit] - _FLOAT_TOL),
        )
        c.features = rows[r]
    return rows


def drop_connective(text: str) -> str:
    """``text`` without a dangling connective at its start ("However, the memo..." -> "The
    memo..."); the source quote keeps the exact text."""
    m = _CONNECTIVE.match(text)
    if not m or m.end() >= len(text) - _MIN_REST_CHARS:
        return text
    rest = text[m.end():].lstrip(", ")
    return rest[:1].upper() + rest[1:] if rest else text


def starts_with_pronoun(text: str) -> bool:
    """True when the sentence's subject is a bare pronoun ("She was named co-CEO...")."""
    return bool(_PRONOUN.match(text))


# ---- coverage and answerability ------------------------------------------------------------
def coverage(q: QuestionInfo, hits: Sequence[Hit], cands: Sequence[SentenceCandidate]) -> tuple[float, float, list[str]]:
    """(best-passage coverage, share of the question's names/numbers found in some shown
    passage, the stems of those found in none). Coverage: the IDF-weighted share of the
    question's terms in the best passage (headline and header included), halved per name or
    number of the question that passage lacks."""
    if not hits or not q.need:
        return 0.0, 0.0, []
    w = idf_weights(q, cands)
    total = sum(w.values())
    if total <= 0:
        return 0.0, 0.0, []
    metas = [meta_stems(h.chunk) for h in hits]
    bodies = [set(stems(h.chunk.text)) for h in hits]
    strong = sorted(q.strong)

    def cov(have: set[str]) -> float:
        share = sum(v for k, v in w.items() if k in have) / total
        return share * MISSING_FACTOR ** sum(1 for k in strong if k not in have)

    best = max(cov(bodies[i] | metas[i]) for i in range(len(hits)))
    seen = set().union(*bodies, *metas)
    absent = [k for k in strong if k not in seen]
    found = (len(strong) - len(absent)) / len(strong) if strong else 1.0
    return best, found, absent


ABSTAIN_FEATURES: tuple[str, ...] = (
    "coverage", "names_found", "names_absent", "best_sentence", "top3_sentence", "top_hit_score",
    "n_terms", "asks_entity", "asks_yesno", "outlets_named_absent",
)


def abstain_features(q: QuestionInfo, hits: Sequence[Hit], cands: Sequence[SentenceCandidate],
                     probs: Sequence[float]) -> np.ndarray:
    """One row of :data:`ABSTAIN_FEATURES` for the question (is it answerable from these
    passages?)."""
    cov, found, absent = coverage(q, hits, cands)
    ps = sorted(probs, reverse=True)
    outlet_words = re.findall(r"\b(?:The\s+)?(?:[A-Z][\w&.\-]*\s+){0,3}(?:Times|Post|News|Journal|BBC|CNN|ESPN|Reuters|Guardian|Bloomberg|Forbes|Wired|Verge|TechCrunch)\b", q.text)
    outlets_have = " ".join((h.chunk.outlet or "").lower() for h in hits)
    outlets_absent = sum(1 for o in outlet_words if o.lower().replace("the ", "").strip() not in outlets_have)
    return np.asarray([
        cov, found, min(len(absent), _MAX_ABSENT_NAMES), ps[0] if ps else 0.0, float(np.mean(ps[:3])) if ps else 0.0,
        max((h.score for h in hits), default=0.0), min(len(q.need), _MAX_TERMS) / _MAX_TERMS,
        float(q.kind in ("person", "org", "place")), float(q.kind == "yesno"), min(outlets_absent, _MAX_OUTLETS_ABSENT),
    ])
