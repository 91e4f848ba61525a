"""Load test on loopback: the chat app serving the small MiniLM archive, 200 questions from 10
client threads through the ``/ask`` API (gradio_client), bounded in time. Reports p50/p95 and
errors; there must be none, and every answer must be the one `rag ask --json` gives."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:::gradio.queueing")]

from gradio_client import Client  # noqa: E402

import ui  # noqa: E402
from tests.test_concurrency import QUESTIONS  # noqa: E402
from tests.test_ui_api import free_port  # noqa: E402

CLIENTS = 10
TOTAL = 200
BUDGET_S = 420  # the whole run; each question also has its own timeout


def _plain(d: dict) -> dict:
    d = dict(d)
    d.pop("timing_ms", None)
    return d


def test_two_hundred_questions_from_ten_clients(minilm_archive, tmp_path):
    expected = {q: _plain(minilm_archive.ask(q).to_dict()) for q in QUESTIONS}
    app = ui.build_app(minilm_archive, minilm_archive.settings, runs_dir=tmp_path)
    _, url, _ = ui.launch_app(app, minilm_archive.settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    latencies: list[float] = []
    errors: list[str] = []
    wrong: list[str] = []
    lock = threading.Lock()
    try:
        clients = [Client(url, verbose=False) for _ in range(CLIENTS)]
        deadline = time.monotonic() + BUDGET_S

        def worker(c: int) -> None:
            client = clients[c]
            for i in range(c, TOTAL, CLIENTS):
                if time.monotonic() > deadline:
                    with lock:
                        errors.append(f"question {i}: not asked, time budget exhausted")
                    continue
                q = QUESTIONS[i % len(QUESTIONS)]
                t = time.perf_counter()
                try:
                    job = client.submit(question=q, api_name="/ask")
                    got = job.result(timeout=120)
                except Exception as exc:  # noqa: BLE001 - counted, reported
                    with lock:
                        errors.append(f"question {i}: {type(exc).__name__}: {exc}")
                    continue
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    if _plain(got) != expected[q]:
                        wrong.append(q)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(worker, range(CLIENTS)))
        wall = time.perf_counter() - t0
    finally:
        app.close()
    lat = sorted(latencies)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] * 1000 if lat else float("nan")

    print(f"\nload test: {TOTAL} questions, {CLIENTS} clients over loopback in {wall:.1f} s "
          f"({len(lat) / wall:.1f} q/s); latency p50 {pct(50):.0f} ms, p95 {pct(95):.0f} ms, max {pct(100):.0f} ms; "
          f"errors {len(errors)}; answers differing from `rag ask` {len(wrong)}")
    assert errors == [], errors[:5]
    assert len(lat) == TOTAL and wrong == []
