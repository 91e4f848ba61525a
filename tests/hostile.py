"""The hostile corpus generator lives in :mod:`evals.hostile` (the benchmark times it too);
this name is kept for the tests."""
from evals.hostile import BIG, Case, make_hostile_corpus

__all__ = ["BIG", "Case", "make_hostile_corpus"]
