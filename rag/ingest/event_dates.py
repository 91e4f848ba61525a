"""Event dates: the dates an article's text states, resolved to calendar days with exact body
offsets, and the date each sentence is about.

Three kinds, all resolved against the article's publication date (``published``):
``absolute`` ("November 17", "Oct. 6, 2023"), ``relative`` ("on Friday", "last week",
"yesterday") and ``section`` (a line that is only a date, as in live blogs and timeline
articles, dates the paragraphs under it until the next such line). A sentence's date is the
date it states, else the section date governing it, else its publication date
(``date_source``: ``stated`` or ``published``); undated text stays undated.

CONTRACT (shared by ingest, records, timeline and answers; keep these names and shapes):
``resolve_dates(body, published) -> tuple[StatedDate, ...]`` sorted by ``start``;
``date_of_span(dates, start, end, published) -> tuple[date | None, str]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Sequence

STATED, PUBLISHED = "stated", "published"


@dataclass(frozen=True)
class StatedDate:
    """A date phrase of a body: ``body[start:end] == text``, resolved to ``day``."""

    start: int
    end: int
    day: date
    kind: str  # "absolute" | "relative" | "section"
    text: str


def resolve_dates(body: str, published: datetime | None) -> tuple[StatedDate, ...]:
    """Every date phrase ``body`` states, resolved against ``published`` (placeholder: the
    event-dates work replaces this with the real resolver)."""
    return ()


def date_of_span(dates: Sequence[StatedDate], start: int, end: int, published: datetime | None) -> tuple[date | None, str]:
    """The day the text ``body[start:end]`` is about and where that came from: a non-section
    date stated inside the span, else the last section date before it, else the publication
    date; ``(None, PUBLISHED)`` when there is none."""
    inside = [d for d in dates if d.kind != "section" and d.start >= start and d.end <= end]
    if inside:
        return inside[0].day, STATED
    sections = [d for d in dates if d.kind == "section" and d.end <= start]
    if sections:
        return sections[-1].day, STATED
    return (published.date() if published else None), PUBLISHED
