"""The extractive answer's evidence: which scored sentences to quote, and in what order.

The selector has scored every sentence of the shown passages (:mod:`rag.answer.features`);
here a short question's names and words sharpen those scores (:func:`focus_short_question`,
:func:`boost_responses`), :func:`choose` takes the best few, spread over articles and about
the question, a bare-pronoun sentence takes the sentence naming its subject along
(:func:`with_antecedent`), the answer keeps to a word budget (:func:`fit_budget`), and
:func:`order` groups sentences by article, by date when time matters.
"""
from __future__ import annotations

import re
from typing import Sequence

from rag.answer.features import QuestionInfo, SentenceCandidate, covers, starts_with_pronoun
from rag.answer.support import meta_stems
from rag.text import entity_spans, stem, stems
from rag.types import Hit

_KEEP_RATIO = 0.35  # further sentences must reach this share of the best one's probability
_MIN_PROB = 0.05  # and at least this probability
_DUPLICATE_JACCARD = 0.7  # sentences sharing this share of their stems say the same thing (syndicated copies)
_PAIR_MAX_WORDS = 70  # a pronoun sentence and the naming one before it, together
_SAME_ARTICLE = 0.8  # a further sentence from an article already quoted: its score x this
_RELATED = 0.4  # further sentences need this share of the first one's match with the question
_PASSAGE_NAMES = 0.6  # short question: its names only in the sentence's article (shown passages)
_NO_NAMES = 0.2  # short question: a name it hinges on is not even in the passage
_ROLE_FLOOR = 0.5  # short question: a sentence with none of its other words keeps this share of its score
_NOT_ASKED = 0.5  # "what does the memo allege": a sentence that does not allege keeps this share
_RESPONSE_BOOST = 1.0  # "how did X respond": X's own reaction (see responds) ranks above the rest
_HEAD_WORDS = 3  # a reaction names its party in its first words ("Alibaba has swiftly condemned")

AUX_STEMS = frozenset("was were is are did does do has have had".split())  # no claim of their own
_REPORT_STEMS = frozenset(stem(w) for w in "allege alleges alleged allegation claim claims claimed accuse accused warn warned".split())
_RESPONSE = re.compile(
    r"\b(?:condemn|den(?:y|ied|ies)|reject|dismiss|respond|repl(?:y|ied)|call(?:ed|ing)? (?:it|the)|"
    r"react|hit back|push(?:ed)? back|refut|slam|counter|insist|said|says|statement)", re.I)
_ASKS_RESPONSE = re.compile(r"\b(?:respond|response|react|reaction|reply|replied|answer(?:ed)?)\b", re.I)


def focus_short_question(q: QuestionInfo, hits: Sequence[Hit], cands: Sequence[SentenceCandidate]) -> None:
    """A one-fact question is answered by a sentence that holds all of its names ("Nobel",
    "Physics", "2023": not the chemistry sentence) and its other words by stem ("replaced"
    -> "replacing Murati"). The selector, fitted on MultiHop-RAG's long questions, is sure of
    many sentences of a short one; these two checks tell them apart (scores change in place)."""
    role = {k for k, (_, strong) in q.need.items() if not strong and k not in AUX_STEMS}
    asked = role & _REPORT_STEMS  # "what does the memo allege": a sentence that alleges
    metas = [meta_stems(h.chunk) for h in hits]
    articles: dict[str, set[str]] = {}  # what the shown passages of each article say
    for c in cands:
        articles.setdefault(hits[c.hit].chunk.article_id, set()).update(c.stems)
    for c in cands:
        if covers(q, c.stems | metas[c.hit]):
            names = 1.0
        elif covers(q, articles[hits[c.hit].chunk.article_id] | metas[c.hit]):
            names = _PASSAGE_NAMES  # the names are in its article, not in it ("the document")
        else:
            names = _NO_NAMES
        share = len(role & c.stems) / len(role) if role else 1.0
        c.score *= (names * (_ROLE_FLOOR + (1 - _ROLE_FLOOR) * share)
                    * (1.0 if not asked or asked & c.stems else _NOT_ASKED))


def responds(q: QuestionInfo, c: SentenceCandidate) -> bool:
    """The sentence is a named party's own reaction: it opens with a name the question holds
    and says what that party said or did in response ("Alibaba has swiftly condemned...")."""
    head = re.findall(r"[\w'’\-]+", c.text)[:_HEAD_WORDS]
    return any(w.lower() in q.words and w[:1].isupper() for w in head) and bool(_RESPONSE.search(c.text))


def boost_responses(q: QuestionInfo, cands: Sequence[SentenceCandidate]) -> None:
    """"How did Alibaba respond": Alibaba's own reaction first (scores change in place)."""
    if _ASKS_RESPONSE.search(q.text):
        for c in cands:
            if responds(q, c):
                c.score += _RESPONSE_BOOST


def _lex(c: SentenceCandidate) -> float:
    return float(c.features[0]) if c.features is not None else 0.0  # SENTENCE_FEATURES[0] == "lex"


def _near_duplicate(a: SentenceCandidate, b: SentenceCandidate) -> bool:
    if " ".join(a.text.split()) == " ".join(b.text.split()):
        return True
    union = a.stems | b.stems
    return bool(union) and len(a.stems & b.stems) / len(union) >= _DUPLICATE_JACCARD


def choose(q: QuestionInfo, hits: Sequence[Hit], cands: list[SentenceCandidate], limit: int) -> list[SentenceCandidate]:
    """At most ``limit`` sentences, best first: close to the best one's score, preferring
    another article when scores are close, no near duplicates, each about the question."""
    if not cands:
        return []
    top = max(c.score for c in cands)
    pool = sorted((c for c in cands if c.score >= max(_MIN_PROB, _KEEP_RATIO * top)), key=lambda c: -c.score)
    chosen: list[SentenceCandidate] = []
    limit = max(1, limit)
    used_articles: set[str] = set()
    metas = [meta_stems(h.chunk) for h in hits]
    while pool and len(chosen) < limit:
        # prefer another article when scores are close: a multi-part question's facts
        # sit in several articles
        best = max(pool, key=lambda c: c.score * (_SAME_ARTICLE if hits[c.hit].chunk.article_id in used_articles else 1.0))
        pool.remove(best)
        if any(_near_duplicate(best, c) for c in chosen):
            continue
        if chosen and (_lex(best) < _RELATED * _lex(chosen[0])
                       or q.names and not (q.names & (best.stems | metas[best.hit]))):
            continue  # a further sentence must be about the question too, not just nearby
        chosen.append(best)
        used_articles.add(hits[best.hit].chunk.article_id)
    return chosen


def uncovered(q: QuestionInfo, hits: Sequence[Hit], cands: Sequence[SentenceCandidate],
              chosen: Sequence[SentenceCandidate]) -> list[str]:
    """Stems of the question's names (one per name group) that none of the articles the
    chosen sentences come from holds in its shown passages or metadata."""
    articles = {hits[c.hit].chunk.article_id for c in chosen}
    have: set[str] = set()
    for c in cands:
        if hits[c.hit].chunk.article_id in articles:
            have |= c.stems
    for h in hits:
        if h.chunk.article_id in articles:
            have |= meta_stems(h.chunk) | stems(h.chunk.text)
    return [k for g in q.name_groups if not g & have for k in sorted(g)]


def with_antecedent(hits: Sequence[Hit], cands: Sequence[SentenceCandidate], c: SentenceCandidate) -> SentenceCandidate:
    """A sentence whose subject is a bare pronoun ("She was named co-CEO...") is shown
    with the sentence before it when that one names someone (one quote spans both)."""
    if not starts_with_pronoun(c.text):
        return c
    text = hits[c.hit].chunk.text
    prev = [d for d in cands if d.hit == c.hit and d.end <= c.start and text[d.end:c.start].strip() == ""]
    if not prev:
        return c
    p = max(prev, key=lambda d: d.end)
    merged = text[p.start:c.end]
    if not entity_spans(p.text) or len(merged.split()) > _PAIR_MAX_WORDS:
        return c
    return SentenceCandidate(c.hit, p.start, c.end, merged, p.position, p.stems | c.stems, p.pairs | c.pairs,
                             c.score, c.features)


def fit_budget(chosen: list[SentenceCandidate], budget: int) -> list[SentenceCandidate]:
    """Keep the best sentences that fit about ``budget`` words (always the best one)."""
    out, used = [], 0
    for c in sorted(chosen, key=lambda c: -c.score):
        n = len(c.text.split())
        if out and used + n > budget:
            continue
        out.append(c)
        used += n
    return out


def _published_key(hit: Hit) -> tuple[int, str]:
    d = hit.chunk.published_at
    return (0, d.isoformat()) if d is not None else (1, "")


def order(chosen: Sequence[SentenceCandidate], hits: Sequence[Hit], chronological: bool) -> list[SentenceCandidate]:
    """Sentences grouped by article, in story order within one; articles oldest first when
    time matters (``chronological``), else the article with the strongest sentence first."""
    best: dict[str, float] = {}
    for c in chosen:
        a = hits[c.hit].chunk.article_id
        best[a] = max(best.get(a, 0.0), c.score)

    def key(c: SentenceCandidate):
        ch = hits[c.hit].chunk
        first = _published_key(hits[c.hit]) if chronological else (0, f"{1 - best[ch.article_id]:.6f}")
        return (first, ch.article_id, ch.start + c.start)

    if chronological or not chosen:
        return sorted(chosen, key=key)
    lead = max(chosen, key=lambda c: c.score)  # the answer in the first line
    return [lead] + sorted((c for c in chosen if c is not lead), key=key)


def dateline(hit: Hit) -> str:
    """``"TechCrunch, October 5, 2023: "`` for a cited article (outlet and publication date
    are passage metadata, so the verifier counts them as supported), or "" when undated."""
    d = hit.chunk.published_at
    if d is None:
        return ""
    when = f"{d.strftime('%B')} {d.day}, {d.year}"
    return f"{hit.chunk.outlet}, {when}: " if hit.chunk.outlet else f"{when}: "
