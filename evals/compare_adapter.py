"""Would a learned map of the claim's vector lift ``compare``? A measured negative result.

    python -m evals.compare_adapter --index <int8 MiniLM index of the corpus> [--dataset ...]

``compare`` re-ranks an outlet's top hits by search score + weight x the cosine of the claim
(the question's words about that outlet) with the passage's best sentence. This fits a
low-rank linear map ``t = q + U W q`` of the claim vector ``q`` on the dev split's gold facts
(a softmax over the sentences of the outlet's top 40 hits, the gold ones as the target) and
scores, for the 125 two-outlet comparison questions, whether each named outlet's gold fact is
among its 5 shown passages, in a simulation of :func:`rag.stories.compare.choose` (the re-rank
alone: no unfiltered hits, no dedupe; it passes within 1-2 questions of the real rule).

Cross-validation: the comparison questions in the folds of ``evals.compare`` (5, seed 13); the
map of each fold is trained on every other dev (query, named outlet) row whose gold sentences
none of the fold's questions shares, and scored on the fold. In the same run: search order and
the shipped rule (the identity map). The index is only read; torch (a dependency of
sentence-transformers) trains the map.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from evals import metrics as M
from evals.compare import DEV, FOLD_SEED, FOLDS, two_outlet_questions
from rag.stories.compare import (PASSAGES_PER_OUTLET, POOL, SENTENCE_WEIGHT, SENTENCES_PER_PASSAGE, SentenceVectors,
                                 _sides, claim_text, pick_outlets, sentence_scores)
from rag.text import split_sentences

DEPTH = 40  # hits per (query, outlet) whose sentences are candidates for training
CONFIGS = ({"rank": 16, "lam": 1e-2}, {"rank": 32, "lam": 1e-3}, {"rank": 64, "lam": 1e-1})


def gather(archive, dataset: Path) -> tuple[list[dict], np.ndarray]:
    """One row per (dev query, named outlet of its evidence): the claim, the outlet's top hits
    (chunk, search score, gold or not) with their sentences (text id, gold or not), and the
    vectors of every text (claims by ``embed_query``, sentences by ``embed_texts``)."""
    known = archive.outlets()
    compared = {q["query"]: i for i, q in enumerate(two_outlet_questions(dataset))}
    texts: dict[str, int] = {}
    claims: set[int] = set()
    rows: list[dict] = []

    def tid(t: str) -> int:
        return texts.setdefault(t, len(texts))

    for q in json.loads(Path(dataset).read_text(encoding="utf-8")):
        facts: dict[str, list[str]] = {}
        for e in q["evidence_list"]:
            facts.setdefault(e["source"], []).append(M.squash(e["fact"]))
        named = pick_outlets(archive, q["query"]) if facts else []
        sides = _sides(q["query"], named, known) if named else {}
        for outlet, gold in facts.items():
            if outlet not in sides:
                continue  # only outlets the question names have a claim of their own
            claim = claim_text(sides[outlet])
            hits = []
            for h in archive.search(q["query"], DEPTH, outlets=[outlet]):
                sents = []
                for s, e in split_sentences(h.chunk.text):
                    t = h.chunk.text[s:e]
                    sq = M.squash(t)
                    sents.append({"t": tid(t), "gold": bool(sq) and any((len(sq) >= 20 and sq in f) or f in sq for f in gold)})
                hits.append({"chunk": h.chunk, "score": h.score, "gold": any(f in M.squash(h.chunk.text) for f in gold),
                             "sents": sents})
            c = tid(claim)
            claims.add(c)
            rows.append({"cmp": compared.get(q["query"]), "outlet": outlet, "claim": c, "text": claim, "hits": hits})
    order = sorted(texts, key=texts.get)
    vecs = np.zeros((len(order), archive.embedder.dim), np.float32)
    plain = [i for i in range(len(order)) if i not in claims]
    for b in range(0, len(plain), 64):
        part = plain[b:b + 64]
        vecs[part] = archive.embedder.embed_texts([order[i] for i in part])
    for i in claims:
        vecs[i] = np.asarray(archive.embedder.embed_query(order[i]), np.float32)
    return rows, vecs


def _unit(x: np.ndarray) -> np.ndarray:
    return x / max(float(np.linalg.norm(x)), 1e-12)


def passed(questions: dict[int, list[dict]], qis, target_of, embedder, cache: SentenceVectors, weight: float) -> int:
    """Questions whose every named outlet shows a gold passage among its 5 re-ranked ones, the
    sentence scores by :func:`rag.stories.compare.sentence_scores` against ``target_of(row)``
    (the sentences' vectors remembered in ``cache`` after the first call)."""
    n = 0
    for qi in qis:
        rows = questions.get(qi, [])
        ok = len(rows) == 2
        for r in rows:
            hits = r["hits"][:POOL]
            scores = sentence_scores(embedder, [h["chunk"] for h in hits], r["text"], SENTENCES_PER_PASSAGE,
                                     vectors=cache, target=target_of(r))
            top = sorted(hits, key=lambda h: -(h["score"] + weight * scores[h["chunk"].id][-1]))
            ok = ok and any(h["gold"] for h in top[:PASSAGES_PER_OUTLET])
        n += ok
    return n


def train(rows: list[dict], vecs: np.ndarray, rank: int, lam: float, tau: float = 0.05, epochs: int = 8,
          lr: float = 3e-3, seed: int = 0) -> np.ndarray:
    """The map ``A = U W`` (``t = q + A q``) fitted by softmax cross-entropy of each row's gold
    sentences among all its candidate sentences, plus ``lam`` x ||A||^2."""
    import torch

    V = torch.tensor(vecs)
    examples = []
    for r in rows:
        cand: dict[int, bool] = {}
        for h in r["hits"]:
            for s in h["sents"]:
                cand[s["t"]] = cand.get(s["t"], False) or s["gold"]
        if any(cand.values()) and len(cand) > 1:
            ids = list(cand)
            examples.append((r["claim"], torch.tensor(ids), torch.tensor([cand[i] for i in ids])))
    g = torch.Generator().manual_seed(seed)
    U = (torch.randn(V.shape[1], rank, generator=g) * 0.01).requires_grad_()
    W = torch.zeros(rank, V.shape[1]).requires_grad_()
    opt = torch.optim.Adam([U, W], lr=lr)
    for _ in range(epochs):
        for i in torch.randperm(len(examples), generator=g).tolist():
            q, ids, gold = examples[i]
            t = V[q] + U @ (W @ V[q])
            sims = V[ids] @ (t / t.norm()) / tau
            loss = torch.logsumexp(sims, 0) - torch.logsumexp(sims[gold], 0) + lam * ((U @ W) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return (U @ W).detach().numpy()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", required=True)
    p.add_argument("--dataset", default=str(DEV))
    args = p.parse_args(argv)
    from rag.archive import Archive

    archive = Archive.open(args.index)
    rows, vecs = gather(archive, Path(args.dataset))
    cache = SentenceVectors(size=len({h["chunk"].id for r in rows for h in r["hits"]}))
    emb = archive.embedder
    questions: dict[int, list[dict]] = {}
    for r in rows:
        if r["cmp"] is not None:
            questions.setdefault(r["cmp"], []).append(r)
    n = len(two_outlet_questions(args.dataset))
    order = list(range(n))
    random.Random(FOLD_SEED).shuffle(order)
    fold_of = {qi: i % FOLDS for i, qi in enumerate(order)}
    identity = lambda r: vecs[r["claim"]]  # noqa: E731
    print(f"{len(rows)} (dev query, named outlet) rows; {n} two-outlet comparison questions")
    print(f"  search order: {passed(questions, range(n), identity, emb, cache, 0.0)}/{n}")
    print(f"  shipped rule (no map): {passed(questions, range(n), identity, emb, cache, SENTENCE_WEIGHT)}/{n}")

    def gold_of(r: dict) -> set[int]:
        return {s["t"] for h in r["hits"] for s in h["sents"] if s["gold"]}

    for cfg in CONFIGS:
        total = 0
        for f in range(FOLDS):
            test = [qi for qi in range(n) if fold_of[qi] == f]
            held = set().union(*(gold_of(r) for qi in test for r in questions.get(qi, [])))
            train_rows = [r for r in rows if not (r["cmp"] is not None and fold_of[r["cmp"]] == f) and not gold_of(r) & held]
            A = train(train_rows, vecs, **cfg)
            total += passed(questions, test, lambda r: _unit(vecs[r["claim"]] + A @ vecs[r["claim"]]), emb, cache,
                            SENTENCE_WEIGHT)
        A = train(rows, vecs, **cfg)
        ins = passed(questions, range(n), lambda r: _unit(vecs[r["claim"]] + A @ vecs[r["claim"]]), emb, cache,
                     SENTENCE_WEIGHT)
        print(f"  learned map {cfg}: {FOLDS}-fold CV {total}/{n}, in-sample {ins}/{n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
