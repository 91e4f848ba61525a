"""Index integrity: check an index folder's parts against each other and repair what is safe.

The SQLite records are the source of truth (an article is ingested once its rows commit);
everything else is checked against them:

* ``manifest.json``: readable, complete, and its counts and generation equal the records'.
  Repair: rewrite it from the records; an unreadable one is rebuilt from an intact
  ``manifest.json.tmp`` or from the settings, but only after re-embedding stored passages
  with that embedder reproduces their stored vectors (so a wrong model is never recorded).
* records: readable, SQLite ``quick_check``; every chunk's article exists; every article has
  chunks; every chunk's offsets hold (``body[start:end] == text``, id derived from them); no
  two articles with one normalized body. Repair: delete chunk rows without an article;
  re-chunk (and embed) an article whose chunks are missing or wrong. A database that cannot be
  read, fails its check, or is missing or empty while the vector store holds chunks is rebuilt
  from the vector store (``rag.index.restore``; the old file is kept as
  ``records.sqlite3.damaged``; a readable one only when every article can be rebuilt).
  Duplicate bodies are reported only. Revisions (``rag.index.revisions``): every superseded
  revision has chunks, every revision chunk its revision, each the span of its body.
  Repair: drop the broken revisions (with their chunks and vectors).
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

The checks are here, the repairs in :mod:`rag.index.repair`. ``verify_index(store)`` checks
an open :class:`~rag.index.store.IndexStore`, ``verify_path(path)`` an index folder (one
whose manifest or records cannot be opened too); both return an :class:`IndexReport`. With
``repair`` the checks run again after the repairs and ``problems`` lists what is still wrong.
"""
from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rag.errors import IndexDamaged, IndexMismatch, IndexMissing, RagError
from rag.index.repair import apply_repairs, rebuild_manifest, restore_from_vectors
from rag.index.revisions import problems as revision_problems, revision_chunk_ids
from rag.index.store import MANIFEST, RECORDS, IndexStore, ingest_lock, read_manifest, write_json_atomic
from rag.settings import Settings

# what an interrupted write leaves in the index folder (each is removed by a repair)
_LEFTOVERS = ("bm25.tmp", "bm25.old", "dense.tmp", "dense.old", "manifest.json.tmp")
_SAMPLE = 32  # dense rows compared with chroma per check: catches a stale snapshot, stays fast


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


@dataclass(frozen=True)
class Finding:
    """One problem a check found: its text, the kind of repair it asks for, and that
    repair's data (ids, a path, a snapshot name)."""

    text: str
    fix: str | None = None  # kind of repair, None when it cannot be repaired here
    data: Any = None


@dataclass
class _State:
    findings: list[Finding] = field(default_factory=list)
    articles: int = 0
    chunks: int = 0
    generation: int = 0

    def add(self, text: str, fix: str | None = None, data: Any = None) -> None:
        self.findings.append(Finding(text, fix, data))


# ---- checks --------------------------------------------------------------------------------
def _check(store: IndexStore, vectors, running: bool) -> _State:
    """Every check below, in order; a records file that turns out unreadable stops the checks
    that read it and is reported (with its repair) instead."""
    st = _State()
    path = store.path
    _check_leftovers(path, st)
    try:
        _check_records_file(store.records, st)
        _check_manifest(path, st)
        _check_orphan_rows(store.records, st)
        _check_chunk_offsets(store.records, st)
        _check_duplicate_bodies(store.records, st)
        _check_revisions(store.records, st)
        record_ids = set(store.records.chunk_ids()) | set(revision_chunk_ids(store.records))
    except IndexDamaged as exc:
        st.add(str(exc), "restore_records", "unreadable")
        return _note_running(st, running)
    chroma_ids = _check_vectors(vectors, record_ids, st)
    _check_snapshots(path, vectors, record_ids, chroma_ids, st)
    return _note_running(st, running)


def _check_leftovers(path: Path, st: _State) -> None:
    """Leftovers of interrupted writes (``bm25.tmp``, ``dense.old``, ``manifest.json.tmp``...)."""
    for name in _LEFTOVERS:
        p = path / name
        if p.exists() or p.is_symlink():
            st.add(f"leftover {name} from an interrupted write", "leftover", p)


def _check_records_file(records, st: _State) -> None:
    """SQLite's own check of ``records.sqlite3``; also takes the counts and generation."""
    qc = records.quick_check()
    if qc != ["ok"]:
        st.add(f"{RECORDS} fails its integrity check: {'; '.join(qc[:5])}", "restore_records", "check")
    counts = records.counts()
    st.articles, st.chunks, st.generation = counts["articles"], counts["chunks"], records.generation()


def _check_manifest(path: Path, st: _State) -> None:
    """The manifest is readable and complete, and its counts and generation are the records'."""
    counts = {"articles": st.articles, "chunks": st.chunks}
    m, why = read_manifest(path / MANIFEST)
    if m is None:
        st.add(f"manifest.json {why}", "manifest")
    elif m.get("counts") != counts:
        st.add(f"manifest counts {m.get('counts')} differ from the records {counts}", "manifest")
    elif m.get("generation") != st.generation:
        st.add(f"manifest generation {m.get('generation')} differs from the records' {st.generation}", "manifest")


def _check_orphan_rows(records, st: _State) -> None:
    """Chunk rows whose article is gone."""
    orphans = records.orphan_chunk_ids()
    if orphans:
        st.add(f"{len(orphans)} chunk rows belong to no article", "orphan_rows", orphans)


def _check_chunk_offsets(records, st: _State) -> None:
    """Every chunk is its article's ``body[start:end]`` under the id those make, numbered
    0, 1, 2...; every article has chunks."""
    from rag.ingest.ids import chunk_id

    bodies = records.bodies()
    bad_articles: set[str] = set()
    seen_articles: set[str] = set()
    prev: dict[str, int] = {}
    for cid, aid, idx, start, end, text in records.iter_chunk_spans():
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


def _check_duplicate_bodies(records, st: _State) -> None:
    """No two articles with one normalized body (reported only)."""
    dups = records.repeated_bodies()
    if dups:
        st.add(f"{dups} articles repeat the body of another article (ingest stores a body once)")


def _check_revisions(records, st: _State) -> None:
    """Superseded revisions and their chunks belong together and match their bodies."""
    texts, pairs = revision_problems(records)
    for text in texts:
        st.add(text, "revisions", pairs)


def _check_vectors(vectors, record_ids: set[str], st: _State) -> set[str] | None:
    """The vector store's ids are the records' chunk ids; returns them (None if unreadable).
    Records with no articles beside a store holding chunks are lost records, not orphans."""
    try:
        chroma_ids = vectors.ids()
    except Exception as exc:  # noqa: BLE001 - a broken store must be reported, not crash the check
        st.add(f"chroma store cannot be read: {type(exc).__name__}: {exc}")
        return None
    if not record_ids and st.articles == 0 and chroma_ids:
        st.add(f"{RECORDS} holds no articles but chroma holds {len(chroma_ids)} chunk vectors", "restore_records", "empty")
        return chroma_ids
    extra = chroma_ids - record_ids
    lacking = record_ids - chroma_ids
    if extra:
        st.add(f"{len(extra)} vectors in chroma have no chunk record (orphans of an interrupted ingest)", "orphan_vectors", sorted(extra))
    if lacking:
        st.add(f"{len(lacking)} chunks lack a vector in chroma", "missing_vectors", sorted(lacking))
    return chroma_ids


def _check_snapshots(path: Path, vectors, record_ids: set[str], chroma_ids: set[str] | None, st: _State) -> None:
    """``bm25/`` and ``dense/`` are at the records' generation and hold exactly the records'
    chunk ids once each (dense: those with vectors), dense rows equal to the stored vectors."""
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


def _note_running(st: _State, running: bool) -> _State:
    if running:
        st.add("an ingest is running on this index: the state above may be moving (repair refused)")
    return st


# ---- entry points --------------------------------------------------------------------------
def _open_store(path: Path, settings: Settings, repair: bool, log: Callable[[str], None]):
    """The store of the index folder ``path`` and what was done to open it; (None, problems)
    when it cannot be opened without a repair."""
    from rag.index.restore import set_aside

    if not (path / MANIFEST).exists() and not (path / RECORDS).exists():
        raise IndexMissing(f"no index at {path}")
    manifest, why = read_manifest(path / MANIFEST)
    pre: list[str] = []
    if manifest is None:
        if not repair:
            return None, [f"manifest.json {why}: the index cannot be opened; run `rag index verify --repair`"]
        try:
            manifest, origin = rebuild_manifest(path, settings)
        except IndexDamaged as exc:  # nothing to check an embedder against: record none unchecked
            manifest, origin = None, f"{RECORDS} is damaged too ({exc.__cause__ or exc}), so no embedder can be checked against it"
        if manifest is None:
            raise IndexMismatch(f"{path / MANIFEST} {why} and cannot be rebuilt: {origin}")
        write_json_atomic(path / MANIFEST, manifest)
        pre.append(f"rebuilt manifest.json ({why}) from {origin}")
        log(pre[-1])
    try:
        store = IndexStore.open(path, settings, manifest["embedder"], manifest["dim"], create=False)
    except IndexDamaged as exc:
        if not repair:
            return None, [str(exc)]
        with ingest_lock(path):  # an empty file in its place: the check then restores it
            moved = set_aside(path / RECORDS)
        pre.append(f"set the unreadable {RECORDS} aside as {', '.join(moved)}")
        log(pre[-1])
        store = IndexStore.open(path, settings, manifest["embedder"], manifest["dim"], create=False)
    return store, pre


def _unopened_report(path: Path, problems: list[str]) -> IndexReport:
    """The report on an index that cannot be opened: the problems, and what the records hold
    when they can be read."""
    from rag.index.records import Records

    counts, gen = {"articles": 0, "chunks": 0}, 0
    try:
        records = Records(path / RECORDS)
        try:
            counts, gen = records.counts(), records.generation()
        finally:
            records.close()
    except IndexDamaged as exc:
        if str(exc) not in problems:
            problems = [*problems, str(exc)]
    return IndexReport(ok=False, articles=counts["articles"], chunks=counts["chunks"], problems=tuple(problems),
                       index=str(path), generation=gen)


def verify_path(path: str | Path, repair: bool = False, settings: Settings | None = None,
                log: Callable[[str], None] | None = None) -> IndexReport:
    """Check the index folder ``path`` and, with ``repair``, fix what can be fixed safely: a
    lost manifest is rebuilt (checked against the stored vectors), an unreadable records file
    set aside and rebuilt from the vector store. ``settings`` give the chroma server URL, and
    the embedder and chunking a lost manifest is rebuilt with."""
    path = Path(path)
    settings = settings or Settings.load(index=str(path))
    say = log or (lambda _msg: None)
    store, pre = _open_store(path, settings, repair, say)
    if store is None:  # no repair asked: report what can be read
        return _unopened_report(path, pre)
    try:
        report = verify_index(store, repair=repair, settings=settings, log=log)
    finally:
        store.close()
    return dataclasses.replace(report, repaired=(*pre, *report.repaired))


def verify_index(store: IndexStore, repair: bool = False, settings: Settings | None = None,
                 log: Callable[[str], None] | None = None) -> IndexReport:
    """Check an open index and, with ``repair``, fix what can be fixed safely. ``settings``
    are used only by repairs that embed (for the embedder's options)."""
    settings = settings or Settings.load(index=str(store.path))
    repaired: list[str] = []
    say = log or (lambda _msg: None)

    def note(msg: str) -> None:
        repaired.append(msg)
        say(msg)

    refused: list[str] = []
    lock = ExitStack()
    try:
        lock.enter_context(store.ingest_lock())  # a still view, and no ingest under a repair
        running = False
    except RagError:
        running = True
    with lock:
        vectors = store.open_vectors() if running else None  # our own: never close a running ingest's
        if not running:
            store.release_vectors()  # see what other processes wrote
        try:
            st = _check(store, vectors or store.vectors, running)
            if repair and not running and any(f.fix for f in st.findings):
                keep: set[str] = set()
                if any(f.fix == "restore_records" for f in st.findings):
                    outcome = restore_from_vectors(store, st.findings, note)
                    keep = set(outcome.kept_vectors)
                    refused = [outcome.refused] if outcome.refused else []
                    st = _check(store, store.vectors, running)
                if any(f.fix and f.fix != "restore_records" for f in st.findings):
                    apply_repairs(store, st.findings, settings, note, keep)
                store.release_vectors()
                st = _check(store, store.vectors, running)
        finally:
            if vectors is not None:
                vectors.close()
            else:
                store.release_vectors()
    problems = (*(f.text for f in st.findings), *refused)
    return IndexReport(
        ok=not problems, articles=st.articles, chunks=st.chunks, problems=problems,
        repaired=tuple(repaired), index=str(store.path), generation=st.generation,
    )
