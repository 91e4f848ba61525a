"""Index integrity: check an index folder's parts against each other and repair what is safe.

The SQLite records are the source of truth (an article is ingested once its rows commit);
everything else is checked against them:

* ``manifest.json``: readable, complete, and its counts and generation equal the records'.
  Repair: rewrite it from the records; an unreadable one is rebuilt from an intact
  ``manifest.json.tmp`` or from the settings, but only after re-embedding stored passages
  with that embedder reproduces their stored vectors (so a wrong model is never recorded).
* records: SQLite ``quick_check``; every chunk's article exists; every article has chunks;
  every chunk's offsets hold (``body[start:end] == text``, id derived from them); no two
  articles with one normalized body. Repair: delete chunk rows without an article; re-chunk
  (and embed) an article whose chunks are missing or wrong. Duplicate bodies and a corrupt
  database are reported only.
* chroma: its ids equal the records' chunk ids. Repair: delete orphan vectors (left by a run
  killed between the vector write and the commit); re-embed chunks that lack a vector with
  the index's own embedder (cheap for a few chunks; the report says how many).
* ``bm25/`` and ``dense/`` snapshots: present when there are chunks, at the records'
  generation, holding exactly the records' chunk ids once each (dense: those with vectors),
  dense rows equal to the stored vectors. Repair: rebuild from the records.
* leftovers of interrupted writes (``bm25.tmp``, ``dense.old``, ``manifest.json.tmp``...).
  Repair: remove them.
* ``ingest.lock``: an flock, so it cannot outlive its process; if some process holds it an
  ingest is running, the report says so and ``repair`` refuses to run.

``verify_index(target, repair=False)`` returns an :class:`IndexReport`; with ``repair`` the
checks run again after the repairs and ``problems`` lists what is still wrong.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rag.errors import IndexMismatch, IndexMissing, RagError
from rag.settings import Settings

_LEFTOVERS = ("bm25.tmp", "bm25.old", "dense.tmp", "dense.old", "manifest.json.tmp")
_REQUIRED = ("format", "embedder", "dim", "chunk_tokens", "chunk_overlap", "collection")
_SAMPLE = 32  # dense rows compared with chroma per check


@dataclass(frozen=True)
class IndexReport:
    """The state of one index. ``ok`` is True when no problem remains; ``problems`` are
    what is wrong (after any repair), ``repaired`` what ``--repair`` did."""

    ok: bool
    articles: int
    chunks: int
    problems: tuple[str, ...] = ()
    repaired: tuple[str, ...] = ()
    index: str = ""
    generation: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``rag index verify --json``."""
        return {
            "ok": self.ok, "articles": self.articles, "chunks": self.chunks,
            "problems": list(self.problems), "repaired": list(self.repaired),
            "index": self.index, "generation": self.generation,
        }


@dataclass
class _Finding:
    text: str
    fix: str | None = None  # kind of repair, None when it cannot be repaired here
    data: Any = None


@dataclass
class _State:
    findings: list[_Finding] = field(default_factory=list)
    articles: int = 0
    chunks: int = 0
    generation: int = 0

    def add(self, text: str, fix: str | None = None, data: Any = None) -> None:
        self.findings.append(_Finding(text, fix, data))


def _embedder_kind(name: str) -> str | None:
    from rag.index.embedding import HASH_NAME, MINILM_NAME

    return {HASH_NAME: "hash", MINILM_NAME: "minilm"}.get(name)


def _read_manifest(path: Path) -> tuple[dict | None, str | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError) as exc:
        return None, f"unreadable ({exc})"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        return None, f"incomplete (no {', '.join(missing)})"
    return data, None


# ---- manifest reconstruction -------------------------------------------------------------
def _chroma_collections(path: Path) -> list[str]:
    """The collections in the index's embedded chroma folder (through the chroma adapter)."""
    from rag.index.vectors import collection_names

    return collection_names(path / "chroma")


def _rebuild_manifest(path: Path, settings: Settings) -> tuple[dict | None, str]:
    """A manifest for an index whose manifest.json is lost: from an intact .tmp, else from
    ``settings``, accepted only if its embedder reproduces stored vectors."""
    from rag.index.embedding import make_embedder
    from rag.index.store import FORMAT, _versions

    tmp, _ = _read_manifest(path / "manifest.json.tmp")
    if tmp is not None:
        cand, origin = tmp, "manifest.json.tmp"
    else:
        emb = make_embedder(settings)
        names = _chroma_collections(path) if (path / "chroma").is_dir() else []
        if len(names) > 1:
            return None, f"chroma holds {len(names)} collections ({', '.join(names)}); cannot tell which is this index's"
        from rag.index.store import _slug

        cand = {
            "format": FORMAT, "embedder": emb.name, "dim": emb.dim, "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
            "collection": names[0] if names else "newsrag_" + _slug(path.resolve().name),
            "created_at": None, "counts": {"articles": 0, "chunks": 0}, "generation": 0, "versions": _versions(),
        }
        origin = f"settings (embedder {settings.embedder})"
    # Check the embedder against stored vectors before recording it.
    from rag.index.records import Records
    from rag.index.vectors import ChromaVectors

    kind = _embedder_kind(cand["embedder"])
    if kind is None:
        return None, f"unknown embedder {cand['embedder']!r} in {origin}"
    records = Records(path / "records.sqlite3")
    try:
        ids = records.chunk_ids()[:3]
        if ids:
            store = ChromaVectors(cand["collection"], path=path / "chroma")
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
            if got.shape != want.shape or float(np.min(np.sum(got * want, axis=1))) < 0.99:
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


# ---- checks --------------------------------------------------------------------------------
def _check(store, path: Path, vectors, running: bool) -> _State:
    st = _State()
    records = store.records
    conn = records._conn()
    try:
        qc = [r[0] for r in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        qc = [str(exc)]
    if qc != ["ok"]:
        st.add(f"records.sqlite3 fails its integrity check: {'; '.join(qc[:5])}")
    counts = records.counts()
    st.articles, st.chunks, st.generation = counts["articles"], counts["chunks"], records.generation()

    # manifest vs records
    m, why = _read_manifest(path / "manifest.json")
    if m is None:
        st.add(f"manifest.json {why}", "manifest")
    else:
        if m.get("counts") != counts:
            st.add(f"manifest counts {m.get('counts')} differ from the records {counts}", "manifest")
        elif m.get("generation") != st.generation:
            st.add(f"manifest generation {m.get('generation')} differs from the records' {st.generation}", "manifest")

    # leftovers of interrupted writes
    for name in _LEFTOVERS:
        p = path / name
        if p.exists() or p.is_symlink():
            st.add(f"leftover {name} from an interrupted write", "leftover", p)

    # chunk rows whose article is gone
    orphans = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id NOT IN (SELECT id FROM articles)")]
    if orphans:
        st.add(f"{len(orphans)} chunk rows belong to no article", "orphan_rows", orphans)

    # offsets and ids of every chunk; articles without chunks
    from rag.ingest.ids import chunk_id

    bad_articles: set[str] = set()
    bodies: dict[str, str] = {}
    for aid, body in conn.execute("SELECT id, body FROM articles"):
        bodies[aid] = body
    seen_articles: set[str] = set()
    prev: dict[str, int] = {}
    for cid, aid, idx, start, end, text in conn.execute('SELECT id, article_id, idx, start, "end", text FROM chunks ORDER BY article_id, idx'):
        body = bodies.get(aid)
        if body is None:
            continue
        seen_articles.add(aid)
        if (
            not (0 <= start < end <= len(body)) or body[start:end] != text or cid != chunk_id(aid, start, end, text)
            or idx != prev.get(aid, -1) + 1
        ):
            bad_articles.add(aid)
        prev[aid] = idx
    empty = set(bodies) - seen_articles
    if bad_articles:
        st.add(f"{len(bad_articles)} articles have chunks whose offsets, ids or order do not match their body", "rechunk", sorted(bad_articles))
    if empty:
        st.add(f"{len(empty)} articles have no chunks", "rechunk", sorted(empty))
    dups = conn.execute("SELECT count(*) - count(DISTINCT body_hash) FROM articles").fetchone()[0]
    if dups:
        st.add(f"{dups} articles repeat the body of another article (ingest stores a body once)")

    record_ids = set(records.chunk_ids())

    # chroma vs records
    chroma_ids: set[str] | None
    try:
        chroma_ids = vectors.ids()
    except Exception as exc:  # noqa: BLE001 - a broken store must be reported, not crash the check
        chroma_ids = None
        st.add(f"chroma store cannot be read: {type(exc).__name__}: {exc}")
    if chroma_ids is not None:
        extra = chroma_ids - record_ids
        lacking = record_ids - chroma_ids
        if extra:
            st.add(f"{len(extra)} vectors in chroma have no chunk record (orphans of an interrupted ingest)", "orphan_vectors", sorted(extra))
        if lacking:
            st.add(f"{len(lacking)} chunks lack a vector in chroma", "missing_vectors", sorted(lacking))

    # derived snapshots
    from rag.index.dense import DenseIndex
    from rag.index.lexical import LexicalIndex

    with_vectors = record_ids if chroma_ids is None else record_ids & chroma_ids
    for name, cls, expect in (("bm25", LexicalIndex, record_ids), ("dense", DenseIndex, with_vectors)):
        snap = cls.load(path / name)
        if snap is None:
            if record_ids:
                st.add(f"{name} snapshot missing or unreadable", "snapshot", name)
            continue
        ids = list(snap.ids)
        if snap.generation != st.generation:
            st.add(f"{name} snapshot is at generation {snap.generation}, the records at {st.generation}", "snapshot", name)
        elif len(ids) != len(set(ids)):
            st.add(f"{name} snapshot holds {len(ids) - len(set(ids))} duplicate chunk ids", "snapshot", name)
        elif set(ids) != expect:
            st.add(
                f"{name} snapshot ids differ from the records ({len(set(ids) - expect)} extra, {len(expect - set(ids))} missing)",
                "snapshot", name,
            )
        elif name == "dense" and ids and chroma_ids is not None:
            step = max(1, len(ids) // _SAMPLE)
            sample = ids[::step][:_SAMPLE]
            stored = vectors.get_vectors(sample)
            mine = snap.get_vectors(sample)
            if any(c not in stored or not np.allclose(stored[c], mine[c], atol=1e-5) for c in sample):
                st.add("dense snapshot rows differ from the vectors in chroma", "snapshot", name)

    if running:
        st.add("an ingest is running on this index: the state above may be moving (repair refused)")
    return st


# ---- repairs -------------------------------------------------------------------------------
def _embedder_for(store, settings: Settings):
    from rag.index.embedding import make_embedder

    kind = _embedder_kind(store.config.embedder)
    if kind is None:
        raise RagError(f"cannot re-embed: unknown embedder {store.config.embedder!r}")
    return make_embedder(settings.with_(embedder=kind))


def _repair(store, path: Path, st: _State, settings: Settings, log: Callable[[str], None]) -> None:
    from rag.ingest.chunking import chunk_article
    from rag.ingest.pipeline import article_hash
    from rag.ingest.ids import body_hash

    kinds = {f.fix: f for f in st.findings if f.fix}
    for f in st.findings:
        if f.fix == "leftover":
            p: Path = f.data
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            log(f"removed {p.name}")
    if "orphan_rows" in kinds:
        ids = kinds["orphan_rows"].data
        store.records.commit_articles([], ids)
        store.vectors.delete(ids)
        log(f"deleted {len(ids)} chunk rows without an article (and their vectors)")
    rechunk = sorted({a for f in st.findings if f.fix == "rechunk" for a in f.data})
    if rechunk:
        emb = _embedder_for(store, settings)
        cfg = store.config
        upserts, removed, new_chunks = [], [], []
        for aid in rechunk:
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
        log(f"re-chunked {len(upserts)} articles ({len(new_chunks)} chunks embedded with {store.config.embedder})")
    if "orphan_vectors" in kinds and not rechunk:
        ids = kinds["orphan_vectors"].data
        store.vectors.delete(ids)
        log(f"deleted {len(ids)} orphan vectors")
    elif rechunk:  # the ids changed: recompute what is orphaned and what lacks a vector
        record_ids = set(store.records.chunk_ids())
        extra = store.vectors.ids() - record_ids
        if extra:
            store.vectors.delete(sorted(extra))
            log(f"deleted {len(extra)} orphan vectors")
    if store.records.pending_vector_deletes() and not set(store.records.pending_vector_deletes()) & store.vectors.ids():
        store.records.clear_pending_vector_deletes()  # the journaled deletes are done
    lacking = sorted(set(store.records.chunk_ids()) - store.vectors.ids()) if ("missing_vectors" in kinds or rechunk) else []
    if lacking:
        emb = _embedder_for(store, settings)
        chunks = store.records.get_chunks(lacking)
        todo = [chunks[c] for c in lacking if c in chunks]
        for i in range(0, len(todo), 256):
            part = todo[i : i + 256]
            store.vectors.upsert(part, emb.embed_texts([c.indexed_text for c in part]))
        log(f"re-embedded {len(todo)} chunks that lacked a vector ({store.config.embedder})")
    gen = store.records.generation()
    rebuild = {f.data for f in st.findings if f.fix == "snapshot"}
    if rechunk or "orphan_rows" in kinds or lacking:
        rebuild |= {"bm25", "dense"}
    with store._lock:
        for name in ("bm25", "dense"):
            if name in rebuild:
                # from the records and chroma only: a dense rebuild would otherwise reuse the
                # rows of the snapshot being replaced
                store._derived.pop(name, None)
                for leftover in (path / name, path / f"{name}.old", path / f"{name}.tmp"):
                    shutil.rmtree(leftover, ignore_errors=True)
                store._derived[name] = store._rebuild(name, gen)
                log(f"rebuilt the {name} snapshot (generation {gen})")
    store.refresh()  # rebuilds anything still stale and rewrites the manifest from the records
    if "manifest" in kinds:
        log("rewrote manifest.json from the records")


# ---- entry point ---------------------------------------------------------------------------
def _open_store(path: Path, settings: Settings, repair: bool, log: Callable[[str], None]):
    from rag.index.store import MANIFEST, IndexStore, write_json_atomic

    if not (path / MANIFEST).exists() and not (path / "records.sqlite3").exists():
        raise IndexMissing(f"no index at {path}")
    manifest, why = _read_manifest(path / MANIFEST)
    pre: list[str] = []
    if manifest is None:
        if not repair:
            return None, [f"manifest.json {why}: the index cannot be opened; run `rag index verify --repair`"]
        manifest, origin = _rebuild_manifest(path, settings)
        if manifest is None:
            raise IndexMismatch(f"{path / MANIFEST} {why} and cannot be rebuilt: {origin}")
        write_json_atomic(path / MANIFEST, manifest)
        pre.append(f"rebuilt manifest.json ({why}) from {origin}")
        log(pre[-1])
    store = IndexStore.open(path, settings, manifest["embedder"], manifest["dim"], create=False)
    return store, pre


def verify_index(target: Any, repair: bool = False, settings: Settings | None = None,
                 log: Callable[[str], None] | None = None) -> IndexReport:
    """Check an index (an :class:`~rag.archive.Archive`, an :class:`~rag.index.store.IndexStore`,
    or an index folder path) and, with ``repair``, fix what can be fixed safely. ``settings``
    are used only for a path (chroma server URL) and to rebuild a lost manifest."""
    repaired: list[str] = []
    say = log or (lambda _msg: None)

    def note(msg: str) -> None:
        repaired.append(msg)
        say(msg)

    store = getattr(target, "store", None) or (target if hasattr(target, "records") else None)
    if store is None:
        path = Path(target)
        settings = settings or Settings.load(index=str(path))
        store, pre = _open_store(path, settings, repair, say)
        if store is None:  # unreadable manifest, no repair asked: report what the records hold
            from rag.index.records import Records

            records = Records(path / "records.sqlite3")
            try:
                counts, gen = records.counts(), records.generation()
            finally:
                records.close()
            return IndexReport(ok=False, articles=counts["articles"], chunks=counts["chunks"], problems=tuple(pre),
                               index=str(path), generation=gen)
        repaired += pre
    else:
        settings = settings or getattr(target, "settings", None) or Settings.load(index=str(store.path))
    path = store.path
    lock = ExitStack()
    try:
        lock.enter_context(store.ingest_lock())  # a still view, and no ingest under a repair
        running = False
    except RagError:
        running = True
    with lock:
        if running:  # a client of our own: never close the one a running ingest uses
            from rag.index.vectors import ChromaVectors

            vectors = ChromaVectors(store.config.collection, path=None if store._chroma_url else path / "chroma",
                                    url=store._chroma_url)
        else:
            store.release_vectors()  # see what other processes wrote
            vectors = store.vectors
        try:
            st = _check(store, path, vectors, running)
            if repair and not running and any(f.fix for f in st.findings):
                _repair(store, path, st, settings, note)
                store.release_vectors()
                vectors = store.vectors
                st = _check(store, path, vectors, running)
        finally:
            if running:
                vectors.close()
            else:
                store.release_vectors()
    problems = tuple(f.text for f in st.findings)
    return IndexReport(
        ok=not problems, articles=st.articles, chunks=st.chunks, problems=problems,
        repaired=tuple(repaired), index=str(path), generation=st.generation,
    )
