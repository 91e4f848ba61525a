"""The table of a bench result: ``bench.md`` and what ``rag bench`` prints (the README holds one)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.bench.embedders import DEFAULT_VS_LLAMA_TARGET, embedder_rows


MILLION_RUN = 500_000  # a scale run of at least this many chunks is held to the 1M targets


def _f(x, fmt="{:.1f}") -> str:
    """``x`` formatted, or a dash when missing."""
    return "–" if x is None else fmt.format(x)


def render_table(res: dict[str, Any]) -> str:
    """The markdown table of a result dict (the README holds one)."""
    m = res["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['nproc']} cores, {m['mem_gb']} GB RAM; load average {m['load_at_start']} at start, "
        f"{m.get('load_at_end')} at end; embedder {res['embedder']}; corpus {Path(res['corpus']).name}; "
        f"total {res.get('total_s', 0) / 60:.1f} min.",
        "",
        "| measure | newsrag | baseline | ratio | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rows in (_ingest_rows, embedder_rows, _scale_rows, _query_rows, _other_rows):
        lines.extend(rows(res))
    return "\n".join(lines)


def _ingest_rows(res: dict[str, Any]) -> list[str]:
    """Ingest against the limit and llama-index; re-ingest."""
    lines = []
    ing = res["ingest"]
    n = ing["articles"]
    lines.append(f"| ingest, {n} articles / {ing['chunks']} chunks (articles/s; chunks/s) | "
                 f"{_f(ing['articles_per_s']['newsrag'], '{:.2f}')}; {_f(ing['chunks_per_s']['newsrag'])} | "
                 f"bare encode (batch {ing['best_batch_size']}): {_f(ing['articles_per_s']['limit'], '{:.2f}')}; {_f(ing['chunks_per_s']['limit'])} | "
                 f"{_f(ing['ratio_vs_limit'], '{:.2f}')}x | >= 0.8x |")
    if ing.get("ratio_vs_llama"):
        lines.append(f"| ingest vs plain llama-index (articles/s) | {_f(ing['articles_per_s']['newsrag'], '{:.2f}')} | "
                     f"{_f(ing['articles_per_s']['llama'], '{:.2f}')} ({ing['llama_chunks']} chunks) | "
                     f"{_f(ing['ratio_vs_llama'], '{:.2f}')}x | >= {DEFAULT_VS_LLAMA_TARGET:.0f}x |")
    re_ = res["reingest"]
    lines.append(f"| re-ingest unchanged (s) | {_f(re_['unchanged_seconds'], '{:.2f}')} | full ingest {_f(ing['seconds']['newsrag'])} | "
                 f"{_f(100 * re_['unchanged_ratio'], '{:.1f}')}% | <= 5% |")
    lines.append(f"| re-ingest, 1% edited ({re_['edited_articles']} articles; {re_['edited_chunks_embedded']} chunks embedded, "
                 f"{re_['edited_chunks_reused']} reused) (s) | {_f(re_['edited_seconds'], '{:.2f}')} | full ingest {_f(ing['seconds']['newsrag'])} | "
                 f"{_f(100 * re_['edited_ratio'], '{:.1f}')}% | <= 8% |")
    return lines


def _scale_rows(res: dict[str, Any]) -> list[str]:
    """The replicated index: its ingest, memory and re-ingests."""
    lines = []
    ing = res["ingest"]
    sc = res.get("scale")
    if sc:
        full = sc["full"]
        chunks = sc["counts"]["chunks"]
        st = full["stages"]
        embed_s = chunks / ing["chunks_per_s"]["limit"] if ing["chunks_per_s"]["limit"] else None
        other = full["seconds"] - st.get("parse", 0) - st.get("wait", 0) - st.get("refresh", 0)
        lines.append(f"| scale ingest, {sc['articles']} articles / {chunks} chunks, vectors reused (s) | {_f(full['seconds'])} "
                     f"(writer thread: chroma {_f(st.get('chroma'))}, sqlite {_f(st.get('sqlite'))}; main thread: parse+chunk "
                     f"{_f(st.get('parse'))}, then syndication clusters {_f(other)}, snapshots {_f(st.get('refresh'))}) | "
                     f"embedding them at the limit: {_f(embed_s, '{:.0f}')} | "
                     f"{_f(100 * full['seconds'] / embed_s if embed_s else None, '{:.1f}')}% | everything but the model small |")
        lines.append(f"| peak RSS of that ingest (MB) | {_f(sc['peak_rss_mb'], '{:.0f}')} | | | <= 3072 |")
        if sc.get("index_mb") is not None:  # size on disk
            parts = ", ".join(f"{k} {v:.0f}" for k, v in sc.get("parts_mb", {}).items())
            lines.append(f"| index size on disk (MB) | {_f(sc['index_mb'], '{:.0f}')} ({parts}) | | | |")
        for name in ("unchanged", "edited"):
            r = sc[name]
            lines.append(f"| scale re-ingest {name} (s) | {_f(r['seconds'])} | full ingest projected {_f((embed_s or 0) + full['seconds'], '{:.0f}')} | "
                         f"{_f(100 * r['seconds'] / ((embed_s or 0) + full['seconds']), '{:.2f}')}% | {'<= 5%' if name == 'unchanged' else '<= 8%'} |")
    return lines


def _query_rows(res: dict[str, Any]) -> list[str]:
    """Warm search and ask per filter against llama-index; the cold ``rag ask``."""
    lines = []
    q = res.get("queries")
    million = (res.get("scale") or {}).get("counts", {}).get("chunks", 0) >= MILLION_RUN  # the 1M targets
    search_target = "<= 150 ms" if million else "<= 50 ms; not slower"
    if q:
        for name in ("none", "date", "outlet"):
            if f"search_{name}" not in q:
                continue
            frac = q.get(f"fraction_{name}", 1.0)
            label = {"none": "no filter", "date": f"date filter ({frac:.0%} of chunks)", "outlet": f"outlet filter ({frac:.1%})"}[name]
            li_r = q.get(f"llama_retrieve_{name}", {})
            li_q = q.get(f"llama_query_{name}", {})
            s, a = q[f"search_{name}"], q[f"ask_{name}"]
            lines.append(f"| search p50 / p95 ms, {label} | {_f(s['p50_ms'])} / {_f(s['p95_ms'])} | llama-index retriever {_f(li_r.get('p50_ms'))} / {_f(li_r.get('p95_ms'))} | "
                         f"{_f(li_r['p50_ms'] / s['p50_ms'] if li_r.get('p50_ms') else None, '{:.2f}')}x | {search_target} |")
            lines.append(f"| ask (extractive) p50 / p95 ms, {label} | {_f(a['p50_ms'])} / {_f(a['p95_ms'])} | llama-index query engine (MockLLM) {_f(li_q.get('p50_ms'))} / {_f(li_q.get('p95_ms'))} | "
                         f"{_f(li_q['p50_ms'] / a['p50_ms'] if li_q.get('p50_ms') else None, '{:.2f}')}x | <= 250 ms |")
    c = res.get("cold")
    if c:
        lines.append(f"| cold `rag ask` at scale (s, median of {len(c['seconds'])}) | {_f(c['median_s'])} | | | <= 8 s |")
        lines.append(f"| peak RSS of that query process (MB) | {_f(c['peak_rss_mb'], '{:.0f}')} | | | {'<= 8192' if million else ''} |")
    lines.extend(_ann_rows(res))
    return lines


def _ann_rows(res: dict[str, Any]) -> list[str]:
    """The approximate dense search against brute force, per filter."""
    a = res.get("ann")
    if not a or not a.get("ann"):
        return []
    lines = []
    for name in ("none", "date", "outlet"):
        r = a.get(name)
        if r:
            lines.append(f"| dense ANN ({a['rows']} rows, {a['nlist']} lists, nprobe {a['nprobe']}), {name}: recall@60; p50 / p95 ms | "
                         f"{r['recall']:.3f}; {_f(r['ann']['p50_ms'])} / {_f(r['ann']['p95_ms'])} | brute force {_f(r['brute']['p50_ms'])} / "
                         f"{_f(r['brute']['p95_ms'])} | {_f(r['brute']['p50_ms'] / r['ann']['p50_ms'] if r['ann']['p50_ms'] else None, '{:.1f}')}x | recall >= 0.95 |")
    return lines


def _other_rows(res: dict[str, Any]) -> list[str]:
    """The Ray path, hostile inputs, the dense store alone."""
    lines = []
    ry = res.get("ray")
    if ry:
        lines.append(f"| `rag ingest --ray` (local cluster), {ry['articles']} articles / {ry['chunks']} chunks (s) | {_f(ry['ray_s'])} "
                     f"(+ cluster start {_f(ry['cluster_start_s'])}; same chunk ids: {'yes' if ry['same_chunk_ids'] else 'NO'}) | "
                     f"single process {_f(ry['single_s'])} | {_f(ry['overhead_ratio'], '{:.2f}')}x the time | |")
    h = res.get("hostile")
    if h:
        t = h["targets_s"]
        lines.append(f"| hostile inputs: a 50 MB line refused (s, slowest of {len(h['huge_line_seconds'])}) | {_f(h['huge_line_max_s'])} "
                     f"(refused clearly: {'yes' if h['huge_line_refused'] else 'NO'}) | | | <= {t['huge_line']} s |")
        lines.append(f"| hostile inputs: load {h['files']} files (s) | {_f(h['load_s'])} ({h['loaded_articles']} of {h['valid']} articles, "
                     f"{h['loaded_errors']} of {h['errors']} errors) | | | <= {t['load']} s |")
        lines.append(f"| hostile inputs: `rag ingest` of them, bag-of-words embedder (s) | {_f(h['ingest_s'])} ({h['ingested_articles']} stored, "
                     f"{h['ingest_skipped']} skipped) | | | <= {t['ingest']} s |")
    mm = res.get("million")
    if mm:
        lines.append(f"| dense store, {mm['vectors']} vectors ({mm['matrix_mb']:.0f} MB): top-60 p50 ms no filter / date (50%) / outlet (2%) | "
                     f"{_f(mm['query_none']['p50_ms'])} / {_f(mm['query_date']['p50_ms'])} / {_f(mm['query_outlet']['p50_ms'])} | | | |")
    return lines
