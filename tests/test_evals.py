"""The eval harness end to end: datasets, the smoke run on the bundled sample archive with the
real MiniLM (built once per session), its outputs, cached corpus index, and --compare."""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from evals import metrics as M
from evals.cli import main as evals_main
from evals.datasets import DATASETS_DIR, load_dataset
from evals.run import EvalConfig, corpus_fingerprint, evaluate_item, prepare_archive
from rag.errors import BadInput
from rag.ingest.loaders import iter_articles
from rag.settings import Settings

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "rag" / "sample"
SEED = ROOT / "tests" / "data" / "ksmo-alibaba-pla-memo.txt"
REQUIRED_KEYS = {
    "retrieval.hits@4", "retrieval.hits@10", "retrieval.map@10", "retrieval.mrr@10", "retrieval.allgold@10",
    "retrieval.gold_recall@10", "citations.validity", "citations.recall", "citations.precision",
    "citations.gold_article_recall", "citations.gold_fact_cited", "answers.accuracy", "answers.exact_match",
    "abstention.null_accuracy", "abstention.false_refusal", "latency.p50_ms", "latency.p95_ms",
    "counts.questions", "counts.errors",
}
ANSWER_KEYS = {"question", "text", "abstained", "sentences", "sources", "removed_citations", "timing_ms", "settings_hash"}


# ---- datasets ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_articles():
    return {a.id: a for a in iter_articles([SAMPLE]) if hasattr(a, "body")}


def test_sample_qa_composition_and_exact_gold_quotes(sample_articles):
    items = load_dataset("sample_qa")
    assert len(items) >= 40
    assert sum(not it.answerable for it in items) >= len(items) / 4
    assert sum(len(it.gold_keys) >= 2 for it in items) >= 5
    seed_id = next(a.id for a in sample_articles.values() if a.outlet == "KSMO Santa Monica")
    assert sum(seed_id in it.gold_keys for it in items) >= 5
    for it in items:
        assert it.answerable == bool(it.gold), it.id
        for g in it.gold:
            assert g.key in sample_articles, (it.id, g.url or g.article_id)
            assert g.fact in sample_articles[g.key].body, (it.id, g.fact)


def test_smoke_set_composition():
    items = load_dataset(DATASETS_DIR / "smoke.jsonl")
    types = [it.qtype for it in items]
    assert len(items) == 5
    assert types.count("seed") == 2 and types.count("unanswerable") == 1
    assert sum(len(it.gold_keys) >= 2 for it in items) == 1


def test_multihop_format_and_bad_lines(tmp_path):
    f = tmp_path / "q.json"
    f.write_text(json.dumps([
        {"query": "Who?", "answer": "Sam Altman", "question_type": "inference_query",
         "evidence_list": [{"url": "https://www.example.com/a/?utm_source=x", "fact": "Altman left."},
                           {"url": "https://example.com/b", "fact": "He was fired."}]},
        {"query": "What?", "answer": "Insufficient information.", "question_type": "null_query", "evidence_list": []},
    ]), encoding="utf-8")
    a, b = load_dataset(f)
    assert a.answerable and a.qtype == "inference_query" and a.facts == ["Altman left.", "He was fired."]
    assert a.gold_keys[0] == load_dataset(f)[0].gold[0].key and len(a.gold_keys) == 2
    assert not b.answerable and b.qtype == "null_query"
    assert len(load_dataset(f, limit=1)) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?"}\n{"question": "x", "gold": [{"quote": "no article"}]}\n', encoding="utf-8")
    with pytest.raises(BadInput, match=":2:"):
        load_dataset(bad)
    with pytest.raises(BadInput):
        load_dataset(tmp_path / "missing.jsonl")


# ---- pieces without the model ------------------------------------------------------------
class _FailingArchive:
    def search(self, *a, **k):
        raise RuntimeError("index on fire")


def test_a_failing_question_is_recorded_not_raised():
    item = load_dataset("smoke")[0]
    rec = evaluate_item(_FailingArchive(), item, judge=None)
    assert rec["error"] == "RuntimeError: index on fire" and rec["scores"]["error"]
    m = M.aggregate([rec["scores"]])
    assert m["counts.errors"] == 1 and m["counts.questions"] == 1


def test_corpus_index_is_cached_by_content_hash(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    s = Settings(embedder="hash", index=str(tmp_path / "index" / "default"))
    fp = corpus_fingerprint(corpus, s)
    assert fp == corpus_fingerprint(corpus, s) and len(fp) == 12
    assert fp != corpus_fingerprint(corpus, s.with_(chunk_tokens=120))
    logs: list[str] = []
    cfg = EvalConfig(dataset="smoke", corpus=str(corpus), progress=False)
    archive = prepare_archive(cfg, s, logs.append)
    assert archive.path == tmp_path / "index" / f"eval-{fp}"
    assert archive.stats()["articles"] == 1 and any("ingesting" in x for x in logs)
    logs.clear()
    assert prepare_archive(cfg, s, logs.append).path == archive.path
    assert any("unchanged" in x for x in logs) and not any("ingesting" in x for x in logs)
    (corpus / "more.txt").write_text("Outlet\nNews\n\nA headline\n\nA body sentence about nothing much at all.\n", encoding="utf-8")
    assert corpus_fingerprint(corpus, s) != fp


# ---- the smoke run (real MiniLM) ---------------------------------------------------------
@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    """Two smoke runs on the sample archive: A ingests it (MiniLM), B reuses the index."""
    base = tmp_path_factory.mktemp("evals")
    conf = base / "empty.toml"
    conf.write_text("", encoding="utf-8")
    runs = []
    for name in ("runA", "runB"):
        err, out = io.StringIO(), io.StringIO()
        with redirect_stderr(err), redirect_stdout(out):
            rc = evals_main(["--dataset", "smoke", "--corpus", str(SAMPLE), "--index", str(base / "idx"),
                             "--out", str(base / name), "--strict", "--quiet", "--config", str(conf)])
        runs.append({"rc": rc, "stderr": err.getvalue(), "stdout": out.getvalue(), "dir": base / name})
    return {"base": base, "runs": runs}


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "answers.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.mark.slow  # the session fixture embeds the whole sample archive (~60-100 s)
def test_smoke_run_writes_every_output(smoke_runs):
    run = smoke_runs["runs"][0]
    assert run["rc"] == 0, run["stderr"]
    d = run["dir"]
    m = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
    assert REQUIRED_KEYS <= set(m) and set(M.METRIC_KEYS) <= set(m)
    assert m["counts.questions"] == 5 and m["counts.errors"] == 0
    assert "proxy" in m["judge"]["name"] and m["judge"]["agreement"]["leave_one_out"]["accuracy"] is not None
    assert m["run"]["retrieval_text"].startswith("chunk.text")
    assert len(m["hits_curve"]["all"]) == 20 and set(m["by_type"]) == {"seed", "multi", "single", "unanswerable"}
    assert json.loads(run["stdout"])["counts.questions"] == 5
    recs = _records(d)
    assert len(recs) == 5
    for r in recs:
        assert {"question", "answer", "retrieved", "scores"} <= set(r) and r["error"] is None
        assert ANSWER_KEYS <= set(r["answer"])
        assert [x["rank"] for x in r["retrieved"]] == list(range(1, 11))
        assert all({"chunk_id", "article_id", "url", "text"} <= set(x) for x in r["retrieved"])
    report = (d / "report.md").read_text(encoding="utf-8")
    for section in ("## Summary", "## Per question type", "## Support judge", "## Worst 10 items", "leave-one-out"):
        assert section in report
    for png in ("metrics_by_type.png", "hits_at_k.png"):
        assert (d / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # the session fixture embeds the whole sample archive (~60-100 s)
def test_smoke_citations_all_resolve_and_quotes_are_exact(smoke_runs):
    from rag.archive import Archive

    d = smoke_runs["runs"][0]["dir"]
    m = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
    assert m["citations.validity_after_verification"] == 1.0
    assert m["citations.quotes_exact"] == 1.0
    records = Archive.open(smoke_runs["base"] / "idx", Settings()).store.records
    for r in _records(d):
        a = r["answer"]
        numbers = {s["n"] for s in a["sources"]}
        assert set(int(n) for n in re.findall(r"\[(\d+)\]", a["text"])) <= numbers
        for s in a["sources"]:
            assert records.get_article(s["article_id"]).body[s["start"]:s["end"]] == s["quote"]
        # retrieved[].text is the exact chunk text the retrieval metrics matched against
        chunks = records.get_chunks([x["chunk_id"] for x in r["retrieved"]])
        assert all(chunks[x["chunk_id"]].text == x["text"] for x in r["retrieved"])
        facts = [g["fact"] for g in r["gold"]]
        if facts:
            texts = [x["text"] for x in r["retrieved"]]
            assert r["scores"]["hits@4"] == M.hits_at(texts, facts, 4)
            assert r["scores"]["mrr@10"] == M.mrr_at_10(texts, facts)


@pytest.mark.slow  # the session fixture embeds the whole sample archive (~60-100 s)
def test_second_run_reuses_the_cached_index(smoke_runs):
    a, b = smoke_runs["runs"]
    assert "ingesting" in a["stderr"]
    assert b["rc"] == 0 and "corpus unchanged" in b["stderr"] and "ingesting" not in b["stderr"]
    assert len(_records(b["dir"])) == 5


@pytest.mark.slow  # the session fixture embeds the whole sample archive (~60-100 s)
def test_compare_prints_the_differences(smoke_runs):
    a, b = (r["dir"] for r in smoke_runs["runs"])
    for cmd in ([sys.executable, "-m", "evals"], [sys.executable, "-m", "rag", "eval"]):
        p = subprocess.run([*cmd, "--compare", str(a), str(b)], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert p.returncode == 0, p.stderr
        assert "retrieval.hits@10" in p.stdout and "B-A" in p.stdout and "5 questions in both runs" in p.stdout
    p = subprocess.run([sys.executable, "-m", "evals", "--compare", str(a), str(a / "nope")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "cannot read run" in p.stderr


def test_llm_answerer_and_llm_judge_through_a_scripted_server(tmp_path):
    """Validity is measured before the verifier's removal: an invented [9] lowers it, while
    every marker left in the final answers still resolves."""
    fakes = pytest.importorskip("tests.fakes")
    from evals.run import run_eval

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)

    def script(messages):
        if "You check citations" in (messages[0].get("content") or ""):
            return "SUPPORTED"
        return ("Alibaba has swiftly condemned the memo, calling it 'nonsense' [1]. "
                "The memo was written by aliens [9].")

    with fakes.ScriptedLLMServer(script) as server:
        s = Settings(embedder="hash", index=str(tmp_path / "index" / "default"), llm_base_url=server.base_url,
                     llm_model="scripted-model", llm_timeout=10)
        cfg = EvalConfig(dataset="smoke", corpus=str(corpus), answerer="llm", judge="auto", out=str(tmp_path / "run"),
                         limit=2, progress=False)
        m = run_eval(cfg, s, log=lambda _msg: None)
    assert m["counts.errors"] == 0 and m["run"]["answerer"] == "llm"
    assert m["judge"]["name"].startswith("llm: scripted-model")
    assert m["citations.validity"] == pytest.approx(0.5)
    assert m["citations.validity_after_verification"] == 1.0
    assert m["citations.recall"] is not None
    recs = _records(tmp_path / "run")
    assert all(r["answer"]["answerer"] == "llm" and r["answer"]["citations_invalid"] == 1 for r in recs)


def test_the_judge_reads_a_sources_headline_outlet_and_date():
    """A dateline ("TechCrunch, November 6, 2023: ...") cites the source's metadata: the judge
    sees it above the passage, so a quoted sentence with its dateline stays supported."""
    from datetime import datetime, timezone

    from evals.judge import OfflineJudge
    from evals.run import judged_passage
    from rag.index.embedding import HashEmbedder
    from rag.types import Source

    passage = "Epic Games is still set to go to trial with Google today, in hopes of convincing a jury that Google Play is a monopoly."
    src = Source(n=1, article_id="a", chunk_id="a-1", title="Epic v. Google goes to trial", outlet="TechCrunch",
                 author=None, published_at=datetime(2023, 11, 6, 14, 0, tzinfo=timezone.utc), url=None,
                 quote=passage, start=0, end=len(passage), passage=passage, passage_start=0, passage_end=len(passage))
    text = judged_passage(src)
    assert text.startswith("Epic v. Google goes to trial\nTechCrunch, November 6, 2023 (2023-11-06)\n\n")
    assert text.endswith(passage)
    judge = OfflineJudge(embedder=HashEmbedder())
    sentence = f"TechCrunch, November 6, 2023: {passage}"
    assert not judge.supports(sentence, [passage])  # the bare passage lacks the dateline's names and numbers
    assert judge.supports(sentence, [text])
    assert not judge.supports(sentence.replace("2023", "2021"), [text])  # a wrong year is not in it


# ---- direct answers, baselines, progress (no model) --------------------------------------
from evals.datasets import EvalItem, GoldEvidence  # noqa: E402
from evals.report import compare_runs, confusion_table, direct_section  # noqa: E402
from evals.run import summarize  # noqa: E402
from rag.types import Answer, Chunk, Direct, Hit  # noqa: E402

OPENAI_PASSAGES = [
    "OpenAI's board later named Emmett Shear. Emmett Shear replaced Mira Murati.",
    "Sam Altman was fired by OpenAI. Mira Murati became interim CEO, TechCrunch reported.",
    "Microsoft hired Sam Altman.",
]


def _hit(rank: int, text: str, outlet: str = "TechCrunch") -> Hit:
    chunk = Chunk(id=f"c{rank}", article_id=f"a{rank}", index=0, text=text, start=0, end=len(text), header="",
                  title=f"headline {rank}", outlet=outlet)
    return Hit(chunk=chunk, score=1.0 / rank, rank=rank)


class _Records:
    def get_article(self, article_id):
        return None


class _Store:
    records = _Records()


class _ScriptedArchive:
    """Search returns fixed passages; ask returns a fixed answer per question."""

    store = _Store()

    def __init__(self, texts, answers):
        self.texts, self.answers = texts, answers

    def search(self, question, k=10):
        return [_hit(i, t) for i, t in enumerate(self.texts[:k], 1)]

    def ask(self, question, answerer=None):
        return self.answers[question]


class _AlwaysSupported:
    name = "always"

    def supports(self, sentence, passages):
        return True


def _direct_items():
    ev = (GoldEvidence(fact="Emmett Shear replaced Mira Murati.", url="https://example.com/a1"),)
    return [
        EvalItem(id="yes1", question="Did TechCrunch report that OpenAI fired Sam Altman?", answer="Yes",
                 qtype="comparison_query", gold=ev),
        EvalItem(id="no1", question="Did Microsoft fire Emmett Shear?", answer="No", qtype="comparison_query", gold=ev),
        EvalItem(id="who1", question="Who replaced Sam Altman as the head of OpenAI?", answer="Emmett Shear",
                 qtype="inference_query", gold=ev),
        EvalItem(id="null1", question="Who won the 2023 Nobel Prize in Literature?", answer="Insufficient information.",
                 answerable=False, qtype="null_query"),
    ]


def _answer(q, text, direct=None, abstained=False):
    return Answer(question=q, text=text, abstained=abstained, direct=direct)


def test_direct_answers_and_baselines_are_scored_per_item():
    items = _direct_items()
    # ranks 1-3 the OpenAI passages, 4-10 filler, 11-14 name Mira Murati four more times: beyond the
    # baseline's top 10, so Emmett Shear (2, first seen) beats Mira Murati (2) and Microsoft (1)
    texts = OPENAI_PASSAGES + ["nothing to see here."] * 7 + ["Mira Murati spoke."] * 4
    archive = _ScriptedArchive(texts, {
        items[0].question: _answer(items[0].question, "Yes. TechCrunch reported it.", Direct("Yes.", "yes", (1,))),
        items[1].question: _answer(items[1].question, "Yes, but no one knows.", Direct("Yes, but no one knows.", "yes")),
        items[2].question: _answer(items[2].question, "Emmett Shear. He replaced Murati.",
                                   Direct("Emmett Shear.", "person", (1,))),
        items[3].question: _answer(items[3].question, "The archive has no passage that answers this.", abstained=True),
    })
    recs = [evaluate_item(archive, it, _AlwaysSupported(), k=10) for it in items]
    assert [r["error"] for r in recs] == [None] * 4
    yes, no, who, null = (r["scores"] for r in recs)
    assert (yes["direct_correct"], yes["direct_lenient"], yes["direct_yesno"]) == (True, True, "yes")
    assert (yes["baseline_yes"], yes["baseline_yes_correct"], yes["baseline_correct"]) == ("Yes", True, True)
    assert yes["entity_question"] is False and yes["baseline_entity"] is None
    # "Yes, but no one knows." holds the other word: wrong, and not a clean yes in the confusion table
    assert (no["direct_correct"], no["direct_yesno"], no["gold_yesno"]) == (False, "other", "no")
    assert (no["baseline_yes_correct"], no["baseline_correct"]) == (False, False)
    assert (who["direct_correct"], who["direct_lenient"], who["entity_question"]) == (True, True, True)
    assert (who["baseline_entity"], who["baseline_entity_correct"], who["baseline_correct"]) == ("Emmett Shear", True, True)
    assert who["direct_yesno"] is None and who["baseline_yes"] is None
    # unanswerable: newsrag refused (right); the baselines never abstain (wrong)
    assert (null["direct_correct"], null["baseline_correct"], null["entity_question"]) == (True, False, False)
    assert recs[0]["answer"]["direct"] == {"text": "Yes.", "kind": "yes", "citations": [1]}

    m = summarize(recs)
    assert m["answers.direct_accuracy"] == pytest.approx(3 / 4)
    assert m["answers.direct_accuracy_yesno"] == pytest.approx(1 / 2)
    assert m["answers.direct_accuracy_entity"] == 1.0
    assert m["baselines.constant_yes.yesno_accuracy"] == pytest.approx(1 / 2)
    assert m["baselines.most_frequent_entity.entity_accuracy"] == 1.0
    assert m["baselines.combined.direct_accuracy"] == pytest.approx(2 / 4)
    assert m["by_type"]["comparison_query"]["answers.direct_accuracy"] == pytest.approx(1 / 2)
    assert m["yesno_confusion"]["newsrag"] == {"yes": {"yes": 1, "no": 0, "other": 0, "abstained": 0},
                                               "no": {"yes": 0, "no": 0, "other": 1, "abstained": 0}}
    assert m["yesno_confusion"]["constant_yes"]["no"] == {"yes": 1, "no": 0, "other": 0, "abstained": 0}


def test_no_direct_answer_scores_wrong_and_entity_questions_outside_multihop():
    item = EvalItem(id="w", question="Which company did Microsoft hire Sam Altman from?", answer="OpenAI", qtype="single",
                    gold=(GoldEvidence(fact="x", url="https://example.com/x"),))
    archive = _ScriptedArchive(OPENAI_PASSAGES, {item.question: _answer(item.question, "OpenAI fired him.[1]")})
    s = evaluate_item(archive, item, _AlwaysSupported())["scores"]
    assert s["correct"] is True  # the whole answer shares a word with the gold answer ...
    assert (s["direct_kind"], s["direct_correct"], s["direct_lenient"]) == (None, False, False)  # ... it has no direct one
    # own datasets: a which-company question is an entity question; Microsoft and Sam Altman are in
    # the question and TechCrunch is the outlet: OpenAI (2, first seen) ties Emmett Shear (2)
    assert s["entity_question"] is True and s["baseline_entity"] == "OpenAI"
    assert s["baseline_entity_correct"] is True and s["baseline_correct"] is True
    how = EvalItem(id="h", question="How much did Microsoft pay?", answer="$69bn", qtype="single")
    s = evaluate_item(_ScriptedArchive(OPENAI_PASSAGES, {how.question: _answer(how.question, "$69bn.")}), how,
                      _AlwaysSupported())["scores"]
    assert s["entity_question"] is False and s["baseline_entity"] is None and s["baseline_correct"] is False


def test_confusion_table_and_direct_section_render():
    table = {"yes": {"yes": 3, "no": 1, "other": 0, "abstained": 2}, "no": {"yes": 4, "no": 0, "other": 1, "abstained": 0}}
    assert confusion_table(table) == [
        "| gold | answered Yes | answered No | undecided/other | abstained | total |",
        "|---|---|---|---|---|---|",
        "| gold yes | 3 | 1 | 0 | 2 | 6 |",
        "| gold no | 4 | 0 | 1 | 0 | 5 |",
    ]
    assert confusion_table({})[2] == "| gold yes | 0 | 0 | 0 | 0 | 0 |"
    metrics = {"counts.questions": 2, "answers.direct_accuracy": 0.5, "baselines.combined.direct_accuracy": 0.25,
               "by_type": {"comparison_query": {"counts.questions": 2, "answers.direct_accuracy": 1.0}},
               "yesno_confusion": {"newsrag": table, "constant_yes": {"yes": {"yes": 6}, "no": {"yes": 5}}}}
    text = "\n".join(direct_section(metrics))
    assert "| **all** | 2 | 0.500 | – | 0.250 |" in text
    assert "| comparison_query | 2 | 1.000 | – | – |" in text
    assert text.index("Yes/no questions, newsrag:") < text.index("| gold yes | 3 | 1 | 0 | 2 | 6 |")
    assert "Yes/no questions, constant-Yes baseline:" in text and "| gold no | 5 | 0 | 0 | 0 | 5 |" in text


def _fake_run(d: Path, metrics: dict, direct: dict[str, bool]) -> Path:
    d.mkdir()
    (d / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (d / "answers.jsonl").write_text("".join(
        json.dumps({"question": q, "scores": {"correct": True, "direct_correct": v}}) + "\n" for q, v in direct.items()),
        encoding="utf-8")
    return d


def test_compare_shows_direct_accuracy_and_baselines(tmp_path):
    old = _fake_run(tmp_path / "old", {"answers.accuracy": 0.3, "by_type": {"t": {"answers.accuracy": 0.3}}},
                    {"q1": False, "q2": True})
    new = _fake_run(tmp_path / "new", {
        "answers.accuracy": 0.3, "answers.direct_accuracy": 0.5, "baselines.constant_yes.yesno_accuracy": 0.6,
        "by_type": {"t": {"answers.accuracy": 0.3, "answers.direct_accuracy": 0.5}}}, {"q1": True, "q2": True})
    out = compare_runs(old, new)
    rows = out.splitlines()
    direct_row = next(r for r in rows if r.startswith("answers.direct_accuracy "))
    assert direct_row.split()[1:3] == ["–", "0.500"]  # missing in the old run
    baseline_row = next(r for r in rows if r.startswith("baselines.constant_yes.yesno_accuracy"))
    assert "0.600" in baseline_row
    assert rows.index(direct_row) < rows.index(baseline_row)  # metric keys, then the baselines
    header = next(r for r in rows if r.startswith("per type (B-A)"))
    assert header.endswith(", exact_match, direct_accuracy")
    # answers.accuracy, exact_match (in neither run), direct_accuracy (only in B)
    assert rows[rows.index(header) + 1].split()[-3:] == ["+0.000", "–", "–"]
    assert "2 questions in both runs, answer (word overlap): 0 became correct, 0 became wrong" in out
    assert "2 questions in both runs, direct answer (strict): 1 became correct, 0 became wrong" in out


def test_run_eval_on_an_open_archive_reports_progress(tmp_path):
    from rag.archive import Archive
    from evals.run import run_eval

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    s = Settings(embedder="hash", index=str(tmp_path / "index" / "default"))
    archive = Archive.create(tmp_path / "open", s)
    archive.ingest([corpus])
    calls: list[tuple[int, int]] = []
    logs: list[str] = []
    cfg = EvalConfig(dataset="smoke", judge="offline", out=str(tmp_path / "run"), progress=False)
    m = run_eval(cfg, log=logs.append, on_progress=lambda done, total: calls.append((done, total)), archive=archive)
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert m["counts.questions"] == 5 and m["counts.errors"] == 0
    assert m["run"]["index"] == str(archive.path) and m["run"]["settings_hash"] == s.answer_hash()
    assert not any("ingesting" in x for x in logs) and not (tmp_path / "index").exists()
    assert archive.search("Alibaba memo", k=1)  # still open
    report = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "## Direct answers and baselines" in report and "| gold yes |" in report and "## Worst 10 items" in report

    # a callback that raises ends the run; the questions done so far are written
    def stop(done, total):
        if done == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_eval(EvalConfig(dataset="smoke", judge="offline", out=str(tmp_path / "run2"), progress=False),
                 log=logs.append, on_progress=stop, archive=archive)
    assert len(_records(tmp_path / "run2")) == 2
    with pytest.raises(BadInput, match="not both"):
        run_eval(EvalConfig(dataset="smoke", corpus=str(corpus), progress=False), archive=archive)
