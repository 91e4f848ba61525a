"""The approximate (IVF) dense search against brute force on a small clustered corpus: recall,
filters kept exactly, save/load, and a snapshot without the partition still answering."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from rag.index import ann
from rag.index.dense import DenseIndex
from rag.index.snapshot import Validity, filter_mask

N, DIM = 4000, 24


def _dt(x: float) -> datetime:
    return datetime.fromtimestamp(x, tz=timezone.utc)


def _dense(n: int = N, seed: int = 3, valid=None) -> DenseIndex:
    """Clustered unit vectors (as embeddings are), 20 outlets, 3% undated, publication order."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((60, DIM))
    vecs = (centers[rng.integers(0, 60, n)] + 0.6 * rng.standard_normal((n, DIM))).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ts = rng.uniform(1.6e9, 1.7e9, n)
    ts[rng.random(n) < 0.03] = np.nan
    ids = [f"c{i:05d}" for i in range(n)]
    outlets = [f"o{rng.integers(20)}" for _ in range(n)]
    pub = [None if np.isnan(t) else _dt(t).isoformat() for t in ts]
    vmap = dict(zip(ids, vecs))
    rows = [(c, "", "", o, p) for c, o, p in zip(ids, outlets, pub)]
    return DenseIndex.build(iter(rows), lambda b: {c: vmap[c] for c in b}, DIM, 1, valid=valid)


def _exact(d: DenseIndex, q, k, since=None, until=None, outlets=None, as_of=None):
    saved, d.ann = d.ann, None
    try:
        return d.query(q, k, since, until, outlets, as_of)
    finally:
        d.ann = saved


def _passing(d: DenseIndex, since, until, outlets, as_of=None) -> set[str]:
    m = filter_mask(d.ts, d.outlets, since, until, outlets)
    live = d.validity.mask(as_of)
    m = np.ones(len(d.ids), bool) if m is None else m
    if live is not None:
        m &= live
    return {d.ids[i] for i in np.flatnonzero(m)}


def _cases(rng):
    yield None, None, None  # all rows
    yield _dt(1.65e9), None, None  # half, a slice
    yield _dt(1.62e9), _dt(1.69e9), None  # 70%, a slice
    yield None, None, [f"o{i}" for i in range(8)]  # 40% of outlets: a mask
    yield None, None, ["o3"]  # 5%: below MIN_SHARE, exact scan
    yield None, None, ["o1", "o2", "o4", "o5"]  # 20% of outlets: below MIN_OUTLET_SHARE, exact scan
    for _ in range(30):
        since = _dt(rng.uniform(1.58e9, 1.66e9)) if rng.random() < 0.6 else None
        until = _dt(rng.uniform(1.64e9, 1.72e9)) if rng.random() < 0.6 else None
        ol = [f"o{x}" for x in rng.integers(0, 22, rng.integers(1, 12))] if rng.random() < 0.4 else None
        yield since, until, ol


@pytest.fixture()
def dense() -> DenseIndex:
    d = _dense()
    d.ann = ann.IVF.build(d.vectors, nlist=64, nprobe=8)
    return d


def test_recall_against_brute_force_and_filters_exact(dense):
    rng = np.random.default_rng(11)
    recalls, approx = [], 0
    for since, until, ol in _cases(rng):
        for _ in range(3):
            q = dense.vectors[rng.integers(N)] + 0.3 * rng.standard_normal(DIM).astype(np.float32)
            k = int(rng.integers(5, 61))
            got = dense.query(q, k, since, until, ol)
            ref = _exact(dense, q, k, since, until, ol)
            assert {c for c, _ in got} <= _passing(dense, since, until, ol)  # never outside the filters
            assert len(got) == len(ref)
            assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
            if ref:
                recalls.append(len({c for c, _ in got} & {c for c, _ in ref}) / len(ref))
            approx += dense._ann_rows(q, k, since, until, ol, None) is not None
    assert approx > 60  # the ANN path really ran for most queries
    assert np.mean(recalls) >= 0.9


def test_ann_scores_fewer_rows_than_brute_force(dense):
    q = dense.vectors[5]
    found = dense._ann_rows(q, 10, None, None, None, None)
    assert found is not None and len(found[0]) < N / 3
    assert np.allclose(found[1], dense.vectors[found[0]] @ q, atol=1e-5)  # true cosines
    assert dense.query(q, 1)[0][0] == dense.ids[5]


def test_narrow_filter_is_exact(dense):
    rng = np.random.default_rng(2)
    quarter = [f"o{i}" for i in range(5)]  # ~25% of the rows: an outlet filter under MIN_OUTLET_SHARE
    half = [f"o{i}" for i in range(10)]
    for _ in range(10):
        q = rng.standard_normal(DIM).astype(np.float32)
        assert dense._ann_rows(q, 20, None, None, ["o7"], None) is None
        assert dense.query(q, 20, outlets=["o7"]) == _exact(dense, q, 20, outlets=["o7"])
        assert dense._ann_rows(q, 20, None, None, quarter, None) is None
        assert dense.query(q, 20, outlets=quarter) == _exact(dense, q, 20, outlets=quarter)
        assert dense._ann_rows(q, 20, None, None, half, None) is not None  # half the rows: the partition


def test_superseded_rows_and_as_of_respected():
    base = _dense()
    valid = {c: ((1.0, 1.66e9) if i % 3 == 0 else (1.0, np.inf)) for i, c in enumerate(base.ids)}
    d = _dense(valid=valid)
    d.ann = ann.IVF.build(d.vectors, nlist=64, nprobe=8)
    assert d.validity.live is not None
    rng = np.random.default_rng(5)
    for as_of in (None, _dt(1.65e9), _dt(1.7e9)):
        for _ in range(10):
            q = rng.standard_normal(DIM).astype(np.float32)
            got = d.query(q, 30, None, None, None, as_of)
            assert got and {c for c, _ in got} <= _passing(d, None, None, None, as_of)


def test_save_load_round_trip_and_without_partition(tmp_path, monkeypatch):
    monkeypatch.setattr(ann, "MIN_ROWS", 1000)
    d = _dense()
    d.save(tmp_path / "dense")  # builds the partition: N >= MIN_ROWS
    assert d.ann is not None
    loaded = DenseIndex.load(tmp_path / "dense")
    assert loaded.ann is not None and loaded.ann.nlist == d.ann.nlist
    assert np.array_equal(np.asarray(loaded.ann.rows), d.ann.rows)
    rng = np.random.default_rng(9)
    qs = [rng.standard_normal(DIM).astype(np.float32) for _ in range(10)]
    for q in qs:
        assert loaded.query(q, 25, _dt(1.64e9)) == d.query(q, 25, _dt(1.64e9))
    stale = np.load(tmp_path / "dense" / ann.FILES[3])
    np.save(tmp_path / "dense" / ann.FILES[3], stale[::-1])  # not these rows' vectors: ignored
    assert DenseIndex.load(tmp_path / "dense").ann is None
    for f in ann.FILES:
        (tmp_path / "dense" / f).unlink()
    plain = DenseIndex.load(tmp_path / "dense")
    assert plain is not None and plain.ann is None
    for q in qs:
        assert plain.query(q, 25, _dt(1.64e9)) == _exact(d, q, 25, _dt(1.64e9))


def test_small_index_saves_no_partition(tmp_path):
    d = _dense(n=500)
    d.save(tmp_path / "dense")
    assert d.ann is None and not (tmp_path / "dense" / ann.FILES[0]).exists()
    assert DenseIndex.load(tmp_path / "dense").ann is None


def test_partition_covers_every_row_once(dense):
    rows = np.asarray(dense.ann.rows)
    assert np.array_equal(np.sort(rows), np.arange(N))
    for j in range(dense.ann.nlist):
        part = rows[dense.ann.offsets[j] : dense.ann.offsets[j + 1]]
        assert np.all(np.diff(part) > 0)  # ascending: a date range is cut by binary search
    assert np.array_equal(np.asarray(dense.ann.vectors), dense.vectors[rows])  # list-ordered copy
    assert isinstance(dense.validity, Validity)


def test_ingest_saves_the_partition_with_the_snapshot_and_search_uses_it(hash_settings, corpus_dir, monkeypatch):
    from rag.archive import Archive

    monkeypatch.setattr(ann, "MIN_ROWS", 10)  # the small corpus takes the ANN path
    a = Archive.create(settings=hash_settings)
    a.ingest([corpus_dir])
    folder = a.store.path / "dense"
    assert all((folder / f).exists() for f in ann.FILES)
    loaded = DenseIndex.load(folder)
    assert loaded.ann is not None and loaded.generation == a.store.records.generation()
    assert loaded.ann.nlist <= loaded.ann.nprobe  # a small corpus: every list probed, so exact
    q = a.embedder.embed_query("Alibaba memo")
    assert loaded.query(q, 5) == _exact(loaded, q, 5)
    assert loaded._ann_rows(np.asarray(q, np.float32), 5, None, None, None, None) is not None
    assert a.search("Alibaba memo")  # the retriever over a snapshot with the partition
