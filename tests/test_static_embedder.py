"""The static embedder distilled from the packaged MiniLM: loads, 256-d, normalized,
deterministic, ranks like an embedder, and its indexes never mix with MiniLM's."""
from __future__ import annotations

import numpy as np
import pytest

from rag.archive import Archive
from rag.errors import IndexMismatch
from rag.index.embedding import DEFAULT_EMBEDDER, MINILM_NAME, make_embedder
from rag.index.static_embedder import STATIC_DIM, STATIC_NAME, StaticEmbedder
from rag.settings import Settings

from tests.conftest import SEED

TEXTS = [
    "The central bank raised interest rates to curb inflation.",
    "Monetary policy was tightened as prices kept rising.",
    "The striker scored twice in the second half of the match.",
]


@pytest.fixture(scope="session")
def static():
    """One loaded static embedder per session (distilled on first use, then read from disk)."""
    e = StaticEmbedder()
    e.embed_texts(["warm up"])
    return e


def test_loads_with_its_dimension_and_normalized_rows(static):
    vecs = static.embed_texts(TEXTS)
    assert vecs.shape == (3, STATIC_DIM) == (3, static.dim) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert static.embed_query(TEXTS[0]).shape == (STATIC_DIM,)
    assert static.embed_texts([]).shape == (0, STATIC_DIM)


def test_progress_counts_every_text(static):
    seen = []
    static.embed_texts(TEXTS * 2, progress=seen.append)
    assert sum(seen) == 6


def test_deterministic_within_and_across_instances(static):
    a = static.embed_texts(TEXTS)
    np.testing.assert_array_equal(a, static.embed_texts(TEXTS))
    np.testing.assert_array_equal(static.embed_query(TEXTS[1]), a[1])
    np.testing.assert_array_equal(StaticEmbedder(static.path).embed_texts(TEXTS), a)


def test_similar_pair_scores_above_unrelated_pair(static):
    rates, policy, football = static.embed_texts(TEXTS)
    assert float(rates @ policy) > float(rates @ football) + 0.05


def test_make_embedder_offers_static_under_its_own_name():
    e = make_embedder(Settings.load(env={}, embedder="static"))
    assert isinstance(e, StaticEmbedder) and e.name == STATIC_NAME != MINILM_NAME


def test_minilm_index_refuses_static_in_one_line(minilm_archive):
    with pytest.raises(IndexMismatch) as err:
        Archive.open(minilm_archive.path, Settings.load(env={}, index=str(minilm_archive.path), embedder="static"))
    msg = str(err.value)
    assert "\n" not in msg and minilm_archive.embedder.name in msg and STATIC_NAME in msg


def test_static_index_refuses_an_explicit_minilm_in_one_line(static, tmp_path):
    idx = tmp_path / "idx"
    Archive.create(idx, Settings.load(env={}, index=str(idx), embedder="static")).ingest([SEED])
    assert Archive.open(idx, Settings.load(env={}, index=str(idx), embedder="static")).search("Alibaba")
    with pytest.raises(IndexMismatch) as err:
        Archive.open(idx, Settings.load(env={}, index=str(idx), embedder="minilm"))
    msg = str(err.value)
    assert "\n" not in msg and STATIC_NAME in msg and f"({STATIC_DIM}-d)" in msg


def test_an_index_opens_with_the_embedder_that_built_it_when_none_is_set(static, tmp_path):
    idx = tmp_path / "idx"
    Archive.create(idx, Settings.load(env={}, index=str(idx), embedder="static")).ingest([SEED])
    a = Archive.open(idx, Settings.load(env={}, index=str(idx)))
    assert a.embedder.name == STATIC_NAME and a.settings.embedder == "static" and a.search("Alibaba")
    new = Archive.create(tmp_path / "new", Settings.load(env={}, index=str(tmp_path / "new")))
    assert new.settings.embedder == DEFAULT_EMBEDDER and new.store.config.embedder == new.embedder.name != STATIC_NAME
