"""Citation verification: the trust core. Every answer, extractive or generated, passes here.

Only markers in the answer text count (:mod:`rag.answer.markers`). A marker belongs to the
sentence it ends or sits in. Each (sentence, cited passage) pair gets a lexical *support*
score in [0, 1] against the best window of one or two passage sentences
(:mod:`rag.answer.support`):

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
:data:`_JOINT_GAIN` to the joint score and a claim word (not a reporting verb) no other cited
window has (comparisons: "X happened on D1 [1], before Y on D2 [2].").
A citation is *moved* to the best-supporting shown passage when that passage reaches the
threshold and beats what the sentence's kept citations give (jointly) by at least
:data:`MOVE_MARGIN`. A sentence left without a citation gets the best-supporting shown passage
if that reaches the threshold; otherwise it is left out of the answer text and listed in
``Answer.removed_sentences``. Refusal-like sentences are never attached; they stay in the
text, flagged ``supported=False``. No supported sentence at all, an empty text or a refusal
means abstention: ``text == ABSTAIN_TEXT``, no sentences, no sources (the counters still tell
what was removed). Kept passages are renumbered 1..m by first appearance and markers are
rewritten right after each sentence's final punctuation: ``Sentence one.[1][2] Sentence two.[1]``.

Direct answer. The first line of the raw text may be a short direct answer ("Emmett Shear.
[1]", "Yes. [1][2]"), checked by :mod:`rag.answer.direct_check`; a name, number or date with
no passage to rest on is dropped (counted in ``removed_citations`` and listed in
``removed_sentences``). The direct answer is not one of ``Answer.sentences``;
``Answer.text`` starts with it. Without a surviving evidence sentence the answer abstains.
"""
from __future__ import annotations

import time
from typing import Sequence

from rag.answer.direct_check import Cited, check_direct, read_markers, split_direct
from rag.answer.markers import is_refusal, render_sentence, strip_markers, tidy
from rag.answer.question import answer_type
from rag.answer.support import LOW_STEMS, Passage, claim, rarity, window_score
from rag.text import WORDY, split_sentences
from rag.types import ABSTAIN_TEXT, Answer, Chunk, Direct, Hit, Sentence, Source, byline

# A weak citation of a sentence citing several passages stays when its passage adds at least
# this much to their joint support: about one ordinary word of a typical sentence.
_JOINT_GAIN = 0.1
# A citation moves to another shown passage when that passage's support beats the kept
# citations' (joint) support by at least this much. 0.25 is a quarter of the scale: more
# than one ordinary word of a typical 8-12 word sentence (~0.08-0.12 each) and less than a
# missing name or number (which halves the score); so paraphrase noise and near-duplicate
# passages never move a right citation, while a window that lacks the sentence's claim loses
# to the one that states it (see evals/attribution.py for the measured effect).
MOVE_MARGIN = 0.25


def _source(n: int, chunk: Chunk, span: tuple[int, int]) -> Source:
    s, e = span
    return Source(
        n=n,
        article_id=chunk.article_id,
        chunk_id=chunk.id,
        **byline(chunk),
        quote=chunk.text[s:e],
        start=chunk.start + s,
        end=chunk.start + e,
        passage=chunk.text,
        passage_start=chunk.start,
        passage_end=chunk.end,
    )


def _rarity(passages: Sequence[Passage]) -> dict[str, float]:
    return rarity([st for p in passages for st in p.sentences])


def support_scores(sentence: str, hits: Sequence[Hit]) -> list[float]:
    """The support score of ``sentence`` against each shown passage, as the verifier judges
    it (for diagnostics and evals)."""
    passages = [Passage.of(h.chunk) for h in hits]
    need, allow = claim(tidy(strip_markers(sentence)[0]), _rarity(passages))
    return [p.support(need, allow)[0] for p in passages]


def _check_sentence(text: str, nums: list[int], passages: Sequence[Passage], rare: dict[str, float],
                    support_threshold: float, move_margin: float, refusal: bool) -> Cited:
    """The citations sentence ``text`` keeps of the passage numbers ``nums`` it cites (moved
    to a clearly better shown passage, or given the best one when it has none left; a
    ``refusal`` is never given one)."""
    need, allow = claim(text, rare)
    found = {n: passages[n - 1].support(need, allow) for n in nums}
    ok = {n for n in nums if found[n][0] >= support_threshold}
    have = {n: passages[n - 1].windows.get(found[n][1], frozenset()) for n in nums}
    metas = {n: passages[n - 1].meta for n in nums}

    def joint(ns: Sequence[int]) -> float:
        if not ns:
            return 0.0
        return window_score(need, allow, frozenset().union(*(have[m] for m in ns)), frozenset().union(*(metas[m] for m in ns)))

    if len(nums) > 1 and len(ok) < len(nums):
        # a sentence combining facts of several cited passages: judge them jointly; a weak
        # citation stays only if its passage adds >= _JOINT_GAIN to the joint support
        both = joint(nums)
        if both >= support_threshold:
            for n in set(nums) - ok:
                rest = [m for m in nums if m != n]
                # it must bring a word of the claim of its own (not just "reported")
                own = {k for k in need if k in have[n] and k not in LOW_STEMS} - frozenset().union(*(have[m] for m in rest))
                if own and both - joint(rest) >= _JOINT_GAIN:
                    ok.add(n)
    kept = [(n - 1, found[n][1]) for n in nums if n in ok]
    if passages and not refusal:
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
    return kept


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
    direct_raw, body_raw = split_direct(raw_text, qtype)
    clean, markers = strip_markers(body_raw)
    spans = [(s, e) for s, e in split_sentences(clean) if WORDY.search(clean[s:e])]
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

    passages = [Passage.of(h.chunk) for h in hits]
    rare = _rarity(passages)
    results: list[tuple[str, Cited, bool]] = []
    for (s, e), nums in zip(spans, cited):
        text = tidy(clean[s:e])
        nums = list(dict.fromkeys(nums))
        refusal = is_refusal(text)
        kept = _check_sentence(text, nums, passages, rare, support_threshold, move_margin, refusal)
        removed += sum(1 for n in nums if (n - 1) not in {i for i, _ in kept})
        results.append((text, kept, refusal))

    dropped = tuple(text for text, kept, refusal in results if not kept and not refusal)

    def done(**fields) -> Answer:
        return Answer(question=question, removed_citations=removed, citations_total=total,
                      citations_invalid=invalid, timing_ms={"verify": (time.perf_counter() - t0) * 1000},
                      answerer=answerer, removed_sentences=dropped, passages=hits, **fields)

    if not any(kept for _, kept, _ in results):
        if direct_raw is not None:  # its markers are counted, and removed with the answer
            _, _, n_marked, n_invalid = read_markers(direct_raw, len(hits))
            total += n_marked
            removed += n_marked
            invalid += n_invalid
        return done(text=ABSTAIN_TEXT, abstained=True)

    checked = None
    if direct_raw is not None:
        checked = check_direct(direct_raw, qtype, passages, [kept for _, kept, _ in results])
        total += checked.total
        invalid += checked.invalid
        removed += checked.removed
        if not checked.kind:
            dropped = (checked.text,) + dropped

    numbers: dict[str, int] = {}
    sources: list[Source] = []

    def number(kept: Cited) -> tuple[int, ...]:
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
    if checked is not None and checked.kind:
        direct_out = Direct(text=checked.text, kind=checked.kind, citations=number(checked.cited))
    sentences: list[Sentence] = []
    for text, kept, refusal in results:
        if kept or refusal:
            sentences.append(Sentence(text=text, citations=number(kept), supported=bool(kept)))
    body = " ".join(render_sentence(s) for s in sentences)
    if direct_out is not None:
        body = render_sentence(Sentence(direct_out.text, direct_out.citations)) + " " + body
    return done(text=body, abstained=False, sentences=tuple(sentences), sources=tuple(sources), direct=direct_out)
