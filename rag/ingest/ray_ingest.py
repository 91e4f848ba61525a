"""Distributed ingestion on a Ray cluster: ``rag ingest --ray [ADDRESS] PATHS``.

Parsing and chunking run as Ray Data tasks (one per input file), embedding as Ray actors (one
per GPU, or one per CPU slot but one, which is left to the parsing tasks), and this process,
the driver, keeps what is sequential by nature: the unchanged / edited / duplicate decisions
against the records and the ordered, crash-safe writes (vectors to chroma first, then the
SQLite commit). The driver runs the very code of the single-process ingest
(:func:`rag.ingest.pipeline.ingest_paths`) on the chunked articles the tasks return, with an embedder
that spreads each batch over the actors, so the index it builds is the same: the same chunk
ids, the same records, the same vectors.

Without an address a local Ray cluster is started for the run (and stopped after it). For a
real cluster, every node needs newsrag installed (``pip install 'newsrag[ray]'``), the index
folder lives on the driver, and the vectors should go to a Chroma server that the driver
reaches (``RAG_CHROMA_URL``; ``chroma run`` or a Chroma cluster).
"""
from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from rag.errors import BackendUnavailable
from rag.types import BadRecord, ChunkedArticle, IngestReport

LOCAL = "local"


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable(f"Ray is not installed ({exc.name}): pip install 'newsrag[ray]'") from exc
    return ray


def _parse_and_chunk(chunk_tokens: int, overlap: int) -> Callable[[dict], list[dict]]:
    """The Ray Data task: one file -> one row per record, a :class:`ChunkedArticle` or a
    BadRecord, pickled (frozen dataclasses round-trip exactly)."""

    def run(row: dict) -> list[dict]:
        from rag.ingest.chunking import chunk_article
        from rag.ingest.loaders import load_file

        out = []
        for j, item in enumerate(load_file(row["path"])):
            payload = item if isinstance(item, BadRecord) else ChunkedArticle(item, tuple(chunk_article(item, chunk_tokens, overlap)))
            out.append({"file": row["file"], "record": j, "payload": pickle.dumps(payload)})
        return out

    return run


class _EmbedActor:
    """One embedding model per actor (the class is wrapped by ``ray.remote`` at run time)."""

    def __init__(self, embedder: str, batch_size: int, threads: int):
        if threads > 0:
            os.environ["OMP_NUM_THREADS"] = str(threads)
            try:
                import torch

                torch.set_num_threads(threads)
            except ImportError:  # pragma: no cover - the hash embedder needs no torch
                pass
        from rag.index.embedding import make_embedder
        from rag.settings import Settings

        self._embedder = make_embedder(Settings.load(env={}, embedder=embedder, embed_batch_size=batch_size))

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._embedder.embed_texts(texts)


class RayEmbedder:
    """The driver's embedder: each batch is split into length-balanced shards, one per actor,
    embedded in parallel, and put back in order."""

    def __init__(self, actors: list, name: str, dim: int):
        self._actors = actors
        self.name = name
        self.dim = dim

    def embed_texts(self, texts, progress=None):
        import ray

        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        shards = [order[i :: len(self._actors)] for i in range(len(self._actors))]
        refs = [(s, a.embed.remote([texts[i] for i in s])) for s, a in zip(shards, self._actors) if s]
        for shard, ref in refs:
            out[shard] = ray.get(ref)
        if progress is not None:
            progress(len(texts))
        return out

    def embed_query(self, text):  # pragma: no cover - ingest never embeds a query
        raise NotImplementedError("RayEmbedder embeds passages only")


def _quiet(progress: bool) -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # the same order as the single process: same dedup choices
    ctx.enable_progress_bars = progress
    for name in ("ray", "ray.data", "ray.data._internal"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _rows(ray, paths: Sequence[str | Path], chunk_tokens: int, overlap: int, progress: bool,
          bad: list[BadRecord]) -> Iterator[ChunkedArticle]:
    """Articles with their chunks in input order, parsed and chunked by Ray Data tasks,
    streamed to the driver; the BadRecords met on the way go to ``bad``."""
    from rag.ingest.loaders import iter_files

    files: list[str] = []
    for item in iter_files(paths):
        if isinstance(item, BadRecord):
            bad.append(item)
        else:
            files.append(item)
    if not files:
        return
    _quiet(progress)
    ds = ray.data.from_items([{"file": i, "path": f} for i, f in enumerate(files)], override_num_blocks=len(files))
    ds = ds.flat_map(_parse_and_chunk(chunk_tokens, overlap))
    for row in ds.iter_rows():
        got = pickle.loads(row["payload"])
        if isinstance(got, BadRecord):
            bad.append(got)
        else:
            yield got


def ingest_ray(
    archive,
    paths: Sequence[str | Path],
    address: str | None = LOCAL,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    actors: int | None = None,
    stats: dict[str, Any] | None = None,
) -> IngestReport:
    """Ingest ``paths`` into ``archive`` (an :class:`rag.archive.Archive`) with parsing and
    chunking on Ray Data and embedding on Ray actors; ``address`` is a Ray cluster address
    (``ray://...`` or ``HOST:PORT``) or ``"local"`` to start a local cluster for this run."""
    for p in paths:
        if not Path(p).exists():
            from rag.errors import BadInput

            raise BadInput("no such file or directory", file=str(p))
    ray = _import_ray()
    from rag.ingest.pipeline import BATCH_CHUNKS, ingest_paths

    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        try:
            if address in (None, "", LOCAL):
                ray.init(**kw)
            else:
                ray.init(address=address, **kw)
        except Exception as exc:  # ray raises many kinds; the user needs one line
            raise BackendUnavailable(f"cannot start or reach the Ray cluster at {address or LOCAL}: {exc}") from exc
        started = True
    try:
        res = ray.cluster_resources()
        gpus, cpus = int(res.get("GPU", 0)), int(res.get("CPU", 1))
        if gpus:
            n = actors or gpus
            opts: dict[str, Any] = {"num_gpus": 1, "num_cpus": 1}
            threads = 0
        else:
            n = actors or max(1, cpus - 1)  # one CPU slot stays free for the parsing tasks
            opts = {"num_cpus": 1}
            threads = max(1, cpus // (n + 1)) if n > 1 else max(1, cpus)
        remote = ray.remote(**opts)(_EmbedActor)
        settings = archive.settings
        pool = [remote.remote(settings.embedder, settings.embed_batch_size, threads) for _ in range(n)]
        embedder = RayEmbedder(pool, archive.embedder.name, archive.embedder.dim)
        cfg = archive.store.config
        bad: list[BadRecord] = []
        rows = _rows(ray, paths, cfg.chunk_tokens, cfg.chunk_overlap, progress, bad)
        stats = {} if stats is None else stats
        stats.update(actors=n, actor_threads=threads, cluster_cpus=cpus, cluster_gpus=gpus)
        with archive._ingest_lock:
            return ingest_paths(
                archive.store, embedder, paths, progress=progress, on_progress=on_progress, stats=stats,
                chunked=rows, bad_records=bad, batch_chunks=BATCH_CHUNKS * n,
            )
    finally:
        if started:
            ray.shutdown()
