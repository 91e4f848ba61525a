"""What every bench step shares: paths, latency summaries, memory and machine facts, child
processes, and corpus files (read, written, edited)."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
SHARED = ROOT.parent / "shared" / "datasets" / "multihop-rag"
DEFAULT_CORPUS = SHARED / "corpus.json"
DEFAULT_QUERIES = SHARED / "queries-dev.json"
DEFAULT_VECTORS = ROOT / "index" / "multihop"  # MiniLM's; another embedder's: multihop-<embedder>
SAMPLE = ROOT / "rag" / "sample"


def default_vectors(embedder: str) -> Path:
    """The index of the MultiHop corpus built with ``embedder`` whose vectors replicas reuse."""
    return DEFAULT_VECTORS if embedder == "minilm" else DEFAULT_VECTORS.with_name(f"multihop-{embedder}")


def pct(xs: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile of ``xs``, or None when empty."""
    return float(np.percentile(np.asarray(xs), q)) if len(xs) else None


def lat(xs: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/mean in milliseconds of durations in seconds."""
    ms = [x * 1000 for x in xs]
    return {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "mean_ms": statistics.fmean(ms) if ms else None, "n": len(ms)}


def load_average() -> float:
    """The one-minute load average."""
    return os.getloadavg()[0]


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB. Not ``ru_maxrss``: Linux carries the
    parent's peak over into a child at exec, so a child of a big process would report that."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_mb(folder: Path) -> float:
    """Bytes of the files under ``folder`` in MB (what ``du`` counts, less the blocks' slack)."""
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) / 2**20


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    from importlib import metadata

    versions = {}
    for pkg in ("torch", "sentence-transformers", "chromadb", "llama-index-core", "bm25s", "numpy", "ray"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return {"cpu": cpu, "nproc": os.cpu_count(), "mem_gb": mem, "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions, "load_at_start": round(load_average(), 2)}


def run_child(cmd: list[str], env: dict | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Run a process to completion; wall seconds, exit code, output and its stderr's tail.
    (``RUSAGE_CHILDREN`` holds only a max over all children, so a child that needs its own
    peak memory reports it itself.)"""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - t
    return {"seconds": wall, "code": proc.returncode, "stdout": out, "stderr": err[-4000:]}


def child_env(embedder_name: str) -> dict[str, str]:
    """The environment of a child process: this checkout, the embedder, offline, and no index
    settings inherited from the caller."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAG_EMBEDDER=embedder_name, HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false")
    for k in ("RAG_INDEX", "RAG_CHROMA_URL", "RAG_CONFIG"):
        env.pop(k, None)
    return env


def settings_for(index: Path, embedder: str):
    """Settings for ``index`` with ``embedder``, ignoring the caller's environment."""
    from rag.settings import Settings

    return Settings.load(env={}, index=str(index), embedder=embedder)


def corpus_articles(path: Path) -> list:
    """The articles of a file or folder (loader errors left out)."""
    from rag.ingest.loaders import iter_articles

    return [a for a in iter_articles([path]) if hasattr(a, "body")]


def write_jsonl(articles, path: Path) -> Path:
    """Write ``articles`` as JSONL records the loaders read back as the same articles."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps({
                "title": a.title, "body": a.body, "source": a.outlet, "author": a.author,
                "published_at": a.published_at.isoformat() if a.published_at else None,
                "url": a.url, "category": a.category,
            }, ensure_ascii=False) + "\n")
    return path


def write_parts(articles: list, folder: Path, per_file: int) -> list[str]:
    """``articles`` as JSONL files of ``per_file`` records (``part000.jsonl``, ...) in ``folder``."""
    return [str(write_jsonl(articles[i : i + per_file], folder / f"part{i // per_file:03d}.jsonl"))
            for i in range(0, len(articles), per_file)]


def _edit(article, n: int):
    """The article with a short sentence inserted at a sentence boundary near the middle."""
    body = article.body
    mid = body.find(". ", len(body) // 2)
    mid = len(body) if mid == -1 else mid + 1
    return dataclasses.replace(article, body=body[:mid] + f" Correction {n}: an earlier version misstated a detail." + body[mid:])


def edited(articles: list, share: float = 0.01) -> tuple[list, int]:
    """``articles`` with ``share`` of them (at least one) edited, spread evenly; articles with a
    URL are picked (an article without one is identified by its text: an edit makes it new)."""
    n = max(1, math.ceil(len(articles) * share))
    cands = [i for i, a in enumerate(articles) if a.url] or list(range(len(articles)))
    picks = cands[:: max(1, len(cands) // n)][:n]
    out = list(articles)
    for j, i in enumerate(picks):
        out[i] = _edit(articles[i], j)
    return out, len(picks)
