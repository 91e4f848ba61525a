"""The same ingest/search/ask behaviour against a `chroma run` server on 127.0.0.1, selected by
the chroma_url setting: the server CI started (``$RAG_TEST_CHROMA_URL``, see ``.ci/run``), else
one started and stopped by this test, by its own PID. Each test uses its own collection."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from rag.archive import Archive
from rag.errors import BackendUnavailable

CHROMA = Path(os.sys.executable).parent / "chroma"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_settings(settings, url: str, tmp_path: Path):
    """``settings`` on the server ``url``, with an index folder (so a collection) of its own:
    a shared server outlives one test."""
    return settings.with_(chroma_url=url, index=str(tmp_path / f"srv_{uuid.uuid4().hex[:10]}"))


@pytest.fixture
def chroma_server(tmp_path):
    """URL of a running `chroma run` server."""
    shared = os.environ.get("RAG_TEST_CHROMA_URL")
    if shared:
        yield shared
        return
    if not CHROMA.exists():
        pytest.skip("chroma CLI not installed in this environment")
    port = _free_port()
    log = open(tmp_path / "chroma.log", "wb")
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "chroma-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, ANONYMIZED_TELEMETRY="False"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited: {(tmp_path / 'chroma.log').read_text()[-500:]}")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not come up in 60 s")
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_ingest_search_ask_against_a_chroma_server(hash_settings, corpus_dir, chroma_server, tmp_path):
    settings = server_settings(hash_settings, chroma_server, tmp_path)
    a = Archive.create(settings=settings)
    r = a.ingest([corpus_dir])
    assert r.new == 7
    assert not (a.path / "chroma").exists(), "vectors live on the server, not in the folder"
    assert a.store.vectors.count() == a.store.records.counts()["chunks"]
    hits = a.search("Beeper Mini Apple", k=3)
    assert "Beeper" in hits[0].chunk.title
    ans = a.ask("What does the Pentagon memo allege about Alibaba?")
    assert not ans.abstained and ans.sources[0].outlet == "KSMO Santa Monica"
    # re-ingest is a no-op on the server too
    r2 = Archive.open(settings=settings).ingest([corpus_dir])
    assert r2.unchanged == 7 and r2.chunks_added == 0


def test_unreachable_server_is_one_clear_error(hash_settings):
    port = _free_port()
    with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{port}"):
        Archive.create(settings=hash_settings.with_(chroma_url=f"http://127.0.0.1:{port}"))
