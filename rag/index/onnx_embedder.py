"""all-MiniLM-L6-v2 quantized to int8 and run by ONNX Runtime (``embedder = "minilm-int8"``).

The packaged MiniLM is exported to ONNX once (torch's exporter, offline), the weights of its
matrix products quantized to int8 per output channel (``onnxruntime.quantization.quantize_dynamic``:
each activation quantized on the fly; the feed-forward output products stay float, see
:func:`_export`), and the result cached on disk (:func:`cache_dir`, ~70 MB),
written atomically so concurrent processes never read half a model. Later processes load it in
well under a second and never import torch.

Its vectors are MiniLM's to a cosine of ~0.997 (not equal: it has its own manifest identity, so an
index built with one is never searched with the other), and on these two cores it encodes passages
1.3x as fast as MiniLM in torch at batch 16 when the cores are free (two sessions side by side;
2-3x under load), a dev question in ~22 ms instead of ~43 (numpy MiniLM). What that costs in
retrieval is measured by ``python -m evals.embedders`` (README, "Embedders").
"""
from __future__ import annotations

import json
import os
import shutil
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rag.errors import BackendUnavailable
from rag.index.embedding import build_model_folder

ONNX_NAME = "sentence-transformers/all-MiniLM-L6-v2#onnx-int8-v1"  # manifest identity; bump when the export changes
ONNX_DIM = 384
PROGRESS_EVERY = 16  # texts between progress calls


def cache_dir() -> Path:
    """Where the quantized model lives: ``~/.cache/newsrag/all-MiniLM-L6-v2-onnx-int8-v1/``
    (one export per machine, shared by every index)."""
    return Path.home() / ".cache" / "newsrag" / ONNX_NAME.split("/")[-1].replace("#", "-")


def _export(target: Path) -> None:
    """Export the packaged MiniLM to ONNX and quantize it into ``target`` (offline, atomically)."""
    from rag.index.minilm_numpy import model_dir

    source = model_dir()
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel
    except ImportError as exc:  # pragma: no cover - install problem
        raise BackendUnavailable(f"the int8 MiniLM needs {exc.name}: pip install onnxruntime onnx") from exc
    bert = AutoModel.from_pretrained(str(source)).eval()

    class LastHidden(torch.nn.Module):  # keyword inputs, one output: a plain graph to export
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    def build(tmp: Path) -> None:
        ids = torch.ones(2, 16, dtype=torch.long)
        axes = {0: "batch", 1: "tokens"}
        with torch.no_grad():
            torch.onnx.export(LastHidden(bert), (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                              str(tmp / "model-fp32.onnx"), opset_version=17, dynamo=False,
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["last_hidden_state"],
                              dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                            "last_hidden_state": axes})
        import onnx

        # the feed-forward output products stay float: their inputs (after GELU) carry the outliers
        # that int8 rounds worst (quantized too: cosine to MiniLM 0.9935 on corpus chunks, 0.988 at
        # worst; kept float: 0.9967, 0.994 at worst); reduce_range: 7-bit weights, no overflow in
        # the int8 products of CPUs without VNNI
        graph = onnx.load(str(tmp / "model-fp32.onnx")).graph
        keep_float = [n.name for n in graph.node if n.op_type == "MatMul"
                      and "/output/dense/" in n.name and "/attention/" not in n.name]
        quantize_dynamic(str(tmp / "model-fp32.onnx"), str(tmp / "model.onnx"), weight_type=QuantType.QInt8,
                         per_channel=True, reduce_range=True, op_types_to_quantize=["MatMul"],
                         nodes_to_exclude=keep_float)
        (tmp / "model-fp32.onnx").unlink()
        for name in ("tokenizer.json", "sentence_bert_config.json"):
            if (source / name).is_file():
                shutil.copy(source / name, tmp / name)

    build_model_folder(target, "model.onnx", build)


class QuantizedMiniLMEmbedder:
    """all-MiniLM-L6-v2, int8, on ONNX Runtime; exported on first use if the cache is empty.
    Mean-pooled and L2-normalized like the sentence-transformers model."""

    name = ONNX_NAME
    dim = ONNX_DIM

    def __init__(self, path: str | Path | None = None, streams: int | None = None):
        self.path = Path(path) if path is not None else cache_dir()
        self.streams = max(1, streams if streams is not None else min(4, os.cpu_count() or 1))
        self._sessions: queue.SimpleQueue | None = None  # one single-threaded session per stream
        self._pool: ThreadPoolExecutor | None = None
        self._tok = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._sessions is None:
                if not (self.path / "model.onnx").is_file():
                    _export(self.path)
                try:
                    import onnxruntime as ort
                except ImportError as exc:  # pragma: no cover - install problem
                    raise BackendUnavailable("the int8 MiniLM needs onnxruntime: pip install onnxruntime") from exc
                from tokenizers import Tokenizer

                opts = ort.SessionOptions()
                # one thread a session, one session a core: texts run side by side (a forward pass
                # of one 256-token text is too small to split across cores: bench, one run on
                # this machine, 2 streams x 1 thread 10.6 texts/s vs 1 x 2 threads 8.0); and every
                # text gets the same arithmetic, whichever stream runs it
                opts.intra_op_num_threads = 1
                opts.inter_op_num_threads = 1
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                sessions: queue.SimpleQueue = queue.SimpleQueue()
                for _ in range(self.streams):
                    sessions.put(ort.InferenceSession(str(self.path / "model.onnx"), opts,
                                                      providers=["CPUExecutionProvider"]))
                cfg = self.path / "sentence_bert_config.json"
                max_length = json.loads(cfg.read_text()).get("max_seq_length", 256) if cfg.is_file() else 256
                tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
                tok.enable_truncation(max_length=max_length)
                tok.no_padding()
                self._tok = tok
                self._pool = ThreadPoolExecutor(self.streams, thread_name_prefix="minilm-int8") if self.streams > 1 else None
                self._sessions = sessions
        return self._sessions, self._tok

    def _one(self, ids: list[int]) -> np.ndarray:
        """One text's vector through whichever session is free."""
        session = self._sessions.get()
        try:
            x = np.asarray([ids], dtype=np.int64)
            hidden = session.run(None, {"input_ids": x, "attention_mask": np.ones_like(x),
                                        "token_type_ids": np.zeros_like(x)})[0][0]
        finally:
            self._sessions.put(session)
        pooled = hidden.mean(0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)

    def embed_texts(self, texts, progress=None):
        """Embed passages, one per forward pass, :attr:`streams` side by side: each activation
        is quantized with its whole tensor's range, so a text batched with others (and their
        padding) would get another vector (cosine ~0.98 to its own); alone, a text always gets
        the same one. On two cores this is also the fastest (bench: 16 texts/s alone vs 9 in
        batches of 16, same load). ``progress(n)`` is called every few texts."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        _sessions, tok = self._load()
        ids = [e.ids for e in tok.encode_batch(texts)]
        step = PROGRESS_EVERY * self.streams
        for b in range(0, len(ids), step):
            block = ids[b : b + step]
            rows = self._pool.map(self._one, block) if self._pool is not None and len(block) > 1 else map(self._one, block)
            for i, v in enumerate(rows):
                out[b + i] = v
            if progress is not None:
                progress(len(block))
        return out

    def embed_query(self, text):
        """Embed one question (~22 ms for a 60-word one here: about half of numpy MiniLM's)."""
        return self.embed_texts([text])[0]
