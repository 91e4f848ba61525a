"""The direct answer an extractive answer opens with, derived only from the shown evidence.

* short who / which / where questions: the name in the best sentence that holds the question's
  names, nearest its words (:func:`lead_name`); longer ones: the names found in the chosen
  evidence and the shown passages are candidates (:func:`entity_candidates`: a short form such as "Bankman-Fried"
  counts for the full "Sam Bankman-Fried"; names the question already holds and outlet names
  are not answers), ranked by a learned model (``models/entity.json``) over how widely and how
  strongly the evidence carries each one;
* how many / how much: the number (with its unit) of the best evidence sentence that the
  question does not already contain; when: the date that sentence states, resolved and
  written out (:func:`stated_date_text`), else nothing;
* yes / no: ``models/yesno.json`` over the question's wording and how well each of its parts
  is supported by the shown passages; order-in-time questions ("did A report X before B?")
  are decided from the dates the cited sentences state, else the cited articles' publication
  dates, and the answer says which (:func:`order_in_time`).

Every direct answer is a string that occurs in a cited passage (or, for yes/no, rests on the
evidence sentences it cites); the verifier checks names and numbers again.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Sequence

import numpy as np

from rag.answer.features import QuestionInfo, SentenceCandidate
from rag.ingest.event_dates import DAY, MONTH, SECTION, WEEK, granularity, resolve_dates, stated_in
from rag.answer.support import meta_stems, needs, score
from rag.text import STOPWORDS, EntitySpan, entity_spans, stem, terms
from rag.types import Hit

ENTITY_FEATURES: tuple[str, ...] = (
    "hit_share", "article_share", "log_mentions", "rank_weight", "best_sentence", "sum_sentence",
    "in_title", "n_words", "person_like", "asks_person", "acronym", "subject", "partial_question",
    "short_form_only", "first_hit", "near_question", "sentence_lex", "org_like",
)

YESNO_FEATURES: tuple[str, ...] = (
    "cue_change", "cue_consistent", "cue_same", "cue_different", "cue_negation", "cue_both",
    "cue_increase", "cue_decrease", "cue_order", "part_min", "part_mean", "absent_words",
    "absent_strong", "best_sentence", "temporal", "opens_did", "opens_was", "says_no", "cue_similar",
)

_ORG_SUFFIX = re.compile(
    r"\b(?:inc|corp|corporation|co|ltd|llc|plc|group|company|bank|university|college|fund|association|agency|"
    r"department|ministry|council|commission|foundation|institute|ventures|capital|research|labs?|technologies|"
    r"systems|partners|holdings|media|news|exchange|trading|networks?|games|studios?|entertainment|sports|"
    r"club|league|academy|court|congress|senate|house|times|post|journal|party|motors|airlines|pictures)\b", re.I)
_DEMONYMS = frozenset(
    """american british english french german swedish chinese japanese korean indian russian ukrainian
    israeli palestinian european african asian canadian australian mexican brazilian italian spanish
    dutch irish scottish welsh swiss austrian belgian danish norwegian finnish polish turkish iranian
    saudi egyptian hungarian greek portuguese argentine argentinian nigerian kenyan pakistani
    taiwanese vietnamese thai indonesian filipino democrat democrats republican republicans""".split()
)
_NEAR = 6  # words either side of a mention that count as its context
_MAX_NAME_WORDS = 4  # a longer run of capitalized words is a headline or a list, not one name
_PERSON_WORDS = (2, 3)  # a person's name: first and last name, perhaps a middle one
_SUBJECT_AT = 2  # a name starting within this many characters opens its sentence: its subject
_NOT_SEEN = 99  # first_hit of a name not seen yet (above any shown-passage index)
_TALLY_CHARS = 9  # how far after a number a tally ("7-2", "105-98") is looked for


@dataclass
class EntityCandidate:
    """A name seen in the shown passages, with where it was seen."""

    text: str
    hits: set[int] = field(default_factory=set)
    articles: set[str] = field(default_factory=set)
    mentions: int = 0
    sentence_scores: list[float] = field(default_factory=list)
    in_title: bool = False
    subject: bool = False
    short_only: bool = True
    first_hit: int = _NOT_SEEN
    near_question: float = 0.0  # best share of a mention's nearby words that are question terms
    sentence_lex: float = 0.0  # best lexical match with the question of a sentence naming it
    features: np.ndarray | None = None


_POSSESSIVE = re.compile(r"['’]s\b|['’](?=\s|$)")


def _names(text: str) -> list[EntitySpan]:
    """Names in ``text``: entity spans cut at possessives ("OpenAI’s San Francisco office"
    -> "OpenAI", "San Francisco"), at most four words, with their spans in ``text``."""
    out = []
    for e in entity_spans(text):
        at = e.start
        for part in _POSSESSIVE.split(e.text):
            piece = part.strip()
            found = text.find(piece, at) if piece else -1
            if found < 0:
                continue
            at = found + len(piece)
            if 1 <= len(piece.split()) <= _MAX_NAME_WORDS and any(ch.isalpha() for ch in piece) and piece.lower() not in STOPWORDS:
                out.append(EntitySpan(piece, found, found + len(piece)))
    return out


def _key(text: str) -> str:
    return " ".join(re.findall(r"[\w'’\-&.]+", text.lower())).replace("’", "'")


def entity_candidates(q: QuestionInfo, hits: Sequence[Hit], cands: Sequence[SentenceCandidate]) -> list[EntityCandidate]:
    """Names in the quotable sentences of the shown passages that could answer ``q``, merged
    by short form; each remembers the selector scores (``SentenceCandidate.score``) of the
    sentences naming it."""
    outlets = {_key(h.chunk.outlet or "") for h in hits if h.chunk.outlet}
    found: dict[str, EntityCandidate] = {}
    surface: dict[str, dict[str, int]] = {}
    qstems = set(q.need)
    by_hit: dict[int, list[SentenceCandidate]] = {}
    for c in cands:
        by_hit.setdefault(c.hit, []).append(c)
    for i, h in enumerate(hits):
        text = h.chunk.text
        title_keys = {_key(e.text) for e in _names(h.chunk.title or "")}
        toks = [(t.start, stem(t.norm)) for t in terms(text)]
        for c in by_hit.get(i, ()):  # names in quotable sentences only (not headings, captions)
            for e0 in _names(c.text):
                e = EntitySpan(e0.text, c.start + e0.start, c.start + e0.end)
                k = _key(e.text)
                words = k.split()
                if not words or all(w in q.words or w.strip(".") in q.words for w in words):
                    continue
                if any(k == o or (len(k) > 3 and k in o) for o in outlets):
                    continue
                if len(k) < 2 or k.isdigit() or k in _DEMONYMS:
                    continue
                ent = found.setdefault(k, EntityCandidate(e.text))
                surface.setdefault(k, {}).setdefault(e.text, 0)
                surface[k][e.text] += 1
                ent.hits.add(i)
                ent.articles.add(h.chunk.article_id)
                ent.mentions += 1
                ent.first_hit = min(ent.first_hit, i)
                ent.in_title |= k in title_keys
                lex = len(c.stems & qstems) / max(1, len(qstems))
                ent.sentence_scores.append(float(c.score))
                ent.sentence_lex = max(ent.sentence_lex, lex)
                if e0.start <= _SUBJECT_AT:
                    ent.subject = True
                before = [k2 for at, k2 in toks if at < e.start][-_NEAR:]
                after = [k2 for at, k2 in toks if at >= e.end][:_NEAR]
                near = before + after
                if near:
                    ent.near_question = max(ent.near_question, sum(1 for k2 in near if k2 in qstems) / len(near))
    # a short form ("Bankman-Fried", "Altman") counts for the full name that ends or starts
    # with it ("Sam Bankman-Fried"), when exactly one such full name was seen
    keys = sorted(found, key=lambda k: -len(k.split()))
    for k in keys:
        if len(k.split()) != 1:
            continue
        longer = [L for L in found if L != k and len(L.split()) >= 2 and (L.endswith(" " + k) or L.startswith(k + " "))]
        if longer:
            L = found[max(longer, key=lambda L: (found[L].mentions, -len(L)))]
            s = found.pop(k)
            L.hits |= s.hits
            L.articles |= s.articles
            L.mentions += s.mentions
            L.sentence_scores += s.sentence_scores
            L.in_title |= s.in_title
            L.subject |= s.subject
            L.first_hit = min(L.first_hit, s.first_hit)
            L.near_question = max(L.near_question, s.near_question)
            L.sentence_lex = max(L.sentence_lex, s.sentence_lex)
    for k, ent in found.items():
        ent.text = max(surface.get(k, {ent.text: 1}).items(), key=lambda kv: kv[1])[0]
        ent.short_only = len(k.split()) == 1
    return list(found.values())


def entity_features(q: QuestionInfo, hits: Sequence[Hit], ents: Sequence[EntityCandidate]) -> np.ndarray:
    """One row of :data:`ENTITY_FEATURES` per candidate."""
    n_hits = max(1, len(hits))
    n_art = max(1, len({h.chunk.article_id for h in hits}))
    rows = np.zeros((len(ents), len(ENTITY_FEATURES)))
    for r, e in enumerate(ents):
        words = e.text.split()
        person_like = _PERSON_WORDS[0] <= len(words) <= _PERSON_WORDS[1] and all(w[:1].isupper() for w in words) and not _ORG_SUFFIX.search(e.text)
        qshare = sum(1 for w in _key(e.text).split() if w in q.words) / max(1, len(words))
        rows[r] = (
            len(e.hits) / n_hits,
            len(e.articles) / n_art,
            math.log1p(e.mentions),
            sum(1.0 / (1 + i) for i in e.hits),
            max(e.sentence_scores, default=0.0),
            sum(e.sentence_scores),
            float(e.in_title),
            min(len(words), _MAX_NAME_WORDS),
            float(person_like),
            float(person_like and q.kind == "person"),
            float(e.text.isupper() and len(e.text) >= 2),
            float(e.subject),
            qshare,
            float(e.short_only),
            1.0 / (1 + e.first_hit),
            e.near_question,
            e.sentence_lex,
            float(bool(_ORG_SUFFIX.search(e.text))),
        )
        e.features = rows[r]
    return rows


# ---- yes / no ---------------------------------------------------------------------------
_CUES = {
    "cue_change": r"\b(?:change[ds]?|changing|shift(?:ed|s)?|evolve[ds]?|alter(?:ed)?|differ(?:ent|ence|ed)? from (?:its|their) (?:earlier|previous))\b",
    "cue_consistent": r"\b(?:consisten(?:t|cy|tly)|maintain(?:ed)?|remain(?:ed)?|continu(?:e|ed|ity))\b",
    "cue_same": r"\b(?:same|similar(?:ly)?|align|agree|both|also|as well)\b",
    "cue_different": r"\b(?:different|differ(?:s|ed|ing)?|contrast|unlike|whereas|contradict|opposite|discrepanc)",
    "cue_negation": r"\b(?:not|no|never|without|neither|nor|fail(?:s|ed)?|lack(?:s|ed)?|unrelated|none|unable)\b",
    "cue_both": r"\b(?:both|each|all)\b",
    "cue_increase": r"\b(?:increase[ds]?|rise|rose|grow(?:th|n)?|improve[ds]?|higher|more)\b",
    "cue_decrease": r"\b(?:decrease[ds]?|decline[ds]?|fall|fell|drop(?:ped)?|lower|less|reduc)",
    "cue_order": r"\b(?:before|after|earlier|later|prior|subsequent|first)\b",
}
_CUE_RES = {k: re.compile(v, re.I) for k, v in _CUES.items()}
_PART_SPLIT = re.compile(r",\s*(?:while|whereas|and|but)\s+|\s+while\s+|\s+whereas\s+|;\s*|,\s*and\s+(?:does|did|do|is|was)\b|\s+and\s+(?:does|did|do|is|was)\s+", re.I)


def question_parts(question: str) -> list[str]:
    """The claims of a multi-part question ("Does A say X, while B says Y?")."""
    parts = [p.strip(" ,?") for p in _PART_SPLIT.split(question) if p and len(p.split()) >= 4]
    return parts or [question]


def yesno_features(q: QuestionInfo, hits: Sequence[Hit], cands: Sequence[SentenceCandidate],
                   probs: Sequence[float], temporal: bool) -> np.ndarray:
    """One row of :data:`YESNO_FEATURES` for the question."""
    body = set()
    for c in cands:
        body |= c.stems
    meta = set().union(*(meta_stems(h.chunk) for h in hits)) if hits else set()
    supports = []
    for part in question_parts(q.text):
        need = needs(part)
        best = max((score(need, c.stems | meta_stems(hits[c.hit].chunk)) for c in cands), default=0.0)
        supports.append(best)
    words = [stem(t.norm) for t in terms(q.text) if t.kind == "word"]
    strong = list(q.strong)
    absent = sum(1 for w in words if w not in body and w not in meta) / max(1, len(words))
    absent_strong = sum(1 for w in strong if w not in body and w not in meta) / max(1, len(strong))
    row = [float(bool(_CUE_RES[k].search(q.text))) for k in _CUES]
    row += [min(supports), sum(supports) / len(supports), absent, absent_strong, max(probs, default=0.0), float(temporal)]
    # how the question is put: MultiHop-RAG's "Did ...?" and "Was ...?" questions, and those
    # that assert an absence ("no plans", "no advancements"), are mostly answered "no"
    row += [float(bool(re.match(r"\W*did\b", q.text, re.I))), float(bool(re.match(r"\W*was\b", q.text, re.I))),
            float(bool(re.search(r"\bno\b", q.text, re.I))), float(bool(re.search(r"\bsimilar", q.text, re.I)))]
    return np.asarray(row)


# ---- numbers and dates --------------------------------------------------------------------
_NUMBER_PHRASE = re.compile(
    r"(?:\$|€|£)?\b\d[\d,]*(?:\.\d+)?(?:\s*(?:%|percent\b|million\b|billion\b|trillion\b|thousand\b))?"
    r"(?:\s+[a-z][\w\-]*)?"
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty)(?:\s+[a-z][\w\-]*){1,3}",
    re.I,
)
_DATE_PHRASE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)\s+\d{1,2}(?:,\s*\d{4})?|\b(?:19|20)\d\d\b"
)


_AMOUNT = re.compile(r"[$€£]|\b(?:million|billion|trillion|thousand|percent|dollars?|euros?|pounds?)\b|%", re.I)
_TALLY = re.compile(r"^\d+\s*[-–]\s*\d+")


def number_phrase(q: QuestionInfo, text: str) -> str | None:
    """The number (with its unit: "seven counts", "$4.3 billion") in ``text`` that answers a
    how-many/how-much question: one the question does not already contain, not a tally
    ("7-2"); for "how much", an amount (currency, million, percent) when there is one."""
    found = []
    for m in _NUMBER_PHRASE.finditer(text):
        nums = [t for t in terms(m.group(0)) if t.kind == "number"]
        if not nums or all(t.norm in q.need for t in nums) or _TALLY.match(text[m.start():m.start() + _TALLY_CHARS]):
            continue
        words = m.group(0).split()
        while len(words) > 1 and (words[-1].lower().strip(",.") in STOPWORDS or not words[-1][:1].isalnum()):
            words.pop()
        if _AMOUNT.search(" ".join(words)) and len(words) > 1 and not _AMOUNT.search(words[-1]):
            words.pop()  # "$10 billion expansion" -> "$10 billion"
        phrase = " ".join(words).strip(" ,.;:")
        if m.start() > 0 and text[m.start() - 1] in "$€£" and not phrase.startswith(("$", "€", "£")):
            phrase = text[m.start() - 1] + phrase
        found.append(phrase)
    if not found:
        return None
    unit = re.search(r"\bhow many\s+([a-z][\w\-]*)", q.text, re.I)
    if unit:
        want = stem(unit.group(1).lower())
        for f in found:
            words = f.split()
            for i, w in enumerate(words[1:], 1):
                if stem(w.lower().strip(",.")) == want:
                    return " ".join(words[: i + 1])  # "seven criminal fraud counts"
        return None  # "how many months": "three weeks" does not answer it
    if re.search(r"\bhow much\b|\bcost\b|\bpay\b|\bworth\b|\bprice\b", q.text, re.I):
        amounts = [f for f in found if _AMOUNT.search(f)]
        return amounts[0] if amounts else None  # "15 years" does not answer "how much"
    return " ".join(found[0].split()[:2]) if not _AMOUNT.search(found[0]) else found[0]


_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")


def stated_date_text(hit: Hit, c: SentenceCandidate) -> str | None:
    """For a "when" question: the date sentence ``c`` of ``hit`` states (or the section line
    above it in the passage), resolved and written out ("November 17, 2023", "November 2023",
    "2023"); as the passage writes it ("Friday") when the written-out form has a number or
    month the passage and its date line do not hold (the verifier holds a direct answer to its
    passage); None when the sentence states no date."""
    published = hit.chunk.published_at
    d = stated_in(resolve_dates(hit.chunk.text, published), c.start, c.end)
    if d is None:
        return None
    month = _MONTH_NAMES[d.day.month - 1]
    size = granularity(d.text)
    full = (f"{month} {d.day.day}, {d.day.year}" if size == DAY else f"the week of {month} {d.day.day}, {d.day.year}"
            if size == WEEK else f"{month} {d.day.year}" if size == MONTH else str(d.day.year))
    have = {stem(t.norm) for t in terms(hit.chunk.text)} | meta_stems(hit.chunk)
    needed = {stem(t.norm) for t in terms(full) if t.kind == "number"}
    month_held = size not in (DAY, WEEK, MONTH) or stem(month.lower()) in have or stem(month[:3].lower()) in have
    held = month_held and needed <= have
    return full if held else d.text


def date_phrase(text: str) -> str | None:
    """The first stated date ("November 17", "Oct. 6, 2023", "2023") in ``text``."""
    m = _DATE_PHRASE.search(text)
    return m.group(0) if m else None


# ---- short who / which / where questions, and order in time -------------------------------
_PLACE_WORDS = re.compile(r"\b(?:City|Center|Centre|Stadium|Arena|Park|Hall|County|State|Island|Street|Square|"
                          r"Airport|Vegas|York|Angeles|Francisco|Valley|Beach)\b")
_BEFORE_CHARS = 20  # the text just before a place name read for "in the", "outside of"
_MIN_PREFIX = 4  # a name word this long that starts a question word is the thing asked about


def lead_name(q: QuestionInfo, c: SentenceCandidate) -> tuple[str, int] | None:
    """The name in sentence ``c`` that answers a short who/which/where question, and its
    priority (lower is better): not in the question, of the asked type (a person's name has
    two or three words; a place is not the thing asked about and is best introduced by "in"
    or "at"), nearest to the question's own words in the sentence."""
    qpos = [m.start() for m in re.finditer(r"[\w'’\-]+", c.text) if m.group(0).lower() in q.words]
    best, best_key = None, None
    for e in _names(c.text):
        words = e.text.split()
        low = [w.lower() for w in words]
        if all(w in q.words for w in low) or e.text.lower() in _DEMONYMS:
            continue
        person = _PERSON_WORDS[0] <= len(words) <= _PERSON_WORDS[1] and not _ORG_SUFFIX.search(e.text)
        if q.kind == "person" and not person:
            continue
        priority = 0
        if q.kind == "place":
            if any(w in q.words or any(len(w) >= _MIN_PREFIX and x.startswith(w) for x in q.words) for w in low):
                continue  # "North American TwitchCon" is the thing asked about, not where it was
            before = c.text[max(0, e.start - _BEFORE_CHARS):e.start]
            if re.search(r"\b(?:outside|except|not in|instead of|rather than)(?:\s+of)?\s+(?:the\s+)?$", before):
                continue  # "held outside of California"
            priority = 0 if re.search(r"\b(?:in|at|near)\s+(?:the\s+)?$", before) else 1 if _PLACE_WORDS.search(e.text) else 2
        d = min((abs(e.start - p) for p in qpos), default=0)
        key = (priority, d)
        if best_key is None or key < best_key:
            best, best_key = e.text, key
    return (best, best_key[0]) if best is not None else None


BY_STATED, BY_PUBLISHED, BY_BOTH = "by the dates the articles state", "by publication date", "by stated and publication dates"
# a question about when outlets reported, not when things happened ("Did TechCrunch report ... before ...")
_REPORTING = re.compile(r"\b(?:report|publish|article|cover|mention|announc|writ|wrote|say|said|note)", re.I)


def event_date(hit: Hit, c: SentenceCandidate, reported: bool = False) -> tuple[datetime | date | None, bool]:
    """The day sentence ``c`` of ``hit`` is about and whether its passage states it (a day in
    the sentence or a section line above it in the passage, resolved against the article's
    publication date; weeks, months and years are too coarse to order by); else the
    publication date and False. With ``reported`` (when was it reported?) only a section date
    after the publication date counts: a living article's dated update."""
    published = hit.chunk.published_at
    days = [d for d in resolve_dates(hit.chunk.text, published) if granularity(d.text) == DAY]  # not "this week"
    d = stated_in(days, c.start, c.end)
    if d is not None and (not reported or (d.kind == SECTION and published is not None and d.day > published.date())):
        return d.day, True
    return published, False


def order_in_time(question: str, hits: Sequence[Hit], chosen: Sequence[SentenceCandidate]) -> str | None:
    """For "did A report X before/after B reported Y?" with two cited outlets, Yes/No from the
    dates their cited sentences state (for when they reported: the dated sections of living
    articles), else their articles' publication dates, saying which ("Yes (by publication
    date)."); None when the question is not of that shape."""
    m = re.search(r"\b(before|after|earlier than|later than|prior to)\b", question, re.I)
    if not m or not re.match(r"^\s*(?:did|was|were|is|does|has|had)\b", question, re.I):
        return None
    names: dict[str, tuple[Hit, SentenceCandidate]] = {}
    low = question.lower()
    for c in chosen:
        o = hits[c.hit].chunk.outlet
        if o and hits[c.hit].chunk.published_at is not None and o.lower() in low:
            names.setdefault(o, (hits[c.hit], c))
    if len(names) != 2:
        return None
    (o1, (h1, c1)), (o2, (h2, c2)) = sorted(names.items(), key=lambda kv: low.index(kv[0].lower()))
    reported = bool(_REPORTING.search(question))
    (e1, s1), (e2, s2) = event_date(h1, c1, reported), event_date(h2, c2, reported)
    if (s1 or s2) and _as_day(e1) != _as_day(e2):
        d1, d2, how = _as_day(e1), _as_day(e2), BY_STATED if s1 and s2 else BY_BOTH
    else:
        d1, d2, how = h1.chunk.published_at, h2.chunk.published_at, BY_PUBLISHED
    if d1 == d2:
        return None
    before = m.group(1).lower() in ("before", "earlier than", "prior to")
    first_is_earlier = d1 < d2
    return f"{'Yes' if first_is_earlier == before else 'No'} ({how})."  # "Yes (" keeps the word "yes" whole


def _as_day(d: datetime | date | None) -> date | None:
    return d.date() if isinstance(d, datetime) else d
