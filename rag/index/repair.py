"""The repairs of ``rag index verify --repair``: what each finding of ``rag.index.integrity``'s
checks asks for (a lost manifest rebuilt, records restored from the vector store, orphans
deleted, articles re-chunked, missing vectors embedded, snapshots rebuilt, leftovers removed).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from rag.errors import RagError
from rag.index.embedding import DEFAULT_EMBEDDER, embedder_kind
from rag.index.revisions import revision_chunk_ids
from rag.index.store import CHROMA, DERIVED, RECORDS, IndexStore, new_manifest, read_manifest
from rag.settings import Settings

if TYPE_CHECKING:  # the checks import this module: their finding type is for annotations only
    from rag.index.integrity import Finding
    from rag.index.restore import RestoreOutcome

EMBED_BATCH = 256  # chunks re-embedded per call when vectors are missing (bounds memory)
_PROBE_CHUNKS = 3  # stored chunks a rebuilt manifest's embedder must reproduce: enough to tell models apart
_SAME_VECTOR = 0.99  # least cosine of a re-embedded chunk to its stored vector (float noise, not another model)


# ---- manifest reconstruction -------------------------------------------------------------
def _chroma_collections(path: Path) -> list[str]:
    """The collections in the index's embedded chroma folder (through the chroma adapter)."""
    from rag.index.vectors import collection_names

    return collection_names(path / CHROMA)


def rebuild_manifest(path: Path, settings: Settings) -> tuple[dict | None, str]:
    """A manifest for an index whose manifest.json is lost: from an intact .tmp, else from
    ``settings``, accepted only if its embedder reproduces stored vectors."""
    from rag.index.embedding import make_embedder

    tmp, _ = read_manifest(path / "manifest.json.tmp")
    if tmp is not None:
        cand, origin = tmp, "manifest.json.tmp"
    else:
        emb = make_embedder(settings)
        names = _chroma_collections(path) if (path / CHROMA).is_dir() else []
        if len(names) > 1:
            return None, f"chroma holds {len(names)} collections ({', '.join(names)}); cannot tell which is this index's"
        cand = new_manifest(path, settings, emb.name, emb.dim, collection=names[0] if names else None)
        cand["created_at"] = None
        origin = f"settings (embedder {settings.embedder or DEFAULT_EMBEDDER})"
    # Check the embedder against stored vectors before recording it.
    from rag.index.records import Records
    from rag.index.vectors import open_vector_store

    kind = embedder_kind(cand["embedder"])
    if kind is None:
        return None, f"unknown embedder {cand['embedder']!r} in {origin}"
    records = Records(path / RECORDS)
    try:
        ids = records.chunk_ids()[:_PROBE_CHUNKS]
        if ids:
            store = open_vector_store(cand["collection"], path=path / CHROMA, url=settings.chroma_url)
            try:
                vecs = store.get_vectors(ids)
            finally:
                store.close()
            chunks = records.get_chunks(list(vecs))
            if not vecs:
                return None, "no stored vectors to check an embedder against"
            emb = make_embedder(settings.with_(embedder=kind))
            got = emb.embed_texts([chunks[c].indexed_text for c in vecs])
            want = np.stack([vecs[c] for c in vecs])
            if got.shape != want.shape or float(np.min(np.sum(got * want, axis=1))) < _SAME_VECTOR:
                return None, f"the embedder from {origin} ({cand['embedder']}) does not reproduce the stored vectors"
        chunk_ok = True
        if ids:
            from rag.ingest.chunking import chunk_article

            art_id = records.get_chunks(ids[:1])[ids[0]].article_id
            art = records.get_article(art_id)
            state = records.article_state(art_id)
            if art is not None and state is not None:
                got_ids = [c.id for c in chunk_article(art, cand["chunk_tokens"], cand["chunk_overlap"])]
                chunk_ok = got_ids == state[1]
        if not chunk_ok:
            return None, f"the chunking from {origin} ({cand['chunk_tokens']}/{cand['chunk_overlap']}) does not reproduce the stored chunks"
    finally:
        records.close()
    return cand, origin


# ---- repairs -------------------------------------------------------------------------------
def _embedder_for(store: IndexStore, settings: Settings):
    from rag.index.embedding import make_embedder

    kind = embedder_kind(store.config.embedder)
    if kind is None:
        raise RagError(f"cannot re-embed: unknown embedder {store.config.embedder!r}")
    return make_embedder(settings.with_(embedder=kind))


def restore_from_vectors(store: IndexStore, findings: Sequence[Finding], log: Callable[[str], None]) -> RestoreOutcome:
    """Rebuild the records from the vector store, then the snapshots and manifest from them;
    returns what :func:`~rag.index.restore.restore_records` did
    (``kept_vectors``: chunks of articles it could not rebuild, not to be deleted as orphans;
    ``refused``: why it changed nothing)."""
    from rag.index.restore import restore_records

    kinds = {f.data for f in findings if f.fix == "restore_records"}
    outcome = restore_records(store, lossy_ok=bool(kinds & {"unreadable", "empty"}))
    if outcome.refused is None:
        for line in outcome.lines():
            log(line)
        gen = store.rebuild_derived(DERIVED)  # the old snapshots may match the new generation by chance
        store.refresh()
        log(f"rebuilt the {' and '.join(DERIVED)} snapshots (generation {gen}) and manifest.json")
    return outcome


def apply_repairs(store: IndexStore, findings: Sequence[Finding], settings: Settings, log: Callable[[str], None],
                  keep: set[str] = frozenset()) -> None:
    """Every repair the findings ask for except a restore (:func:`restore_from_vectors` runs
    first); vectors in ``keep`` are not deleted as orphans."""
    _remove_leftovers(findings, log)
    kinds = {f.fix: f for f in findings if f.fix}
    if "orphan_rows" in kinds:
        ids = kinds["orphan_rows"].data
        store.records.commit_articles([], ids)
        store.vectors.delete(ids)
        log(f"deleted {len(ids)} chunk rows without an article (and their vectors)")
    if "revisions" in kinds:
        from rag.index.revisions import drop

        gone = drop(store.records, kinds["revisions"].data)
        store.vectors.delete(gone)
        log(f"dropped {len(kinds['revisions'].data)} broken article revisions ({len(gone)} chunks and their vectors)")
    rechunk = sorted({a for f in findings if f.fix == "rechunk" for a in f.data})
    if rechunk:
        _rechunk(store, rechunk, settings, log)
    _delete_orphan_vectors(store, kinds.get("orphan_vectors"), bool(rechunk), keep, log)
    lacking = _embed_missing(store, "missing_vectors" in kinds or bool(rechunk), settings, log)
    rebuild = {f.data for f in findings if f.fix == "snapshot"}
    if rechunk or "orphan_rows" in kinds or "revisions" in kinds or lacking:
        rebuild |= set(DERIVED)
    if rebuild:
        gen = store.rebuild_derived(rebuild)
        for name in DERIVED:
            if name in rebuild:
                log(f"rebuilt the {name} snapshot (generation {gen})")
    store.refresh()  # rebuilds anything still stale and rewrites the manifest from the records
    if "manifest" in kinds:
        log("rewrote manifest.json from the records")


def _remove_leftovers(findings: Sequence[Finding], log: Callable[[str], None]) -> None:
    for f in findings:
        if f.fix == "leftover":
            p: Path = f.data
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            log(f"removed {p.name}")


def _rechunk(store: IndexStore, article_ids: list[str], settings: Settings, log: Callable[[str], None]) -> None:
    """Chunk and embed these articles again from their bodies."""
    from rag.ingest.chunking import chunk_article
    from rag.ingest.ids import body_hash
    from rag.ingest.pipeline import article_hash

    emb = _embedder_for(store, settings)
    cfg = store.config
    upserts, removed, new_chunks = [], [], []
    for aid in article_ids:
        art = store.records.get_article(aid)
        state = store.records.article_state(aid)
        if art is None:
            continue
        chunks = chunk_article(art, cfg.chunk_tokens, cfg.chunk_overlap)
        old = set(state[1]) if state else set()
        upserts.append((art, article_hash(art), body_hash(art.body), chunks))
        removed.extend(sorted(old - {c.id for c in chunks}))
        new_chunks.extend(chunks)
    if new_chunks:
        store.vectors.upsert(new_chunks, emb.embed_texts([c.indexed_text for c in new_chunks]))
    store.records.commit_articles(upserts, removed)
    store.vectors.delete(removed)
    _rewrite_metadata(store, [a.id for a, *_rest in upserts])
    log(f"re-chunked {len(upserts)} articles ({len(new_chunks)} chunks embedded with {store.config.embedder})")


def _delete_orphan_vectors(store: IndexStore, finding: Finding | None, rechunked: bool, keep: set[str],
                           log: Callable[[str], None]) -> None:
    """Delete vectors with no chunk record (recomputed after a re-chunk changed the ids), then
    forget journaled deletes that are done."""
    if finding is not None and not rechunked:
        ids = [c for c in finding.data if c not in keep]
    elif rechunked:
        ids = sorted(store.vectors.ids() - set(store.records.chunk_ids()) - set(revision_chunk_ids(store.records)) - keep)
    else:
        ids = []
    if ids:
        store.vectors.delete(ids)
        log(f"deleted {len(ids)} orphan vectors")
    pending = store.records.pending_vector_deletes()
    if pending and not set(pending) & store.vectors.ids():
        store.records.clear_pending_vector_deletes()  # the journaled deletes are done


def _embed_missing(store: IndexStore, wanted: bool, settings: Settings, log: Callable[[str], None]) -> list[str]:
    """Embed, with the index's own embedder, the chunks that lack a vector; returns their ids."""
    lacking = sorted((set(store.records.chunk_ids()) | set(revision_chunk_ids(store.records))) - store.vectors.ids()) if wanted else []
    if lacking:
        emb = _embedder_for(store, settings)
        chunks = store.records.get_chunks(lacking)
        todo = [chunks[c] for c in lacking if c in chunks]
        for i in range(0, len(todo), EMBED_BATCH):
            part = todo[i : i + EMBED_BATCH]
            store.vectors.upsert(part, emb.embed_texts([c.indexed_text for c in part]))
        _rewrite_metadata(store, sorted({c.article_id for c in todo}))
        log(f"re-embedded {len(todo)} chunks that lacked a vector ({store.config.embedder})")
    return lacking


def _rewrite_metadata(store: IndexStore, article_ids: Sequence[str]) -> None:
    """Give chunks written again (an upsert replaces their metadata) back what a restore needs:
    their article's record and revisions (``rag.index.chunkmeta``)."""
    meta = store.vector_metadata(article_ids)
    if meta:
        store.vectors.update_metadata(meta)


