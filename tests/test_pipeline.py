"""What `rag ingest` reports (rag.types.IngestReport from rag.ingest.pipeline): articles new,
updated and revised, and the chunks embedded, how fast and by which embedder."""
from __future__ import annotations

from rag.archive import Archive
from rag.index.embedding import HASH_NAME
from rag.types import IngestReport
from tests.test_revisions import OTHER, V1, V2, _write


def test_summary_and_json_say_chunks_per_second_and_the_embedder():
    r = IngestReport(new=3, updated=2, revised=1, chunks_added=525, chunks_embedded=525, seconds=21.8,
                     embedder="sentence-transformers/all-MiniLM-L6-v2")
    assert r.summary() == (
        "articles: 3 new, 2 updated (1 revised), 0 unchanged, 0 duplicate, 0 skipped; chunks: +525 -0; "
        "525 chunks embedded at 24.1 chunks/s by sentence-transformers/all-MiniLM-L6-v2; 21.8s")
    d = r.to_dict()
    assert (d["embedder"], d["chunks_embedded"], d["chunks_per_second"], d["revised"]) == (
        "sentence-transformers/all-MiniLM-L6-v2", 525, 24.1, 1)  # 525 / 21.8 = 24.08
    assert IngestReport().chunks_per_second == 0.0 and IngestReport().to_dict()["chunks_per_second"] == 0.0


def test_an_ingest_counts_revised_articles_and_embedded_chunks(hash_settings, tmp_path):
    a = Archive.create(settings=hash_settings)
    stats: dict = {}
    first = a.ingest(_write(tmp_path / "v1.jsonl", V1, OTHER))
    assert (first.new, first.revised, first.embedder) == (2, 0, HASH_NAME)
    assert first.chunks_embedded == first.chunks_added == a.store.records.counts()["chunks"] > 0
    assert f"{first.chunks_embedded} chunks embedded at " in first.summary() and f"by {HASH_NAME}" in first.summary()

    retitled = a.ingest(_write(tmp_path / "t.jsonl", dict(V1, title="Acme picks Jane Porter")))
    assert (retitled.updated, retitled.revised, retitled.chunks_embedded) == (1, 0, 0)  # same body: no revision

    from rag.ingest.pipeline import ingest_paths

    revised = ingest_paths(a.store, a.embedder, [_write(tmp_path / "v2.jsonl", V2)], progress=False, stats=stats)
    assert (revised.updated, revised.revised) == (1, 1) and "1 updated (1 revised)" in revised.summary()
    # the kept revision's chunks take their old vectors: only the new body's new chunks are embedded
    assert revised.chunks_embedded == stats["embedded"] == revised.chunks_added >= 1 and stats["reused"] >= 1
    assert revised.to_dict()["chunks_per_second"] == round(revised.chunks_embedded / revised.seconds, 1)
