"""Every eval metric on tiny hand-computed cases (evals/metrics.py is pure: no models, no I/O)."""
from __future__ import annotations

import pytest

from evals import metrics as M
from rag.types import ABSTAIN_TEXT

# rank 1: nothing; rank 2: fact 0; rank 3: nothing; rank 4: facts 0 and 1 (spacing differs)
RETRIEVED = ["alpha beta", "the gold fact one here", "noise", "gold fact\ntwo and goldfact one"]
FACTS = ["gold fact one", "gold  fact two"]


def test_hit_matrix_uses_the_benchmark_rule_spaces_and_newlines_removed():
    assert M.squash("a b\nc") == "abc"
    assert M.hit_matrix(RETRIEVED, FACTS) == [set(), {0}, set(), {0, 1}]
    assert M.hit_matrix(["x\ty"], ["x y"]) == [set()]  # only spaces and newlines are removed


def test_hits_at_k_and_curve():
    assert M.hits_at(RETRIEVED, FACTS, 1) == 0.0
    assert M.hits_at(RETRIEVED, FACTS, 2) == 1.0
    assert M.hits_at(RETRIEVED, FACTS, 4) == 1.0
    assert M.hits_curve(RETRIEVED, FACTS, 5) == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert M.hits_curve(["none"], FACTS, 3) == [0.0, 0.0, 0.0]


def test_map_at_10_follows_the_official_script():
    # rank 2 finds fact 0: 1/2; rank 4 finds fact 1 (fact 0 already found): 1/4; / min(2, 10)
    assert M.map_at_10(RETRIEVED, FACTS) == pytest.approx((1 / 2 + 1 / 4) / 2)
    # duplicated gold facts count in the divisor but are found once (as in retrieval_evaluate.py)
    assert M.map_at_10(["x y"], ["x y", "x y"]) == pytest.approx(0.5)
    assert M.map_at_10(["nothing"], FACTS) == 0.0
    # only the top 10 count
    assert M.map_at_10(["n"] * 10 + ["gold fact one"], FACTS) == 0.0


def test_mrr_at_10():
    assert M.mrr_at_10(RETRIEVED, FACTS) == pytest.approx(0.5)
    assert M.mrr_at_10(["n"] * 9 + ["gold fact two"], FACTS) == pytest.approx(0.1)
    assert M.mrr_at_10(["n"] * 10 + ["gold fact two"], FACTS) == 0.0


def test_allgold_and_gold_recall():
    assert M.allgold_at(RETRIEVED, FACTS, 10) == 1.0
    assert M.allgold_at(RETRIEVED, FACTS, 2) == 0.0
    assert M.gold_recall_at(RETRIEVED, FACTS, 2) == pytest.approx(0.5)
    assert M.gold_recall_at(RETRIEVED, FACTS, 10) == 1.0
    assert M.gold_recall_at(RETRIEVED, FACTS + ["gold fact one"], 2) == pytest.approx(0.5)  # distinct facts
    assert M.gold_recall_at([], FACTS, 10) == 0.0
    assert M.allgold_at(RETRIEVED, [], 10) == 0.0


def test_citation_markers_and_validity():
    assert M.marker_numbers("A.[1] B.[2][3] C [1, 4] D [5-7]") == [1, 2, 3, 1, 4, 5, 6, 7]
    assert M.resolved_markers("A.[1] B.[2][3] C [1, 4]", {1, 2, 3}) == (5, 4)
    assert M.resolved_markers("no markers", {1}) == (0, 0)
    assert M.ratio(3, 4) == 0.75 and M.ratio(1, 0) is None


def _words_judge(sentence, passages):
    """Supported when every word of the sentence occurs in the joined passages."""
    have = set(" ".join(passages).split())
    return bool(passages) and set(sentence.split()) <= have


def test_alce_citation_recall_and_precision_with_a_deterministic_judge():
    sentences = [
        ("a b", ["a b c"]),        # supported, one citation: precise
        ("a d", ["a", "d"]),       # supported jointly; each needed: 2 precise
        ("a b", ["a b", "a b x"]), # supported; each alone supports: 2 precise
        ("a b", ["a b", "z"]),     # supported; "z" neither supports nor is needed: 1 of 2
        ("q", ["a"]),              # unsupported: its citation is imprecise
        ("r", []),                 # no citation: unsupported
    ]
    recall, precision, n = M.alce_scores(sentences, _words_judge)
    assert n == 8
    assert recall == pytest.approx(4 / 6)
    assert precision == pytest.approx(6 / 8)
    assert M.alce_scores([("r", [])], _words_judge) == (0.0, 0.0, 0)
    assert M.alce_scores([], _words_judge) == (0.0, 0.0, 0)


def test_gold_article_recall_and_gold_fact_cited():
    assert M.gold_article_recall({"a", "b"}, ["a", "c"]) == 0.5
    assert M.gold_article_recall({"a"}, ["a", "a"]) == 1.0
    assert M.gold_article_recall({"a"}, []) is None
    assert M.gold_fact_cited(["foo bar baz"], ["bar  baz", "qux"]) == 0.5
    assert M.gold_fact_cited(["foo\nbar"], ["foo bar"]) == 1.0
    assert M.gold_fact_cited([], ["x"]) == 0.0
    assert M.gold_fact_cited(["x"], []) is None


def test_answer_accuracy_word_overlap_and_exact_match():
    assert M.word_overlap("Sam Altman was fired", "sam altman")
    assert not M.word_overlap("It was Google.", "google")  # whitespace split, as the official script
    assert M.strip_markers("Yes it did.[1][2] More [3].") == "Yes it did. More ."
    assert M.exact_match("The Sam Altman.", "sam altman")
    assert not M.exact_match("Sam Altman, the CEO", "sam altman")
    assert M.normalize_answer("  The  “Big”  deal! ") == "big deal"
    assert M.answer_scores("Yes it did.[1]", False, True, "Yes") == (True, False)
    assert M.answer_scores("Yes.[1]", False, True, "yes") == (False, True)
    # an abstention is never a correct answer to an answerable question (even for gold "no")
    assert "no" in ABSTAIN_TEXT.lower().split()
    assert M.answer_scores(ABSTAIN_TEXT, True, True, "no") == (False, False)
    # unanswerable: correct iff abstained
    assert M.answer_scores(ABSTAIN_TEXT, True, False, "Insufficient information.") == (True, True)
    assert M.answer_scores("Some claim.[1]", False, False, None) == (False, False)
    assert M.answer_scores("Some claim.[1]", False, True, None) == (None, None)


def test_gold_term_recall():
    assert M.gold_term_recall("Mira Murati was named interim CEO", "Mira Murati; quit") == pytest.approx(2 / 3)
    assert M.gold_term_recall("It cost $1,200.", "1200 dollars") == pytest.approx(1 / 2)
    assert M.gold_term_recall("anything", "the") is None


def test_null_accuracy_and_false_refusal():
    items = [(False, True), (False, False), (True, True), (True, False), (True, False), (True, False)]
    assert M.refusal_rates(items) == (0.5, 0.25)
    assert M.refusal_rates([(True, False)]) == (None, 0.0)


def test_percentiles():
    assert M.percentile([40, 10, 30, 20], 50) == pytest.approx(25.0)
    assert M.percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert M.percentile([7], 95) == 7
    assert M.percentile([], 50) is None
    assert M.mean([1, None, 0, True]) == pytest.approx(2 / 3)
    assert M.mean([None]) is None
    assert M.mean_curve([[0, 1], [1, 1]]) == [0.5, 1.0]


def _score(**kw):
    base = dict(qtype="t", answerable=True, error=None, abstained=False, correct=True, exact_match=False,
                gold_terms=1.0, citations_total=2, citations_invalid=0, final_markers=2, final_markers_valid=2,
                n_sentences=1, citation_recall=1.0, citation_precision=1.0, gold_article_recall=1.0,
                gold_fact_cited=1.0, latency_ms=100.0, **{"hits@4": 1.0, "hits@10": 1.0, "map@10": 1.0,
                "mrr@10": 1.0, "allgold@10": 1.0, "gold_recall@10": 1.0})
    base.update(kw)
    return base


def test_aggregate_combines_items_and_counts_errors():
    scores = [
        _score(),
        _score(**{"hits@10": 0.0, "hits@4": 0.0, "mrr@10": 0.0}, citations_total=2, citations_invalid=1,
               citation_recall=0.5, citation_precision=0.0, correct=False, gold_fact_cited=0.0, latency_ms=300.0),
        # an unanswerable question, correctly refused: no retrieval or citation scores
        _score(answerable=False, abstained=True, correct=True, exact_match=True, gold_terms=None, citations_total=0,
               final_markers=0, final_markers_valid=0, n_sentences=0, citation_recall=None, citation_precision=None,
               gold_article_recall=None, gold_fact_cited=None, latency_ms=200.0,
               **{"hits@4": None, "hits@10": None, "map@10": None, "mrr@10": None, "allgold@10": None,
                  "gold_recall@10": None}),
        {"qtype": "t", "answerable": True, "error": "RuntimeError: boom"},
    ]
    m = M.aggregate(scores)
    assert set(M.METRIC_KEYS) <= set(m)
    assert m["counts.questions"] == 4 and m["counts.errors"] == 1
    assert m["retrieval.hits@10"] == 0.5 and m["retrieval.mrr@10"] == 0.5
    assert m["citations.validity"] == pytest.approx(3 / 4)
    assert m["citations.validity_after_verification"] == 1.0
    assert m["citations.recall"] == 0.75 and m["citations.precision"] == 0.5
    assert m["citations.gold_fact_cited"] == 0.5
    assert m["answers.accuracy"] == pytest.approx(2 / 3)
    assert m["answers.exact_match"] == pytest.approx(1 / 3)
    assert m["abstention.null_accuracy"] == 1.0 and m["abstention.false_refusal"] == 0.0
    assert m["latency.p50_ms"] == 200.0 and m["latency.p95_ms"] == pytest.approx(290.0)


# ---- direct answers and baselines --------------------------------------------------------
def test_direct_strict_is_containment_of_the_lower_cased_gold():
    assert M.direct_strict("Emmett Shear.", "Emmett Shear")
    assert M.direct_strict("The new interim CEO is EMMETT  SHEAR [1].", "emmett shear")  # case, spaces, markers
    assert not M.direct_strict("Shear.", "Emmett Shear")  # part of the name is not enough
    assert not M.direct_strict("Mira Murati.", "Emmett Shear")
    assert M.direct_strict("$69bn (£56bn).", "$69bn")
    assert not M.direct_strict("anything", "   ")  # an empty gold answer matches nothing


def test_direct_lenient_is_multihop_word_overlap_on_the_same_text():
    assert M.direct_lenient("Shear.", "Emmett Shear") is True  # closing period dropped, as the script extracts
    assert M.direct_lenient("Shear, Inc.", "Emmett Shear") is False  # "shear," is not the word "shear"
    assert M.direct_lenient("Emmett Shear.", "Emmett Shear") is True  # "emmett" is shared
    assert M.direct_lenient("Mira Murati [1]", "Mira Murati") is True  # markers removed first
    # the official rule splits on white space only: "Yes." shares no word with "Yes"
    assert M.direct_lenient("Yes.", "Yes") is True
    assert M.direct_lenient("Yes it did.", "Yes") is True


def test_yes_no_rule_edge_cases():
    assert M.gold_yesno(" Yes ") == "yes" and M.gold_yesno("No.") == "no"
    assert M.gold_yesno("Not sure") is None and M.gold_yesno(None) is None
    assert M.yesno_label("Yes.") == "yes"
    assert M.yesno_label("No.") == "no"
    assert M.yesno_label("Yes, but no one knows why.") == "other"  # contains the other word
    assert M.yesno_label("No; yes according to [2].") == "other"
    assert M.yesno_label("Not according to the archive.") == "other"  # "not" is not "no"
    assert M.yesno_label("Nobody said yes.") == "other"  # must start with the word
    assert M.yesno_label("[1] Yes, both reported it.") == "yes"  # a leading marker is not a word
    assert M.direct_strict("No.", "no")
    assert M.direct_strict("NO, it did not.", "No")
    assert not M.direct_strict("Yes, but no...", "Yes")
    assert not M.direct_strict("Yes.", "No")
    assert not M.direct_strict("Yesterday it did.", "Yes")  # "yesterday" is not the word yes


def test_direct_scores_abstentions_missing_and_undecided_answers():
    # answerable: (strict, lenient)
    assert M.direct_scores("Emmett Shear.", "person", False, True, "Emmett Shear") == (True, True)
    assert M.direct_scores("Shear.", "person", False, True, "Emmett Shear") == (False, True)  # strict needs the whole name
    assert M.direct_scores("Yes.", "yes", False, True, "Yes") == (True, True)
    assert M.direct_scores(None, None, False, True, "Yes") == (False, False)  # no direct answer yet
    assert M.direct_scores("Yes.", "yes", True, True, "Yes") == (False, False)  # abstained
    # undecided: its text may name the gold answer, it still does not answer
    assert M.direct_scores("The archive shows Google [1] and Apple [2]; it does not say which.", "none",
                           False, True, "Google") == (False, False)
    assert M.direct_scores("Yes.", "yes", False, True, None) == (None, None)  # no gold answer
    # unanswerable: correct iff abstained, direct answer or not
    assert M.direct_scores(None, None, True, False, "Insufficient information.") == (True, True)
    assert M.direct_scores("Yes.", "yes", False, False, None) == (False, False)


def test_yesno_outcomes_and_confusion_counts():
    assert M.yesno_outcome("Yes.", "yes", False) == "yes"
    assert M.yesno_outcome("No.", "no", False) == "no"
    assert M.yesno_outcome("Yes, but no.", "yes", False) == "other"
    assert M.yesno_outcome(None, None, False) == "other"
    assert M.yesno_outcome("The archive does not say whether...", "none", False) == "other"
    assert M.yesno_outcome("Yes.", "yes", True) == "abstained"
    pairs = [("yes", "yes"), ("yes", "no"), ("yes", "yes"), ("no", "yes"), ("no", "abstained"), ("no", "other"),
             ("no", None), (None, "yes")]  # None outcome: other; a non-yes/no gold: skipped
    assert M.yesno_confusion(pairs) == {
        "yes": {"yes": 2, "no": 1, "other": 0, "abstained": 0},
        "no": {"yes": 1, "no": 0, "other": 2, "abstained": 1},
    }


def test_most_frequent_entity_baseline():
    passages = [
        "Sam Altman was fired by OpenAI. Mira Murati became interim CEO, TechCrunch reported.",
        "OpenAI's board later named Emmett Shear. Emmett Shear replaced Mira Murati.",
        "Microsoft hired Sam Altman.",
    ]
    q = "Who replaced Sam Altman as the head of OpenAI?"
    # counts without the dropped names: Mira Murati 2, Emmett Shear 2, Microsoft 1 (TechCrunch is an
    # outlet; Sam Altman and OpenAI / OpenAI's are all in the question): tie, first seen wins
    assert M.most_frequent_entity(q, passages, ["TechCrunch", None]) == "Mira Murati"
    assert M.most_frequent_entity(q, passages[1:], ["TechCrunch"]) == "Emmett Shear"
    # without the outlet list TechCrunch counts (once, after Mira Murati's first mention)
    assert M.most_frequent_entity(q, passages[:1], []) == "Mira Murati"
    assert M.most_frequent_entity(q, passages[:1], ["techcrunch"]) == "Mira Murati"
    assert M.most_frequent_entity("Did OpenAI fire Sam Altman?", ["OpenAI fired Sam Altman."], []) is None
    assert M.most_frequent_entity(q, [], []) is None
    # a possessive counts as the name itself
    assert M.most_frequent_entity("Who?", ["Google's deal. Google said. Apple agreed."], []) == "Google"


def test_aggregate_direct_accuracy_and_baselines():
    def s(**kw):
        base = dict(direct_kind="yes", direct_correct=False, direct_lenient=False, gold_yesno=None,
                    entity_question=False, baseline_yes=None, baseline_yes_correct=None, baseline_entity=None,
                    baseline_entity_correct=None, baseline_correct=False, baseline_lenient=False)
        return _score(**{**base, **kw})

    scores = [
        s(qtype="cmp", gold_yesno="yes", direct_correct=True, baseline_yes="Yes", baseline_yes_correct=True,
          baseline_correct=True, baseline_lenient=True),
        s(qtype="cmp", gold_yesno="no", baseline_yes="Yes", baseline_yes_correct=False),
        s(qtype="cmp", gold_yesno="no", direct_correct=True, direct_lenient=True, baseline_yes="Yes",
          baseline_yes_correct=False),
        s(qtype="inf", entity_question=True, direct_kind="person", direct_correct=True, direct_lenient=True,
          baseline_entity="Google", baseline_entity_correct=False, baseline_lenient=True),
        s(qtype="inf", entity_question=True, direct_kind=None, baseline_entity="Apple", baseline_entity_correct=True,
          baseline_correct=True, baseline_lenient=True),
        s(qtype="null", answerable=False, abstained=True, direct_kind=None, direct_correct=True, direct_lenient=True),
        {"qtype": "cmp", "answerable": True, "error": "RuntimeError: boom"},  # errors count nowhere
    ]
    m = M.aggregate(scores)
    assert set(M.METRIC_KEYS) | set(M.BASELINE_KEYS) <= set(m)
    assert m["answers.direct_accuracy"] == pytest.approx(4 / 6)
    assert m["answers.direct_accuracy_lenient"] == pytest.approx(3 / 6)
    assert m["answers.direct_accuracy_yesno"] == pytest.approx(2 / 3)
    assert m["answers.direct_accuracy_entity"] == pytest.approx(1 / 2)
    assert m["baselines.constant_yes.yesno_accuracy"] == pytest.approx(1 / 3)
    assert m["baselines.most_frequent_entity.entity_accuracy"] == pytest.approx(1 / 2)
    assert m["baselines.combined.direct_accuracy"] == pytest.approx(2 / 6)
    assert m["baselines.combined.direct_accuracy_lenient"] == pytest.approx(3 / 6)
    assert m["counts.yesno"] == 3 and m["counts.entity"] == 2 and m["counts.direct"] == 4
    # old runs' scores have none of these fields: the metrics are missing, not 0
    old = M.aggregate([_score()])
    assert old["answers.direct_accuracy"] is None and old["baselines.combined.direct_accuracy"] is None


def test_gold_sentence_cited_needs_the_fact_in_a_quote():
    fact = "Bankman-Fried was found guilty on seven counts."
    assert M.gold_sentence_cited(["Sam Bankman-Fried was found guilty on seven counts.", "x"], [fact]) == 1.0
    # a quote that is part of a fact counts only when it covers half of it
    assert M.gold_sentence_cited(["found guilty on seven counts."], [fact]) == 1.0
    assert M.gold_sentence_cited(["seven counts."], [fact]) == 0.0
    assert M.gold_sentence_cited(["The trial began."], [fact]) == 0.0
    assert M.gold_sentence_cited(["anything"], []) is None
