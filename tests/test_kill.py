"""Kill test: SIGKILL an ingest at a dozen points, then check that the index opens, that
`rag index verify --json` reports its state, that re-running the ingest completes it, and that
the result equals a clean build (same article and chunk ids and contents, no duplicates, chroma
== records == BM25 == dense, manifest counts == records).

Each ingest runs in a child process forked from a "zygote" subprocess that has imported
everything once (chromadb and llama-index take seconds to import; the zygote never opens a
store, so its children start clean). The child patches ONE function to SIGKILL its own process
at its N-th call; there are no fault hooks in the library. Corpus: the MultiHop-RAG corpus
beside the clone (``../shared/datasets/multihop-rag/corpus.json``: a 40-article subset for the
per-point scenarios, all 609 articles for the full run), else the bundled sample (always runs).
Embedder: the deterministic bag-of-words one (``hash``).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets" / "multihop-rag" / "corpus.json"
SAMPLE = ROOT / "rag" / "sample" / "multihop-sample.jsonl"
SUBSET = 40  # articles in the per-point scenarios
NEW_IN_EDIT = 8  # articles the edit run adds
BATCH = 64  # BATCH_CHUNKS in the killed runs: several commits per run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

RESULTS: list[dict] = []  # one row per kill, printed at the end (README table)


# ---- the child side: arm one kill point, ingest --------------------------------------------
def _die() -> None:
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(point: str, n: int) -> None:
    """Patch one function so that its ``n``-th call (1-based) kills this process."""
    import pathlib
    import threading

    import bm25s

    import rag.ingest.pipeline as ingest_mod
    import rag.index.records as records_mod
    from rag.index.embedding import HashEmbedder
    from rag.index.records import Records
    from rag.index.vectors import ChromaVectors

    calls = {"n": 0}

    def hit() -> bool:
        calls["n"] += 1
        return calls["n"] == n

    if point == "parse":  # the ingest loop consuming parsed articles
        real_iter = ingest_mod.iter_articles

        def iter_articles(paths):
            for item in real_iter(paths):
                if hit():
                    _die()
                yield item

        ingest_mod.iter_articles = iter_articles
    elif point == "embed":
        real_embed = HashEmbedder.embed_texts

        def embed_texts(self, texts, progress=None):
            if hit():
                _die()
            return real_embed(self, texts, progress)

        HashEmbedder.embed_texts = embed_texts
    elif point in ("upsert-before", "upsert-during", "upsert-after"):
        real_upsert = ChromaVectors.upsert

        def upsert(self, chunks, vectors):
            if not hit():
                return real_upsert(self, chunks, vectors)
            if point == "upsert-before":
                _die()
            if point == "upsert-during":  # a timer kills while chroma is writing
                threading.Timer(0.05, _die).start()
                real_upsert(self, chunks, vectors)
                time.sleep(30)  # (if chroma held the GIL throughout, the kill lands here)
            real_upsert(self, chunks, vectors)  # upsert-after: written, never committed
            _die()

        ChromaVectors.upsert = upsert
    elif point in ("commit-inside", "commit-after"):
        real_commit = Records.commit_articles
        state = {"inside": False}
        if point == "commit-inside":  # json.dumps runs once per article inside the transaction
            real_dumps = records_mod.json.dumps

            def dumps(*a, **kw):
                if state["inside"] and hit():
                    _die()
                return real_dumps(*a, **kw)

            records_mod.json.dumps = dumps

        def commit_articles(self, *a, **kw):
            state["inside"] = True
            try:
                real_commit(self, *a, **kw)
            finally:
                state["inside"] = False
            if point == "commit-after" and hit():
                _die()

        Records.commit_articles = commit_articles
    elif point == "vectors-delete":  # the ingest's delete of vectors an edit removed
        real_delete, real_up = ChromaVectors.delete, ChromaVectors.upsert
        flag = {"up": False}

        def upsert2(self, chunks, vectors):
            flag["up"] = True
            try:
                return real_up(self, chunks, vectors)
            finally:
                flag["up"] = False

        def delete(self, ids):
            if not flag["up"] and list(ids) and hit():
                _die()
            return real_delete(self, ids)

        ChromaVectors.upsert, ChromaVectors.delete = upsert2, delete
    elif point == "bm25-write":  # inside the snapshot write, before the swap
        real_save = bm25s.BM25.save

        def save(self, *a, **kw):
            real_save(self, *a, **kw)
            if hit():
                _die()

        bm25s.BM25.save = save
    elif point in ("bm25-swap", "dense-swap"):  # between the two renames of replace_dir
        real_rename = pathlib.Path.rename
        name = point.split("-")[0] + ".tmp"

        def rename(self, target):
            if self.name == name and hit():
                _die()
            return real_rename(self, target)

        pathlib.Path.rename = rename
    elif point == "manifest":  # manifest.json.tmp written, not yet renamed
        real_replace = os.replace

        def replace(src, dst, *a, **kw):
            if str(src).endswith("manifest.json.tmp") and hit():
                _die()
            return real_replace(src, dst, *a, **kw)

        os.replace = replace
    elif point != "none":
        raise ValueError(point)


def _child(job: dict) -> None:
    import rag.ingest.pipeline as ingest_mod
    from rag.archive import Archive
    from rag.settings import Settings

    ingest_mod.BATCH_CHUNKS = job["batch"]
    _arm(job["point"], job["n"])
    archive = Archive.create(job["index"], Settings.load(env={}, index=job["index"], embedder="hash"))
    archive.ingest(job["paths"])


def zygote() -> None:
    """Read one JSON job per stdin line, run it in a forked child, answer one JSON line with
    the child's exit code (-9: killed as planned; 0: the kill point was never reached)."""
    import bm25s  # noqa: F401 - imported once here, inherited by every child
    import chromadb  # noqa: F401
    import llama_index.core.schema  # noqa: F401
    import llama_index.vector_stores.chroma  # noqa: F401

    import rag.archive  # noqa: F401
    import rag.index.dense  # noqa: F401
    import rag.ingest.pipeline  # noqa: F401
    import rag.index.lexical  # noqa: F401
    import rag.index.vectors  # noqa: F401
    from rag.ingest.chunking import encoding

    encoding()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _child(job)
            except BaseException:  # noqa: BLE001 - report, never fall back into the loop
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "seconds": time.perf_counter() - t0}), flush=True)


# ---- the test side ---------------------------------------------------------------------------
class Zygote:
    def __init__(self) -> None:
        env = dict(os.environ, RAG_EMBEDDER="hash", PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.test_kill import zygote; zygote()"],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert json.loads(self.proc.stdout.readline()).get("ready")

    def run(self, index: Path, paths: list[Path], point: str, n: int) -> dict:
        job = {"index": str(index), "paths": [str(p) for p in paths], "point": point, "n": n, "batch": BATCH}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the zygote died"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _records(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, recs: list[dict]) -> Path:
    path.write_text(json.dumps(recs, ensure_ascii=False), encoding="utf-8")
    return path


def _edit(rec: dict, i: int) -> dict:
    """Change the end of the body (the last chunk changes, so an edit run removes chunks)."""
    body = rec["body"].rstrip()
    return dict(rec, body=body[: -40] + f" (This paragraph was corrected, revision {i}.)")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("kill-corpus")
    recs = _records(SHARED if SHARED.is_file() else SAMPLE)
    base_n = SUBSET if len(recs) >= SUBSET + NEW_IN_EDIT else len(recs) - NEW_IN_EDIT
    base = recs[:base_n]
    edited = [_edit(r, i) if i % 4 == 0 else r for i, r in enumerate(base)] + recs[base_n : base_n + NEW_IN_EDIT]
    return {
        "full": SHARED if SHARED.is_file() else SAMPLE,
        "base": _write(d / "base.json", base),
        "edited": _write(d / "edited.json", edited),
        "source": "MultiHop-RAG corpus" if SHARED.is_file() else "bundled sample",
    }


@pytest.fixture(scope="module")
def zyg():
    z = Zygote()
    yield z
    z.close()
    if RESULTS:
        print("\nkill scenarios:")
        for r in RESULTS:
            print("  " + json.dumps(r))


def _settings(path: Path):
    from rag.settings import Settings

    return Settings.load(env={}, index=str(path), embedder="hash")


def _ingest(path: Path, paths: list[Path]):
    from rag.archive import Archive

    a = Archive.create(path, _settings(path))
    report = a.ingest(paths)
    return a, report


@pytest.fixture(scope="module")
def clean(corpus, tmp_path_factory) -> dict:
    """Clean builds: the base subset, and the base followed by the edited corpus."""
    d = tmp_path_factory.mktemp("clean")
    _ingest(d / "base", [corpus["base"]])
    shutil.copytree(d / "base", d / "edit-base")
    _ingest(d / "edited", [corpus["base"]])
    _ingest(d / "edited", [corpus["edited"]])
    return {"base": d / "base", "edit-base": d / "edit-base", "edited": d / "edited"}


def verify_cli(path: Path) -> dict:
    """`rag index verify --json` (in this process: the same code the command runs)."""
    from rag.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["index", "verify", "--json", "--index", str(path)])
    report = json.loads(buf.getvalue())
    assert {"ok", "articles", "chunks", "problems"} <= set(report)
    assert code == (0 if report["ok"] else 1)
    return report


def state(path: Path) -> dict:
    """Everything the comparison looks at, read straight from the folder's parts."""
    import sqlite3

    from rag.index.dense import DenseIndex
    from rag.index.lexical import LexicalIndex
    from rag.index.store import IndexStore

    st = IndexStore.open(path, _settings(path), "hash-bow-v2", 384, create=False)
    con = sqlite3.connect(path / "records.sqlite3")
    articles = dict(con.execute("SELECT id, content_hash FROM articles"))
    chunks = {r[0]: r[1:] for r in con.execute('SELECT id, article_id, idx, start, "end", text FROM chunks')}
    # superseded revisions (an edit run changes bodies): their chunks, and the revisions without
    # valid_from/valid_to (an edit without updated_at is dated by the time it was ingested)
    revision_chunks = {r[0]: r[1:] for r in con.execute('SELECT id, article_id, revision, idx, start, "end", text FROM revision_chunks')}
    revisions = sorted(con.execute("SELECT article_id, revision, title, body, published_at FROM revisions"))
    con.close()
    bm25 = LexicalIndex.load(path / "bm25")
    dense = DenseIndex.load(path / "dense")
    manifest = json.loads((path / "manifest.json").read_text())
    vectors = {c: np.asarray(dense.vectors[i]) for i, c in enumerate(dense.ids)}
    out = {
        "articles": articles, "chunks": chunks, "revision_chunks": revision_chunks, "revisions": revisions,
        "chroma": st.vectors.ids(), "bm25": list(bm25.ids),
        "dense": list(dense.ids), "vectors": vectors, "manifest": manifest,
        "generation": st.records.generation(), "leftovers": sorted(p.name for p in path.iterdir() if p.name.endswith((".tmp", ".old"))),
        "pending": st.records.pending_vector_deletes(),
    }
    st.release_vectors()
    st.close()
    return out


def assert_equal_to_clean(path: Path, clean_path: Path) -> None:
    got, want = state(path), state(clean_path)
    ids = set(got["chunks"]) | set(got["revision_chunks"])
    assert got["articles"] == want["articles"], "article ids and contents differ from a clean build"
    assert got["chunks"] == want["chunks"], "chunk ids, offsets or texts differ from a clean build"
    assert got["revisions"] == want["revisions"], "kept revisions differ from a clean build"
    assert got["revision_chunks"] == want["revision_chunks"], "revision chunks differ from a clean build"
    assert got["chroma"] == ids, f"chroma != records: {len(got['chroma'] - ids)} orphan, {len(ids - got['chroma'])} missing"
    assert len(got["bm25"]) == len(set(got["bm25"])) and set(got["bm25"]) == ids
    assert len(got["dense"]) == len(set(got["dense"])) and set(got["dense"]) == ids
    assert all(np.allclose(got["vectors"][c], want["vectors"][c], atol=1e-6) for c in ids), "vectors differ"
    m = got["manifest"]
    assert m["counts"] == {"articles": len(got["articles"]), "chunks": len(got["chunks"])} and m["generation"] == got["generation"]
    assert got["leftovers"] == [] and got["pending"] == []


def _kill_and_recover(zyg, tmp: Path, start: Path | None, paths: list[Path], point: str, n: int, clean_path: Path,
                      corpus_name: str, expect: str | None = None) -> dict:
    from rag.archive import Archive

    idx = tmp / "idx"
    if start is not None:
        shutil.copytree(start, idx)
    before = len(state(start)["articles"]) if start is not None else 0
    t0 = time.perf_counter()
    res = zyg.run(idx, paths, point, n)
    assert res["exit"] == -signal.SIGKILL, f"{point}#{n}: the child was not killed (exit {res['exit']})"
    # the index opens and answers
    archive = Archive.open(idx, _settings(idx))
    report = verify_cli(idx)  # reports the state the kill left (before anything heals it)
    if expect is not None:
        assert any(expect in p for p in report["problems"]), (point, report)
    archive.search("the company said on Tuesday")
    after_kill = archive.store.records.counts()["articles"]
    assert after_kill >= before  # nothing committed was lost
    archive.close()
    # re-running the ingest completes it
    archive, ingest = _ingest(idx, paths)
    archive.close()
    final = verify_cli(idx)
    assert final["ok"], final
    assert_equal_to_clean(idx, clean_path)
    lost = len(set(state(clean_path)["articles"]) - set(state(idx)["articles"]))
    row = {"point": point, "n": n, "corpus": corpus_name, "articles_after_kill": after_kill,
           "problems_reported": len(report["problems"]), "resumed_new": ingest.new + ingest.updated,
           "final_articles": final["articles"], "lost": lost, "seconds": round(time.perf_counter() - t0, 1)}
    RESULTS.append(row)
    return row


# point, N, expected problem after the kill (None: the state depends on how far the ingest's
# writer thread got, which the parse/embed/write pipeline leaves to timing)
FRESH = [
    ("parse", 30, None),
    ("embed", 4, None),
    ("upsert-before", 3, None),
    ("upsert-during", 5, None),
    ("upsert-after", 4, "no chunk record"),
    ("commit-inside", 12, None),
    ("bm25-write", 1, "leftover bm25.tmp"),
    ("manifest", 2, "leftover manifest.json.tmp"),
]
EDIT = [
    ("commit-after", 1, "no chunk record"),
    ("vectors-delete", 1, "no chunk record"),
    ("bm25-swap", 1, "leftover bm25.old"),
    ("dense-swap", 1, "leftover dense.old"),
]


@pytest.mark.parametrize("point, n, expect", FRESH, ids=[p for p, _, _ in FRESH])
def test_kill_during_first_ingest(zyg, corpus, clean, tmp_path, point, n, expect):
    _kill_and_recover(zyg, tmp_path, None, [corpus["base"]], point, n, clean["base"], corpus["source"] + " subset", expect)


@pytest.mark.parametrize("point, n, expect", EDIT, ids=[p for p, _, _ in EDIT])
def test_kill_during_an_edit_run(zyg, corpus, clean, tmp_path, point, n, expect):
    """Base index built, then an ingest that edits a quarter of the articles and adds new ones."""
    _kill_and_recover(zyg, tmp_path, clean["edit-base"], [corpus["edited"]], point, n, clean["edited"],
                      corpus["source"] + " subset, edited", expect)


def test_kill_full_corpus_twice_then_finish(zyg, corpus, tmp_path):
    """The whole corpus: killed while embedding, the re-run killed mid-swap of the dense
    snapshot, the third run finishes; the result equals a clean build of the corpus."""
    from rag.archive import Archive

    idx = tmp_path / "idx"
    full = [corpus["full"]]
    t0 = time.perf_counter()
    n = 12 if SHARED.is_file() else 3  # the bundled sample makes only ~8 batches
    first = zyg.run(idx, full, "embed", n)
    assert first["exit"] == -signal.SIGKILL
    r1 = verify_cli(idx)  # how much was committed before the kill depends on the writer thread
    second = zyg.run(idx, full, "dense-swap", 1)
    assert second["exit"] == -signal.SIGKILL
    r2 = verify_cli(idx)
    assert any("dense" in p for p in r2["problems"]), r2
    a = Archive.open(idx, _settings(idx))
    assert a.search("OpenAI board")
    a.close()
    a, rep = _ingest(idx, full)
    a.close()
    final = verify_cli(idx)
    assert rep.new == 0 and final["ok"], final
    clean_idx = tmp_path / "clean"
    _ingest(clean_idx, full)
    assert_equal_to_clean(idx, clean_idx)
    RESULTS.append({"point": f"embed#{n} then dense-swap#1", "corpus": corpus["source"] + " (all)",
                    "articles_after_kill": r1["articles"], "final_articles": final["articles"], "lost": 0,
                    "seconds": round(time.perf_counter() - t0, 1)})
