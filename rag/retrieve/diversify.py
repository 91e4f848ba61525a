"""Diversification of a ranked list across articles: a per-article cap and an MMR-style
penalty per chunk already taken from the same article.

On the MultiHop-RAG dev split both lowered every figure once the learned rerank ordered the
candidates (the evidence for several parts of a question often sits in several chunks of one
article; README, ablation table), so the default settings leave it off
(``diversify_cap = 0``, ``diversify_penalty = 0``). It stays available for archives where one
long article would otherwise fill the page.
"""
from __future__ import annotations

from typing import Hashable, Sequence


def diversify(
    scores: Sequence[float],
    groups: Sequence[Hashable],
    k: int,
    cap: int = 0,
    penalty: float = 0.0,
) -> list[int]:
    """Indices of ``scores`` in a diversified order: the first ``k`` picked greedily by
    ``score - penalty * (items already picked from the same group)``, never more than ``cap``
    per group when ``cap > 0``; then every remaining index by score. With ``cap == 0`` and
    ``penalty == 0`` this is the plain order by score (ties keep input order)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    if (cap <= 0 and penalty <= 0) or k <= 0:
        return order
    taken: dict[Hashable, int] = {}
    picked: list[int] = []
    rest = list(order)
    while rest and len(picked) < k:
        best_j, best = -1, None
        for j, i in enumerate(rest):
            n = taken.get(groups[i], 0)
            if cap > 0 and n >= cap:
                continue
            val = scores[i] - penalty * n
            if best is None or val > best:
                best_j, best = j, val
            if penalty <= 0:
                break  # without a penalty the first eligible one is the best
        if best_j < 0:
            break  # every remaining item belongs to a full group
        i = rest.pop(best_j)
        picked.append(i)
        taken[groups[i]] = taken.get(groups[i], 0) + 1
    return picked + [i for i in order if i not in set(picked)]
