"""The dense snapshot: rows in publication order, so that a date filter is a slice and an outlet
filter a gather of that outlet's rows; results equal a brute-force scan under the filter mask,
for snapshots in that order and for ones saved before it (any row order)."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from rag.index.dense import DenseIndex
from rag.index.snapshot import filter_mask


def _corpus(n: int = 3000, seed: int = 1):
    rng = np.random.default_rng(seed)
    ids = [f"c{i:05d}" for i in range(n)]
    ts = rng.uniform(1.6e9, 1.7e9, n)
    ts[rng.random(n) < 0.05] = np.nan  # undated
    ts[:40] = 1.65e9  # ties
    outlets = [None if rng.random() < 0.05 else f"o{rng.integers(20)}" for _ in range(n)]
    vecs = rng.standard_normal((n, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    pub = [None if np.isnan(t) else datetime.fromtimestamp(t, tz=timezone.utc).isoformat() for t in ts]
    return ids, ts, outlets, vecs, pub


def _dt(x: float) -> datetime:
    return datetime.fromtimestamp(x, tz=timezone.utc)


@pytest.mark.parametrize("order", ["built", "legacy", "saved"])
def test_filtered_top_k_equals_brute_force(order, tmp_path):
    ids, ts, outlets, vecs, pub = _corpus()
    vmap = dict(zip(ids, vecs))
    if order == "legacy":  # rows in id order, as snapshots were saved before
        d = DenseIndex(ids, vecs, outlets, np.array([np.nan if p is None else datetime.fromisoformat(p).timestamp() for p in pub]), 1)
        assert not d._time_ordered
    else:
        rows = [(c, "", "", o, p) for c, o, p in zip(ids, outlets, pub)]
        d = DenseIndex.build(iter(rows), lambda b: {c: vmap[c] for c in b}, 16, 1)
        assert d._time_ordered and len(d.ids) == len(ids)
        if order == "saved":
            d.save(tmp_path / "dense")
            d = DenseIndex.load(tmp_path / "dense")
            assert d._time_ordered
    ref_ts = np.array([np.nan if p is None else datetime.fromisoformat(p).timestamp() for p in pub])
    ref_out = np.array([o or "" for o in outlets], dtype=object)
    rng = np.random.default_rng(7)
    cases = [(None, None, None), (_dt(1.65e9), None, None), (None, _dt(1.65e9), None), (_dt(1.65e9), _dt(1.65e9), None),
             (_dt(1.7e9 + 1), None, None), (None, None, ["o3"]), (None, None, ["nope"]), (_dt(1.62e9), _dt(1.68e9), ["o1", "o2", "o1"])]
    for _ in range(60):
        since = _dt(rng.uniform(1.55e9, 1.7e9)) if rng.random() < 0.5 else None
        until = _dt(rng.uniform(1.6e9, 1.75e9)) if rng.random() < 0.5 else None
        ol = [f"o{x}" for x in rng.integers(0, 22, rng.integers(0, 4))] or None
        cases.append((since, until, ol))
    for since, until, ol in cases:
        q = rng.standard_normal(16).astype(np.float32)
        k = int(rng.integers(1, 90))
        got = d.query(q, k, since, until, ol)
        m = filter_mask(ref_ts, ref_out, since, until, ol)
        sims = vecs @ q
        keep = np.arange(len(ids)) if m is None else np.flatnonzero(m)
        want = sorted(((ids[i], float(sims[i])) for i in keep), key=lambda x: -x[1])[:k]
        assert [c for c, _ in got] == [c for c, _ in want], (since, until, ol)
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
    assert all(np.allclose(d.get_vectors([c])[c], vmap[c]) for c in ids[::97])


def test_empty_and_k_zero():
    d = DenseIndex.build(iter(()), lambda ids: {}, 8, 0)
    assert d.query(np.ones(8, np.float32), 5) == []
    ids, ts, outlets, vecs, pub = _corpus(50)
    d = DenseIndex(ids, vecs, outlets, ts, 1)
    assert d.query(vecs[0], 0) == []


def test_cached_outlet_masks_equal_the_plain_mask():
    from rag.index.snapshot import OutletMasks, cached_filter_mask

    ids, ts, outlets, vecs, pub = _corpus(500)
    arr = np.array([o or "" for o in outlets], dtype=object)
    masks = OutletMasks(arr)
    for since, until, ol in [(None, None, ["o1"]), (None, None, ["o1", "o2", "zz"]), (None, None, [""]), (_dt(1.65e9), None, ["o3"]),
                             (_dt(1.62e9), _dt(1.66e9), None), (None, None, None), (None, None, ["zz"])]:
        want = filter_mask(ts, arr, since, until, ol)
        got = cached_filter_mask(ts, masks, since, until, ol)
        assert (want is None and got is None) or np.array_equal(want, got)
    assert not masks.mask(["o1"]).flags.writeable


@pytest.mark.parametrize("factor", [0, 6, 10**9])
def test_masked_rows_scanned_by_span_or_gathered_give_the_same_top_k(factor, monkeypatch):
    """With superseded revisions every filter is a row mask; whether its rows are gathered
    (factor 0), scanned by span when they fill it (the default) or always scanned, the top k
    equals brute force over the current rows that pass the filters."""
    import rag.index.dense as dense_mod
    from rag.index.snapshot import Validity

    monkeypatch.setattr(dense_mod, "SCAN_OVER_GATHER", factor)
    ids, ts, outlets, vecs, pub = _corpus(2000, seed=3)
    ts_sorted = np.sort(np.nan_to_num(ts, nan=1.6e9))  # rows in publication order
    vto = np.where(np.random.default_rng(5).random(len(ids)) < 0.2, ts_sorted + 10, np.inf)  # 20% superseded
    d = DenseIndex(ids, vecs, outlets, ts_sorted, 1, Validity(ts_sorted, ts_sorted, vto))
    live = np.isinf(vto)
    rng = np.random.default_rng(11)
    for since, until, ol in [(_dt(1.62e9), _dt(1.66e9), None), (_dt(1.65e9), None, None), (None, None, ["o2", "o5"]),
                             (None, None, None), (_dt(1.61e9), _dt(1.69e9), ["o1"])]:
        q = rng.standard_normal(16).astype(np.float32)
        m = live & (filter_mask(ts_sorted, np.array([o or "" for o in outlets], dtype=object), since, until, ol)
                    if (since or until or ol) else True)
        sims = vecs @ q
        want = sorted(((ids[i], float(sims[i])) for i in np.flatnonzero(m)), key=lambda x: -x[1])[:25]
        got = d.query(q, 25, since, until, ol)
        assert [c for c, _ in got] == [c for c, _ in want], (factor, since, until, ol)
