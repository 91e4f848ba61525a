"""Article -> Chunk: token-aware (tiktoken cl100k), on sentence boundaries, with overlap.

Every chunk records its character offsets in the article body (``body[start:end] == text``).
The header (headline, outlet, date) is kept apart and only prepended for indexing.
"""
from __future__ import annotations

import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path

from rag.ingest.ids import chunk_id
from rag.text import split_sentences
from rag.types import Article, Chunk, byline

_ENC_LOCK = threading.Lock()


def _point_tiktoken_at_bundled_cache() -> None:
    """tiktoken downloads its BPE files on first use; llama-index-core ships them. Point
    tiktoken there (without importing llama-index, which is slow)."""
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    spec = importlib.util.find_spec("llama_index.core")
    if spec and spec.submodule_search_locations:
        cache = Path(list(spec.submodule_search_locations)[0]) / "_static" / "tiktoken_cache"
        if cache.is_dir():
            os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)


@lru_cache(maxsize=1)
def encoding():
    """The cl100k_base tokenizer, loaded offline from llama-index's bundled cache."""
    with _ENC_LOCK:
        _point_tiktoken_at_bundled_cache()
        import tiktoken

        return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``."""
    return len(encoding().encode_ordinary(text))


def make_header(article: Article) -> str:
    """``headline — outlet — YYYY-MM-DD``, leaving out what the article does not have."""
    parts = [article.title.strip()] if article.title and article.title.strip() else []
    if article.outlet:
        parts.append(article.outlet)
    if article.published_at is not None:
        parts.append(article.published_at.date().isoformat())
    return " — ".join(parts)


def _units(body: str, max_tokens: int) -> list[tuple[int, int, int]]:
    """Sentence spans of ``body`` as (start, end, tokens); sentences longer than
    ``max_tokens`` are cut at white space into pieces that fit."""
    spans = [(s, e) for s, e in split_sentences(body) if body[s:e].strip()]
    if not spans:
        spans = [(0, len(body))]
    enc = encoding()
    # One call per sentence: encode_ordinary_batch starts a thread pool per call, which made
    # chunking 5x slower on a news corpus (many short sentences per article).
    counts = [len(enc.encode_ordinary(body[s:e])) for s, e in spans]
    units: list[tuple[int, int, int]] = []
    for (s, e), n in zip(spans, counts):
        if n <= max_tokens:
            units.append((s, e, n))
            continue
        # Too long: greedy pieces at white space.
        piece_start, pos = s, s
        while pos < e:
            nxt = body.find(" ", pos + 1, e)
            nxt = e if nxt == -1 else nxt
            if count_tokens(body[piece_start:nxt]) > max_tokens and pos > piece_start:
                units.append((piece_start, pos, count_tokens(body[piece_start:pos])))
                piece_start = pos + 1
            pos = nxt
        if piece_start < e:
            units.append((piece_start, e, count_tokens(body[piece_start:e])))
    return units


def chunk_article(article: Article, chunk_tokens: int = 200, overlap: int = 40) -> list[Chunk]:
    """Split an article body into chunks of at most ``chunk_tokens`` tokens made of whole
    sentences, each starting with up to ``overlap`` tokens of the previous chunk's sentences."""
    if chunk_tokens < 16:
        raise ValueError("chunk_tokens must be at least 16")
    overlap = max(0, min(overlap, chunk_tokens // 2))
    body = article.body
    units = _units(body, chunk_tokens)
    header = make_header(article)
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (total + units[j][2] <= chunk_tokens or j == i):
            total += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        text = body[start:end]
        chunks.append(
            Chunk(
                id=chunk_id(article.id, start, end, text),
                article_id=article.id,
                index=len(chunks),
                text=text,
                start=start,
                end=end,
                header=header,
                **byline(article),
                category=article.category,
            )
        )
        if j >= len(units):
            break
        # Next chunk starts with the trailing sentences that fit in the overlap budget.
        k, carried = j, 0
        while k - 1 > i and carried + units[k - 1][2] <= overlap:
            carried += units[k - 1][2]
            k -= 1
        i = k
    return chunks
