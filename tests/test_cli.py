"""The `rag` command as a user runs it: a real subprocess, real files, exit codes, JSON shape."""
from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from dataclasses import replace

import pytest

from rag.cli import EXIT_BROKEN_PIPE
from tests.conftest import ROOT, SEED

ANSWER_KEYS = {"question", "text", "abstained", "sentences", "sources", "removed_citations", "timing_ms", "settings_hash"}
SOURCE_KEYS = {"n", "article_id", "chunk_id", "title", "outlet", "author", "published_at", "url", "quote", "start", "end"}


def rag(*args, env=None, check=True):
    e = dict(os.environ, RAG_EMBEDDER="hash", **(env or {}))
    p = subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT, env=e, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {p.stderr}")
    return p


def test_ingest_ask_search_stats_roundtrip(tmp_path, corpus_dir):
    idx = str(tmp_path / "idx")
    out = rag("ingest", str(corpus_dir), "--index", idx, "--quiet").stdout
    assert "7 new" in out
    embedded = re.search(r"; (\d+) chunks embedded at (\d+\.\d) chunks/s by hash-bow-v2; \d+\.\ds\n", out)
    assert embedded and int(embedded[1]) >= 7 and float(embedded[2]) > 0, out
    out = rag("ingest", str(corpus_dir), "--index", idx, "--quiet", "--json").stdout
    rep = json.loads(out)
    assert rep["unchanged"] == 7 and rep["revised"] == 0
    assert (rep["embedder"], rep["chunks_embedded"], rep["chunks_per_second"]) == ("hash-bow-v2", 0, 0.0)

    ans = json.loads(rag("ask", "What does the Pentagon memo allege about Alibaba?", "--index", idx, "--json").stdout)
    assert ANSWER_KEYS <= set(ans)
    assert not ans["abstained"] and ans["sources"]
    body = SEED.read_text(encoding="utf-8")
    for s in ans["sources"]:
        assert SOURCE_KEYS <= set(s)
        if s["outlet"] == "KSMO Santa Monica":
            lines = body.split("\n")
            art_body = "\n".join(lines[4:]).strip()
            assert s["quote"] in art_body
    cited = {n for sent in ans["sentences"] for n in sent["citations"]}
    assert cited == {s["n"] for s in ans["sources"]}

    ref = json.loads(rag("ask", "Who won the 1994 Eurovision Song Contest?", "--index", idx, "--json").stdout)
    assert ref["abstained"] and ref["sources"] == []

    hits = json.loads(rag("search", "Beeper Mini", "--index", idx, "--json", "-k", "2").stdout)
    assert len(hits) == 2 and "Beeper" in hits[0]["chunk"]["title"]
    st = json.loads(rag("stats", "--index", idx, "--json").stdout)
    assert st["articles"] == 7 and "KSMO Santa Monica" in st["outlets"]


def test_errors_are_one_line_with_exit_codes(tmp_path):
    p = rag("ask", "anything", "--index", str(tmp_path / "nope"), check=False)
    assert p.returncode == 3
    assert p.stderr.strip().count("\n") == 0 and "no index at" in p.stderr
    p = rag("ingest", str(tmp_path / "missing.json"), "--index", str(tmp_path / "i"), check=False)
    assert p.returncode == 2 and "missing.json" in p.stderr and p.stderr.strip().count("\n") == 0
    bad = tmp_path / "bad.json"
    bad.write_text('[{"title": "x", "body": "fine text here."}, {"title": ', encoding="utf-8")
    p = rag("ingest", str(bad), "--index", str(tmp_path / "i2"), "--quiet", check=False)
    assert p.returncode == 0 and f"{bad}:1" in p.stderr



def test_an_unexpected_failure_is_one_line_and_debug_shows_the_traceback(tmp_path):
    not_a_folder = tmp_path / "index-is-a-file"
    not_a_folder.write_text("x", encoding="utf-8")
    p = rag("ingest", str(SEED), "--index", str(not_a_folder), "--quiet", check=False)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0 and str(not_a_folder) in p.stderr, p.stderr
    p = rag("ingest", str(SEED), "--index", str(not_a_folder), "--quiet", "--debug", check=False)
    assert p.returncode != 0 and "Traceback" in p.stderr


def test_describe_turns_os_sqlite_and_unknown_failures_into_one_line():
    import errno
    import sqlite3

    from rag.errors import BadInput, describe

    full = describe(OSError(errno.ENOSPC, "No space left on device", "/idx/chroma/data.bin"))
    assert full.startswith("no space left on device") and "/idx/chroma/data.bin" in full and "free space" in full
    assert "rag index verify --repair" in describe(sqlite3.DatabaseError("file is not a database"))
    odd = describe(ValueError("first line\n  second line"))
    assert odd == "unexpected ValueError: first line (re-run with --debug for the traceback)"
    assert describe(BadInput("no title", file="a.json", line=3)) == "a.json:3: no title"


# ---- rag ask: the direct answer, removed sentences, filters -----------------------------------
def _direct_answer():
    from rag.types import Answer, Direct, Sentence, Source

    src = Source(n=1, article_id="a", chunk_id="c", title="OpenAI names interim CEO", outlet="TechCrunch", author=None,
                 published_at=None, url=None, quote="OpenAI has appointed Emmett Shear as interim CEO.", start=0, end=48)
    return Answer(
        question="Who replaced Mira Murati as OpenAI's interim CEO?",
        text="Emmett Shear.[1] OpenAI has appointed Emmett Shear as interim CEO, replacing Murati.[1]",
        abstained=False, sentences=(Sentence("OpenAI has appointed Emmett Shear as interim CEO, replacing Murati.", (1,)),),
        sources=(src,), direct=Direct("Emmett Shear.", "person", (1,)),
        removed_sentences=("The company also announced a $50 billion buyback.",),
    )


def test_format_answer_puts_the_direct_answer_on_the_first_line():
    from rag.cli import format_answer

    out = format_answer(_direct_answer())
    lines = out.splitlines()
    assert lines[0] == "Emmett Shear.[1]"
    assert lines[1].startswith("OpenAI has appointed Emmett Shear") and "Emmett Shear.[1]" not in lines[1]
    assert "buyback" not in out  # removed sentences only on request
    assert "1 sentence(s) removed" in out and "--show-removed" in out


def test_format_answer_show_removed_lists_them_after_the_sources():
    from rag.cli import format_answer

    out = format_answer(_direct_answer(), show_removed=True)
    assert out.index("Sources:") < out.index("Removed (1 sentence") < out.index("$50 billion buyback")
    assert "  - The company also announced a $50 billion buyback." in out.splitlines()
    plain = format_answer(replace(_direct_answer(), direct=None, removed_sentences=()), show_removed=True)
    assert plain.splitlines()[0].startswith("Emmett Shear.[1] OpenAI has appointed")  # no direct: the text as is
    assert "Removed: none" in plain


def test_ask_show_removed_and_json_direct(tmp_path, corpus_dir):
    idx = str(tmp_path / "idx")
    rag("ingest", str(corpus_dir), "--index", idx, "--quiet")
    q = "What does the Pentagon memo allege about Alibaba?"
    ans = json.loads(rag("ask", q, "--index", idx, "--json").stdout)
    assert "direct" in ans and "removed_sentences" in ans
    assert isinstance(ans["removed_sentences"], list)
    out = rag("ask", q, "--index", idx, "--show-removed").stdout
    first = out.splitlines()[0]
    if ans["direct"] is not None:  # the direct answer opens the text and is printed on a line of its own
        d = ans["direct"]
        assert set(d) == {"text", "kind", "citations"} and ans["text"].startswith(d["text"])
        assert first.startswith(d["text"]) and set(d["citations"]) <= {s["n"] for s in ans["sources"]}
    else:
        assert first == ans["text"][: len(first)]
    assert out.index("Sources:") < out.index("Removed")
    assert all(r in out for r in ans["removed_sentences"])
    if not ans["removed_sentences"]:
        assert "Removed: none" in out


def test_ask_filters_and_answerer(tmp_path, corpus_dir):
    idx = str(tmp_path / "idx")
    rag("ingest", str(corpus_dir), "--index", idx, "--quiet")
    q = "What did Apple do about Beeper Mini?"
    base = json.loads(rag("ask", q, "--index", idx, "--json", "--answerer", "extractive").stdout)
    assert base["answerer"] == "extractive" and not base["abstained"]
    assert any(s["outlet"] == "TechCrunch" for s in base["sources"])

    only = json.loads(rag("ask", q, "--index", idx, "--json", "--outlet", "BBC News - Technology").stdout)
    assert only["abstained"] or all(s["outlet"] == "BBC News - Technology" for s in only["sources"])
    assert not any(s["outlet"] == "TechCrunch" for s in only["sources"])

    since = json.loads(rag("ask", q, "--index", idx, "--json", "--since", "2023-12-01").stdout)
    assert since["sources"] and all(s["published_at"] and s["published_at"][:10] >= "2023-12-01" for s in since["sources"])
    late = json.loads(rag("ask", q, "--index", idx, "--json", "--since", "2024-06-01").stdout)
    assert late["abstained"] and late["sources"] == []  # nothing in the archive is that recent

    two = json.loads(rag("ask", q, "--index", idx, "--json", "--outlet", "TechCrunch", "--outlet", "Mashable",
                         "--since", "2023-10-01", "--answerer", "extractive").stdout)
    assert two["sources"] and {s["outlet"] for s in two["sources"]} <= {"TechCrunch", "Mashable"}

    p = rag("ask", q, "--index", idx, "--answerer", "gpt", check=False)
    assert p.returncode == 2 and "invalid choice" in p.stderr
    p = rag("ask", q, "--index", idx, "--since", "last tuesday", check=False)
    assert p.returncode != 0 and "date" in p.stderr and p.stderr.strip().count("\n") == 0


# ---- a closed pipe (`rag search --json | head -1`): a quiet exit, no traceback ------------------
# Both ways Python writes to a pipe: unbuffered (PYTHONUNBUFFERED=1, the print itself fails) and
# block-buffered (the default: a small output fails only on the last flush, at exit).
BUFFERING = pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])


def _popen_rag(args, stdout_fd, unbuffered):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update(RAG_EMBEDDER="hash", **({"PYTHONUNBUFFERED": "1"} if unbuffered else {}))
    return subprocess.Popen([sys.executable, "-m", "rag", *args], stdout=stdout_fd, stderr=subprocess.PIPE,
                            cwd=ROOT, env=env)


def _assert_quiet_broken_pipe(proc):
    _, err = proc.communicate(timeout=300)
    err = err.decode("utf-8", "replace")
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
    assert err.strip() == ""
    assert proc.returncode == EXIT_BROKEN_PIPE == 141, (proc.returncode, err)


@BUFFERING
def test_search_into_a_reader_that_closes_after_one_line(hash_archive, unbuffered):
    idx = str(hash_archive.path)
    hash_archive.close()
    r, w = os.pipe()
    fcntl.fcntl(r, fcntl.F_SETPIPE_SZ, 4096)  # a small pipe: the ~80 KB of JSON cannot fit before we close
    proc = _popen_rag(["search", "OpenAI", "--json", "--index", idx, "-k", "50"], w, unbuffered)
    os.close(w)
    first = b""
    while b"\n" not in first:  # like `head -1`: read the first line, then go away
        chunk = os.read(r, 64)
        assert chunk, "rag wrote nothing"
        first += chunk
    assert first.split(b"\n")[0].strip() == b"["  # the JSON list was being written
    os.close(r)
    _assert_quiet_broken_pipe(proc)


@BUFFERING
def test_ask_and_stats_into_a_reader_already_gone(hash_archive, unbuffered):
    idx = str(hash_archive.path)
    hash_archive.close()
    q = "What did Apple do about Beeper Mini?"
    for args in (["ask", q, "--index", idx], ["ask", q, "--index", idx, "--json"], ["stats", "--index", idx]):
        r, w = os.pipe()
        os.close(r)  # `head -1` has already exited
        proc = _popen_rag(args, w, unbuffered)
        os.close(w)
        _assert_quiet_broken_pipe(proc)


def test_help_into_a_reader_already_gone():
    r, w = os.pipe()
    os.close(r)
    proc = _popen_rag(["--help"], w, unbuffered=False)  # argparse exits with the help still buffered
    os.close(w)
    _assert_quiet_broken_pipe(proc)
