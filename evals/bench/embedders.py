"""MiniLM against the static embedder in the bench: the retrieval step of ``rag bench --embedders``
(``evals.embedders`` on the dev split) and the table rows of both that step and the static
ingest of step 1."""
from __future__ import annotations

from pathlib import Path
from typing import Any

KEYS = ("hits@4", "hits@10", "mrr@10", "allgold@10")
# The targets: static ingest at least this many times the MiniLM bare-encode limit ...
STATIC_VS_LIMIT_TARGET = 10.0
# ... and the default ingest at least this many times the llama-index starter pipeline.
DEFAULT_VS_LLAMA_TARGET = 3.0


def bench_embedders(corpus: Path, questions: Path, indexes: list[str] | None, out: Path, log) -> dict[str, Any]:
    """Every retrieval figure for each embedder (indexes: MiniLM's, static's and optionally the
    int8 MiniLM's, else the cached ``index/eval-<hash>`` of each); writes ``embedders.md`` and the
    low-overlap set to ``out``."""
    from evals.embedders import markdown, run

    minilm, static, int8 = (list(indexes or []) + [None] * 3)[:3]
    res = run(str(corpus), str(questions), minilm, static, low_overlap_path=out / "low_overlap_dev.json", log=log,
              int8_index=int8)
    (out / "embedders.md").write_text(markdown(res), encoding="utf-8")
    return res


def _figs(r: dict) -> str:
    return " / ".join(f"{r[k]:.3f}" for k in KEYS)


def embedder_rows(res: dict[str, Any]) -> list[str]:
    """Rows: static ingest against the MiniLM limit and llama-index; retrieval and search p50
    with each embedder (static's figure, MiniLM's, the largest loss, the 0.01 rule)."""
    lines = []
    st = res.get("ingest", {}).get("static")
    if st:
        lines.append(f"| ingest with the static embedder, whole `rag ingest` processes ({st['chunks']} chunks; chunks/s) | "
                     f"{st['chunks_per_s']:.1f} ({st['process_seconds']:.1f} s, of which ingest {st['ingest_seconds']:.1f} s) | "
                     f"bare MiniLM encode {res['ingest']['chunks_per_s']['limit']:.1f} | {st['ratio_vs_minilm_limit']:.2f}x | "
                     f">= {STATIC_VS_LIMIT_TARGET:.0f}x |")
        if st.get("ratio_vs_llama"):
            lines.append(f"| static ingest (whole process) vs plain llama-index (MiniLM) | {st['process_seconds']:.1f} s | "
                         f"{res['ingest']['seconds']['llama']:.1f} s | {st['ratio_vs_llama']:.2f}x | |")
    sc = res.get("ingest", {}).get("static_corpus")
    if sc:
        lines.append(f"| ingest of the whole corpus with the static embedder, one `rag ingest` process ({sc['articles']} articles, "
                     f"{sc['chunks']} chunks; chunks/s) | {sc['chunks_per_s']:.0f} ({sc['process_seconds']:.1f} s) | "
                     f"bare MiniLM encode {res['ingest']['chunks_per_s']['limit']:.1f} | {sc['ratio_vs_minilm_limit']:.1f}x | "
                     f">= {STATIC_VS_LIMIT_TARGET:.0f}x |")
    emb = res.get("embedders")
    if emb:
        by = {(r["set"], r["embedder"], r["row"]): r for r in emb["rows"]}
        for (s, e, row), r in by.items():
            m = by.get((s, "minilm", row))
            if e in ("-", "minilm") or m is None:
                continue
            loss = max(m[k] - r[k] for k in KEYS)
            lines.append(f"| {s} ({r['questions']} q), {row}: Hits@4 / Hits@10 / MRR@10 / AllGold@10 | {e} {_figs(r)} | "
                         f"MiniLM {_figs(m)} | largest loss {loss:+.3f} | <= 0.01 |")
        for s in ("dev",):
            b = by.get((s, "-", "BM25 alone"))
            if b:
                lines.append(f"| {s}, BM25 alone (trivial baseline, same run) | {_figs(b)} | | | |")
        full = [by.get(("dev", e, "full (hybrid + shipped rerank)")) for e in ("static", "minilm")]
        if all(full):
            lines.append(f"| search p50 ms on the dev index (full retrieval), static vs MiniLM | {full[0]['p50_ms']:.0f} | "
                         f"{full[1]['p50_ms']:.0f} | {full[1]['p50_ms'] / full[0]['p50_ms']:.2f}x faster | |")
    return lines
