"""Concurrency: 20 questions at once through the Python API and through the Gradio API give no
errors and the same answers as one at a time; queries during an ingest keep working and see
the index before the ingest or after it, never half of it."""
from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag.archive import Archive
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "rag" / "sample" / "multihop-sample.jsonl"
SEED = ROOT / "tests" / "data" / "ksmo-alibaba-pla-memo.txt"

QUESTIONS = [
    "What does the Pentagon memo allege about Alibaba and the Chinese military?",
    "How did Alibaba respond to the Pentagon memo?",
    "Which newspaper first reported the Pentagon memo about Alibaba?",
    "What veto power did OpenAI give its board over risky AI?",
    "What is OpenAI's new safety advisory group?",
    "What are early impressions of Google's Gemini?",
    "Which products will Gemini power?",
    "When did Sam Bankman-Fried's criminal trial start?",
    "What was Sam Bankman-Fried's role at FTX?",
    "How did Apple try to shut down Beeper Mini?",
    "What does Beeper Mini bring to Android users?",
    "Is Beeper Mini back in operation?",
    "What does the Microsoft Activision deal mean for gamers?",
    "How much did Microsoft pay for Activision Blizzard?",
    "Which Kindle deals are in Amazon's Cyber Monday sale?",
    "What Echo and Fire TV deals did Amazon offer on Cyber Monday?",
    "Who won the 2023 Nobel Prize in Literature?",
    "What did the Financial Times report about the People's Liberation Army?",
    "What did OpenAI announce about its preparedness framework?",
    "Which outlet reported on Gemini's launch?",
]


def _plain(d: dict) -> dict:
    d = dict(d)
    d.pop("timing_ms", None)
    return d


def test_twenty_questions_at_once_through_the_python_api(minilm_archive):
    sequential = [_plain(minilm_archive.ask(q).to_dict()) for q in QUESTIONS]
    start = threading.Barrier(20)

    def ask(q: str) -> dict:
        start.wait(timeout=60)  # all twenty start together
        return _plain(minilm_archive.ask(q).to_dict())

    for _round in range(2):
        with ThreadPoolExecutor(20) as pool:
            concurrent = list(pool.map(ask, QUESTIONS))
        assert concurrent == sequential
    assert sum(not a["abstained"] for a in sequential) >= 10  # real answers, not just refusals


def test_twenty_questions_at_once_through_the_gradio_api(minilm_archive, tmp_path):
    pytest.importorskip("gradio")
    from gradio_client import Client

    import ui
    from tests.test_ui_api import free_port

    app = ui.build_app(minilm_archive, minilm_archive.settings, runs_dir=tmp_path)
    _, url, _ = ui.launch_app(app, minilm_archive.settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        sequential = [_plain(minilm_archive.ask(q).to_dict()) for q in QUESTIONS]
        clients = [Client(url, verbose=False) for _ in range(20)]
        start = threading.Barrier(20)

        def ask(i: int) -> dict:
            start.wait(timeout=60)
            return _plain(clients[i].predict(question=QUESTIONS[i], api_name="/ask"))

        with ThreadPoolExecutor(20) as pool:
            got = list(pool.map(ask, range(20)))
        for g, want in zip(got, sequential):
            assert g == want
    finally:
        app.close()


# ---- queries during an ingest ----------------------------------------------------------------
PROBES = [
    "Alibaba Chinese military memo", "OpenAI board veto safety", "Gemini Google Bard", "Sam Bankman-Fried trial FTX",
    "Beeper Mini Apple iMessage", "Microsoft Activision deal", "Cyber Monday Amazon deals", "Tesla electric vehicles",
    "Nvidia chips export China", "cryptocurrency exchange bankruptcy",
]


def _hash(path: Path) -> Settings:
    return Settings.load(env={}, index=str(path), embedder="hash")


def _results(archive: Archive) -> dict[str, list[tuple[str, float]]]:
    return {q: [(h.chunk.id, round(h.score, 6)) for h in archive.search(q, k=8)] for q in PROBES}


@pytest.fixture(scope="module")
def ingest_corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("concurrent-corpus")
    lines = [ln for ln in SAMPLE.read_text(encoding="utf-8").splitlines() if ln.strip()]
    base, new = d / "base.jsonl", d / "new"
    new.mkdir()
    base.write_text("\n".join(lines[:20]) + "\n", encoding="utf-8")
    (new / "more.jsonl").write_text("\n".join(lines[20:]) + "\n", encoding="utf-8")
    shutil.copy(SEED, new / SEED.name)
    return base, new


def test_queries_during_an_ingest_see_the_old_or_the_new_index(ingest_corpus, tmp_path, monkeypatch):
    import rag.ingest.pipeline as ingest_mod

    base, new = ingest_corpus
    idx = tmp_path / "idx"
    Archive.create(idx, _hash(idx)).ingest([base])
    after_idx = tmp_path / "after"
    shutil.copytree(idx, after_idx)
    before = _results(Archive.open(idx, _hash(idx)))
    after_archive = Archive.open(after_idx, _hash(after_idx))
    after_archive.ingest([new])
    after = _results(after_archive)
    changed = [q for q in PROBES if before[q] != after[q]]
    assert len(changed) >= 3, "the new articles must change what the probes find"

    monkeypatch.setattr(ingest_mod, "BATCH_CHUNKS", 16)  # many commits while the readers read
    writer = Archive.open(idx, _hash(idx))
    readers = [writer, Archive.open(idx, _hash(idx))]  # the ingesting archive itself, and another
    for r in readers:
        _results(r)  # warm: snapshots loaded before the ingest starts
    done = threading.Event()
    seen = {"old": 0, "new": 0, "queries": 0}
    errors: list[str] = []

    def ingest() -> None:
        try:
            writer.ingest([new])
        except Exception as exc:  # noqa: BLE001
            errors.append(f"ingest: {exc!r}")
        finally:
            done.set()

    def read(archive: Archive) -> None:
        while True:
            finished = done.is_set()
            for q in PROBES:
                try:
                    got = [(h.chunk.id, round(h.score, 6)) for h in archive.search(q, k=8)]
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"{q}: {exc!r}")
                    return
                seen["queries"] += 1
                if got == before[q] and got == after[q]:
                    continue
                if got == before[q]:
                    seen["old"] += 1
                elif got == after[q]:
                    seen["new"] += 1
                else:
                    errors.append(f"{q}: neither the old nor the new results")
            if finished:
                return

    threads = [threading.Thread(target=ingest)] + [threading.Thread(target=read, args=(r,)) for r in readers for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:5]
    assert seen["old"] > 0 and seen["new"] > 0, seen  # the readers were there before and after
    for r in readers:
        assert _results(r) == after
    print(f"\nqueries during ingest: {seen['queries']} searches in {time.perf_counter() - t0:.1f} s, "
          f"{seen['old']} saw the old index, {seen['new']} the new, 0 errors")
