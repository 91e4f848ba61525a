"""Fit the extractive answerer's small models on the MultiHop-RAG dev split, with 5-fold
cross-validated figures written beside the in-sample ones into each model file.

    python -m evals.train_answer --corpus ../shared/datasets/multihop-rag/corpus.json \\
        --dataset ../shared/datasets/multihop-rag/queries-dev.json

(``make answer-models`` runs exactly this.) The corpus is ingested into ``index/eval-<hash>``
once (as ``rag eval`` does) and the retrieval of every question is cached in ``runs/``.

Models (``rag/answer/models/*.json``, see :mod:`rag.answer.linear`):

* ``sentence``: is a sentence of the shown passages answer-bearing? Positive: it overlaps a
  gold ``fact`` of the question's evidence list.
* ``entity``: is a candidate name the answer of a who/which question? Positive: the gold
  answer, lower-cased, is contained in it (the strict rule of ``answers.direct_accuracy``).
* ``yesno``: is the answer to a yes/no question "yes"?
* ``abstain``: is the question answerable from the archive at all? (null queries: no)

Folds are by question, so no question is scored by a model that saw it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rag.answer.linear import LogisticModel, MODELS, fit_logistic

FOLDS = 5
SEED = 13
SHOW = 10  # passages retrieved per question and cached (the answerer sees a prefix)


def squash(text: str) -> str:
    return "".join(text.split())


def overlaps_fact(sentence: str, facts: Sequence[str]) -> bool:
    """A sentence holds a gold fact when either contains the other (white space removed) or
    they share most of the shorter one's characters as one run."""
    s = squash(sentence)
    for f in facts:
        g = squash(f)
        if not g or not s:
            continue
        if g in s or (s in g and len(s) >= 0.5 * len(g)):
            return True
    return False


def load_items(dataset: str) -> list[dict]:
    return json.loads(Path(dataset).read_text(encoding="utf-8"))


def retrieve_all(archive, items: list[dict], cache: Path) -> list[list]:
    """Top-SHOW hits per question, cached by the index manifest and the questions."""
    key = hashlib.sha256(
        (Path(archive.path, "manifest.json").read_text() + "\n".join(x["query"] for x in items)).encode()
    ).hexdigest()[:12]
    f = cache / f"answer-train-hits-{key}.pkl"
    if f.exists():
        return pickle.loads(f.read_bytes())
    from tqdm import tqdm

    out = [archive.search(x["query"], k=SHOW) for x in tqdm(items, desc="retrieve", file=sys.stderr)]
    cache.mkdir(parents=True, exist_ok=True)
    f.write_bytes(pickle.dumps(out))
    return out


def folds_of(n: int, k: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """Fold number of each of ``n`` questions (shuffled, balanced)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    f = np.empty(n, dtype=int)
    f[order] = np.arange(n) % k
    return f


def cross_val(X: np.ndarray, y: np.ndarray, groups: np.ndarray, l2: float, weight=None) -> np.ndarray:
    """Out-of-fold logits for every row (a row's model never saw its group)."""
    out = np.zeros(len(y))
    for k in range(FOLDS):
        tr, te = groups != k, groups == k
        if not te.any():
            continue
        mean, scale, w, b = fit_logistic(X[tr], y[tr], l2=l2, sample_weight=None if weight is None else weight[tr])
        out[te] = b + ((X[te] - mean) / scale) @ w
    return out


def fit_model(name: str, features: Sequence[str], X: np.ndarray, y: np.ndarray, l2: float,
              meta: dict[str, Any], threshold: float = 0.5, weight=None) -> LogisticModel:
    mean, scale, w, b = fit_logistic(X, y, l2=l2, sample_weight=weight)
    return LogisticModel(name, tuple(features), mean, scale, w, b, threshold, meta)


def save(model: LogisticModel) -> Path:
    MODELS.mkdir(parents=True, exist_ok=True)
    path = MODELS / f"{model.name}.json"
    path.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.train_answer", description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="../shared/datasets/multihop-rag/corpus.json")
    p.add_argument("--dataset", default="../shared/datasets/multihop-rag/queries-dev.json")
    p.add_argument("--index", default=None, help="an already built index of the corpus (default: index/eval-<hash>)")
    p.add_argument("--cache", default="runs/cache")
    p.add_argument("--only", default="", help="comma-separated model names to fit (default: all)")
    p.add_argument("--cv-answers", action="store_true",
                   help="also answer every question with models fitted on the other folds and print the figures")
    args = p.parse_args(argv)

    from evals import answer_training as T
    from rag import Archive
    from rag.settings import Settings

    settings = Settings.load()
    if args.index:
        archive = Archive.open(args.index, settings)
    else:
        from evals.run import EvalConfig, prepare_archive

        archive = prepare_archive(EvalConfig(dataset=args.dataset, corpus=args.corpus), settings, print)
    items = load_items(args.dataset)
    hits = retrieve_all(archive, items, Path(args.cache))
    data_hash = hashlib.sha256(Path(args.dataset).read_bytes()).hexdigest()[:16]
    only = {x for x in args.only.split(",") if x}
    started = time.time()
    states = None
    for name, fn in T.TRAINERS.items():
        if only and name not in only:
            continue
        if name == "sentence":
            model, report = fn(items, hits, settings, data_hash)
        else:
            states = states or T.question_states(items, hits)
            model, report = fn(items, hits, settings, data_hash, states=states)
        path = save(model)
        print(f"{name}: wrote {path}")
        print(report)
    if args.cv_answers:
        figs = T.cross_validated_answers(items, hits, settings)
        print("whole answerer, 5-fold cross-validated (strict direct-answer rule):")
        for k, v in figs.items():
            print(f"  {k}: {v:.3f}" if v is not None else f"  {k}: -")
        Path(args.cache).mkdir(parents=True, exist_ok=True)
        (Path(args.cache) / "answer-cv.json").write_text(json.dumps(figs, indent=1) + "\n", encoding="utf-8")
    print(f"done in {time.time() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
