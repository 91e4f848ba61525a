"""Event dates: phrases found with exact offsets, resolved against the publication date (or the
section date above them), and the day a sentence is about."""
from __future__ import annotations

import time
from datetime import date, datetime, timezone

from rag.ingest.event_dates import PUBLISHED, STATED, date_of_span, granularity, resolve_dates

MONDAY = datetime(2023, 11, 20, 15, 0, tzinfo=timezone.utc)  # a Monday afternoon

TIMELINE = (
    "In a dramatic turn of events late Friday, Sam Altman was fired as CEO of OpenAI.\n\n"
    "Timeline of Sam Altman’s firing from OpenAI\n\n"
    "November 21\n\n"
    "Sam Altman, OpenAI reach agreement on return as CEO\n\n"
    "In his words, his decision to join Microsoft on Sunday “was the best path for me and the team.”\n\n"
    "November 20\n\n"
    "Altman joins Microsoft\n\n"
    "Microsoft CEO Satya Nadella announced that Altman would lead a new AI research team.\n"
)
PUBLISHED_AT = datetime(2023, 11, 18, 20, 16, tzinfo=timezone.utc)  # a Saturday


def _by_text(body, published):
    return {d.text: d for d in resolve_dates(body, published)}


def _sentence_day(body, opening, published):
    """The day of the sentence (up to its line's end) that starts with ``opening``."""
    start = body.index(opening)
    end = body.find("\n", start)
    return date_of_span(resolve_dates(body, published), start, end if end >= 0 else len(body), published)


def test_every_phrase_is_an_exact_body_span_sorted_by_start():
    body = TIMELINE + "The deal closed Oct. 6, 2023, a week after talks began on Friday."
    dates = resolve_dates(body, PUBLISHED_AT)
    assert dates and all(body[d.start:d.end] == d.text for d in dates)
    assert [d.start for d in dates] == sorted(d.start for d in dates)


def test_section_lines_date_what_follows_until_the_next_one():
    dates = resolve_dates(TIMELINE, PUBLISHED_AT)
    sections = [d for d in dates if d.kind == "section"]
    assert [(d.text, d.day) for d in sections] == [("November 21", date(2023, 11, 21)), ("November 20", date(2023, 11, 20))]
    assert _sentence_day(TIMELINE, "Microsoft CEO Satya Nadella announced", PUBLISHED_AT) == (date(2023, 11, 20), STATED)
    assert _sentence_day(TIMELINE, "Sam Altman, OpenAI reach agreement", PUBLISHED_AT) == (date(2023, 11, 21), STATED)
    # text above the first section line keeps its own date
    assert _sentence_day(TIMELINE, "In a dramatic turn of events late Friday", PUBLISHED_AT) == (date(2023, 11, 17), STATED)


def test_a_weekday_under_a_section_counts_from_the_section_date():
    # "on Sunday" under "November 21" (a Tuesday) is November 19, not the Sunday before publication
    assert _sentence_day(TIMELINE, "In his words, his decision", PUBLISHED_AT) == (date(2023, 11, 19), STATED)


def test_date_headings_with_a_title_are_sections():
    body = "How it unfolded.\n\nSept. 24: Swift attends Chiefs game\n\nShe sat with Kelce's mother in a suite.\n"
    dates = resolve_dates(body, datetime(2023, 10, 12, tzinfo=timezone.utc))
    assert [(d.kind, d.day) for d in dates] == [("section", date(2023, 9, 24))]
    assert _sentence_day(body, "She sat with", datetime(2023, 10, 12, tzinfo=timezone.utc)) == (date(2023, 9, 24), STATED)


def test_a_date_inside_a_sentence_is_not_a_section():
    # past tense, three days after publication (a living article): still this year
    body = "Altman returned as CEO on November 21 after days of talks.\n\nThe board was replaced.\n"
    dates = resolve_dates(body, PUBLISHED_AT)
    assert [(d.kind, d.day) for d in dates] == [("absolute", date(2023, 11, 21))]
    assert _sentence_day(body, "The board was replaced.", PUBLISHED_AT) == (PUBLISHED_AT.date(), PUBLISHED)


def test_weekdays_relative_to_a_monday_publication():
    body = ("OpenAI fired Altman on Friday. Microsoft said Monday it had hired him. "
            "The board will meet on Thursday. He spoke last Monday and will speak again next Friday.")
    got = {d.start: d for d in resolve_dates(body, MONDAY)}
    days = [(body[s:d.end], d.day) for s, d in sorted(got.items())]
    assert days == [
        ("Friday", date(2023, 11, 17)),  # the Friday before
        ("Monday", date(2023, 11, 20)),  # "said Monday" in Monday's paper: that day
        ("Thursday", date(2023, 11, 23)),  # future tense: the coming Thursday
        ("last Monday", date(2023, 11, 13)),
        ("next Friday", date(2023, 11, 24)),
    ]
    assert all(d.kind == "relative" for d in got.values())


def test_absolute_dates_with_and_without_a_year():
    body = ("The deal closed Oct. 6, 2023. Talks began on 17 November. The company was founded on "
            "Feb. 10, 1891. The game will be played on Jan. 3.")
    d = _by_text(body, MONDAY)
    assert d["Oct. 6, 2023"].day == date(2023, 10, 6) and d["Oct. 6, 2023"].kind == "absolute"
    assert d["17 November"].day == date(2023, 11, 17)
    assert d["Feb. 10, 1891"].day == date(1891, 2, 10)
    assert d["Jan. 3"].day == date(2024, 1, 3)  # future tense, written in November: next January


def test_a_past_tense_year_less_date_is_not_in_the_future():
    body = "When he tried to get his money out on November 8th, it was too late."
    assert _by_text(body, datetime(2023, 10, 4, tzinfo=timezone.utc))["November 8th"].day == date(2022, 11, 8)


def test_relative_words_weeks_months_and_ago():
    body = ("Prices fell yesterday and rose today. Sales slumped last week and earlier this month. "
            "The firm launched two days ago, three weeks ago it had no staff, and 10,353 days ago it did not exist. "
            "Results are due tomorrow.")
    d = _by_text(body, MONDAY)
    assert d["yesterday"].day == date(2023, 11, 19)
    assert d["today"].day == date(2023, 11, 20)
    assert d["tomorrow"].day == date(2023, 11, 21)
    assert d["last week"].day == date(2023, 11, 13) and granularity("last week") == "week"
    assert d["earlier this month"].day == date(2023, 11, 1) and granularity("earlier this month") == "month"
    assert d["two days ago"].day == date(2023, 11, 18)
    assert d["three weeks ago"].day == date(2023, 10, 30)
    assert d["10,353 days ago"].day == date(1995, 7, 17)


def test_numbers_durations_and_names_are_not_dates():
    body = ("The company cut 2,500 jobs over 10 days, about 30 percent in 2 weeks. Black Friday deals and "
            "Cyber Monday sales ran on the Sunday Times front page; USA Today covered it. "
            "Revenue was 2023 million. It was the late 1970s. Score: 24-3.")
    assert resolve_dates(body, MONDAY) == ()


def test_without_a_publication_date_only_dates_with_a_year_resolve():
    body = "The trial began Oct. 3, 2023. He testified on Friday and again on November 2, last week."
    dates = resolve_dates(body, None)
    assert [(d.text, d.day) for d in dates] == [("Oct. 3, 2023", date(2023, 10, 3))]
    assert date_of_span(dates, 30, 60, None) == (None, PUBLISHED)


def test_a_section_line_gives_the_year_when_there_is_no_publication_date():
    body = "November 20, 2023\n\nAltman joined Microsoft on Monday, and the board will meet again on November 21.\n"
    dates = _by_text(body, None)
    assert dates["November 20, 2023"].kind == "section"
    assert dates["Monday"].day == date(2023, 11, 20)
    assert dates["November 21"].day == date(2023, 11, 21)


def test_date_of_span_prefers_the_most_precise_date_and_absolute_over_weekday():
    body = "Altman, who co-founded OpenAI in 2015, was fired on Friday (November 17, 2023)."
    dates = resolve_dates(body, MONDAY)
    assert date_of_span(dates, 0, len(body), MONDAY) == (date(2023, 11, 17), STATED)
    assert date_of_span(dates, 0, 5, MONDAY) == (MONDAY.date(), PUBLISHED)


def test_the_whole_sample_of_a_long_body_resolves_fast():
    body = (TIMELINE + "The company cut 2,500 jobs on Oct. 6, 2023, and said on Friday it will hire.\n\n") * 400
    t = time.perf_counter()
    dates = resolve_dates(body, PUBLISHED_AT)
    assert time.perf_counter() - t < 5.0  # ~190 KB; the 609-article corpus takes ~3 s of CPU
    assert len(dates) >= 400 * 5
