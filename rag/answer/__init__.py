"""Answering: answerers write drafts; :func:`finish` verifies every one of them.

:data:`ANSWERERS` is the one registry of answerers: the CLI's ``--answerer`` choices, the
chat's selector, ``rag eval`` and ``Settings.answerer`` all read it. A new answerer is a class
with ``name``, ``streams`` and ``draft`` (see :class:`rag.answer.base.DraftAnswerer`) and one
entry here.
"""
from __future__ import annotations

from typing import Any, Callable

from rag.answer.base import Answerer, AnswerStream, Draft, DraftAnswerer, finish, stream_answer
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generative import GenerativeAnswerer
from rag.answer.verify import verify_answer
from rag.errors import BackendUnavailable

__all__ = [
    "ANSWERERS",
    "Answerer",
    "AnswerStream",
    "Draft",
    "DraftAnswerer",
    "ExtractiveAnswerer",
    "GenerativeAnswerer",
    "available_answerers",
    "finish",
    "make_answerer",
    "stream_answer",
    "verify_answer",
]


def _extractive(settings: Any, llm: Any = None, embedder: Any = None) -> Answerer:
    return ExtractiveAnswerer(settings, embedder=embedder)


def _llm(settings: Any, llm: Any = None, embedder: Any = None) -> Answerer:
    if llm is None:
        if not settings.llm_configured:
            raise BackendUnavailable(
                "answerer 'llm' needs an OpenAI-compatible endpoint: set RAG_LLM_BASE_URL and RAG_LLM_MODEL"
            )
        from rag.llm import OpenAICompatibleLLM

        llm = OpenAICompatibleLLM(settings)
    return GenerativeAnswerer(settings, llm)


# name -> (factory(settings, llm=None, embedder=None), usable with these settings?)
ANSWERERS: dict[str, tuple[Callable[..., Answerer], Callable[[Any], bool]]] = {
    "extractive": (_extractive, lambda settings: True),
    "llm": (_llm, lambda settings: bool(settings.llm_configured)),
}


def available_answerers(settings: Any) -> list[str]:
    """The registered answerers these settings can run (``llm`` needs an endpoint)."""
    return [name for name, (_, usable) in ANSWERERS.items() if usable(settings)]


def make_answerer(settings: Any, llm: Any = None, embedder: Any = None) -> Answerer:
    """The answerer named by ``settings.answerer`` (unknown names: the extractive one, as
    before; the CLI only offers registered names)."""
    name = str(settings.answerer).strip().lower()
    factory, _ = ANSWERERS.get(name, ANSWERERS["extractive"])
    return factory(settings, llm=llm, embedder=embedder)
