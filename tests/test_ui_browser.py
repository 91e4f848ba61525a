"""The chat UI in a real browser: Playwright driving Debian's Chromium (headless), against the
app served by the test on 127.0.0.1 over the small MiniLM archive (seed + mini corpus).

Asks about the seed article, waits for the streamed answer, checks the citation chips and the
sources panel (headline, outlet, highlighted quote), clicks a citation, asks a follow-up,
uploads files in the Archive tab, and saves screenshots in the test's output folder. No request
may leave 127.0.0.1.
"""
from __future__ import annotations

import os
import re
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


RUNS: dict[str, str] = {}  # app url -> its runs folder


def ui_runs_dir(url: str) -> str:
    return RUNS[url]


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
    RUNS[url] = str(runs)
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


@contextmanager
def served_page(archive, runs: Path):
    """The chat over ``archive`` served on 127.0.0.1, and a Chromium page open on it (the
    question box loaded); the server is closed afterwards."""
    app = ui.build_app(archive, archive.settings, runs_dir=runs)
    _, url, _ = ui.launch_app(app, archive.settings, port=free_port(), runs_dir=runs, prevent_thread_lock=True, quiet=True)
    try:
        with chromium_page() as page:
            page.goto(url)
            page.locator("#question textarea").wait_for()
            yield page
    finally:
        app.close()


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


WHO = "Which company is Apple reportedly planning to work with on Apple Intelligence features for iPhones sold in China?"


def test_direct_answer_in_bold_in_browser(page, app_url, minilm_archive, tmp_path):
    """A "which company" question: when the answer has a direct answer (``direct`` in its JSON),
    the chat shows it in bold on its own line above the evidence, with its chips; otherwise no
    bold line is drawn."""
    expected = minilm_archive.ask(WHO).to_dict()
    page.goto(app_url)
    page.locator("#question textarea").wait_for()
    ask(page, WHO, 0)
    answer = page.locator("#chat .nr-answer").last
    direct = answer.locator(".direct")
    if expected["direct"] is None:
        assert direct.count() == 0 and answer.locator("strong").count() == 0
    else:
        bold = direct.locator("strong").first
        want = re.sub(r"\s*\[\d+\]", "", expected["direct"]["text"]).strip()
        assert want.startswith(bold.inner_text().strip())
        weight = bold.evaluate("el => getComputedStyle(el).fontWeight")
        assert int(weight) >= 600
        assert direct.locator("a.cite").count() == len(expected["direct"]["citations"]) or "[" in expected["direct"]["text"]
        evidence = answer.locator(".evidence")
        if evidence.count():
            assert direct.bounding_box()["y"] + direct.bounding_box()["height"] <= evidence.bounding_box()["y"] + 1
    removed = answer.locator("details.removed")
    assert removed.count() == (1 if expected["removed_sentences"] else 0)
    page.screenshot(path=str(tmp_path / "direct.png"))
    assert page.errors == []  # type: ignore[attr-defined]
    assert page.outside == []  # type: ignore[attr-defined]


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

    # run an eval from the tab: the bundled sample QA set, first 3 questions, on the open archive
    runs = Path(ui_runs_dir(app_url))
    before = {p.name for p in runs.iterdir()}
    playwright_api.expect(page.locator("#eval-source")).to_contain_text("Bundled sample QA set")
    page.locator("#eval-source").get_by_label("Bundled sample QA set", exact=False).check()
    page.locator("#eval-limit input").fill("3")
    page.locator("#eval-run").click()
    status = page.locator("#eval-status")
    playwright_api.expect(status).to_contain_text("Evaluated on", timeout=LONG)
    report = page.locator("#eval-report")
    playwright_api.expect(report).to_contain_text("Eval report: sample_qa.jsonl")
    playwright_api.expect(report).to_contain_text("3 questions")
    assert report.locator("table").count() >= 2  # summary and per-type tables rendered from markdown
    assert "recall@5" not in report.inner_text()  # the new run's report replaced the old one
    imgs = page.locator("#eval-plots img")
    imgs.first.wait_for()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=imgs.first.element_handle())
    assert imgs.count() == 2
    (new,) = {p.name for p in runs.iterdir()} - before  # one fresh, timestamped run folder
    assert {"report.md", "metrics.json", "answers.jsonl", "metrics_by_type.png", "hits_at_k.png"} <= {p.name for p in (runs / new).iterdir()}
    assert new in status.inner_text()
    page.screenshot(path=str(tmp_path / "7-eval-run.png"), full_page=True)
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
    try:
        with served_page(archive, runs) as page:
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
        archive.close()


def test_llm_answer_direct_in_bold_and_removed_on_request(tmp_path, corpus_dir):
    """An LLM answer (a scripted OpenAI-compatible server on 127.0.0.1) that opens with a direct
    answer and adds an invented sentence: the chat shows the direct answer in bold on its own
    line above the evidence, and the invented sentence only inside a folded "removed" note."""
    from rag.archive import Archive
    from rag.settings import Settings
    from tests.fakes import ScriptedLLMServer

    evidence = ("Apple is reportedly planning to collaborate with Alibaba to integrate its Apple Intelligence AI "
                "features into iPhones sold in China.")
    invented = "The company also announced a $50 billion buyback."
    with ScriptedLLMServer(f"Alibaba. [1]\n{evidence}[1] {invented}[1]") as llm:
        settings = Settings.load(env={}, index=str(tmp_path / "idx"), embedder="hash", llm_base_url=llm.base_url,
                                 llm_model="scripted-model", answerer="llm")
        archive = Archive.create(settings=settings)
        archive.ingest([corpus_dir])
        try:
            with served_page(archive, tmp_path / "runs") as page:
                ask(page, WHO, 0)
                answer = page.locator("#chat .nr-answer").last
                bold = answer.locator(".direct strong")
                assert bold.count() == 1 and bold.inner_text().strip() == "Alibaba."
                assert int(bold.evaluate("el => getComputedStyle(el).fontWeight")) >= 600
                assert answer.locator(".direct a.cite").count() == 1
                direct_box, evidence_box = answer.locator(".direct").bounding_box(), answer.locator(".evidence").bounding_box()
                assert direct_box["y"] + direct_box["height"] <= evidence_box["y"] + 1  # its own line, above
                assert "Apple is reportedly planning" in answer.locator(".evidence").inner_text()
                fold = answer.locator("details.removed")
                assert fold.count() == 1 and fold.get_attribute("open") is None
                assert "1 sentence removed" in fold.locator("summary").inner_text()
                playwright_api.expect(fold.locator("li")).to_be_hidden()  # shown on request only
                fold.locator("summary").click()
                playwright_api.expect(fold.locator("li")).to_have_text(invented)
                page.screenshot(path=str(tmp_path / "direct-llm.png"))
                assert page.errors == []  # type: ignore[attr-defined]
                assert page.outside == []  # type: ignore[attr-defined]
        finally:
            archive.close()


def test_timeline_tab_in_browser(page, app_url, minilm_archive, tmp_path):
    """The Timeline tab: a story query draws its events and lists them; opening an event shows
    its source with the quote, an exact body span, in <mark>."""
    expected = minilm_archive.timeline("Sam Bankman-Fried FTX trial")
    assert expected.events
    page.goto(app_url)
    page.get_by_role("tab", name="Timeline").click()
    box = page.locator("#tl-query textarea")
    box.fill("Sam Bankman-Fried FTX trial")
    page.locator("#tl-btn").click()
    events = page.locator("#tl-events details.tl-event")
    events.first.wait_for(timeout=LONG)
    assert events.count() == len(expected.events)
    # the date axis is drawn: the figure's image (it may arrive after the list; the hidden icon
    # of the empty plot does not count)
    page.locator("#tl-plot img").first.wait_for(state="visible", timeout=LONG)
    first = events.first
    assert expected.events[0].date.isoformat() in first.locator("summary").inner_text()
    mark = first.locator("mark").first
    assert not mark.is_visible()  # folded until clicked
    first.locator("summary").click()
    mark.wait_for(state="visible")
    src = expected.events[0].sources[0]
    assert mark.inner_text().strip() == src.quote.strip()
    assert minilm_archive.store.records.get_article(src.article_id).body[src.start:src.end] == src.quote
    page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    assert page.outside == []  # type: ignore[attr-defined]


def test_compare_tab_in_browser(page, app_url, minilm_archive, tmp_path):
    """The Compare outlets tab: a query naming two outlets shows one column per outlet, each
    passage's quote (an exact body span) highlighted, and the differences section."""
    query = "What did TechCrunch and BBC News - Technology report about deals?"
    expected = minilm_archive.compare(query)
    assert [v.outlet for v in expected.outlets] == ["TechCrunch", "BBC News - Technology"]
    page.goto(app_url)
    page.get_by_role("tab", name="Compare outlets").click()
    page.locator("#cmp-query textarea").fill(query)
    page.locator("#cmp-btn").click()
    cols = page.locator("#cmp-view .cmp-col")
    cols.first.wait_for(timeout=LONG)
    assert cols.count() == 2
    assert [cols.nth(i).locator("h4").inner_text() for i in range(2)] == ["TechCrunch", "BBC News - Technology"]
    src = expected.outlets[1].passages[0]
    mark = cols.nth(1).locator("summary mark").first
    assert mark.inner_text().strip() == src.quote.strip()
    assert minilm_archive.store.records.get_article(src.article_id).body[src.start:src.end] == src.quote
    assert "What differs" in page.locator("#cmp-view").inner_text()
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)

    # the last answer opens with its cited outlets side by side (several: exactly those)
    from rag.stories.compare_view import outlets_of

    question = "What did Apple do about Beeper Mini?"
    cited = outlets_of(minilm_archive.ask(question).sources)
    page.get_by_role("tab", name="Chat").click()
    ask(page, question, 0)
    page.get_by_role("tab", name="Compare outlets").click()
    page.locator("#cmp-last").click()
    page.wait_for_function("(q) => document.querySelector('#cmp-query textarea').value === q", arg=question, timeout=LONG)
    heads = page.locator("#cmp-view .cmp-col h4")
    heads.first.wait_for(timeout=LONG)
    shown = [heads.nth(i).inner_text() for i in range(heads.count())]
    assert cited and set(cited) <= set(shown), (cited, shown)  # every outlet the answer cites has a column
    assert page.errors == []  # type: ignore[attr-defined]
    assert page.outside == []  # type: ignore[attr-defined]


def test_an_earlier_answer_opens_its_outlets_side_by_side(page, app_url, minilm_archive, tmp_path):
    """Two answers each citing two outlets end with a "Set side by side" line; clicking the FIRST
    one's line switches to the Compare outlets tab with that answer's question and outlets as
    columns, each with its quotes; a click elsewhere in an answer stays in the chat."""
    from rag.stories.compare_view import outlets_of
    from tests.test_ui_api import OTHER_TWO, TWO_OUTLETS

    cited = outlets_of(minilm_archive.ask(TWO_OUTLETS).sources)
    assert len(cited) == 2
    page.goto(app_url)
    page.locator("#question textarea").wait_for()
    ask(page, TWO_OUTLETS, 0)
    ask(page, OTHER_TWO, 1)
    answers = page.locator("#chat .nr-answer")
    lines = page.locator("#chat .nr-answer .cmp-open")
    assert lines.count() == 2
    assert lines.first.inner_text().strip() == f"⇄ Set side by side: {' · '.join(cited)} — click here"
    page.screenshot(path=str(tmp_path / "cmp-1-chat.png"))

    chat_tab, compare_tab = page.get_by_role("tab", name="Chat"), page.get_by_role("tab", name="Compare outlets")
    assert chat_tab.get_attribute("aria-selected") == "true"
    answers.nth(1).locator(".meta").click()  # not the line: nothing opens
    page.wait_for_timeout(1500)
    assert chat_tab.get_attribute("aria-selected") == "true" and page.locator("#chat").is_visible()

    answers.first.locator(".cmp-open").click()
    playwright_api.expect(compare_tab).to_have_attribute("aria-selected", "true", timeout=LONG)  # the tab switched
    view = page.locator("#cmp-view")
    playwright_api.expect(view).to_be_visible()
    page.wait_for_function("(q) => document.querySelector('#cmp-query textarea').value === q", arg=TWO_OUTLETS, timeout=LONG)
    cols = view.locator(".cmp-col")
    cols.first.wait_for(timeout=LONG)
    assert [cols.nth(i).locator("h4").inner_text() for i in range(cols.count())] == cited
    expected = minilm_archive.compare(TWO_OUTLETS, cited)
    for i, side in enumerate(expected.outlets):
        marks = cols.nth(i).locator("summary mark")
        assert marks.count() == len(side.passages) >= 1
        # the same words: HTML shows a quote that spans a paragraph break on one line
        assert marks.first.inner_text().split() == side.passages[0].quote.split()
        body = minilm_archive.store.records.get_article(side.passages[0].article_id).body
        assert body[side.passages[0].start:side.passages[0].end] == side.passages[0].quote
    page.screenshot(path=str(tmp_path / "cmp-2-first-answer.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    assert page.outside == []  # type: ignore[attr-defined]
