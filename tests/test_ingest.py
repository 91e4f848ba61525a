"""Ingest into a real index folder (SQLite + chroma + BM25) with the bag-of-words embedder:
idempotence, edits, duplicates, bad input, interrupted runs, manifest checks."""
from __future__ import annotations

import json
import shutil

import pytest

from rag.archive import Archive
from rag.errors import IndexMismatch, IndexMissing
from rag.index.revisions import revision_chunk_ids
from tests.conftest import MINI, SEED


def _lines(path):
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]


def test_ingest_then_reingest_is_a_no_op(hash_settings, corpus_dir):
    a = Archive.create(settings=hash_settings)
    r1 = a.ingest([corpus_dir])
    assert (r1.new, r1.skipped, r1.errors) == (7, 0, ())
    counts = a.store.records.counts()
    assert counts["articles"] == 7 and counts["chunks"] == r1.chunks_added > 7
    assert a.store.vectors.count() == counts["chunks"]
    gen = a.store.records.generation()
    r2 = a.ingest([corpus_dir])
    assert (r2.new, r2.updated, r2.unchanged, r2.chunks_added, r2.chunks_removed) == (0, 0, 7, 0, 0)
    assert a.store.records.generation() == gen
    assert a.store.vectors.count() == counts["chunks"]
    manifest = json.loads((a.path / "manifest.json").read_text())
    assert manifest["counts"] == counts and manifest["embedder"] == "hash-bow-v2" and manifest["dim"] == 384


def test_edit_replaces_exactly_that_articles_chunks(hash_settings, corpus_dir):
    a = Archive.create(settings=hash_settings)
    a.ingest([corpus_dir])
    recs = _lines(corpus_dir / "mini.jsonl")
    before = set(a.store.records.chunk_ids())
    target = recs[2]
    from rag.ingest.ids import article_id

    tid = article_id(target["url"], target["title"], target["body"])
    old_ids = set(a.store.records.article_state(tid)[1])
    # change the last paragraph of one article
    target["body"] = target["body"].rstrip() + "\n\nA correction was appended to this story on Friday."
    (corpus_dir / "mini.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n", encoding="utf-8")
    r = a.ingest([corpus_dir])
    assert (r.new, r.updated, r.unchanged) == (0, 1, 6)
    after = set(a.store.records.chunk_ids())
    new_ids = set(a.store.records.article_state(tid)[1])
    assert before - after == old_ids - new_ids  # only that article's chunks went
    assert after - before == new_ids - old_ids
    assert 1 <= r.chunks_added <= 2, "unchanged passages keep their ids and are not re-embedded"
    kept = set(revision_chunk_ids(a.store.records))  # the earlier body, kept as a revision
    assert kept and a.store.vectors.ids() == after | kept, "no orphan vectors"
    top_id, _ = a.store.lexical.search("correction appended Friday", 1)[0]  # BM25 was rebuilt
    top = a.store.records.get_chunks([top_id])[top_id]
    assert top.article_id == tid and "correction" in top.text


def test_identical_body_under_another_url_is_stored_once(hash_settings, tmp_path):
    rec = _lines(MINI)[0]
    other = dict(rec, url="https://example.org/syndicated/copy", source="Example Wire")
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(rec) + "\n" + json.dumps(other) + "\n", encoding="utf-8")
    a = Archive.create(settings=hash_settings)
    r = a.ingest([path])
    assert (r.new, r.duplicates) == (1, 1)
    art = next(a.store.records.iter_articles())
    assert any("Example Wire" in x and "example.org" in x for x in art.also_in)


def test_bad_records_are_reported_and_the_rest_ingested(hash_settings, tmp_path):
    good = _lines(MINI)[:2]
    lines = [json.dumps(good[0]), '{"title": "broken", "body": ', json.dumps({"title": "empty", "body": "  "}), json.dumps(good[1])]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    a = Archive.create(settings=hash_settings)
    r = a.ingest([path])
    assert r.new == 2 and r.skipped == 2
    where = sorted(str(e) for e in r.errors)
    assert where[0].startswith(f"{path}:2") and where[1].startswith(f"{path}:3")


def test_interrupted_ingest_leaves_an_index_that_opens_and_completes(hash_settings, corpus_dir, monkeypatch):
    import rag.ingest.pipeline as ingest_mod

    monkeypatch.setattr(ingest_mod, "BATCH_CHUNKS", 10)  # commit often
    a = Archive.create(settings=hash_settings)
    real = a.embedder.embed_texts
    calls = {"n": 0}

    def dying(texts, progress=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(texts, progress)

    monkeypatch.setattr(a.embedder, "embed_texts", dying)
    with pytest.raises(KeyboardInterrupt):
        a.ingest([corpus_dir])
    partial = a.store.records.counts()["articles"]
    assert 0 < partial < 7
    monkeypatch.undo()
    b = Archive.open(settings=hash_settings)
    assert b.search("Alibaba")  # opens and answers from what was committed
    r = b.ingest([corpus_dir])
    assert r.unchanged == partial and r.new == 7 - partial
    ids = b.store.records.chunk_ids()
    assert len(ids) == len(set(ids)) and b.store.vectors.ids() == set(ids)


def test_open_checks_embedder_and_existence(hash_settings, corpus_dir, tmp_path):
    with pytest.raises(IndexMissing):
        Archive.open(settings=hash_settings)
    Archive.create(settings=hash_settings).ingest([SEED])
    with pytest.raises(IndexMismatch, match="hash-bow-v2"):
        Archive.open(settings=hash_settings.with_(embedder="minilm"))


def test_stale_bm25_is_rebuilt_on_open(hash_settings, corpus_dir):
    a = Archive.create(settings=hash_settings)
    a.ingest([corpus_dir])
    shutil.rmtree(a.path / "bm25")
    b = Archive.open(settings=hash_settings)
    assert b.search("Gemini")[0].chunk.title.startswith("Early impressions of Google")
    assert (a.path / "bm25" / "meta.json").is_file()
