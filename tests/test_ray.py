"""`rag ingest --ray`: parsing and chunking as Ray Data tasks, embedding on Ray actors, on a
local Ray cluster, writing to a `chroma run` server. The index it builds equals the
single-process one (same chunk ids, same records, same vectors). Skipped when Ray is not
installed (``pip install 'newsrag[ray]'``)."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from rag.archive import Archive
from rag.errors import BackendUnavailable
from tests.test_chroma_server import chroma_server, server_settings  # noqa: F401 - the fixture

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _state(archive: Archive):
    ids = archive.store.records.chunk_ids()
    vecs = archive.store.vectors.get_vectors(ids)
    return ids, vecs


def test_ray_ingest_equals_the_single_process_one(hash_settings, corpus_dir, chroma_server, tmp_path, monkeypatch, capsys):
    pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    from rag.cli import main

    single = server_settings(hash_settings, chroma_server, tmp_path)
    a = Archive.create(settings=single)
    ra = a.ingest([corpus_dir])

    distributed = server_settings(hash_settings, chroma_server, tmp_path)
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    monkeypatch.setenv("RAG_CHROMA_URL", distributed.chroma_url)
    code = main(["ingest", str(corpus_dir), "--index", distributed.index, "--ray", "--quiet", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert '"new": 7' in out

    b = Archive.open(settings=distributed)
    assert not (b.path / "chroma").exists(), "vectors live on the server"
    ids_a, vecs_a = _state(a)
    ids_b, vecs_b = _state(b)
    assert ids_b == ids_a and len(ids_a) == ra.chunks_added
    assert b.store.vectors.count() == len(ids_b)
    assert all(np.allclose(vecs_a[c], vecs_b[c], atol=1e-6) for c in ids_a)
    assert b.store.records.counts() == a.store.records.counts()
    assert b.search("Beeper Mini Apple", k=1)[0].chunk.id == a.search("Beeper Mini Apple", k=1)[0].chunk.id


def test_without_ray_the_error_names_the_extra(hash_settings, corpus_dir, monkeypatch):
    from rag.ingest.ray_ingest import ingest_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(BackendUnavailable, match=r"newsrag\[ray\]"):
        ingest_ray(Archive.create(settings=hash_settings), [corpus_dir])
