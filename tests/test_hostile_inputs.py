"""The hostile corpus (evals/hostile.py: 200+ generated files) through the loaders and through
a real ingest (`rag ingest`, bag-of-words embedder): nothing crashes, every bad file or record
gives one clear error naming the file (and the line where there is one), and every valid record
is ingested. How long it takes is measured by `rag bench` (evals/bench/hostile.py)."""
from __future__ import annotations

import io
import json
from collections import defaultdict
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from rag.ingest.loaders import iter_articles, load_file
from rag.types import BadRecord
from tests.hostile import Case, make_hostile_corpus

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:feedparser")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, list[Case]]:
    root = tmp_path_factory.mktemp("hostile") / "corpus"
    return root, make_hostile_corpus(root)


def _by_file(results) -> dict[str, tuple[list, list]]:
    out: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for x in results:
        if isinstance(x, BadRecord):
            out[x.file][1].append(x)
        else:
            out[x.source_file][0].append(x)
    return out


def test_the_corpus_is_large_and_varied(hostile):
    _root, cases = hostile
    assert len(cases) >= 200
    kinds = {c.kind.split()[0] for c in cases}
    for k in ("binary", "empty", "truncated", "invalid", "encoding", "50", "nested", "CSV", "HTML", "RSS", "Atom", "XML"):
        assert k in kinds, k
    assert sum(c.valid for c in cases) >= 200 and sum(c.errors for c in cases) >= 100
    assert max(c.path.stat().st_size for c in cases if not c.path.is_symlink()) >= 50 * 1024 * 1024


def test_every_file_gives_its_articles_and_one_clear_error_per_bad_input(hostile):
    root, cases = hostile
    results = list(iter_articles([root]))  # never raises
    by = _by_file(results)
    assert set(by) <= {str(c.path) for c in cases}, "an article or error from a file outside the corpus"
    wrong = []
    for c in cases:
        arts, errs = by.get(str(c.path), ([], []))
        got = (len(arts), len(errs))
        problems = []
        if got != (c.valid, c.errors):
            problems.append(f"valid/errors {got} != {(c.valid, c.errors)}")
        if c.lines is not None and [e.line for e in errs] != c.lines:
            problems.append(f"lines {[e.line for e in errs]} != {c.lines}")
        if c.reason and not all(c.reason in e.reason for e in errs):
            problems.append(f"reasons {[e.reason for e in errs]} lack {c.reason!r}")
        for e in errs:  # clear: names the file (and line), says why in words
            text = str(e)
            if not text.startswith(str(c.path)) or len(e.reason) < 8:
                problems.append(f"unclear error {text!r}")
        for m in c.must_have:
            if not any(m in a.body or m in a.title for a in arts):
                problems.append(f"no article contains {m!r}")
        for m in c.must_not:
            if any(m in a.body or m in a.title for a in arts):
                problems.append(f"an article contains {m!r}")
        if problems:
            wrong.append(f"{c.path.relative_to(root)} ({c.kind}): " + "; ".join(problems))
    assert not wrong, "\n".join(wrong)


def test_fifty_megabyte_line_is_refused_clearly(hostile):
    _root, cases = hostile
    huge = [c for c in cases if c.kind == "50 MB line"]
    assert len(huge) == 2
    for c in huge:
        (err,) = list(load_file(c.path))
        assert isinstance(err, BadRecord) and "body too large" in err.reason and err.file == str(c.path)


def test_rag_ingest_of_the_hostile_corpus(hostile, tmp_path, monkeypatch):
    """The whole corpus through `rag ingest --json` with the bag-of-words embedder: exit 0, one
    "skipped" line per error, every valid record stored once, and a consistent index."""
    from rag.archive import Archive
    from rag.cli import main
    from rag.index.integrity import verify_index
    from rag.settings import Settings

    root, cases = hostile
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    monkeypatch.chdir(tmp_path)  # no rag.toml from elsewhere
    idx = tmp_path / "idx"
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["ingest", str(root), "--index", str(idx), "--json", "--quiet"])
    assert code == 0, err.getvalue()[-2000:]
    report = json.loads(out.getvalue())
    valid, errors = sum(c.valid for c in cases), sum(c.errors for c in cases)
    assert (report["new"], report["duplicates"], report["skipped"]) == (valid, 0, errors)
    assert len(report["errors"]) == errors
    skipped = [ln for ln in err.getvalue().splitlines() if ln.startswith("skipped ")]
    assert len(skipped) == errors
    paths = {str(c.path) for c in cases}
    assert all(any(ln[len("skipped "):].startswith(p) for p in paths) for ln in skipped)

    archive = Archive.open(idx, Settings.load(env={}, index=str(idx), embedder="hash"))
    assert archive.store.records.counts()["articles"] == valid
    rep = verify_index(archive.store)
    assert rep.ok, rep.problems
    bodies = "\n".join(a.body + a.title for a in archive.store.records.iter_articles())
    assert "window.__pwned" not in bodies and "root:x:" not in bodies and "\x1b" not in bodies
    assert archive.search("council approved budget schools clinics")
