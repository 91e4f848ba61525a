"""The ``eval`` subcommand of ``rag`` (registered through the ``rag.commands`` entry point)
and ``python -m evals``.

    rag eval --dataset PATH [--corpus PATH] [--index DIR] [--answerer extractive|llm]
             [--k 10] [--limit N] [--out DIR] [--judge auto|offline|llm] [--strict]
    rag eval --compare RUN_A RUN_B
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from rag.answer import ANSWERERS


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", help="MultiHop-RAG query JSON, own JSONL, or a name in evals/datasets (smoke, sample_qa)")
    p.add_argument("--corpus", help="ingest this corpus (file or folder) into a cached index first")
    p.add_argument("--answerer", choices=list(ANSWERERS), help="default: extractive (or $RAG_ANSWERER)")
    p.add_argument("-k", "--k", type=int, default=10, help="retrieved chunks kept per question in answers.jsonl (20 are scored for the hits@k curve)")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--out", help="write metrics.json, answers.jsonl, report.md and plots here")
    p.add_argument("--judge", default="auto", choices=["auto", "offline", "llm"],
                   help="citation support judge (auto: llm when an LLM endpoint is configured)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 if a question fails or a final citation does not resolve (for CI)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), help="print the differences of two runs")


def cmd_eval(args) -> int:
    """Run an eval (or compare two runs); print the headline metrics as JSON."""
    from rag.errors import BadInput

    if args.compare:
        from evals.report import compare_runs

        print(compare_runs(*args.compare))
        return 0
    if not args.dataset:
        raise BadInput("--dataset is required (or --compare RUN_A RUN_B)")
    if args.k < 1 or (args.limit is not None and args.limit < 1):
        raise BadInput("--k and --limit must be positive")
    from evals.metrics import BASELINE_KEYS, METRIC_KEYS
    from evals.run import EvalConfig, run_eval
    from rag.cli import settings_from_args

    settings = settings_from_args(args)
    cfg = EvalConfig(
        dataset=args.dataset, corpus=args.corpus, index=args.index, answerer=args.answerer, k=args.k,
        limit=args.limit, out=args.out, judge=args.judge, progress=not args.quiet,
    )
    m = run_eval(cfg, settings)
    print(json.dumps({k: m.get(k) for k in (*METRIC_KEYS, *BASELINE_KEYS)}, indent=2))
    if args.out:
        print(f"wrote {args.out}/metrics.json, answers.jsonl, report.md and plots", file=sys.stderr)
    if args.strict:
        validity = m.get("citations.validity_after_verification")
        problems = []
        if m.get("counts.errors"):
            problems.append(f"{m['counts.errors']} question(s) failed")
        if validity is not None and validity < 1.0:
            problems.append(f"citation validity after verification {validity:.3f} < 1.0")
        if m.get("citations.quotes_exact") not in (None, 1.0):
            problems.append(f"quotes not exact article spans: {m['citations.quotes_exact']:.3f}")
        if problems:
            print("rag eval --strict: " + "; ".join(problems), file=sys.stderr)
            return 1
    return 0


def register(subparsers, add_common) -> None:
    """Add the ``eval`` subcommand to ``rag``'s subparsers."""
    p = subparsers.add_parser("eval", help="measure retrieval, citations, answers and abstention on a dataset")
    _add_arguments(p)
    add_common(p)
    p.set_defaults(func=cmd_eval)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", help="index folder (default: $RAG_INDEX or index/default)")
    p.add_argument("--config", help="settings TOML file (default: ./rag.toml if present)")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evals``: parse arguments like ``rag eval`` and run."""
    from rag.cli import run_command

    p = argparse.ArgumentParser(prog="python -m evals", description="Eval harness (same as `rag eval`).")
    _add_arguments(p)
    _common(p)
    return run_command("evals", cmd_eval, p.parse_args(argv))
