"""Second-stage rerank: the tree evaluator, the sentence/term scoring, the packaged model, and
the rerank inside search on a real (small) index."""
from __future__ import annotations

import numpy as np
import pytest

from rag.archive import Archive
from rag.rerank import FEATURES, LinearModel, SentenceTable, TermWeights, TreeEnsemble, default_model, sentences

# One stump on feature 0 (x <= 0.5 -> -1, else +2; missing values go right) and one on
# feature 1 (x <= 0 -> 0.5 else 0; missing go left).
SPEC = {
    "features": ["a", "b"],
    "base": 0.25,
    "trees": [
        {"f": [0, 0, 0], "t": [0.5, 0, 0], "l": [1, -1, -1], "r": [2, -1, -1], "v": [0, -1.0, 2.0], "m": [False, False, False]},
        {"f": [1, 0, 0], "t": [0.0, 0, 0], "l": [1, -1, -1], "r": [2, -1, -1], "v": [0, 0.5, 0.0], "m": [True, False, False]},
    ],
}


def test_tree_ensemble_evaluates_every_tree():
    m = TreeEnsemble(SPEC)
    X = np.array([[0.1, -1.0], [0.9, 3.0], [np.nan, np.nan], [0.5, 0.0]])
    assert m.score(X).tolist() == pytest.approx([0.25 - 1 + 0.5, 0.25 + 2, 0.25 + 2 + 0.5, 0.25 - 1 + 0.5])
    assert m.score(np.zeros((0, 2))).shape == (0,)


def test_tree_ensemble_matches_sklearn():
    sk = pytest.importorskip("sklearn.ensemble")
    from rag.rerank import export_sklearn

    rng = np.random.default_rng(0)
    X = rng.random((400, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0.8).astype(int)
    model = sk.HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=6, random_state=0).fit(X, y)
    ours = TreeEnsemble(export_sklearn(model, ["a", "b", "c"]))
    assert np.allclose(ours.score(X), model.decision_function(X), atol=1e-4)


def test_packaged_model_fits_the_feature_set():
    model = default_model()
    assert isinstance(model, TreeEnsemble) and model.features == FEATURES
    assert model.score(np.zeros((3, len(FEATURES)))).shape == (3,)
    assert LinearModel().score(np.ones((2, len(FEATURES)))).shape == (2,)


def test_sentence_coverage_is_idf_weighted():
    vocab = {"appl": 0, "iphon": 1, "sale": 2, "fell": 3}
    idf = np.array([1.0, 3.0, 1.0, 1.0])
    stems = {"apple": "appl", "sales": "sale"}
    tw = TermWeights(vocab, idf, stem=lambda ws: [stems.get(w, w) for w in ws])
    q = tw.ids("Did the iPhon sales fall?")
    assert sorted(q.tolist()) == [1, 2]
    text = "Apple said iPhon sales fell. The weather was fine. Apple shares rose."
    sents = tw.chunk_sentences("c1", text)
    assert len(sents) == 3 == len(sentences(text))
    table = SentenceTable([sents, [np.zeros(0, dtype=np.int64)]])
    qv, total = tw.vector(q)
    best, second = table.best(qv, total)
    assert best[0] == pytest.approx(1.0) and second[0] == 0.0 and best[1] == 0.0
    assert tw.coverage(q, np.array([1])) == pytest.approx(0.75)


# ---- in search ---------------------------------------------------------------------------

@pytest.fixture
def archive(hash_settings, corpus_dir):
    a = Archive.create(settings=hash_settings)
    a.ingest([corpus_dir])
    return a


def test_candidates_carry_one_feature_row_each(archive):
    cand = archive.retriever.candidates("What did TechCrunch report about Beeper Mini and iMessage?")
    assert cand.features.shape == (len(cand.ids), len(FEATURES))
    assert np.isfinite(cand.features).all()
    named = cand.features[:, FEATURES.index("named")]
    outlets = [cand.chunks[c].outlet for c in cand.ids]
    assert all((o == "TechCrunch") == bool(v) for o, v in zip(outlets, named))


def test_rerank_on_and_off_both_answer(archive):
    q = "Beeper Mini Apple iMessage shut down"
    on = archive.search(q, k=5)
    off = Archive.open(archive.path, archive.settings.with_(rerank=False)).search(q, k=5)
    assert on and off
    assert "Beeper" in on[0].chunk.title and "Beeper" in off[0].chunk.title
    assert [h.rank for h in on] == list(range(1, len(on) + 1))
    assert all(a.score >= b.score for a, b in zip(on, on[1:]))
