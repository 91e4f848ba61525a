"""Rebuild the SQLite records of an index from its vector store (``rag index verify
--repair`` on a damaged, missing or emptied ``records.sqlite3``).

The vector store keeps each article's whole record on its chunks (``rag.index.chunkmeta``),
so the articles, their chunks, their superseded revisions (with their chunks and validity
intervals) and (recomputed) their syndication clusters and event dates come back as a clean
build would write them. The old database file is kept beside the new one as
``records.sqlite3.damaged``; articles whose chunks do not carry the record (written by a
newsrag before it kept them) cannot be rebuilt, and the outcome says so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import IndexDamaged
from rag.index import revisions
from rag.index.chunkmeta import Restored, RestoredArticle, restore_articles

ASIDE = ".damaged"  # suffix of a records file set aside by a restore
_COMMIT_ARTICLES = 500  # articles per restoring transaction


@dataclass
class RestoreOutcome:
    """What a restore did, or why it did not run (``refused``)."""

    articles: int = 0
    chunks: int = 0
    revisions: int = 0  # superseded revisions rebuilt
    revisions_lost: int = 0  # superseded revisions whose chunks do not carry them (their vectors go)
    set_aside: list[str] = field(default_factory=list)  # files moved aside
    lost: dict[str, str] = field(default_factory=dict)  # article id -> why it could not be rebuilt
    kept_vectors: list[str] = field(default_factory=list)  # chunk ids of those articles, left in the store
    rehashed: list[str] = field(default_factory=list)  # articles whose content hash came out different
    refused: str | None = None

    def lines(self) -> list[str]:
        """What a restore that ran tells the user, one line each."""
        out = []
        if self.set_aside:
            out.append(f"set the old records aside as {', '.join(self.set_aside)}")
        revs = f", {self.revisions} earlier revisions" if self.revisions else ""
        out.append(f"rebuilt records.sqlite3 from the vector store: {self.articles} articles, {self.chunks} chunks{revs}")
        if self.revisions_lost:
            out.append(f"could not rebuild {self.revisions_lost} earlier article revisions (their chunks were written "
                       "before the vector store kept revisions, or are incomplete); `rag history` lacks them")
        if self.lost:
            named = {a: w for a, w in self.lost.items() if a}
            why = sorted(set(named.values()) | ({self.lost[""]} if "" in self.lost else set()))
            out.append(
                f"could not rebuild {len(named)} articles ({'; '.join(why)}); their {len(self.kept_vectors)} "
                "vectors stay in the store: re-ingest their sources, then run `rag index verify --repair` again"
            )
        if self.rehashed:
            out.append(f"{len(self.rehashed)} rebuilt articles differ from what was ingested (content hash); "
                       "re-ingest their sources to replace them")
        return out


def set_aside(db: Path) -> list[str]:
    """Move ``db`` and its WAL files to ``<name>.damaged`` (replacing an older set); returns
    the names moved."""
    moved = []
    for suffix in ("", "-wal", "-shm"):
        src = db.with_name(db.name + suffix)
        if src.exists():
            dst = db.with_name(db.name + ASIDE + suffix)
            os.replace(src, dst)
            moved.append(dst.name)
    return moved


def restore_records(store, lossy_ok: bool) -> RestoreOutcome:
    """Replace ``store``'s records with the articles its vector store rebuilds (the caller
    holds the ingest lock). When ``lossy_ok`` is false and some article cannot be rebuilt,
    nothing is changed (the records are readable enough to keep: only an unreadable or
    empty file is replaced at a loss)."""
    restored = restore_articles(store.vectors.entries())
    out = RestoreOutcome(lost=dict(restored.lost), kept_vectors=list(restored.lost_chunks),
                         revisions_lost=restored.revisions_lost)
    if restored.lost and not lossy_ok:
        out.refused = (f"records.sqlite3 not rebuilt from the vector store: {len(restored.lost)} of its articles "
                       "cannot be rebuilt from it (re-ingest the sources into a new index)")
        return out
    if not _empty(store.records):  # an empty file (one put in place of a damaged one) is reused
        store.records.close()
        out.set_aside = set_aside(store.records.path)
        store.reopen_records()
    _commit(store.records, restored, out)
    return out


def _empty(records) -> bool:
    try:
        return records.counts() == {"articles": 0, "chunks": 0}
    except IndexDamaged:
        return False


def _commit(records, restored: Restored, out: RestoreOutcome) -> None:
    from rag.ingest.pipeline import article_hash
    from rag.retrieve.syndication import update_clusters

    arts = restored.articles
    for i in range(0, len(arts), _COMMIT_ARTICLES):
        upserts, writes = [], []
        for ra in arts[i : i + _COMMIT_ARTICLES]:
            chash = article_hash(ra.article)
            if chash != ra.content_hash:
                out.rehashed.append(ra.article.id)
            upserts.append((ra.article, chash, ra.body_hash, list(ra.chunks)))
            writes.extend(_revision_writes(ra))
            out.chunks += len(ra.chunks)
            out.revisions += len(ra.revisions)
        records.commit_articles(upserts, [], extra=lambda c, w=writes: revisions.write(c, w))
    out.articles = len(arts)
    update_clusters(records)  # derived: sketched again, oldest first, as one ingest would


def _revision_writes(ra: RestoredArticle) -> list[revisions.RevisionWrite]:
    """The revision rows of a restored article as its ingests wrote them: each superseded
    revision with its chunks and the dates its body states, then the current revision (none
    when its chunks do not name it: an index from before revisions were kept)."""
    from rag.ingest.event_dates import resolve_dates

    if ra.current is None:
        return []
    aid = ra.article.id
    out = [revisions.RevisionWrite(aid, rev.revision, rev.updated_at, rev.valid_from,
                                   revisions.events_of(aid, rev.revision, resolve_dates(rev.body, rev.published_at)),
                                   rev, chunks) for rev, chunks in ra.revisions]
    n, updated_at, valid_from = ra.current
    dates = resolve_dates(ra.article.body, ra.article.published_at)
    return [*out, revisions.RevisionWrite(aid, n, updated_at, valid_from, revisions.events_of(aid, n, dates))]
