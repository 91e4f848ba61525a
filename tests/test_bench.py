"""`rag bench` / `python -m evals.bench`: a tiny smoke run of the whole harness on the test
corpus with the bag-of-words embedder (every section: ingest against the bare embedder and a
plain llama-index pipeline, re-ingest, replicated scale index built in a child process, query
latency against llama-index's retriever and query engine, cold `rag ask`, the dense store
alone), then its table and JSON; and the hostile-inputs timing."""
from __future__ import annotations

import json
import shutil

import pytest

from evals.bench import ReplicaEmbedder, build_replicas, main, render_table
from evals.bench.queries import bench_ann, tie_recall
from evals.bench.report import _ann_rows as _ann_table_rows
from rag.index.embedding import HashEmbedder
from rag.ingest.loaders import iter_articles

from tests.conftest import MINI, SEED

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_bench_smoke_run(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(MINI, corpus / MINI.name)
    shutil.copy(SEED, corpus / SEED.name)
    out = tmp_path / "bench"
    code = main(["--corpus", str(corpus), "--embedder", "hash", "--articles", "7", "--scale", "300", "--queries", "3",
                 "--million", "5000", "--cold-runs", "1", "--ray-articles", "0", "--no-hostile", "--out", str(out), "--quiet"])
    assert code == 0
    table = capsys.readouterr().out
    res = json.loads((out / "bench.json").read_text())
    assert (out / "bench.md").read_text().strip() == table.strip() == render_table(res).strip()
    ing = res["ingest"]
    assert ing["articles"] == 7 and ing["chunks"] > 7 and ing["llama_chunks"] > 0
    assert ing["ratio_vs_limit"] > 0 and ing["ratio_vs_llama"] > 0
    assert res["reingest"]["edited_articles"] >= 1 and res["reingest"]["unchanged_seconds"] < res["ingest"]["seconds"]["newsrag"]
    sc = res["scale"]
    assert sc["counts"]["chunks"] >= 300 and sc["replica_misses"] <= 0.1 * sc["counts"]["chunks"]
    assert sc["unchanged"]["report"]["unchanged"] == sc["articles"]
    assert sc["edited"]["report"]["updated"] >= 1 and sc["peak_rss_mb"] > 0
    q = res["queries"]
    for name in ("none", "date", "outlet"):
        assert q[f"search_{name}"]["n"] == 3 and q[f"llama_retrieve_{name}"]["p50_ms"] > 0
    assert res["cold"]["median_s"] > 0 and res["million"]["query_date"]["p50_ms"] > 0
    assert sc["index_mb"] > 0 and sc["parts_mb"]["dense"] > 0
    assert res["ann"] == {"ann": False}  # 300 chunks: below ann.MIN_ROWS, brute force only
    assert "index size on disk" in table and "<= 50 ms; not slower" in table
    for label in ("ingest,", "re-ingest unchanged", "search p50", "ask (extractive)", "cold `rag ask`", "dense store"):
        assert label in table


def test_replicas_are_distinct_and_reuse_their_originals_vectors():
    arts = [a for a in iter_articles([MINI]) if hasattr(a, "body")]
    reps, total = build_replicas(arts, 200, 200, 40)
    assert len({a.id for a in reps}) == len(reps) > len(arts) and total >= 200
    from rag.ingest.chunking import chunk_article
    from evals.bench import text_key

    base = HashEmbedder()
    lookup = {}
    for a in arts:
        for c in chunk_article(a, 200, 40):
            lookup[text_key(c.indexed_text)] = base.embed_texts([c.indexed_text])[0]
    emb = ReplicaEmbedder(dict(lookup), base)
    texts = [c.indexed_text for a in reps for c in chunk_article(a, 200, 40)]
    emb.embed_texts(texts)
    assert emb.hits > 0.9 * len(texts)


def test_replica_urls_stay_distinct_with_fragments_and_queries():
    from evals.bench import with_param
    from rag.ingest.ids import article_id

    for url in ("https://x.com/a#utm_source=RSS", "https://x.com/a?b=1", "https://x.com/a"):
        ids = {article_id(with_param(url, "replica", str(r)), "t", "b") for r in range(3)} | {article_id(url, "t", "b")}
        assert len(ids) == 4


def test_hostile_inputs_are_timed_and_every_valid_record_is_kept(tmp_path):
    """The bench's hostile step: both 50 MB lines refused, every valid record loaded and
    ingested, every bad one reported, the corpus removed afterwards, and three table rows."""
    from evals.bench.hostile import bench_hostile

    logged = []
    h = bench_hostile(tmp_path, logged.append)
    assert h["files"] >= 200 and len(h["huge_line_seconds"]) == 2 and h["huge_line_refused"]
    assert (h["loaded_articles"], h["loaded_errors"]) == (h["valid"], h["errors"])
    assert (h["ingested_articles"], h["ingest_skipped"]) == (h["valid"], h["errors"])
    assert h["load_s"] > 0 and h["ingest_s"] > 0 and not (tmp_path / "hostile").exists() and logged
    res = {"machine": {"cpu": "c", "nproc": 2, "mem_gb": 1, "load_at_start": 0}, "embedder": "hash", "corpus": "x",
           "ingest": {"articles": 1, "chunks": 1, "articles_per_s": {"newsrag": 1, "limit": 1}, "chunks_per_s": {"newsrag": 1, "limit": 1},
                      "best_batch_size": 0, "ratio_vs_limit": 1, "seconds": {"newsrag": 1}},
           "reingest": {"unchanged_seconds": 0, "unchanged_ratio": 0, "edited_articles": 1, "edited_chunks_embedded": 1,
                        "edited_chunks_reused": 0, "edited_seconds": 0, "edited_ratio": 0},
           "hostile": h}
    rows = [ln for ln in render_table(res).splitlines() if ln.startswith("| hostile inputs")]
    assert len(rows) == 3 and "refused clearly: yes" in rows[0] and rows[0].endswith("<= 20 s |")
    assert f"{h['valid']} of {h['valid']} articles" in rows[1] and f"{h['valid']} stored" in rows[2]


def test_tie_recall_counts_by_score():
    exact = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    assert tie_recall(exact, exact) == 1.0
    assert tie_recall([("x", 0.9), ("y", 0.8), ("z", 0.7)], exact) == 1.0  # equal scores: tied copies
    assert tie_recall([("a", 0.9), ("d", 0.5)], exact) == pytest.approx(1 / 3)
    assert tie_recall([], exact) == 0.0 and tie_recall([], []) == 1.0


def test_bench_ann_measures_recall_and_both_paths(tmp_path, monkeypatch):
    from datetime import timezone

    import numpy as np

    from rag.index import ann
    from rag.index.dense import DenseIndex

    monkeypatch.setattr(ann, "MIN_ROWS", 1000)
    articles = [a for a in iter_articles([MINI]) if hasattr(a, "body")]
    emb = HashEmbedder()
    rng = np.random.default_rng(0)
    n = 3000
    base = np.stack([emb.embed_query(a.title + " " + a.body[:500]) for a in articles])
    src = rng.integers(0, len(articles), n)
    vecs = (base[src] + 0.05 * rng.standard_normal((n, base.shape[1]))).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    pub = [articles[i].published_at.astimezone(timezone.utc).isoformat() if articles[i].published_at else None for i in src]
    rows = [(f"c{i}", "", "", articles[j].outlet, p) for i, (j, p) in enumerate(zip(src, pub))]
    vmap = dict(zip((r[0] for r in rows), vecs))
    DenseIndex.build(iter(rows), lambda b: {c: vmap[c] for c in b}, base.shape[1], 1).save(tmp_path / "dense")
    res = bench_ann(tmp_path, "hash", [a.title for a in articles], articles, lambda m: None)
    assert res["ann"] and res["rows"] == n and res["nlist"] > 1
    assert 0.5 <= res["none"]["recall"] <= 1.0 and res["none"]["ann"]["n"] == len(articles)
    assert res["none"]["brute"]["p50_ms"] > 0 and "date" in res
    table = "\n".join(_ann_table_rows({"ann": res}))
    assert "dense ANN (3000 rows" in table and "recall >= 0.95" in table
