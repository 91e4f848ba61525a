"""Core value types of newsrag: small frozen dataclasses with ``to_dict()`` for JSON.

Data flows one way: files -> :class:`Article` -> :class:`Chunk` -> index -> :class:`Hit`
-> :class:`Answer` (with :class:`Source` and :class:`Sentence`). No third-party type
(llama-index nodes, chroma collections, gradio components) ever appears here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
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

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (dates as ISO 8601 strings)."""
        d = asdict(self)
        d["published_at"] = _iso(self.published_at)
        d["also_in"] = list(self.also_in)
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
    """What an ingest run did. ``errors`` holds one :class:`BadRecord` per skipped input."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    errors: tuple[BadRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        d = asdict(self)
        d["errors"] = [str(e) for e in self.errors]
        return d

    def summary(self) -> str:
        """One line for humans."""
        return (
            f"articles: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.duplicates} duplicate, {self.skipped} skipped; chunks: +{self.chunks_added} "
            f"-{self.chunks_removed}; {self.seconds:.1f}s"
        )
