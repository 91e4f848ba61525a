"""Second-stage rerank: the tree evaluator, the sentence/term scoring, the packaged model, and
the rerank inside search on a real (small) index."""
from __future__ import annotations

import numpy as np
import pytest

from rag.archive import Archive
from rag.retrieve.rerank import FEATURES, LinearModel, SentenceTable, TermWeights, TreeEnsemble, default_model, sentences

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
    from rag.retrieve.rerank import export_sklearn

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
def archive(hash_archive):
    return hash_archive


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


# ---- signals for multi-part questions: ranks within articles, word pairs, sub-query vectors --

def test_group_rank_ranks_within_each_article_and_gaps_to_its_best():
    from rag.retrieve.rerank import group_rank

    vals = np.array([0.2, 0.9, 0.5, 0.5, 0.1])
    arts = ["a", "b", "a", "a", "b"]
    rank, gap = group_rank(vals, arts)
    # article a: 0.5 (index 2) then 0.5 (index 3, tie keeps input order) then 0.2
    assert rank.tolist() == pytest.approx([1 / 3, 1.0, 1.0, 0.5, 0.5])
    assert gap.tolist() == pytest.approx([-0.3, 0.0, 0.0, 0.0, -0.8])


def test_masked_rank_ranks_only_admitted_candidates():
    from rag.retrieve.rerank import masked_rank

    vals = np.array([0.9, 0.3, 0.7, 0.8])
    mask = np.array([False, True, True, True])
    # the best value (0.9) is not admitted: 0.8 is first among the admitted ones
    assert masked_rank(vals, mask).tolist() == pytest.approx([0.0, 1 / 3, 0.5, 1.0])
    assert masked_rank(vals).tolist() == pytest.approx([1.0, 0.25, 1 / 3, 0.5])


def test_word_pairs_must_be_adjacent_in_one_sentence():
    vocab = {"valid": 0, "altern": 1, "googl": 2, "search": 3, "engin": 4}
    idf = np.array([2.0, 2.0, 1.0, 1.0, 1.0])
    stems = {"alternative": "altern", "google": "googl", "engine": "engin"}
    tw = TermWeights(vocab, idf, stem=lambda ws: [stems.get(w, w) for w in ws])
    q = tw.pairs("Was there a valid alternative to the Google search engine?")
    # "to the" are stopwords: "alternative" and "Google" count as neighbours
    assert q == {(0, 1), (1, 2), (2, 3), (3, 4)}
    chunks = [
        "There was no valid alternative at the time. Nobody asked.",  # (valid, altern) in one sentence
        "Google runs a search engine.",  # (googl, search), (search, engin)
        "The alternative was valid. Google search. Engine.",  # words present, pairs broken up
        "Unrelated words only.",
    ]
    cov = tw.pair_coverage(q, [tw.chunk_pairs(f"c{i}", t) for i, t in enumerate(chunks)])
    total = 4 + 3 + 2 + 2
    assert cov.tolist() == pytest.approx([4 / total, 4 / total, 2 / total, 0.0])
    assert tw.pair_coverage(set(), [tw.chunk_pairs("c0", chunks[0])]).tolist() == [0.0]


def test_part_features_find_the_chunk_with_the_questions_word_pair(archive):
    from rag.retrieve.rerank import PART_FEATURES

    q = "Which retailer offered Cyber Monday deals?"
    cand = archive.retriever.candidates(q)
    col = {f: i for i, f in enumerate(FEATURES)}
    pair = cand.features[:, col["pair"]]
    texts = [" ".join(cand.chunks[c].text.lower().split()) for c in cand.ids]
    assert any("cyber monday deals" in t for t in texts)
    for t, v in zip(texts, pair):
        if "cyber monday deals" in t:
            assert v > 0
        if not any(w in t for w in ("cyber", "monday", "deal", "retailer", "offer")):
            assert v == 0
    # within each article exactly one chunk is first on the pair share and on the cosine
    n_articles = len({cand.chunks[c].article_id for c in cand.ids})
    assert (cand.features[:, col["pair_art_rank"]] == 1.0).sum() == n_articles
    assert (cand.features[:, col["qcos_art_rank"]] == 1.0).sum() == n_articles
    assert (cand.features[:, col["pair_gap"]] <= 0).all()
    off = Archive.open(archive.path, archive.settings.with_(part_features=False)).retriever.candidates(q)
    assert off.ids == cand.ids
    for f in PART_FEATURES:
        assert not off.features[:, col[f]].any()


def test_sub_sent_rank_marks_the_best_chunk_for_each_side(archive):
    q = ("Does the BBC News article say the Activision deal helps gamers, while the Mashable "
         "article lists Cyber Monday deals on Amazon?")
    cand = archive.retriever.candidates(q)
    col = {f: i for i, f in enumerate(FEATURES)}
    rank = cand.features[:, col["sub_sent_rank"]]
    assert cand.per_sub
    for ps in cand.per_sub:
        # the admitted candidate with the best sentence coverage of this sub-query ranks first
        best = max(np.flatnonzero(ps["elig"]), key=lambda j: (ps["sent"][j], -j))
        assert rank[best] == 1.0
    admitted = np.any([ps["elig"] for ps in cand.per_sub], axis=0)
    assert (rank[~admitted] == 0).all()
