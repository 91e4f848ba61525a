"""The chat UI in a real browser: Playwright driving Debian's Chromium (headless), against the
app served by the test on 127.0.0.1 over the small MiniLM archive (seed + mini corpus).

Asks about the seed article, waits for the streamed answer, checks the citation chips and the
sources panel (headline, outlet, highlighted quote), clicks a citation, asks a follow-up,
uploads files in the Archive tab, and saves screenshots in the test's output folder. No request
may leave 127.0.0.1.
"""
from __future__ import annotations

import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} missing: run `make browser` (apt-get install chromium)"),
    pytest.mark.filterwarnings("ignore:::gradio.queueing"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

import ui  # noqa: E402

DATA = Path(__file__).parent / "data"
QUESTION = "What does the Pentagon memo allege about Alibaba and the Chinese military?"
FOLLOW_UP = "what did the company say about it?"
HEADLINE = "U.S. Defense Memo Exposes Alleged Ties Between Alibaba and Chinese Military"
OUTLET = "KSMO Santa Monica"
HOSTILE = 'Who won Eurovision in 1994? <img src=x onerror="window.__xss=1">'
LONG = 180_000  # ms: the first question loads the models


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(minilm_archive, tmp_path_factory):
    """The UI served by this test on a free local port; closed afterwards."""
    runs = tmp_path_factory.mktemp("runs")
    (runs / "run-1").mkdir()
    (runs / "run-1" / "report.md").write_text("# Eval report\n\n| metric | value |\n|---|---|\n| recall@5 | 0.93 |\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["recall@5", "citation precision"], [0.93, 0.88])
    fig.savefig(runs / "run-1" / "metrics.png")
    plt.close(fig)
    app = ui.build_app(minilm_archive, minilm_archive.settings, runs_dir=runs)
    _, url, _ = ui.launch_app(app, minilm_archive.settings, port=free_port(), runs_dir=runs, prevent_thread_lock=True, quiet=True)
    yield url
    app.close()


@pytest.fixture
def page(app_url):
    """A Chromium page that records every request leaving 127.0.0.1."""
    with chromium_page() as pg:
        yield pg


@contextmanager
def chromium_page():
    """A Chromium page (headless) that records every request leaving 127.0.0.1 in
    ``.outside`` and every page error in ``.errors``."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.outside = []  # type: ignore[attr-defined]
        pg.errors = []  # type: ignore[attr-defined]

        def record(request):
            host = urlparse(request.url).hostname
            if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in ("127.0.0.1", "localhost"):
                pg.outside.append(request.url)

        pg.on("request", record)
        pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
        try:
            yield pg
        finally:
            browser.close()


def ask(page, question: str, answers_before: int) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    # the bubble streams first, then the verified answer (with its footer line) replaces it
    page.locator("#chat .nr-answer .meta").nth(answers_before).wait_for(timeout=LONG)


def test_chat_in_browser(page, app_url, tmp_path):
    page.goto(app_url)
    page.locator("#question textarea").wait_for()
    ask(page, QUESTION, 0)
    answer = page.locator("#chat .nr-answer").last
    chips = answer.locator("a.cite")
    assert chips.count() >= 1
    assert "No answer" not in answer.inner_text()
    panel = page.locator("#sources")
    text = panel.inner_text()
    assert HEADLINE in text and OUTLET in text and "undated" in text
    marks = panel.locator(".nr-src mark")
    assert marks.count() >= 1
    seed = (DATA / "ksmo-alibaba-pla-memo.txt").read_text(encoding="utf-8")
    quote = marks.first.inner_text().strip()
    assert len(quote) > 40 and quote in seed and quote in answer.inner_text()
    page.screenshot(path=str(tmp_path / "1-answer.png"))

    href = chips.first.get_attribute("href")
    assert href and href.startswith("#src-1-")
    chips.first.click()
    target = page.locator(href)
    page.wait_for_function("id => document.getElementById(id).classList.contains('active')", arg=href[1:])
    assert page.locator(".nr-src.active").count() == 1
    playwright_api.expect(target).to_be_in_viewport()
    page.screenshot(path=str(tmp_path / "2-citation-clicked.png"))

    ask(page, FOLLOW_UP, 1)
    second = page.locator("#chat .nr-answer").last
    searching = second.locator(".searching").inner_text()
    assert "Searching for:" in searching and "Alibaba" in searching
    assert second.locator("a.cite").count() >= 1
    assert second.locator("a.cite").first.get_attribute("href").startswith("#src-2-")
    assert "Answer 2:" in panel.inner_text() and page.locator("#sources details").count() == 1
    page.screenshot(path=str(tmp_path / "3-follow-up.png"))

    ask(page, HOSTILE, 2)
    assert page.evaluate("window.__xss") is None
    refusal = page.locator("#chat .nr-answer").last
    assert refusal.locator(".refusal").count() == 1 and "No answer." in refusal.inner_text()  # shown as a refusal
    assert refusal.locator("a.cite").count() == 0
    assert page.locator("#chat img[src='x']").count() == 0
    page.screenshot(path=str(tmp_path / "4-escaped.png"), full_page=True)

    assert page.errors == []  # type: ignore[attr-defined]
    assert page.outside == []  # type: ignore[attr-defined]
    print(f"screenshots in {tmp_path}")


def test_archive_and_evals_tabs_in_browser(page, app_url, minilm_archive, tmp_path):
    page.goto(app_url)
    page.get_by_role("tab", name="Archive").click()
    stats = page.locator("#stats")
    articles = minilm_archive.stats()["articles"]
    playwright_api.expect(stats).to_contain_text(str(articles))
    playwright_api.expect(stats).to_contain_text(OUTLET)

    # a copy of an ingested file (unchanged: the shared index is not modified) and a broken one
    upload = tmp_path / "upload"
    upload.mkdir()
    shutil.copy(DATA / "mini.jsonl", upload / "mini copy.jsonl")
    (upload / "broken.json").write_text('{"title": "half a record"', encoding="utf-8")
    page.locator("#uploads input[type=file]").set_input_files([str(upload / "mini copy.jsonl"), str(upload / "broken.json")])
    for name in ("mini copy.jsonl", "broken.json"):  # a download link appears once the upload is done
        page.locator(f'#uploads a[download="{name}"]').wait_for()
    page.locator("#ingest-btn").click()
    report = page.locator("#ingest-report")
    playwright_api.expect(report).to_contain_text("Ingest:", timeout=LONG)
    text = report.inner_text()
    assert "0 new" in text and "unchanged" in text and "broken.json" in text and "problem" in text
    saved = sorted(p.name for p in (minilm_archive.path / "uploads").iterdir())
    assert "mini_copy.jsonl" in saved and "broken.json" in saved
    page.screenshot(path=str(tmp_path / "5-archive.png"), full_page=True)

    page.get_by_role("tab", name="Evals").click()
    playwright_api.expect(page.locator("#eval-report")).to_contain_text("recall@5")
    img = page.locator("#eval-plots img").first
    img.wait_for()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=img.element_handle())
    page.screenshot(path=str(tmp_path / "6-evals.png"))
    assert page.errors == []  # type: ignore[attr-defined]
    assert page.outside == []  # type: ignore[attr-defined]


def test_sources_panel_shows_where_else_the_story_ran(hash_settings, tmp_path):
    """Over an archive where one wire story ran in two outlets (a light re-run), the sources
    panel cites the story once and says where else it ran; the other outlet is linked."""
    import json

    from rag.archive import Archive
    from tests.test_syndication import ITEMS, RAIL_QUESTION, RAIL_URLS

    f = tmp_path / "rail.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in ITEMS), encoding="utf-8")
    archive = Archive.create(settings=hash_settings)
    archive.ingest([f])
    runs = tmp_path / "runs"
    runs.mkdir()
    app = ui.build_app(archive, archive.settings, runs_dir=runs)
    _, url, _ = ui.launch_app(app, archive.settings, port=free_port(), runs_dir=runs, prevent_thread_lock=True, quiet=True)
    try:
        with chromium_page() as page:
            page.goto(url)
            page.locator("#question textarea").wait_for()
            ask(page, RAIL_QUESTION, 0)
            panel = page.locator("#sources")
            cards = panel.locator(".nr-src")
            hrefs = [cards.nth(i).locator(".src-title a").get_attribute("href") for i in range(cards.count())]
            rail = [i for i, h in enumerate(hrefs) if h in RAIL_URLS]
            # the story is cited from one outlet's copy, not once per outlet (several passages of
            # that copy may be cited)
            assert rail and len({hrefs[i] for i in rail}) == 1
            card = cards.nth(rail[0])
            meta, also = card.locator(".src-meta").inner_text(), card.locator(".src-also").inner_text()
            other = "Valley Courier" if "Riverside Ledger" in meta else "Riverside Ledger"
            assert also.startswith("Also ran in:") and other in also
            link = card.locator(".src-also a")
            assert link.count() == 1 and link.get_attribute("href") in RAIL_URLS
            assert panel.locator(".src-also").count() == len(rail)
            page.screenshot(path=str(tmp_path / "also-ran-in.png"))
            assert page.errors == []  # type: ignore[attr-defined]
            assert page.outside == []  # type: ignore[attr-defined]
    finally:
        app.close()
        archive.close()
