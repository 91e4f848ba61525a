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
   one; a dangling "However," is dropped from the answer text (the quote stays exact).
3. **Open with the direct answer** (:mod:`rag.answer.direct`) when the question asks for a
   person, organization, place, number, date, or yes/no: "Emmett Shear.", "Yes.", "Seven
   counts.". It is taken only from the chosen evidence; when the evidence cannot decide, the
   answer says so instead of guessing.

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
    ENTITY_FEATURES, YESNO_FEATURES, date_phrase, entity_candidates, entity_features, number_phrase, yesno_features,
)
from rag.answer.features import (
    ABSTAIN_FEATURES, SENTENCE_FEATURES, QuestionInfo, SentenceCandidate, abstain_features, candidates, coverage,
    covers, drop_connective, sentence_features, starts_with_pronoun,
)
from rag.answer.linear import LogisticModel, load_model
from rag.answer.verify import meta_stems, neutralize_markers
from rag.retrieve.query import is_temporal
from rag.text import entity_spans, stem, stems, terms
from rag.types import ABSTAIN_TEXT, Hit

_KEEP_RATIO = 0.35  # further sentences must reach this share of the best one's probability
_MIN_PROB = 0.05  # and at least this probability
_DUPLICATE_JACCARD = 0.7
_MAX_WORDS = 120  # the whole answer, about
_PAIR_MAX_WORDS = 70  # a pronoun sentence and the naming one before it, together
_ENTITY_MIN_PROB = 0.15  # below this the top name is not offered as the direct answer
_SAME_ARTICLE = 0.8  # a further sentence from an article already quoted: its score x this
_CLAIM_SUPPORT = 0.9  # a sentence states a one-claim yes/no question's claim (all but a minor word)
_HEDGE = re.compile(r"\b(?:whether|if|could|might|may|would|allegedly|expected to|likely to)\b", re.I)
_NEGATION = re.compile(r"\b(?:not|never|no|n't|neither|nor|denied|acquitted|cleared)\b", re.I)
_AUX_STEMS = frozenset("was were is are did does do has have had".split())
_PASSAGE_NAMES = 0.6  # short question: its names only in the sentence's article (shown passages)
_NO_NAMES = 0.2  # short question: a name it hinges on is not even in the passage
_NAME_LOOKAHEAD = 6  # further sentences searched for the name a short question asks for
_LONG_QUESTION = 12  # content terms from which the learned refusal decides (MultiHop-RAG's are 12-40)
_SHORT_QUESTION = 8  # content terms: a one-fact question, answered from its best sentence
_RELATED = 0.4  # further sentences need this share of the first one's match with the question
_RESPONSE_BOOST = 1.0  # "how did X respond": X's own reaction (see _responds) ranks above the rest
_RESPONSE = re.compile(
    r"\b(?:condemn|den(?:y|ied|ies)|reject|dismiss|respond|repl(?:y|ied)|call(?:ed|ing)? (?:it|the)|"
    r"react|hit back|push(?:ed)? back|refut|slam|counter|insist|said|says|statement)", re.I)
_REPORT_STEMS = frozenset(stem(w) for w in "allege alleges alleged allegation claim claims claimed accuse accused warn warned".split())
_ASKS_RESPONSE = re.compile(r"\b(?:respond|response|react|reaction|reply|replied|answer(?:ed)?)\b", re.I)


@dataclass
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
        return best, tuple(_surface(q.text, absent))

    def threshold(self, question: str) -> float:
        """The confidence below which a question of fewer than 12 content terms is refused
        (longer, many-part ones are judged by the learned refusal instead): from
        ``abstain_threshold`` at 14 terms up to ``abstain_short_threshold`` at 5 terms or fewer
        (tuned on the hand-written sample QA set), linear in between: a short question should
        be covered much better by one passage."""
        s = self.settings
        n = len(QuestionInfo.of(question).need)
        frac = min(1.0, max(0.0, (14 - n) / 9))
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
            c.score = 0.5 * c.score + 0.5 * max(float(v @ qv), 0.0)

    # ---- choosing ----------------------------------------------------------------------
    def _choose(self, q: QuestionInfo, hits: Sequence[Hit], cands: list[SentenceCandidate]) -> list[SentenceCandidate]:
        if not cands:
            return []
        top = max(c.score for c in cands)
        pool = sorted((c for c in cands if c.score >= max(_MIN_PROB, _KEEP_RATIO * top)), key=lambda c: -c.score)
        chosen: list[SentenceCandidate] = []
        limit = max(1, self.settings.max_answer_sentences)
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

    def _with_antecedent(self, hits: Sequence[Hit], cands: Sequence[SentenceCandidate], c: SentenceCandidate) -> SentenceCandidate:
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

    # ---- direct answers ----------------------------------------------------------------
    def _direct(self, q: QuestionInfo, hits: Sequence[Hit], cands: list[SentenceCandidate],
                chosen: list[SentenceCandidate], question: str) -> tuple[str | None, tuple[int, ...], list[SentenceCandidate]]:
        """(direct text, shown-hit indexes it rests on, evidence possibly extended so that it
        holds the direct answer)."""
        kind = q.kind
        if kind in ("person", "org", "place") and len(q.need) <= _SHORT_QUESTION and chosen:
            # a one-fact question: the name is in the sentence that answers it
            metas = [meta_stems(h.chunk) for h in hits]
            pool = chosen + sorted((c for c in cands if c not in chosen), key=lambda c: -c.score)[:_NAME_LOOKAHEAD]
            found = []
            for i, lead in enumerate(pool):
                if not covers(q, lead.stems | metas[lead.hit]):
                    continue  # "Nobel Prize in Literature": not the chemistry sentence
                named = _lead_name(q, lead)
                if named:
                    found.append((named[1], i, named[0], lead))
            if not found:
                return None, (), chosen
            _, _, name, lead = min(found, key=lambda f: (f[0], f[1]))
            if lead not in chosen:
                chosen = chosen[: max(0, self.settings.max_answer_sentences - 1)] + [lead]
            lead.score = max(c.score for c in chosen) + 1e-6  # its evidence leads
            return f"{name}.", (lead.hit,), chosen
        if kind in ("person", "org", "place"):
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
                chosen = [best_c] + chosen[: max(0, self.settings.max_answer_sentences - 1)]
                holding = [best_c]
            return f"{name}.", tuple(dict.fromkeys(c.hit for c in holding)), chosen
        if kind == "number":
            metas = [meta_stems(h.chunk) for h in hits]
            for c in sorted(chosen, key=lambda c: -c.score):
                if not covers(q, c.stems | metas[c.hit]):
                    continue
                phrase = number_phrase(q, c.text)
                if phrase:
                    return f"{phrase[:1].upper()}{phrase[1:]}.", (c.hit,), chosen
            return None, (), chosen
        if kind == "date":
            metas = [meta_stems(h.chunk) for h in hits]
            for c in sorted(chosen, key=lambda c: -c.score):
                if not covers(q, c.stems | metas[c.hit]):
                    continue
                phrase = date_phrase(c.text)
                if phrase:
                    return f"{phrase}.", (c.hit,), chosen
            return None, (), chosen
        if kind == "yesno":
            order = _order_in_time(question, hits, chosen)
            if order is not None:
                return order, tuple(dict.fromkeys(c.hit for c in chosen)), chosen
            if len(q.need) <= _SHORT_QUESTION:
                return self._short_yes_no(q, hits, cands, chosen)
            x = yesno_features(q, hits, cands, [c.score for c in cands], is_temporal(question))
            p = float(self.yesno_model.proba(x)[0])
            word = "Yes." if p >= self.yesno_model.threshold else "No."
            return word, tuple(dict.fromkeys(c.hit for c in chosen)), chosen
        return None, (), chosen

    def _short_yes_no(self, q: QuestionInfo, hits: Sequence[Hit], cands: list[SentenceCandidate],
                      chosen: list[SentenceCandidate]) -> tuple[str | None, tuple[int, ...], list[SentenceCandidate]]:
        """A one-claim yes/no question ("Was Sam Bankman-Fried found guilty?"): "Yes." when a
        shown sentence states the whole claim, "No." when it states it negated, and no direct
        answer (the answer says the archive does not say) when none states it."""
        from rag.answer.verify import needs, score

        need = {k: v for k, v in needs(q.text).items() if k not in _AUX_STEMS}
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
            chosen = [best] + chosen[: max(0, self.settings.max_answer_sentences - 1)]
        best.score = max(best.score, max(c.score for c in chosen) + 1e-6)  # lead with it
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
            _focus_short_question(q, hits, cands)
        if _ASKS_RESPONSE.search(question):
            for c in cands:  # "how did Alibaba respond": Alibaba's own reaction first
                if _responds(q, c):
                    c.score += _RESPONSE_BOOST
        chosen = self._choose(q, hits, cands)
        if not long_question and chosen:
            # what the answer would cite must hold every name the question hinges on: the
            # archive mentions Tencent somewhere, but the memo passages do not
            uncited = _uncovered(q, hits, cands, chosen)
            if uncited:
                return _Plan(confidence, tuple(_surface(q.text, uncited)), [], None, (), q.kind)
        direct, direct_hits, chosen = self._direct(q, hits, cands, chosen, question)
        chosen = [self._with_antecedent(hits, cands, c) for c in chosen]
        chosen = _fit_budget(chosen, _MAX_WORDS - len((direct or "").split()))
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
        ordered = _order(plan.chosen, hits, chronological=dated)
        lines = []
        if plan.direct:
            lines.append(plan.direct + " " + "".join(f"[{i + 1}]" for i in plan.direct_hits))
        elif plan.kind != "none":
            lines.append(undecided(question))
        for c in ordered:
            text = " ".join(drop_connective(neutralize_markers(c.text)).split())
            lines.append(f"{_dateline(hits[c.hit]) if dated else ''}{text} [{c.hit + 1}]")
        return "\n".join(lines)

    def draft(self, question: str, hits: Sequence[Hit]) -> Draft:
        """The unverified extractive answer (:func:`rag.answer.base.finish` verifies it)."""
        t0 = time.perf_counter()
        plan = self.plan(question, hits)
        raw = self._compose(question, hits, plan)
        note = f"Nothing in it mentions {_join(plan.missing)}." if plan.missing else ""  # used if refused
        return Draft(question, raw, tuple(hits), self.name, {"answer": (time.perf_counter() - t0) * 1000}, note)


_IRREGULAR = {
    "pay": "paid", "say": "said", "win": "won", "make": "made", "buy": "bought", "sell": "sold", "get": "got",
    "take": "took", "give": "gave", "have": "had", "do": "did", "go": "went", "tell": "told", "find": "found",
    "lose": "lost", "leave": "left", "hold": "held", "spend": "spent", "meet": "met", "run": "ran",
    "become": "became", "write": "wrote", "choose": "chose", "lead": "led", "bring": "brought", "raise": "raised",
    "lay": "laid", "send": "sent", "build": "built", "keep": "kept", "see": "saw", "know": "knew", "fall": "fell",
    "rise": "rose", "grow": "grew", "begin": "began", "steal": "stole", "sue": "sued", "hit": "hit", "cut": "cut",
    "put": "put", "set": "set", "let": "let", "quit": "quit", "shut": "shut", "bid": "bid", "think": "thought",
}


def undecided(question: str) -> str:
    """"The archive does not say who won the 2023 Nobel Prize in Literature." (the question
    turned into a clause; yes/no questions get "whether ..."), for a question whose direct
    answer the evidence cannot give."""
    q = question.strip().rstrip("?").strip()
    m = re.match(r"(?i)^(who|whom|what|which\s+[\w\-]+|where|when|how much|how many(?:\s+[\w\-]+)?|how)\s+(did|does|do)\s+(.+)$", q)
    if m:
        wh, aux, rest = m.groups()
        words = rest.split()
        from rag.text import STOPWORDS

        for i, w in enumerate(words[1:], 1):
            # the verb: the first lower-case word after the subject that ends the clause or
            # is followed by a preposition or article ("the memo allege about ...")
            nxt = words[i + 1].lower() if i + 1 < len(words) else ""
            if w.islower() and w.isalpha() and w not in STOPWORDS and (not nxt or nxt in STOPWORDS):
                if aux.lower() == "did":
                    words[i] = _IRREGULAR.get(w, w + ("d" if w.endswith("e") else "ed"))
                elif aux.lower() == "does":
                    words[i] = w + ("es" if w.endswith(("s", "sh", "ch", "x")) else "s")
                break
        return f"The archive does not say {wh[0].lower() + wh[1:]} {' '.join(words)}."
    m = re.match(r"^(Is|Was|Are|Were|Has|Have|Had|Did|Does|Do|Will|Can)\s+((?:(?:[A-Z][\w.'’\-]*|of|the)\s+)*[A-Z][\w.'’\-]*)\s+([a-z].*)$", q)
    if m:  # "Was Sam Bankman-Fried found guilty" -> "whether Sam Bankman-Fried was found guilty"
        aux, subject, rest = m.groups()
        words = rest.split()
        if aux in ("Did", "Does", "Do"):
            w = words[0]
            words[0] = (_IRREGULAR.get(w, w + ("d" if w.endswith("e") else "ed")) if aux == "Did"
                        else w + ("es" if w.endswith(("s", "sh", "ch", "x")) else "s") if aux == "Does" else w)
            return f"The archive does not say whether {subject} {' '.join(words)}."
        return f"The archive does not say whether {subject} {aux.lower()} {' '.join(words)}."
    if re.match(r"(?i)^(who|what|which|where|when|how)\b(?!\s+(?:is|was|are|were|has|have|had|will|would|can|could)\b)", q):
        return f"The archive does not say {q[0].lower() + q[1:]}."
    return f'The archive does not say: "{question.strip()}"'


def _uncovered(q: QuestionInfo, hits: Sequence[Hit], cands: Sequence[SentenceCandidate],
               chosen: Sequence[SentenceCandidate]) -> list[str]:
    """Stems of the question's names (one per name group) that none of the articles the
    chosen sentences come from holds in its shown passages or metadata."""
    articles = {hits[c.hit].chunk.article_id for c in chosen}
    have: set[str] = set()
    for c in cands:
        if hits[c.hit].chunk.article_id in articles:
            have |= c.stems
    for i, h in enumerate(hits):
        if h.chunk.article_id in articles:
            have |= meta_stems(h.chunk) | stems(h.chunk.text)
    return [k for g in q.name_groups if not g & have for k in sorted(g)]


def _focus_short_question(q: QuestionInfo, hits: Sequence[Hit], cands: Sequence[SentenceCandidate]) -> None:
    """A one-fact question is answered by a sentence that holds all of its names ("Nobel",
    "Physics", "2023": not the chemistry sentence) and its other words by stem ("replaced"
    -> "replacing Murati"). The selector, fitted on MultiHop-RAG's long questions, is sure of
    many sentences of a short one; these two checks tell them apart."""
    role = {k for k, (_, strong) in q.need.items() if not strong and k not in _AUX_STEMS}
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
        c.score *= names * (0.5 + 0.5 * share) * (1.0 if not asked or asked & c.stems else 0.5)


def _order(chosen: Sequence[SentenceCandidate], hits: Sequence[Hit], chronological: bool) -> list[SentenceCandidate]:
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


def _order_in_time(question: str, hits: Sequence[Hit], chosen: Sequence[SentenceCandidate]) -> str | None:
    """For "did A report X before/after B reported Y?" with two cited outlets, Yes/No from
    their articles' publication dates; None when the question is not of that shape."""
    m = re.search(r"\b(before|after|earlier than|later than|prior to)\b", question, re.I)
    if not m or not re.match(r"^\s*(?:did|was|were|is|does|has|had)\b", question, re.I):
        return None
    names = {}
    low = question.lower()
    for c in chosen:
        o = hits[c.hit].chunk.outlet
        d = hits[c.hit].chunk.published_at
        if o and d is not None and o.lower() in low:
            names.setdefault(o, d)
    if len(names) != 2:
        return None
    (o1, d1), (o2, d2) = sorted(names.items(), key=lambda kv: low.index(kv[0].lower()))
    if d1 == d2:
        return None
    before = m.group(1).lower() in ("before", "earlier than", "prior to")
    first_is_earlier = d1 < d2
    return "Yes." if first_is_earlier == before else "No."


def _surface(question: str, missing_stems: Sequence[str]) -> list[str]:
    """The question's own words for missing stems: the whole name when a missing word is
    part of one ("Super Bowl", "Nobel Prize in Literature" -> "Literature"), else the word."""
    missing = set(missing_stems)
    out: list[str] = []
    covered: set[int] = set()
    for e in entity_spans(question):
        stems = [stem(t.norm) for t in terms(e.text)]
        if stems and all(k in missing for k in stems):
            out.append(re.sub(r"['’]s$", "", e.text))
            covered.update(range(e.start, e.end))
    for t in terms(question):
        if stem(t.norm) in missing and t.start not in covered:
            word = re.sub(r"['’]s$", "", question[t.start:t.end])
            if word not in out:
                out.append(word)
    return out


def _join(words: Sequence[str]) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _fit_budget(chosen: list[SentenceCandidate], budget: int) -> list[SentenceCandidate]:
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


def _dateline(hit: Hit) -> str:
    """``"TechCrunch, October 5, 2023: "`` for a cited article (outlet and publication date
    are passage metadata, so the verifier counts them as supported), or "" when undated."""
    d = hit.chunk.published_at
    if d is None:
        return ""
    when = f"{d.strftime('%B')} {d.day}, {d.year}"
    return f"{hit.chunk.outlet}, {when}: " if hit.chunk.outlet else f"{when}: "


_PLACE_WORDS = re.compile(r"\b(?:City|Center|Centre|Stadium|Arena|Park|Hall|County|State|Island|Street|Square|"
                          r"Airport|Vegas|York|Angeles|Francisco|Valley|Beach)\b")


def _lead_name(q: QuestionInfo, c: SentenceCandidate) -> tuple[str, int] | None:
    """The name in sentence ``c`` that answers a short who/which/where question, and its
    priority (lower is better): not in the question, of the asked type (a person's name has
    two or three words; a place is not the thing asked about and is best introduced by "in"
    or "at"), nearest to the question's own words in the sentence."""
    from rag.answer.direct import _DEMONYMS, _ORG_SUFFIX, _names

    qpos = [m.start() for m in re.finditer(r"[\w'’\-]+", c.text) if m.group(0).lower() in q.words]
    best, best_key = None, None
    for e in _names(c.text):
        words = e.text.split()
        low = [w.lower() for w in words]
        if all(w in q.words for w in low) or e.text.lower() in _DEMONYMS:
            continue
        person = 2 <= len(words) <= 3 and not _ORG_SUFFIX.search(e.text)
        if q.kind == "person" and not person:
            continue
        priority = 0
        if q.kind == "place":
            if any(w in q.words or any(len(w) >= 4 and x.startswith(w) for x in q.words) for w in low):
                continue  # "North American TwitchCon" is the thing asked about, not where it was
            before = c.text[max(0, e.start - 20):e.start]
            if re.search(r"\b(?:outside|except|not in|instead of|rather than)(?:\s+of)?\s+(?:the\s+)?$", before):
                continue  # "held outside of California"
            priority = 0 if re.search(r"\b(?:in|at|near)\s+(?:the\s+)?$", before) else 1 if _PLACE_WORDS.search(e.text) else 2
        d = min((abs(e.start - p) for p in qpos), default=0)
        key = (priority, d)
        if best_key is None or key < best_key:
            best, best_key = e.text, key
    return (best, best_key[0]) if best is not None else None


def _lex(c: SentenceCandidate) -> float:
    return float(c.features[0]) if c.features is not None else 0.0  # SENTENCE_FEATURES[0] == "lex"


def _responds(q: QuestionInfo, c: SentenceCandidate) -> bool:
    """The sentence is a named party's own reaction: it opens with a name the question holds
    and says what that party said or did in response ("Alibaba has swiftly condemned...")."""
    head = re.findall(r"[\w'’\-]+", c.text)[:3]
    return any(w.lower() in q.words and w[:1].isupper() for w in head) and bool(_RESPONSE.search(c.text))


def _near_duplicate(a: SentenceCandidate, b: SentenceCandidate) -> bool:
    if " ".join(a.text.split()) == " ".join(b.text.split()):
        return True
    union = a.stems | b.stems
    return bool(union) and len(a.stems & b.stems) / len(union) >= _DUPLICATE_JACCARD
