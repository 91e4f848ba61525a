"""The answerer interface, and the one place every answer is verified.

An answerer writes a :class:`Draft`: raw text with ``[n]`` markers over the passages it was
shown (and, for a streaming answerer, the raw text arrives as deltas). It never verifies:
:func:`finish` does, for every draft whatever wrote it: citations and quotes
(:func:`rag.answer.verify.verify_answer`), where else each cited story ran
(:func:`rag.retrieve.syndication.attach_also_ran_in`), and the answerer's note on a refusal. The
``Archive`` calls :func:`finish`; :class:`DraftAnswerer` gives answerers the ``answer`` and
``stream`` conveniences on top of the same function, so no path skips it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

from rag.types import ABSTAIN_TEXT, Answer, Hit


@dataclass(frozen=True)
class Draft:
    """What an answerer wrote, before verification. ``refusal_note`` is added after the
    refusal text when the answer abstains ("Nothing in it mentions Baidu.")."""

    question: str
    text: str
    hits: tuple[Hit, ...]
    answerer: str
    timing_ms: dict[str, float] = field(default_factory=dict)
    refusal_note: str = ""


def finish(draft: Draft, support_threshold: float) -> Answer:
    """The verified :class:`Answer` of ``draft``: the one check every answer passes."""
    from rag.answer.verify import verify_answer
    from rag.retrieve.syndication import attach_also_ran_in

    ans = verify_answer(draft.question, draft.text, draft.hits, support_threshold=support_threshold,
                        answerer=draft.answerer)
    ans = attach_also_ran_in(ans, draft.hits)  # where else each cited story ran
    if ans.abstained and draft.refusal_note:
        ans = replace(ans, text=f"{ABSTAIN_TEXT} {draft.refusal_note}")
    return replace(ans, timing_ms={**ans.timing_ms, **draft.timing_ms})


class AnswerStream:
    """Iterate for text deltas (``str``); once exhausted, :attr:`answer` holds the verified
    :class:`Answer` built from the concatenated deltas. Reading :attr:`answer` early drains
    the remaining deltas first. Single use."""

    def __init__(self, deltas: Iterable[str], finish: Callable[[str], Answer]):
        self._deltas = iter(deltas)
        self._finish = finish
        self._parts: list[str] = []
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._answer is not None:
            raise StopIteration
        try:
            delta = next(self._deltas)
        except StopIteration:
            self._answer = self._finish("".join(self._parts))
            raise
        self._parts.append(delta)
        return delta

    @property
    def text(self) -> str:
        """The raw text streamed so far (unverified)."""
        return "".join(self._parts)

    @property
    def answer(self) -> Answer:
        """The verified answer (drains the stream if it was not fully iterated)."""
        for _ in self:
            pass
        assert self._answer is not None
        return self._answer


@runtime_checkable
class Answerer(Protocol):
    """Writes drafts from a question and the shown passages (numbered ``[1]..[len(hits)]``).

    ``streams``: True when :meth:`draft_deltas` yields text as it is written (an LLM); False
    when the whole draft exists at once (the extractive answerer), so callers verify it first
    and stream the verified sentences."""

    name: str
    streams: bool

    def draft(self, question: str, hits: Sequence[Hit]) -> Draft:
        """The unverified draft for ``question`` over ``hits``."""
        ...

    def draft_deltas(self, question: str, hits: Sequence[Hit]) -> tuple[Iterator[str], Callable[[str], Draft]]:
        """Raw text deltas, and how to make the draft from their concatenation."""
        ...


class DraftAnswerer:
    """Base of the answerers: ``answer`` and ``stream`` built on ``draft`` /
    ``draft_deltas`` and :func:`finish`, so that they are verified like the Archive's."""

    name = "draft"
    streams = False
    settings: object

    def draft(self, question: str, hits: Sequence[Hit]) -> Draft:  # pragma: no cover - abstract
        raise NotImplementedError

    def draft_deltas(self, question: str, hits: Sequence[Hit]) -> tuple[Iterator[str], Callable[[str], Draft]]:
        """Default: the whole draft as one delta."""
        d = self.draft(question, hits)
        return iter([d.text]), lambda text: replace(d, text=text)

    def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """The verified answer (:func:`finish` of :meth:`draft`)."""
        return finish(self.draft(question, hits), self.settings.support_threshold)

    def stream(self, question: str, hits: Sequence[Hit]) -> AnswerStream:
        """Text deltas, then ``.answer``: the verified answer."""
        return stream_answer(self, question, hits, self.settings.support_threshold)


def stream_answer(answerer: Answerer, question: str, hits: Sequence[Hit], support_threshold: float,
                  after: Callable[[Answer], Answer] = lambda a: a) -> AnswerStream:
    """Stream ``answerer``'s answer: a streaming answerer's raw deltas, verified when they
    end; otherwise the verified answer's own text, direct answer first, sentence by sentence."""
    t0 = time.perf_counter()
    if answerer.streams:
        deltas, make = answerer.draft_deltas(question, hits)

        def done(text: str) -> Answer:
            d = make(text)
            timing = {**d.timing_ms, "answer": (time.perf_counter() - t0) * 1000}
            return after(finish(replace(d, timing_ms=timing), support_threshold))

        return AnswerStream(deltas, done)
    ans = after(finish(answerer.draft(question, hits), support_threshold))
    return AnswerStream(_verified_parts(ans), lambda _text: ans)


def _verified_parts(ans: Answer) -> list[str]:
    from rag.answer.markers import render_sentence

    if ans.abstained or not ans.sentences:
        return [ans.text]
    parts = [render_sentence(s) for s in ans.sentences]
    body = " ".join(parts)
    head = ans.text[: len(ans.text) - len(body)] if ans.text.endswith(body) else ""
    return ([head] if head else []) + [p + " " for p in parts[:-1]] + parts[-1:]
