"""evals/attribution.py on a tiny fixture (no dev data): the scripted answers it builds, how it
traces them through the real LLM answerer, and the shares it reports."""
from __future__ import annotations

import random
import re

from evals import attribution as A
from evals.datasets import EvalItem, GoldEvidence
from fakes import HEAT, MARATHON, TRANSIT, article_hits, renumber, seed_hits
from rag.settings import Settings

_, SEED_HITS = seed_hits(chunk_chars=400)
HITS = renumber(SEED_HITS + article_hits(TRANSIT) + article_hits(HEAT) + article_hits(MARATHON))


def _item(i, question, answer, *facts):
    return EvalItem(id=f"t{i}", question=question, answer=answer, qtype="inference_query",
                    gold=tuple(GoldEvidence(fact=f, url=f"https://example.com/{i}") for f in facts))


ITEMS = [
    EvalItem(id="null", question="Who won the 2031 Riverside Marathon?", answer="Insufficient information.",
             answerable=False, qtype="null_query"),
    _item(1, "How did Alibaba respond to the memo from the U.S. Department of Defense?", None,
          "Alibaba has swiftly condemned the memo, calling it 'nonsense' and accusing the U.S. government of "
          "attempting to 'manipulate public opinion and discredit Alibaba.'",
          "The report highlights that Alibaba transfers customer data—including IP addresses, Wi-Fi usage, payment "
          "information, and AI-related services—to the Chinese military, raising alarms about potential espionage "
          "and data exploitation."),
    _item(2, "Which Kenyan runner won the Riverside Marathon, as reported by the Riverside Ledger?", "Grace Wanjiru",
          "Kenyan runner Grace Wanjiru won the Riverside Marathon on Sunday in 2 hours, 21 minutes, setting a course "
          "record.", "About 12,000 runners took part in the 2023 race, organizers said."),
    _item(3, "Did Phoenix break its all-time heat record, according to the Valley Courier?", "Yes",
          "Phoenix recorded a temperature of 123 degrees Fahrenheit on Sunday, breaking the city's all-time record of "
          "122 degrees set in 1990, the National Weather Service said.",
          "Officials opened 40 cooling centers and extended hours at public libraries."),
    _item(4, "What did Mayor Elena Ortiz say about the light-rail plan approved by the Riverside City Council?", None,
          "Mayor Elena Ortiz said construction of the first segment would begin next spring.",
          "The plan adds 22 miles of track and 14 stations, connecting the airport to downtown by 2031."),
    _item(5, "What did the report say about a fact that no shown passage holds?", None, "A sentence in no passage at all."),
]


def _run(n=None):
    return A.measure(ITEMS, lambda _q: HITS, Settings(), n=n)


def test_scripted_answers_cite_wrong_related_passages_for_half_and_invent_one_sentence():
    for i, item in enumerate(ITEMS[1:5]):
        case = A.build_case(item, HITS, random.Random(i), wrong_first=True)
        kinds = [s.kind for s in case.sentences]
        assert kinds.count("invented") == 1 and kinds.count("wrong") == 1 and kinds.count("right") == 1
        for s in case.sentences:
            if s.kind == "right":
                assert s.cited in s.gold
            if s.kind == "wrong":  # related (same article, or sharing a name) but never a holder of the fact
                assert s.cited not in s.gold
                w, g = HITS[s.cited - 1].chunk, HITS[s.gold[0] - 1].chunk
                assert w.article_id == g.article_id or A._names(s.text) & A._names(w.text + " " + w.title)
            if s.kind != "invented":
                assert re.search(rf"\[{s.cited}\][.!?]?", case.raw)
        # the invented sentence names something from the question
        (inv,) = [s for s in case.sentences if s.kind == "invented"]
        assert any(w in inv.text for w in re.findall(r"[A-Z][a-z]+", item.question)) or inv.text.startswith("The company")
    # no gold fact in the shown passages: no case
    assert A.build_case(ITEMS[5], HITS, random.Random(0), wrong_first=True) is None


def test_direct_line_is_written_when_the_question_asks_for_one():
    who = A.build_case(ITEMS[2], HITS, random.Random(0), wrong_first=False)
    assert who.direct is not None and who.direct.startswith("Grace Wanjiru") and who.raw.split("\n")[0] == who.direct
    yes = A.build_case(ITEMS[3], HITS, random.Random(0), wrong_first=False)
    assert yes.direct is not None and yes.direct.startswith("Yes.")
    how = A.build_case(ITEMS[1], HITS, random.Random(0), wrong_first=False)
    assert how.direct is None and "\n" not in how.raw


def test_measure_traces_every_sentence_and_reports_the_shares():
    summary, cases = _run()
    assert summary["questions"] == 4 == len(cases)
    assert summary["skipped"] == {"null_query": 1, "no_fact_shown": 1}
    assert summary["sentences"] == {"right": 4, "wrong": 4, "invented": 4}
    assert all(s.outcome for c in cases for s in c.sentences)
    # on these clean texts the verifier does everything right
    assert summary["wrong_moved"] == 1.0 and summary["right_kept"] == 1.0 and summary["invented_removed"] == 1.0
    assert summary["direct_kept"] == 1.0
    out = A.table(summary)
    assert out.splitlines()[0] == "| measure | share | n | target |"
    assert "| wrong citations moved to a supporting passage | 1.0 | 4 | >= 0.9 |" in out


def test_trace_tells_a_kept_wrong_citation_and_a_kept_invented_sentence():
    """With the verifier defeated (threshold 0 keeps every citation, an infinite margin never
    moves one) the trace must report the failures rather than successes."""
    from rag.answer import verify

    old = verify.MOVE_MARGIN
    verify.MOVE_MARGIN = 2.0
    try:
        summary, cases = A.measure(ITEMS, lambda _q: HITS, Settings(support_threshold=0.0), n=None)
    finally:
        verify.MOVE_MARGIN = old
    outcomes = {k: {s.outcome for c in cases for s in c.sentences if s.kind == k} for k in ("right", "wrong", "invented")}
    assert outcomes == {"right": {"kept"}, "wrong": {"kept_wrong"}, "invented": {"kept"}}
    assert summary["wrong_moved"] == 0.0 and summary["invented_removed"] == 0.0 and summary["right_kept"] == 1.0


def test_limit_n():
    summary, cases = _run(n=2)
    assert summary["questions"] == 2 and [c.id for c in cases] == ["t1", "t2"]
