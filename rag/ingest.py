"""Ingest: files -> articles -> chunks -> vectors + records, in committed batches.

Order per batch (crash-safe): new chunk vectors are written to chroma first, then the
article and chunk records are committed in one SQLite transaction, then vectors of chunks an
edit removed are deleted. An article is "ingested" once its records commit; a crash at any
point leaves an index that opens, and the next run redoes only what was not committed.
Unchanged articles are skipped by content hash; unchanged passages of an edited article keep
their chunk ids and are not embedded again; identical bodies under other URLs are stored once.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from rag.chunking import chunk_article
from rag.embedding import Embedder
from rag.errors import BadInput
from rag.ids import body_hash, content_hash
from rag.loaders import iter_articles
from rag.store import IndexStore
from rag.types import Article, BadRecord, Chunk, IngestReport

BATCH_CHUNKS = 256


def article_hash(article: Article) -> str:
    """Hash of everything about an article that a reader sees."""
    d = article.to_dict()
    for k in ("id", "source_file", "also_in"):
        d.pop(k)
    return content_hash(d)


@dataclass
class _Pending:
    upserts: list[tuple[Article, str, str, list[Chunk]]] = field(default_factory=list)
    new_chunks: list[Chunk] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    also_in: list[tuple[str, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


def ingest_paths(
    store: IndexStore,
    embedder: Embedder,
    paths: Sequence[str | Path],
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest every article under ``paths`` into ``store``. Bad records are reported in the
    returned report and skipped; everything else is ingested. ``on_progress(articles,
    chunks)`` is called after each committed batch (the UI uses it)."""
    for p in paths:
        if not Path(p).exists():
            raise BadInput("no such file or directory", file=str(p))
    t0 = time.perf_counter()
    counts = dict(new=0, updated=0, unchanged=0, duplicates=0, skipped=0, chunks_added=0, chunks_removed=0)
    errors: list[BadRecord] = []
    cfg = store.config
    seen_bodies: dict[str, str] = {}
    pending = _Pending()
    bar = None
    done_articles = 0

    def flush() -> None:
        nonlocal pending, done_articles
        if not pending.upserts and not pending.also_in:
            return
        if pending.new_chunks:
            vecs = embedder.embed_texts([c.indexed_text for c in pending.new_chunks])
            store.vectors.upsert(pending.new_chunks, vecs)
        store.records.commit_articles(pending.upserts, pending.removed, pending.also_in)
        store.vectors.delete(pending.removed)
        counts["chunks_added"] += len(pending.new_chunks)
        counts["chunks_removed"] += len(pending.removed)
        done_articles += len(pending.upserts)
        if bar is not None:
            bar.set_postfix(chunks=counts["chunks_added"], refresh=False)
        if on_progress is not None:
            on_progress(done_articles, counts["chunks_added"])
        pending = _Pending()

    with store.ingest_lock():
        bar = _bar(progress)
        try:
            for item in iter_articles(paths):
                if bar is not None:
                    bar.update(1)
                if isinstance(item, BadRecord):
                    errors.append(item)
                    counts["skipped"] += 1
                    continue
                if item.id in pending.ids:
                    flush()  # the same article twice in one run: commit the first one first
                chash, bhash = article_hash(item), body_hash(item.body)
                state = store.records.article_state(item.id)
                if state is not None and state[0] == chash:
                    counts["unchanged"] += 1
                    continue
                dup = seen_bodies.get(bhash) or store.records.find_by_body_hash(bhash)
                if dup is not None and dup != item.id:
                    counts["duplicates"] += 1
                    pending.also_in.append((dup, _where(item)))
                    continue
                seen_bodies[bhash] = item.id
                chunks = chunk_article(item, cfg.chunk_tokens, cfg.chunk_overlap)
                old = set(state[1]) if state else set()
                new_ids = {c.id for c in chunks}
                pending.upserts.append((item, chash, bhash, chunks))
                pending.new_chunks.extend(c for c in chunks if c.id not in old)
                pending.removed.extend(sorted(old - new_ids))
                pending.ids.add(item.id)
                counts["updated" if state else "new"] += 1
                if len(pending.new_chunks) >= BATCH_CHUNKS:
                    flush()
            flush()
        finally:
            if bar is not None:
                bar.close()
            store.refresh()
    return IngestReport(seconds=time.perf_counter() - t0, errors=tuple(errors), **counts)


def _where(article: Article) -> str:
    parts = [p for p in (article.outlet, article.published_at.date().isoformat() if article.published_at else None, article.url or article.source_file) if p]
    return " | ".join(parts)


def _bar(progress: bool):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(desc="ingest", unit="article", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
