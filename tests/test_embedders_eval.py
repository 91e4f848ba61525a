"""evals.embedders: the low-overlap rule on hand-made questions, and the whole comparison on
the small corpus with the bag-of-words embedder standing in for both embedders."""
from __future__ import annotations

import json

import pytest

from evals import embedders as E
from evals.bench.common import write_jsonl
from evals.bench.embedders import embedder_rows
from evals.bench.ingest import _static_ingest, _static_summary
from rag.ingest.loaders import iter_articles
from rag.archive import Archive
from rag.retrieve.rerank import load_model
from rag.settings import Settings

from tests.conftest import MINI, SEED


def _q(query: str, *facts: str) -> dict:
    return {"query": query, "evidence_list": [{"fact": f} for f in facts]}


def test_overlap_is_the_mean_share_of_each_facts_content_words_in_the_question():
    assert E.fact_overlap("Did the central bank raise interest rates?", ["The central bank raised interest rates."]) == 1.0
    assert E.fact_overlap("Who won?", ["The striker scored twice in the final."]) == 0.0
    # fact 1: bank, rate(s) of {central, bank, raised, rates} -> 2/4; fact 2: none of {striker, scored} -> 0
    got = E.fact_overlap("Which bank cut its rate?", ["The central bank raised rates.", "The striker scored."])
    assert got == pytest.approx((2 / 4 + 0) / 2)
    assert E.fact_overlap("Anything?", ["It was in it."]) == 1.0  # no content words: never picked as low


def test_low_overlap_takes_the_lowest_quarter_rounded_up_ties_in_order():
    qs = [_q("Did the central bank raise interest rates?", "The central bank raised interest rates."),
          _q("Who won?", "The striker scored twice in the final."),
          _q("Which bank cut its rate?", "The central bank raised rates."),
          _q("What happened?", "Shares of Nvidia fell sharply on Tuesday."),
          _q("Did Nvidia shares fall?", "Shares of Nvidia fell sharply on Tuesday.")]
    assert E.low_overlap(qs) == [1, 3]  # ceil(0.25 * 5) = 2; both at 0.0, in dataset order
    assert E.low_overlap(qs[:4]) == [1]
    # overlaps 1.0, 0.0, 0.5, 0.0, 0.4 (Nvidia, shares of five stems): the three lowest
    assert E.low_overlap(qs, share=0.6) == [1, 3, 4]


def _dataset(tmp_path) -> str:
    """Questions over the mini corpus: each article's title asks for its body's opening words."""
    qs = []
    for line in MINI.read_text(encoding="utf-8").splitlines():
        a = json.loads(line)
        qs.append(_q(a["title"], a["body"].split(".")[0][:120]))
    qs.append({"query": "A question without evidence", "evidence_list": []})  # dropped, as null queries are
    path = tmp_path / "qs.json"
    path.write_text(json.dumps(qs), encoding="utf-8")
    return str(path)


def _hash_archive(path):
    a = Archive.create(path, Settings.load(env={}, index=str(path), embedder="hash"))
    a.ingest([SEED, MINI])
    return a


def test_comparison_on_a_tiny_corpus_gives_every_row_for_both_embedders(tmp_path):
    dataset = _dataset(tmp_path)
    archives = {"minilm": _hash_archive(tmp_path / "a"), "static": _hash_archive(tmp_path / "b")}
    low = tmp_path / "low.json"
    res = E.run(dataset=dataset, corpus="mini", archives=archives, low_overlap_path=low, cv=True,
                refit_out=str(tmp_path / "refit.json"), log=lambda m: None)
    assert res["questions"] == 6 and res["low_overlap"]["questions"] == 2
    keys = {(r["set"], r["embedder"], r["row"]) for r in res["rows"]}
    for s in ("dev", "low-overlap"):
        assert (s, "-", E.BASELINE) in keys
        for e in ("minilm", "static"):
            assert {(s, e, E.DENSE), (s, e, E.FULL)} <= keys
    assert len(res["rows"]) == 10
    for r in res["rows"]:
        assert all(0.0 <= r[k] <= 1.0 for k in ("hits@4", "hits@10", "mrr@10", "allgold@10"))
        assert r["p50_ms"] > 0
    full = {(r["set"], r["embedder"]): r for r in res["rows"] if r["row"] == E.FULL}
    assert full[("dev", "minilm")]["hits@10"] > 0.5  # titles find their own articles
    # the same embedder on the same corpus: identical figures, every delta 0 and within tolerance
    assert list(res["deltas"]) == ["static"]
    for per in res["deltas"]["static"].values():
        for d in per.values():
            assert d["within_tolerance"] and all(d[k] == 0 for k in ("hits@4", "hits@10", "mrr@10", "allgold@10"))
    written = json.loads(low.read_text(encoding="utf-8"))
    qs = [q for q in json.loads(open(dataset).read()) if q["evidence_list"]]
    assert [q["position"] for q in written["questions"]] == E.low_overlap(qs) and written["rule"] == E.RULE
    md = E.markdown(res)
    assert md.count("| low-overlap |") == 5 and "refit, 5-fold CV" in md
    bench_rows = embedder_rows({"embedders": res})
    assert len(bench_rows) == 6 and sum("largest loss +0.000" in r for r in bench_rows) == 4  # 2 sets x 2 retrievers
    refit = res["rerank_refit"]["static"]
    assert refit["questions"] == 6 and 0 <= refit["refit_cv5"]["hits@10"] <= 1
    assert load_model(tmp_path / "refit.json").score(archives["static"].retriever.candidates("Gemini").features).ndim == 1


@pytest.mark.slow
def test_static_ingest_runs_as_a_whole_process_and_is_summarised_against_the_limit(tmp_path):
    articles = [a for a in iter_articles([MINI]) if hasattr(a, "body")]
    part = write_jsonl(articles, tmp_path / "part0.jsonl")
    run = _static_ingest(part, tmp_path / "idx")
    assert run["report"]["new"] == len(articles) and run["report"]["chunks_added"] > len(articles)
    assert "static" in run["report"]["embedder"] and run["seconds"] >= run["report"]["seconds"] > 0
    secs = {"limit": 2 * run["seconds"], "llama": 0.0}
    st = _static_summary([run], secs, run["report"]["chunks_added"], len(articles))
    assert st["ratio_vs_minilm_limit"] == pytest.approx(2.0) and st["ratio_vs_llama"] is None
    rows = embedder_rows({"ingest": {"static": st, "chunks_per_s": {"limit": 1.0}, "seconds": secs}})
    assert len(rows) == 1 and "2.00x" in rows[0] and ">= 10x" in rows[0]
