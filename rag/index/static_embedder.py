"""A static (token-lookup) embedder distilled from the packaged all-MiniLM-L6-v2 by ``model2vec``.

Every vocabulary token goes through MiniLM once, then PCA to :data:`STATIC_DIM` and frequency
weighting; a text's vector is the mean of its tokens' rows. Distillation runs offline once (about
a minute on two cores) and is cached on disk (:func:`cache_dir`), written atomically so concurrent
processes never read half a model; later processes load the 15 MB result in well under a second.
Encoding costs a table lookup per token: two orders of magnitude faster than MiniLM, and weaker
as a retriever on its own. Its ``name`` differs from MiniLM's, so an index built with one is
never searched with the other.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from rag.errors import BackendUnavailable
from rag.index.embedding import build_model_folder, packaged_minilm_path

STATIC_DIM = 256  # model2vec's default PCA size: 15 MB model, the figures in issue #14
STATIC_NAME = f"model2vec/all-MiniLM-L6-v2-static-{STATIC_DIM}-v1"  # manifest identity; bump when distillation changes
ENCODE_BATCH = 1024  # texts per encode call and progress step (model2vec's own default batch)


def cache_dir() -> Path:
    """Where the distilled model lives: ``~/.cache/newsrag/`` and a folder named after
    :data:`STATIC_NAME` (one distillation per machine, shared by every index)."""
    return Path.home() / ".cache" / "newsrag" / STATIC_NAME.split("/")[-1]


def _distill(target: Path) -> None:
    """Distil the packaged MiniLM into ``target`` (offline), atomically: build in a sibling
    temporary folder, then rename; if another process got there first, keep theirs."""
    source = packaged_minilm_path()
    try:
        from model2vec.distill import distill
    except ImportError as exc:  # pragma: no cover - install problem
        raise BackendUnavailable(f"static embedder needs {exc.name}: pip install model2vec skeletoken") from exc
    model = distill(str(source), pca_dims=STATIC_DIM, device="cpu")
    build_model_folder(target, "model.safetensors", lambda tmp: model.save_pretrained(str(tmp)))


class StaticEmbedder:
    """model2vec static embeddings of all-MiniLM-L6-v2 (256-d), loaded once, lazily; distilled
    on first use if the disk cache is empty."""

    name = STATIC_NAME
    dim = STATIC_DIM

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else cache_dir()
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                if not (self.path / "model.safetensors").is_file():
                    _distill(self.path)
                from model2vec import StaticModel

                self._model = StaticModel.from_pretrained(self.path, normalize=True, force_download=False)
        return self._model

    def embed_texts(self, texts, progress=None):
        """Embed passages: mean of token rows, L2-normalized float32; ``progress(n)`` per batch."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        model = self._load()
        for b in range(0, len(texts), ENCODE_BATCH):
            batch = texts[b : b + ENCODE_BATCH]
            vecs = model.encode(batch, batch_size=ENCODE_BATCH, use_multiprocessing=False).astype(np.float32)
            norms = np.linalg.norm(vecs, axis=1, keepdims=True)  # again in float32 (rows are float16)
            out[b : b + len(batch)] = vecs / np.where(norms > 0, norms, 1.0)
            if progress is not None:
                progress(len(batch))
        return out

    def embed_query(self, text):
        """Embed one question (a lookup: nothing worth caching)."""
        return self.embed_texts([text])[0]
