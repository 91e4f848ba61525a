"""HTML of a :class:`~rag.types.Comparison` for the chat: one column per outlet (passages with
the quote highlighted), then the differences with the numbers of the passages they cite.
Everything from the archive is escaped; only http(s) links are made."""
from __future__ import annotations

import html
from typing import Sequence

from rag.types import Comparison, Source

CSS = """
.nr-cmp .cmp-cols { display: flex; gap: .8em; align-items: flex-start; overflow-x: auto; }
.nr-cmp .cmp-col { flex: 1 1 0; min-width: 16em; }
.nr-cmp .cmp-col h4 { margin: .2em 0 .4em; }
.nr-cmp .cmp-src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .5em .7em; margin: 0 0 .5em; }
.nr-cmp .cmp-head { font-size: .85em; opacity: .8; }
.nr-cmp .cmp-n { font-weight: 700; margin-right: .3em; }
.nr-cmp mark { background: #fde68a; color: #111; }
.nr-cmp .cmp-diffs li { margin: .3em 0; }
"""


def _esc(text) -> str:
    return html.escape(str(text or ""), quote=True)


def _link(title: str, url: str | None) -> str:
    t = _esc(title or "Untitled")
    if url and url.lower().startswith(("http://", "https://")):
        return f'<a href="{_esc(url)}" target="_blank" rel="noopener noreferrer">{t}</a>'
    return t


def _card(s: Source) -> str:
    date = s.published_at.date().isoformat() if s.published_at else "undated"
    qs = max(0, s.start - s.passage_start)
    qe = qs + (s.end - s.start)
    passage = s.passage or s.quote
    if passage[qs:qe] == s.quote:
        body = f"{_esc(passage[:qs])}<mark>{_esc(s.quote)}</mark>{_esc(passage[qe:])}"
    else:
        body = f"<mark>{_esc(s.quote)}</mark>"
    return (f'<div class="cmp-src" id="cmp-{s.n}"><div class="cmp-head"><span class="cmp-n">[{s.n}]</span>'
            f'{_link(s.title, s.url)} · {date}</div><details><summary><mark>{_esc(s.quote)}</mark></summary>'
            f'<div class="passage">{body}</div></details></div>')


def render_comparison(comp: Comparison | None, note: str = "") -> str:
    """The side-by-side view of ``comp`` (a hint when there is none yet)."""
    if comp is None:
        return f'<p class="nr-empty">{_esc(note or "Ask a question in the chat, then compare its outlets here; or type a topic.")}</p>'
    cols = []
    for v in comp.outlets:
        cards = "".join(_card(s) for s in v.passages) or '<p class="nr-empty">No passage on this topic.</p>'
        cols.append(f'<div class="cmp-col"><h4>{_esc(v.outlet)}</h4>{cards}</div>')
    diffs = "".join(
        f'<li><b>{_esc(d.kind)}</b>: {_esc(d.text)} {_cites(d.sources)}</li>' for d in comp.differences
    ) or "<li>Nothing differs between the outlets' passages.</li>"
    return (f'<div class="nr-cmp"><div class="cmp-cols">{"".join(cols)}</div>'
            f'<h4>What differs</h4><ul class="cmp-diffs">{diffs}</ul></div>')


def _cites(sources: Sequence[Source]) -> str:
    return " ".join(f'<a href="#cmp-{s.n}">[{s.n}] {_esc(s.outlet)}</a>' for s in sources)


def outlets_of(sources: Sequence[Source]) -> list[str]:
    """The distinct outlets of an answer's sources, in order: two or more make it comparable."""
    return list(dict.fromkeys(s.outlet for s in sources if s.outlet))
