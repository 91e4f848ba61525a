"""Query understanding: date phrases against a fixed "now", outlet detection from an outlet
list, recency and temporal intent, and sub-query splitting."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from rag.retrieve.dates import is_temporal, parse_dates, recency, reference_now
from rag.retrieve.query import OutletMatcher, QueryPlan, outlet_aliases, plan_query

UTC = timezone.utc
# An archive running 2023-09-26 .. 2023-12-25; "now" is its last day (a Monday).
SPAN = (datetime(2023, 9, 26, 5, 0, tzinfo=UTC), datetime(2023, 12, 25, 23, 0, tzinfo=UTC))
NOW = SPAN[1]


def _days(phrase: str):
    found = parse_dates(phrase, NOW, SPAN)
    assert len(found) == 1, (phrase, found)
    d = found[0]
    return (d.since.date() if d.since else None, d.until.date() if d.until else None)


D = date


@pytest.mark.parametrize(
    "phrase, since, until",
    [
        ("published on October 6, 2023", D(2023, 10, 6), D(2023, 10, 6)),
        ("on Oct. 5th", D(2023, 10, 5), D(2023, 10, 5)),
        ("on 5 October 2023", D(2023, 10, 5), D(2023, 10, 5)),
        ("the 12th of November", D(2023, 11, 12), D(2023, 11, 12)),
        ("the one on 2023-10-16", D(2023, 10, 16), D(2023, 10, 16)),
        ("in October 2023", D(2023, 10, 1), D(2023, 10, 31)),
        ("in October", D(2023, 10, 1), D(2023, 10, 31)),  # year from the archive's span
        ("in the last week of November", D(2023, 11, 24), D(2023, 11, 30)),
        ("during the first week of December", D(2023, 12, 1), D(2023, 12, 7)),
        ("the second week of October", D(2023, 10, 8), D(2023, 10, 14)),
        ("in mid-October", D(2023, 10, 11), D(2023, 10, 20)),
        ("in early November", D(2023, 11, 1), D(2023, 11, 10)),
        ("in late September", D(2023, 9, 21), D(2023, 9, 30)),
        ("at the end of October", D(2023, 10, 21), D(2023, 10, 31)),
        ("between October 2 and October 9", D(2023, 10, 2), D(2023, 10, 9)),
        ("between 1 and 15 December", D(2023, 12, 1), D(2023, 12, 15)),
        ("before October 10", None, D(2023, 10, 9)),
        ("prior to November 1, 2023", None, D(2023, 10, 31)),
        ("after November 3, 2023", D(2023, 11, 4), None),
        ("since October 1", D(2023, 10, 1), None),
        ("until December 1", None, D(2023, 12, 1)),
        ("last week", D(2023, 12, 18), D(2023, 12, 24)),  # the previous Monday..Sunday
        ("this week", D(2023, 12, 25), D(2023, 12, 25)),
        ("yesterday", D(2023, 12, 24), D(2023, 12, 24)),
        ("today", D(2023, 12, 25), D(2023, 12, 25)),
        ("in the past week", D(2023, 12, 18), D(2023, 12, 25)),
        ("over the last 10 days", D(2023, 12, 15), D(2023, 12, 25)),
        ("in the past two weeks", D(2023, 12, 11), D(2023, 12, 25)),
        ("last month", D(2023, 11, 1), D(2023, 11, 30)),
        ("this month", D(2023, 12, 1), D(2023, 12, 25)),
        ("in 2023", D(2023, 1, 1), D(2023, 12, 31)),
    ],
)
def test_date_phrases(phrase, since, until):
    assert _days(phrase) == (since, until)


def test_year_left_out_is_the_one_inside_the_archive():
    # an archive of 2023-09..2023-12 read in March 2024: "October 6" is 2023-10-06,
    # "January" the only January inside the archive's reach (the latest before "now")
    now = datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_dates("on October 6", now, SPAN)[0].since.date() == D(2023, 10, 6)
    assert parse_dates("in January", now, SPAN)[0].since.date() == D(2024, 1, 1)


@pytest.mark.parametrize(
    "text",
    [
        "Apple may soon stop selling the watch",
        "Regulators may not approve the deal",
        "They march on the capital",
        "A 25-point lead in the fourth quarter",
        "What did Sam Bankman-Fried say at the trial?",
    ],
)
def test_not_dates(text):
    assert parse_dates(text, NOW, SPAN) == []


def test_several_dates_keep_their_spans():
    q = "Did TechCrunch report on October 2, 2023 and again on October 7, 2023 about SBF?"
    found = parse_dates(q, NOW, SPAN)
    assert [d.since.date() for d in found] == [D(2023, 10, 2), D(2023, 10, 7)]
    assert [q[d.start : d.end] for d in found] == ["October 2, 2023", "October 7, 2023"]


def test_reference_now_is_the_archive_not_the_wall_clock():
    wall = datetime(2026, 11, 28, tzinfo=UTC)
    assert reference_now(*SPAN, wall_clock=wall) == SPAN[1]  # old archive: its own last day
    fresh = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC))
    assert reference_now(*fresh, wall_clock=wall) == wall  # current archive: now
    assert reference_now(None, None, wall_clock=wall) == wall


def test_recency_and_temporal_intent():
    assert recency("What is the latest on the OpenAI board?") == 1
    assert recency("Which outlet reported it most recently?") == 1
    assert recency("What was the earliest report about the merger?") == -1
    assert recency("Who won the Riverside Marathon?") == 0
    assert is_temporal("When did Apple announce the M3 chips?")
    assert is_temporal("Which came first, the lawsuit or the settlement?")
    assert is_temporal("Did TechCrunch report it before The Verge did?")
    assert not is_temporal("Who won the Riverside Marathon?")


# ---- outlets ------------------------------------------------------------------------------

OUTLETS = [
    "TechCrunch", "The Verge", "Sporting News", "Fortune", "The Age", "Wired", "Engadget",
    "Cnbc | World Business News Leader", "CBSSports.com", "FOX News - Health", "FOX News - Lifestyle",
    "The Independent - Life and Style", "The Independent - Sports", "BBC News - Technology",
]
M = OutletMatcher(OUTLETS)


def _found(text: str) -> list[tuple[str, ...]]:
    return [m.outlets for m in M.find(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("What did Apple say, according to TechCrunch?", [("TechCrunch",)]),
        ("The Verge reported that Google paid Apple.", [("The Verge",)]),
        ("what did the verge report about google?", [("The Verge",)]),  # typed all lowercase
        ("According to techcrunch, who founded the startup?", [("TechCrunch",)]),  # a coined name
        ("Did Sporting News rank the Chiefs first?", [("Sporting News",)]),
        ("What did CNBC say about the strike?", [("Cnbc | World Business News Leader",)]),
        ("How did CBS Sports grade the trade?", [("CBSSports.com",)]),
        ("Was it in the 'FOX News - Health' article?", [("FOX News - Health",)]),
        ("What did FOX News say?", [("FOX News - Health", "FOX News - Lifestyle")]),
        ("Does The Independent - Life and Style article agree?", [("The Independent - Life and Style",)]),
        ("What did BBC News report?", [("BBC News - Technology",)]),
        ("The company is on the verge of collapse.", []),
        ("Investors lost a fortune in the age of AI.", []),
        ("Wired headphones are back, says The Age.", [("Wired",), ("The Age",)]),
        ("Did Fortune and The Verge agree, while TechCrunch disagreed?", [("Fortune",), ("The Verge",), ("TechCrunch",)]),
    ],
)
def test_outlet_mentions(text, expected):
    assert _found(text) == expected


def test_aliases_come_from_the_names_themselves():
    assert {"Cnbc", "Cnbc | World Business News Leader"} <= outlet_aliases("Cnbc | World Business News Leader")
    assert {"The Verge", "Verge"} <= outlet_aliases("The Verge")
    assert "CBSSports" in outlet_aliases("CBSSports.com")
    assert "FOX News" in outlet_aliases("FOX News - Health")


def test_mention_span_covers_the_article_word():
    m = M.find("Does the Verge article claim it?")[0]
    assert m.text == "the Verge" and m.outlets == ("The Verge",)


# ---- sub-queries --------------------------------------------------------------------------

def _plan(q: str, **kw):
    return plan_query(q, OUTLETS, now=NOW, span=SPAN, **kw)


def test_two_outlets_split_into_filtered_sides():
    q = ("Does the TechCrunch article claim that Keep Labs uses automated code audits, while the "
         "Engadget article says CyberGhost skipped an independent security audit?")
    p = _plan(q)
    sides = [s for s in p.subqueries if s.kind == "side"]
    assert [s.outlets for s in sides] == [("TechCrunch",), ("Engadget",)]
    assert "Keep Labs" in sides[0].text and "CyberGhost" not in sides[0].text
    assert "CyberGhost" in sides[1].text and "Keep Labs" not in sides[1].text
    # the outlet names became filters: they are not searched as words
    assert all("TechCrunch" not in s.text and "Engadget" not in s.text for s in p.subqueries)
    assert p.outlet_names == ("TechCrunch", "Engadget")


def test_one_outlet_on_two_dates_splits_by_date():
    q = ("Between the TechCrunch report on the SBF trial published on October 6, 2023, and the "
         "TechCrunch report on the prosecution published on October 7, 2023, was the portrayal consistent?")
    sides = [s for s in _plan(q).subqueries if s.kind == "side"]
    assert [(s.outlets, s.since.date()) for s in sides] == [(("TechCrunch",), D(2023, 10, 6)), (("TechCrunch",), D(2023, 10, 7))]
    assert "trial" in sides[0].text and "prosecution" in sides[1].text


def test_listed_outlets_share_the_question_and_clauses_become_subqueries():
    q = ("Which company, reported by both TechCrunch and The Verge, was sued by news publishers "
         "and paid billions to be the default search engine?")
    p = _plan(q)
    sides = [s for s in p.subqueries if s.kind == "side"]
    assert {s.outlets for s in sides} == {("TechCrunch",), ("The Verge",)}
    assert all("publishers" in s.text and "default search engine" in s.text for s in sides)
    clauses = [s for s in p.subqueries if s.kind == "clause"]
    assert any("sued by news publishers" in s.text for s in clauses)
    assert all(set(s.outlets) == {"TechCrunch", "The Verge"} for s in clauses)


def test_single_part_question_has_no_subqueries():
    assert _plan("What did TechCrunch report about the Beeper Mini app?").subqueries == ()
    assert _plan("Who won the Riverside Marathon?").subqueries == ()


def test_switches():
    q = "Did the TechCrunch article on October 6, 2023 agree with the Fortune article on the trial?"
    assert _plan(q, dates=False).dates == ()
    assert _plan(q, subqueries=False).subqueries == ()
    assert plan_query(q, (), now=NOW, span=SPAN).outlets == ()
    full = _plan(q)
    assert full.outlet_names == ("TechCrunch", "Fortune") and full.day_dates


def test_the_plan_holds_what_retrieval_reads_and_nothing_else():
    # temporal intent is the answerer's question (rag.retrieve.dates.is_temporal), not the plan's
    assert set(QueryPlan.__dataclass_fields__) == {"question", "outlets", "dates", "recency", "subqueries"}
    p = plan_query("What did TechCrunch report on the latest Apple lawsuit in mid-October?", OUTLETS, now=NOW, span=SPAN)
    assert p.outlet_names == ("TechCrunch",) and p.recency == 1
    (mid,) = p.day_dates
    assert (mid.since.date(), mid.until.date()) == (date(2023, 10, 11), date(2023, 10, 20))


def test_named_windows_of_the_date_parser():
    from rag.retrieve.dates import EARLY_MONTH_LAST_DAY, MID_MONTH_LAST_DAY, PAST_WINDOW_DAYS

    def span(text):
        (d,) = parse_dates(text, NOW, SPAN)
        return d.since.date(), d.until.date()

    assert span("in early November") == (date(2023, 11, 1), date(2023, 11, EARLY_MONTH_LAST_DAY))
    assert span("in late November") == (date(2023, 11, MID_MONTH_LAST_DAY + 1), date(2023, 11, 30))
    today = NOW.date()
    assert span("in the past month") == (date.fromordinal(today.toordinal() - PAST_WINDOW_DAYS["month"]), today)
    assert span("over the last 2 weeks") == (date.fromordinal(today.toordinal() - 14), today)
