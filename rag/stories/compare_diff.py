"""What differs between outlets' passages on one topic: figures and claims only one makes.

* A *figure* is a number in a sentence with its unit (a currency, "percent", or the content
  word right after it: "posts 1,000 a day" -> day) and its key terms (the content words
  near it). Two outlets give different figures for the same quantity when their sentences
  hold numbers of the same unit sharing :data:`MIN_SHARED_TERMS` key terms, and neither
  outlet also states the other's value. Dates, years and clock times are not figures.
* A claim *only one outlet makes* is a sentence of its quotes whose content words the other
  outlets' passages do not cover (support below :data:`ONLY_MAX_SUPPORT`).

Every difference cites both sides: exact sentences of the shown passages.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rag.answer.support import LOW_STEMS, Passage, needs, score
from rag.text import MONTHS, WEEKDAYS, split_sentences, stem, stems, terms
from rag.types import Difference, OutletView, Source

NEAR_TERMS = 5  # content words either side of a number that say what it counts
MIN_SHARED_TERMS = 2  # key terms two figures must share to be the same quantity
MIN_QUERY_TERMS = 1  # a figure's sentence must share this many words with the query (on topic)
ONLY_MAX_SUPPORT = 0.25  # a sentence other outlets support less than this is theirs alone
MIN_CLAIM_TERMS = 7  # shorter sentences are captions or fragments, not claims
MAX_ONLY_PER_OUTLET = 2  # claims listed per outlet: the most relevant ones
MAX_FIGURES = 6  # figure differences listed in all
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_CURRENCY = "$€£"
_NOT_UNITS = frozenset(["am", "pm", "gmt", "et", "pt", "est", "pst", *MONTHS, *(m[:3] for m in MONTHS), *WEEKDAYS])
_YEARS = (1900, 2100)  # a bare number in this range is a year, not a figure


@dataclass(frozen=True)
class Figure:
    """A number in a sentence: value (scaled), unit, key-term stems, the text that states it."""

    value: float
    unit: str
    keys: frozenset[str]
    text: str  # from the number to its unit, as written
    source: Source  # the sentence


def _sentences(src: Source) -> list[Source]:
    """Each sentence of a passage as a Source quoting it (exact body offsets)."""
    out = []
    for s, e in split_sentences(src.passage):
        out.append(_sub(src, s, e))
    return out


def _sub(src: Source, s: int, e: int) -> Source:
    from dataclasses import replace

    return replace(src, quote=src.passage[s:e], start=src.passage_start + s, end=src.passage_start + e)


def figures(sentence: Source) -> list[Figure]:
    """The figures (see the module docstring) stated in one sentence."""
    text = sentence.quote
    ts = terms(text)
    out = []
    for i, t in enumerate(ts):
        if t.kind != "number":
            continue
        try:
            value = float(t.norm)
        except ValueError:
            continue
        before = text[max(0, t.start - 2):t.start]
        nxt = ts[i + 1] if i + 1 < len(ts) else None
        prev = ts[i - 1] if i > 0 else None
        if (prev is not None and prev.norm in _NOT_UNITS) or text[t.end:t.end + 1] in "-–/:" and text[t.end + 1:t.end + 2].isdigit():
            continue  # "November 17", "7-2", "10:30"
        end, j = t.end, i + 1
        if nxt is not None and nxt.norm in _SCALES:
            value *= _SCALES[nxt.norm]
            end, j = nxt.end, i + 2
        unit_t = ts[j] if j < len(ts) else None
        cur = text[t.start] if text[t.start] in _CURRENCY else before.strip()[-1:]
        if cur and cur in _CURRENCY:  # "$3 million" (terms keep the $), "€ 3"
            unit = cur
        elif unit_t is not None and unit_t.norm == "percent":
            unit, end = "percent", unit_t.end
        elif unit_t is not None and unit_t.kind != "number" and unit_t.norm not in _NOT_UNITS:
            unit, end = stem(unit_t.norm), unit_t.end
        else:
            continue
        if unit not in _CURRENCY and unit != "percent" and j == i + 1 and t.norm.isdigit() \
                and _YEARS[0] <= value <= _YEARS[1] and "," not in text[t.start:t.end]:
            continue  # "the 2023 season": a year
        around = ts[max(0, i - NEAR_TERMS):i] + ts[j + 1:j + 1 + NEAR_TERMS]
        keys = frozenset(stem(a.norm) for a in around if a.kind != "number" and a.norm not in _SCALES
                         and stem(a.norm) not in LOW_STEMS and a.norm not in _NOT_UNITS) - {unit}
        start = t.start - 1 if t.start > 0 and text[t.start - 1] in _CURRENCY else t.start
        out.append(Figure(value, unit, keys, text[start:end], sentence))
    return out


def _figure_differences(query: str, views: Sequence[OutletView]) -> list[Difference]:
    topic = stems(query)
    per: dict[str, list[Figure]] = {}
    for v in views:
        seen: set[tuple[int, int]] = set()
        for p in v.passages:
            for sent in _sentences(p):
                if (sent.start, sent.end) in seen or len(stems(sent.quote) & topic) < MIN_QUERY_TERMS:
                    continue
                seen.add((sent.start, sent.end))
                per.setdefault(v.outlet, []).extend(figures(sent))
    out: list[Difference] = []
    done: set[tuple] = set()
    names = [v.outlet for v in views]
    for i, a_name in enumerate(names):
        for b_name in names[i + 1:]:
            a_figs, b_figs = per.get(a_name, []), per.get(b_name, [])
            pairs = []
            for a in a_figs:
                for b in b_figs:
                    shared = a.keys & b.keys
                    if a.unit == b.unit and len(shared) >= MIN_SHARED_TERMS:
                        pairs.append((len(shared), a, b, shared))
            for _, a, b, shared in sorted(pairs, key=lambda x: -x[0]):
                same = {f.value for f in a_figs if f.unit == a.unit and len(f.keys & shared) >= MIN_SHARED_TERMS}
                other = {f.value for f in b_figs if f.unit == b.unit and len(f.keys & shared) >= MIN_SHARED_TERMS}
                key = (a_name, b_name, a.unit, shared)
                if same & other or key in done or (a.source.start, b.source.start) in done:
                    continue  # the outlets also agree on a value, or this quantity is listed
                done.update([key, (a.source.start, b.source.start)])
                out.append(Difference(
                    "figure", f"{a_name} says {a.text}; {b_name} says {b.text} ({', '.join(sorted(shared))})",
                    (a.source, b.source),
                ))
    return out[:MAX_FIGURES]


def _only_claims(views: Sequence[OutletView], skip: set[tuple[str, int]]) -> list[Difference]:
    passages = {v.outlet: [Passage.of(_chunk(p)) for p in v.passages] for v in views}
    out: list[Difference] = []
    for v in views:
        others = [o for o in passages if o != v.outlet and passages[o]]
        if not others:
            continue
        listed = 0
        for p in v.passages:
            for s, e in split_sentences(p.quote):
                sent = _sub(p, p.start - p.passage_start + s, p.start - p.passage_start + e)
                need = needs(sent.quote)
                if (p.article_id, sent.start) in skip or len(need) < MIN_CLAIM_TERMS or listed >= MAX_ONLY_PER_OUTLET:
                    continue
                best: list[tuple[float, Source]] = []
                for o in others:
                    scored = [(score(need, q.body | q.meta), q) for q in passages[o]]
                    sc, q = max(scored, key=lambda x: x[0])
                    best.append((sc, _closest(q, sent.quote, o, views)))
                if max(sc for sc, _ in best) >= ONLY_MAX_SUPPORT:
                    continue
                listed += 1
                skip.add((p.article_id, sent.start))
                out.append(Difference("only", f"only {v.outlet}: {sent.quote}", (sent, *[src for _, src in best])))
    return out


def _chunk(src: Source):
    """The passage of a Source as a Chunk (for the support scorer)."""
    from rag.types import Chunk

    return Chunk(src.chunk_id, src.article_id, 0, src.passage, src.passage_start, src.passage_end, "", src.title,
                 src.outlet, src.author, src.published_at, src.url)


def _closest(passage: Passage, sentence: str, outlet: str, views: Sequence[OutletView]) -> Source:
    """The other side of an "only" claim: the window of ``passage`` closest to ``sentence``."""
    src = next(p for v in views if v.outlet == outlet for p in v.passages if p.chunk_id == passage.chunk.id)
    _, (s, e) = passage.support(needs(sentence))
    if e <= s:
        return src
    return _sub(src, s, e)


def differences(query: str, views: Sequence[OutletView]) -> list[Difference]:
    """Figures that differ between the outlets, then claims only one outlet makes; [] when
    fewer than two outlets have passages."""
    if sum(1 for v in views if v.passages) < 2:
        return []
    figs = _figure_differences(query, views)
    skip = {(s.article_id, s.start) for d in figs for s in d.sources}
    return figs + _only_claims(views, skip)
