"""Core value types of newsrag: small frozen dataclasses with ``to_dict()`` for JSON.

Data flows one way: files -> :class:`Article` -> :class:`Chunk` -> index -> :class:`Hit`
-> :class:`Answer` (with :class:`Source` and :class:`Sentence`). No third-party type
(llama-index nodes, chroma collections, gradio components) ever appears here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date as Day, datetime
from typing import Any


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# The byline every passage carries from its article: copied article -> chunk -> cited source.
BYLINE = ("title", "outlet", "author", "published_at", "url")


def byline(item: Any) -> dict[str, Any]:
    """The :data:`BYLINE` fields of an Article, Chunk or Source, as keyword arguments."""
    return {name: getattr(item, name) for name in BYLINE}


@dataclass(frozen=True)
class Article:
    """One news article as loaded from a file.

    ``id`` is stable: derived from the canonical URL, or from the normalized text when there is
    no URL. Missing metadata stays ``None``; nothing is invented. ``published_at`` is
    timezone-aware when present. ``also_in`` lists other outlets/URLs that carried an identical
    body (stored once).
    """

    id: str
    title: str
    body: str
    outlet: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    url: str | None = None
    category: str | None = None
    source_file: str | None = None
    also_in: tuple[str, ...] = ()
    updated_at: datetime | None = None  # when the source says it was last modified

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (dates as ISO 8601 strings; ``updated_at`` only when set)."""
        d = asdict(self)
        d["published_at"] = _iso(self.published_at)
        d["also_in"] = list(self.also_in)
        if self.updated_at is None:
            d.pop("updated_at")
        else:
            d["updated_at"] = _iso(self.updated_at)
        return d


@dataclass(frozen=True)
class Chunk:
    """A passage of an article body: ``text == article.body[start:end]``.

    ``header`` (headline, outlet, date) is prepended to ``text`` for embedding and BM25 only;
    the offsets always point into the body. Article metadata is copied so a chunk stands alone.
    """

    id: str
    article_id: str
    index: int
    text: str
    start: int
    end: int
    header: str
    title: str
    outlet: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    url: str | None = None
    category: str | None = None

    @property
    def indexed_text(self) -> str:
        """The text that is embedded and lexically indexed: header, blank line, passage."""
        return f"{self.header}\n\n{self.text}" if self.header else self.text

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (dates as ISO 8601 strings)."""
        d = asdict(self)
        d["published_at"] = _iso(self.published_at)
        return d


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and rank (1-based), plus per-retriever ranks."""

    chunk: Chunk
    score: float
    rank: int
    dense_rank: int | None = None
    lexical_rank: int | None = None
    # other outlets and dates that ran the same story ("outlet | YYYY-MM-DD | url"): identical
    # bodies stored once and near-duplicate re-runs collapsed by rag.retrieve.syndication
    also_ran_in: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "chunk": self.chunk.to_dict(),
            "score": self.score,
            "rank": self.rank,
            "dense_rank": self.dense_rank,
            "lexical_rank": self.lexical_rank,
            "also_ran_in": list(self.also_ran_in),
        }


@dataclass(frozen=True)
class Source:
    """A cited passage as shown with an answer.

    ``n`` is the citation number used by ``[n]`` markers in the answer text. ``quote`` is
    exactly ``article.body[start:end]``: the best-supporting span of the passage. ``passage``
    is the whole chunk text it came from (``passage_start``/``passage_end`` in the body).
    """

    n: int
    article_id: str
    chunk_id: str
    title: str
    outlet: str | None
    author: str | None
    published_at: datetime | None
    url: str | None
    quote: str
    start: int
    end: int
    passage: str = ""
    passage_start: int = 0
    passage_end: int = 0
    also_ran_in: tuple[str, ...] = ()  # the same story elsewhere (see Hit.also_ran_in)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (dates as ISO 8601 strings)."""
        d = asdict(self)
        d["published_at"] = _iso(self.published_at)
        d["also_ran_in"] = list(self.also_ran_in)
        return d


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer and the citation numbers it carries after verification.

    ``supported`` is False when no shown passage supports it (it is then flagged, not hidden).
    """

    text: str
    citations: tuple[int, ...] = ()
    supported: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"text": self.text, "citations": list(self.citations), "supported": self.supported}


ABSTAIN_TEXT = "The archive has no passage that answers this."

DIRECT_KINDS = ("person", "org", "place", "number", "date", "yes", "no", "none")


@dataclass(frozen=True)
class Direct:
    """The short direct answer an answer opens with ("Emmett Shear.", "Yes.", "Seven counts.").

    ``kind`` is one of :data:`DIRECT_KINDS` (``none``: the question asks for a name, number,
    date or yes/no but the cited evidence cannot decide it, and ``text`` says so).
    ``citations`` are the answer's source numbers the direct answer rests on: for a name,
    number or date, every one of them holds it (checked by the verifier).
    """

    text: str
    kind: str
    citations: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"text": self.text, "kind": self.kind, "citations": list(self.citations)}


@dataclass(frozen=True)
class Answer:
    """A verified answer: every ``[n]`` in ``text`` resolves to an entry of ``sources``.

    ``removed_citations`` counts markers the verifier dropped (invented, out of range or
    unsupported); ``citations_total`` counts the markers the answerer wrote and
    ``citations_invalid`` those that resolved to no shown passage (before removal).
    ``timing_ms`` maps stage name to milliseconds. ``passages`` holds the hits that were shown
    to the answerer (not serialized by default: they are large). ``rewritten_question`` is the
    standalone question a follow-up ``question`` was searched and answered as (None when the
    question stood alone).
    """

    question: str
    text: str
    abstained: bool
    sentences: tuple[Sentence, ...] = ()
    sources: tuple[Source, ...] = ()
    removed_citations: int = 0
    citations_total: int = 0
    citations_invalid: int = 0
    timing_ms: dict[str, float] = field(default_factory=dict)
    settings_hash: str = ""
    answerer: str = "extractive"
    rewritten_question: str | None = None
    # the short direct answer ``text`` starts with, when the question asks for one
    direct: Direct | None = None
    # sentences the answerer wrote that no shown passage supports: left out of ``text``
    removed_sentences: tuple[str, ...] = ()
    passages: tuple[Hit, ...] = field(default=(), compare=False, repr=False)

    def to_dict(self, include_passages: bool = False) -> dict[str, Any]:
        """Return the JSON shape of ``rag ask --json``."""
        d: dict[str, Any] = {
            "question": self.question,
            "text": self.text,
            "abstained": self.abstained,
            "sentences": [s.to_dict() for s in self.sentences],
            "sources": [s.to_dict() for s in self.sources],
            "removed_citations": self.removed_citations,
            "citations_total": self.citations_total,
            "citations_invalid": self.citations_invalid,
            "timing_ms": dict(self.timing_ms),
            "settings_hash": self.settings_hash,
            "answerer": self.answerer,
            "rewritten_question": self.rewritten_question,
            "direct": self.direct.to_dict() if self.direct is not None else None,
            "removed_sentences": list(self.removed_sentences),
        }
        if include_passages:
            d["passages"] = [h.to_dict() for h in self.passages]
        return d


@dataclass(frozen=True)
class BadRecord:
    """A record or file that could not be ingested, with where it was and why."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ChunkedArticle:
    """An article and its chunks, chunked where it was parsed (a Ray task) and ingested as is."""

    article: Article
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True)
class IngestReport:
    """What an ingest run did. ``errors`` holds one :class:`BadRecord` per skipped input.
    ``revised``: updated articles whose earlier body was kept as a revision. ``chunks_embedded``:
    vectors computed by ``embedder`` (its manifest name), not reused; ``chunks_per_second`` is
    that count per wall second of the whole run (reading, embedding, writing, refreshing)."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    errors: tuple[BadRecord, ...] = ()
    revised: int = 0
    chunks_embedded: int = 0
    embedder: str = ""

    @property
    def chunks_per_second(self) -> float:
        """Chunks embedded per wall second of the run (0.0 for an instant run)."""
        return self.chunks_embedded / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        d = asdict(self)
        d["errors"] = [str(e) for e in self.errors]
        d["chunks_per_second"] = round(self.chunks_per_second, 1)
        return d

    def summary(self) -> str:
        """One line for humans."""
        by = f" by {self.embedder}" if self.embedder else ""
        return (
            f"articles: {self.new} new, {self.updated} updated ({self.revised} revised), {self.unchanged} unchanged, "
            f"{self.duplicates} duplicate, {self.skipped} skipped; chunks: +{self.chunks_added} "
            f"-{self.chunks_removed}; {self.chunks_embedded} chunks embedded at {self.chunks_per_second:.1f} "
            f"chunks/s{by}; {self.seconds:.1f}s"
        )


@dataclass(frozen=True)
class TimelineSource:
    """One outlet's report of a timeline event: ``quote == body[start:end]`` of its article.

    ``first`` marks the source published earliest among the event's sources. ``passage`` is
    the paragraph around the quote (``passage_start`` in the body), for display only.
    """

    n: int
    article_id: str
    outlet: str | None
    title: str
    published_at: datetime | None
    url: str | None
    quote: str
    start: int
    end: int
    first: bool = False
    passage: str = field(default="", compare=False, repr=False)
    passage_start: int = field(default=0, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of a ``rag timeline --json`` source."""
        return {
            "n": self.n, "article_id": self.article_id, "outlet": self.outlet, "title": self.title,
            "published_at": _iso(self.published_at), "url": self.url, "quote": self.quote,
            "start": self.start, "end": self.end, "first": self.first,
        }


@dataclass(frozen=True)
class TimelineEvent:
    """Something that happened on ``date`` (``date_source``: ``stated`` in the text, or the
    ``published`` date of the first report), as reported by every source in ``sources``."""

    date: Day
    date_source: str
    text: str
    sources: tuple[TimelineSource, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the date as ``YYYY-MM-DD``)."""
        return {"date": self.date.isoformat(), "date_source": self.date_source, "text": self.text,
                "sources": [s.to_dict() for s in self.sources]}


@dataclass(frozen=True)
class Timeline:
    """A story's events in date order (the JSON of ``rag timeline --json``)."""

    query: str
    events: tuple[TimelineEvent, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return ``{query, events}``."""
        return {"query": self.query, "events": [e.to_dict() for e in self.events]}


@dataclass(frozen=True)
class OutletView:
    """One outlet's side of a comparison: its most relevant passages, each a :class:`Source`
    whose ``quote`` (== ``article.body[start:end]``) is the passage's best-supporting span."""

    outlet: str
    passages: tuple[Source, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return ``{outlet, passages}``."""
        return {"outlet": self.outlet, "passages": [p.to_dict() for p in self.passages]}


@dataclass(frozen=True)
class Difference:
    """What differs between outlets: ``kind`` "figure" (different numbers for one quantity)
    or "only" (a claim one outlet makes); ``sources`` cite both sides, exact sentences."""

    kind: str
    text: str
    sources: tuple[Source, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return ``{kind, text, sources}``."""
        return {"kind": self.kind, "text": self.text, "sources": [s.to_dict() for s in self.sources]}


@dataclass(frozen=True)
class Comparison:
    """Outlets side by side on ``query`` (``rag compare``): their passages and differences."""

    query: str
    outlets: tuple[OutletView, ...] = ()
    differences: tuple[Difference, ...] = ()
    timing_ms: dict[str, float] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of ``rag compare --json``: ``{query, outlets, differences}``."""
        return {
            "query": self.query,
            "outlets": [v.to_dict() for v in self.outlets],
            "differences": [d.to_dict() for d in self.differences],
        }


@dataclass(frozen=True)
class Revision:
    """One version of an article's body: current from ``valid_from`` until ``valid_to``
    (None: still current). ``sentences_added``/``sentences_removed`` compare it with the
    revision before it (the first revision adds nothing)."""

    revision: int
    valid_from: datetime | None
    valid_to: datetime | None
    title: str
    body: str
    published_at: datetime | None = None
    updated_at: datetime | None = None
    sentences_added: tuple[str, ...] = ()
    sentences_removed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return one revision of ``rag history --json`` (no body)."""
        return {
            "revision": self.revision, "valid_from": _iso(self.valid_from), "valid_to": _iso(self.valid_to),
            "title": self.title, "sentences_added": list(self.sentences_added),
            "sentences_removed": list(self.sentences_removed),
        }


@dataclass(frozen=True)
class History:
    """An article's revisions, oldest first (the JSON of ``rag history --json``)."""

    article_id: str
    url: str | None
    revisions: tuple[Revision, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return ``{article_id, url, revisions}``."""
        return {"article_id": self.article_id, "url": self.url, "revisions": [r.to_dict() for r in self.revisions]}
