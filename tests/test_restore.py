"""Records rebuilt from the vector store keep the revisions: after records.sqlite3 is lost and
`rag index verify --repair` restores it, `rag history`, `--as-of` searches and the revision,
validity and event-date rows equal those of a clean build of the same revisions."""
from __future__ import annotations

import json

from rag.archive import Archive
from rag.cli import main
from rag.index import revisions
from rag.index.integrity import verify_path
from rag.settings import Settings
from tests.test_revisions import OTHER, URL, V1, V2, _write

V3 = dict(V2, updated_at="2023-12-01T08:00:00Z", body=V2["body"] + " Lindqvist starts in January.")
UNDATED = {  # no dates at all: its first revision is current from the time it was ingested
    "title": "Ferry timetable", "source": "Coast News", "url": "https://coast.test/ferry",
    "body": "The ferry will run every hour. Tickets cost four euros.",
}
UNDATED2 = dict(UNDATED, body="The ferry will run every two hours. Tickets cost five euros.")
QUERY = "who leads Acme Robotics chief executive Porter Lindqvist Zenith ferry tickets"
DATES = ("2023-11-01", "2023-11-15", "2023-11-25", "2023-12-02", None)
TABLES = ("revisions", "revision_chunks", "current_revision", "event_dates")


def _settings(path) -> Settings:
    return Settings.load(env={}, index=str(path), embedder="hash")


def _build(path, folder):
    """V1 with OTHER and UNDATED, then V2, then V3 with UNDATED2: two earlier revisions of the
    story and one of the undated article."""
    a = Archive.create(path, _settings(path))
    a.ingest(_write(folder / "v1.jsonl", V1, OTHER, UNDATED))
    a.ingest(_write(folder / "v2.jsonl", V2))
    a.ingest(_write(folder / "v3.jsonl", V3, UNDATED2))
    return a


def _rows(archive, article_id=None):
    """Every revision-related row (of ``article_id`` only, when given), sorted."""
    c = archive.store.records.connection()
    where = (" WHERE article_id=?", (article_id,)) if article_id else ("", ())
    return {t: sorted(c.execute(f"SELECT * FROM {t}{where[0]}", where[1]).fetchall()) for t in TABLES}


def _seen(archive):
    hist = [archive.history(u) for u in (URL, UNDATED["url"])]
    hits = {d: [(h.chunk.id, h.chunk.text, round(h.score, 6)) for h in archive.search(QUERY, k=6, as_of=d)] for d in DATES}
    return hist, hits


def _lose_records(archive):
    archive.close()
    archive.store.release_vectors()
    for name in ("records.sqlite3", "records.sqlite3-wal", "records.sqlite3-shm"):
        (archive.path / name).unlink(missing_ok=True)


def _repair(idx, capsys):
    assert main(["index", "verify", "--repair", "--json", "--index", str(idx)]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_restore_rebuilds_the_revisions(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    a = _build(tmp_path / "idx", tmp_path)
    assert [r.revision for r in a.history(URL).revisions] == [1, 2, 3]
    before, rows = _seen(a), _rows(a)
    assert rows["event_dates"], "the story states dates ('on Monday')"
    _lose_records(a)

    rep = _repair(tmp_path / "idx", capsys)
    assert rep["ok"], rep
    assert any("rebuilt records.sqlite3 from the vector store: 3 articles" in r and "3 earlier revisions" in r
               for r in rep["repaired"]), rep["repaired"]
    b = Archive.open(tmp_path / "idx", _settings(tmp_path / "idx"))
    assert _seen(b) == before  # history (bodies, validity, sentence diffs) and every as-of search
    assert _rows(b) == rows  # revision rows, their chunks, current revisions, event dates

    clean = _build(tmp_path / "clean", tmp_path / "clean")
    got, want = _seen(b), _seen(clean)
    assert got[1] == want[1] and got[0][0] == want[0][0]  # the dated story as a clean build has it
    story = got[0][0].article_id
    assert _rows(b, story) == _rows(clean, story) and _rows(b, story)["revision_chunks"]
    ferry, ferry_clean = got[0][1].revisions, want[0][1].revisions
    assert [(r.body, r.title) for r in ferry] == [(r.body, r.title) for r in ferry_clean]
    assert verify_path(tmp_path / "idx", settings=_settings(tmp_path / "idx")).ok


def test_revision_vectors_embedded_again_still_carry_the_revision(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    a = _build(tmp_path / "idx", tmp_path)
    before = _seen(a)
    lost = revisions.revision_chunk_ids(a.store.records)[:2]
    a.store.vectors.delete(lost)  # their vectors (and metadata) gone: the repair embeds them again
    a.close()
    a.store.release_vectors()
    rep = _repair(tmp_path / "idx", capsys)
    assert any("re-embedded 2 chunks" in r for r in rep["repaired"]), rep["repaired"]
    b = Archive.open(tmp_path / "idx", _settings(tmp_path / "idx"))
    assert set(lost) <= b.store.vectors.ids()
    _lose_records(b)
    rep = _repair(tmp_path / "idx", capsys)
    assert any("3 earlier revisions" in r for r in rep["repaired"]), rep["repaired"]
    assert _seen(Archive.open(tmp_path / "idx", _settings(tmp_path / "idx"))) == before


def test_revisions_the_vector_store_does_not_carry_are_said_lost(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    monkeypatch.setattr("rag.index.chunkmeta.revision_metadata", lambda stored: {})  # as before revisions were kept
    a = _build(tmp_path / "idx", tmp_path)
    monkeypatch.undo()
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    _lose_records(a)
    rep = _repair(tmp_path / "idx", capsys)
    said = " | ".join(rep["repaired"])
    assert "rebuilt records.sqlite3 from the vector store: 3 articles" in said and "earlier revisions," not in said
    assert "could not rebuild 3 earlier article revisions" in said
    b = Archive.open(tmp_path / "idx", _settings(tmp_path / "idx"))
    assert [r.revision for r in b.history(URL).revisions] == [1]  # the current body only
    assert b.history(URL).revisions[0].body == V3["body"]
    assert revisions.revision_chunk_ids(b.store.records) == []
    assert not set(b.store.vectors.ids()) - set(b.store.records.chunk_ids()), "their vectors went as orphans"
