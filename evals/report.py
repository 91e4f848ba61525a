"""report.md and PNG plots of an eval run, and ``--compare`` of two runs."""
from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any, Sequence

from evals import metrics as M
from evals.metrics import BASELINE_KEYS, METRIC_KEYS, mean

BAR_METRICS = (
    ("retrieval.hits@10", "hits@10"),
    ("retrieval.allgold@10", "allgold@10"),
    ("citations.recall", "citation recall"),
    ("citations.precision", "citation precision"),
    ("citations.gold_fact_cited", "gold fact cited"),
    ("answers.accuracy", "answer accuracy"),
    ("answers.exact_match", "exact match"),
    ("answers.direct_accuracy", "direct accuracy"),
)
TYPE_COLUMNS = (
    ("counts.questions", "n"), ("retrieval.hits@10", "hits@10"), ("retrieval.mrr@10", "MRR@10"),
    ("retrieval.allgold@10", "allgold@10"), ("citations.recall", "cit. recall"),
    ("citations.precision", "cit. precision"), ("citations.gold_fact_cited", "gold fact cited"),
    ("answers.accuracy", "accuracy"), ("answers.exact_match", "EM"), ("answers.gold_terms", "gold terms"),
    ("abstention.null_accuracy", "null acc."), ("abstention.false_refusal", "false refusal"),
)


def fmt(v: Any) -> str:
    """A metric value for a table: 3 decimals, integers as is, ``–`` for missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) >= 100 else f"{v:.3f}"
    return str(v)


DIRECT_COLUMNS = (
    ("counts.questions", "n"), ("answers.direct_accuracy", "newsrag strict"),
    ("answers.direct_accuracy_lenient", "newsrag lenient"), ("baselines.combined.direct_accuracy", "baseline strict"),
    ("baselines.combined.direct_accuracy_lenient", "baseline lenient"), ("counts.yesno", "yes/no n"),
    ("answers.direct_accuracy_yesno", "newsrag yes/no"), ("baselines.constant_yes.yesno_accuracy", "constant Yes"),
    ("counts.entity", "entity n"), ("answers.direct_accuracy_entity", "newsrag entity"),
    ("baselines.most_frequent_entity.entity_accuracy", "most frequent entity"),
)
CONFUSION_COLUMNS = (("yes", "answered Yes"), ("no", "answered No"), ("other", "undecided/other"),
                     ("abstained", "abstained"))


def confusion_table(table: dict[str, dict[str, int]]) -> list[str]:
    """Markdown rows of a yes/no confusion table (:func:`evals.metrics.yesno_confusion`):
    rows gold yes / gold no, columns answered Yes, No, undecided/other, abstained, total."""
    rows = ["| gold | " + " | ".join(c for _, c in CONFUSION_COLUMNS) + " | total |",
            "|---|" + "---|" * (len(CONFUSION_COLUMNS) + 1)]
    for gold in ("yes", "no"):
        counts = table.get(gold, {})
        cells = [int(counts.get(k, 0)) for k, _ in CONFUSION_COLUMNS]
        rows.append(f"| gold {gold} | " + " | ".join(str(c) for c in cells) + f" | {sum(cells)} |")
    return rows


def direct_section(metrics: dict) -> list[str]:
    """The report's "Direct answers and baselines" section: direct accuracy per type for
    newsrag beside the baselines, and the yes/no confusion tables."""
    L = ["## Direct answers and baselines", "",
         "The direct answer (the short answer the text opens with) scored alone. Strict: the gold answer, "
         "lower-cased, is contained in it; a yes/no gold answer needs it to start with that word and not contain "
         "the other; no direct answer, an undecided one or an abstention is wrong for an answerable question; an "
         "unanswerable question is correct iff refused. Lenient: MultiHop-RAG's word overlap on the same answer as "
         "its qa_evaluate.py extracts it (white-space split, the closing period dropped). Baselines, on the same top "
         f"{M.BASELINE_PASSAGES} retrieved passages: constant \"Yes\" for questions whose gold answer is yes/no; "
         "the most frequent name in the passages (names already in the question and outlet names dropped) for "
         "questions asking for a person or organization; the combined baseline answers both kinds, nothing "
         "else, and never abstains.", "",
         "| type | " + " | ".join(c for _, c in DIRECT_COLUMNS) + " |", "|---|" + "---|" * len(DIRECT_COLUMNS)]
    for t, m in [("**all**", metrics), *sorted(metrics.get("by_type", {}).items())]:
        L.append(f"| {t} | " + " | ".join(fmt(m.get(k)) for k, _ in DIRECT_COLUMNS) + " |")
    conf = metrics.get("yesno_confusion") or {}
    for name, label in (("newsrag", "newsrag"), ("constant_yes", "constant-Yes baseline")):
        L += ["", f"Yes/no questions, {label}:", ""] + confusion_table(conf.get(name, {}))
    return L


def item_quality(s: dict) -> float:
    """A per-question score for ranking the worst items: the mean of answer correctness,
    citation recall and precision, gold fact cited and hits@10 (errors rank first)."""
    if s.get("error"):
        return -1.0
    v = mean([s.get("correct"), s.get("citation_recall"), s.get("citation_precision"),
              s.get("gold_fact_cited"), s.get("hits@10")])
    return 0.0 if v is None else v


def _short(text: str, n: int) -> str:
    return textwrap.shorten(" ".join((text or "").split()), n, placeholder=" …")


def _worst(records: Sequence[dict], n: int = 10) -> list[str]:
    lines: list[str] = []
    def key(r: dict) -> tuple:
        s = r["scores"]  # ties: answered before abstained, then the best-retrieved first
        return (item_quality(s), bool(s.get("abstained")), s.get("first_hit_rank") or 99, r["id"])

    ranked = sorted(records, key=key)[:n]
    for r in ranked:
        s = r["scores"]
        lines.append(f"### {r['id']} ({r['question_type']}) — score {item_quality(s):.2f}\n")
        lines.append(f"**Q:** {r['question']}\n")
        if r.get("gold_answer") is not None:
            lines.append(f"**Gold answer:** {r['gold_answer']}" + ("" if r["answerable"] else " (unanswerable)") + "\n")
        if r.get("error"):
            lines.append(f"**Error:** `{r['error']}`\n")
            continue
        a = r["answer"] or {}
        lines.append(f"**Answer:** {_short(a.get('text', ''), 700)}\n")
        d = a.get("direct")
        lines.append((f"**Direct:** {_short(d['text'], 200)} ({d['kind']})" if d else "**Direct:** none")
                     + f" · strict {fmt(s.get('direct_correct'))} · lenient {fmt(s.get('direct_lenient'))}"
                     + (f" · baseline “{s.get('baseline_yes') or s.get('baseline_entity')}”"
                        if s.get("baseline_yes") or s.get("baseline_entity") else "") + "\n")
        lines.append(
            "correct {c} · citation recall {cr} · precision {cp} · gold fact cited {gf} · hits@10 {h} · first gold rank {fr}\n".format(
                c=fmt(s.get("correct")), cr=fmt(s.get("citation_recall")), cp=fmt(s.get("citation_precision")),
                gf=fmt(s.get("gold_fact_cited")), h=fmt(s.get("hits@10")), fr=fmt(s.get("first_hit_rank")))
        )
        for src in a.get("sources", []):
            lines.append(f"- [{src['n']}] *{src['title']}* — {src.get('outlet') or 'unknown outlet'}: "
                         f"“{_short(src['quote'], 300)}”  \n  passage: {_short(src.get('passage', ''), 500)}")
        if not a.get("sources"):
            facts = [g["fact"] for g in r.get("gold", [])]
            for x in r.get("retrieved", [])[:3]:
                hit = " (holds a gold fact)" if facts and any(M.hit_matrix([x["text"]], facts)) else ""
                lines.append(f"- retrieved #{x['rank']}{hit}: *{x.get('title') or ''}*: {_short(x['text'], 400)}")
        for g in r.get("gold", []):
            lines.append(f"- gold fact ({g.get('url') or g.get('article_id')}): “{_short(g['fact'], 300)}”")
        lines.append("")
    return lines


def write_plots(out: Path, metrics: dict) -> list[str]:
    """metrics_by_type.png (bars per question type) and hits_at_k.png (k = 1..20)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {"all": metrics, **metrics.get("by_type", {})}
    names = list(groups)
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(names) + 4), 4.8))
    width = 0.8 / len(BAR_METRICS)
    for j, (key, label) in enumerate(BAR_METRICS):
        vals = [groups[g].get(key) for g in names]
        xs = [i + (j - (len(BAR_METRICS) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, [v if v is not None else 0.0 for v in vals], width, label=label)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([f"{g}\n(n={groups[g].get('counts.questions', '?')})" for g in names], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("Metrics per question type (missing values drawn as 0)")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.tight_layout()
    fig.savefig(out / "metrics_by_type.png", dpi=110)
    plt.close(fig)

    curve = metrics.get("hits_curve", {})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ks = curve.get("k", [])
    if curve.get("all"):
        ax.plot(ks[: len(curve["all"])], curve["all"], marker="o", linewidth=2.5, label="all", color="black")
    for t, c in sorted(curve.get("by_type", {}).items()):
        ax.plot(ks[: len(c)], c, marker=".", label=t)
    ax.set_xlabel("k (retrieved chunks)")
    ax.set_ylabel("hits@k")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(ks or [1])
    ax.grid(alpha=0.3)
    ax.set_title("hits@k (MultiHop-RAG rule)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "hits_at_k.png", dpi=110)
    plt.close(fig)
    return ["metrics_by_type.png", "hits_at_k.png"]


def write_report(out: Path, metrics: dict, records: Sequence[dict], calibration: dict | None = None) -> Path:
    """Write report.md and the plots into ``out``; returns the report path."""
    from evals.judge import format_agreement

    out = Path(out)
    plots = write_plots(out, metrics)
    run = metrics.get("run", {})
    judge = metrics.get("judge", {})
    L = [f"# Eval report: {Path(run.get('dataset', '?')).name}", ""]
    L.append(f"- index `{run.get('index')}` ({run.get('embedder')}), answerer **{run.get('answerer')}** "
             f"({run.get('answer_passages')} passages shown), settings hash `{run.get('settings_hash')}`")
    L.append(f"- {metrics.get('counts.questions')} questions, {metrics.get('counts.errors')} errors, "
             f"{fmt(run.get('wall_seconds'))} s wall time, started {run.get('started_at')}")
    L.append(f"- support judge: {judge.get('name')}")
    L.append(f"- retrieval matched against {run.get('retrieval_text')}: a chunk hits when a gold fact, "
             "spaces and newlines removed, is a substring of it (MultiHop-RAG's rule); queries without gold "
             "facts (null queries) are dropped from retrieval metrics")
    L += ["", "Citation scores are always read beside answer correctness: copying a passage scores perfect "
          "citations and poor answers.", "",
          "How to read it: `citations.validity` counts the answerer's markers that resolve to a shown passage "
          "before the verifier removes the others; `validity_after_verification` checks the final answers. "
          "Citation recall/precision follow ALCE with the support judge named above, over answered questions. "
          "`answers.accuracy` is MultiHop-RAG's lenient rule (the answer shares any whitespace-separated word "
          "with the gold answer); `answers.gold_terms` is the stricter share of the gold answer's content words "
          "found in the answer. An abstention counts as correct only for an unanswerable question. "
          "`answers.direct_accuracy*` score the short direct answer alone (see \"Direct answers and baselines\"); "
          "`baselines.*` are trivial rules on the same retrieved passages.",
          "", "## Summary", "", "| metric | value |", "|---|---|"]
    for key in (*METRIC_KEYS, *BASELINE_KEYS, "citations.quotes_exact", "counts.answerable", "counts.unanswerable",
                "counts.abstained", "counts.direct", "counts.yesno", "counts.entity", "counts.citations_written",
                "counts.citations_final"):
        L.append(f"| {key} | {fmt(metrics.get(key))} |")
    L += ["", "## Per question type", "", "| type | " + " | ".join(c for _, c in TYPE_COLUMNS) + " |",
          "|---|" + "---|" * len(TYPE_COLUMNS)]
    for t, m in [("**all**", metrics), *sorted(metrics.get("by_type", {}).items())]:
        L.append(f"| {t} | " + " | ".join(fmt(m.get(k)) for k, _ in TYPE_COLUMNS) + " |")
    L += [""] + direct_section(metrics)
    L += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    curve = metrics.get("hits_curve", {}).get("all") or []
    if curve:
        L += ["", "hits@k, k = 1..20: " + ", ".join(f"{v:.3f}" for v in curve)]
    L += ["", "## Support judge", "", f"{judge.get('name')}.", ""]
    if calibration:
        L += ["Agreement with the hand-labelled pairs (`evals/datasets/support_pairs.jsonl`):", "", "```",
              format_agreement(calibration), "```"]
    else:
        L.append("No calibration figures for this judge.")
    L += ["", "## Worst 10 items", ""] + _worst(records)
    path = out / "report.md"
    path.write_text("\n".join(L) + "\n", encoding="utf-8")
    return path


def _numeric(d: dict) -> dict[str, float]:
    return {k: float(v) for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def compare_runs(a: str | Path, b: str | Path) -> str:
    """A table of the metrics of two runs (folders or metrics.json files) and their
    differences, then per-type differences and questions whose correctness changed."""
    def load(p: str | Path) -> tuple[dict, Path]:
        p = Path(p)
        f = p / "metrics.json" if p.is_dir() else p
        from rag.errors import BadInput

        try:
            return json.loads(f.read_text(encoding="utf-8")), f.parent
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot read run: {exc}", file=str(f)) from exc

    (ma, da), (mb, db) = load(a), load(b)
    na, nb = _numeric(ma), _numeric(mb)
    head = (*METRIC_KEYS, *BASELINE_KEYS)
    keys = [k for k in head if k in na or k in nb] + sorted((set(na) | set(nb)) - set(head))
    width = max(len(k) for k in keys) if keys else 10
    rows = [f"{'metric':<{width}}  {'A':>10}  {'B':>10}  {'B-A':>10}", "-" * (width + 36)]
    for k in keys:
        va, vb = na.get(k), nb.get(k)
        d = f"{vb - va:+10.4f}" if va is not None and vb is not None else f"{'':>10}"
        mark = "  *" if va is not None and vb is not None and abs(vb - va) > 1e-9 else ""
        rows.append(f"{k:<{width}}  {fmt(va) if va is not None else '–':>10}  {fmt(vb) if vb is not None else '–':>10}  {d}{mark}")
    types = sorted(set(ma.get("by_type", {})) | set(mb.get("by_type", {})))
    if types:
        rows += ["", "per type (B-A): " + ", ".join(k.split(".", 1)[1] for k, _ in BAR_METRICS)]
        for t in types:
            ta, tb = ma.get("by_type", {}).get(t, {}), mb.get("by_type", {}).get(t, {})
            diffs = []
            for k, _ in BAR_METRICS:
                x, y = ta.get(k), tb.get(k)
                diffs.append(f"{y - x:+.3f}" if x is not None and y is not None else "–")
            rows.append(f"  {t:<20} " + "  ".join(diffs))
    sa, sb = _answers(da), _answers(db)
    common = set(sa) & set(sb)
    if common:
        rows.append("")
        for key, label in (("correct", "answer (word overlap)"), ("direct_correct", "direct answer (strict)")):
            ra = {q: sa[q].get(key) for q in common}
            rb = {q: sb[q].get(key) for q in common}
            better = sorted(q for q in common if rb[q] is True and ra[q] is False)
            worse = sorted(q for q in common if rb[q] is False and ra[q] is True)
            rows.append(f"{len(common)} questions in both runs, {label}: {len(better)} became correct, "
                        f"{len(worse)} became wrong")
            if worse:
                rows.append("  became wrong: " + ", ".join(worse[:20]) + (" …" if len(worse) > 20 else ""))
    return "\n".join(rows)


def _answers(run_dir: Path) -> dict[str, dict]:
    """Per question of a run's answers.jsonl, its scores."""
    f = run_dir / "answers.jsonl"
    out: dict[str, dict] = {}
    if f.is_file():
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                out[r["question"]] = r.get("scores") or {}
    return out
