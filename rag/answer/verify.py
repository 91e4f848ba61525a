"""Citation verification: the trust core. Every answer, extractive or generated, passes here.

Only markers in the answer text count (``[n]``, ``[n, m]``, ``[n][m]``, ``[n-m]``; passage
text is never parsed). A marker belongs to the sentence it ends or sits in. Each (sentence,
cited passage) pair gets a lexical *support* score in [0, 1] against the best window of one or
two passage sentences:

* weighted recall of the sentence's content words (stemmed) in the window plus the passage's
  metadata (headline, outlet, author, publication date). Weights: numbers 3, names/acronyms 2,
  reporting verbs and meta words ("said", "passage") 0.5, other words 1; each times
  ``0.5 + 0.5 * rarity`` where rarity is the normalized IDF over the sentences of all shown
  passages, so words found in no shown passage (invented content) weigh most;
* times 0.5 for every number or name of the sentence missing from window+metadata, so
  "right topic, wrong number" fails: with the default threshold 0.5, any missing number or
  name fails, whatever else matches.

Citations scoring below ``support_threshold`` are removed, except in a sentence citing several
passages that together reach the threshold, where a weak passage is kept if it adds at least
0.1 to the joint score (comparisons: "X happened on D1 [1], before Y on D2 [2].").
A sentence left without a citation gets the best-supporting shown passage if that reaches the
threshold, else it is kept and flagged ``supported=False`` (refusal-like sentences are never
attached). No supported sentence at all, an empty text or a refusal means abstention:
``text == ABSTAIN_TEXT``, no sentences, no sources (the counters still tell what was removed). Kept
passages are renumbered 1..m by first appearance and markers are rewritten right after each
sentence's final punctuation: ``Sentence one.[1][2] Sentence two.[1]``.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Sequence

from rag.text import split_sentences, stem, terms
from rag.types import ABSTAIN_TEXT, Answer, Chunk, Hit, Sentence, Source

_LABEL = r"(?:(?:passage|source|doc|document)s?\s*)?"
_MARKER = re.compile(rf"\[\s*{_LABEL}(\d{{1,6}}(?:\s*[,;\-–]\s*{_LABEL}\d{{1,6}})*)\s*\]", re.I)
_WORDY = re.compile(r"[^\W_]")
_MAX_RANGE = 50
_JOINT_GAIN = 0.1

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
    top = math.log(1 + (n + 0.5) / 0.5)
    return {k: math.log(1 + (n - d + 0.5) / (d + 0.5)) / top for k, d in df.items()}


def score(need: Need, have: set[str] | frozenset[str]) -> float:
    """Support in [0, 1]: weighted recall of ``need`` in ``have``, halved per missing
    number or name."""
    total = sum(w for w, _ in need.values())
    if total <= 0:
        return 0.0
    got = sum(w for k, (w, _) in need.items() if k in have)
    missing = sum(1 for k, (_, strong) in need.items() if strong and k not in have)
    return got / total * 0.5**missing


def _stems(text: str) -> frozenset[str]:
    return frozenset(stem(t.norm) for t in terms(text))


def meta_stems(chunk: Chunk) -> frozenset[str]:
    """Stems of a passage's headline, outlet, author, header and publication date."""
    parts = [chunk.title or "", chunk.outlet or "", chunk.author or "", chunk.header or ""]
    out = set(_stems(" ".join(parts)))
    d = chunk.published_at
    if d is not None:
        month = _MONTHS[d.month - 1]
        out |= {str(d.year), str(d.month), str(d.day), stem(month), stem(month[:3])}
    return frozenset(out)


@dataclass
class _Passage:
    chunk: Chunk
    sentences: list[frozenset[str]]  # stems per passage sentence
    windows: dict[tuple[int, int], frozenset[str]]  # local span of 1-2 sentences -> stems
    meta: frozenset[str]

    @classmethod
    def of(cls, chunk: Chunk) -> "_Passage":
        text = chunk.text
        spans = split_sentences(text) or [(0, len(text))]
        sets = [_stems(text[s:e]) for s, e in spans]
        bad = injected_spans(text)
        ok = [not any(s < be and bs < e for bs, be in bad) for s, e in spans]
        wins = {sp: st for sp, st, good in zip(spans, sets, ok) if good}
        for i in range(len(spans) - 1):
            if ok[i] and ok[i + 1]:
                wins.setdefault((spans[i][0], spans[i + 1][1]), sets[i] | sets[i + 1])
        return cls(chunk, sets, wins, meta_stems(chunk))

    def have(self, span: tuple[int, int]) -> frozenset[str]:
        """Stems a window offers: its words plus the passage metadata."""
        return self.windows.get(span, frozenset()) | self.meta

    def support(self, need: Need) -> tuple[float, tuple[int, int]]:
        """Best (score, local span) over windows; ties go to the tighter, more precise span.
        (-1, (0, 0)) when the passage has no usable window (all of it addresses the model)."""
        best, best_key = (-1.0, (0, 0)), None
        keys = set(need)
        for (s, e), st in self.windows.items():
            sc = score(need, st | self.meta)
            prec = len(st & keys) / len(st) if st else 0.0
            key = (round(sc, 9), prec, -(e - s))
            if best_key is None or key > best_key:
                best, best_key = (sc, (s, e)), key
        return best


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


def verify_answer(
    question: str,
    raw_text: str,
    hits: Sequence[Hit],
    *,
    support_threshold: float,
    answerer: str,
) -> Answer:
    """Check every citation of ``raw_text`` against the shown ``hits`` (numbered 1..len) and
    return the verified :class:`Answer` (see the module docstring for the rules)."""
    t0 = time.perf_counter()
    hits = tuple(hits)
    clean, markers = _strip_markers(raw_text or "")
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

    results: list[tuple[str, list[tuple[int, tuple[int, int]]]]] = []
    for (s, e), nums in zip(spans, cited):
        text = _tidy(clean[s:e])
        nums = list(dict.fromkeys(nums))
        need = needs(text, rare)
        found = {n: passages[n - 1].support(need) for n in nums}
        ok = {n for n in nums if found[n][0] >= support_threshold}
        if len(nums) > 1 and len(ok) < len(nums):
            # a sentence combining facts of several cited passages: judge them jointly; a weak
            # citation stays only if its passage adds >= _JOINT_GAIN to the joint support
            have = {n: passages[n - 1].have(found[n][1]) for n in nums}
            joint = score(need, frozenset().union(*have.values()))
            if joint >= support_threshold:
                for n in set(nums) - ok:
                    others = frozenset().union(*(have[m] for m in nums if m != n))
                    if joint - score(need, others) >= _JOINT_GAIN:
                        ok.add(n)
        kept = [(n - 1, found[n][1]) for n in nums if n in ok]
        removed += len(nums) - len(kept)
        if not kept and hits and not is_refusal(text):
            cands = [(passages[i].support(need), -i) for i in range(len(hits))]
            (sc, span), neg_i = max(cands, key=lambda c: (c[0][0], c[1]))
            if sc >= support_threshold:
                kept.append((-neg_i, span))
        results.append((text, kept))

    timing = {}
    if not any(kept for _, kept in results):
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
            passages=hits,
        )

    numbers: dict[str, int] = {}
    sources: list[Source] = []
    sentences: list[Sentence] = []
    for text, kept in results:
        cites: list[int] = []
        for i, span in kept:
            chunk = hits[i].chunk
            if chunk.id not in numbers:
                numbers[chunk.id] = len(sources) + 1
                sources.append(_source(numbers[chunk.id], chunk, span))
            if numbers[chunk.id] not in cites:
                cites.append(numbers[chunk.id])
        sentences.append(Sentence(text=text, citations=tuple(cites), supported=bool(kept)))
    timing["verify"] = (time.perf_counter() - t0) * 1000
    return Answer(
        question=question,
        text=" ".join(render_sentence(s) for s in sentences),
        abstained=False,
        sentences=tuple(sentences),
        sources=tuple(sources),
        removed_citations=removed,
        citations_total=total,
        citations_invalid=invalid,
        timing_ms=timing,
        answerer=answerer,
        passages=hits,
    )
