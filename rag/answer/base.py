"""The answerer interface shared by the extractive and the LLM answerer."""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

from rag.types import Answer, Hit


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
    """Turns a question and the shown passages (numbered ``[1]..[len(hits)]``) into a
    verified :class:`Answer`."""

    name: str

    def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Answer ``question`` from ``hits``; the result is verified."""
        ...

    def stream(self, question: str, hits: Sequence[Hit]) -> AnswerStream:
        """Like :meth:`answer` but yielding text deltas first."""
        ...
