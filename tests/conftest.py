"""Shared fixtures: small real corpora, settings for fast (bag-of-words) and real (MiniLM)
embedding, and a built index per session so tests do not re-embed the same texts."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rag.settings import Settings  # noqa: E402

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
SEED = DATA / "ksmo-alibaba-pla-memo.txt"
MINI = DATA / "mini.jsonl"


@pytest.fixture
def hash_settings(tmp_path) -> Settings:
    """Settings with the deterministic bag-of-words embedder and a fresh index folder."""
    return Settings.load(env={}, index=str(tmp_path / "idx"), embedder="hash")


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    """A folder holding the seed article and the six-article JSONL corpus (copies)."""
    d = tmp_path / "corpus"
    d.mkdir()
    shutil.copy(SEED, d / SEED.name)
    shutil.copy(MINI, d / MINI.name)
    return d


@pytest.fixture
def hash_archive(hash_settings, corpus_dir):
    """The seed + mini corpus indexed with the bag-of-words embedder (fresh per test)."""
    from rag.archive import Archive

    a = Archive.create(settings=hash_settings)
    a.ingest([corpus_dir])
    return a


@pytest.fixture(scope="session")
def minilm_archive(tmp_path_factory):
    """The mini corpus + seed indexed with the default embedder, the real packaged MiniLM (int8;
    built once per session)."""
    from rag.archive import Archive

    idx = tmp_path_factory.mktemp("minilm") / "idx"
    archive = Archive.create(idx, Settings.load(env={}, index=str(idx)))
    archive.ingest([SEED, MINI])
    return archive
