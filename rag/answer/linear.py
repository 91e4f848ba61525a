"""Small logistic models shipped as JSON, with provenance, evaluated with numpy.

A model file (``rag/answer/models/NAME.json``) holds the feature names it was fitted on, a
hash of that list, the standardization (mean, scale), the weights, and how it was made (the
training data's hash, the command, in-sample and cross-validated figures). Loading a model
whose feature list differs from the code's is a loud error, never a silent fallback.
:func:`fit_logistic` is the (L2-regularized, Newton) fitter used by ``evals/train_answer.py``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rag.errors import RagError

MODELS = Path(__file__).parent / "models"
_MIN_SCALE = 1e-9  # a feature constant in the training data is left unscaled (no division by ~0)
_RIDGE = 1e-9  # added to the Hessian's diagonal so that it always inverts
_CONVERGED = 1e-8  # Newton stops when no weight moves more than this


def features_hash(names: Sequence[str]) -> str:
    """A short hash of a feature list (order matters)."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LogisticModel:
    """``p = sigmoid(bias + weights . ((x - mean) / scale))``."""

    name: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)

    def score(self, X: np.ndarray) -> np.ndarray:
        """The logit of each row of ``X`` (rows: candidates, columns: :attr:`features`)."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, len(self.features))
        return self.bias + ((X - self.mean) / self.scale) @ self.weights

    def proba(self, X: np.ndarray) -> np.ndarray:
        """P(positive) of each row of ``X``."""
        return 1.0 / (1.0 + np.exp(-self.score(X)))

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to ``rag/answer/models/NAME.json``."""
        return {
            "name": self.name,
            "features": list(self.features),
            "features_hash": features_hash(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "threshold": self.threshold,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "LogisticModel":
        """Inverse of :meth:`to_json`."""
        return cls(
            name=d["name"],
            features=tuple(d["features"]),
            mean=np.asarray(d["mean"], dtype=np.float64),
            scale=np.asarray(d["scale"], dtype=np.float64),
            weights=np.asarray(d["weights"], dtype=np.float64),
            bias=float(d["bias"]),
            threshold=float(d.get("threshold", 0.5)),
            meta=dict(d.get("meta", {})),
        )


@lru_cache(maxsize=None)
def load_model(name: str, features: tuple[str, ...]) -> LogisticModel:
    """The shipped model ``name``, checked against the code's ``features`` (RagError on any
    mismatch: retrain with ``make answer-models``)."""
    path = MODELS / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RagError(f"answer model {path} is missing or unreadable ({exc}); rebuild it with `make answer-models`") from exc
    model = LogisticModel.from_json(data)
    if model.features != tuple(features) or data.get("features_hash") != features_hash(features):
        raise RagError(
            f"answer model {path} was fitted on other features than the code computes "
            f"(model {data.get('features_hash')}, code {features_hash(features)}); rebuild it with `make answer-models`"
        )
    return model


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50,
                 sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Fit an L2-regularized logistic regression by Newton's method on standardized
    features. Returns ``(mean, scale, weights, bias)``."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < _MIN_SCALE] = 1.0
    Z = np.hstack([np.ones((len(X), 1)), (X - mean) / scale])
    w = np.zeros(Z.shape[1])
    reg = np.full(Z.shape[1], l2)
    reg[0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(Z @ w)))
        g = Z.T @ (sw * (p - y)) + reg * w
        H = (Z * (sw * p * (1 - p))[:, None]).T @ Z + np.diag(reg) + _RIDGE * np.eye(Z.shape[1])
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < _CONVERGED:
            break
    return mean, scale, w[1:], float(w[0])
