"""`rag index verify [--repair] [--json]` (rag.index.integrity) on damage a kill cannot make as well as
damage it can: orphan and missing vectors, lost or stale snapshots, a stale or unreadable
manifest, leftovers, chunk rows with wrong offsets or no article; and its refusal to repair
under a running ingest."""
from __future__ import annotations

import io
import json
import shutil
import sqlite3
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

from rag.archive import Archive
from rag.cli import main
from rag.index.integrity import verify_index, verify_path
from rag.settings import Settings
from tests.conftest import MINI, SEED


def _settings(path) -> Settings:
    return Settings.load(env={}, index=str(path), embedder="hash")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    idx = tmp_path_factory.mktemp("integrity") / "idx"
    Archive.create(idx, _settings(idx)).ingest([SEED, MINI])
    return idx


@pytest.fixture
def idx(built, tmp_path):
    p = tmp_path / "idx"
    shutil.copytree(built, p)
    return p


def cli(path, *flags, env=None, monkeypatch=None) -> tuple[int, dict]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["index", "verify", "--json", "--index", str(path), *flags])
    return code, json.loads(buf.getvalue())


def test_a_clean_index_is_ok(idx):
    code, rep = cli(idx)
    assert code == 0 and rep["ok"] and rep["problems"] == [] and rep["articles"] == 7 and rep["chunks"] > 7


def test_damage_is_reported_then_repaired(idx):
    a = Archive.open(idx, _settings(idx))
    st = a.store
    ids = st.records.chunk_ids()
    # orphan vector, missing vectors, a chunk with wrong offsets, no bm25, stale manifest, leftovers
    fake = st.records.get_chunks([ids[0]])[ids[0]]
    import dataclasses

    st.vectors.upsert([dataclasses.replace(fake, id="orphan-chunk")], np.ones((1, st.config.dim), np.float32) / st.config.dim**0.5)
    st.vectors.delete(ids[1:3])
    st.release_vectors()
    con = sqlite3.connect(idx / "records.sqlite3")
    con.execute('UPDATE chunks SET start = start + 1 WHERE id = ?', (ids[5],))
    con.commit()
    con.close()
    shutil.rmtree(idx / "bm25")
    (idx / "dense.tmp").mkdir()
    (idx / "manifest.json.tmp").write_text("{half")
    m = json.loads((idx / "manifest.json").read_text())
    m["counts"]["articles"] = 999
    (idx / "manifest.json").write_text(json.dumps(m))
    a.close()

    code, rep = cli(idx)
    assert code == 1 and not rep["ok"]
    text = " | ".join(rep["problems"])
    for want in ("no chunk record", "lack a vector", "offsets", "bm25 snapshot missing", "leftover dense.tmp",
                 "leftover manifest.json.tmp", "manifest counts"):
        assert want in text, (want, text)

    code, rep = cli(idx, "--repair")
    assert code == 0 and rep["ok"] and rep["problems"] == [], rep
    assert rep["repaired"]
    code, rep = cli(idx)
    assert code == 0 and rep["ok"]
    b = Archive.open(idx, _settings(idx))
    assert b.search("Alibaba memo") and b.store.vectors.ids() == set(b.store.records.chunk_ids())


def test_chunk_rows_without_an_article_are_removed(idx):
    con = sqlite3.connect(idx / "records.sqlite3")
    con.execute("PRAGMA foreign_keys=OFF")
    con.execute("""INSERT INTO chunks (id, article_id, idx, start, "end", header, text) VALUES ('ghost-1', 'no-such-article', 0, 0, 5, '', 'ghost')""")
    con.commit()
    con.close()
    rep = verify_path(idx, settings=_settings(idx))
    assert not rep.ok and any("belong to no article" in p for p in rep.problems)
    rep = verify_path(idx, repair=True, settings=_settings(idx))
    assert rep.ok, rep.problems


def test_unreadable_manifest(idx):
    (idx / "manifest.json").write_text('{"format": 1, "embed')
    code, rep = cli(idx)
    assert code == 1 and "cannot be opened" in rep["problems"][0] and rep["articles"] == 7
    with pytest.raises(Exception, match="does not reproduce"):  # the wrong embedder is never recorded
        verify_path(idx, repair=True, settings=Settings.load(env={}, index=str(idx), embedder="minilm"))
    rep = verify_path(idx, repair=True, settings=_settings(idx))
    assert rep.ok and any("rebuilt manifest.json" in r for r in rep.repaired)
    assert Archive.open(idx, _settings(idx)).search("Gemini")


def test_missing_index_and_running_ingest(idx, tmp_path):
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["index", "verify", "--index", str(tmp_path / "nothing")]) == 3
    a = Archive.open(idx, _settings(idx))
    with a.store.ingest_lock():  # as an ingest in another process would
        rep = verify_path(idx, repair=True, settings=_settings(idx))
    assert not rep.ok and any("ingest is running" in p for p in rep.problems) and rep.repaired == ()


def test_only_the_adapters_import_chromadb_and_llama_index():
    """Design rule: chromadb and llama-index are imported only by the adapter modules (the chroma
    store, chunking, embedding, the LLM client, the Ray path); the bench's llama-index module
    (``evals/bench/llama.py``, formerly ``evals/bench.py``) is the one exception, as it times the
    plain llama-index + chroma pipeline against ours."""
    import ast

    from tests.conftest import ROOT

    allowed = {"rag/index/vectors.py", "rag/ingest/chunking.py", "rag/index/embedding.py", "rag/answer/llm.py", "rag/ingest/ray_ingest.py", "evals/bench.py",
               "evals/bench/llama.py"}
    offenders = []
    for f in [*sorted((ROOT / "rag").rglob("*.py")), ROOT / "ui.py", *sorted((ROOT / "evals").rglob("*.py"))]:
        rel = f.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("chromadb", "llama_index") for n in names) and rel not in allowed:
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


# ---- records rebuilt from the vector store -------------------------------------------------
EXTRA = [  # no author or category, a +05:30 date, and a body two outlets carried (stored once)
    {"title": "Monsoon rains flood Mumbai suburbs", "source": "Mumbai Mirror", "published_at": "2023-07-01T09:30:00+05:30",
     "url": "https://example.in/monsoon", "body": "Heavy monsoon rains flooded the suburbs of Mumbai on Saturday.   "
     "Trains were halted for hours.\n\nThe city's civic body said pumps were running at full capacity.\n"},
    {"title": "Rains flood Mumbai", "source": "Wire copy", "published_at": "2023-07-01T10:00:00+05:30",
     "url": "https://wire.example.com/mumbai-rains", "body": "Heavy monsoon rains flooded the suburbs of Mumbai on Saturday.   "
     "Trains were halted for hours.\n\nThe city's civic body said pumps were running at full capacity.\n"},
]


def _corpus(folder, title_of_first="OpenAI buffs safety team and gives board veto power on risky AI"):
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SEED, folder / SEED.name)
    rows = [json.loads(line) for line in MINI.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows[0]["title"] = title_of_first
    (folder / "mini.jsonl").write_text("\n".join(json.dumps(r) for r in [*rows, *EXTRA]) + "\n", encoding="utf-8")
    return folder


def _gappy(path) -> Settings:  # no overlap and short chunks: white space falls between chunks
    return Settings.load(env={}, index=str(path), embedder="hash", chunk_tokens=40, chunk_overlap=0)


def _records(archive):
    r = archive.store.records
    return r.stored_articles([a.id for a in r.iter_articles()]), r.multi_clusters()


def _answers(archive):
    hits = [(h.chunk, round(h.score, 6), h.also_ran_in) for h in archive.search("monsoon rains Mumbai trains")]
    ans = archive.ask("What did the Pentagon memo say about Alibaba?", answerer="extractive")
    return hits, ans.text, [s.to_dict() for s in ans.sources]


def test_unreadable_records_are_rebuilt_from_the_vector_store(tmp_path, monkeypatch):
    idx = tmp_path / "idx"
    a = Archive.create(idx, _gappy(idx))
    a.ingest([_corpus(tmp_path / "corpus", "An older headline")])
    a.ingest([_corpus(tmp_path / "corpus")])  # a new headline: same chunk ids, their metadata rewritten
    meta = {c: md for c, md, _doc in a.store.vectors.entries()}
    assert any(md["gap"] for md in meta.values()) and any(md["nulls"] for md in meta.values())
    before_records, before_answers = _records(a), _answers(a)
    assert any(sa.article.also_in for sa in before_records[0]), "the corpus has a body stored once for two outlets"
    a.close()
    a.store.release_vectors()

    (idx / "records.sqlite3").write_bytes(b"this is not a database " * 400)
    for side in ("records.sqlite3-wal", "records.sqlite3-shm"):
        (idx / side).unlink(missing_ok=True)
    want = f"{idx / 'records.sqlite3'} is damaged (file is not a database); run `rag index verify --repair --index {idx}`"
    code, rep = cli(idx)
    assert code == 1 and rep["problems"] == [want]
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        assert main(["ask", "What did the memo say?", "--index", str(idx)]) == 3
    assert err.getvalue() == f"rag ask: error: {want}\n"  # one line, no traceback

    code, rep = cli(idx, "--repair")
    assert code == 0 and rep["ok"], rep
    assert any("rebuilt records.sqlite3 from the vector store: 8 articles" in r for r in rep["repaired"]), rep["repaired"]
    assert (idx / "records.sqlite3.damaged").read_bytes().startswith(b"this is not a database")

    clean_idx = tmp_path / "clean"
    clean = Archive.create(clean_idx, _gappy(clean_idx))
    clean.ingest([tmp_path / "corpus"])
    b = Archive.open(idx, _gappy(idx))
    assert _records(b) == _records(clean) == before_records  # every field, chunk id, text, offset; clusters
    assert _answers(b) == before_answers
    assert verify_path(idx, settings=_gappy(idx)).ok


def test_missing_records_are_rebuilt_and_what_cannot_be_is_said(tmp_path, monkeypatch):
    idx = tmp_path / "idx"
    # chunks written before the vector store kept whole records: their articles cannot come back
    monkeypatch.setattr("rag.index.store.IndexStore.sync_vector_metadata", lambda self: 0)
    a = Archive.create(idx, _settings(idx))
    a.ingest([SEED])
    monkeypatch.undo()
    a.store.records.clear_vector_metadata_todo(a.store.records.vector_metadata_todo())  # as an old index has none
    a.ingest([_corpus(tmp_path / "c")])  # the seed is unchanged: only the new articles carry records
    old_ids = {c for c, md, _d in a.store.vectors.entries() if "records_meta" not in md}
    assert old_ids
    a.close()
    a.store.release_vectors()
    for name in ("records.sqlite3", "records.sqlite3-wal", "records.sqlite3-shm"):
        (idx / name).unlink(missing_ok=True)

    code, rep = cli(idx)
    assert code == 1 and any("holds no articles but chroma holds" in p for p in rep["problems"]), rep
    code, rep = cli(idx, "--repair")
    said = " | ".join(rep["repaired"])
    assert "rebuilt records.sqlite3 from the vector store: 7 articles" in said
    assert "could not rebuild 1 articles (its chunks were written before the vector store kept whole records)" in said
    assert code == 1 and any("have no chunk record" in p for p in rep["problems"]), "their vectors are kept, and said"
    b = Archive.open(idx, _settings(idx))
    assert old_ids <= b.store.vectors.ids()
    assert b.store.records.counts()["articles"] == 7


def test_a_store_damaged_while_open_is_reported(idx):
    a = Archive.open(idx, _settings(idx))
    a.store.records.counts()
    a.store.records.close()
    (idx / "records.sqlite3").write_bytes(b"\0garbage" * 512)
    (idx / "records.sqlite3-wal").unlink(missing_ok=True)
    rep = verify_index(a.store, settings=_settings(idx))
    assert not rep.ok and "is damaged" in rep.problems[0] and "--repair" in rep.problems[0]
    rep = verify_index(a.store, repair=True, settings=_settings(idx))
    assert rep.ok and rep.articles == 7, rep
    assert a.search("Alibaba memo")


def test_a_readable_file_failing_its_check_is_replaced_only_without_loss(idx, monkeypatch):
    from rag.index.records import Records

    real = Records.quick_check

    def quick_check(self):  # the file in place fails SQLite's check until a restore sets it aside
        aside = self.path.with_name(self.path.name + ".damaged")
        return real(self) if aside.exists() else ["row 7 missing from index chunks_article"]

    monkeypatch.setattr(Records, "quick_check", quick_check)
    a = Archive.open(idx, _settings(idx))
    assert all("records_meta" in md for _c, md, _d in a.store.vectors.entries()), "its chunks carry whole records"
    first = next(iter(a.store.records.iter_articles()))
    ids = a.store.records.article_state(first.id)[1]
    a.store.vectors.update_metadata({c: {"records_meta": 0} for c in ids})  # one article unrestorable
    a.store.release_vectors()
    rep = verify_path(idx, repair=True, settings=_settings(idx))
    assert not rep.ok and rep.repaired == ()
    assert any("fails its integrity check" in p for p in rep.problems)
    assert any("not rebuilt from the vector store: 1 of its articles cannot be rebuilt" in p for p in rep.problems)
    assert not (idx / "records.sqlite3.damaged").exists()

    a.store.vectors.update_metadata({c: {"records_meta": 1} for c in ids})
    a.store.release_vectors()
    rep = verify_path(idx, repair=True, settings=_settings(idx))
    assert rep.ok and rep.articles == 7 and any("rebuilt records.sqlite3" in r for r in rep.repaired), rep
    assert (idx / "records.sqlite3.damaged").exists()
