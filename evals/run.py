"""Run a dataset through an archive: retrieval, answers, citation checks, latency.

Per question: ``archive.search(question, max(k, 20))`` once (retrieval metrics and the
hits@k curve; matched against ``chunk.text``, the passage without its header), then
``archive.ask(question)`` (its own retrieval of ``settings.answer_passages`` passages, timed
as the question's latency), then the citation metrics of the verified answer with the
support judge, its direct answer scored alone (strict and lenient, see :mod:`evals.metrics`),
and two baselines on the top 10 passages of the same search: "Yes" for yes/no questions, the
most frequent name for questions asking for a person or organization. ``--corpus`` first
ingests the corpus into an index cached by the corpus's content hash, the embedder and the
chunking settings.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from evals import metrics as M
from evals.datasets import EvalItem, load_dataset
from rag.errors import BadInput, RagError
from rag.ingest.ids import article_id as make_article_id
from rag.settings import Settings

CURVE_K = 20
MAX_CONSECUTIVE_ERRORS = 10
RETRIEVAL_TEXT = "chunk.text (the passage; the header with headline, outlet and date is not included)"
MULTIHOP_TYPES = ("inference_query", "comparison_query", "temporal_query", "null_query")


@dataclass
class EvalConfig:
    """What to evaluate and where to write it."""

    dataset: str
    corpus: str | None = None
    index: str | None = None
    answerer: str | None = None
    k: int = 10
    limit: int | None = None
    out: str | None = None
    judge: str = "auto"
    progress: bool = True


# ---- index -------------------------------------------------------------------------------
def corpus_fingerprint(corpus: str | Path, settings: Settings) -> str:
    """sha256 of the corpus bytes (file, or every file under a folder), the embedder and the
    chunking settings; 12 hex digits."""
    from rag.index.embedding import make_embedder

    root = Path(corpus)
    if not root.exists():
        raise RagError(f"no such corpus: {root}")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        h.update((f.name if f == root else str(f.relative_to(root))).encode() + b"\0")
        h.update(f.read_bytes())
    h.update(f"{make_embedder(settings).name}|{settings.chunk_tokens}|{settings.chunk_overlap}".encode())
    return h.hexdigest()[:12]


def prepare_archive(cfg: EvalConfig, settings: Settings, log=print):
    """Open the archive to evaluate: ``cfg.index``, or with ``cfg.corpus`` an index holding
    that corpus (``index/eval-<hash>`` unless ``cfg.index`` is given), ingesting it unless
    a previous run already did."""
    from rag.archive import Archive

    if not cfg.corpus:
        return Archive.open(cfg.index or settings.index, settings)
    fp = corpus_fingerprint(cfg.corpus, settings)
    path = Path(cfg.index) if cfg.index else Path(settings.index).parent / f"eval-{fp}"
    marker = path / "eval-corpus.json"
    if marker.is_file() and (path / "manifest.json").is_file():
        try:
            if json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") == fp:
                log(f"corpus unchanged since the last run: using {path}")
                return Archive.open(path, settings)
        except ValueError:
            pass
    log(f"ingesting {cfg.corpus} into {path}")
    archive = Archive.create(path, settings)
    report = archive.ingest([cfg.corpus], progress=cfg.progress)
    log(report.summary())
    marker.write_text(json.dumps({"fingerprint": fp, "corpus": str(cfg.corpus), "report": report.to_dict()}, indent=2),
                      encoding="utf-8")
    return archive


# ---- one question ------------------------------------------------------------------------
def entity_question(item: EvalItem) -> bool:
    """Does ``item`` ask for a name (person or organization)? MultiHop-RAG's
    ``inference_query`` questions (its who/which questions); in other datasets, answerable
    questions whose :func:`rag.answer.question.answer_type` is person or org. Never a question
    whose gold answer is yes/no."""
    if not item.answerable or M.gold_yesno(item.answer) is not None:
        return False
    if item.qtype == "inference_query":
        return True
    if item.qtype in MULTIHOP_TYPES:
        return False
    from rag.answer.question import answer_type

    return answer_type(item.question) in ("person", "org")


def baseline_scores(item: EvalItem, hits: Sequence) -> dict[str, Any]:
    """The per-item predictions and strict/lenient scores of the baselines, from the top
    :data:`evals.metrics.BASELINE_PASSAGES` hits of the question's search: "Yes" for a yes/no
    gold answer, the most frequent name for an entity question, nothing otherwise (wrong;
    the baselines never abstain, so an unanswerable question is wrong too)."""
    yn = M.gold_yesno(item.answer) if item.answerable else None
    is_entity = entity_question(item)
    top = list(hits)[: M.BASELINE_PASSAGES]
    entity = (M.most_frequent_entity(item.question, [h.chunk.text for h in top], [h.chunk.outlet for h in top])
              if is_entity else None)
    pred = "Yes" if yn else entity
    if not item.answerable:
        strict = lenient = False
    elif item.answer is None or not item.answer.strip():
        strict = lenient = None
    elif pred is None:
        strict = lenient = False
    else:
        strict, lenient = M.direct_strict(pred, item.answer), M.direct_lenient(pred, item.answer)
    return {
        "baseline_yes": "Yes" if yn else None, "baseline_yes_correct": (yn == "yes") if yn else None,
        "baseline_entity": entity,
        "baseline_entity_correct": (entity is not None and M.direct_strict(entity, item.answer or "")) if is_entity else None,
        "baseline_correct": strict, "baseline_lenient": lenient,
    }


def judged_passage(src) -> str:
    """What the support judge reads for a cited source: its headline, outlet and publication
    date (as a reader sees them beside the passage, and as a dateline like "TechCrunch,
    November 6, 2023:" cites them) above the passage itself."""
    d = src.published_at
    when = f"{d.strftime('%B')} {d.day}, {d.year} ({d.date().isoformat()})" if d is not None else "undated"
    return f"{src.title}\n{src.outlet or 'unknown outlet'}, {when}\n\n{src.passage}"


def _also_in_ids(archive, article_id: str, cache: dict[str, list[str]]) -> list[str]:
    if article_id not in cache:
        art = archive.store.records.get_article(article_id)
        urls = [w.rsplit(" | ", 1)[-1] for w in (art.also_in if art else ())]
        cache[article_id] = [make_article_id(u, "", "") for u in urls if u.startswith("http")]
    return cache[article_id]


def _quote_exact(archive, src, cache: dict[str, str | None]) -> bool:
    if src.article_id not in cache:
        art = archive.store.records.get_article(src.article_id)
        cache[src.article_id] = art.body if art else None
    body = cache[src.article_id]
    return body is not None and body[src.start : src.end] == src.quote


def evaluate_item(archive, item: EvalItem, judge, k: int = 10, answerer: str | None = None,
                  caches: dict | None = None) -> dict:
    """Evaluate one question; returns its answers.jsonl record (with ``scores``)."""
    caches = caches if caches is not None else {"also_in": {}, "body": {}}
    rec: dict[str, Any] = {
        "id": item.id, "question": item.question, "question_type": item.qtype,
        "answerable": item.answerable, "gold_answer": item.answer,
        "gold": [asdict(g) for g in item.gold], "answer": None, "retrieved": [], "scores": {}, "error": None,
    }
    scores: dict[str, Any] = {"qtype": item.qtype, "answerable": item.answerable, "error": None}
    try:
        t0 = time.perf_counter()
        hits = archive.search(item.question, k=max(k, CURVE_K))
        search_ms = (time.perf_counter() - t0) * 1000
        texts = [h.chunk.text for h in hits]
        rec["retrieved"] = [
            {"rank": h.rank, "chunk_id": h.chunk.id, "article_id": h.chunk.article_id, "url": h.chunk.url,
             "title": h.chunk.title, "text": h.chunk.text}
            for h in hits[:k]
        ]
        facts = item.facts
        if facts:
            curve = M.hits_curve(texts, facts, CURVE_K)
            scores.update({
                "hits@4": M.hits_at(texts, facts, 4), "hits@10": M.hits_at(texts, facts, 10),
                "map@10": M.map_at_10(texts, facts), "mrr@10": M.mrr_at_10(texts, facts),
                "allgold@10": M.allgold_at(texts, facts, 10), "gold_recall@10": M.gold_recall_at(texts, facts, 10),
                "hits_curve": curve, "first_hit_rank": next((i + 1 for i, v in enumerate(curve) if v), None),
            })
        yn = M.gold_yesno(item.answer) if item.answerable else None
        scores.update({"gold_yesno": yn, "entity_question": entity_question(item)})
        scores.update(baseline_scores(item, hits))
        t1 = time.perf_counter()
        ans = archive.ask(item.question, answerer=answerer)
        latency = (time.perf_counter() - t1) * 1000
        rec["answer"] = ans.to_dict()

        by_n = {s.n: s for s in ans.sources}
        sentences = [(s.text, [judged_passage(by_n[c]) for c in s.citations if c in by_n]) for s in ans.sentences]
        recall, precision, n_cites = M.alce_scores(sentences, judge.supports) if sentences else (None, None, 0)
        final_total, final_valid = M.resolved_markers(ans.text, by_n)
        cited = set()
        for s in ans.sources:
            cited.add(s.article_id)
            cited.update(_also_in_ids(archive, s.article_id, caches["also_in"]))
        correct, em = M.answer_scores(ans.text, ans.abstained, item.answerable, item.answer)
        direct = getattr(ans, "direct", None)
        d_text, d_kind = (direct.text, direct.kind) if direct is not None else (None, None)
        d_strict, d_lenient = M.direct_scores(d_text, d_kind, ans.abstained, item.answerable, item.answer)
        scores.update({
            "direct_kind": d_kind, "direct_correct": d_strict, "direct_lenient": d_lenient,
            "direct_yesno": M.yesno_outcome(d_text, d_kind, ans.abstained) if yn else None,
        })
        scores.update({
            "abstained": ans.abstained, "correct": correct, "exact_match": em,
            "gold_terms": (0.0 if ans.abstained else M.gold_term_recall(M.strip_markers(ans.text), item.answer))
            if item.answerable and item.answer else None,
            "citations_total": ans.citations_total, "citations_invalid": ans.citations_invalid,
            "removed_citations": ans.removed_citations,
            "final_markers": final_total, "final_markers_valid": final_valid,
            "quotes_exact": sum(_quote_exact(archive, s, caches["body"]) for s in ans.sources),
            "n_sources": len(ans.sources), "n_sentences": len(ans.sentences), "n_citations": n_cites,
            "unsupported_sentences": sum(1 for s in ans.sentences if not s.supported),
            "citation_recall": recall, "citation_precision": precision,
            "gold_article_recall": M.gold_article_recall(cited, item.gold_keys) if item.answerable else None,
            "gold_fact_cited": M.gold_fact_cited([s.passage for s in ans.sources], facts) if item.answerable else None,
            "gold_sentence_cited": M.gold_sentence_cited([s.quote for s in ans.sources], facts) if item.answerable else None,
            "latency_ms": round(latency, 1), "search_ms": round(search_ms, 1),
        })
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # one failing question must not end the run; it is counted
        rec["error"] = scores["error"] = f"{type(exc).__name__}: {exc}"
    rec["scores"] = scores
    return rec


# ---- the run -----------------------------------------------------------------------------
def summarize(records: Sequence[dict]) -> dict:
    """metrics.json content (flat metric keys, per question type, hits@k curves) from the
    records of a run."""
    scores = [r["scores"] for r in records]
    out = M.aggregate(scores)
    ok = [s for s in scores if not s.get("error")]
    out["citations.quotes_exact"] = M.ratio(sum(s["quotes_exact"] for s in ok), sum(s["n_sources"] for s in ok))
    types = sorted({s["qtype"] for s in scores})
    out["by_type"] = {t: M.aggregate([s for s in scores if s["qtype"] == t]) for t in types}
    out["yesno_confusion"] = {
        "newsrag": M.yesno_confusion((s.get("gold_yesno"), s.get("direct_yesno")) for s in ok),
        "constant_yes": M.yesno_confusion(
            (s.get("gold_yesno"), M.yesno_label(s["baseline_yes"]) if s.get("baseline_yes") else None) for s in ok),
    }
    curves = {t: M.mean_curve([s["hits_curve"] for s in ok if s["qtype"] == t and s.get("hits_curve")]) for t in types}
    out["hits_curve"] = {
        "k": list(range(1, CURVE_K + 1)),
        "all": M.mean_curve([s["hits_curve"] for s in ok if s.get("hits_curve")]),
        "by_type": {t: c for t, c in curves.items() if c},
    }
    return out


def run_eval(cfg: EvalConfig, settings: Settings | None = None, log=None, *,
             on_progress: Callable[[int, int], None] | None = None, archive=None) -> dict:
    """Evaluate ``cfg.dataset``; write metrics.json, answers.jsonl, report.md and plots to
    ``cfg.out`` (when given) and return the metrics.

    ``on_progress(done, total)`` is called after each question (an exception it raises ends
    the run; answers.jsonl keeps the questions done). ``archive``: evaluate this open
    :class:`rag.archive.Archive` as it is (no ingest; ``cfg.corpus`` must then be unset and
    ``cfg.index`` is ignored); ``settings`` default to the archive's. The archive is not
    closed."""
    from tqdm import tqdm

    from evals.judge import make_judge

    log = log or (lambda msg: print(msg, file=sys.stderr))
    if archive is not None and cfg.corpus:
        raise BadInput("give either an open archive or a corpus to ingest, not both")
    settings = settings or (archive.settings if archive is not None else None) or Settings.load()
    started = time.time()
    items = load_dataset(cfg.dataset, cfg.limit)
    archive = archive if archive is not None else prepare_archive(cfg, settings, log)
    judge = make_judge(cfg.judge, settings, embedder=None)
    out = Path(cfg.out) if cfg.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    caches: dict = {"also_in": {}, "body": {}}
    streak = 0
    fh = open(out / "answers.jsonl", "w", encoding="utf-8") if out is not None else None
    try:
        bar = tqdm(items, desc="eval", unit="q", file=sys.stderr, disable=not cfg.progress, dynamic_ncols=True)
        for item in bar:
            rec = evaluate_item(archive, item, judge, cfg.k, cfg.answerer, caches)
            records.append(rec)
            if fh is not None:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                fh.flush()
            streak = streak + 1 if rec["error"] else 0
            if streak >= MAX_CONSECUTIVE_ERRORS:
                raise RagError(f"aborting after {streak} consecutive failed questions; last: {rec['error']}")
            if cfg.progress and len(records) % 10 == 0:
                errs = sum(1 for r in records if r["error"])
                bar.set_postfix(errors=errs, refresh=False)
            if on_progress is not None:
                on_progress(len(records), len(items))
    finally:
        if fh is not None:
            fh.close()
    result = summarize(records)
    result["judge"] = {"name": judge.name}
    cal = getattr(judge, "calibration", None)
    if cal:
        result["judge"]["agreement"] = cal.get("agreement")
        result["judge"]["n_pairs"] = cal.get("n_pairs")
    result["run"] = {
        "dataset": str(cfg.dataset), "corpus": cfg.corpus, "index": str(archive.path),
        "answerer": cfg.answerer or settings.answerer, "k": cfg.k, "limit": cfg.limit,
        "settings_hash": settings.answer_hash(), "embedder": archive.store.config.embedder,
        "retrieval_text": RETRIEVAL_TEXT, "answer_passages": settings.answer_passages,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_seconds": round(time.time() - started, 1),
    }
    if out is not None:
        from evals.report import write_report

        (out / "metrics.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        write_report(out, result, records, cal or None)
    return result
