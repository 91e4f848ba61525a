"""Second-stage rerank: the tree evaluator, the sentence/term scoring, the packaged model file
(its scores, provenance and feature check), training, and the rerank inside search on a real
(small) index."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.archive import Archive
from rag.errors import RagError
from rag.retrieve.features import FEATURE_TABLE, FEATURES, feature_matrix
from rag.retrieve.rerank import MODEL_PATH, TreeEnsemble, default_model, features_hash, load_model
from rag.retrieve.terms import SentenceTable, TermWeights, sentences

TABLE = Path(__file__).parent / "data" / "rerank_table.json"

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


def test_gradient_boosting_export_matches_sklearn():
    sk = pytest.importorskip("sklearn.ensemble")
    from rag.retrieve.rerank import export_gradient_boosting

    rng = np.random.default_rng(0)
    X = rng.random((400, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0.8).astype(int)
    model = sk.GradientBoostingClassifier(n_estimators=20, max_leaf_nodes=6, random_state=0).fit(X, y)
    ours = TreeEnsemble(export_gradient_boosting(model, ["a", "b", "c"]))
    assert np.allclose(ours.score(X), model.decision_function(X), atol=1e-9)


# ---- the packaged model -------------------------------------------------------------------

# Feature rows (FEATURES order) and the margins the model scored them with when it was the
# Python module rag/retrieve/rerank_model.py (commit 0d4bbf4), computed from that module
# before it was converted to rag/retrieve/rerank_model.json.
OLD_MODEL_SCORES = [
    ([0.0] * 31, -8.50720418041794),
    ([1.0] * 31, 1.498362819582061),
    ([0.5] * 31, -2.1824801804179392),
    ([0.475, 0.856, 0.686, -0.085, 0.02, 0.823, -0.393, 0.75, 0.716, 0.255, 0.024, -0.01, -0.043, 0.223, 0.306, 0.375,
      0.994, 0.71, 0.471, 0.985, -0.099, -0.176, 0.458, -0.338, -0.35, 0.321, 0.253, 0.884, 0.481, 0.32, 0.296],
     -1.39522718041794),
    ([-0.053, -0.383, -0.131, 0.569, -0.119, 0.117, -0.395, 0.762, -0.184, -0.025, 0.832, 0.314, 0.786, 0.496, 0.638,
      -0.272, 0.358, 0.311, 0.82, 0.106, 0.437, -0.317, 0.143, 0.052, -0.19, 0.743, 0.131, 0.97, 0.426, 0.447, 0.493],
     -4.57837718041794),
    ([0.547, -0.189, 0.216, -0.065, 0.163, -0.265, 0.955, -0.099, 0.54, 0.021, 0.824, 0.527, -0.216, 0.783, 0.923,
      0.865, 0.398, -0.196, -0.131, 0.899, 0.373, -0.147, 0.838, 0.498, 0.398, 0.127, 0.175, -0.065, -0.347, 0.827,
      0.255], -3.3253751804179394),
    ([0.367, 0.051, 0.652, -0.365, 0.121, -0.358, -0.228, 0.954, 0.521, 0.2, 0.333, 0.822, 0.082, 0.426, 0.557, 0.098,
      0.327, 0.671, 0.873, -0.189, 0.907, -0.393, 0.654, 0.735, -0.209, 0.186, 0.741, -0.38, 0.48, 0.71, 0.318],
     -3.1054751804179395),
    ([0.616, -0.083, -0.122, 0.108, -0.149, 0.084, 0.927, 0.403, 0.076, -0.02, 0.933, 0.222, 0.973, 0.322, 0.33, 0.855,
      0.64, 0.413, 0.197, 0.829, 0.176, 0.892, -0.304, 0.202, 0.327, 0.931, -0.049, 0.728, 0.547, 0.604, 0.481],
     -6.769211180417939),
]


def test_packaged_model_scores_as_the_python_module_did():
    X = np.array([row for row, _ in OLD_MODEL_SCORES])
    want = np.array([score for _, score in OLD_MODEL_SCORES])
    assert np.abs(default_model().score(X) - want).max() <= 1e-9


def test_packaged_model_carries_its_provenance():
    spec = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert spec["features"] == list(FEATURES) and spec["features_hash"] == features_hash(FEATURES)
    meta = spec["meta"]
    assert set(meta["cross_validated"]) == {"hits@4", "hits@10", "mrr@10", "allgold@10"}
    assert 0 < meta["cross_validated"]["hits@10"] <= 1 and meta["folds"] == 5
    assert len(meta["training_data_sha256"]) == 16 and "scikit-learn" in meta["versions"]
    assert len(spec["trees"]) == meta["params"].get("max_iter", meta["params"].get("n_estimators"))


def test_a_model_fitted_on_other_features_is_a_loud_error(tmp_path):
    spec = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    renamed = dict(spec, features=[*spec["features"][:-1], "something_else"])
    (tmp_path / "renamed.json").write_text(json.dumps(renamed), encoding="utf-8")
    with pytest.raises(RagError, match="other features"):
        load_model(tmp_path / "renamed.json")
    stale = dict(spec, features_hash="0" * 16)  # right names, hash of another list
    (tmp_path / "stale.json").write_text(json.dumps(stale), encoding="utf-8")
    with pytest.raises(RagError, match="make rerank-model"):
        load_model(tmp_path / "stale.json")
    with pytest.raises(RagError, match="missing or unreadable"):
        load_model(tmp_path / "absent.json")
    assert load_model(MODEL_PATH).features == FEATURES


def test_the_feature_table_and_the_model_agree():
    assert FEATURES == tuple(FEATURE_TABLE) == default_model().features
    assert all(0 <= f < len(FEATURES) for f in default_model().feat.ravel())


# ---- training: deterministic, on a bundled table --------------------------------------------

SMALL = dict(n_estimators=20, learning_rate=0.1, max_leaf_nodes=6, min_samples_leaf=5, random_state=0)
# Margins of the model SMALL fits on tests/data/rerank_table.json (scikit-learn 1.9.1) for the
# probe rows below: a retrain on the same table must score them the same.
TRAINED_SCORES = [-4.810271305655599, 1.8800852677431004, 1.634280984571261, -0.5793547839838049,
                  -3.344157774402006, -3.9653949078162016]


def _table():
    data = json.loads(TABLE.read_text(encoding="utf-8"))
    assert data["features"] == list(FEATURES)
    X = np.array([row for q in data["questions"] for row in q["X"]])
    y = np.array([v for q in data["questions"] for v in q["y"]])
    return X, y


def test_training_is_deterministic_and_scores_fixed_inputs_the_same():
    pytest.importorskip("sklearn")
    from evals.train_rerank import fit_spec

    X, y = _table()
    first, second = fit_spec(X, y, FEATURES, SMALL, "gbc"), fit_spec(X, y, FEATURES, SMALL, "gbc")
    assert first == second
    probe = np.vstack([np.zeros(len(FEATURES)), X[[0, 24, 25, 1, 50]]])
    assert np.abs(TreeEnsemble(first).score(probe) - TRAINED_SCORES).max() <= 1e-9
    scores = TreeEnsemble(first).score(X)
    assert scores[y == 1].mean() > scores[y == 0].mean()  # it learned something


# The shipped LightGBM settings, made small for a 480-row table.
SMALL_LGBM = dict(num_iterations=20, num_leaves=6, min_data_in_leaf=5, learning_rate=0.1)
# Margins of the model SMALL_LGBM fits on tests/data/rerank_table.json (LightGBM 4.7.0) for the
# same probe rows.
LGBM_TRAINED_SCORES = [-4.8114786807767285, 1.4701874969239557, 1.3325078826779546, 0.44760309924285946,
                       -2.4885189137469137, -3.843928346438922]


def _lgbm_params(**extra):
    from evals.train_rerank import LGBM_PARAMS

    return {**LGBM_PARAMS, **SMALL_LGBM, **extra}


def test_lightgbm_training_is_deterministic_and_scores_fixed_inputs_the_same():
    pytest.importorskip("lightgbm")
    from evals.train_rerank import fit_spec

    X, y = _table()
    first, second = fit_spec(X, y, FEATURES, _lgbm_params()), fit_spec(X, y, FEATURES, _lgbm_params())
    assert first == second and len(first["trees"]) == 20 and first["base"] == 0.0
    probe = np.vstack([np.zeros(len(FEATURES)), X[[0, 24, 25, 1, 50]]])
    assert np.abs(TreeEnsemble(first).score(probe) - LGBM_TRAINED_SCORES).max() <= 1e-9
    scores = TreeEnsemble(first).score(X)
    assert scores[y == 1].mean() > scores[y == 0].mean()  # it learned something


def test_lightgbm_export_scores_as_lightgbm_does():
    lgb = pytest.importorskip("lightgbm")
    from evals.train_rerank import export_lightgbm

    X, y = _table()
    booster = lgb.train(_lgbm_params(), lgb.Dataset(X, label=y))
    ours = TreeEnsemble(export_lightgbm(booster, FEATURES))
    assert np.abs(ours.score(X) - booster.predict(X, raw_score=True)).max() <= 1e-9
    # one feature moved onto each split's threshold and just either side of it (x == threshold
    # goes left), or to a value so near 0 that LightGBM's predict reads it as 0
    splits = [n for t in booster.dump_model()["tree_info"] for n in _splits(t["tree_structure"])]
    assert any(abs(n["threshold"]) < 1e-30 for n in splits)  # the near-0 boundary is among them
    moves = [(n["split_feature"], x) for n in splits
             for x in (n["threshold"], np.nextafter(n["threshold"], -np.inf), np.nextafter(n["threshold"], np.inf),
                       1e-36, -1e-36, float(np.float32(1e-35)), -float(np.float32(1e-35)))]
    probe = np.tile(X[:1], (len(moves), 1))
    probe[np.arange(len(moves)), [f for f, _ in moves]] = [x for _, x in moves]
    assert np.abs(ours.score(probe) - booster.predict(probe, raw_score=True)).max() <= 1e-9


def test_lightgbm_export_sends_missing_values_where_lightgbm_does():
    lgb = pytest.importorskip("lightgbm")
    from evals.train_rerank import export_lightgbm

    rng = np.random.default_rng(0)
    X = rng.random((600, 3))
    y = ((X[:, 0] > 0.6) | (X[:, 1] < 0.2)).astype(int)
    X[rng.random(600) < 0.2, 0] = np.nan  # feature 0 saw NaN in training, 1 and 2 did not
    y[np.isnan(X[:, 0])] = 1
    booster = lgb.train(_lgbm_params(min_data_in_leaf=10), lgb.Dataset(X, label=y))
    kinds = {n["missing_type"] for t in booster.dump_model()["tree_info"] for n in _splits(t["tree_structure"])}
    assert kinds == {"NaN", "None"}
    ours = TreeEnsemble(export_lightgbm(booster, ["a", "b", "c"]))
    probe = np.array([[np.nan, 0.5, 0.5], [0.9, np.nan, 0.5], [np.nan, np.nan, np.nan], [0.1, 0.0, np.nan]])
    want = booster.predict(probe, raw_score=True)
    assert np.abs(ours.score(probe) - want).max() <= 1e-9
    assert np.abs(ours.score(X) - booster.predict(X, raw_score=True)).max() <= 1e-9


def _splits(node):
    if "leaf_value" in node:
        return []
    return [node, *_splits(node["left_child"]), *_splits(node["right_child"])]


def test_lightgbm_export_refuses_splits_it_cannot_express():
    from evals.train_rerank import _flat_tree

    leaf = {"leaf_value": 0.5}
    categorical = {"split_feature": 0, "threshold": "1||3", "decision_type": "==", "default_left": False,
                   "missing_type": "None", "left_child": leaf, "right_child": leaf}
    with pytest.raises(ValueError, match="unsupported"):
        _flat_tree(categorical)
    zero = dict(categorical, threshold=0.5, decision_type="<=", missing_type="Zero")
    with pytest.raises(ValueError, match="unsupported"):
        _flat_tree(zero)
    plain = dict(zero, missing_type="None")
    assert _flat_tree(plain) == {"f": [0, 0, 0], "t": [0.5, 0.0, 0.0], "l": [1, -1, -1], "r": [2, -1, -1],
                                 "v": [0.0, 0.5, 0.5], "m": [True, False, False]}


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


def test_features_are_filled_by_name_and_follow_the_question(archive):
    cand = archive.retriever.candidates("What did TechCrunch report about Beeper Mini and iMessage?")
    # the matrix is filled from the table by name: asking for the columns in another order
    # gives the same columns in that order
    shuffled = FEATURES[::-1]
    assert np.array_equal(feature_matrix(cand.signals, shuffled), cand.features[:, ::-1])
    named = cand.column("named")
    outlets = [cand.chunks[c].outlet for c in cand.ids]
    assert all((o == "TechCrunch") == bool(v) for o, v in zip(outlets, named))
    # a passage with the question's words in one sentence covers more of it than one without
    cand = archive.retriever.candidates("Beeper Mini Apple iMessage shut down")
    q_sent = cand.column("q_sent")
    beeper = [j for j, c in enumerate(cand.ids) if "Beeper Mini" in cand.chunks[c].text]
    unrelated = [j for j, c in enumerate(cand.ids) if not any(
        w in cand.chunks[c].text.lower() for w in ("beeper", "mini", "apple", "imessage", "shut", "down"))]
    assert beeper and unrelated
    assert q_sent[beeper].min() > q_sent[unrelated].max() == 0


def test_the_model_ranks_candidates_matching_the_question_first(archive):
    cand = archive.retriever.candidates("Beeper Mini Apple iMessage shut down")
    scores = default_model().score(cand.features)
    matching = [j for j, c in enumerate(cand.ids) if "Beeper" in cand.chunks[c].text]
    no_terms = np.flatnonzero(cand.column("q_sent") == 0)  # no sentence holds a question term
    assert matching and len(no_terms)
    assert scores[matching].min() > scores[no_terms].max()


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
    from rag.retrieve.terms import group_rank

    vals = np.array([0.2, 0.9, 0.5, 0.5, 0.1])
    arts = ["a", "b", "a", "a", "b"]
    rank, gap = group_rank(vals, arts)
    # article a: 0.5 (index 2) then 0.5 (index 3, tie keeps input order) then 0.2
    assert rank.tolist() == pytest.approx([1 / 3, 1.0, 1.0, 0.5, 0.5])
    assert gap.tolist() == pytest.approx([-0.3, 0.0, 0.0, 0.0, -0.8])


def test_group_rank_and_best_equal_a_plain_loop_with_many_ties():
    from rag.retrieve.terms import group_best, group_rank

    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(0, 40))
        vals = rng.choice([0.0, 0.25, 0.5, 1.0], size=n)
        arts = [f"a{int(x)}" for x in rng.integers(0, 5, size=n)]
        rank, gap, best = np.zeros(n), np.zeros(n), np.zeros(n)
        for g in set(arts):
            js = [j for j in range(n) if arts[j] == g]
            for r, j in enumerate(sorted(js, key=lambda j: -vals[j])):  # stable: ties in input order
                rank[j] = 1.0 / (1 + r)
            gap[js] = vals[js] - vals[js].max()
            best[js] = vals[js].max()
        got_rank, got_gap = group_rank(vals, arts)
        assert got_rank.tolist() == rank.tolist() and got_gap.tolist() == gap.tolist()
        assert group_best(vals, arts).tolist() == best.tolist()


def test_masked_rank_ranks_only_admitted_candidates():
    from rag.retrieve.terms import masked_rank

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
    from rag.retrieve.features import PART_FEATURES

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
