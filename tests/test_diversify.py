"""Diversification across articles: per-article cap and MMR-style penalty."""
from __future__ import annotations

from rag.retrieve.diversify import diversify

# five chunks of article "a" score highest, then "b", "c"
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4]
GROUPS = ["a", "a", "a", "a", "b", "a", "c"]


def test_off_is_plain_order_by_score():
    assert diversify(SCORES, GROUPS, k=5) == [0, 1, 2, 3, 4, 5, 6]
    assert diversify([0.2, 0.9, 0.5], ["x", "y", "z"], k=2) == [1, 2, 0]


def test_cap_limits_chunks_per_article_in_top_k_then_the_rest_follows():
    out = diversify(SCORES, GROUPS, k=4, cap=2)
    assert out[:4] == [0, 1, 4, 6]  # two of "a", then "b" and "c" move up
    assert sorted(out) == list(range(len(SCORES)))  # nothing lost: the rest comes after
    assert out[4:] == [2, 3, 5]


def test_penalty_trades_score_for_other_articles():
    assert diversify(SCORES, GROUPS, k=3, penalty=0.25)[:3] == [0, 1, 4]  # 0.7-0.5 < 0.5 for "b"
    assert diversify(SCORES, GROUPS, k=3, penalty=0.05)[:3] == [0, 1, 2]  # a small one changes nothing


def test_cap_when_every_group_is_full_stops_early():
    out = diversify([0.9, 0.8, 0.7], ["a", "a", "a"], k=3, cap=1)
    assert out == [0, 1, 2]  # one picked under the cap, the others appended by score
