"""How a :class:`~rag.types.Timeline` is shown in the chat: a date-axis figure (matplotlib) and
an HTML list whose events open, on a click, onto their sources with the quote in ``<mark>``.

Pure rendering: every text is HTML-escaped, only http(s) links are kept.
"""
from __future__ import annotations

import html
from urllib.parse import urlparse

from rag.types import Timeline, TimelineSource

LABEL_CHARS = 60  # an event's label on the figure: enough words to recognise it
ROW_INCHES = 0.32  # figure height per event: labels stay readable without overlapping
MIN_HEIGHT, MAX_HEIGHT = 2.5, 16.0  # inches: a short timeline still reads; a long one scrolls
STATED_COLOR, PUBLISHED_COLOR = "#c2410c", "#64748b"  # stated dates stand out; publication dates recede


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _short(text: str, n: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


def _link(s: TimelineSource) -> str:
    title = _esc(s.title or "Untitled")
    if s.url and urlparse(s.url).scheme in ("http", "https"):
        return f'<a href="{_esc(s.url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
    return title


def render_source(s: TimelineSource) -> str:
    """One source: outlet, headline, date, "first" when it reported first, and the paragraph
    around its quote with the quote in ``<mark>``."""
    passage, i = s.passage or s.quote, max(0, s.start - s.passage_start)
    if passage[i:i + len(s.quote)] != s.quote:
        passage, i = s.quote, 0
    before, after = passage[:i], passage[i + len(s.quote):]
    first = ' <span class="tl-first">first</span>' if s.first else ""
    day = s.published_at.date().isoformat() if s.published_at else "undated"
    return (
        f'<div class="tl-src" id="tl-src-{s.n}"><div class="tl-src-head"><span class="src-n">{s.n}</span> '
        f'{_esc(s.outlet or "unknown outlet")} · {_link(s)} · {day}{first}</div>'
        f'<blockquote class="passage">{_esc(before)}<mark>{_esc(s.quote)}</mark>{_esc(after)}</blockquote></div>'
    )


def render_timeline(tl: Timeline | None) -> str:
    """The list: one folded entry per event (number, date, how it is dated, sentence, outlets);
    opening it shows its sources."""
    if tl is None:
        return '<p class="nr-empty">Name a story (e.g. <em>Sam Bankman-Fried trial</em>) to see its events in date order.</p>'
    if not tl.events:
        return f'<p class="nr-empty">No dated event found for <em>{_esc(tl.query)}</em>.</p>'
    items = []
    for i, e in enumerate(tl.events, 1):
        outlets = list(dict.fromkeys(s.outlet or "unknown outlet" for s in e.sources))
        how = "stated" if e.date_source == "stated" else "published"
        items.append(
            f'<details class="tl-event" id="tl-ev-{i}"><summary><span class="tl-num">{i}</span> '
            f'<span class="tl-date tl-{how}">{e.date.isoformat()}</span> <span class="tl-how">({how})</span> '
            f'{_esc(e.text)} <span class="tl-outlets">— {_esc(", ".join(outlets))}</span></summary>'
            f'{"".join(render_source(s) for s in e.sources)}</details>'
        )
    return (f'<div class="nr-timeline"><div class="tl-head">{len(tl.events)} events for <em>{_esc(tl.query)}</em>; '
            f'open one to see its sources.</div>{"".join(items)}</div>')


def timeline_figure(tl: Timeline | None):
    """The events on a date axis, one row per event (numbered as in the list), filled for a
    stated date and hollow for a publication date; None when there is nothing to draw."""
    if tl is None or not tl.events:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    n = len(tl.events)
    fig, ax = plt.subplots(figsize=(10, min(MAX_HEIGHT, max(MIN_HEIGHT, ROW_INCHES * n + 1))))
    for i, e in enumerate(tl.events):
        y = n - i
        stated = e.date_source == "stated"
        color = STATED_COLOR if stated else PUBLISHED_COLOR
        ax.plot([e.date], [y], "o", ms=7, color=color, mfc=color if stated else "white", mew=1.6)
        label = f"{i + 1}. {_short(e.text)}".replace("$", r"\$")  # "$80 billion" is no math formula
        ax.annotate(label, (mdates.date2num(e.date), y), xytext=(8, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.set_ylim(0.3, n + 0.7)
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.grid(axis="x", alpha=0.3)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.margins(x=0.35)
    ax.legend(handles=[Line2D([], [], marker="o", ls="", color=STATED_COLOR, label="date stated in the text"),
                       Line2D([], [], marker="o", ls="", color=PUBLISHED_COLOR, mfc="white", label="publication date")],
              loc="upper left", bbox_to_anchor=(0, -0.06 * MIN_HEIGHT / fig.get_figheight()), ncol=2, fontsize=8,
              frameon=False)  # under the axis: it never covers an event
    ax.set_title(f"{tl.query}: {n} events", fontsize=10, loc="left")
    fig.tight_layout()
    return fig
