"""The chat as a service: hostile article text and titles render as text in a real browser
(Chromium via Playwright) and run nothing; uploads keep their size and type limits, safe names
and folder; the app binds 127.0.0.1 only; with auth, every page and API route refuses an
unauthenticated request.

The archive here uses the bag-of-words embedder (fast) over two ordinary articles and two
hostile ones whose title, outlet, author and body carry ``<script>`` and ``onerror=`` payloads.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytest.importorskip("gradio")
httpx = pytest.importorskip("httpx")
pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")

import ui  # noqa: E402
from rag.archive import Archive  # noqa: E402
from rag.settings import Settings  # noqa: E402
from tests.conftest import MINI  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
HOSTILE = [
    {
        "title": f"Maple Street park budget {SCRIPT} approved",
        "source": '<b onmouseover="window.__pwned=1">Evil Outlet</b>',
        "author": IMG,
        "published_at": "2024-05-02T10:00:00Z",
        "url": "javascript:window.__pwned=1",
        "body": (
            f"The Maple Street park budget of 4.2 million dollars was approved by the council on Tuesday {IMG} after a long debate. "
            f"Council member Ana Ruiz said the new playground would open in September {SCRIPT}.\n\n"
            "Residents asked for more trees along the river path, and the parks office agreed to plant 120 of them."
        ),
    },
    {
        "title": '"><svg onload="window.__pwned=1"> Ferry service resumes',
        "source": "Harbor Wire",
        "published_at": "2024-05-03T08:00:00Z",
        "url": "https://example.org/ferry",
        "body": (
            "The harbor ferry service resumed on Friday after three weeks of repairs to the main dock, the port authority said. "
            "Tickets cost 3 dollars and boats leave every 20 minutes. <iframe src=\"javascript:window.__pwned=1\"></iframe> "
            "${window.__pwned=1} {{window.__pwned=1}} [click](javascript:window.__pwned=1)"
        ),
    },
]
QUESTION = "How much was the Maple Street park budget that the council approved?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def hostile_archive(tmp_path_factory) -> Archive:
    d = tmp_path_factory.mktemp("ui-hostile")
    src = d / "hostile.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in HOSTILE) + "\n", encoding="utf-8")
    idx = d / "idx"
    archive = Archive.create(idx, Settings.load(env={}, index=str(idx), embedder="hash", max_upload_mb=1))
    report = archive.ingest([src, MINI])
    assert report.new == 2 + 6 and not report.errors
    stored = {a.title for a in archive.store.records.iter_articles()}
    assert any(SCRIPT in t for t in stored)  # the payload is stored as text, untouched
    return archive


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def served(hostile_archive, runs_dir):
    app = ui.build_app(hostile_archive, hostile_archive.settings, runs_dir=runs_dir)
    _, url, _ = ui.launch_app(app, hostile_archive.settings, port=free_port(), runs_dir=runs_dir, prevent_thread_lock=True, quiet=True)
    yield app, url
    app.close()


# ---- rendering in a real browser ---------------------------------------------------------------
@pytest.fixture
def page(served):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} missing: run `make browser`")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.errors, pg.dialogs, pg.outside = [], [], []  # type: ignore[attr-defined]
        pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))

        def record(request):
            host = urlparse(request.url).hostname
            if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in ("127.0.0.1", "localhost"):
                pg.outside.append(request.url)

        pg.on("request", record)
        try:
            yield pg
        finally:
            browser.close()


def _no_payload_ran(page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == [] and page.outside == []  # type: ignore[attr-defined]
    for sel in ("img[src='x']", "svg[onload]", "[onerror]", "[onmouseover]", "iframe[src^='javascript']", "a[href^='javascript']"):
        assert page.locator(sel).count() == 0, sel
    assert page.locator("#chat script, #sources script, #stats script, #eval-report script, #eval-status script").count() == 0


def _first_answer(page, url: str, question: str):
    """Open the chat at ``url``, ask ``question`` and wait for its verified answer; returns the box."""
    page.goto(url)
    box = page.locator("#question textarea")
    box.wait_for()
    box.fill(question)
    box.press("Enter")
    page.locator("#chat .nr-answer .meta").first.wait_for(timeout=120_000)
    return box


@pytest.mark.slow
@pytest.mark.browser
def test_hostile_article_text_renders_as_text(page, served, hostile_archive, tmp_path):
    _, url = served
    box = _first_answer(page, url, QUESTION)
    answer = page.locator("#chat .nr-answer").last
    assert "No answer" not in answer.inner_text()
    chips = answer.locator("a.cite")
    assert chips.count() >= 1
    chips.first.click()  # open the source it cites
    panel = page.locator("#sources")
    page.wait_for_function("() => document.querySelector('.nr-src.active') !== null")
    text = panel.inner_text()
    assert SCRIPT in text  # the headline, shown as text
    assert "Evil Outlet" in text and "<b onmouseover" in text
    assert "4.2 million dollars" in text
    shown = answer.inner_text() + text
    assert IMG in shown or "onerror=" in shown  # the body's payload, visible as text
    page.screenshot(path=str(tmp_path / "hostile-source.png"), full_page=True)
    _no_payload_ran(page)

    box.fill("When did the harbor ferry service resume?")
    box.press("Enter")
    page.locator("#chat .nr-answer .meta").nth(1).wait_for(timeout=120_000)
    page.locator("#chat .nr-answer").last.locator("a.cite").first.click()
    assert "svg onload" in panel.inner_text() or "svg onload" in page.locator("#chat").inner_text()
    _no_payload_ran(page)

    page.get_by_role("tab", name="Archive").click()  # outlet names in the stats and filters
    page.locator("#stats").wait_for()
    assert "Evil Outlet" in page.locator("#stats").inner_text()
    _no_payload_ran(page)
    assert page.errors == []  # type: ignore[attr-defined]


TWO_OUTLETS = "How much do tickets cost and how much was the park budget?"  # Evil Outlet and Harbor Wire


@pytest.mark.slow
@pytest.mark.browser
def test_hostile_outlet_names_side_by_side_render_as_text(page, served, hostile_archive, tmp_path):
    """An answer citing the hostile outlet and another ends with a "Set side by side" line; the
    line and the Compare tab it opens show the outlet's markup as text and run nothing."""
    from rag.stories.compare_view import outlets_of

    cited = outlets_of(hostile_archive.ask(TWO_OUTLETS).sources)
    evil = HOSTILE[0]["source"]
    assert evil in cited and len(cited) >= 2
    _first_answer(page, served[1], TWO_OUTLETS)
    line = page.locator("#chat .nr-answer .cmp-open")
    assert evil in line.inner_text()  # the markup, as text
    _no_payload_ran(page)
    line.click()
    heads = page.locator("#cmp-view .cmp-col h4")
    heads.first.wait_for(timeout=120_000)
    assert [heads.nth(i).inner_text() for i in range(heads.count())] == cited
    assert page.locator("#cmp-view script").count() == 0
    assert page.locator("#cmp-view b", has_text="Evil Outlet").count() == 0  # the outlet's <b> is text
    page.screenshot(path=str(tmp_path / "hostile-compare.png"), full_page=True)
    _no_payload_ran(page)
    assert page.errors == []  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.browser
def test_uploads_in_the_browser_keep_names_types_and_folder(page, served, hostile_archive, tmp_path):
    _, url = served
    src = tmp_path / "src"
    src.mkdir()
    weird = src / "evil name;$(touch pwned) ü.jsonl"
    weird.write_text(json.dumps({"title": "Uploaded story", "body": "An uploaded article about the harbor dock repairs and ferry tickets."}) + "\n")
    exe = src / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00")
    page.goto(url)
    page.get_by_role("tab", name="Archive").click()
    page.locator("#uploads input[type=file]").set_input_files([str(weird), str(exe)])
    page.wait_for_timeout(1500)
    page.locator("#ingest-btn").click()
    report = page.locator("#ingest-report")
    report.wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelector('#ingest-report').innerText.length > 10", timeout=60_000)
    uploads = hostile_archive.path / "uploads"
    names = sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []
    assert all(p.parent == uploads for p in uploads.iterdir()) if uploads.exists() else True
    assert "tool.exe" not in names  # refused (by the browser's type filter or by the server)
    if names:
        assert all(n.endswith(".jsonl") and all(ch.isalnum() or ch in "._-" for ch in n) for n in names), names
    assert not (Path.cwd() / "pwned").exists() and not (src / "pwned").exists()
    _no_payload_ran(page)


@pytest.mark.slow
@pytest.mark.browser
def test_eval_dataset_upload_is_safe_and_its_text_renders_as_text(page, served, runs_dir, tmp_path):
    """The Evals tab runs an uploaded dataset (MultiHop-RAG JSON) whose question, answer and gold
    fact carry payloads: it is stored under a safe name inside the fresh run folder, the report
    shows the payloads as text and runs nothing; a broken dataset gives a one-line error and
    leaves no run folder behind."""
    _, url = served
    src = tmp_path / "src"
    src.mkdir()
    hostile = src / "evil qa;$(touch pwned) ü.json"
    hostile.write_text(json.dumps([{
        "query": f"How much was the Maple Street park budget {SCRIPT} that the council approved?",
        "answer": IMG, "question_type": "inference_query",
        "evidence_list": [{"url": "javascript:window.__pwned=1", "title": SCRIPT, "source": IMG, "fact": f"4.2 million dollars {IMG}"}],
    }]), encoding="utf-8")
    broken = src / "broken.jsonl"
    broken.write_text('{"question": "Fine?"}\n{"answer": "a line without a question"}\n', encoding="utf-8")

    page.goto(url)
    page.get_by_role("tab", name="Evals").click()
    before = set(runs_dir.iterdir())
    page.locator("#eval-upload input[type=file]").set_input_files(str(hostile))
    playwright_api().expect(page.locator("#eval-source").get_by_label("Upload a dataset", exact=False)).to_be_checked()
    page.locator("#eval-run").click()
    status = page.locator("#eval-status")
    playwright_api().expect(status).to_contain_text("Evaluated on", timeout=180_000)
    report = page.locator("#eval-report")
    playwright_api().expect(report).to_contain_text("1 questions")
    assert SCRIPT in report.inner_text()  # the question, shown as text
    (run,) = set(runs_dir.iterdir()) - before
    names = [p.name for p in (run / "uploads").iterdir()]
    assert names == ["evil_qa_touch_pwned.json"], names
    assert (run / "report.md").is_file() and not (Path.cwd() / "pwned").exists() and not (src / "pwned").exists()
    page.screenshot(path=str(tmp_path / "eval-hostile.png"), full_page=True)
    _no_payload_ran(page)

    page.locator("#eval-upload button[aria-label='Clear']").first.click()
    page.locator("#eval-upload input[type=file]").set_input_files(str(broken))
    playwright_api().expect(page.locator("#eval-upload")).to_contain_text("broken.jsonl")
    page.locator("#eval-run").click()
    playwright_api().expect(status).to_contain_text("Error:", timeout=60_000)
    line = status.inner_text().strip()
    assert line == "Error: broken.jsonl:2: each line needs a 'question'", line
    assert set(runs_dir.iterdir()) - before == {run}  # the failed run left no folder
    _no_payload_ran(page)
    assert page.errors == []  # type: ignore[attr-defined]


def playwright_api():
    return pytest.importorskip("playwright.sync_api")


# ---- uploads over HTTP -------------------------------------------------------------------------
def test_upload_route_refuses_oversized_files_and_keeps_names_inside(served, hostile_archive, tmp_path):
    _, url = served
    limit = hostile_archive.settings.max_upload_mb * 2**20
    big = httpx.post(url + "gradio_api/upload", files={"files": ("big.json", b"x" * (limit + 1024), "application/json")})
    assert big.status_code == 413
    target = tmp_path / "escaped.json"
    evil_name = "../" * 12 + str(target).lstrip("/")
    r = httpx.post(url + "gradio_api/upload", files={"files": (evil_name, b'{"title": "t", "body": "b"}', "application/json")})
    assert r.status_code == 200
    (stored,) = r.json()
    assert not target.exists()
    from gradio.utils import get_upload_folder

    assert Path(stored).resolve().is_relative_to(Path(get_upload_folder()).resolve()) and Path(stored).name == "escaped.json"
    # what the app then does with it: a safe basename inside <index>/uploads, or a refusal
    from rag.ingest.uploads import save_uploads

    res = save_uploads(hostile_archive.path, [{"path": stored, "orig_name": evil_name}], hostile_archive.settings)
    assert res.saved == () and "'..'" in res.errors[0].reason
    res = save_uploads(hostile_archive.path, [{"path": stored, "orig_name": "/etc/cron.d/x.json"}], hostile_archive.settings)
    assert res.saved == () and "absolute" in res.errors[0].reason


# ---- binding and auth --------------------------------------------------------------------------
def _other_addresses() -> list[str]:
    out = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            out.add(info[4][0])
    except OSError:
        pass
    try:  # the address used to reach the outside, if any (no packet is sent)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            out.add(s.getsockname()[0])
    except OSError:
        pass
    return sorted(a for a in out if not a.startswith("127."))


def test_binds_loopback_only_by_default(hostile_archive, tmp_path):
    app = ui.build_app(hostile_archive, hostile_archive.settings, runs_dir=tmp_path)
    port = free_port()
    _, url, share = ui.launch_app(app, hostile_archive.settings, port=port, prevent_thread_lock=True, quiet=True)
    try:
        assert share is None and urlparse(url).hostname in ("127.0.0.1", "localhost")
        assert httpx.get(url).status_code == 200
        for addr in _other_addresses():
            with pytest.raises(OSError):
                socket.create_connection((addr, port), timeout=2).close()
    finally:
        app.close()


def test_auth_refuses_every_unauthenticated_route(hostile_archive, tmp_path):
    app = ui.build_app(hostile_archive, hostile_archive.settings, runs_dir=tmp_path)
    _, url, _ = ui.launch_app(app, hostile_archive.settings, port=free_port(), auth=("reader", "s3cret"),
                              prevent_thread_lock=True, quiet=True)
    try:
        page = httpx.get(url)
        assert "Maple Street" not in page.text and "Evil Outlet" not in page.text
        refused = {
            "config": httpx.get(url + "config"),
            "info": httpx.get(url + "gradio_api/info"),
            "openapi": httpx.get(url + "gradio_api/openapi.json"),
            "call": httpx.post(url + "gradio_api/call/ask", json={"data": [QUESTION]}),
            "run": httpx.post(url + "gradio_api/run/ask", json={"data": [QUESTION]}),
            "queue": httpx.post(url + "gradio_api/queue/join", json={"data": [QUESTION], "fn_index": 0, "session_hash": "x"}),
            "upload": httpx.post(url + "gradio_api/upload", files={"files": ("a.json", b"{}", "application/json")}),
            "file": httpx.get(url + f"gradio_api/file={hostile_archive.path / 'manifest.json'}"),
        }
        for name, resp in refused.items():
            assert resp.status_code in (401, 403), (name, resp.status_code)
            assert "Maple Street" not in resp.text
        bad = httpx.post(url + "login", data={"username": "reader", "password": "wrong"})
        assert bad.status_code in (400, 401)
        with httpx.Client() as c:
            assert c.post(url + "login", data={"username": "reader", "password": "s3cret"}).status_code == 200
            assert c.get(url + "config").status_code == 200
    finally:
        app.close()
