"""Pure metric functions of the eval harness (no I/O, no models).

Retrieval follows MultiHop-RAG's published ``retrieval_evaluate.py``: a retrieved chunk is a
hit when some gold fact, spaces and newlines removed, is a substring of the chunk text with
spaces and newlines removed; MAP@10 sums, at each rank, (gold facts newly found there) / rank
and divides by ``min(len(gold), 10)``. Answers follow its ``qa_evaluate.py``: correct when the
lower-cased answer and gold answer share a whitespace-separated word.

Direct answers (the short answer an answer opens with, ``Answer.direct``) are scored alone,
strictly: the gold answer, lower-cased, is contained in the direct text, lower-cased (white
space runs collapsed, ``[n]`` markers removed); a yes/no gold answer needs the direct text
to start with the right word and not contain the other one as a word; an unanswerable
question is correct iff the answer abstained; an abstention, a missing direct answer or an
undecided one (kind ``none``) is wrong for an answerable question. Beside it the lenient
rule is MultiHop-RAG's word overlap on the same direct answer as its ``qa_evaluate.py``
extracts it: the official script scores the quoted answer of 'The answer to the question is
"Yes"', so the direct answer's closing period is dropped before the white-space split.
Two baselines on the same retrieved passages put those figures in context: "Yes" for every
question whose gold answer is yes/no, and the most frequent name of the top 10 passages
(:func:`most_frequent_entity`) for questions asking for a person or organization.

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


def gold_sentence_cited(quotes: Sequence[str], facts: Sequence[str]) -> float | None:
    """1.0 when some cited quote (the sentence or sentences a citation points at) holds a
    gold fact: the fact lies inside the quote, or the quote inside the fact and covering at
    least half of it (white space removed); None without gold facts."""
    gold = [squash(f) for f in facts if f.strip()]
    if not gold:
        return None
    for q in quotes:
        t = squash(q)
        if t and any(g in t or (t in g and len(t) >= 0.5 * len(g)) for g in gold):
            return 1.0
    return 0.0


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


YES_NO = ("yes", "no")
BASELINE_PASSAGES = 10
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The lower-cased word tokens (``\\w+`` runs) of ``text``: "Yes, but no." -> yes, but, no."""
    return _WORD.findall(text.lower())


def gold_yesno(gold: str | None) -> str | None:
    """``"yes"`` or ``"no"`` when the gold answer is that word (case, white space and a final
    period ignored), else None."""
    g = (gold or "").strip().rstrip(".").strip().lower()
    return g if g in YES_NO else None


def yesno_label(text: str) -> str:
    """``"yes"`` when ``text`` starts with the word yes and has no word no, ``"no"`` the other
    way round, else ``"other"`` ("Yes, but no one knows" is other)."""
    w = words(strip_markers(text))
    for word, other in (("yes", "no"), ("no", "yes")):
        if w and w[0] == word and other not in w:
            return word
    return "other"


def _squeeze(text: str) -> str:
    return " ".join(strip_markers(text).lower().split())


def direct_strict(text: str, gold: str) -> bool:
    """The strict rule for a prediction of an answerable question: yes/no gold by
    :func:`yesno_label`, any other gold contained (lower-cased, white space collapsed)."""
    yn = gold_yesno(gold)
    if yn is not None:
        return yesno_label(text) == yn
    g = _squeeze(gold)
    return bool(g) and g in _squeeze(text)


def direct_lenient(text: str, gold: str) -> bool:
    """MultiHop-RAG's word-overlap rule on the direct answer without its citation markers and
    closing punctuation (the official script scores the answer it extracts from 'The answer
    to the question is "..."', which carries none)."""
    return word_overlap(strip_markers(text).rstrip(" .!?;:"), gold)


def direct_scores(text: str | None, kind: str | None, abstained: bool, answerable: bool,
                  gold: str | None) -> tuple[bool | None, bool | None]:
    """(strict, lenient) correctness of a direct answer (``text``/``kind`` None when the answer
    has none). Unanswerable: correct iff abstained. Answerable without a gold answer: None.
    An abstention, a missing direct answer or kind ``none`` (the evidence does not decide) is
    wrong."""
    if not answerable:
        return abstained, abstained
    if gold is None or not gold.strip():
        return None, None
    if abstained or text is None or not text.strip() or kind == "none":
        return False, False
    return direct_strict(text, gold), direct_lenient(text, gold)


def yesno_outcome(text: str | None, kind: str | None, abstained: bool) -> str:
    """How an answer to a yes/no question came out: ``abstained``, ``yes``, ``no`` or
    ``other`` (no direct answer, an undecided one, or text that is not a clean yes/no)."""
    if abstained:
        return "abstained"
    if text is None or kind == "none":
        return "other"
    return yesno_label(text)


def yesno_confusion(pairs: Iterable[tuple[str | None, str | None]]) -> dict[str, dict[str, int]]:
    """Counts from (gold yes/no, outcome) pairs: ``{gold: {outcome: n}}`` for gold ``yes`` and
    ``no`` and outcomes ``yes``, ``no``, ``other``, ``abstained`` (other golds are skipped)."""
    table = {g: {o: 0 for o in (*YES_NO, "other", "abstained")} for g in YES_NO}
    for gold, outcome in pairs:
        if gold in table:
            table[gold][outcome if outcome in table[gold] else "other"] += 1
    return table


def _possessive(name: str) -> str:
    return re.sub(r"[’']s?$", "", name)


def most_frequent_entity(question: str, passages: Sequence[str], outlets: Iterable[str | None] = ()) -> str | None:
    """The most-frequent-entity baseline: over :func:`rag.text.entity_spans` of ``passages``
    (a possessive "'s" removed), drop names whose every word is already in the question
    (case-insensitive) and names equal to one of ``outlets``; return the most frequent one
    (ties: the first seen), or None."""
    from rag.text import entity_spans

    asked = set(words(question))
    skip = {o.strip().lower() for o in outlets if o}
    counts: dict[str, int] = {}
    for text in passages:
        for span in entity_spans(text):
            name = _possessive(span.text).strip()
            w = words(name)
            if not w or all(x in asked for x in w) or name.lower() in skip:
                continue
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


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
    "citations.gold_sentence_cited",
    "answers.accuracy", "answers.exact_match", "answers.gold_terms",
    "answers.direct_accuracy", "answers.direct_accuracy_lenient", "answers.direct_accuracy_yesno",
    "answers.direct_accuracy_entity",
    "abstention.null_accuracy", "abstention.false_refusal",
    "latency.p50_ms", "latency.p95_ms", "counts.questions", "counts.errors",
)
# the baselines scored on the same questions and retrieved passages (see the module docstring)
BASELINE_KEYS = (
    "baselines.constant_yes.yesno_accuracy", "baselines.most_frequent_entity.entity_accuracy",
    "baselines.combined.direct_accuracy", "baselines.combined.direct_accuracy_lenient",
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
    out["citations.gold_sentence_cited"] = mean(s.get("gold_sentence_cited") for s in ok if s.get("answerable"))
    out["answers.accuracy"] = mean(s.get("correct") for s in ok)
    out["answers.exact_match"] = mean(s.get("exact_match") for s in ok)
    out["answers.gold_terms"] = mean(s.get("gold_terms") for s in ok)
    yesno = [s for s in ok if s.get("gold_yesno")]
    entity = [s for s in ok if s.get("entity_question")]
    out["answers.direct_accuracy"] = mean(s.get("direct_correct") for s in ok)
    out["answers.direct_accuracy_lenient"] = mean(s.get("direct_lenient") for s in ok)
    out["answers.direct_accuracy_yesno"] = mean(s.get("direct_correct") for s in yesno)
    out["answers.direct_accuracy_entity"] = mean(s.get("direct_correct") for s in entity)
    out["baselines.constant_yes.yesno_accuracy"] = mean(s.get("baseline_yes_correct") for s in yesno)
    out["baselines.most_frequent_entity.entity_accuracy"] = mean(s.get("baseline_entity_correct") for s in entity)
    out["baselines.combined.direct_accuracy"] = mean(s.get("baseline_correct") for s in ok)
    out["baselines.combined.direct_accuracy_lenient"] = mean(s.get("baseline_lenient") for s in ok)
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
    out["counts.yesno"] = len(yesno)
    out["counts.entity"] = len(entity)
    out["counts.direct"] = sum(1 for s in ok if s.get("direct_kind") not in (None, "none") and not s.get("abstained"))
    out["counts.citations_written"] = sum(s["citations_total"] for s in ok)
    out["counts.citations_final"] = sum(s["final_markers"] for s in ok)
    return out


def mean_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    """Element-wise mean of per-query hits@k curves (empty when there are none)."""
    if not curves:
        return []
    n = min(len(c) for c in curves)
    return [sum(c[i] for c in curves) / len(curves) for i in range(n)]
