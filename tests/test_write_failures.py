"""A write that fails mid-ingest, above all a full disk, as a user meets it: one line naming
what failed, where, how far the ingest got and what to do; both ingest threads stopped; what
was committed still answers; and after "freeing space" a re-run completes. No disk is filled:
the real chroma adapter and the real SQLite records are subclassed to fail after N writes."""
from __future__ import annotations

import errno
import re
import sqlite3
import threading

import pytest

import rag.index.store as store_mod
import rag.index.vectors as vectors_mod
import rag.ingest.pipeline as pipeline_mod
from rag.archive import Archive
from rag.cli import main
from rag.errors import StorageFull, WriteFailed
from rag.index.records import Records
from rag.index.vectors import ChromaVectors
from rag.ingest.loaders import iter_articles
from rag.ingest.write_errors import storage_full, write_failure
from rag.types import Article

ARTICLES = 7  # the corpus_dir fixture: the seed article and six in mini.jsonl
UPTO = re.compile(r"articles up to #(\d+) \((.+?)\) were committed, nothing after")


def _fails_on(n: int, exc: Exception, half: bool = False) -> type[ChromaVectors]:
    """The chroma adapter whose ``n``-th upsert writes half its chunks (when ``half``) and
    then raises ``exc``, as chroma does when the disk fills under it."""
    calls = {"n": 0}

    class FillsUp(ChromaVectors):
        def upsert(self, chunks, vectors):
            calls["n"] += 1
            if calls["n"] < n:
                return super().upsert(chunks, vectors)
            if half:
                super().upsert(chunks[: len(chunks) // 2], vectors[: len(chunks) // 2])
            raise exc

    return FillsUp


def _ingest_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ingest-")]


def _in_order(corpus_dir) -> list[Article]:
    return [a for a in iter_articles([corpus_dir]) if isinstance(a, Article)]


def test_full_disk_in_chroma_stops_cleanly_and_a_rerun_completes(hash_settings, corpus_dir, monkeypatch):
    monkeypatch.setattr(pipeline_mod, "BATCH_CHUNKS", 10)  # several batches: some commit first
    full = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(vectors_mod, "ChromaVectors", _fails_on(3, full, half=True))
    a = Archive.create(settings=hash_settings)
    with pytest.raises(StorageFull) as caught:
        a.ingest([corpus_dir])
    msg = str(caught.value)
    assert "\n" not in msg
    assert msg.startswith(f"no space left on device while writing {a.path / 'chroma'}; articles up to #")
    assert msg.endswith("free space and re-run `rag ingest`")
    n, file = int(UPTO.search(msg).group(1)), UPTO.search(msg).group(2)
    arts = _in_order(corpus_dir)
    assert 0 < n < ARTICLES and file == arts[n - 1].source_file
    committed = {x.id for x in a.store.records.iter_articles()}
    assert committed == {x.id for x in arts[:n]}, "exactly the articles the message says were committed"
    assert _ingest_threads() == [], "both ingest threads were joined"

    monkeypatch.undo()  # space freed
    b = Archive.open(settings=hash_settings)
    hits = b.search("Alibaba")
    assert hits and {h.chunk.article_id for h in hits} <= committed  # earlier articles still answer
    r = b.ingest([corpus_dir])
    assert (r.unchanged, r.new) == (n, ARTICLES - n)
    assert b.store.records.counts()["articles"] == ARTICLES
    assert b.store.vectors.ids() == set(b.store.records.chunk_ids()), "the half-written batch left no orphan"


def test_full_database_on_commit_names_the_records_file(hash_settings, corpus_dir, monkeypatch):
    calls = {"n": 0}

    class FullRecords(Records):
        def commit_articles(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise sqlite3.OperationalError("database or disk is full")
            return super().commit_articles(*args, **kwargs)

    monkeypatch.setattr(pipeline_mod, "BATCH_CHUNKS", 10)
    monkeypatch.setattr(store_mod, "Records", FullRecords)
    a = Archive.create(settings=hash_settings)
    with pytest.raises(StorageFull) as caught:
        a.ingest([corpus_dir])
    msg = str(caught.value)
    assert msg.startswith(f"no space left on device while writing {a.path / 'records.sqlite3'}; articles up to #")
    counts = a.store.records.counts()["articles"]
    assert 0 < counts < ARTICLES and int(UPTO.search(msg).group(1)) == counts
    assert _ingest_threads() == []
    monkeypatch.undo()
    r = Archive.open(settings=hash_settings).ingest([corpus_dir])
    assert r.unchanged == counts and r.new == ARTICLES - counts


def test_another_write_error_is_one_line_naming_the_file(hash_settings, corpus_dir, monkeypatch):
    denied = PermissionError(errno.EACCES, "Permission denied", "/somewhere/chroma/data_level0.bin")
    monkeypatch.setattr(vectors_mod, "ChromaVectors", _fails_on(1, denied))
    a = Archive.create(settings=hash_settings)
    with pytest.raises(WriteFailed) as caught:
        a.ingest([corpus_dir])
    assert not isinstance(caught.value, StorageFull)
    assert str(caught.value) == (
        "cannot write /somewhere/chroma/data_level0.bin: Permission denied; nothing was committed in this run; "
        "fix that and re-run `rag ingest`")
    assert a.store.records.counts()["articles"] == 0 and _ingest_threads() == []


def test_rag_ingest_on_a_full_disk_prints_one_line(tmp_path, corpus_dir, monkeypatch, capsys):
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    monkeypatch.setattr(vectors_mod, "ChromaVectors", _fails_on(1, OSError(errno.ENOSPC, "No space left on device")))
    idx = tmp_path / "idx"
    code = main(["ingest", str(corpus_dir), "--index", str(idx), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1
    assert err[0] == (f"rag ingest: error: no space left on device while writing {idx / 'chroma'}; "
                      "nothing was committed in this run; free space and re-run `rag ingest`")


def test_the_vectors_location_is_the_embedded_chroma_folder(hash_settings, corpus_dir):
    a = Archive.create(settings=hash_settings)
    a.ingest([corpus_dir])
    assert a.store.vectors_location == str(a.path / "chroma")
    assert (a.path / "chroma").is_dir() and any((a.path / "chroma").iterdir()), "chroma wrote there"


def test_a_full_chroma_server_is_named_by_its_url(hash_settings, corpus_dir, tmp_path, monkeypatch):
    """With a chroma server the vectors are not under the index folder: the message names the server."""
    url = "http://127.0.0.1:8765"
    full = _fails_on(1, OSError(errno.ENOSPC, "No space left on device"))

    class FullServer(full):  # the server's disk, played by an embedded store outside the index
        def __init__(self, collection, path=None, url=None):
            assert url is not None and path is None, "a server store is opened by URL"
            super().__init__(collection, path=tmp_path / "server")

    monkeypatch.setattr(vectors_mod, "ChromaVectors", FullServer)
    a = Archive.create(settings=hash_settings.with_(chroma_url=url))
    assert a.store.vectors_location == url
    with pytest.raises(StorageFull) as caught:
        a.ingest([corpus_dir])
    assert str(caught.value) == (f"no space left on device while writing {url}; nothing was committed in this run; "
                                 "free space and re-run `rag ingest`")
    assert not (a.path / "chroma").exists()


def test_what_counts_as_a_full_disk():
    from chromadb.errors import InternalError

    assert storage_full(OSError(errno.ENOSPC, "No space left on device"))
    assert storage_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert storage_full(sqlite3.OperationalError("database or disk is full"))
    assert storage_full(InternalError("Error executing plan: No space left on device (os error 28)"))
    try:  # chained: a wrapper raised from a full disk
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("compaction failed") from exc
    except RuntimeError as wrapped:
        assert storage_full(wrapped)
    assert not storage_full(OSError(errno.EIO, "Input/output error"))
    assert not storage_full(ValueError("bad vector"))


def test_bugs_and_interrupts_are_not_turned_into_write_errors():
    assert write_failure(ValueError("bad vector"), "x", "y") is None  # a bug keeps its traceback
    assert write_failure(KeyboardInterrupt(), "x", "y") is None
    err = write_failure(InternalErrorLike("chroma: segment closed"), "/idx/chroma", "nothing was committed in this run")
    assert isinstance(err, WriteFailed) and not isinstance(err, StorageFull)
    assert str(err) == ("cannot write /idx/chroma: chroma: segment closed; nothing was committed in this run; "
                        "fix that and re-run `rag ingest`")


class InternalErrorLike(Exception):
    """An error raised from chromadb's own modules (the store's errors are recognised by module)."""


InternalErrorLike.__module__ = "chromadb.errors"
