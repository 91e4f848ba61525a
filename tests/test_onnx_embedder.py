"""The int8 MiniLM on ONNX Runtime: exported and cached offline, 384-d, normalized, the same
vector for a text alone or among others, close to MiniLM's, and its indexes never mix with
MiniLM's."""
from __future__ import annotations

import numpy as np
import pytest

from rag.archive import Archive
from rag.errors import IndexMismatch
from rag.index.embedding import MINILM_NAME, make_embedder
from rag.index.minilm_numpy import NumpyMiniLM
from rag.index.onnx_embedder import ONNX_DIM, ONNX_NAME, QuantizedMiniLMEmbedder
from rag.settings import Settings

from tests.conftest import SEED

TEXTS = [
    "The central bank raised interest rates to curb inflation.",
    "Monetary policy was tightened as prices kept rising.",
    "The striker scored twice in the second half of the match.",
    " ".join(["Regulators said the merger would harm competition in cloud computing."] * 30),  # truncated at 256 tokens
]


@pytest.fixture(scope="session")
def int8():
    """One loaded int8 embedder per session (exported on first use, then read from disk)."""
    e = QuantizedMiniLMEmbedder()
    e.embed_texts(["warm up"])
    return e


def test_loads_with_its_dimension_and_normalized_rows(int8):
    vecs = int8.embed_texts(TEXTS)
    assert vecs.shape == (4, ONNX_DIM) == (4, int8.dim) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert int8.embed_query(TEXTS[0]).shape == (ONNX_DIM,)
    assert int8.embed_texts([]).shape == (0, ONNX_DIM)
    import onnx

    ops = [n.op_type for n in onnx.load(str(int8.path / "model.onnx")).graph.node]
    assert ops.count("MatMulInteger") == 6 * 5 and "DynamicQuantizeLinear" in ops  # q, k, v, attention out, FFN in per layer


def test_a_text_gets_the_same_vector_alone_among_others_and_in_another_instance(int8):
    a = int8.embed_texts(TEXTS)
    np.testing.assert_array_equal(a, int8.embed_texts(TEXTS))
    for i, t in enumerate(TEXTS):
        np.testing.assert_array_equal(int8.embed_query(t), a[i])
    np.testing.assert_array_equal(int8.embed_texts(TEXTS[::-1]), a[::-1])
    np.testing.assert_array_equal(QuantizedMiniLMEmbedder(int8.path).embed_texts(TEXTS), a)


def test_close_to_minilm_and_ranks_like_it(int8):
    ours, ref = int8.embed_texts(TEXTS), NumpyMiniLM().embed_texts(TEXTS)
    cos = np.sum(ours * ref, axis=1)
    assert cos.min() > 0.95 and cos.mean() > 0.97
    rates, policy, football, _ = ours
    assert float(rates @ policy) > float(rates @ football) + 0.2


def test_progress_counts_every_text(int8):
    seen = []
    int8.embed_texts(TEXTS * 20, progress=seen.append)
    assert sum(seen) == 80 and len(seen) >= 2


def test_make_embedder_offers_it_under_its_own_name():
    e = make_embedder(Settings.load(env={}, embedder="minilm-int8"))
    assert isinstance(e, QuantizedMiniLMEmbedder) and e.name == ONNX_NAME != MINILM_NAME


def test_int8_index_refuses_minilm_in_one_line(int8, tmp_path):
    idx = tmp_path / "idx"
    Archive.create(idx, Settings.load(env={}, index=str(idx), embedder="minilm-int8")).ingest([SEED])
    hits = Archive.open(idx, Settings.load(env={}, index=str(idx), embedder="minilm-int8")).search("Alibaba military")
    assert hits and "Alibaba" in hits[0].chunk.text
    with pytest.raises(IndexMismatch) as err:
        Archive.open(idx, Settings.load(env={}, index=str(idx), embedder="minilm"))
    msg = str(err.value)
    assert "\n" not in msg and ONNX_NAME in msg and MINILM_NAME in msg


def test_an_export_into_an_empty_folder_gives_the_same_model(int8, tmp_path):
    fresh = QuantizedMiniLMEmbedder(tmp_path / "m")
    np.testing.assert_allclose(fresh.embed_texts(TEXTS), int8.embed_texts(TEXTS), atol=1e-6)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.onnx", "sentence_bert_config.json", "tokenizer.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folder left beside it
