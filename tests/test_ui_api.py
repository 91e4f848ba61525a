"""The UI's named API endpoint ``/ask`` through gradio_client, basic auth, the ``rag ui``
command, and the HTML rendering of answers and sources (escaping, chips, highlights)."""
from __future__ import annotations

import re
import socket
from datetime import datetime, timezone

import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")
pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")  # pandas deprecations inside gradio

import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402

import ui  # noqa: E402
from rag.errors import BadInput  # noqa: E402
from rag.types import Answer, Sentence, Source  # noqa: E402

QUESTION = "What does the Pentagon memo allege about Alibaba and the Chinese military?"
KEYS = {"question", "text", "abstained", "sentences", "sources", "removed_citations", "timing_ms", "settings_hash"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(minilm_archive, tmp_path_factory):
    """The app on the small MiniLM archive, served in-process on a free local port."""
    app = ui.build_app(minilm_archive, minilm_archive.settings, runs_dir=tmp_path_factory.mktemp("runs"))
    _, url, _ = ui.launch_app(app, minilm_archive.settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    app.close()


@pytest.fixture(scope="module")
def client(served):
    return Client(served, verbose=False)


def test_ask_endpoint_returns_the_rag_ask_json(client, minilm_archive):
    info = client.view_api(print_info=False, return_format="dict")
    assert "/ask" in info["named_endpoints"]
    got = client.predict(question=QUESTION, api_name="/ask")
    assert KEYS <= set(got)
    assert not got["abstained"] and got["sources"]
    numbers = {s["n"] for s in got["sources"]}
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", got["text"])}
    assert cited and cited <= numbers
    assert all(set(s["citations"]) <= numbers for s in got["sentences"])
    assert any(s["outlet"] == "KSMO Santa Monica" for s in got["sources"])
    expected = minilm_archive.ask(QUESTION).to_dict()
    for d in (got, expected):
        d.pop("timing_ms")
    assert got == expected  # the same object as `rag ask --json`


def test_ask_endpoint_filters(client):
    only = client.predict(question=QUESTION, outlets="TechCrunch, ", api_name="/ask")
    assert all(s["outlet"] == "TechCrunch" for s in only["sources"])
    listed = client.predict(question=QUESTION, outlets=["KSMO Santa Monica"], api_name="/ask")
    assert listed["sources"] and all(s["outlet"] == "KSMO Santa Monica" for s in listed["sources"])
    dated = client.predict(question=QUESTION, since="2023-01-01", until="2023-12-31", api_name="/ask")
    assert all(s["published_at"] and s["published_at"][:4] == "2023" for s in dated["sources"])  # the seed is undated


def test_ask_endpoint_reports_bad_input(client):
    with pytest.raises(Exception, match="not a date"):
        client.predict(question=QUESTION, since="last week", api_name="/ask")


def test_basic_auth_refuses_unauthenticated_requests(minilm_archive, tmp_path):
    app = ui.build_app(minilm_archive, minilm_archive.settings, runs_dir=tmp_path)
    _, url, _ = ui.launch_app(app, minilm_archive.settings, port=free_port(), auth=("reader", "s3cret"), prevent_thread_lock=True, quiet=True)
    try:
        assert httpx.get(url + "config").status_code == 401
        assert httpx.get(url + "gradio_api/info").status_code == 401
        assert httpx.post(url + "gradio_api/call/ask", json={"data": [QUESTION]}).status_code == 401
        page = httpx.get(url).text
        assert "Pentagon" not in page and "KSMO" not in page  # only the login page
        with pytest.raises(Exception):
            Client(url, verbose=False)
        with pytest.raises(Exception):
            Client(url, auth=("reader", "wrong"), verbose=False)
        got = Client(url, auth=("reader", "s3cret"), verbose=False).predict(question=QUESTION, api_name="/ask")
        assert KEYS <= set(got)
    finally:
        app.close()


def test_auth_from_env():
    assert ui.auth_from_env({}) is None
    assert ui.auth_from_env({"RAG_UI_USER": "a", "RAG_UI_PASSWORD": "b"}) == ("a", "b")
    with pytest.raises(BadInput):
        ui.auth_from_env({"RAG_UI_USER": "a"})


def test_rag_ui_command_defaults():
    from rag.cli import build_parser

    args = build_parser().parse_args(["ui", "--index", "idx"])
    assert args.func is ui.run and args.index == "idx"
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)


# ---- rendering -------------------------------------------------------------------------------
EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)"> ${alert(3)} {{x}} *b* $$x$$'


def _answer(abstained: bool = False) -> Answer:
    body = "Intro. " + EVIL + " The quote sentence here. Tail."
    qs = body.index("The quote")
    quote = "The quote sentence here."
    src = Source(
        n=1, article_id="a", chunk_id="c", title=EVIL, outlet="Evil <b>Outlet</b>", author=None,
        published_at=datetime(2024, 5, 14, tzinfo=timezone.utc), url="javascript:alert(4)", quote=quote,
        start=100 + qs, end=100 + qs + len(quote), passage=body, passage_start=100, passage_end=100 + len(body),
    )
    src2 = Source(
        n=2, article_id="b", chunk_id="d", title="Plain", outlet=None, author=None, published_at=None,
        url="https://example.org/a?b=1&c=2", quote="Tail.", start=0, end=5, passage="", passage_start=0, passage_end=0,
    )
    if abstained:
        return Answer(question="q", text="The archive has no passage that answers this.", abstained=True)
    return Answer(
        question="q", text=f"{EVIL}.[1] Second.[1][2] Third.",
        abstained=False,
        sentences=(Sentence(EVIL + ".", (1,)), Sentence("Second.", (1, 2)), Sentence("Third.", (), supported=False)),
        sources=(src, src2), timing_ms={"total": 1234.0},
    )


def _no_raw_html(rendered: str) -> None:
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "${" not in rendered and "{{" not in rendered and "javascript:" not in rendered


def test_render_answer_chips_and_escaping():
    out = ui.render_answer(_answer(), turn=3, rewritten="what about <i>it</i>?")
    _no_raw_html(out)
    assert out.count('href="#src-3-1"') == 2 and out.count('href="#src-3-2"') == 1
    assert "Searching for:" in out and "&lt;i&gt;it&lt;/i&gt;" in out
    assert 'class="unsupported"' in out and "(unsupported)" in out
    assert "\n" not in out


def test_render_refusal_is_not_an_answer():
    ans = _answer(abstained=True)
    out = ui.render_answer(ans, turn=1)
    assert 'class="refusal"' in out and "No answer." in out and "cite" not in out
    assert "nothing is cited" in ui.render_sources(ans, 1, "q")


def test_render_sources_highlight_quote_in_passage():
    out = ui.render_sources(_answer(), 2, "<q>")
    _no_raw_html(out)
    assert 'id="src-2-1"' in out and 'id="src-2-2"' in out
    assert "<mark>The quote sentence here.</mark>" in out
    assert "Intro. &lt;script&gt;" in out  # the passage around the quote is shown, escaped
    assert "Evil &lt;b&gt;Outlet&lt;/b&gt; · 2024-05-14" in out and "unknown outlet · undated" in out
    assert 'href="https://example.org/a?b=1&amp;c=2"' in out  # http(s) links only
    panel = ui.render_panel([(1, "first?", "one"), (2, "second?", "two")])
    assert panel.index("two") < panel.index("one") and "<details" in panel


def test_latest_eval_report(tmp_path):
    md, pngs = ui.latest_eval(tmp_path)
    assert "rag eval" in md and pngs == []
    run = tmp_path / "2024-01-01"
    run.mkdir()
    (run / "report.md").write_text("# Eval\n\nrecall@5 0.9\n\n![recall.png](recall.png)\n")
    (run / "recall.png").write_bytes(b"\x89PNG")
    md, pngs = ui.latest_eval(tmp_path)
    assert "recall@5 0.9" in md and pngs == [str((run / "recall.png").resolve())]
    assert "![" not in md and "plot recall.png" in md  # shown in the gallery instead
