"""The timeline of a story: event sentences dated, merged across outlets and syndicated copies,
undated material left out, quotes exact; `rag timeline --json` as a user runs it. Real small
archives (bag-of-words embedder) and the real date resolver."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from rag.archive import Archive
from rag.ingest.event_dates import resolve_dates
from rag.stories.timeline import _parse_where, is_event
from tests.test_cli import rag
from tests.test_syndication import RERUN, WIRE

RECALL_A = ("Zephyr Motors recalled 40,000 electric scooters on Monday after a string of battery fires in "
            "three states. The company said the scooters would be repaired for free. Is this the end for "
            "the Zephyr Motors scooter? Sign up for our newsletter to read more.")
RECALL_B = ("Scooter maker Zephyr Motors recalled 40,000 electric scooters on Monday after battery fires, the "
            "company confirmed. Shares of Zephyr Motors fell 12% in early trading on Tuesday.")
RESIGN = ("Zephyr Motors chief executive Lena Ortiz resigned on March 11, 2024, a week after the scooter "
          "recall. The board named finance chief Omar Haddad as interim chief executive.")
UNDATED = "Zephyr Motors opened a new scooter factory in Ohio, the company said in a statement to investors."
SECTIONS = ("Zephyr Motors: the year so far\n\nFebruary 20\n\nZephyr Motors announced record scooter sales "
            "for the winter months.\n\nMarch 15\n\nZephyr Motors hired a former aviation regulator as its "
            "new scooter safety chief.")

STORY = [
    {"title": "Zephyr Motors recalls 40,000 scooters", "source": "Morning Ledger",
     "published_at": "2024-03-05T08:00:00+00:00", "url": "https://ledger.example/zephyr-recall", "body": RECALL_A},
    # the same body from another outlet: stored once, kept as ``also_in``
    {"title": "Zephyr recall", "source": "Syndicate Daily",
     "published_at": "2024-03-05T20:00:00+00:00", "url": "https://syndicate.example/zephyr", "body": RECALL_A},
    {"title": "Zephyr Motors recalls scooters after fires", "source": "Evening Post",
     "published_at": "2024-03-05T16:00:00+00:00", "url": "https://post.example/zephyr", "body": RECALL_B},
    {"title": "Zephyr Motors CEO resigns", "source": "Evening Post",
     "published_at": "2024-03-12T10:00:00+00:00", "url": "https://post.example/zephyr-ceo", "body": RESIGN},
    {"title": "Zephyr Motors opens factory", "source": "Undated Weekly", "url": "https://weekly.example/zephyr",
     "body": UNDATED},
    {"title": "Zephyr Motors: the year so far", "source": "Morning Ledger",
     "published_at": "2024-03-20T09:00:00+00:00", "url": "https://ledger.example/zephyr-timeline", "body": SECTIONS},
]
QUERY = "Zephyr Motors scooter"


def _archive(settings, tmp_path, items) -> Archive:
    f = tmp_path / "story.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in items), encoding="utf-8")
    a = Archive.create(settings=settings)
    a.ingest([f])
    return a


@pytest.fixture
def story(hash_settings, tmp_path) -> Archive:
    return _archive(hash_settings, tmp_path, STORY)


PUBLISHED = datetime(2024, 3, 20, tzinfo=timezone.utc)


def _resolver_finds(body: str, phrase: str) -> bool:
    return any(d.text == phrase for d in resolve_dates(body, PUBLISHED))


def _event(tl, words: str):
    found = [e for e in tl.events if words in e.text]
    assert len(found) == 1, [e.text for e in tl.events]
    return found[0]


def test_events_in_date_order_with_exact_quotes(story):
    tl = story.timeline(QUERY)
    assert tl.events, "the story has events"
    days = [e.date for e in tl.events]
    assert days == sorted(days)
    ns = [s.n for e in tl.events for s in e.sources]
    assert ns == list(range(1, len(ns) + 1))
    for e in tl.events:
        assert e.date_source in ("stated", "published")
        assert sum(s.first for s in e.sources) == 1 and e.sources[0].first
        for s in e.sources:
            body = story.store.records.get_article(s.article_id).body
            assert body[s.start:s.end] == s.quote
            assert s.passage_start <= s.start and s.quote in s.passage


def test_two_outlets_and_a_syndicated_copy_make_one_event_first_marked(story):
    tl = story.timeline(QUERY)
    recall = _event(tl, "recalled 40,000")
    outlets = [s.outlet for s in recall.sources]
    assert sorted(outlets) == ["Evening Post", "Morning Ledger", "Syndicate Daily"]
    first = [s for s in recall.sources if s.first]
    assert [s.outlet for s in first] == ["Morning Ledger"]  # 08:00, before 16:00 and 20:00
    copy = next(s for s in recall.sources if s.outlet == "Syndicate Daily")
    assert copy.url == "https://syndicate.example/zephyr" and copy.published_at.hour == 0  # the day it ran
    if _resolver_finds(RECALL_A, "Monday"):
        assert (recall.date, recall.date_source) == (date(2024, 3, 4), "stated")


def test_undated_material_and_non_events_are_left_out(story):
    tl = story.timeline(QUERY)
    texts = " ".join(e.text for e in tl.events)
    assert "factory in Ohio" not in texts  # no stated date, no publication date
    assert "Is this the end" not in texts and "Sign up" not in texts
    assert all(s.outlet != "Undated Weekly" for e in tl.events for s in e.sources)


def test_stated_date_wins_over_publication(story):
    if not _resolver_finds(RESIGN, "March 11, 2024"):
        pytest.skip("needs the event-date resolver")
    e = _event(story.timeline(QUERY), "resigned on March 11")
    assert (e.date, e.date_source) == (date(2024, 3, 11), "stated")
    assert e.sources[0].published_at.date() == date(2024, 3, 12)


def test_section_dated_article(story):
    if not any(d.kind == "section" for d in resolve_dates(SECTIONS, PUBLISHED)):
        pytest.skip("needs the resolver's section dates")
    tl = story.timeline(QUERY)
    sales = _event(tl, "record scooter sales")
    chief = _event(tl, "safety chief")
    assert (sales.date, sales.date_source) == (date(2024, 2, 20), "stated")
    assert (chief.date, chief.date_source) == (date(2024, 3, 15), "stated")
    assert tl.events.index(sales) < tl.events.index(chief)


def test_since_until_bound_event_dates(story):
    tl = story.timeline(QUERY, since="2024-03-06", until="2024-03-31")
    assert tl.events and all(date(2024, 3, 6) <= e.date <= date(2024, 3, 31) for e in tl.events)
    assert not any("recalled 40,000" in e.text for e in tl.events)


def test_near_duplicate_rerun_is_a_source_of_the_same_event(hash_settings, tmp_path):
    items = [
        {"title": "Riverside approves light-rail expansion", "source": "Riverside Ledger",
         "published_at": "2023-10-03T09:00:00+00:00", "url": "https://ledger.example/rail", "body": WIRE},
        {"title": "Council backs huge rail plan", "source": "Valley Courier",
         "published_at": "2023-10-04T07:30:00+00:00", "url": "https://courier.example/rail", "body": RERUN},
    ]
    a = _archive(hash_settings, tmp_path, items)
    tl = a.timeline("Riverside light-rail council vote")
    vote = _event(tl, "voted 7 to 2")
    by_outlet = {s.outlet: s for s in vote.sources}
    assert set(by_outlet) == {"Riverside Ledger", "Valley Courier"} and by_outlet["Riverside Ledger"].first
    copy = by_outlet["Valley Courier"]
    assert a.store.records.get_article(copy.article_id).body[copy.start:copy.end] == copy.quote
    assert copy.article_id != by_outlet["Riverside Ledger"].article_id


def test_what_counts_as_an_event():
    assert is_event("OpenAI's board fired Sam Altman on Friday.")
    assert is_event("Altman joins Microsoft to lead a new AI team.")
    assert not is_event("Will the board bring Altman back?")
    assert not is_event("“We are thrilled to have him back and ready to build,” he said.")
    assert not is_event("I think this is the most interesting story of the year.")
    assert not is_event("The company is a nonprofit research laboratory in San Francisco.")


def test_parse_where_keeps_outlets_with_bars():
    assert _parse_where("Cnbc | World Business News Leader | 2023-10-06 | https://x.example/a") == (
        "Cnbc | World Business News Leader", _parse_where("a | 2023-10-06")[1], "https://x.example/a")
    assert _parse_where("Wire | /tmp/file.jsonl") == ("Wire", None, None)


def test_cli_timeline_json_shape(tmp_path):
    f = tmp_path / "story.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in STORY), encoding="utf-8")
    idx = str(tmp_path / "idx")
    rag("ingest", str(f), "--index", idx, "--quiet")
    out = json.loads(rag("timeline", QUERY, "--index", idx, "--json").stdout)
    assert set(out) == {"query", "events"} and out["query"] == QUERY and out["events"]
    for e in out["events"]:
        assert set(e) == {"date", "date_source", "text", "sources"}
        date.fromisoformat(e["date"])
        for s in e["sources"]:
            assert set(s) == {"n", "article_id", "outlet", "title", "published_at", "url", "quote", "start", "end", "first"}
    assert sum(s["first"] for e in out["events"] for s in e["sources"]) == len(out["events"])
    text = rag("timeline", QUERY, "--index", idx, "--outlet", "Evening Post").stdout
    assert "(first)" in text and "Evening Post" in text and "Morning Ledger" not in text
