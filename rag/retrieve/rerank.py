"""The learned rerank: a gradient-boosted tree ensemble over the signals of
:mod:`rag.retrieve.features`, shipped as JSON (``rag/retrieve/rerank_model.json``) with its
provenance and evaluated with numpy (no scikit-learn at query time).

The model file holds the feature names it was fitted on and their hash, the trees, and how it
was made (``meta``: the training data's hash, library versions, parameters, cross-validated
figures, the command). A model fitted on other features than the code computes is a loud
:class:`~rag.errors.RagError`, never a silent fallback. ``make rerank-model``
(:mod:`evals.train_rerank`) refits it with LightGBM, read through ``Booster.dump_model()``
(``--trainer gbc``: scikit-learn, :func:`export_gradient_boosting`).
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rag.errors import RagError
from rag.retrieve.features import FEATURES

MODEL_PATH = Path(__file__).with_name("rerank_model.json")


def features_hash(names: Sequence[str]) -> str:
    """A short hash of a feature list, order included (as the answer models' files carry)."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


class TreeEnsemble:
    """A gradient-boosted tree ensemble evaluated with numpy over all trees at once:
    ``score(X)`` is the raw margin (base + the sum of the trees' leaf values), higher is more
    relevant. A node goes left when ``x <= threshold`` (a missing value: as ``m`` says)."""

    def __init__(self, spec: dict):
        self.features = tuple(spec["features"])
        self.base = float(spec.get("base", 0.0))
        self.meta: dict[str, Any] = dict(spec.get("meta", {}))
        trees = spec["trees"]
        width = max((len(t["f"]) for t in trees), default=1)
        shape = (len(trees), width)
        self.feat = np.zeros(shape, dtype=np.int64)
        self.thr = np.zeros(shape)
        self.left = np.zeros(shape, dtype=np.int64)
        self.right = np.zeros(shape, dtype=np.int64)
        self.value = np.zeros(shape)
        self.miss_left = np.zeros(shape, dtype=bool)
        depth = 0
        for i, t in enumerate(trees):
            m = len(t["f"])
            own = np.arange(m)
            left, right = np.asarray(t["l"]), np.asarray(t["r"])
            leaf = left < 0
            self.feat[i, :m] = t["f"]
            self.thr[i, :m] = t["t"]
            self.left[i, :m] = np.where(leaf, own, left)  # a leaf points at itself
            self.right[i, :m] = np.where(leaf, own, right)
            self.value[i, :m] = t["v"]
            self.miss_left[i, :m] = t["m"]
            depth = max(depth, _depth(left, right))
        self.depth = depth

    def score(self, X: np.ndarray) -> np.ndarray:
        """Margins for the rows of ``X`` (columns in :attr:`features` order)."""
        X = np.asarray(X, dtype=np.float64)
        n, t = X.shape[0], self.feat.shape[0]
        if n == 0 or t == 0:
            return np.full(n, self.base)
        # flat indices (tree * nodes + node; row * features + feature): 1-d takes are several
        # times faster than 2-d fancy indexing
        width = self.feat.shape[1]
        feat, thr = self.feat.ravel(), self.thr.ravel()
        left, right, miss = self.left.ravel(), self.right.ravel(), self.miss_left.ravel()
        offset = (np.arange(t) * width)[:, None]
        row_off = (np.arange(n) * X.shape[1])[None, :]
        Xf = np.ascontiguousarray(X).ravel()
        flat = np.broadcast_to(offset, (t, n)).copy()
        for _ in range(self.depth):
            x = Xf.take(row_off + feat.take(flat))
            go_left = np.where(np.isnan(x), miss.take(flat), x <= thr.take(flat))
            flat = offset + np.where(go_left, left.take(flat), right.take(flat))
        return self.base + self.value.ravel().take(flat).sum(axis=0)


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Depth of a tree given child arrays (-1 at leaves)."""
    best, stack = 0, [(0, 0)]
    while stack:
        node, d = stack.pop()
        if left[node] < 0:
            best = max(best, d)
        else:
            stack += [(int(left[node]), d + 1), (int(right[node]), d + 1)]
    return best


def load_model(path: Path = MODEL_PATH, features: Sequence[str] = FEATURES) -> TreeEnsemble:
    """The model file at ``path``, checked against the code's ``features`` (RagError on a
    missing file or any mismatch: rebuild it with ``make rerank-model``)."""
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RagError(f"rerank model {path} is missing or unreadable ({exc}); rebuild it with `make rerank-model`") from exc
    if tuple(spec.get("features", ())) != tuple(features) or spec.get("features_hash") != features_hash(features):
        raise RagError(
            f"rerank model {path} was fitted on other features than the code computes "
            f"(model {spec.get('features_hash')}, code {features_hash(features)}); rebuild it with `make rerank-model`"
        )
    return TreeEnsemble(spec)


@lru_cache(maxsize=1)
def default_model() -> TreeEnsemble:
    """The packaged model (``rag/retrieve/rerank_model.json``), checked against :data:`FEATURES`."""
    return load_model()


def model_json(spec: dict, meta: dict[str, Any]) -> str:
    """The model file's text: provenance first, then one tree per line (readable diffs)."""
    head = {"name": "rerank", "features": list(spec["features"]), "features_hash": features_hash(spec["features"]),
            "base": spec["base"], "meta": meta}
    text = json.dumps(head, indent=1)[:-2]  # without the closing "\n}"
    trees = ",\n".join("  " + json.dumps(t, separators=(",", ":")) for t in spec["trees"])
    return text + ',\n "trees": [\n' + trees + "\n ]\n}\n"


def export_gradient_boosting(model, features: Sequence[str]) -> dict:
    """The plain-data spec of a fitted binary ``sklearn.ensemble.GradientBoostingClassifier``
    (log-loss), read from its public attributes: ``estimators_[i, 0].tree_`` and ``init_``."""
    lr = float(model.learning_rate)
    prior = float(model.init_.predict_proba(np.zeros((1, len(features))))[0, 1])
    trees = []
    for est in model.estimators_[:, 0]:
        t = est.tree_
        leaf = t.children_left < 0
        trees.append({
            "f": [0 if lf else int(x) for x, lf in zip(t.feature, leaf)],
            "t": [0.0 if lf else float(x) for x, lf in zip(t.threshold, leaf)],
            "l": [-1 if lf else int(x) for x, lf in zip(t.children_left, leaf)],
            "r": [-1 if lf else int(x) for x, lf in zip(t.children_right, leaf)],
            "v": [lr * float(x) if lf else 0.0 for x, lf in zip(t.value[:, 0, 0], leaf)],
            "m": [False] * len(leaf),  # fitted without missing values: never NaN
        })
    return {"features": list(features), "base": float(np.log(prior / (1 - prior))), "trees": trees}
