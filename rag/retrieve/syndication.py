"""Syndication: near-duplicate articles (wire copy re-run with small edits, a trimmed
re-run) are clustered at ingest, so search shows one member of a story and lists the other
outlets and dates as "also ran in", and an answer never cites one story twice as if it were
two sources.

Clustering: word 5-gram shingles of the normalized body, a 128-permutation MinHash per
article (datasketch), an LSH index to find candidates, and an exact check on the shingles:
Jaccard >= ``threshold`` (0.8 by default), or, for a trimmed re-run, the shorter body's
shingles >= ``containment`` (0.9) inside the longer one's while it keeps at least half of
them. A new article joins the cluster of its most similar stored match; otherwise it starts
its own. Signatures are stored per article (``sketches`` table), so an ingest only sketches
new or edited articles. Identical bodies never reach this stage: ingest stores them once and
records the other outlets in ``also_in``.

On the MultiHop-RAG corpus (609 articles) no pair reaches the threshold (the most similar
pair, two Engadget deal round-ups of different sales, has Jaccard 0.66): 609 singleton
clusters, so search results there are unchanged.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

import numpy as np

SHINGLE_WORDS = 5
NUM_PERM = 128
_LSH_THRESHOLD = 0.5  # candidates for the exact check; well below the cluster threshold
_WORD = re.compile(r"\w+", re.U)


def shingles(body: str, k: int = SHINGLE_WORDS) -> set[str]:
    """Word ``k``-grams of the lowercased body (the whole body when shorter than ``k``)."""
    words = _WORD.findall(body.lower())
    if len(words) < k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def signature(sh: Iterable[str], num_perm: int = NUM_PERM):
    """A datasketch MinHash of a shingle set."""
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=1)
    m.update_batch([s.encode("utf-8") for s in sh])
    return m


def _pack(m) -> tuple[bytes, str]:
    """A MinHash's hash values as bytes, and how to read them back."""
    hv = np.asarray(m.hashvalues)
    return hv.astype("<u8").tobytes(), f"{getattr(m, 'scheme', '') or ''}:{hv.dtype.name}"


def _unpack(blob: bytes, kind: str):
    """The LeanMinHash stored by :func:`_pack` (None if this datasketch cannot read it)."""
    from datasketch import LeanMinHash

    scheme, _, dtype = kind.partition(":")
    hv = np.frombuffer(blob, dtype="<u8").astype(dtype or "uint64")
    try:
        return LeanMinHash(seed=1, hashvalues=hv, scheme=scheme) if scheme else LeanMinHash(seed=1, hashvalues=hv)
    except (TypeError, ValueError):
        return None


def similar(a: set[str], b: set[str], threshold: float = 0.8, containment: float = 0.9) -> float:
    """Similarity in [0, 1] when ``a`` and ``b`` are one story (else 0): their Jaccard when it
    reaches ``threshold``, or the containment of the smaller in the larger when that reaches
    ``containment`` and the smaller has at least half the larger's shingles."""
    return _similarity(len(a & b), len(a), len(b), threshold, containment)


def _similarity(inter: int, na: int, nb: int, threshold: float, containment: float) -> float:
    """:func:`similar` from the sizes of two shingle sets and of their intersection."""
    if not na or not nb:
        return 0.0
    jac = inter / (na + nb - inter)
    if jac >= threshold:
        return jac
    small, large = sorted((na, nb))
    if small >= 0.5 * large and inter / small >= containment:
        return inter / small
    return 0.0


def _compact(sh: set[str]) -> np.ndarray:
    """A shingle set as its sorted 64-bit hashes (this process's ``hash``): ~8 bytes a shingle
    instead of ~80, so a clustering pass can keep every article it compares (at 1M chunks the
    string sets took the ingest past 12 GB)."""
    return np.unique(np.fromiter((hash(x) for x in sh), dtype=np.int64, count=len(sh)))


def _similar_compact(a: np.ndarray, b: np.ndarray, threshold: float, containment: float) -> float:
    """:func:`similar` of two :func:`_compact` sets."""
    return _similarity(len(np.intersect1d(a, b, assume_unique=True)), len(a), len(b), threshold, containment)


@dataclass(frozen=True)
class ClusterStats:
    """What :func:`update_clusters` did, and the archive's clusters afterwards."""

    sketched: int
    articles: int
    clusters: int
    multi: int  # clusters with more than one article
    largest: int

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return dict(self.__dict__)


def update_clusters(records, threshold: float = 0.8, containment: float = 0.9) -> ClusterStats:
    """Sketch every article of ``records`` that has no up-to-date sketch and assign it to a
    cluster; one transaction. Safe to re-run: it only does what is missing."""
    from datasketch import LeanMinHash, MinHashLSH

    todo = records.sketch_todo()
    if todo:
        lsh = MinHashLSH(threshold=_LSH_THRESHOLD, num_perm=NUM_PERM)
        cluster_of: dict[str, str] = {}
        todo_ids = {r[0] for r in todo}
        for aid, blob, kind, cluster in records.sketches():
            if aid in todo_ids:
                continue  # stale: its body changed
            lean = _unpack(blob, kind)
            if lean is None or len(lean.hashvalues) != NUM_PERM:
                todo.append(records.sketch_row(aid))  # written by another datasketch: redo
                todo_ids.add(aid)
                continue
            lsh.insert(aid, lean)
            cluster_of[aid] = cluster
        todo = [r for r in todo if r is not None]
        bodies: dict[str, np.ndarray] = {}  # article -> its compact shingle set, read once

        def shingles_of(aid: str) -> np.ndarray:
            if aid not in bodies:
                art = records.get_article(aid)
                bodies[aid] = _compact(shingles(art.body) if art is not None else set())
            return bodies[aid]

        rows = []
        # oldest first, so that a cluster is named after the story's first publication
        for aid, body, bhash, _published in sorted(todo, key=lambda r: (r[3] or "", r[0])):
            sh = shingles(body)
            m = signature(sh)
            bodies[aid] = compact = _compact(sh)
            best, best_sim = None, 0.0
            for other in lsh.query(m):
                if other == aid:
                    continue
                sim = _similar_compact(compact, shingles_of(other), threshold, containment)
                if sim > best_sim:
                    best, best_sim = other, sim
            cluster = cluster_of[best] if best is not None else aid
            lean = LeanMinHash(m)
            lsh.insert(aid, lean)
            cluster_of[aid] = cluster
            blob, kind = _pack(lean)
            rows.append((aid, bhash, blob, kind, cluster))
        records.save_sketches(rows)
    sizes = records.cluster_sizes()
    return ClusterStats(
        sketched=len(todo), articles=sum(sizes), clusters=len(sizes),
        multi=sum(1 for s in sizes if s > 1), largest=max(sizes, default=0),
    )


def where(outlet: str | None, published_at: datetime | str | None, url: str | None) -> str:
    """``outlet | YYYY-MM-DD | url`` (parts left out when missing), the form of ``also_in``."""
    if isinstance(published_at, datetime):
        published_at = published_at.date().isoformat()
    elif isinstance(published_at, str):
        published_at = published_at[:10]
    return " | ".join(p for p in (outlet, published_at, url) if p)


class ClusterMap:
    """Article -> cluster for the articles that share a cluster, and the members of each."""

    def __init__(self, members: dict[str, list[tuple[str, str | None, str | None, str | None]]]):
        self.members = members  # cluster -> [(article_id, outlet, published_at, url)]
        self.cluster = {aid: c for c, ms in members.items() for aid, *_ in ms}

    @classmethod
    def load(cls, records) -> "ClusterMap":
        """The clusters with more than one member (an empty map for an old index)."""
        return cls(records.multi_clusters())

    def key(self, article_id: str) -> str:
        """The story an article belongs to (itself when it has no near-duplicates)."""
        return self.cluster.get(article_id, article_id)

    def also_ran_in(self, article_id: str) -> tuple[str, ...]:
        """Where the other members of the article's cluster ran, oldest first."""
        c = self.cluster.get(article_id)
        if c is None:
            return ()
        others = sorted((m for m in self.members[c] if m[0] != article_id), key=lambda m: (m[2] or "", m[0]))
        return tuple(where(o, d, u) for _, o, d, u in others)


def collapse(article_ids: Sequence[str], clusters: ClusterMap) -> list[int]:
    """Indices of the items to keep, in order: every item of the first-ranked article of each
    story; items of the story's other articles (its syndicated copies) are dropped. Several
    passages of one article all stay: only copies of the same story are collapsed."""
    shown: dict[str, str] = {}  # story -> the article that represents it
    out = []
    for i, aid in enumerate(article_ids):
        if shown.setdefault(clusters.key(aid), aid) != aid:
            continue
        out.append(i)
    return out


def attach_also_ran_in(answer, hits):
    """``answer`` with each source's ``also_ran_in`` copied from the hit it came from."""
    import dataclasses

    by_chunk = {h.chunk.id: getattr(h, "also_ran_in", ()) for h in hits}
    if not any(by_chunk.values()) or not answer.sources:
        return answer
    sources = tuple(dataclasses.replace(s, also_ran_in=tuple(by_chunk.get(s.chunk_id, ()))) for s in answer.sources)
    return dataclasses.replace(answer, sources=sources)
