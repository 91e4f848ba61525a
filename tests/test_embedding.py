"""The packaged MiniLM: torch (ingest batches) and numpy (query path) give the same vectors;
the bag-of-words fake behaves like an embedder."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from rag.index.embedding import HashEmbedder, MiniLMEmbedder
from rag.index.minilm_numpy import NumpyMiniLM
from tests.conftest import MINI, ROOT

TEXTS = [
    "What does the Pentagon memo allege about Alibaba?",
    "Sam Altman was fired by the OpenAI board in November 2023.",
    "x",
] + [json.loads(line)["body"][:2000] for line in MINI.read_text(encoding="utf-8").splitlines()[:3]]


def test_numpy_forward_equals_sentence_transformers():
    torch_vecs = MiniLMEmbedder(batch_size=8)._load().encode(TEXTS, normalize_embeddings=True)
    np_vecs = NumpyMiniLM().embed_texts(TEXTS)
    assert np_vecs.shape == (len(TEXTS), 384)
    assert np.abs(np_vecs - torch_vecs).max() < 1e-5
    assert np.allclose(np.linalg.norm(np_vecs, axis=1), 1.0, atol=1e-5)


def test_minilm_ranks_a_paraphrase_above_an_unrelated_text():
    e = MiniLMEmbedder()
    q = e.embed_query("Which retailer is accused of helping China's army?")
    docs = e.embed_texts(["Alibaba allegedly provides the People's Liberation Army with opportunities.", "The Bills beat the Jets on Sunday."])
    assert q @ docs[0] > q @ docs[1] + 0.2


def test_query_path_does_not_import_torch():
    code = "import sys; from rag.index.embedding import MiniLMEmbedder; MiniLMEmbedder().embed_query('hello world'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_hash_embedder_is_deterministic_and_similarity_aware():
    h = HashEmbedder()
    a, b, c = h.embed_texts(["Pentagon memo on Alibaba", "Alibaba memo from the Pentagon", "football scores tonight"])
    assert np.allclose(a, h.embed_query("Pentagon memo on Alibaba"))
    assert a @ b > a @ c


def test_a_question_is_embedded_once_remembered_bounded_and_forgettable():
    e = MiniLMEmbedder()
    q = "Which retailer is accused of helping China's army?"
    direct = NumpyMiniLM().embed_texts([q])[0]
    calls = []
    inner = e.embed_texts
    e.embed_texts = lambda texts, progress=None: calls.append(list(texts)) or inner(texts, progress)
    v = e.embed_query(q)
    assert np.abs(v - direct).max() < 1e-6
    assert e.embed_query(q) is v  # remembered
    assert not v.flags.writeable  # a shared vector cannot be changed by one caller
    assert calls == [[q]]
    e.clear_query_cache()  # forgotten: the next call runs the model again
    assert np.array_equal(e.embed_query(q), v) and calls == [[q], [q]]
    for i in range(e.query_cache + 1):  # the cache is bounded: the oldest question goes
        e.embed_query(f"question {i}")
    assert q not in e._queries and len(e._queries) == e.query_cache
    e.query_cache = 0  # nothing remembered at all
    e.clear_query_cache()
    e.embed_query(q)
    assert not e._queries


def test_a_failed_question_embedding_is_not_remembered():
    e = MiniLMEmbedder()
    boom = [True]
    inner = e.embed_texts

    def flaky(texts, progress=None):
        if boom.pop() if boom else False:
            raise RuntimeError("model failed")
        return inner(texts, progress)

    e.embed_texts = flaky
    try:
        e.embed_query("hello world")
        raise AssertionError("expected the failure to propagate")
    except RuntimeError as exc:
        assert "model failed" in str(exc)
    assert e.embed_query("hello world").shape == (384,)  # tried again, not the cached failure


def test_a_question_uses_only_the_idle_cores():
    import os

    from rag.index.embedding import query_threads

    cores = os.cpu_count() or 1
    assert query_threads(4, load=0.0) == min(4, cores)  # idle machine: every core, at most 4
    assert query_threads(4, load=cores + 8.0) == 1  # busy machine: one thread, never zero
    assert query_threads(1, load=0.0) == 1
    assert 1 <= query_threads(4) <= 4  # the machine's own load average
