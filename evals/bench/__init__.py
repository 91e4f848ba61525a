"""Performance benchmark: ``rag bench`` / ``python -m evals.bench``.

    rag bench [--corpus PATH] [--scale N] [--out DIR] [--articles N] [--queries N]
              [--million N] [--embedder minilm|hash] [--vectors-from INDEX] [--no-llama]
              [--no-hostile] [--no-static] [--embedders [--embedder-indexes MINILM STATIC [INT8]]]

Every comparison is measured in the same run and reported as a ratio; the table is printed
and written to ``DIR/bench.md``, everything measured to ``DIR/bench.json``.

1. Ingest of ``--articles`` articles of the corpus, in rounds that alternate the three
   contenders (so that load from other processes hits all of them alike): newsrag's ingest
   (what ``rag ingest`` runs; model already loaded), the limit (bare
   ``SentenceTransformer.encode`` of the very same chunk texts, at batch sizes 16 and 32 in
   every round, the faster counting), and a plain llama-index pipeline (``VectorStoreIndex.from_documents`` with
   ``SentenceSplitter(200, 40)``, the same model behind a ``BaseEmbedding`` that mirrors
   ``HuggingFaceEmbedding``'s defaults, and a Chroma store); with MiniLM, also ``rag ingest`` with
   the static embedder as a whole child process per round (``--no-static``: skip).
2. Re-ingest of that corpus unchanged, and with 1% of its articles edited (a sentence inserted
   in the middle of the body).
3. Scale: the corpus replicated to ``--scale`` chunks (each replica a distinct URL and a tag
   word at the end of the body), ingested by the real pipeline in a child process whose
   embedder reuses the vectors computed for the originals (from ``--vectors-from``, an index
   of the same corpus, else from step 1's index, replicating only its articles): everything
   but the model is measured at full size, including chroma's insert and peak memory. Then
   ``search`` and ``ask`` (extractive) p50/p95, warm, without filter, with a date filter
   (about half the corpus) and with an outlet filter, against llama-index's retriever and
   query engine (``MockLLM``: retrieval and prompt packing, no generation) over the same
   chroma collection; the cold ``rag ask`` (process start to answer) and its peak RSS; the
   index size on disk; when the dense snapshot holds an ANN partition (``rag.index.ann``, from
   300k chunks), its recall@60 against brute force and both latencies per filter. At
   ``--scale 1000000`` (add ``--no-llama``: llama-index over a 1M chroma collection is what
   the filters avoid) the rows are held to the 1M targets (search <= 150 ms, query RSS <= 8 GB).
4. ``--ray-articles`` ingested by one process and by ``--ray`` on a local cluster.
5. Hostile inputs (``evals/hostile.py``): the time to refuse a 50 MB line, to load 200+ broken
   files, and to ingest them (bag-of-words embedder).
6. The dense store alone at ``--million`` random vectors: search p50 with and without masks.
7. ``--embedders``: MiniLM against the static embedder on the dev split (``evals.embedders``).

Modules: ``ingest`` (steps 1, 2, 4), ``scale`` (3: replicas, the replica embedder, the child
process), ``queries`` (3's latencies, the cold start, 6), ``hostile`` (5), ``embedders`` (7), ``llama`` (the
llama-index baseline), ``report`` (the table), ``run`` (the order), ``common`` (shared helpers).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from evals.bench.report import render_table
from evals.bench.scale import ReplicaEmbedder, build_replicas, text_key, with_param
from rag.index.embedding import DEFAULT_EMBEDDER

__all__ = ["ReplicaEmbedder", "build_replicas", "main", "register", "render_table", "text_key", "with_param"]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", help="articles to ingest (default: the MultiHop-RAG corpus beside the clone, else the bundled sample)")
    p.add_argument("--scale", type=int, default=100_000, help="chunks in the replicated index (0: skip; default 100000)")
    p.add_argument("--out", default="runs/bench", help="output folder (default runs/bench)")
    p.add_argument("--articles", type=int, default=48, help="articles in the model-backed ingest comparison (default 48)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of that comparison (default 2)")
    p.add_argument("--queries", type=int, default=30, help="questions per latency measurement (default 30)")
    p.add_argument("--questions", help="MultiHop-RAG query JSON for the latency questions (default: the dev split beside the corpus, else titles)")
    p.add_argument("--million", type=int, default=1_000_000, help="vectors in the dense-store-alone test (0: skip)")
    p.add_argument("--cold-runs", type=int, default=3, help="cold `rag ask` runs (default 3)")
    p.add_argument("--ray-articles", type=int, default=20, help="articles ingested by the single process and by --ray (0: skip; default 20)")
    p.add_argument("--embedder", default=DEFAULT_EMBEDDER, choices=["minilm", "minilm-int8", "hash"],
                   help=f"newsrag's embedder (default {DEFAULT_EMBEDDER}); hash: a quick smoke run of the harness")
    p.add_argument("--vectors-from", help="an index of the same corpus, built with --embedder, whose vectors the replicas reuse (default for the "
                        "MultiHop corpus: index/multihop for minilm, index/multihop-<embedder> otherwise)")
    p.add_argument("--no-llama", action="store_true", help="skip the llama-index baselines")
    p.add_argument("--no-hostile", action="store_true", help="skip the hostile-inputs timing (writes 100 MB, then removes it)")
    p.add_argument("--no-static", action="store_true", help="skip the static-embedder `rag ingest` processes of step 1")
    p.add_argument("--embedders", action="store_true",
                   help="also MiniLM vs its int8 ONNX version and static, retrieval on the dev split (evals.embedders)")
    p.add_argument("--embedder-indexes", nargs="+", metavar="INDEX",
                   help="MINILM STATIC [INT8]: indexes of the corpus for --embedders (default: the cached "
                        "index/eval-<hash> of each)")
    p.add_argument("--quiet", action="store_true")


def cmd_bench(args) -> int:
    """Run the benchmark; print the table."""
    from evals.bench.run import run_bench

    res = run_bench(args)
    print(render_table(res))
    print(f"\nwrote {Path(args.out) / 'bench.json'} and bench.md", file=sys.stderr)
    return 0


def register(subparsers, add_common) -> None:
    """The ``bench`` subcommand of ``rag`` (entry point ``rag.commands``)."""
    p = subparsers.add_parser("bench", help="measure ingest, re-ingest, query latency, cold start and memory against baselines")
    _add_arguments(p)
    p.set_defaults(func=cmd_bench)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evals.bench``: run the benchmark (or, with ``--worker JOB``, the scale child)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:  # the scale step's child process
        from evals.bench.scale import worker_scale_ingest

        print(json.dumps(worker_scale_ingest(json.loads(argv[1])), default=str))
        return 0
    p = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__.split("\n\n")[0])
    _add_arguments(p)
    args = p.parse_args(argv)
    from rag.cli import run_command

    return run_command("bench", cmd_bench, args)

