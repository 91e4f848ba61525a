"""LLM access: a two-method protocol and its OpenAI-compatible implementation.

This is the only module that imports ``llama_index.llms``; the import happens when an
:class:`OpenAICompatibleLLM` is built, so ``import rag.answer.llm`` stays cheap. Endpoint failures
(connection refused, timeouts, HTTP errors) surface as one-line
:class:`rag.errors.BackendUnavailable` errors.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterator, Protocol, runtime_checkable

from rag.errors import BackendUnavailable

if TYPE_CHECKING:
    from rag.settings import Settings


@runtime_checkable
class LLMClient(Protocol):
    """What answerers need from a language model."""

    def complete(self, prompt: str, system: str | None = None) -> str:
        """Return the full reply to ``prompt`` (with an optional system message)."""
        ...

    def stream(self, prompt: str, system: str | None = None) -> Iterator[str]:
        """Yield the reply to ``prompt`` as text deltas."""
        ...


def _one_line(text: str, limit: int = 240) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class OpenAICompatibleLLM:
    """Chat client for an OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server, OpenAI),
    built on llama-index's ``OpenAILike`` from ``settings.llm_*``."""

    def __init__(self, settings: "Settings", *, max_retries: int = 1, context_window: int = 8192):
        if not settings.llm_configured:
            raise BackendUnavailable(
                "LLM answerer needs an OpenAI-compatible endpoint: set RAG_LLM_BASE_URL and RAG_LLM_MODEL"
            )
        from llama_index.llms.openai_like import OpenAILike

        self.base_url = str(settings.llm_base_url)
        self.model = str(settings.llm_model)
        self._llm = OpenAILike(
            model=self.model,
            api_base=self.base_url,
            api_key=settings.llm_api_key or "not-needed",
            is_chat_model=True,
            is_function_calling_model=False,
            temperature=settings.llm_temperature,
            timeout=settings.llm_timeout,
            max_tokens=settings.llm_max_tokens,
            max_retries=max_retries,
            context_window=context_window,
        )

    def _messages(self, prompt: str, system: str | None) -> list[Any]:
        from llama_index.core.base.llms.types import ChatMessage, MessageRole

        msgs = [ChatMessage(role=MessageRole.SYSTEM, content=system)] if system else []
        msgs.append(ChatMessage(role=MessageRole.USER, content=prompt))
        return msgs

    def _error(self, exc: Exception) -> BackendUnavailable:
        import openai

        url = self.base_url
        if isinstance(exc, openai.APITimeoutError):
            msg = f"LLM endpoint {url} timed out: {_one_line(exc)}"
        elif isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            msg = f"LLM endpoint {url} is unreachable: {_one_line(cause) or type(cause).__name__}"
        elif isinstance(exc, openai.APIStatusError):
            msg = f"LLM endpoint {url} returned HTTP {exc.status_code}: {_one_line(exc.message)}"
        else:
            msg = f"LLM endpoint {url} failed: {type(exc).__name__}: {_one_line(exc)}"
        return BackendUnavailable(msg)

    def _errors(self) -> tuple[type[BaseException], ...]:
        import httpx
        import openai

        return (openai.OpenAIError, httpx.HTTPError)

    def complete(self, prompt: str, system: str | None = None) -> str:
        """Send one chat request and return the assistant's reply text."""
        try:
            resp = self._llm.chat(self._messages(prompt, system))
        except self._errors() as exc:
            raise self._error(exc) from exc
        return resp.message.content or ""

    def stream(self, prompt: str, system: str | None = None) -> Iterator[str]:
        """Send one streaming chat request and yield the reply's text deltas."""
        errors = self._errors()
        try:
            for chunk in self._llm.stream_chat(self._messages(prompt, system)):
                if chunk.delta:
                    yield chunk.delta
        except errors as exc:
            raise self._error(exc) from exc
