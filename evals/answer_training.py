"""Training sets, cross-validation and figures for the answerer's models
(:mod:`evals.train_answer` is the command)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from evals.train_answer import FOLDS, cross_val, fit_model, folds_of, overlaps_fact

REFUSE_NULLS = 0.95  # share of the (training) null questions the refusal threshold must refuse; 0.90 gave 0.914 out of fold
SHOWN = 8  # passages the answerer is shown (Settings.answer_passages; 6 gave name ranking 0.760 CV, 10 gave 0.802)


def _pct(x: float) -> str:
    return f"{x:.3f}"


# ---- sentences -----------------------------------------------------------------------------
def sentence_data(items, hits, shown: int = SHOWN):
    from rag.answer.features import QuestionInfo, candidates, sentence_features

    X, y, g, qid, facts_hit = [], [], [], [], []
    folds = folds_of(len(items))
    for i, (x, hs) in enumerate(zip(items, hits)):
        if x["question_type"] == "null_query":
            continue
        facts = [e["fact"] for e in x["evidence_list"]]
        q = QuestionInfo.of(x["query"])
        cands = candidates(hs[:shown])
        if not cands:
            continue
        F = sentence_features(q, hs[:shown], cands)
        for c, row in zip(cands, F):
            X.append(row)
            y.append(overlaps_fact(c.text, facts))
            g.append(folds[i])
            qid.append(i)
            facts_hit.append(frozenset(j for j, f in enumerate(facts) if overlaps_fact(c.text, [f])))
    return np.array(X), np.array(y, dtype=float), np.array(g), np.array(qid), facts_hit


def ranking_figures(scores: np.ndarray, y: np.ndarray, qid: np.ndarray, facts_hit, items) -> dict[str, float]:
    """Per question: the top sentence holds a gold fact (P@1, among questions where some
    shown sentence does), and the share of gold facts held by the top 3."""
    by_q: dict[int, list[int]] = defaultdict(list)
    for r, q in enumerate(qid):
        by_q[int(q)].append(r)
    p1, cov3, any3 = [], [], []
    for q, rows in by_q.items():
        if not y[rows].any():
            continue
        order = sorted(rows, key=lambda r: -scores[r])
        p1.append(float(y[order[0]]))
        n_facts = len({e["fact"] for e in items[q]["evidence_list"]})
        got = set().union(*(facts_hit[r] for r in order[:3]))
        cov3.append(len(got) / max(1, n_facts))
        any3.append(float(bool(got)))
    return {"p_at_1": float(np.mean(p1)), "facts_in_top3": float(np.mean(cov3)), "any_fact_top3": float(np.mean(any3)), "questions": len(p1)}


def train_sentence(items, hits, settings, data_hash):
    from rag.answer.features import SENTENCE_FEATURES

    X, y, g, qid, fh = sentence_data(items, hits)
    l2 = 3.0
    oof = cross_val(X, y, g, l2)
    lex = X[:, list(SENTENCE_FEATURES).index("lex")]
    old = lex + 0.25 * X[:, list(SENTENCE_FEATURES).index("meta")] + 0.1 * X[:, list(SENTENCE_FEATURES).index("hit_rank")]
    model = fit_model("sentence", SENTENCE_FEATURES, X, y, l2, {})
    ins = model.score(X)
    figs = {
        "cross_validated": ranking_figures(oof, y, qid, fh, items),
        "in_sample": ranking_figures(ins, y, qid, fh, items),
        "baseline_lexical_share": ranking_figures(lex, y, qid, fh, items),
        "baseline_previous_score": ranking_figures(old, y, qid, fh, items),
    }
    model.meta.update({
        "fitted_on": "MultiHop-RAG dev split (queries-dev.json), non-null questions, top-6 passages",
        "training_data_sha256": data_hash, "rows": int(len(y)), "positives": int(y.sum()), "l2": l2,
        "folds": 5, "figures": figs, "command": "make answer-models",
    })
    lines = ["| selector | P@1 | facts in top 3 | any fact in top 3 |", "|---|---|---|---|"]
    for k, v in figs.items():
        lines.append(f"| {k} | {_pct(v['p_at_1'])} | {_pct(v['facts_in_top3'])} | {_pct(v['any_fact_top3'])} |")
    return model, "\n".join(lines)


# ---- per-question state shared by the downstream models ------------------------------------
def question_states(items, hits, shown: int = SHOWN):
    """For every question: its QuestionInfo, shown hits, sentence candidates and their
    out-of-fold sentence-model probabilities (so downstream cross-validation is honest)."""
    from rag.answer.features import QuestionInfo, candidates, sentence_features

    X, y, g, qid, _ = sentence_data(items, hits, shown)
    oof = cross_val(X, y, g, 3.0)
    prob_by_q: dict[int, list[float]] = defaultdict(list)
    for q, s in zip(qid, oof):
        prob_by_q[int(q)].append(1 / (1 + np.exp(-s)))
    from rag.answer.features import SENTENCE_FEATURES

    full = fit_model("sentence", SENTENCE_FEATURES, X, y, 3.0, {})  # for questions outside the folds' rows
    states = []
    for i, (x, hs) in enumerate(zip(items, hits)):
        q = QuestionInfo.of(x["query"])
        cands = candidates(hs[:shown])
        if cands:
            sentence_features(q, hs[:shown], cands)
        probs = prob_by_q.get(i)
        if probs is None or len(probs) != len(cands):  # null questions: score with the full fit
            F = np.array([c.features for c in cands])
            probs = list(full.proba(F)) if cands else []
        for c, p in zip(cands, probs):
            c.score = float(p)
        states.append({"q": q, "hits": hs[:shown], "cands": cands, "probs": probs})
    return states


def strict_entity(gold: str, text: str) -> bool:
    return gold.strip().lower() in text.lower()


# ---- training rows, shared by the trainers and the cross-validated answerer ----------------
def entity_rows(items, states, indices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, is-the-gold-answer, question index) of every name candidate of the who/which
    questions among ``indices``."""
    from rag.answer.direct import ENTITY_FEATURES, entity_candidates, entity_features

    X, y, qid = [], [], []
    for i in indices:
        st = states[i]
        if items[i]["question_type"] != "inference_query" or not st["cands"]:
            continue
        ents = entity_candidates(st["q"], st["hits"], st["cands"])
        if ents:
            X.append(entity_features(st["q"], st["hits"], ents))
            y += [strict_entity(items[i]["answer"], e.text) for e in ents]
            qid += [i] * len(ents)
    return (np.vstack(X) if X else np.zeros((0, len(ENTITY_FEATURES)))), np.array(y, dtype=float), np.array(qid)


def yesno_rows(items, states, indices) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(features, gold is yes, question indexes) of the yes/no questions among ``indices``."""
    from rag.answer.direct import yesno_features
    from rag.retrieve.query import is_temporal

    qs = [i for i in indices if items[i]["answer"].strip().lower() in ("yes", "no") and states[i]["cands"]]
    X = np.array([yesno_features(states[i]["q"], states[i]["hits"], states[i]["cands"], states[i]["probs"],
                                 is_temporal(items[i]["query"])) for i in qs])
    y = np.array([items[i]["answer"].strip().lower() == "yes" for i in qs], dtype=float)
    return X, y, qs


def abstain_rows(items, states, indices) -> tuple[np.ndarray, np.ndarray]:
    """(features, answerable) of the questions among ``indices`` (null queries: not)."""
    from rag.answer.features import abstain_features

    X = np.array([abstain_features(states[i]["q"], states[i]["hits"], states[i]["cands"], states[i]["probs"])
                  for i in indices])
    y = np.array([items[i]["question_type"] != "null_query" for i in indices], dtype=float)
    return X, y


def refusal_rates(p: np.ndarray, y: np.ndarray, t: float) -> tuple[float, float]:
    """(share of null questions refused, share of answerable ones refused) at threshold ``t``."""
    return float(np.mean(p[y == 0] < t)), float(np.mean(p[y == 1] < t))


def refusal_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The threshold on P(answerable) with the fewest answerable questions refused among those
    refusing at least :data:`REFUSE_NULLS` of the null ones (0.5 when none does)."""
    ok = [t for t in np.linspace(0.01, 0.99, 99) if refusal_rates(p, y, t)[0] >= REFUSE_NULLS]
    return float(min(ok, key=lambda t: refusal_rates(p, y, t)[1])) if ok else 0.5


def train_entity(items, hits, settings, data_hash, states=None):
    from rag.answer.direct import ENTITY_FEATURES

    states = states or question_states(items, hits)
    folds = folds_of(len(items))
    qs = [i for i, x in enumerate(items) if x["question_type"] == "inference_query"]
    X, y, qid = entity_rows(items, states, range(len(items)))
    g = np.array([folds[i] for i in qid])
    l2 = 3.0
    oof = cross_val(X, y, g, l2)
    model = fit_model("entity", ENTITY_FEATURES, X, y, l2, {})
    ins = model.score(X)
    freq = X[:, list(ENTITY_FEATURES).index("log_mentions")] + 1e-6 * X[:, list(ENTITY_FEATURES).index("first_hit")]

    def acc(scores):
        right = 0
        for i in qs:
            rows = np.where(qid == i)[0]
            if len(rows) and y[rows[np.argmax(scores[rows])]]:
                right += 1
        return right / len(qs)

    figs = {"cross_validated": acc(oof), "in_sample": acc(ins), "baseline_most_frequent": acc(freq),
            "ceiling_answer_among_candidates": sum(1 for i in qs if y[qid == i].any()) / len(qs)}
    model.meta.update({"fitted_on": "MultiHop-RAG dev split, inference (who/which) questions", "training_data_sha256": data_hash,
                       "rows": int(len(y)), "questions": len(qs), "l2": l2, "folds": 5, "top1_strict_accuracy": figs,
                       "command": "make answer-models"})
    return model, "entity top-1 strict accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in figs.items())


def train_yesno(items, hits, settings, data_hash, states=None):
    from rag.answer.direct import YESNO_FEATURES

    states = states or question_states(items, hits)
    folds = folds_of(len(items))
    X, y, qs = yesno_rows(items, states, range(len(items)))
    g = np.array([folds[i] for i in qs])
    l2 = 10.0
    oof = cross_val(X, y, g, l2)
    model = fit_model("yesno", YESNO_FEATURES, X, y, l2, {})
    ins = model.score(X)
    figs = {"cross_validated": float(np.mean((oof > 0) == (y > 0))), "in_sample": float(np.mean((ins > 0) == (y > 0))),
            "baseline_constant_yes": float(y.mean()), "questions": len(qs)}
    model.meta.update({"fitted_on": "MultiHop-RAG dev split, questions whose gold answer is yes/no", "training_data_sha256": data_hash,
                       "l2": l2, "folds": 5, "accuracy": figs, "command": "make answer-models"})
    return model, "yes/no accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in figs.items())


def train_abstain(items, hits, settings, data_hash, states=None):
    """Answerable or not: null queries (no evidence in the archive) are the negatives. The
    threshold is the largest that refuses at least 90% of the null questions out of fold."""
    from rag.answer.features import ABSTAIN_FEATURES

    states = states or question_states(items, hits)
    X, y = abstain_rows(items, states, range(len(items)))
    g = np.array(folds_of(len(items)))
    l2 = 3.0
    oof = 1 / (1 + np.exp(-cross_val(X, y, g, l2)))
    t = refusal_threshold(oof, y)  # chosen out of fold
    model = fit_model("abstain", ABSTAIN_FEATURES, X, y, l2, {}, threshold=t)
    ins = model.proba(X)
    figs = {"threshold": t, "cv_null_refused": refusal_rates(oof, y, t)[0], "cv_answerable_refused": refusal_rates(oof, y, t)[1],
            "in_sample_null_refused": refusal_rates(ins, y, t)[0], "in_sample_answerable_refused": refusal_rates(ins, y, t)[1]}
    model.meta.update({"fitted_on": "MultiHop-RAG dev split, all questions (null = unanswerable)", "training_data_sha256": data_hash,
                       "l2": l2, "folds": 5, "refusal": figs, "command": "make answer-models"})
    return model, "abstain: " + ", ".join(f"{k} {v:.3f}" for k, v in figs.items())


TRAINERS: dict[str, Callable[..., Any]] = {"sentence": train_sentence, "entity": train_entity, "yesno": train_yesno,
                                           "abstain": train_abstain}


# ---- the whole answerer, cross-validated ----------------------------------------------------
def cross_validated_answers(items, hits, settings) -> dict[str, Any]:
    """Answer every dev question with models fitted on the other four folds only (sentence,
    entity, yes/no and refusal models all refitted per fold), through the real answerer and
    verifier, and score the direct answers by ``rag eval``'s strict rule. These are the
    figures to expect on questions the models never saw."""
    from evals import metrics as M
    from rag.answer.direct import ENTITY_FEATURES, YESNO_FEATURES
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.answer.features import ABSTAIN_FEATURES, SENTENCE_FEATURES, QuestionInfo, candidates, sentence_features

    folds = folds_of(len(items))
    shown = settings.answer_passages
    qs = [QuestionInfo.of(x["query"]) for x in items]
    cands = [candidates(hs[:shown]) for hs in hits]
    feats = [sentence_features(q, hs[:shown], c) if c else np.zeros((0, len(SENTENCE_FEATURES)))
             for q, hs, c in zip(qs, hits, cands)]
    labels = [np.array([overlaps_fact(c.text, [e["fact"] for e in x["evidence_list"]]) for c in cs], dtype=float)
              for x, cs in zip(items, cands)]
    scores: list[dict] = [None] * len(items)  # type: ignore[list-item]
    for k in range(FOLDS):
        train = [i for i in range(len(items)) if folds[i] != k]
        rows = [i for i in train if items[i]["question_type"] != "null_query" and len(feats[i])]
        sent = fit_model("sentence", SENTENCE_FEATURES, np.vstack([feats[i] for i in rows]),
                         np.concatenate([labels[i] for i in rows]), 3.0, {})
        for i in range(len(items)):
            for c, p in zip(cands[i], sent.proba(feats[i]) if len(feats[i]) else []):
                c.score = float(p)
        states = [{"q": qs[i], "hits": hits[i][:shown], "cands": cands[i], "probs": [c.score for c in cands[i]]}
                  for i in range(len(items))]
        ex, ey, _ = entity_rows(items, states, train)
        yx, yy, _ = yesno_rows(items, states, train)
        ax, ay = abstain_rows(items, states, [i for i in train if cands[i]])
        ent = fit_model("entity", ENTITY_FEATURES, ex, ey, 3.0, {})
        yn = fit_model("yesno", YESNO_FEATURES, yx, yy, 10.0, {})
        ab = fit_model("abstain", ABSTAIN_FEATURES, ax, ay, 3.0, {})
        ab = replace(ab, threshold=refusal_threshold(ab.proba(ax), ay))  # chosen on the training folds
        answerer = ExtractiveAnswerer(settings, models={"sentence": sent, "entity": ent, "yesno": yn, "abstain": ab})
        for i in range(len(items)):
            if folds[i] != k:
                continue
            x = items[i]
            ans = answerer.answer(x["query"], hits[i][:shown])
            answerable = x["question_type"] != "null_query"
            d = ans.direct
            strict, lenient = M.direct_scores(d.text if d else None, d.kind if d else None, ans.abstained, answerable, x["answer"])
            facts = [e["fact"] for e in x["evidence_list"]]
            scores[i] = {"qtype": x["question_type"], "strict": strict, "lenient": lenient, "abstained": ans.abstained,
                         "answerable": answerable, "yesno": x["answer"].strip().lower() in ("yes", "no"),
                         "sentence": M.gold_sentence_cited([s.quote for s in ans.sources], facts) if answerable else None}

    def mean(vals):
        vals = [float(v) for v in vals if v is not None]
        return sum(vals) / len(vals) if vals else None

    out = {
        "answers.direct_accuracy": mean(s["strict"] for s in scores),
        "answers.direct_accuracy_lenient": mean(s["lenient"] for s in scores),
        "answers.direct_accuracy_yesno": mean(s["strict"] for s in scores if s["yesno"]),
        "answers.direct_accuracy_entity": mean(s["strict"] for s in scores if s["qtype"] == "inference_query"),
        "abstention.null_accuracy": mean(s["abstained"] for s in scores if not s["answerable"]),
        "abstention.false_refusal": mean(s["abstained"] for s in scores if s["answerable"]),
        "citations.gold_sentence_cited": mean(s["sentence"] for s in scores if s["answerable"]),
    }
    for t in sorted({s["qtype"] for s in scores}):
        out[f"by_type.{t}.direct_accuracy"] = mean(s["strict"] for s in scores if s["qtype"] == t)
    return out
