"""newsrag chat UI (gradio): ask the archive, see every citation's passage.

    python ui.py [--index DIR] [--host 127.0.0.1] [--port 7860]
    rag ui       [--index DIR] [--host 127.0.0.1] [--port 7860]

Presentation and wiring only: answers (follow-ups rewritten first) come from
:meth:`rag.archive.Archive.ask_stream`, uploads are stored by :mod:`rag.ingest.uploads`,
evals run through :func:`evals.run.run_eval` on the open archive (Evals tab, one at a time,
each into a fresh ``<runs>/<timestamp>/``). The archive (index and models) is opened once per process. Binds 127.0.0.1 unless told
otherwise; never shares publicly unless ``--share``; basic auth when ``RAG_UI_USER`` and
``RAG_UI_PASSWORD`` are set. Renders offline: system fonts, no CDN, analytics off.

Gradio is imported lazily, so ``rag`` (which loads this module's :func:`register` to offer
``rag ui``) stays fast. The named API endpoint ``/ask`` returns ``Answer.to_dict()``, the
JSON of ``rag ask --json``. Every handler turns a failure into one line (:func:`error_line`).
"""
import argparse
import html
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Sequence
from urllib.parse import urlparse

from rag.answer import available_answerers
from rag.errors import BadInput, RagError, describe
from rag.stories.compare_view import CSS as COMPARE_CSS, outlets_of

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

log = logging.getLogger("newsrag.ui")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
_MARKER = re.compile(r"\[(\d+)\]")
# an error shown in the page or the API stays one line: room for describe()'s 500 characters and a prefix
MAX_ERROR_CHARS = 600
# where the traceback of an unexpected failure is, for the chat (the CLI says --debug)
_LOG_HINT = "the traceback is in the server log"
# a URL with a scheme other than http(s) (javascript:, data:, file://, ...): never shown
_UNSAFE_URL = re.compile(r"^\s*(?!https?://)(?:[a-z][a-z0-9+.-]*://|(?:javascript|vbscript|data):)", re.I)

CSS = """
#sources { max-height: 75vh; overflow-y: auto; }
.nr-answer a.cite, .nr-src .src-n { display: inline-block; min-width: 1.5em; padding: 0 .4em; margin: 0 .15em;
  border: 1px solid #fdba74; border-radius: .8em; background: #ffedd5; color: #9a3412 !important;
  font-size: .75em; font-weight: 700; line-height: 1.45; text-align: center; text-decoration: none !important;
  vertical-align: .15em; cursor: pointer; }
.nr-answer a.cite:hover, .nr-answer a.cite:focus { background: #f97316; border-color: #f97316; color: #fff !important; }
.nr-answer .unsupported { text-decoration: underline dotted #b45309; }
.nr-answer .flag { color: #b45309; font-size: .8em; }
.nr-answer .searching { font-size: .85em; opacity: .75; margin-bottom: .3em; }
.nr-answer .meta { font-size: .78em; opacity: .65; margin-top: .4em; }
.nr-answer .direct { font-size: 1.08em; margin-bottom: .35em; }
.nr-answer .removed { font-size: .82em; opacity: .8; margin-top: .4em; }
.nr-answer .removed > summary { cursor: pointer; }
.nr-answer .refusal { border-left: 3px solid #b45309; padding-left: .6em; }
.nr-answer .error { border-left: 3px solid #dc2626; padding-left: .6em; }
.nr-answer .cmp-open { display: inline-block; margin-top: .45em; padding: .15em .6em; border: 1px solid #93c5fd;
  border-radius: .8em; background: #eff6ff; color: #1e40af; font-size: .82em; cursor: pointer; }
.nr-answer .cmp-open:hover { background: #dbeafe; border-color: #3b82f6; }
.nr-src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6em .8em; margin: .5em 0;
  transition: box-shadow .3s, border-color .3s; }
.nr-src.active { border-color: #f97316; box-shadow: 0 0 0 3px #fed7aa; }
.nr-src .src-title { font-weight: 600; }
.nr-src .src-meta { font-size: .85em; opacity: .75; margin: .15em 0 .4em; }
.nr-src .src-also { font-size: .8em; opacity: .75; margin: -.25em 0 .4em; }
.nr-src .passage { white-space: pre-wrap; font-size: .9em; line-height: 1.45; margin: 0; padding-left: .7em;
  border-left: 3px solid var(--border-color-primary); }
.nr-src mark { background: #fde68a; color: #111; padding: 0 .1em; }
.nr-turn > summary { cursor: pointer; font-size: .9em; margin: .4em 0; }
.nr-turn-head { font-size: .9em; opacity: .8; margin: .2em 0; }
.nr-empty { opacity: .7; font-style: italic; }
.nr-timeline .tl-head { font-size: .9em; opacity: .8; margin-bottom: .4em; }
.tl-event { border-bottom: 1px solid var(--border-color-primary); padding: .3em 0; }
.tl-event > summary { cursor: pointer; line-height: 1.45; }
.tl-event .tl-num { display: inline-block; min-width: 1.6em; font-weight: 700; opacity: .7; }
.tl-event .tl-date { font-weight: 700; font-variant-numeric: tabular-nums; }
.tl-event .tl-stated { color: #c2410c; }
.tl-event .tl-how, .tl-event .tl-outlets { font-size: .82em; opacity: .7; }
.tl-src { margin: .4em 0 .4em 1.8em; }
.tl-src .tl-src-head { font-size: .85em; opacity: .85; }
.tl-src .tl-first { background: #dcfce7; color: #166534; border-radius: .6em; padding: 0 .45em; font-size: .85em; }
.tl-src .passage { white-space: pre-wrap; font-size: .9em; margin: .2em 0; padding-left: .7em; border-left: 3px solid var(--border-color-primary); }
.tl-src mark { background: #fde68a; color: #111; padding: 0 .1em; }
"""

# Citation chips link to "#src-<turn>-<n>"; this opens, highlights and scrolls to that source.
# A click elsewhere in an answer stops here unless it is on the answer's "Set side by side" line
# (which reaches the chat's select event), so selecting text or opening a fold never switches tabs.
HEAD = """<script>
document.addEventListener("click", function (ev) {
  var t = ev.target && ev.target.closest ? ev.target : null;
  if (!t) return;
  var a = t.closest('a[href^="#src-"]');
  if (!a) {
    if (t.closest("#chat .nr-answer") && !t.closest(".cmp-open")) ev.stopPropagation();
    return;
  }
  ev.preventDefault(); ev.stopPropagation();
  var el = document.getElementById(a.getAttribute("href").slice(1));
  if (!el) return;
  var d = el.closest("details"); if (d) d.open = true;
  document.querySelectorAll(".nr-src.active").forEach(function (e) { e.classList.remove("active"); });
  el.classList.add("active");
  el.scrollIntoView({behavior: "smooth", block: "center"});
}, true);
</script>"""


# ---- rendering (pure) ----------------------------------------------------------------------
def _esc(text: Any) -> str:
    """HTML-escape ``text`` and neutralize characters that markdown or templates would act on."""
    s = html.escape(str(text), quote=True)
    return s.replace("*", "&#42;").replace("_", "&#95;").replace("`", "&#96;").replace("$", "&#36;").replace("{", "&#123;").replace("}", "&#125;").replace("\\", "&#92;")


def _para(text: str) -> str:
    """Escaped passage text with blank lines between paragraphs reduced to one line break."""
    return _esc(re.sub(r"\n\s*\n", "\n", text))


def _one_line(s: str) -> str:
    """Keep rendered HTML on one line so markdown treats the bubble as a single HTML block."""
    return re.sub(r"\s*\n\s*", " ", s)


def _date(dt) -> str:
    return dt.date().isoformat() if dt else "undated"


def _safe_url(url: str | None) -> str | None:
    return url if url and urlparse(url).scheme in ("http", "https") else None


def render_chip(turn: int, n: int, title: str = "") -> str:
    """A citation chip: a link to source ``n`` of answer ``turn`` in the sources panel."""
    return f'<a class="cite" href="#src-{turn}-{n}" title="{_esc(title)}">{n}</a>'


def render_streaming(text: str, rewritten: str | None = None) -> str:
    """The bubble while an answer streams in (raw, not yet verified: markers are plain text)."""
    return _one_line(f'<div class="nr-answer">{_searching(rewritten)}<div>{_esc(text)} ▌</div></div>')


def _searching(rewritten: str | None) -> str:
    return f'<div class="searching">Searching for: <em>{_esc(rewritten)}</em></div>' if rewritten else ""


def _norm(text: str) -> str:
    return " ".join(_MARKER.sub(" ", text or "").split()).lower()


def render_direct(direct, turn: int, titles: dict[int, str] | None = None) -> str:
    """The direct answer ("Emmett Shear.", "Yes.") in bold on its own line, with the chips of the
    sources it rests on; ``[n]`` markers inside its text become chips in place."""
    titles = titles or {}
    text = str(direct.text or "").strip()
    inline = {int(n) for n in _MARKER.findall(text)}
    bold = _MARKER.sub(lambda m: f"</strong>{render_chip(turn, int(m.group(1)), titles.get(int(m.group(1)), ''))}<strong>", _esc(text))
    chips = "".join(render_chip(turn, n, titles.get(n, "")) for n in direct.citations if n not in inline)
    bold = f"<strong>{bold}</strong>".replace("<strong></strong>", "")
    return f'<div class="direct" data-kind="{_esc(direct.kind)}">{bold}{chips}</div>'


def render_removed(removed: Sequence[str]) -> str:
    """The sentences the verifier left out (no shown passage supports them), folded: shown on
    request, escaped; "" when there are none."""
    removed = [str(r) for r in removed or () if str(r).strip()]
    if not removed:
        return ""
    n = len(removed)
    items = "".join(f"<li>{_esc(r)}</li>" for r in removed)
    return (f'<details class="removed"><summary>{n} sentence{"s" if n != 1 else ""} removed: '
            f'no shown passage supports {"them" if n != 1 else "it"}</summary><ul>{items}</ul></details>')


def render_answer(ans, turn: int, rewritten: str | None = None) -> str:
    """The chat bubble of a verified :class:`rag.types.Answer`: the direct answer (when there is
    one) in bold on its own line, then the evidence sentences with citation chips, unsupported
    sentences flagged, removed sentences folded away; refusals shown as refusals; all text
    escaped."""
    head = _searching(rewritten)
    direct = getattr(ans, "direct", None)
    if ans.abstained:
        body = f'<div class="refusal"><strong>No answer.</strong> {_esc(ans.text)}</div>'
    else:
        titles = {s.n: s.title for s in ans.sources}
        sentences = list(ans.sentences)
        text = ans.text
        top = ""
        if direct is not None and str(direct.text or "").strip():
            top = render_direct(direct, turn, titles)
            if sentences and _norm(sentences[0].text) == _norm(direct.text):
                sentences = sentences[1:]  # the direct answer is also the first sentence
            if text.startswith(direct.text):
                text = re.sub(r"^(?:\s*\[\d+\])*", "", text[len(direct.text):]).strip()
        parts = []
        for s in sentences:
            chips = "".join(render_chip(turn, n, titles.get(n, "")) for n in s.citations)
            stext = _esc(s.text)
            if not s.supported:
                stext = f'<span class="unsupported" title="no shown passage supports this sentence">{stext}</span> <span class="flag">(unsupported)</span>'
            parts.append(stext + chips)
        if not parts and not ans.sentences and text:  # no sentence breakdown: chips from the markers in the text
            parts.append(_MARKER.sub(lambda m: render_chip(turn, int(m.group(1))), _esc(text)))
        body = top + (f'<div class="evidence">{" ".join(parts)}</div>' if parts else "")
    removed = getattr(ans, "removed_sentences", ()) or ()
    total = ans.timing_ms.get("total")
    meta = f"{ans.answerer} · {len(ans.sources)} source{'s' if len(ans.sources) != 1 else ''}"
    if total is not None:
        meta += f" · {total / 1000:.1f} s"
    if ans.removed_citations:
        meta += f" · {ans.removed_citations} unverified citation(s) removed"
    compare = "" if ans.abstained else render_compare_line(outlets_of(ans.sources))
    return _one_line(f'<div class="nr-answer">{head}{body}{render_removed(removed)}<div class="meta">{meta}</div>{compare}</div>')


def render_compare_line(outlets: Sequence[str]) -> str:
    """The line that ends an answer citing two or more outlets: clicking it sets those outlets
    side by side in the Compare tab; "" for fewer outlets."""
    if len(outlets) < 2:
        return ""
    names = " · ".join(_esc(o) for o in outlets)
    return (f'<div class="cmp-open" role="button" title="Open these outlets side by side in the Compare outlets tab">'
            f'⇄ Set side by side: {names} — click here</div>')


def render_source(src, turn: int) -> str:
    """One source card: headline (linked when there is an http(s) URL), outlet, date, and the
    passage with the supporting quote in ``<mark>``."""
    url = _safe_url(src.url)
    title = _esc(src.title or "Untitled")
    if url:
        title = f'<a href="{_esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
    passage = src.passage or src.quote
    qs = max(0, src.start - src.passage_start) if src.passage else 0
    qe = min(len(passage), qs + (src.end - src.start))
    if passage[qs:qe] != src.quote:  # offsets do not line up: find the quote instead
        i = passage.find(src.quote)
        qs, qe = (i, i + len(src.quote)) if i >= 0 else (0, 0)
    body = f"{_para(passage[:qs])}<mark>{_para(passage[qs:qe])}</mark>{_para(passage[qe:])}"
    if qe <= qs:
        body = f"<mark>{_esc(src.quote)}</mark>" + (f"\n\n{_esc(passage)}" if src.passage else "")
    meta = " · ".join(_esc(x) for x in (src.outlet or "unknown outlet", _date(src.published_at), src.author) if x)
    return (
        f'<div class="nr-src" id="src-{turn}-{src.n}"><div><span class="src-n">{src.n}</span> '
        f'<span class="src-title">{title}</span></div><div class="src-meta">{meta}</div>'
        f'{render_also_ran_in(getattr(src, "also_ran_in", ()))}'
        f'<blockquote class="passage">{body}</blockquote></div>'
    )


def render_also_ran_in(places: Sequence[str]) -> str:
    """"Also ran in: ..." for a source whose story also ran elsewhere (``Source.also_ran_in``,
    entries ``outlet | YYYY-MM-DD | url``): escaped, the parts joined by " · ", an http(s) URL
    part as a link and any other URL left out (like a source's own link); "" when the story ran
    nowhere else."""
    items = []
    for place in places or ():
        parts = []
        for part in (p.strip() for p in str(place).split(" | ")):
            if not part:
                continue
            if _UNSAFE_URL.match(part):
                continue
            url = _safe_url(part) if "://" in part else None
            parts.append(f'<a href="{_esc(url)}" target="_blank" rel="noopener noreferrer">{_esc(url)}</a>' if url else _esc(part))
        if parts:
            items.append(" · ".join(parts))
    if not items:
        return ""
    return f'<div class="src-also">Also ran in: {"; ".join(items)}</div>'


def render_sources(ans, turn: int, question: str) -> str:
    """The sources section of answer ``turn``: one card per cited source (or a note)."""
    head = f'<div class="nr-turn-head">Answer {turn}: <em>{_esc(question)}</em></div>'
    if ans.abstained or not ans.sources:
        return head + '<p class="nr-empty">No passage in the archive supports an answer; nothing is cited.</p>'
    return head + "".join(render_source(s, turn) for s in ans.sources)


def render_panel(sections: Sequence[tuple[int, str, str]]) -> str:
    """The sources panel: the newest answer's sources open, older ones folded."""
    if not sections:
        return '<p class="nr-empty">Sources of the answers appear here.</p>'
    out = []
    for i, (turn, question, body) in enumerate(reversed(sections)):
        if i == 0:
            out.append(f'<section class="nr-turn">{body}</section>')
        else:
            out.append(f'<details class="nr-turn"><summary>Answer {turn}: {_esc(question)}</summary>{body}</details>')
    return "".join(out)


def render_stats(st: dict) -> str:
    """Markdown summary of :meth:`Archive.stats`."""
    outlets = st.get("outlets") or {}
    span = f"{(st.get('first_date') or '–')[:10]} … {(st.get('last_date') or '–')[:10]}"
    lines = [
        f"**Index:** {_esc(st.get('index'))}",
        "",
        "| articles | chunks | outlets | date span | embedder |",
        "|---:|---:|---:|---|---|",
        f"| {st.get('articles', 0)} | {st.get('chunks', 0)} | {len(outlets)} | {span} | {st.get('embedder', '')} |",
    ]
    if outlets:
        lines += ["", "**Outlets:** " + ", ".join(f"{_esc(o)} ({n})" for o, n in list(outlets.items())[:30])]
    return "\n".join(lines)


def render_ingest(result, report=None) -> str:
    """Markdown of an upload + ingest run: the report summary and every rejected file/record."""
    lines = []
    if result.saved:
        lines.append(f"Saved {len(result.saved)} file(s) in the index's uploads folder: " + ", ".join(_esc(p.name) for p in result.saved))
    if report is not None:
        lines.append(f"**Ingest:** {_esc(report.summary())}")
    errors = list(result.errors) + list(report.errors if report is not None else ())
    if errors:
        lines.append(f"**{len(errors)} problem(s)** (skipped, the rest was ingested):")
        lines += [f"- {_esc(Path(e.file).name)}{'' if e.line is None else f':{e.line}'}: {_esc(e.reason)}" for e in errors[:50]]
    return "\n\n".join(lines) or "Nothing uploaded."


def _html_as_text(markdown: str) -> str:
    """Markdown whose raw HTML (article text and questions quoted in a report) shows as text:
    ``&``, ``<`` and ``>`` escaped outside fenced code blocks (shown verbatim anyway)."""
    parts = re.split(r"(^```.*?^```[ \t]*$)", markdown, flags=re.M | re.S)
    return "".join(p if i % 2 else html.escape(p, quote=False) for i, p in enumerate(parts))


def render_report(report: str | Path) -> tuple[str, list[str]]:
    """(markdown, PNG paths) of one eval run's ``report.md``: its relative images are left to
    the gallery below it (a page cannot load them from the report's folder)."""
    rep = Path(report)
    text = _html_as_text(rep.read_text(encoding="utf-8", errors="replace"))
    text = re.sub(r"!\[([^\]]*)\]\((?![a-z]+:)([^)\s]+)\)", r"*(plot \2: see Plots above)*", text)
    pngs = sorted(str(p.resolve()) for p in rep.parent.glob("*.png"))
    return f"*Report:* {_esc(rep)}\n\n{text}", pngs


def latest_eval(runs_dir: str | Path) -> tuple[str, list[str]]:
    """(markdown, PNG paths) of the newest ``runs/*/report.md``, or how to make one."""
    reports = sorted(Path(runs_dir).glob("*/report.md"), key=lambda p: p.stat().st_mtime)
    if not reports:
        return (
            f"No eval report yet (looked for <code>{_esc(runs_dir)}/&#42;/report.md</code>). Run one above, or run "
            f"<code>rag eval --out {_esc(runs_dir)}/NAME</code> (see `rag eval --help`) and reload this tab.", []
        )
    return render_report(reports[-1])


# ---- evals from the UI ---------------------------------------------------------------------
EVAL_EXTENSIONS = (".json", ".jsonl")


def sample_dataset() -> Path:
    """The bundled sample QA set (``evals/datasets/sample_qa.jsonl``), meant for the sample
    archive (``rag/sample``)."""
    from evals.datasets import DATASETS_DIR

    return DATASETS_DIR / "sample_qa.jsonl"


def dataset_fit(archive, dataset: str | Path) -> tuple[int, int]:
    """(gold articles of ``dataset`` the open archive holds, gold articles it names): how well
    an eval set matches the archive (the sample QA set is written for the sample archive)."""
    from evals.datasets import load_dataset

    keys = list(dict.fromkeys(k for it in load_dataset(dataset) for k in it.gold_keys))
    held = sum(1 for k in keys if archive.store.records.get_article(k) is not None)
    return held, len(keys)


def new_run_dir(runs_dir: str | Path) -> Path:
    """A fresh folder ``<runs_dir>/<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... when taken)."""
    root = Path(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i in range(1, 1000):
        d = root / (stamp if i == 1 else f"{stamp}-{i}")
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue
    raise BadInput("too many eval runs this second", file=str(root))


def stage_dataset(upload: Any, run_dir: Path, settings) -> Path:
    """Copy an uploaded eval dataset into ``<run_dir>/uploads/`` under a safe name (the rules of
    :mod:`rag.ingest.uploads`: size limit, no symlinks, no path from the client's name) and return it.
    Only ``.json`` (MultiHop-RAG) and ``.jsonl`` files are accepted."""
    from rag.ingest.uploads import save_uploads

    result = save_uploads(run_dir, [upload], settings)
    if result.errors:
        err = result.errors[0]
        raise BadInput(err.reason, file=Path(str(err.file)).name)
    if not result.saved:
        raise BadInput("no dataset uploaded")
    path = result.saved[0]
    if path.suffix not in EVAL_EXTENSIONS:
        path.unlink()
        raise BadInput("an eval dataset is a MultiHop-RAG .json file or a .jsonl file", file=path.name)
    return path


def eval_on_archive(archive, dataset: str | Path, out: str | Path, limit: int | None = None,
                    on_progress=None, answerer: str | None = None) -> Path:
    """Evaluate ``dataset`` (first ``limit`` questions) on the open ``archive`` as it is (no
    ingest) with :func:`evals.run.run_eval`, writing the run (metrics.json, answers.jsonl,
    report.md, plots) into ``out``; returns report.md's path. ``on_progress(done, total)`` is
    called before the first question and after each one."""
    from evals.datasets import load_dataset
    from evals.run import EvalConfig, run_eval

    items = load_dataset(dataset, limit)
    if not items:
        raise BadInput("the dataset has no questions", file=Path(dataset).name)
    if on_progress:
        on_progress(0, len(items))
    cfg = EvalConfig(dataset=str(dataset), answerer=answerer, limit=limit, out=str(out), progress=False)
    run_eval(cfg, archive.settings, log=lambda msg: None, on_progress=on_progress, archive=archive)
    report = Path(out) / "report.md"
    if not report.is_file():
        raise RagError(f"the eval run wrote no report in {out}")
    return report


def _one_line_error(exc: BaseException, what: str = "the request") -> str:
    """``**Error:** ...`` (markdown, escaped) of :func:`error_line`."""
    return f"**Error:** {_esc(error_line(exc, what))}"


def error_line(exc: BaseException, what: str = "the request") -> str:
    """One plain line for a failure shown in the page or returned by the API: a
    :class:`RagError`'s own message (a ``BadInput`` with its file name and line), anything else
    as ``<what> failed: ...`` with its file and what to do (:func:`rag.errors.describe`); the
    traceback of an unexpected failure goes to the server log, never to the page."""
    if isinstance(exc, BadInput) and exc.file:
        where = Path(str(exc.file)).name + (f":{exc.line}" if exc.line is not None else "")
        msg = f"{where}: {exc.reason}"
    elif isinstance(exc, RagError):
        msg = describe(exc)
    else:
        log.error("%s failed", what, exc_info=exc)
        msg = f"{what} failed: " + describe(exc, hint=_LOG_HINT)
    return " ".join(msg.split())[:MAX_ERROR_CHARS]


def render_error(exc: BaseException, what: str) -> str:
    """The chat bubble of a failed answer: :func:`error_line`, escaped."""
    return _one_line(f'<div class="nr-answer"><div class="error"><strong>Error:</strong> {_esc(error_line(exc, what))}</div></div>')


def parse_outlets(outlets: Any) -> list[str] | None:
    """Outlets from a list or a comma-separated string; None when empty."""
    if outlets is None:
        return None
    items = outlets.split(",") if isinstance(outlets, str) else list(outlets)
    items = [str(o).strip() for o in items if str(o).strip()]
    return items or None


def parse_limit(limit: Any) -> int | None:
    """The Evals tab's "first N questions": a positive whole number, else None (all)."""
    try:
        n = int(limit) if limit not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return n if n is not None and n >= 1 else None


# ---- the app -------------------------------------------------------------------------------
def theme():
    """The gradio theme: the default look with system fonts (nothing fetched)."""
    import gradio as gr

    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def build_app(archive, settings, runs_dir: str | Path = "runs"):
    """Build the gradio Blocks of the UI for an open ``archive`` (launch it with
    :func:`launch_app`). Tabs: Chat, Archive (stats, uploads), Evals, Timeline, Compare outlets;
    API endpoint ``/ask``."""
    import gradio as gr

    with gr.Blocks(title="newsrag", analytics_enabled=False) as app:
        gr.Markdown("## newsrag — ask the news archive\nEvery sentence cites its passages; citations are checked after the answer is written.")
        with gr.Tabs() as tabs:
            chat = chat_tab(archive, settings)
            shelf = archive_tab(archive, settings)
            evals = evals_tab(archive, settings)
            timeline = timeline_tab(archive, settings)
            compared = compare_tab(archive)
        # outside the tabs: a State there hides the last tab; ``asked`` has one entry per chat message
        chat.turns, chat.sections, chat.asked = gr.State([]), gr.State([]), gr.State([])
        wire_chat(chat, archive)
        wire_ingest(shelf, chat, archive, settings)
        wire_evals(evals, archive, settings, runs_dir)
        wire_timeline(timeline, archive)
        wire_compare(compared, chat, archive, tabs)
        wire_refresh(app, evals, shelf, chat, archive, runs_dir)
        gr.api(api_ask(archive), api_name="ask")
    app.queue(default_concurrency_limit=2)
    return app


# ---- layout: one function per tab, each returns its components --------------------------------
def chat_tab(archive, settings) -> SimpleNamespace:
    """The Chat tab: chat, question box, filters and answerer, sources panel."""
    import gradio as gr

    answerers = available_answerers(settings)
    c = SimpleNamespace()
    with gr.Tab("Chat", id="chat-tab"):
        with gr.Row():
            with gr.Column(scale=3):
                c.chatbot = gr.Chatbot(
                    elem_id="chat", label="Chat", show_label=False, height=520, latex_delimiters=[], buttons=["copy"], feedback_options=None,
                    placeholder="Ask about the archive, e.g. *What does the Pentagon memo allege about Alibaba?* "
                    "Follow-ups such as *what did the company say about it?* are understood.",
                )
                with gr.Row():
                    c.box = gr.Textbox(elem_id="question", show_label=False, placeholder="Ask a question…", scale=5, autofocus=True)
                    c.send = gr.Button("Ask", variant="primary", elem_id="ask-btn", scale=1)
                c.clear = gr.Button("New conversation", size="sm", elem_id="clear-btn")
                with gr.Accordion("Filters and answerer", open=False, elem_id="controls"):
                    with gr.Row():
                        c.since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", elem_id="since")
                        c.until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", elem_id="until")
                    c.outlets = gr.Dropdown(choices=_outlet_choices(archive), multiselect=True, label="Outlets", elem_id="outlets")
                    with gr.Row():
                        c.answerer = gr.Radio(
                            answerers, value=settings.answerer if settings.answerer in answerers else "extractive",
                            label="Answerer", elem_id="answerer",
                            info=None if settings.llm_configured else "LLM: set RAG_LLM_BASE_URL and RAG_LLM_MODEL",
                        )
                        c.top_k = gr.Slider(1, 20, value=settings.answer_passages, step=1, label="Passages (top-k)", elem_id="top-k")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                c.sources = gr.HTML(render_panel([]), elem_id="sources")
    return c


def archive_tab(archive, settings) -> SimpleNamespace:
    """The Archive tab: index stats, the upload box and the ingest report."""
    import gradio as gr

    from rag.ingest.uploads import ALLOWED_EXTENSIONS

    a = SimpleNamespace()
    with gr.Tab("Archive", id="archive-tab"):
        a.stats = gr.Markdown(stats_markdown(archive), elem_id="stats")
        a.files = gr.File(
            file_count="multiple", file_types=sorted(ALLOWED_EXTENSIONS), type="filepath",
            label=f"Add articles ({', '.join(sorted(ALLOWED_EXTENSIONS))}; at most {settings.max_upload_mb} MB each)",
            elem_id="uploads",
        )
        a.ingest_btn = gr.Button("Ingest", variant="primary", elem_id="ingest-btn")
        a.report = gr.Markdown(elem_id="ingest-report")
    return a


def evals_tab(archive, settings) -> SimpleNamespace:
    """The Evals tab: dataset choice (the bundled sample or an upload), question limit, run and
    reload buttons, then the status line, plots and report."""
    import gradio as gr

    label, info = sample_choice(archive)
    e = SimpleNamespace()
    with gr.Tab("Evals", id="evals-tab"):
        gr.Markdown("Run an eval on the open archive: retrieval, answers and citation checks per question "
                    "(`rag eval` does the same from the command line).")
        with gr.Row():
            with gr.Column(scale=3):
                e.source = gr.Radio(
                    [(label, "sample"), ("Upload a dataset (MultiHop-RAG .json, or .jsonl)", "upload")],
                    value="sample", label="Dataset", info=info, elem_id="eval-source",
                )
                e.file = gr.File(
                    file_count="single", file_types=list(EVAL_EXTENSIONS), type="filepath", elem_id="eval-upload",
                    label=f"Dataset file (MultiHop-RAG query JSON, or JSONL with question/answer/answerable/gold; at most {settings.max_upload_mb} MB)",
                )
            with gr.Column(scale=1):
                e.limit = gr.Number(value=None, precision=0, minimum=0, label="Questions (first N; empty: all)", elem_id="eval-limit")
                e.run_btn = gr.Button("Run eval", variant="primary", elem_id="eval-run")
                e.reload_btn = gr.Button("Show latest report", size="sm", elem_id="eval-reload")
        e.status = gr.Markdown(elem_id="eval-status")
        e.plots = gr.Gallery(label="Plots", columns=2, height=460, object_fit="contain", elem_id="eval-plots", visible=False)
        e.report = gr.Markdown(elem_id="eval-report", latex_delimiters=[])
    return e


def timeline_tab(archive, settings) -> SimpleNamespace:
    """The Timeline tab: a story query and date bounds, the events on a date axis, and their
    list (open an event to see its sources with the quote highlighted)."""
    import gradio as gr

    from rag.stories.timeline_view import render_timeline

    t = SimpleNamespace()
    with gr.Tab("Timeline", id="timeline-tab"):
        with gr.Row():
            t.query = gr.Textbox(show_label=False, placeholder="A story, e.g. Sam Bankman-Fried trial", scale=5, elem_id="tl-query")
            t.since = gr.Textbox(show_label=False, placeholder="Since YYYY-MM-DD", scale=1, elem_id="tl-since")
            t.until = gr.Textbox(show_label=False, placeholder="Until YYYY-MM-DD", scale=1, elem_id="tl-until")
            t.go = gr.Button("Timeline", variant="primary", scale=1, elem_id="tl-btn")
        t.plot = gr.Plot(show_label=False, elem_id="tl-plot", visible=False)
        t.events = gr.HTML(render_timeline(None), elem_id="tl-events")
    return t


def sample_choice(archive) -> tuple[str, str]:
    """(label, info) of the bundled sample QA set: its size and how many of the articles it
    cites the open archive holds."""
    sample = sample_dataset()
    try:
        held, named = dataset_fit(archive, sample)
        sample_n = sum(1 for line in sample.read_text(encoding="utf-8").splitlines() if line.strip())
    except (OSError, RagError):
        held, named, sample_n = 0, 0, 0
    label = f"Bundled sample QA set ({sample_n} questions; meant for the sample archive, rag/sample)"
    info = (
        f"The open archive holds {held} of the {named} articles the sample set cites"
        + ("." if held == named else ": on another archive its scores say little; upload a dataset for it.")
    )
    return label, info


def stats_markdown(archive) -> str:
    """:func:`render_stats` of the archive, or the one-line error that kept it from being read."""
    try:
        return render_stats(archive.stats())
    except Exception as exc:  # a damaged index must not take the page down
        return _one_line_error(exc, "reading the index stats")


def _outlet_choices(archive) -> list[str]:
    """The archive's outlets for the filter, or none when they cannot be read (the stats say why)."""
    try:
        return archive.outlets()
    except Exception as exc:
        log.error("reading the outlets failed: %s", error_line(exc, "reading the outlets"))
        return []


# ---- events: one handler (and its wiring) per action -------------------------------------------
def chat_handler(archive):
    """The chat's handler: rewrite a follow-up (by the Archive), stream the answer, then show
    the verified one; a failure becomes a one-line error bubble."""

    def respond(message, chat, turns, sections, asked, since, until, outlets, answerer, k):
        """Chat handler: rewrite a follow-up, stream the answer, then show the verified one;
        ``asked`` gets one entry per chat message (:func:`asked_entry` for an answer, else None)."""
        question = (message or "").strip()
        chat, turns, sections = list(chat or []), list(turns or []), list(sections or [])
        asked = list(asked or [])
        asked += [None] * (len(chat) - len(asked))  # aligned to the messages

        def shown():
            return "", chat, turns, sections, asked, render_panel(sections)

        if not question:
            yield shown()
            return
        turn = len(sections) + 1
        chat += [{"role": "user", "content": _esc(question)}, {"role": "assistant", "content": render_streaming("")}]
        asked += [None, None]
        yield shown()
        try:
            stream = archive.ask_stream(
                question, int(k) if k else None, since or None, until or None, parse_outlets(outlets),
                answerer=answerer or None, history=turns,
            )
            buf = ""
            for delta in stream:
                buf += delta
                chat[-1] = {"role": "assistant", "content": render_streaming(buf, stream.rewritten_question)}
                yield shown()
            ans = stream.answer
        except Exception as exc:
            chat[-1] = {"role": "assistant", "content": render_error(exc, "answering")}
            yield shown()
            return
        standalone = ans.rewritten_question or question
        chat[-1] = {"role": "assistant", "content": render_answer(ans, turn, ans.rewritten_question)}
        turns += [{"role": "user", "content": standalone}, {"role": "assistant", "content": ans.text}]
        sections.append((turn, standalone, render_sources(ans, turn, standalone)))
        asked[-1] = asked_entry(ans, standalone, since, until)
        yield shown()

    return respond


def asked_entry(ans, question: str, since: str | None, until: str | None) -> dict:
    """What an answer was asked: its standalone question, the outlets it cites (none for a
    refusal) and the date filters; enough to set those outlets side by side later."""
    return {"question": question, "outlets": outlets_of(ans.sources), "since": since or None, "until": until or None}


def comparable_entry(asked: Sequence[dict | None], index: Any) -> dict | None:
    """The entry of chat message ``index`` when it is an answer citing two or more outlets, else None."""
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(asked or ()):
        return None
    entry = asked[index]
    return entry if entry and len(entry.get("outlets") or ()) > 1 else None


def wire_chat(c: SimpleNamespace, archive) -> None:
    """Enter and Ask answer (queued, not in the API); New conversation clears chat and state."""
    chat_io = dict(
        inputs=[c.box, c.chatbot, c.turns, c.sections, c.asked, c.since, c.until, c.outlets, c.answerer, c.top_k],
        outputs=[c.box, c.chatbot, c.turns, c.sections, c.asked, c.sources],
        api_visibility="private", show_progress="minimal",
    )
    respond = chat_handler(archive)
    c.box.submit(respond, **chat_io)
    c.send.click(respond, **chat_io)
    c.clear.click(lambda: ([], [], [], [], render_panel([])), outputs=[c.chatbot, c.turns, c.sections, c.asked, c.sources],
                  api_visibility="private")


def api_ask(archive):
    """The ``/ask`` API endpoint: a failure is a one-line ``gr.Error``, never a traceback."""
    import gradio as gr

    def ask(question: str, since: str | None = None, until: str | None = None, outlets: list[str] | str | None = None,
            as_of: str | None = None) -> dict:
        """Answer a standalone question (from the article revisions current on ``as_of``, a
        YYYY-MM-DD date, when given); returns the JSON object of `rag ask --json`."""
        try:
            return archive.ask(question, None, since or None, until or None, parse_outlets(outlets),
                               as_of=as_of or None).to_dict()
        except Exception as exc:
            raise gr.Error(error_line(exc, "answering"), print_exception=False) from exc

    return ask


def wire_ingest(a: SimpleNamespace, c: SimpleNamespace, archive, settings) -> None:
    """Ingest: store uploads under <index>/uploads, ingest them, report; refresh the stats and
    the chat's outlet filter."""
    import gradio as gr

    from rag.ingest.uploads import save_uploads

    def ingest(files, progress=gr.Progress()):
        """Archive tab: store uploads under <index>/uploads, ingest them, report."""
        try:
            result = save_uploads(archive.path, files or [], settings)
            report = None
            if result.saved:
                progress(0, desc="Ingesting…")
                t = time.monotonic()

                def on_progress(articles: int, chunks: int) -> None:
                    progress((articles, None), desc=f"{articles} articles, {chunks} chunks ({time.monotonic() - t:.0f} s)", unit="articles")

                report = archive.ingest(list(result.saved), on_progress=on_progress)
            shown, outlets = render_ingest(result, report), gr.Dropdown(choices=archive.outlets())
        except Exception as exc:
            shown, outlets = _one_line_error(exc, "ingesting the uploads"), gr.skip()
        return shown, stats_markdown(archive), outlets, None

    a.ingest_btn.click(ingest, inputs=[a.files], outputs=[a.report, a.stats, c.outlets, a.files], api_visibility="private")


def wire_evals(e: SimpleNamespace, archive, settings, runs_dir: str | Path) -> None:
    """Run eval: one at a time, in its own queue group (chat requests keep their own workers);
    uploading a dataset selects it."""
    import gradio as gr

    def run_evaluation(source, upload, limit, progress=gr.Progress()):
        """Evals tab: evaluate a dataset on the open archive into a fresh runs/<timestamp>/,
        then show its report and plots (one-line error on bad input)."""
        started = time.monotonic()
        n = parse_limit(limit)
        if source == "upload" and not upload:
            return "**Error:** upload a dataset (MultiHop-RAG .json or .jsonl) first, or choose the sample set.", gr.skip(), gr.skip()
        run_dir = None
        try:
            from evals.datasets import load_dataset

            run_dir = new_run_dir(runs_dir)
            dataset = stage_dataset(upload, run_dir, settings) if source == "upload" else sample_dataset()
            load_dataset(dataset, n)  # validate before the models load
            progress(0, desc="Loading the support judge…")

            def on_progress(done: int, total: int) -> None:
                progress((done, total), desc=f"question {done} of {total}", unit="questions")

            md, pngs = render_report(eval_on_archive(archive, dataset, run_dir, limit=n, on_progress=on_progress))
        except Exception as exc:
            if run_dir is not None and not (run_dir / "report.md").exists():
                shutil.rmtree(run_dir, ignore_errors=True)
            return _one_line_error(exc, "the eval"), gr.skip(), gr.skip()
        status = f"Evaluated on <code>{_esc(archive.path)}</code> in {time.monotonic() - started:.0f} s; run saved in <code>{_esc(run_dir)}</code>."
        return status, md, gr.Gallery(value=pngs, visible=bool(pngs))

    e.run_btn.click(
        run_evaluation, inputs=[e.source, e.file, e.limit], outputs=[e.status, e.report, e.plots],
        api_visibility="private", concurrency_limit=1, concurrency_id="eval", show_progress="full",
    )
    e.file.upload(lambda: "upload", outputs=[e.source], api_visibility="private")


def wire_timeline(t: SimpleNamespace, archive) -> None:
    """Timeline button or Enter: the story's events as a figure and a list (one-line error on bad input)."""
    import gradio as gr

    from rag.stories.timeline_view import render_timeline, timeline_figure

    def show(query, since, until):
        """Timeline tab: :meth:`Archive.timeline` of the query, drawn and listed."""
        try:
            tl = archive.timeline(query, since=since or None, until=until or None)
        except Exception as exc:
            return gr.Plot(visible=False), f'<p class="nr-empty">Error: {_esc(error_line(exc, "the timeline"))}</p>'
        fig = timeline_figure(tl)
        return gr.Plot(value=fig, visible=fig is not None), render_timeline(tl)

    for trigger in (t.go.click, t.query.submit):
        trigger(show, inputs=[t.query, t.since, t.until], outputs=[t.plot, t.events], api_visibility="private")


def compare_tab(archive) -> SimpleNamespace:
    """The Compare outlets tab: a topic (or an answer from the chat) and its outlets side by side."""
    import gradio as gr

    from rag.stories.compare_view import render_comparison

    m = SimpleNamespace()
    with gr.Tab("Compare outlets", id="compare-tab"):
        with gr.Row():
            m.query = gr.Textbox(show_label=False, placeholder="A topic or question; outlets it names are compared", scale=5, elem_id="cmp-query")
            m.go = gr.Button("Compare", variant="primary", scale=1, elem_id="cmp-btn")
            m.last = gr.Button("Compare the last answer's outlets", scale=1, elem_id="cmp-last")
        m.view = gr.HTML(render_comparison(None), elem_id="cmp-view")
    return m


def wire_compare(m: SimpleNamespace, c: SimpleNamespace, archive, tabs) -> None:
    """Compare (or Enter) sets the outlets of the query side by side. Clicking an answer's "Set
    side by side" line in the chat (the chatbot's select event) switches to this tab and sets the
    outlets that answer cites side by side for its question, with the dates it was asked with;
    the last-answer button does the same for the chat's last answer."""
    import gradio as gr

    from rag.stories.compare_view import render_comparison

    def show(query, outlets=None, since=None, until=None):
        """Compare tab: :meth:`Archive.compare` of the query, rendered side by side."""
        try:
            return render_comparison(archive.compare(query, outlets or None, since or None, until or None))
        except Exception as exc:
            return f'<p class="nr-empty">Error: {_esc(error_line(exc, "the comparison"))}</p>'

    def shown(entry):
        """(query, view) of an asked entry: its cited outlets side by side when there are several."""
        cited = entry["outlets"] if len(entry["outlets"]) > 1 else None
        return entry["question"], show(entry["question"], cited, entry["since"], entry["until"])

    def last(asked):
        """The chat's last (standalone) question, with the outlets its answer cites side by side."""
        entries = [e for e in asked or () if e]
        return shown(entries[-1]) if entries else ("", render_comparison(None, "Ask a question in the chat first."))

    def open_answer(asked, evt: gr.SelectData):
        """Chat select: the clicked answer's outlets side by side in this tab (nothing for
        other messages); the tab shows first, the comparison when it is ready."""
        entry = comparable_entry(asked, evt.index)
        if entry is None:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        wait = render_comparison(None, f"Setting {' · '.join(entry['outlets'])} side by side…")
        yield entry["question"], wait, gr.Tabs(selected="compare-tab")
        yield *shown(entry), gr.skip()

    for trigger in (m.go.click, m.query.submit):
        trigger(show, inputs=[m.query], outputs=[m.view], api_visibility="private")
    m.last.click(last, inputs=[c.asked], outputs=[m.query, m.view], api_visibility="private")
    c.chatbot.select(open_answer, inputs=[c.asked], outputs=[m.query, m.view, tabs], api_visibility="private")


def wire_refresh(app, e: SimpleNamespace, a: SimpleNamespace, c: SimpleNamespace, archive, runs_dir: str | Path) -> None:
    """Page load and "Show latest report": index stats, outlet choices, newest eval report."""
    import gradio as gr

    def refresh():
        """Page load / reload: index stats, outlet choices, newest eval report."""
        try:
            md, pngs = latest_eval(runs_dir)
        except Exception as exc:
            md, pngs = _one_line_error(exc, "reading the latest eval report"), []
        return stats_markdown(archive), gr.Dropdown(choices=_outlet_choices(archive)), md, gr.Gallery(value=pngs, visible=bool(pngs))

    for trigger in (app.load, e.reload_btn.click):
        trigger(refresh, outputs=[a.stats, c.outlets, e.report, e.plots], api_visibility="private")


def launch_app(
    app,
    settings=None,
    host: str = DEFAULT_HOST,
    port: int | None = DEFAULT_PORT,
    auth: tuple[str, str] | None = None,
    share: bool = False,
    runs_dir: str | Path = "runs",
    **kwargs: Any,
):
    """Launch ``app`` with the offline theme, CSS and citation script; returns
    ``(fastapi_app, local_url, share_url)`` like ``Blocks.launch``. Extra ``kwargs`` go to it."""
    options: dict[str, Any] = dict(
        server_name=host, server_port=port, share=share, auth=auth, theme=theme(), css=CSS + COMPARE_CSS, head=HEAD,
        footer_links=["api"], ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
        allowed_paths=[str(Path(runs_dir).resolve())], show_error=True,
    )
    if settings is not None:
        options["max_file_size"] = f"{int(settings.max_upload_mb)}mb"
    options.update(kwargs)
    return app.launch(**options)


def auth_from_env(env=None) -> tuple[str, str] | None:
    """Basic-auth credentials from ``RAG_UI_USER`` and ``RAG_UI_PASSWORD`` (both or neither)."""
    env = os.environ if env is None else env
    user, password = env.get("RAG_UI_USER") or "", env.get("RAG_UI_PASSWORD") or ""
    if bool(user) != bool(password):
        raise BadInput("set both RAG_UI_USER and RAG_UI_PASSWORD for basic auth, or neither")
    return (user, password) if user else None


# ---- command line --------------------------------------------------------------------------
def add_options(p: argparse.ArgumentParser) -> None:
    """The UI's own options (``--index``/``--config`` come from the common options)."""
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default; needs internet)")
    p.add_argument("--runs", default="runs", help="folder of eval runs: the Evals tab shows the newest and writes new runs there (default: runs)")


def run(args) -> int:
    """Open the archive once, build the app, launch it and serve until Ctrl-C."""
    from rag.archive import Archive
    from rag.cli import settings_from_args

    settings = settings_from_args(args)
    auth = auth_from_env()
    archive = Archive.open(settings=settings)
    app = build_app(archive, archive.settings, runs_dir=args.runs)
    if args.host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        print(f"warning: serving on {args.host} without auth (set RAG_UI_USER and RAG_UI_PASSWORD)", file=sys.stderr)
    try:
        _, url, share_url = launch_app(
            app, archive.settings, host=args.host, port=args.port, auth=auth, share=bool(args.share),
            runs_dir=args.runs, prevent_thread_lock=True, quiet=True,
        )
    except OSError as exc:
        raise BadInput(f"cannot listen on {args.host}:{args.port}: {exc} (try --port)") from exc
    print(f"newsrag UI for {archive.path}: {url}" + (f" (public: {share_url})" if share_url else "") + "  — Ctrl-C to stop", flush=True)
    app.block_thread()
    archive.close()
    return 0


def register(subparsers, add_common_options) -> None:
    """Entry point of the ``rag.commands`` group: adds ``rag ui``."""
    p = subparsers.add_parser("ui", help="chat with the archive in the browser (gradio)")
    add_options(p)
    add_common_options(p)
    p.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python ui.py``: same options as ``rag ui``."""
    p = argparse.ArgumentParser(prog="ui.py", description="newsrag chat UI")
    add_options(p)
    p.add_argument("--index", help="index folder (default: $RAG_INDEX or index/default)")
    p.add_argument("--config", help="settings TOML file (default: ./rag.toml if present)")
    from rag.cli import run_command

    return run_command("ui", run, p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
