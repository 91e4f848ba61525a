"""Answering: the extractive and the LLM answerer, both verified by :func:`verify_answer`."""
from __future__ import annotations

from typing import Any

from rag.answer.base import Answerer, AnswerStream
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generative import GenerativeAnswerer
from rag.answer.verify import verify_answer
from rag.errors import BackendUnavailable

__all__ = [
    "Answerer",
    "AnswerStream",
    "ExtractiveAnswerer",
    "GenerativeAnswerer",
    "verify_answer",
    "make_answerer",
]


def make_answerer(settings: Any, llm: Any = None, embedder: Any = None) -> Answerer:
    """The answerer named by ``settings.answerer``: :class:`GenerativeAnswerer` for ``"llm"``
    (using ``llm`` if given, else an :class:`rag.llm.OpenAICompatibleLLM` from the settings),
    else :class:`ExtractiveAnswerer` (with the optional ``embedder``)."""
    if str(settings.answerer).strip().lower() == "llm":
        if llm is None:
            if not settings.llm_configured:
                raise BackendUnavailable(
                    "answerer 'llm' needs an OpenAI-compatible endpoint: set RAG_LLM_BASE_URL and RAG_LLM_MODEL"
                )
            from rag.llm import OpenAICompatibleLLM

            llm = OpenAICompatibleLLM(settings)
        return GenerativeAnswerer(settings, llm)
    return ExtractiveAnswerer(settings, embedder=embedder)
