"""LLM answerer: numbered passages + ``prompts/answer.md`` -> LLM -> :func:`verify_answer`.

Sources carry ``also_ran_in`` from their hits (:mod:`rag.syndication`), as in the extractive
answerer."""
from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any, Iterator, Sequence

from rag.answer.base import AnswerStream
from rag.answer.verify import neutralize_markers, verify_answer
from rag.llm import LLMClient
from rag.prompts import load_prompt
from rag.syndication import attach_also_ran_in
from rag.types import ABSTAIN_TEXT, Answer, Hit

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)


def passage_header(hit: Hit) -> str:
    """``headline — outlet — YYYY-MM-DD`` (date ``undated`` when unknown)."""
    c = hit.chunk
    date = c.published_at.date().isoformat() if c.published_at else "undated"
    return " — ".join(x for x in (c.title.strip() or "untitled", (c.outlet or "").strip(), date) if x)


def format_passages(hits: Sequence[Hit]) -> str:
    """Number the passages ``[1]..[n]`` as the LLM sees them: header line, then text. Bracketed
    numbers inside passage text are shown as ``(n)`` so they cannot pass for passage numbers."""
    blocks = []
    for n, h in enumerate(hits, 1):
        blocks.append(f"[{n}] {neutralize_markers(passage_header(h))}\n{neutralize_markers(h.chunk.text.strip())}")
    return "\n\n".join(blocks)


class GenerativeAnswerer:
    """Answers with an LLM (any :class:`rag.llm.LLMClient`), then verifies the citations."""

    name = "llm"

    def __init__(self, settings: Any, llm: LLMClient):
        self.settings = settings
        self.llm = llm
        self.prompt = load_prompt("answer")

    def messages(self, question: str, hits: Sequence[Hit]) -> tuple[str | None, str]:
        """The (system, user) messages sent to the LLM."""
        return self.prompt.messages(question=question.strip(), passages=format_passages(hits))

    def _verify(self, question: str, raw: str, hits: Sequence[Hit], answer_ms: float) -> Answer:
        ans = verify_answer(
            question, _THINK.sub("", raw), hits, support_threshold=self.settings.support_threshold, answerer=self.name
        )
        ans = attach_also_ran_in(ans, hits)  # where else each cited story ran (rag.syndication)
        return replace(ans, timing_ms={**ans.timing_ms, "answer": answer_ms})

    def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Ask the LLM once and verify its reply (no call when there are no passages)."""
        t0 = time.perf_counter()
        if not hits:
            return self._verify(question, ABSTAIN_TEXT, hits, 0.0)
        system, user = self.messages(question, hits)
        raw = self.llm.complete(user, system=system)
        return self._verify(question, raw, hits, (time.perf_counter() - t0) * 1000)

    def stream(self, question: str, hits: Sequence[Hit]) -> AnswerStream:
        """Yield the LLM's raw deltas as they arrive; ``.answer`` is then the verified Answer
        (whose text replaces the streamed one)."""
        t0 = time.perf_counter()

        def deltas() -> Iterator[str]:
            if not hits:
                yield ABSTAIN_TEXT
                return
            system, user = self.messages(question, hits)
            yield from self.llm.stream(user, system=system)

        return AnswerStream(
            deltas(), lambda raw: self._verify(question, raw, hits, (time.perf_counter() - t0) * 1000)
        )
