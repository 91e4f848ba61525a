"""Citation verification: the trust core. Every answer, extractive or generated, passes here.

Only markers in the answer text count (``[n]``, ``[n, m]``, ``[n][m]``, ``[n-m]``; passage
text is never parsed). A marker belongs to the sentence it ends or sits in. Each (sentence,
cited passage) pair gets a lexical *support* score in [0, 1] against the best window of one or
two passage sentences:

* weighted recall of the sentence's content words (stemmed) in the window. Weights: numbers 3,
  names/acronyms 2, reporting verbs and meta words ("said", "passage") 0.5, other words 1;
  each times ``0.5 + 0.5 * rarity`` where rarity is the normalized IDF over the sentences of
  all shown passages, so words found in no shown passage (invented content) weigh most;
* the passage's metadata (headline, outlet, author, publication date) counts only for the
  sentence's names, numbers and dates (a dateline, an outlet, a headline name), never for its
  ordinary words: a headline that shares the story's subject ("Memo Exposes Alleged Ties
  Between Alibaba and Chinese Military") does not make every window of the article support
  any claim about that subject;
* times 0.5 for every number or name of the sentence missing from window+metadata, so
  "right topic, wrong number" fails: with the default threshold, any missing number or name
  fails, whatever else matches.

Citations scoring below ``support_threshold`` are removed, except in a sentence citing several
passages that together reach the threshold, where a weak passage is kept if it adds at least
0.1 to the joint score and a claim word (not a reporting verb) no other cited window has (comparisons: "X happened on D1 [1], before Y on D2 [2].").
A citation is *moved* to the best-supporting shown passage when that passage reaches the
threshold and beats what the sentence's kept citations give (jointly) by at least
:data:`MOVE_MARGIN`. A sentence left without a citation gets the best-supporting shown passage
if that reaches the threshold; otherwise it is left out of the answer text and listed in
``Answer.removed_sentences``. Refusal-like sentences are never attached; they stay in the
text, flagged ``supported=False``. No supported sentence at all, an empty text or a refusal
means abstention: ``text == ABSTAIN_TEXT``, no sentences, no sources (the counters still tell
what was removed). Kept passages are renumbered 1..m by first appearance and markers are
rewritten right after each sentence's final punctuation: ``Sentence one.[1][2] Sentence two.[1]``.

Direct answer. When the question asks for a person, organization, place, number, date or
yes/no (:func:`rag.answer.question.answer_type`), the first line of the raw text (up to the
first newline, followed by the evidence) may be a short direct answer: at most
:data:`DIRECT_MAX_WORDS` words without its markers ("Emmett Shear. [1]", "Yes. [1][2]"). For a
yes/no question it must start with Yes or No. A first line starting "The archive does not say"
is a direct answer of kind ``none`` (undecided) and needs no citation. A name, number or date
must occur, every number and name of it, in each passage it cites (text + metadata): failing
citations are removed; with none left it cites the first source of the kept evidence sentences
that holds it (never another shown passage: a "7" or a common name occurs in some passage of
almost any list), else it is dropped (counted in ``removed_citations`` and listed in
``removed_sentences``). A Yes/No keeps the citations that also support a kept
evidence sentence, else cites the evidence sentences' sources. The direct answer is not one of
``Answer.sentences``; ``Answer.text`` starts with it. Without a surviving evidence sentence the
answer abstains.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Sequence

from rag.answer.question import answer_type
from rag.text import idf, split_sentences, stem, stems, terms
from rag.types import ABSTAIN_TEXT, Answer, Chunk, Direct, Hit, Sentence, Source

_LABEL = r"(?:(?:passage|source|doc|document)s?\s*)?"
_MARKER = re.compile(rf"\[\s*{_LABEL}(\d{{1,6}}(?:\s*[,;\-–]\s*{_LABEL}\d{{1,6}})*)\s*\]", re.I)
_WORDY = re.compile(r"[^\W_]")
_MAX_RANGE = 50
_JOINT_GAIN = 0.1
# A citation moves to another shown passage when that passage's support beats the kept
# citations' (joint) support by at least this much. 0.25 is a quarter of the scale: more
# than one ordinary word of a typical 8-12 word sentence (~0.08-0.12 each) and less than a
# missing name or number (which halves the score); so paraphrase noise and near-duplicate
# passages never move a right citation, while a window that lacks the sentence's claim loses
# to the one that states it (see evals/attribution.py for the measured effect).
MOVE_MARGIN = 0.25
DIRECT_MAX_WORDS = 12

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
_LOW = frozenset(
    stem(w)
    for w in "said says say told tell reported report reports according added stated noted "
    "claimed mentioned mentions passage passages article articles archive source sources".split()
)
_MONTHS = "january february march april may june july august september october november december".split()
_FINAL = ".!?…\"'”’)»"
_ENDS = re.compile(r"[.!?…][\"'”’»)\]]*$")


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


def _strip_markers(raw: str) -> tuple[str, list[tuple[int, list[int]]]]:
    """Remove citation markers; return the clean text and (position in it, numbers) per marker."""
    parts, markers, last, size = [], [], 0, 0
    for m in _MARKER.finditer(raw):
        parts.append(raw[last : m.start()])
        size += m.start() - last
        markers.append((size, _numbers(m.group(1))))
        last = m.end()
    parts.append(raw[last:])
    return "".join(parts), markers


def neutralize_markers(text: str) -> str:
    """Turn any leftover marker-like ``[n]`` in sentence text into ``(n)`` so that no citation
    can appear that the verifier did not check."""
    while _MARKER.search(text):
        text = _MARKER.sub(lambda m: "(" + m.group(0)[1:-1] + ")", text)
    return text


def _tidy(text: str) -> str:
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


Need = dict[str, tuple[float, bool]]  # stem -> (weight, strong: number or name)


def needs(sentence: str, rarity: dict[str, float] | None = None) -> Need:
    """Weighted content words a sentence asserts: numbers 3, names/acronyms 2, reporting and
    meta words 0.5, others 1; each times ``0.5 + 0.5 * rarity`` (rarity in [0, 1], 1 for words
    absent from the shown passages) when ``rarity`` is given."""
    first = _WORDY.search(sentence)
    first_at = first.start() if first else 0
    out: Need = {}
    for t in terms(sentence):
        key = stem(t.norm)
        if t.kind == "number":
            w, strong = 3.0, True
        elif t.kind == "acronym" or (t.kind == "capitalized" and t.start != first_at):
            w, strong = 2.0, True
        elif key in _LOW:
            w, strong = 0.5, False
        else:
            w, strong = 1.0, False
        if rarity is not None:
            w *= 0.5 + 0.5 * rarity.get(key, 1.0)
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
    return got / total * 0.5**missing


def meta_stems(chunk: Chunk) -> frozenset[str]:
    """Stems of a passage's headline, outlet, author, header and publication date."""
    return _meta_stems(chunk.title or "", chunk.outlet or "", chunk.author or "", chunk.header or "", chunk.published_at)


@lru_cache(maxsize=4096)
def _meta_stems(title: str, outlet: str, author: str, header: str, d: datetime | None) -> frozenset[str]:
    out = set(stems(" ".join([title, outlet, author, header])))
    if d is not None:
        month = _MONTHS[d.month - 1]
        out |= {str(d.year), str(d.month), str(d.day), stem(month), stem(month[:3])}
    return frozenset(out)



def _is_nameish(kind: str) -> bool:
    return kind in ("number", "acronym", "capitalized")


_DATE_EXPR = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b"
    r"|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b"
    r"|\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b",
    re.I,
)
_YEAR = re.compile(r"^(?:19|20)\d\d$")


def _claim(sentence: str, rare: dict[str, float] | None) -> tuple[Need, frozenset[str]]:
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


def _score(need: Need, allow: frozenset[str], window: frozenset[str], meta: frozenset[str]) -> float:
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
    return got / total * 0.5**missing


@dataclass
class _Passage:
    chunk: Chunk
    sentences: list[frozenset[str]]  # stems per passage sentence
    windows: dict[tuple[int, int], frozenset[str]]  # local span of 1-2 sentences -> stems
    meta: frozenset[str]
    body: frozenset[str]  # stems of every usable window

    @classmethod
    def of(cls, chunk: Chunk) -> "_Passage":
        """The passage's windows and stems (cached per chunk: the same passages come back
        with every ask about a story; never mutated)."""
        return _passage(chunk)

    @classmethod
    def build(cls, chunk: Chunk) -> "_Passage":
        text = chunk.text
        spans = split_sentences(text) or [(0, len(text))]
        sets = [stems(text[s:e]) for s, e in spans]
        bad = injected_spans(text)
        ok = [not any(s < be and bs < e for bs, be in bad) for s, e in spans]
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
            sc = _score(need, allow, st, self.meta)
            prec = len(st & keys) / len(st) if st else 0.0
            key = (round(sc, 9), prec, -(e - s))
            if best_key is None or key > best_key:
                best, best_key = (sc, (s, e)), key
        return best


@lru_cache(maxsize=2048)
def _passage(chunk: Chunk) -> _Passage:
    return _Passage.build(chunk)


def _source(n: int, chunk: Chunk, span: tuple[int, int]) -> Source:
    s, e = span
    return Source(
        n=n,
        article_id=chunk.article_id,
        chunk_id=chunk.id,
        title=chunk.title,
        outlet=chunk.outlet,
        author=chunk.author,
        published_at=chunk.published_at,
        url=chunk.url,
        quote=chunk.text[s:e],
        start=chunk.start + s,
        end=chunk.start + e,
        passage=chunk.text,
        passage_start=chunk.start,
        passage_end=chunk.end,
    )


# ---- the direct answer line -----------------------------------------------------------------
_UNDECIDED = re.compile(r"^\W*the archive does not say\b", re.I)
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.I)
_LABEL_LINE = re.compile(r"^\s*(?:\*\*)?(?:direct answer|short answer|answer)(?:\*\*)?\s*:\s*(?:\*\*)?", re.I)
_MONTH_ABBR = {m[:3]: m for m in _MONTHS} | {"sept": "september"}


def _split_direct(raw: str, qtype: str) -> tuple[str | None, str, int]:
    """(direct line or None, the rest, offset of the rest in ``raw``)."""
    if qtype == "none":
        return None, raw, 0
    lead = len(raw) - len(raw.lstrip())
    nl = raw.find("\n", lead)
    if nl < 0 or not _WORDY.search(raw[nl + 1 :]):
        return None, raw, 0
    first = _LABEL_LINE.sub("", raw[lead:nl]).replace("**", "")
    clean = _strip_markers(first)[0].strip()
    if not _WORDY.search(clean):
        return None, raw, 0
    if _UNDECIDED.match(clean):
        return first, raw[nl + 1 :], nl + 1
    if len(clean.split()) > DIRECT_MAX_WORDS or is_refusal(clean):
        return None, raw, 0
    if qtype == "yesno" and not _YES_NO.match(clean):
        return None, raw, 0
    return first, raw[nl + 1 :], nl + 1


def _direct_terms(text: str) -> frozenset[str]:
    """Stems a name/number/date answer asserts: its numbers and names (the first word too),
    else, when it has none, all its content words. Month names count in full form."""
    ts = terms(text)
    strong = [t for t in ts if _is_nameish(t.kind)] or ts
    out = set()
    for t in strong:
        norm = _MONTH_ABBR.get(t.norm, t.norm)
        out.add(stem(norm))
    return frozenset(out)


def _holds(p: "_Passage", need: frozenset[str]) -> bool:
    if not need:
        return False
    have = p.body | p.meta
    if need <= have:
        return True
    # month names: the passage may write them abbreviated ("Oct. 5")
    return all(k in have or (k in _MONTH_STEMS and _MONTH_STEMS[k] in have) for k in need)


_MONTH_STEMS = {stem(m): stem(m[:3]) for m in _MONTHS}


def support_scores(sentence: str, hits: Sequence[Hit]) -> list[float]:
    """The support score of ``sentence`` against each shown passage, as the verifier judges
    it (for diagnostics and evals)."""
    passages = [_Passage.of(h.chunk) for h in hits]
    need, allow = _claim(_tidy(_strip_markers(sentence)[0]), rarity([st for p in passages for st in p.sentences]))
    return [p.support(need, allow)[0] for p in passages]


def verify_answer(
    question: str,
    raw_text: str,
    hits: Sequence[Hit],
    *,
    support_threshold: float,
    answerer: str,
    move_margin: float | None = None,
    direct: bool = True,
) -> Answer:
    """Check every citation of ``raw_text`` against the shown ``hits`` (numbered 1..len) and
    return the verified :class:`Answer` (see the module docstring for the rules).
    ``move_margin`` is the support gain that moves a citation to a better shown passage
    (default :data:`MOVE_MARGIN`);
    ``direct=False`` reads no direct-answer line."""
    t0 = time.perf_counter()
    move_margin = MOVE_MARGIN if move_margin is None else move_margin
    hits = tuple(hits)
    raw_text = raw_text or ""
    qtype = answer_type(question) if direct and question else "none"
    direct_raw, body_raw, _ = _split_direct(raw_text, qtype)
    clean, markers = _strip_markers(body_raw)
    spans = [(s, e) for s, e in split_sentences(clean) if _WORDY.search(clean[s:e])]
    total = invalid = removed = 0
    cited: list[list[int]] = [[] for _ in spans]
    for pos, nums in markers:
        total += len(nums)
        owner = max((i for i, (s, _) in enumerate(spans) if s < pos), default=0)
        for n in nums:
            if not 1 <= n <= len(hits):
                invalid += 1
            elif spans:
                cited[owner].append(n)
            else:
                removed += 1
    removed += invalid

    passages = [_Passage.of(h.chunk) for h in hits]
    rare = rarity([st for p in passages for st in p.sentences])

    results: list[tuple[str, list[tuple[int, tuple[int, int]]], bool]] = []
    for (s, e), nums in zip(spans, cited):
        text = _tidy(clean[s:e])
        nums = list(dict.fromkeys(nums))
        need, allow = _claim(text, rare)
        found = {n: passages[n - 1].support(need, allow) for n in nums}
        ok = {n for n in nums if found[n][0] >= support_threshold}
        have = {n: passages[n - 1].windows.get(found[n][1], frozenset()) for n in nums}
        metas = {n: passages[n - 1].meta for n in nums}

        def joint(ns: Sequence[int]) -> float:
            if not ns:
                return 0.0
            return _score(need, allow, frozenset().union(*(have[m] for m in ns)), frozenset().union(*(metas[m] for m in ns)))

        if len(nums) > 1 and len(ok) < len(nums):
            # a sentence combining facts of several cited passages: judge them jointly; a weak
            # citation stays only if its passage adds >= _JOINT_GAIN to the joint support
            both = joint(nums)
            if both >= support_threshold:
                for n in set(nums) - ok:
                    rest = [m for m in nums if m != n]
                    # it must bring a word of the claim of its own (not just "reported")
                    own = {k for k in need if k in have[n] and k not in _LOW} - frozenset().union(*(have[m] for m in rest))
                    if own and both - joint(rest) >= _JOINT_GAIN:
                        ok.add(n)
        kept = [(n - 1, found[n][1]) for n in nums if n in ok]
        refusal = is_refusal(text)
        if hits and not refusal:
            # the best-supporting shown passage; it takes over when it is clearly better
            current = joint([i + 1 for i, _ in kept])
            best_sc, best_i, best_span = -1.0, -1, (0, 0)
            for i, p in enumerate(passages):
                sc, span = found[i + 1] if (i + 1) in found else p.support(need, allow)
                if sc > best_sc:
                    best_sc, best_i, best_span = sc, i, span
            if best_sc >= support_threshold and (
                not kept or (best_sc - current >= move_margin and all(i != best_i for i, _ in kept))
            ):
                kept = [(best_i, best_span)]
        removed += sum(1 for n in nums if (n - 1) not in {i for i, _ in kept})
        results.append((text, kept, refusal))

    dropped = tuple(text for text, kept, refusal in results if not kept and not refusal)
    timing = {}
    if not any(kept for _, kept, _ in results):
        if direct_raw is not None:  # its markers are counted, and removed with the answer
            for _, nums in _strip_markers(direct_raw)[1]:
                total += len(nums)
                removed += len(nums)
                invalid += sum(1 for n in nums if not 1 <= n <= len(hits))
        timing["verify"] = (time.perf_counter() - t0) * 1000
        return Answer(
            question=question,
            text=ABSTAIN_TEXT,
            abstained=True,
            removed_citations=removed,
            citations_total=total,
            citations_invalid=invalid,
            timing_ms=timing,
            answerer=answerer,
            removed_sentences=dropped,
            passages=hits,
        )

    evidence = list(dict.fromkeys(i for _, kept, _ in results for i, _ in kept))
    the_direct: tuple[str, str, list[tuple[int, tuple[int, int]]]] | None = None
    if direct_raw is not None:
        dclean, dmarks = _strip_markers(direct_raw)
        dtext = _tidy(dclean)
        dnums: list[int] = []
        for _, nums in dmarks:
            total += len(nums)
            for n in nums:
                if 1 <= n <= len(hits):
                    dnums.append(n)
                else:
                    invalid += 1
                    removed += 1
        dnums = list(dict.fromkeys(dnums))
        dkept: list[tuple[int, tuple[int, int]]] = []
        if _UNDECIDED.match(dtext):
            kind = "none"
            removed += len(dnums)
        elif qtype == "yesno":
            kind = _YES_NO.match(dtext).group(1).lower()  # type: ignore[union-attr]
            spans_of = {i: span for _, kept, _ in results for i, span in kept}
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
                dropped = (dtext,) + dropped
        if kind:
            the_direct = (dtext, kind, dkept)

    numbers: dict[str, int] = {}
    sources: list[Source] = []

    def number(kept: list[tuple[int, tuple[int, int]]]) -> tuple[int, ...]:
        cites: list[int] = []
        for i, span in kept:
            chunk = hits[i].chunk
            if chunk.id not in numbers:
                numbers[chunk.id] = len(sources) + 1
                sources.append(_source(numbers[chunk.id], chunk, span))
            if numbers[chunk.id] not in cites:
                cites.append(numbers[chunk.id])
        return tuple(cites)

    direct_out = None
    if the_direct is not None:
        dtext, kind, dkept = the_direct
        direct_out = Direct(text=dtext, kind=kind, citations=number(dkept))
    sentences: list[Sentence] = []
    for text, kept, refusal in results:
        if kept or refusal:
            sentences.append(Sentence(text=text, citations=number(kept), supported=bool(kept)))
    body = " ".join(render_sentence(s) for s in sentences)
    if direct_out is not None:
        body = render_sentence(Sentence(direct_out.text, direct_out.citations)) + " " + body
    timing["verify"] = (time.perf_counter() - t0) * 1000
    return Answer(
        question=question,
        text=body,
        abstained=False,
        sentences=tuple(sentences),
        sources=tuple(sources),
        removed_citations=removed,
        citations_total=total,
        citations_invalid=invalid,
        timing_ms=timing,
        answerer=answerer,
        direct=direct_out,
        removed_sentences=dropped,
        passages=hits,
    )
