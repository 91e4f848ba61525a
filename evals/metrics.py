"""Pure metric functions of the eval harness (no I/O, no models).

Retrieval follows MultiHop-RAG's published ``retrieval_evaluate.py``: a retrieved chunk is a
hit when some gold fact, spaces and newlines removed, is a substring of the chunk text with
spaces and newlines removed; MAP@10 sums, at each rank, (gold facts newly found there) / rank
and divides by ``min(len(gold), 10)``. Answers follow its ``qa_evaluate.py``: correct when the
lower-cased answer and gold answer share a whitespace-separated word.

Citation recall/precision follow ALCE (Gao et al., 2023) with a pluggable support judge
``judge(sentence, passages) -> bool``:

* recall of an answer = share of its sentences whose cited passages, joined, support them;
* precision = share of its citations that are needed and supporting: a citation of a
  supported sentence counts when its passage alone supports the sentence, or when the
  sentence's other citations alone do not (removing it breaks support); every citation of
  an unsupported sentence counts as imprecise; 0 when the answer has no citation.
"""
from __future__ import annotations

import math
import re
import string
from typing import Callable, Iterable, Sequence

Judge = Callable[[str, Sequence[str]], bool]

_MARKER = re.compile(r"\[\s*(\d{1,6}(?:\s*[,;\-–]\s*\d{1,6})*)\s*\]")


# ---- retrieval (MultiHop-RAG rule) -------------------------------------------------------
def squash(text: str) -> str:
    """``text`` with spaces and newlines removed (the benchmark's matching normal form)."""
    return text.replace(" ", "").replace("\n", "")


def hit_matrix(retrieved: Sequence[str], facts: Sequence[str]) -> list[set[int]]:
    """For each retrieved text (rank order), the indices of the gold facts it contains."""
    gold = [squash(f) for f in facts]
    return [{i for i, g in enumerate(gold) if g and g in squash(t)} for t in retrieved]


def hits_at(retrieved: Sequence[str], facts: Sequence[str], k: int) -> float:
    """1.0 when some chunk among the top ``k`` contains a gold fact, else 0.0."""
    return float(any(hit_matrix(retrieved[:k], facts)))


def hits_curve(retrieved: Sequence[str], facts: Sequence[str], max_k: int = 20) -> list[float]:
    """``[hits@1, ..., hits@max_k]`` for one query."""
    m = hit_matrix(retrieved[:max_k], facts)
    first = next((r for r, s in enumerate(m, 1) if s), None)
    return [float(first is not None and first <= k) for k in range(1, max_k + 1)]


def map_at_10(retrieved: Sequence[str], facts: Sequence[str]) -> float:
    """MultiHop-RAG's MAP@10: sum over ranks r <= 10 of (gold facts first found at r) / r,
    divided by ``min(len(facts), 10)`` (duplicate facts count, as in the official script)."""
    if not facts:
        return 0.0
    gold = [squash(f) for f in facts]
    found: list[str] = []
    total = 0.0
    for rank, text in enumerate(retrieved[:10], start=1):
        t = squash(text)
        if any(g in t for g in gold):
            new = 0
            for g in gold:
                if g in t and g not in found:
                    new += 1
                    found.append(g)
            total += new / rank
    return total / min(len(gold), 10)


def mrr_at_10(retrieved: Sequence[str], facts: Sequence[str]) -> float:
    """1 / rank of the first chunk (rank <= 10) containing a gold fact, else 0."""
    for rank, s in enumerate(hit_matrix(retrieved[:10], facts), start=1):
        if s:
            return 1.0 / rank
    return 0.0


def gold_recall_at(retrieved: Sequence[str], facts: Sequence[str], k: int = 10) -> float:
    """Share of the distinct gold facts that lie inside some chunk of the top ``k``."""
    distinct = list(dict.fromkeys(squash(f) for f in facts))
    if not distinct:
        return 0.0
    found = set().union(*hit_matrix(retrieved[:k], distinct)) if retrieved[:k] else set()
    return len(found) / len(distinct)


def allgold_at(retrieved: Sequence[str], facts: Sequence[str], k: int = 10) -> float:
    """1.0 when every gold fact lies inside some chunk of the top ``k``, else 0.0."""
    return float(bool(facts) and gold_recall_at(retrieved, facts, k) == 1.0)


# ---- citations ---------------------------------------------------------------------------
def marker_numbers(text: str) -> list[int]:
    """Every citation number written in ``text`` (``[1]``, ``[1, 2]``, ``[1-3]``)."""
    out: list[int] = []
    for m in _MARKER.finditer(text):
        for item in re.split(r"\s*[,;]\s*", m.group(1)):
            ends = [int(x) for x in re.split(r"\s*[\-–]\s*", item) if x]
            out.extend(range(min(ends), max(ends) + 1))
    return out


def resolved_markers(text: str, source_numbers: Iterable[int]) -> tuple[int, int]:
    """(markers in ``text``, markers whose number is one of ``source_numbers``)."""
    nums = marker_numbers(text)
    have = set(source_numbers)
    return len(nums), sum(1 for n in nums if n in have)


def ratio(num: float, den: float) -> float | None:
    """``num / den``, or None when ``den`` is 0."""
    return num / den if den else None


def alce_scores(sentences: Sequence[tuple[str, Sequence[str]]], judge: Judge) -> tuple[float, float, int]:
    """ALCE citation (recall, precision, number of citations) of one answer, given each
    sentence with the texts of the passages it cites (see the module docstring)."""
    if not sentences:
        return 0.0, 0.0, 0
    supported = precise = n_cites = 0
    for text, passages in sentences:
        n_cites += len(passages)
        joint = bool(passages) and judge(text, list(passages))
        supported += joint
        if not joint:
            continue
        if len(passages) == 1:
            precise += 1
            continue
        for i, p in enumerate(passages):
            if judge(text, [p]):
                precise += 1
            else:
                rest = [q for j, q in enumerate(passages) if j != i]
                precise += not judge(text, rest)
    return supported / len(sentences), (precise / n_cites if n_cites else 0.0), n_cites


def gold_article_recall(cited_keys: Iterable[str], gold_keys: Sequence[str]) -> float | None:
    """Share of the distinct gold articles among ``cited_keys`` (None without gold)."""
    gold = set(gold_keys)
    return len(gold & set(cited_keys)) / len(gold) if gold else None


def gold_fact_cited(cited_passages: Sequence[str], facts: Sequence[str]) -> float | None:
    """Share of the distinct gold facts lying inside some cited passage (benchmark's
    whitespace-free matching; None without gold facts)."""
    distinct = list(dict.fromkeys(squash(f) for f in facts if f.strip()))
    if not distinct:
        return None
    texts = [squash(p) for p in cited_passages]
    return sum(1 for f in distinct if any(f in t for t in texts)) / len(distinct)


# ---- answers -----------------------------------------------------------------------------
def strip_markers(text: str) -> str:
    """Answer text without its ``[n]`` citation markers."""
    return re.sub(r"\s+", " ", _MARKER.sub("", text)).strip()


def word_overlap(prediction: str, gold: str) -> bool:
    """MultiHop-RAG's answer rule: the lower-cased texts share a whitespace-separated word."""
    return bool(set(prediction.lower().split()) & set(gold.lower().split()))


def normalize_answer(text: str) -> str:
    """SQuAD normalization: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation) | {"’", "‘", "“", "”"})
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> bool:
    """Normalized prediction equals normalized gold answer."""
    return normalize_answer(prediction) == normalize_answer(gold)


def gold_term_recall(prediction: str, gold: str) -> float | None:
    """Share of the gold answer's content words (stemmed; numbers normalized) found in the
    prediction: a stricter companion of :func:`word_overlap` (None when the gold has none)."""
    from rag.text import content_words, stem

    need = {stem(w) for w in content_words(gold)}
    if not need:
        return None
    have = {stem(w) for w in content_words(prediction)}
    return len(need & have) / len(need)


def answer_scores(text: str, abstained: bool, answerable: bool, gold: str | None) -> tuple[bool | None, bool | None]:
    """(accuracy, exact match) of one answer. Unanswerable: correct iff it abstained.
    Answerable: an abstention is wrong; else the word-overlap and exact-match rules on the
    text without citation markers; None when there is no gold answer."""
    if not answerable:
        return abstained, abstained
    if gold is None or not gold.strip():
        return None, None
    if abstained:
        return False, False
    pred = strip_markers(text)
    return word_overlap(pred, gold), exact_match(pred, gold)


def refusal_rates(items: Iterable[tuple[bool, bool]]) -> tuple[float | None, float | None]:
    """From (answerable, abstained) pairs: (share refused among unanswerable, share refused
    among answerable)."""
    items = list(items)
    null = [ab for ans, ab in items if not ans]
    real = [ab for ans, ab in items if ans]
    return ratio(sum(null), len(null)), ratio(sum(real), len(real))


# ---- aggregation -------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) with linear interpolation (numpy's default)."""
    v = sorted(values)
    if not v:
        return None
    pos = (len(v) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def mean(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    v = [float(x) for x in values if x is not None]
    return sum(v) / len(v) if v else None


METRIC_KEYS = (
    "retrieval.hits@4", "retrieval.hits@10", "retrieval.map@10", "retrieval.mrr@10",
    "retrieval.allgold@10", "retrieval.gold_recall@10",
    "citations.validity", "citations.validity_after_verification", "citations.recall",
    "citations.precision", "citations.gold_article_recall", "citations.gold_fact_cited",
    "answers.accuracy", "answers.exact_match", "answers.gold_terms", "abstention.null_accuracy", "abstention.false_refusal",
    "latency.p50_ms", "latency.p95_ms", "counts.questions", "counts.errors",
)


def aggregate(scores: Sequence[dict]) -> dict:
    """Flat metrics (:data:`METRIC_KEYS` and a few counts) from per-item score dicts as
    written by :mod:`evals.run` (items with an ``error`` count only as errors)."""
    ok = [s for s in scores if not s.get("error")]
    ret = [s for s in ok if s.get("hits@10") is not None]
    answered = [s for s in ok if not s.get("abstained")]
    out: dict = {}
    for key in ("hits@4", "hits@10", "map@10", "mrr@10", "allgold@10", "gold_recall@10"):
        out[f"retrieval.{key}"] = mean(s[key] for s in ret)
    out["citations.validity"] = ratio(
        sum(s["citations_total"] - s["citations_invalid"] for s in ok), sum(s["citations_total"] for s in ok)
    )
    out["citations.validity_after_verification"] = ratio(
        sum(s["final_markers_valid"] for s in ok), sum(s["final_markers"] for s in ok)
    )
    with_sents = [s for s in answered if s.get("n_sentences")]
    out["citations.recall"] = mean(s["citation_recall"] for s in with_sents)
    out["citations.precision"] = mean(s["citation_precision"] for s in with_sents)
    out["citations.gold_article_recall"] = mean(s.get("gold_article_recall") for s in ok if s.get("answerable"))
    out["citations.gold_fact_cited"] = mean(s.get("gold_fact_cited") for s in ok if s.get("answerable"))
    out["answers.accuracy"] = mean(s.get("correct") for s in ok)
    out["answers.exact_match"] = mean(s.get("exact_match") for s in ok)
    out["answers.gold_terms"] = mean(s.get("gold_terms") for s in ok)
    null_acc, false_ref = refusal_rates((bool(s.get("answerable")), bool(s.get("abstained"))) for s in ok)
    out["abstention.null_accuracy"] = null_acc
    out["abstention.false_refusal"] = false_ref
    lat = [s["latency_ms"] for s in ok if s.get("latency_ms") is not None]
    out["latency.p50_ms"] = percentile(lat, 50)
    out["latency.p95_ms"] = percentile(lat, 95)
    out["counts.questions"] = len(scores)
    out["counts.errors"] = len(scores) - len(ok)
    out["counts.retrieval_queries"] = len(ret)
    out["counts.answerable"] = sum(1 for s in ok if s.get("answerable"))
    out["counts.unanswerable"] = sum(1 for s in ok if not s.get("answerable"))
    out["counts.abstained"] = sum(1 for s in ok if s.get("abstained"))
    out["counts.citations_written"] = sum(s["citations_total"] for s in ok)
    out["counts.citations_final"] = sum(s["final_markers"] for s in ok)
    return out


def mean_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    """Element-wise mean of per-query hits@k curves (empty when there are none)."""
    if not curves:
        return []
    n = min(len(c) for c in curves)
    return [sum(c[i] for c in curves) / len(curves) for i in range(n)]
