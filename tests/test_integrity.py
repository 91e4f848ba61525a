"""`rag index verify [--repair] [--json]` (rag.index.integrity) on damage a kill cannot make as well as
damage it can: orphan and missing vectors, lost or stale snapshots, a stale or unreadable
manifest, leftovers, chunk rows with wrong offsets or no article; and its refusal to repair
under a running ingest."""
from __future__ import annotations

import io
import json
import shutil
import sqlite3
from contextlib import redirect_stdout

import numpy as np
import pytest

from rag.archive import Archive
from rag.cli import main
from rag.index.integrity import verify_index
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
    rep = verify_index(idx, settings=_settings(idx))
    assert not rep.ok and any("belong to no article" in p for p in rep.problems)
    rep = verify_index(idx, repair=True, settings=_settings(idx))
    assert rep.ok, rep.problems


def test_unreadable_manifest(idx):
    (idx / "manifest.json").write_text('{"format": 1, "embed')
    code, rep = cli(idx)
    assert code == 1 and "cannot be opened" in rep["problems"][0] and rep["articles"] == 7
    with pytest.raises(Exception, match="does not reproduce"):  # the wrong embedder is never recorded
        verify_index(idx, repair=True, settings=Settings.load(env={}, index=str(idx), embedder="minilm"))
    rep = verify_index(idx, repair=True, settings=_settings(idx))
    assert rep.ok and any("rebuilt manifest.json" in r for r in rep.repaired)
    assert Archive.open(idx, _settings(idx)).search("Gemini")


def test_missing_index_and_running_ingest(idx, tmp_path):
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["index", "verify", "--index", str(tmp_path / "nothing")]) == 3
    a = Archive.open(idx, _settings(idx))
    with a.store.ingest_lock():  # as an ingest in another process would
        rep = verify_index(idx, repair=True, settings=_settings(idx))
    assert not rep.ok and any("ingest is running" in p for p in rep.problems) and rep.repaired == ()


def test_only_the_adapters_import_chromadb_and_llama_index():
    """Design rule: chromadb and llama-index are imported only by the adapter modules (the chroma
    store, chunking, embedding, the LLM client, the Ray path); ``evals/bench.py`` is the one
    exception, as it times the plain llama-index + chroma pipeline against ours."""
    import ast

    from tests.conftest import ROOT

    allowed = {"rag/index/vectors.py", "rag/ingest/chunking.py", "rag/index/embedding.py", "rag/answer/llm.py", "rag/ingest/ray_ingest.py", "evals/bench.py"}
    offenders = []
    for f in [*sorted((ROOT / "rag").rglob("*.py")), ROOT / "ui.py", *sorted((ROOT / "evals").rglob("*.py"))]:
        rel = f.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("chromadb", "llama_index") for n in names) and rel not in allowed:
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []
