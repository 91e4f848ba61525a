"""LLM answerer: numbered passages + ``prompts/answer.md`` -> LLM -> a :class:`Draft` that
:func:`rag.answer.base.finish` verifies, as every answer."""
from __future__ import annotations

import re
import time
from typing import Any, Callable, Iterator, Sequence

from rag.answer.base import Draft, DraftAnswerer
from rag.answer.markers import neutralize_markers
from rag.answer.llm import LLMClient
from rag.answer.prompts import load_prompt
from rag.types import ABSTAIN_TEXT, Hit

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


class GenerativeAnswerer(DraftAnswerer):
    """Answers with an LLM (any :class:`rag.answer.llm.LLMClient`); its drafts are verified by
    :func:`rag.answer.base.finish` like every answer."""

    name = "llm"
    streams = True

    def __init__(self, settings: Any, llm: LLMClient):
        self.settings = settings
        self.llm = llm
        self.prompt = load_prompt("answer")

    def messages(self, question: str, hits: Sequence[Hit]) -> tuple[str | None, str]:
        """The (system, user) messages sent to the LLM."""
        return self.prompt.messages(question=question.strip(), passages=format_passages(hits))

    def _draft(self, question: str, raw: str, hits: Sequence[Hit], answer_ms: float) -> Draft:
        return Draft(question, _THINK.sub("", raw), tuple(hits), self.name, {"answer": answer_ms})

    def draft(self, question: str, hits: Sequence[Hit]) -> Draft:
        """Ask the LLM once (no call when there are no passages)."""
        t0 = time.perf_counter()
        if not hits:
            return self._draft(question, ABSTAIN_TEXT, hits, 0.0)
        system, user = self.messages(question, hits)
        raw = self.llm.complete(user, system=system)
        return self._draft(question, raw, hits, (time.perf_counter() - t0) * 1000)

    def draft_deltas(self, question: str, hits: Sequence[Hit]) -> tuple[Iterator[str], Callable[[str], Draft]]:
        """The LLM's raw deltas as they arrive, and the draft of their concatenation."""
        t0 = time.perf_counter()

        def deltas() -> Iterator[str]:
            if not hits:
                yield ABSTAIN_TEXT
                return
            system, user = self.messages(question, hits)
            yield from self.llm.stream(user, system=system)

        return deltas(), lambda raw: self._draft(question, raw, hits, (time.perf_counter() - t0) * 1000)
