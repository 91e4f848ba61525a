"""Extractive answerer: a direct answer first, then the passage sentences that carry it.

Needs no LLM. For a question and its shown passages:

1. **Refuse or go on.** The answer is refused when the passages cover too little of the
   question (:meth:`ExtractiveAnswerer.confidence`, thresholds tuned on the MultiHop-RAG dev
   split), and when a name or number the question hinges on ("Baidu", "Literature", "2019")
   is in none of them: a near miss is not answered with another subject. The refusal names
   what the archive lacks.
2. **Choose the sentences that answer.** Every sentence of the shown passages is scored by a
   learned selector (:mod:`rag.answer.features`, ``models/sentence.json``: fitted on the dev
   split's evidence sentences, cross-validated figures in the README): sentences that hold a
   name, number or date of the expected type that the question lacks, its terms by stem and
   its word pairs, reporting verbs for "what did X say"; questions, asides, parentheticals,
   glued headlines and bare-pronoun subjects score low (a pronoun subject takes the sentence
   before it, which names it, along). At most ``max_answer_sentences`` sentences, spread over
   articles, grouped by article and ordered by date across articles and by story order within
   one (:mod:`rag.answer.evidence`); a dangling "However," is dropped from the answer text
   (the quote stays exact).
3. **Open with the direct answer** (:mod:`rag.answer.direct`) when the question asks for a
   person, organization, place, number, date, or yes/no: "Emmett Shear.", "Yes.", "Seven
   counts.". It is taken only from the chosen evidence; when the evidence cannot decide, the
   answer says so instead of guessing (:func:`rag.answer.wording.undecided`).

The raw text (direct line, then one cited sentence per line) goes through the one verifier
like any answerer's. A question about time gets each sentence opened by its article's outlet
and date ("TechCrunch, October 5, 2023: ..."). Sources carry ``also_ran_in``.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from rag.answer.base import Draft, DraftAnswerer
from rag.answer.direct import (
    ENTITY_FEATURES, YESNO_FEATURES, date_phrase, entity_candidates, entity_features, lead_name, number_phrase,
    order_in_time, stated_date_text, yesno_features,
)
from rag.answer.evidence import (
    AUX_STEMS, boost_responses, choose, dateline, fit_budget, focus_short_question, order, uncovered, with_antecedent,
)
from rag.answer.features import (
    ABSTAIN_FEATURES, SENTENCE_FEATURES, QuestionInfo, SentenceCandidate, abstain_features, candidates, coverage,
    covers, drop_connective, sentence_features,
)
from rag.answer.linear import LogisticModel, load_model
from rag.answer.markers import neutralize_markers
from rag.answer.support import meta_stems, needs, score
from rag.answer.wording import join_words, surface, undecided
from rag.retrieve.query import is_temporal
from rag.types import ABSTAIN_TEXT, Hit

__all__ = ["ExtractiveAnswerer", "undecided"]

_MAX_WORDS = 120  # the whole answer, about
_ENTITY_MIN_PROB = 0.15  # below this the top name is not offered as the direct answer
_CLAIM_SUPPORT = 0.9  # a sentence states a one-claim yes/no question's claim (all but a minor word)
_HEDGE = re.compile(r"\b(?:whether|if|could|might|may|would|allegedly|expected to|likely to)\b", re.I)
_NEGATION = re.compile(r"\b(?:not|never|no|n't|neither|nor|denied|acquitted|cleared)\b", re.I)
_NAME_LOOKAHEAD = 6  # further sentences searched for the name a short question asks for
_LONG_QUESTION = 12  # content terms from which the learned refusal decides (MultiHop-RAG's are 12-40)
_SHORT_QUESTION = 8  # content terms: a one-fact question, answered from its best sentence
_THRESHOLD_LONG = 14  # content terms from which coverage needs only ``abstain_threshold``
_THRESHOLD_SHORT = 5  # content terms up to which it needs ``abstain_short_threshold``
_EMBED_SHARE = 0.5  # with sentence embeddings on: the cosine's share of a candidate's score
_LEAD = 1e-6  # raised just above the best score: the direct answer's sentence leads, the rest keep their order
_NAMED = ("person", "org", "place")  # answer types whose direct answer is a name


@dataclass(frozen=True)
class _Plan:
    """What compose decided, kept for inspection (``ExtractiveAnswerer.last_plan``)."""

    confidence: float
    missing: tuple[str, ...]
    chosen: list[SentenceCandidate]
    direct: str | None
    direct_hits: tuple[int, ...]
    kind: str


class ExtractiveAnswerer(DraftAnswerer):
    """Answers with a direct answer and verbatim passage sentences, each cited; abstains on
    weak evidence and on near misses.

    ``embedder`` (optional) blends MiniLM cosine into the best candidates' scores when
    ``settings.answer_embed_sentences > 0`` (off by default). ``models`` replaces shipped
    models by name (cross-validation passes its own). ``last_confidence`` holds the coverage score of the last :meth:`answer` call and
    ``last_plan`` what it chose.
    """

    name = "extractive"

    def __init__(self, settings: Any, embedder: Any = None, models: dict[str, LogisticModel] | None = None):
        self.settings = settings
        self.embedder = embedder
        self.last_confidence: float | None = None
        self.last_plan: _Plan | None = None
        models = models or {}  # the shipped models, unless given (cross-validation passes its own)
        self.sentence_model = models.get("sentence") or load_model("sentence", SENTENCE_FEATURES)
        self.entity_model = models.get("entity") or load_model("entity", ENTITY_FEATURES)
        self.yesno_model = models.get("yesno") or load_model("yesno", YESNO_FEATURES)
        self.abstain_model = models.get("abstain") or load_model("abstain", ABSTAIN_FEATURES)

    # ---- coverage and refusal ----------------------------------------------------------
    def _coverage(self, q: QuestionInfo, hits: Sequence[Hit], cands: Sequence[SentenceCandidate]) -> tuple[float, tuple[str, ...]]:
        """(confidence, the question's own words for its names/numbers found in no shown
        passage). Confidence is 0 when fewer than ``abstain_name_coverage`` of the question's
        names and numbers appear in any shown passage."""
        best, found, absent = coverage(q, hits, cands)
        if q.strong and found < self.settings.abstain_name_coverage:
            best = 0.0
        return best, tuple(surface(q.text, absent))

    def threshold(self, question: str) -> float:
        """The confidence below which a question of fewer than 12 content terms is refused
        (longer, many-part ones are judged by the learned refusal instead): from
        ``abstain_threshold`` at 14 terms up to ``abstain_short_threshold`` at 5 terms or fewer
        (tuned on the hand-written sample QA set), linear in between: a short question should
        be covered much better by one passage."""
        s = self.settings
        n = len(QuestionInfo.of(question).need)
        frac = min(1.0, max(0.0, (_THRESHOLD_LONG - n) / (_THRESHOLD_LONG - _THRESHOLD_SHORT)))
        return s.abstain_threshold + (max(s.abstain_short_threshold, s.abstain_threshold) - s.abstain_threshold) * frac

    def confidence(self, question: str, hits: Sequence[Hit]) -> float:
        """Coverage in [0, 1]: IDF-weighted share of the question's content words found in the
        best passage (headline and header included), halved per question number or name that
        passage lacks. Below :meth:`threshold` -> abstain."""
        q = QuestionInfo.of(question)
        return self._coverage(q, hits, candidates(hits))[0]

    def _near_miss(self, q: QuestionInfo, missing: Sequence[str]) -> bool:
        """A question of a few names and terms that names something no shown passage holds
        is about something else: "Baidu" where the archive has Alibaba. (Long multi-part
        questions may lack a minor name in their passages and still be answered: the
        learned refusal judges them.)"""
        return bool(missing) and len(q.need) < _LONG_QUESTION

    def _blend_embeddings(self, question: str, cands: list[SentenceCandidate]) -> None:
        """With ``answer_embed_sentences > 0`` and an embedder, the best candidates' scores
        become half selector, half MiniLM cosine with the question (off by default: on the dev
        split it gave the same accuracy at 6x the latency)."""
        budget = self.settings.answer_embed_sentences
        if self.embedder is None or budget <= 0 or not cands:
            return
        top = sorted(cands, key=lambda c: -c.score)[:budget]
        vecs = self.embedder.embed_texts([c.text for c in top])
        qv = self.embedder.embed_query(question)
        for c, v in zip(top, vecs):
            c.score = (1 - _EMBED_SHARE) * c.score + _EMBED_SHARE * max(float(v @ qv), 0.0)

    def _room(self, chosen: list[SentenceCandidate]) -> list[SentenceCandidate]:
        """The best of ``chosen`` that leave room for one more sentence."""
        return chosen[: max(0, self.settings.max_answer_sentences - 1)]

    # ---- direct answers ----------------------------------------------------------------
    def _direct(self, q: QuestionInfo, hits: Sequence[Hit], cands: list[SentenceCandidate],
                chosen: list[SentenceCandidate], question: str) -> tuple[str | None, tuple[int, ...], list[SentenceCandidate]]:
        """(direct text, shown-hit indexes it rests on, evidence possibly extended so that it
        holds the direct answer)."""
        kind = q.kind
        if kind in _NAMED and len(q.need) <= _SHORT_QUESTION and chosen:
            return self._short_name(q, hits, cands, chosen)
        if kind in _NAMED:
            return self._ranked_name(q, hits, cands, chosen)
        if kind in ("number", "date"):
            metas = [meta_stems(h.chunk) for h in hits]
            for c in sorted(chosen, key=lambda c: -c.score):
                if not covers(q, c.stems | metas[c.hit]):
                    continue
                phrase = number_phrase(q, c.text) if kind == "number" else (stated_date_text(hits[c.hit], c) or date_phrase(c.text))
                if phrase:  # "seven counts" -> "Seven counts." (a date starts upper case already)
                    return f"{phrase[:1].upper()}{phrase[1:]}.", (c.hit,), chosen
            return None, (), chosen
        if kind == "yesno":
            word = order_in_time(question, hits, chosen)
            if word is None and len(q.need) <= _SHORT_QUESTION:
                return self._short_yes_no(q, hits, cands, chosen)
            if word is None:
                x = yesno_features(q, hits, cands, [c.score for c in cands], is_temporal(question))
                p = float(self.yesno_model.proba(x)[0])
                word = "Yes." if p >= self.yesno_model.threshold else "No."
            return word, tuple(dict.fromkeys(c.hit for c in chosen)), chosen
        return None, (), chosen

    def _short_name(self, q: QuestionInfo, hits: Sequence[Hit], cands: list[SentenceCandidate],
                    chosen: list[SentenceCandidate]) -> tuple[str | None, tuple[int, ...], list[SentenceCandidate]]:
        """A one-fact who/which/where question: the name is in the sentence that answers it
        (:func:`rag.answer.direct.lead_name` over the chosen and a few next-best sentences)."""
        metas = [meta_stems(h.chunk) for h in hits]
        pool = chosen + sorted((c for c in cands if c not in chosen), key=lambda c: -c.score)[:_NAME_LOOKAHEAD]
        found = []
        for i, lead in enumerate(pool):
            if not covers(q, lead.stems | metas[lead.hit]):
                continue  # "Nobel Prize in Literature": not the chemistry sentence
            named = lead_name(q, lead)
            if named:
                found.append((named[1], i, named[0], lead))
        if not found:
            return None, (), chosen
        _, _, name, lead = min(found, key=lambda f: (f[0], f[1]))
        if lead not in chosen:
            chosen = self._room(chosen) + [lead]
        lead.score = max(c.score for c in chosen) + _LEAD  # its evidence leads
        return f"{name}.", (lead.hit,), chosen

    def _ranked_name(self, q: QuestionInfo, hits: Sequence[Hit], cands: list[SentenceCandidate],
                     chosen: list[SentenceCandidate]) -> tuple[str | None, tuple[int, ...], list[SentenceCandidate]]:
        """A longer who/which/where question: the name the entity model ranks first, cited
        where the evidence holds it (the best sentence naming it joins the evidence)."""
        ents = entity_candidates(q, hits, cands)
        if not ents:
            return None, (), chosen
        probs = self.entity_model.proba(entity_features(q, hits, ents))
        best = int(np.argmax(probs))
        if probs[best] < _ENTITY_MIN_PROB:
            return None, (), chosen
        name = ents[best].text
        holding = [c for c in chosen if name.lower() in c.text.lower()]
        if not holding:
            extra = [c for c in cands if name.lower() in c.text.lower()]
            if not extra:
                return None, (), chosen
            best_c = max(extra, key=lambda c: c.score)
            chosen = [best_c] + self._room(chosen)
            holding = [best_c]
        return f"{name}.", tuple(dict.fromkeys(c.hit for c in holding)), chosen

    def _short_yes_no(self, q: QuestionInfo, hits: Sequence[Hit], cands: list[SentenceCandidate],
                      chosen: list[SentenceCandidate]) -> tuple[str | None, tuple[int, ...], list[SentenceCandidate]]:
        """A one-claim yes/no question ("Was Sam Bankman-Fried found guilty?"): "Yes." when a
        shown sentence states the whole claim, "No." when it states it negated, and no direct
        answer (the answer says the archive does not say) when none states it."""
        need = {k: v for k, v in needs(q.text).items() if k not in AUX_STEMS}
        metas = [meta_stems(h.chunk) for h in hits]
        best, best_s = None, 0.0
        for c in cands:
            if _HEDGE.search(c.text):
                continue  # "to determine whether he's guilty" states no verdict
            sc = score(need, c.stems | metas[c.hit])
            if sc > best_s or (sc == best_s and best is not None and c.score > best.score):
                best, best_s = c, sc
        if best is None or best_s < _CLAIM_SUPPORT:
            return None, (), chosen
        if best not in chosen:
            chosen = [best] + self._room(chosen)
        best.score = max(best.score, max(c.score for c in chosen) + _LEAD)  # lead with it
        negated = bool(_NEGATION.search(best.text)) and not _NEGATION.search(q.text)
        return ("No." if negated else "Yes."), (best.hit,), chosen

    # ---- composing ---------------------------------------------------------------------
    def plan(self, question: str, hits: Sequence[Hit]) -> _Plan:
        """Decide refusal, evidence and direct answer (no verification)."""
        q = QuestionInfo.of(question)
        cands = candidates(hits)
        confidence, missing = self._coverage(q, hits, cands)
        long_question = len(q.need) >= _LONG_QUESTION
        if not cands or (not long_question and (confidence < self.threshold(question) or self._near_miss(q, missing))):
            return _Plan(confidence, missing, [], None, (), q.kind)
        probs = self.sentence_model.proba(sentence_features(q, hits, cands))
        for c, p in zip(cands, probs):
            c.score = float(p)
        if long_question:
            # many-part questions: the learned refusal (models/abstain.json, fitted on
            # MultiHop-RAG dev: 0.95 of its unanswerable questions refused, 0.002 of the
            # answerable ones, cross-validated); the coverage threshold refused 0.20 of them
            answerable = float(self.abstain_model.proba(abstain_features(q, hits, cands, probs))[0])
            if answerable < self.abstain_model.threshold:
                return _Plan(confidence, missing, [], None, (), q.kind)
        self._blend_embeddings(question, cands)
        if len(q.need) <= _SHORT_QUESTION:
            focus_short_question(q, hits, cands)
        boost_responses(q, cands)
        chosen = choose(q, hits, cands, self.settings.max_answer_sentences)
        if not long_question and chosen:
            # what the answer would cite must hold every name the question hinges on: the
            # archive mentions Tencent somewhere, but the memo passages do not
            uncited = uncovered(q, hits, cands, chosen)
            if uncited:
                return _Plan(confidence, tuple(surface(q.text, uncited)), [], None, (), q.kind)
        direct, direct_hits, chosen = self._direct(q, hits, cands, chosen, question)
        chosen = [with_antecedent(hits, cands, c) for c in chosen]
        chosen = fit_budget(chosen, _MAX_WORDS - len((direct or "").split()))
        return _Plan(confidence, missing, chosen, direct, direct_hits, q.kind)

    def compose(self, question: str, hits: Sequence[Hit]) -> str:
        """The unverified answer text: the direct answer (when the question asks for one) on
        the first line, then the chosen sentences, each followed by ``[n]``, one per line; or
        :data:`ABSTAIN_TEXT`."""
        return self._compose(question, hits, self.plan(question, hits))

    def _compose(self, question: str, hits: Sequence[Hit], plan: _Plan) -> str:
        self.last_plan = plan
        self.last_confidence = plan.confidence
        if not plan.chosen:
            return ABSTAIN_TEXT
        temporal = is_temporal(question)
        dated = temporal or (len({hits[c.hit].chunk.outlet for c in plan.chosen}) > 1 and plan.kind == "yesno"
                             and len(QuestionInfo.of(question).need) > _SHORT_QUESTION)
        ordered = order(plan.chosen, hits, chronological=dated)
        lines = []
        if plan.direct:
            lines.append(plan.direct + " " + "".join(f"[{i + 1}]" for i in plan.direct_hits))
        elif plan.kind != "none":
            lines.append(undecided(question))
        for c in ordered:
            text = " ".join(drop_connective(neutralize_markers(c.text)).split())
            lines.append(f"{dateline(hits[c.hit]) if dated else ''}{text} [{c.hit + 1}]")
        return "\n".join(lines)

    def draft(self, question: str, hits: Sequence[Hit]) -> Draft:
        """The unverified extractive answer (:func:`rag.answer.base.finish` verifies it)."""
        t0 = time.perf_counter()
        plan = self.plan(question, hits)
        raw = self._compose(question, hits, plan)
        note = f"Nothing in it mentions {join_words(plan.missing)}." if plan.missing else ""  # used if refused
        return Draft(question, raw, tuple(hits), self.name, {"answer": (time.perf_counter() - t0) * 1000}, note)
