"""The `rag` command as a user runs it: a real subprocess, real files, exit codes, JSON shape."""
from __future__ import annotations

import json
import os
import subprocess
import sys

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
    out = rag("ingest", str(corpus_dir), "--index", idx, "--quiet", "--json").stdout
    assert json.loads(out)["unchanged"] == 7

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
