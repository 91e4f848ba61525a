"""The public facade: an :class:`Archive` is one index folder plus the models that serve it.

    from rag import Archive
    archive = Archive.open("index/sample")
    print(archive.ask("What did the Pentagon memo say about Alibaba?").text)
"""
from __future__ import annotations

import dataclasses
import threading
import time
from datetime import date, datetime, time as dtime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from rag.index.embedding import DEFAULT_EMBEDDER, Embedder, embedder_kind, make_embedder
from rag.errors import BadInput
from rag.settings import Settings
from rag.index.store import MANIFEST, IndexStore, read_manifest
from rag.types import Answer, Hit, IngestReport

if TYPE_CHECKING:
    from rag.types import History
    from rag.answer.followup import Turn
    from rag.types import Timeline
    from rag.types import Comparison

DateLike = date | datetime | str | None


def parse_date(value: DateLike, end_of_day: bool = False) -> datetime | None:
    """A timezone-aware datetime from a date, datetime or ISO string (``YYYY-MM-DD`` means
    the start of that day in UTC, or its end with ``end_of_day``)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip()) if "T" in value or " " in value.strip() else date.fromisoformat(value.strip())
        except ValueError as exc:
            raise BadInput(f"not a date: {value!r} (use YYYY-MM-DD)") from exc
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.combine(value, dtime.max if end_of_day else dtime.min, tzinfo=timezone.utc)


class Archive:
    """A news archive: ingest articles, search them, and ask questions with verified citations.

    Thread-safe for concurrent ``search``/``ask``; ingest is serialized. Models load once per
    process and are shared by every Archive.
    """

    def __init__(self, store: IndexStore, embedder: Embedder, settings: Settings):
        from rag.retrieve.retriever import Retriever

        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.retriever = Retriever(store, embedder, settings)
        self._ingest_lock = threading.Lock()
        self._models_lock = threading.RLock()  # answerers and the LLM client are built once
        self._answerers: dict[str, Any] = {}
        self._llm: Any = None

    # ---- construction ------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None = None, settings: Settings | None = None) -> "Archive":
        """Open an existing index (``IndexMissing`` if there is none, ``IndexMismatch`` if it
        was built with another embedding model)."""
        return cls._open(path, settings, create=False)

    @classmethod
    def create(cls, path: str | Path | None = None, settings: Settings | None = None) -> "Archive":
        """Open the index at ``path``, creating an empty one if it does not exist."""
        return cls._open(path, settings, create=True)

    @classmethod
    def _open(cls, path, settings, create):
        settings = settings or Settings.load()
        path = Path(path or settings.index)
        if settings.embedder is None:  # unset: the embedder that built the index (a new one: the default)
            settings = settings.with_(embedder=built_with(path) or DEFAULT_EMBEDDER)
        embedder = make_embedder(settings)
        store = IndexStore.open(path, settings, embedder.name, embedder.dim, create=create)
        return cls(store, embedder, settings.with_(index=str(path)))

    @property
    def path(self) -> Path:
        """The index folder."""
        return self.store.path

    # ---- ingest ------------------------------------------------------------------------
    def ingest(self, paths: Sequence[str | Path] | str | Path, progress: bool = False, on_progress=None) -> IngestReport:
        """Ingest files or folders (json, jsonl, csv, txt, html, rss/atom). Bad records are
        skipped and listed in the report; the rest is ingested."""
        from rag.ingest.pipeline import ingest_paths

        if isinstance(paths, (str, Path)):
            paths = [paths]
        with self._ingest_lock:
            return ingest_paths(self.store, self.embedder, paths, progress=progress, on_progress=on_progress)

    # ---- search and answer -------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        since: DateLike = None,
        until: DateLike = None,
        outlets: Sequence[str] | None = None,
        as_of: DateLike = None,
    ) -> list[Hit]:
        """The ``k`` passages that best match ``query`` (hybrid dense + BM25), best first;
        ``as_of``: from the article revisions current at the end of that day."""
        if not query or not query.strip():
            raise BadInput("empty query")
        with self.store.pinned():  # one snapshot pair for the whole search, even mid-refresh
            return self.retriever.search(
                query, k, parse_date(since), parse_date(until, end_of_day=True), list(outlets) if outlets else None,
                as_of=_as_of(as_of),
            )

    def timeline(self, query: str, k: int | None = None, since: DateLike = None, until: DateLike = None,
                 outlets: Sequence[str] | None = None) -> "Timeline":
        """The events of the story ``query`` names, in date order, each with every outlet that
        reported it (the first marked) and exact quotes; ``since``/``until`` bound the event
        dates (see :func:`rag.stories.timeline.build_timeline`)."""
        from rag.stories.timeline import build_timeline

        if not query or not query.strip():
            raise BadInput("empty query")
        with self.store.pinned():
            return build_timeline(self, query, k, since, until, outlets)

    def _llm_client(self) -> Any:
        """The OpenAI-compatible client of ``settings.llm_*`` (built once, shared by the llm
        answerer and follow-up rewriting), or None when no endpoint is configured."""
        if not self.settings.llm_configured:
            return None
        with self._models_lock:
            if self._llm is None:
                from rag.answer.llm import OpenAICompatibleLLM

                self._llm = OpenAICompatibleLLM(self.settings)
            return self._llm

    def _answerer(self, name: str | None):
        from rag.answer import make_answerer

        name = name or self.settings.answerer
        with self._models_lock:
            if name not in self._answerers:
                llm = self._llm_client() if name == "llm" else None  # the one answerer that writes with it
                self._answerers[name] = make_answerer(self.settings.with_(answerer=name), llm=llm, embedder=self.embedder)
            return self._answerers[name]

    def _rewrite(self, question: str, history: Sequence["Turn"] | None) -> str | None:
        """The standalone form of a follow-up ``question`` (by the LLM when one is configured,
        else by rule), or None when it stands alone or there is no ``history``."""
        if not history:
            return None
        from rag.answer.followup import standalone_question

        standalone = standalone_question(question, history, llm=self._llm_client())
        return standalone if standalone != question.strip() else None

    def _prepare(self, question, k, since, until, outlets, answerer, history, as_of=None) -> "_Prepared":
        """Rewrite a follow-up, retrieve the passages, pick the answerer: all but the draft."""
        t0 = time.perf_counter()
        rewritten = self._rewrite(question, history)
        asked = rewritten or question
        t = time.perf_counter()
        hits = self.search(asked, k or self.settings.answer_passages, since, until, outlets, as_of=as_of)
        retrieve_ms = (time.perf_counter() - t) * 1000
        return _Prepared(question, rewritten, asked, hits, retrieve_ms, t0, self._answerer(answerer))

    def ask(self, question: str, k: int | None = None, since: DateLike = None, until: DateLike = None,
            outlets: Sequence[str] | None = None, answerer: str | None = None, history: Sequence["Turn"] | None = None,
            as_of: DateLike = None) -> Answer:
        """Answer ``question`` from the archive. Every ``[n]`` in the answer resolves to a
        source whose quote is an exact span of its article; weak evidence gives a refusal.
        With ``history`` (earlier turns, oldest first: ``(role, text)`` or ``{"role", "content"}``
        with the standalone form of earlier questions) a follow-up is rewritten first and the
        Answer's ``rewritten_question`` says into what. ``as_of``: answer from the article
        revisions current then (quotes are spans of those revisions' bodies)."""
        from rag.answer import finish

        p = self._prepare(question, k, since, until, outlets, answerer, history, as_of)
        ans = finish(p.answerer.draft(p.asked, p.hits), self.settings.support_threshold)  # every answer, whatever wrote it
        return self._finish(ans, p)

    def ask_stream(self, question: str, k: int | None = None, since: DateLike = None, until: DateLike = None,
                   outlets: Sequence[str] | None = None, answerer: str | None = None,
                   history: Sequence["Turn"] | None = None, as_of: DateLike = None) -> "AskStream":
        """Like :meth:`ask`, streamed: read ``.rewritten_question``, iterate for text deltas,
        then read ``.answer``."""
        from rag.answer import stream_answer

        p = self._prepare(question, k, since, until, outlets, answerer, history, as_of)
        inner = stream_answer(p.answerer, p.asked, p.hits, self.settings.support_threshold)
        return AskStream(inner, lambda a: self._finish(a, p), p.rewritten)

    def _finish(self, ans: Answer, p: "_Prepared") -> Answer:
        timing = dict(ans.timing_ms)
        timing["retrieve"] = round(p.retrieve_ms, 1)
        timing["total"] = round((time.perf_counter() - p.t0) * 1000, 1)
        asked = dict(question=p.question, rewritten_question=p.rewritten) if p.rewritten else {}
        return dataclasses.replace(ans, timing_ms=timing, settings_hash=self.settings.answer_hash(), **asked)

    def compare(self, query: str, outlets: Sequence[str] | None = None, since: DateLike = None,
                until: DateLike = None, k: int | None = None) -> "Comparison":
        """The outlets covering ``query`` (or ``outlets``, or those the query names) side by
        side: each one's best passages as exact quotes, then the figures that differ and the
        claims only one makes (:mod:`rag.stories.compare`)."""
        from rag.stories.compare import PASSAGES_PER_OUTLET, compare

        return compare(self, query, outlets, since, until, k or PASSAGES_PER_OUTLET)

    def history(self, url_or_id: str) -> "History":
        """The revisions of the article with this id or URL, oldest first, with the sentences
        each added and removed (:func:`rag.index.revisions.history`)."""
        from rag.index.revisions import history
        from rag.ingest.ids import article_id

        key = (url_or_id or "").strip()
        found = history(self.store.records, key) if key else None
        if found is None and key:
            found = history(self.store.records, article_id(key, "", ""))
        if found is None:
            raise BadInput(f"no article with id or URL {url_or_id!r} in {self.path}")
        return found

    # ---- information -------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Articles, chunks, outlets and date span of the index, and what built it."""
        r = self.store.records
        first, last = r.date_span()
        return {
            "index": str(self.path),
            **r.counts(),
            "outlets": dict(r.outlets()),
            "first_date": first.isoformat() if first else None,
            "last_date": last.isoformat() if last else None,
            "embedder": self.store.config.embedder,
            "chunk_tokens": self.store.config.chunk_tokens,
            "chunk_overlap": self.store.config.chunk_overlap,
        }

    def outlets(self) -> list[str]:
        """Outlet names in the index, most articles first."""
        return [o for o, _ in self.store.records.outlets()]

    def close(self) -> None:
        """Release resources held by this thread."""
        self.store.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """A question ready for its draft: as asked, as rewritten, its passages and answerer."""

    question: str
    rewritten: str | None
    asked: str  # what is searched and answered: the rewrite, or the question itself
    hits: list[Hit]
    retrieve_ms: float
    t0: float
    answerer: Any


class AskStream:
    """Iterate for text deltas; after the iteration ``answer`` holds the verified Answer.
    ``rewritten_question`` (known before the first delta) is the standalone form of a
    follow-up, or None."""

    def __init__(self, inner, finish, rewritten_question: str | None = None):
        self._inner = inner
        self._finish = finish
        self.rewritten_question = rewritten_question
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._inner
        self.answer = self._finish(self._inner.answer)


def built_with(path: Path) -> str | None:
    """The ``embedder`` setting of the model that built the index at ``path``, None when there
    is no readable manifest or it names no embedder here (opening then says what is wrong)."""
    manifest, _why = read_manifest(Path(path) / MANIFEST)
    return embedder_kind(manifest["embedder"]) if manifest is not None else None


def _as_of(value: DateLike) -> datetime | None:
    """The end of the day ``value`` names (a datetime stays as it is), or None."""
    return parse_date(value, end_of_day=True)
