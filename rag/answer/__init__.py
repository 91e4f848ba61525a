"""Answering: answerers write drafts; :func:`finish` verifies every one of them.

:data:`ANSWERERS` is the one registry of answerers: the CLI's ``--answerer`` choices, the
chat's selector, ``rag eval`` and ``Settings.answerer`` all read it. A new answerer is a class
with ``name``, ``streams`` and ``draft`` (see :class:`rag.answer.base.DraftAnswerer`) and one
entry here.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any, Callable

from rag.answer.base import Answerer, AnswerStream, Draft, DraftAnswerer, finish, stream_answer
from rag.errors import BackendUnavailable

# The answerers themselves load on first use: every `rag` command reads the registry's names
# (its --answerer choices), and importing the answerers' models and numpy for `rag stats` or
# `rag --help` cost ~65 ms of start-up.
_LAZY = {
    "ExtractiveAnswerer": "rag.answer.extractive",
    "GenerativeAnswerer": "rag.answer.generative",
    "verify_answer": "rag.answer.verify",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rag.answer' has no attribute {name!r}")

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
    from rag.answer.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer(settings, embedder=embedder)


def _llm(settings: Any, llm: Any = None, embedder: Any = None) -> Answerer:
    if llm is None:
        if not settings.llm_configured:
            raise BackendUnavailable(
                "answerer 'llm' needs an OpenAI-compatible endpoint: set RAG_LLM_BASE_URL and RAG_LLM_MODEL"
            )
        from rag.answer.llm import OpenAICompatibleLLM

        llm = OpenAICompatibleLLM(settings)
    from rag.answer.generative import GenerativeAnswerer

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
