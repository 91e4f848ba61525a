"""The UI's named API endpoint ``/ask`` through gradio_client, basic auth, the ``rag ui``
command, and the HTML rendering of answers and sources (escaping, chips, highlights)."""
from __future__ import annotations

import errno
import logging
import re
import socket
from pathlib import Path
from datetime import datetime, timezone

import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")
pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")  # pandas deprecations inside gradio

import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402

import ui  # noqa: E402
from rag.errors import BackendUnavailable, BadInput, IndexDamaged, StorageFull  # noqa: E402
from rag.types import Answer, Direct, Sentence, Source  # noqa: E402

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
    with pytest.raises(Exception) as exc:
        client.predict(question="   ", api_name="/ask")
    assert "empty query" in str(exc.value) and "Traceback" not in str(exc.value) and "\n" not in str(exc.value)


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


def _direct_answer(direct_text: str = "Emmett Shear.", removed: tuple[str, ...] = ()) -> Answer:
    base = _answer()
    return Answer(
        question="Who replaced Mira Murati as OpenAI's interim CEO?",
        text=f"{direct_text}[1] OpenAI has appointed Emmett Shear as interim CEO.[1][2]",
        abstained=False,
        sentences=(Sentence(direct_text, (1,)), Sentence("OpenAI has appointed Emmett Shear as interim CEO.", (1, 2))),
        sources=base.sources, direct=Direct(direct_text, "person", (1,)), removed_sentences=removed,
    )


def test_render_direct_answer_in_bold_above_the_evidence():
    out = ui.render_answer(_direct_answer(), turn=2)
    direct = re.search(r'<div class="direct"[^>]*>(.*?)</div>', out).group(1)
    assert direct.startswith("<strong>Emmett Shear.</strong>") and 'href="#src-2-1"' in direct
    evidence = re.search(r'<div class="evidence">(.*?)</div>', out).group(1)
    assert out.index('class="direct"') < out.index('class="evidence"')
    assert evidence.startswith("OpenAI has appointed") and "Emmett Shear.<" not in evidence  # not repeated below
    assert evidence.count('class="cite"') == 2 and "<strong>" not in evidence
    assert "removed" not in out  # nothing was removed: no fold
    plain = ui.render_answer(_answer(), turn=1)
    assert 'class="direct"' not in plain and "<strong>" not in plain  # no direct answer: no bold line


def test_render_direct_answer_markers_and_escaping():
    out = ui.render_answer(_direct_answer(direct_text=EVIL), turn=1)
    _no_raw_html(out)
    assert "<strong>&lt;script&gt;" in out
    none = Direct("The archive shows A [1] and B [2]; it does not say which came first.", "none", (1, 2))
    html_ = ui.render_direct(none, 4)
    assert html_.count('class="cite"') == 2 and 'href="#src-4-2"' in html_  # markers become chips in place
    assert "[1]" not in html_ and "<strong>The archive shows A </strong>" in html_


def test_render_removed_sentences_folded_and_escaped():
    removed = ("The company also announced a $50 billion buyback.", EVIL)
    out = ui.render_answer(_direct_answer(removed=removed), turn=1)
    _no_raw_html(out)
    fold = re.search(r'<details class="removed">(.*?)</details>', out).group(1)
    assert "<summary>2 sentences removed: no shown passage supports them</summary>" in fold
    assert "&#36;50 billion buyback" in fold and fold.count("<li>") == 2
    assert "buyback" not in out.replace(fold, "")  # only inside the fold
    assert ui.render_removed(()) == "" and "supports it</summary>" in ui.render_removed(["One."])


# ---- evals from the UI ---------------------------------------------------------------------------
def test_new_run_dir_is_fresh_and_timestamped(tmp_path):
    a, b = ui.new_run_dir(tmp_path / "runs"), ui.new_run_dir(tmp_path / "runs")
    assert a != b and a.parent == b.parent == tmp_path / "runs" and a.is_dir() and b.is_dir()
    assert re.fullmatch(r"\d{8}-\d{6}(-\d+)?", a.name) and b.name.startswith(a.name[:15])


def test_stage_dataset_keeps_names_and_types_safe(tmp_path, hash_settings):
    run = ui.new_run_dir(tmp_path / "runs")
    src = tmp_path / "src"
    src.mkdir()
    good = src / "my qa;$(x).jsonl"
    good.write_text('{"question": "q?"}\n', encoding="utf-8")
    saved = ui.stage_dataset(str(good), run, hash_settings)
    assert saved.parent == run / "uploads" and saved.name == "my_qa_x.jsonl" and saved.read_text() == good.read_text()
    csv = src / "qa.csv"
    csv.write_text("question\nq?\n", encoding="utf-8")
    with pytest.raises(BadInput, match="MultiHop-RAG .json file or a .jsonl"):
        ui.stage_dataset(str(csv), run, hash_settings)
    assert not (run / "uploads" / "qa.csv").exists()
    with pytest.raises(BadInput, match="'..'"):
        ui.stage_dataset({"path": str(good), "orig_name": "../../etc/x.jsonl"}, run, hash_settings)
    assert sorted(p.name for p in (run / "uploads").iterdir()) == ["my_qa_x.jsonl"]


def test_eval_on_archive_writes_the_report_and_plots(hash_archive, tmp_path):
    held, named = ui.dataset_fit(hash_archive, ui.sample_dataset())
    assert 0 < held < named  # the seed is in this archive, the sample's MultiHop articles are not
    seen = []
    out = tmp_path / "runs" / "r1"
    report = ui.eval_on_archive(hash_archive, ui.sample_dataset(), out, limit=3, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert report == out / "report.md" and {"metrics.json", "answers.jsonl", "metrics_by_type.png", "hits_at_k.png"} <= {p.name for p in out.iterdir()}
    md, pngs = ui.render_report(report)
    assert "# Eval report: sample_qa.jsonl" in md and "3 questions" in md and "![" not in md
    assert [Path(p).name for p in pngs] == ["hits_at_k.png", "metrics_by_type.png"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?"}\n{"answer": "no question"}\n', encoding="utf-8")
    with pytest.raises(BadInput) as exc:
        ui.eval_on_archive(hash_archive, bad, tmp_path / "runs" / "r2")
    line = ui._one_line_error(exc.value)
    assert line == "**Error:** bad.jsonl:2: each line needs a &#x27;question&#x27;" and "\n" not in line


def test_render_report_shows_article_html_as_text(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "report.md").write_text(
        f"# Eval report\n\n**Q:** {EVIL}\n\n| metric | value |\n|---|---|\n| a & b | 1 |\n\n```\nagreement <0.9>\n```\n\n![hits_at_k.png](hits_at_k.png)\n",
        encoding="utf-8")
    md, _ = ui.render_report(run / "report.md")
    assert "<script" not in md and "<img" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "| a &amp; b | 1 |" in md and "agreement <0.9>" in md  # code blocks are shown verbatim anyway
    assert "**Q:**" in md and "plot hits_at_k.png" in md


def test_eval_runs_one_at_a_time_beside_the_chat(minilm_archive, tmp_path):
    """The Evals tab's Run is queued in its own group of one worker: a second eval waits, chat
    requests keep their own workers."""
    app = ui.build_app(minilm_archive, minilm_archive.settings, runs_dir=tmp_path)
    fns = {f.name: f for f in app.fns.values()}
    run, chat = fns["run_evaluation"], fns["respond"]
    assert run.concurrency_limit == 1 and run.concurrency_id == "eval"
    assert chat.concurrency_id != run.concurrency_id and chat.concurrency_limit != 1
    assert run.queue is not False and run.api_visibility == "private"


# ---- the chat's handlers: follow-ups through the Archive, failures as one line ----------------------
SUBJECT = "How much did Microsoft pay for Activision Blizzard?"
FOLLOW_UP = "And when was it announced?"
REWRITTEN = "And when was it announced (Microsoft, Activision Blizzard)?"


def _handler(app, name: str):
    """The function behind a named event of the app (called directly, as gradio calls it)."""
    return next(f.fn for f in app.fns.values() if f.name == name)


def _chat(respond, message, chat=(), turns=(), sections=(), asked=(), answerer="extractive", k=8, since=""):
    """Run the chat handler to its end; returns its last output (box, chat, turns, sections,
    asked, panel) and every bubble it showed."""
    bubbles = []
    for out in respond(message, list(chat), list(turns), list(sections), list(asked), since, "", None, answerer, k):
        bubbles.append(out[1][-1]["content"] if out[1] else "")
    return out, bubbles


def test_chat_follow_up_is_rewritten_by_the_archive_and_shown(hash_archive, tmp_path):
    respond = _handler(ui.build_app(hash_archive, hash_archive.settings, runs_dir=tmp_path), "respond")
    (_, chat, turns, sections, asked, _), _ = _chat(respond, SUBJECT)
    assert "Searching for:" not in chat[-1]["content"] and turns[0] == {"role": "user", "content": SUBJECT}
    (_, chat, turns, sections, asked, panel), bubbles = _chat(respond, FOLLOW_UP, chat, turns, sections, asked)
    expected = hash_archive.ask(FOLLOW_UP, history=turns[:2])
    assert expected.rewritten_question == REWRITTEN
    assert "Searching for: <em>" + ui._esc(REWRITTEN) in chat[-1]["content"]
    assert all("Searching for:" in b for b in bubbles[1:])  # while streaming too
    assert turns[2] == {"role": "user", "content": REWRITTEN} and turns[3]["content"] == expected.text
    assert sections[-1][:2] == (2, REWRITTEN) and "Answer 2:" in panel
    assert chat[2] == {"role": "user", "content": ui._esc(FOLLOW_UP)}  # the user's words as typed
    assert len(asked) == len(chat) and asked[2] is None and asked[3]["question"] == REWRITTEN  # the standalone question


def test_chat_failures_are_one_line_bubbles(hash_archive, tmp_path, caplog):
    respond = _handler(ui.build_app(hash_archive, hash_archive.settings, runs_dir=tmp_path), "respond")
    (_, chat, turns, sections, asked, _), _ = _chat(respond, QUESTION, answerer="llm")  # no endpoint configured
    bubble = chat[-1]["content"]
    assert 'class="error"' in bubble and ui._esc("set RAG_LLM_BASE_URL and RAG_LLM_MODEL") in bubble and "\n" not in bubble
    assert turns == [] and sections == [] and asked == [None, None]  # nothing half-answered is kept
    with caplog.at_level(logging.ERROR, logger="newsrag.ui"):
        (_, chat, _, _, _, _), _ = _chat(respond, QUESTION, k="many")  # a failure no RagError names
    bubble = chat[-1]["content"]
    assert "answering failed: unexpected ValueError" in bubble and "server log" in bubble
    assert "Traceback" not in bubble and "\n" not in bubble
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)  # the traceback went to the log


def test_error_line_names_what_failed_which_file_and_what_to_do(caplog):
    bad = BadInput("each line needs a 'question'", file="/srv/runs/x/bad.jsonl", line=2)
    assert ui.error_line(bad, "the eval") == "bad.jsonl:2: each line needs a 'question'"
    for exc in (BackendUnavailable("LLM endpoint http://127.0.0.1:9/v1 timed out: read timeout"),
                IndexDamaged("index/news/records.sqlite3 is not a database; run `rag index verify --repair`"),
                StorageFull("no space left on device writing index/news/chroma; free space and re-run")):
        assert ui.error_line(exc, "answering") == str(exc)  # our own errors are shown as they are
    full = ui.error_line(OSError(errno.ENOSPC, "No space left on device", "/srv/idx/uploads/a.json"), "ingesting the uploads")
    assert full.startswith("ingesting the uploads failed: no space left on device (/srv/idx/uploads/a.json)") and "free space" in full
    try:
        raise RuntimeError("boom\nTraceback (most recent call last):\n  File \"x.py\", line 1")
    except RuntimeError as exc:
        with caplog.at_level(logging.ERROR, logger="newsrag.ui"):
            line = ui.error_line(exc, "answering")
    assert line.startswith("answering failed: unexpected RuntimeError: boom") and "server log" in line
    assert "Traceback" not in line and "--debug" not in line
    assert ui._one_line_error(IndexDamaged("a <b>")) == "**Error:** a &lt;b&gt;"


def test_ingest_eval_and_reload_failures_are_one_line(hash_archive, tmp_path):
    runs = tmp_path / "runs"
    app = ui.build_app(hash_archive, hash_archive.settings, runs_dir=runs)
    upload = tmp_path / "new.jsonl"
    upload.write_text('{"title": "t", "body": "b"}\n', encoding="utf-8")
    (hash_archive.path / "uploads").write_text("in the way", encoding="utf-8")
    report, stats, _, cleared = _handler(app, "ingest")([str(upload)])
    assert report.startswith("**Error:** uploads: is not a plain folder") and "\n" not in report
    assert "| 7 |" in stats and cleared is None  # the stats still show; the upload box is cleared
    csv = tmp_path / "qa.csv"
    csv.write_text("question\nq?\n", encoding="utf-8")
    status, _, _ = _handler(app, "run_evaluation")("upload", str(csv), None)
    assert status.startswith("**Error:** qa.csv: an eval dataset is") and "\n" not in status
    assert list(runs.iterdir()) == []  # the failed run left no folder
    (runs / "20240101-000000" / "report.md").mkdir(parents=True)  # a report that cannot be read
    stats, _, md, _ = _handler(app, "refresh")()
    assert md.startswith("**Error:** reading the latest eval report failed") and "\n" not in md and "| 7 |" in stats


# ---- an answer's outlets side by side, opened from the chat ------------------------------------------
ONE_OUTLET = "What did Apple do about Beeper Mini?"  # cites TechCrunch only
TWO_OUTLETS = "Which company is Apple reportedly planning to work with on Apple Intelligence features for iPhones sold in China?"
OTHER_TWO = "What did Microsoft do with Activision and what deals are on Amazon?"  # two other outlets


def _columns(view: str) -> list[str]:
    return re.findall(r'<div class="cmp-col"><h4>(.*?)</h4>', view)


def _select(app, asked, index):
    """The chat's select handler run to its end for message ``index`` (as gradio calls it)."""
    import gradio as gr

    return list(_handler(app, "open_answer")(asked, gr.SelectData(None, {"index": index, "value": None})))


def test_each_answer_opens_its_own_outlets_side_by_side(minilm_archive, tmp_path):
    """Every answer citing two or more outlets ends with a "Set side by side" line naming them;
    selecting that answer (not only the last) fills the Compare tab with its question and its
    outlets as columns and switches to the tab; other messages do nothing."""
    import gradio as gr

    from rag.stories.compare_view import outlets_of, render_comparison

    app = ui.build_app(minilm_archive, minilm_archive.settings, runs_dir=tmp_path)
    respond = _handler(app, "respond")
    chat, turns, sections, asked = [], [], [], []
    for q in (ONE_OUTLET, TWO_OUTLETS, OTHER_TWO):
        (_, chat, turns, sections, asked, _), _ = _chat(respond, q, chat, turns, sections, asked)
    assert len(asked) == len(chat) == 6 and asked[0] is asked[2] is asked[4] is None
    assert [asked[i]["question"] for i in (1, 3, 5)] == [ONE_OUTLET, TWO_OUTLETS, OTHER_TWO]
    cited = outlets_of(minilm_archive.ask(TWO_OUTLETS).sources)
    assert asked[3]["outlets"] == cited and len(cited) == 2
    assert len(asked[1]["outlets"]) == 1 and "cmp-open" not in chat[1]["content"]  # one outlet: nothing extra
    line = re.search(r'<div class="cmp-open"[^>]*>(.*?)</div>', chat[3]["content"]).group(1)
    assert line == f"⇄ Set side by side: {' · '.join(cited)} — click here"
    assert set(asked[5]["outlets"]).isdisjoint(cited) and "cmp-open" in chat[5]["content"]

    first, final = _select(app, asked, 3)  # the FIRST answer with two outlets, not the last
    assert first[0] == TWO_OUTLETS and isinstance(first[2], gr.Tabs) and first[2].selected == "compare-tab"
    assert final[0] == TWO_OUTLETS and final[2] == gr.skip()
    assert _columns(final[1]) == cited
    assert final[1] == render_comparison(minilm_archive.compare(TWO_OUTLETS, cited))
    assert final[1].count("<mark>") >= 2 * len(cited)  # quotes under each outlet (summary and passage)
    for index in (0, 1, 2, 6, -1):  # a question, a one-outlet answer, out of range: nothing happens
        assert _select(app, asked, index) == [(gr.skip(), gr.skip(), gr.skip())]

    query, view = _handler(app, "last")(asked)  # the tab's button: the last answer's outlets
    assert query == OTHER_TWO and _columns(view) == asked[5]["outlets"]


def test_an_answer_is_set_side_by_side_with_the_dates_it_was_asked_with(minilm_archive, tmp_path):
    app = ui.build_app(minilm_archive, minilm_archive.settings, runs_dir=tmp_path)
    (_, _, _, _, asked, _), _ = _chat(_handler(app, "respond"), TWO_OUTLETS, since="2023-01-01")
    assert asked[1]["since"] == "2023-01-01" and asked[1]["until"] is None
    # the seed (KSMO Santa Monica) is undated: asked since 2023, its column has no passage
    entry = dict(asked[1], outlets=["TechCrunch", "KSMO Santa Monica"])
    _, (_, view, _) = _select(app, [None, entry], 1)
    ksmo = view.split("<h4>KSMO Santa Monica</h4>")[1]
    assert _columns(view) == entry["outlets"] and ksmo.startswith('<p class="nr-empty">No passage on this topic.')
    _, (_, undated, _) = _select(app, [None, dict(entry, since=None)], 1)
    assert "<mark>" in undated.split("<h4>KSMO Santa Monica</h4>")[1]


def test_render_compare_line_escapes_outlets():
    assert ui.render_compare_line(["Only One"]) == "" and ui.render_compare_line([]) == ""
    out = ui.render_compare_line(["Evil <b>Outlet</b>", "A & B"])
    _no_raw_html(out)
    assert "Evil &lt;b&gt;Outlet&lt;/b&gt; · A &amp; B" in out
    one = ui.render_answer(_answer(), turn=1)  # its sources name one outlet (and one unknown)
    assert "cmp-open" not in one and "cmp-open" not in ui.render_answer(_answer(abstained=True), turn=1)
