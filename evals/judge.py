"""Support judges for citation recall/precision: does a set of passages support a sentence?

* :class:`OfflineJudge` (default, no LLM): a logistic combination of lexical support (the
  weighted share of the sentence's content words found in the passages; numbers weigh 3,
  names 2, other words 1), the number of the sentence's numbers and names missing from the
  passages, and the best MiniLM cosine between the sentence and one passage sentence. A
  sentence found verbatim in a passage is supported outright. The weights are fitted on the
  hand-labelled pairs of ``evals/datasets/support_pairs.jsonl`` and stored in
  ``evals/datasets/judge_calibration.json`` (``python -m evals.judge --calibrate``).
* :class:`LLMJudge`: asks an OpenAI-compatible LLM with ``prompts/judge.md``
  (SUPPORTED/UNSUPPORTED).

Both are proxies for ALCE's TRUE NLI model, not its scores; reports name the judge used.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Protocol, Sequence

from rag.text import split_sentences, stem, terms

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
PAIRS_FILE = DATASETS_DIR / "support_pairs.jsonl"
CALIBRATION_FILE = DATASETS_DIR / "judge_calibration.json"
FEATURES = ("lexical", "missing_strong", "cosine")
# Used only when no calibration file exists (hand-set; `--calibrate` replaces them).
DEFAULT_PARAMS = {"bias": -4.0, "lexical": 5.0, "missing_strong": -3.0, "cosine": 3.0}
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)


class SupportJudge(Protocol):
    """Decides whether passages (joined) support a sentence."""

    name: str

    def supports(self, sentence: str, passages: Sequence[str]) -> bool:
        """True when the passages, taken together, support ``sentence``."""
        ...


# ---- features ----------------------------------------------------------------------------
# Capitalized sentence openers that are not names (stopwords are dropped before this).
_OPENERS = frozenset(
    """according additionally after although another because before both despite during earlier
    either finally first following however instead last later many meanwhile moreover most
    next once overall previously several since still then therefore though today together
    tomorrow under unlike until when whereas while yesterday yet""".split()
)


def _is_name(t, first_at: int) -> bool:
    if t.kind == "acronym":
        return True
    if t.kind != "capitalized":
        return False
    return t.start != first_at or not (t.norm in _OPENERS or t.norm.endswith("ly"))


def _needs(sentence: str) -> dict[str, tuple[float, bool]]:
    first = re.search(r"[^\W_]", sentence)
    first_at = first.start() if first else 0
    out: dict[str, tuple[float, bool]] = {}
    for t in terms(sentence):
        if t.kind == "number":
            w, strong = 3.0, True
        elif _is_name(t, first_at):
            w, strong = 2.0, True
        else:
            w, strong = 1.0, False
        key = stem(t.norm)
        if key not in out or w > out[key][0]:
            out[key] = (w, strong)
    return out


def lexical_features(sentence: str, passages: Sequence[str]) -> tuple[float, int]:
    """(weighted share of the sentence's content words found in the passages, number of its
    numbers and names missing from them). A capitalized first word counts as a name unless it
    is a common sentence opener ("However", "Earlier", adverbs in -ly)."""
    need = _needs(sentence)
    have = {stem(t.norm) for p in passages for t in terms(p)}
    total = sum(w for w, _ in need.values())
    if total <= 0:
        return 0.0, 0
    got = sum(w for k, (w, _) in need.items() if k in have)
    missing = sum(1 for k, (_, strong) in need.items() if strong and k not in have)
    return got / total, missing


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def verbatim(sentence: str, passages: Sequence[str]) -> bool:
    """True when the sentence (white space and final punctuation aside) occurs in a passage."""
    s = _flat(sentence).rstrip(".!?… ")
    return len(s) >= 20 and any(s in _flat(p) for p in passages)


def sigmoid(z: float) -> float:
    """The logistic function."""
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


class OfflineJudge:
    """Lexical support + MiniLM similarity, combined by calibrated logistic weights."""

    def __init__(self, embedder: Any = None, params: dict[str, float] | None = None, calibration: dict | None = None):
        if calibration is None and params is None and CALIBRATION_FILE.is_file():
            calibration = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
        self.calibration = calibration or {}
        self.params = dict(params or self.calibration.get("params") or DEFAULT_PARAMS)
        self._embedder = embedder
        self._cache: dict[str, Any] = {}
        n = self.calibration.get("n_pairs")
        self.name = "offline: lexical support + MiniLM cosine, logistic" + (
            f" calibrated on {n} labelled pairs" if n else " (uncalibrated defaults)"
        ) + " (proxy for ALCE's TRUE NLI judge)"

    @property
    def embedder(self):
        """The MiniLM embedder (loaded on first use)."""
        if self._embedder is None:
            from rag.index.embedding import make_embedder
            from rag.settings import Settings

            self._embedder = make_embedder(Settings(embedder="minilm"))
        return self._embedder

    def _vectors(self, texts: Sequence[str]):
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            if len(self._cache) > 50_000:
                self._cache.clear()
            for t, v in zip(missing, self.embedder.embed_texts(missing)):
                self._cache[t] = v
        return [self._cache[t] for t in texts]

    def cosine(self, sentence: str, passages: Sequence[str]) -> float:
        """Best cosine (clipped to [0, 1]) between the sentence and one passage sentence."""
        sents = [p[s:e] for p in passages for s, e in split_sentences(p)] or [p for p in passages if p.strip()]
        if not sents or not sentence.strip():
            return 0.0
        vecs = self._vectors([sentence, *sents])
        q = vecs[0]
        return max(0.0, min(1.0, max(float(v @ q) for v in vecs[1:])))

    def logit(self, lexical: float, missing: int, cosine: float) -> float:
        """The calibrated log-odds of support for these feature values."""
        p = self.params
        return p["bias"] + p["lexical"] * lexical + p["missing_strong"] * min(missing, 3) + p["cosine"] * cosine

    def features(self, sentence: str, passages: Sequence[str]) -> tuple[float, int, float]:
        """(lexical share, missing numbers/names, cosine) of a sentence against passages."""
        lex, miss = lexical_features(sentence, passages)
        return lex, miss, self.cosine(sentence, passages)

    def probability(self, sentence: str, passages: Sequence[str]) -> float:
        """Calibrated probability that the passages support the sentence (1.0 if verbatim)."""
        if verbatim(sentence, passages):
            return 1.0
        lex, miss = lexical_features(sentence, passages)
        return sigmoid(self.logit(lex, miss, self.cosine(sentence, passages)))

    def supports(self, sentence: str, passages: Sequence[str]) -> bool:
        """True when the calibrated probability of support is at least 0.5. The model is
        not run when the verdict is the same for every cosine in [0, 1]."""
        passages = [p for p in passages if p and p.strip()]
        if not passages:
            return False
        if verbatim(sentence, passages):
            return True
        lex, miss = lexical_features(sentence, passages)
        z0, z1 = self.logit(lex, miss, 0.0), self.logit(lex, miss, 1.0)
        if (z0 >= 0) == (z1 >= 0):
            return z0 >= 0
        return self.logit(lex, miss, self.cosine(sentence, passages)) >= 0


class LLMJudge:
    """Asks an LLM (any ``rag.answer.llm.LLMClient``) whether the passages support the sentence."""

    def __init__(self, llm: Any, model: str = "llm"):
        from rag.answer.prompts import load_prompt

        self.llm = llm
        self.prompt = load_prompt("judge")
        self.name = f"llm: {model} with prompts/judge.md (proxy for ALCE's TRUE NLI judge)"
        self._cache: dict[tuple[str, tuple[str, ...]], bool] = {}
        self.unparsed = 0

    def supports(self, sentence: str, passages: Sequence[str]) -> bool:
        """One LLM call per distinct (sentence, passages); unparseable replies count as no."""
        passages = tuple(p for p in passages if p and p.strip())
        if not passages:
            return False
        key = (sentence, passages)
        if key not in self._cache:
            system, user = self.prompt.messages(sentence=sentence.strip(), passage="\n\n".join(passages))
            verdict = parse_verdict(self.llm.complete(user, system=system))
            if verdict is None:
                self.unparsed += 1
            self._cache[key] = bool(verdict)
        return self._cache[key]


def parse_verdict(reply: str) -> bool | None:
    """SUPPORTED -> True, UNSUPPORTED / NOT SUPPORTED -> False, anything else -> None."""
    text = _THINK.sub("", reply or "").upper()
    if re.search(r"\bUNSUPPORTED\b|\bNOT\s+SUPPORTED\b", text):
        return False
    if re.search(r"\bSUPPORTED\b", text):
        return True
    return None


def make_judge(kind: str = "auto", settings: Any = None, embedder: Any = None) -> SupportJudge:
    """``offline``, ``llm`` (needs ``settings.llm_configured``) or ``auto`` (llm when an LLM
    endpoint is configured, else offline)."""
    kind = (kind or "auto").lower()
    if kind == "auto":
        kind = "llm" if settings is not None and settings.llm_configured else "offline"
    if kind == "llm":
        from rag.errors import BackendUnavailable
        from rag.answer.llm import OpenAICompatibleLLM

        if settings is None or not settings.llm_configured:
            raise BackendUnavailable("judge 'llm' needs RAG_LLM_BASE_URL and RAG_LLM_MODEL")
        return LLMJudge(OpenAICompatibleLLM(settings), model=str(settings.llm_model))
    if kind == "offline":
        return OfflineJudge(embedder=embedder)
    from rag.errors import BadInput

    raise BadInput(f"unknown judge {kind!r} (choose auto, offline or llm)")


# ---- calibration -------------------------------------------------------------------------
def load_pairs(path: str | Path = PAIRS_FILE) -> list[dict]:
    """The labelled pairs: ``{sentence, passage, supported, kind}`` per line."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def fit_logistic(x: Sequence[Sequence[float]], y: Sequence[int], l2: float = 0.05, iters: int = 100) -> list[float]:
    """Deterministic L2-regularized logistic regression by Newton's method; returns
    ``[bias, w1, ..., wd]`` (the bias is not regularized)."""
    import numpy as np

    X = np.hstack([np.ones((len(x), 1)), np.asarray(x, dtype=float)])
    Y = np.asarray(y, dtype=float)
    w = np.zeros(X.shape[1])
    reg = np.full(X.shape[1], l2)
    reg[0] = 1e-6
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ w, -60, 60)))
        grad = X.T @ (p - Y) + reg * w
        hess = (X.T * (p * (1 - p))) @ X + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    return [round(float(v), 6) for v in w]


def agreement(predicted: Sequence[bool], gold: Sequence[bool]) -> dict[str, float | int | None]:
    """Accuracy, and precision/recall of the "unsupported" verdict, against labels."""
    n = len(gold)
    tp = sum(1 for p, g in zip(predicted, gold) if not p and not g)
    pred_un = sum(1 for p in predicted if not p)
    gold_un = sum(1 for g in gold if not g)
    return {
        "n": n,
        "accuracy": round(sum(1 for p, g in zip(predicted, gold) if p == g) / n, 4) if n else None,
        "unsupported_precision": round(tp / pred_un, 4) if pred_un else None,
        "unsupported_recall": round(tp / gold_un, 4) if gold_un else None,
    }


def calibrate(pairs: Sequence[dict], embedder: Any = None) -> dict:
    """Fit the offline judge on labelled pairs; report its agreement on them (fitted, and
    leave-one-out) overall and per kind of pair."""
    base = OfflineJudge(embedder=embedder, params=DEFAULT_PARAMS)
    feats = [base.features(p["sentence"], [p["passage"]]) for p in pairs]
    x = [[lex, min(miss, 3), cos] for lex, miss, cos in feats]
    y = [int(bool(p["supported"])) for p in pairs]
    verb = [verbatim(p["sentence"], [p["passage"]]) for p in pairs]

    def predict(w: list[float], i: int) -> bool:
        return verb[i] or sum(a * b for a, b in zip(w, [1.0, *x[i]])) >= 0

    w = fit_logistic(x, y)
    fitted = [predict(w, i) for i in range(len(pairs))]
    loo = []
    for i in range(len(pairs)):
        wi = fit_logistic([v for j, v in enumerate(x) if j != i], [v for j, v in enumerate(y) if j != i])
        loo.append(predict(wi, i))
    gold = [bool(v) for v in y]
    kinds = sorted({p.get("kind", "?") for p in pairs})
    by_kind = {
        k: {"n": sum(1 for p in pairs if p.get("kind", "?") == k),
            "fitted_accuracy": agreement([f for f, p in zip(fitted, pairs) if p.get("kind", "?") == k],
                                         [g for g, p in zip(gold, pairs) if p.get("kind", "?") == k])["accuracy"],
            "loo_accuracy": agreement([f for f, p in zip(loo, pairs) if p.get("kind", "?") == k],
                                      [g for g, p in zip(gold, pairs) if p.get("kind", "?") == k])["accuracy"]}
        for k in kinds
    }
    return {
        "judge": "offline lexical + MiniLM cosine (logistic)",
        "features": list(FEATURES),
        "params": dict(zip(("bias", *FEATURES), w)),
        "n_pairs": len(pairs),
        "kinds": dict(Counter(p.get("kind", "?") for p in pairs)),
        "agreement": {"fitted": agreement(fitted, gold), "leave_one_out": agreement(loo, gold)},
        "by_kind": by_kind,
        "errors_leave_one_out": [
            {"kind": p.get("kind"), "supported": p["supported"], "sentence": p["sentence"]}
            for p, f in zip(pairs, loo) if f != bool(p["supported"])
        ],
    }


def judge_agreement(judge: SupportJudge, pairs: Sequence[dict]) -> dict:
    """Agreement of any judge with the labelled pairs."""
    pred = [judge.supports(p["sentence"], [p["passage"]]) for p in pairs]
    return agreement(pred, [bool(p["supported"]) for p in pairs])


def format_agreement(cal: dict) -> str:
    """Calibration agreement as a few lines of text (also used in report.md)."""
    a, l = cal["agreement"]["fitted"], cal["agreement"]["leave_one_out"]
    lines = [
        f"{cal['n_pairs']} labelled pairs ({', '.join(f'{k} {v}' for k, v in sorted(cal['kinds'].items()))})",
        f"fitted:        accuracy {a['accuracy']}, unsupported precision {a['unsupported_precision']}, "
        f"unsupported recall {a['unsupported_recall']}",
        f"leave-one-out: accuracy {l['accuracy']}, unsupported precision {l['unsupported_precision']}, "
        f"unsupported recall {l['unsupported_recall']}",
        "params: " + ", ".join(f"{k}={v}" for k, v in cal["params"].items()),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evals.judge --calibrate``: fit the offline judge and print its agreement;
    ``--check [--judge llm]``: print a judge's agreement with the labelled pairs."""
    ap = argparse.ArgumentParser(prog="python -m evals.judge", description=main.__doc__)
    ap.add_argument("--calibrate", action="store_true", help="fit and write judge_calibration.json")
    ap.add_argument("--check", action="store_true", help="report agreement of --judge with the pairs")
    ap.add_argument("--judge", default="offline", choices=["offline", "llm"])
    ap.add_argument("--pairs", default=str(PAIRS_FILE))
    ap.add_argument("--out", default=str(CALIBRATION_FILE))
    args = ap.parse_args(argv)
    pairs = load_pairs(args.pairs)
    if args.calibrate:
        cal = calibrate(pairs)
        Path(args.out).write_text(json.dumps(cal, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(format_agreement(cal))
        for e in cal["errors_leave_one_out"]:
            print(f"  miss ({e['kind']}, supported={e['supported']}): {e['sentence']}")
        print(f"wrote {args.out}")
        return 0
    if args.check:
        from rag.settings import Settings

        judge = make_judge(args.judge, Settings.load())
        print(judge.name)
        print(json.dumps(judge_agreement(judge, pairs), indent=2))
        return 0
    ap.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
