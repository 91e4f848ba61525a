"""Syndication: a story and its lightly edited re-run collapse into one cluster; two different
stories on one topic do not. Search shows one member with "also ran in"; answers cite it once."""
from __future__ import annotations

import json
import sqlite3

import pytest

from rag.archive import Archive
from rag.records import Records
from rag.syndication import ClusterMap, collapse, shingles, similar, update_clusters

WIRE = (
    "The city council of Riverside voted 7 to 2 on Tuesday to approve a $10 billion expansion of the "
    "light-rail network, the largest public works project in the region's history. The plan adds 42 "
    "miles of track and 31 stations, connecting the airport, the university campus and the eastern "
    "suburbs to downtown by 2031. Mayor Elena Torres called the vote a turning point for a city where "
    "most commuters still drive alone. Opponents on the council said the cost estimates were too "
    "optimistic and warned that construction would disrupt businesses along the route for years. "
    "The project will be paid for with a half-cent sales tax approved by voters last year, federal "
    "transit grants and bonds. Construction of the first segment, a 9-mile line to the airport, is "
    "expected to begin next spring. Transit officials said trains would run every six minutes at "
    "peak hours and every 12 minutes in the evening. Ridership is projected to reach 140,000 trips "
    "a day within five years of the full opening, according to the regional transit authority. "
    "Business groups largely backed the plan, saying it would help employers recruit workers who "
    "cannot afford to live near the city center. Environmental groups praised the vote but urged "
    "the council to add more protected bike lanes near the new stations."
)
# The same wire story re-run by another outlet: a dateline, an inserted phrase, a trimmed ending.
RERUN = "RIVERSIDE (Wire) - " + WIRE.replace("Mayor Elena Torres", "Mayor Elena Torres, a Democrat,").rsplit(" Environmental", 1)[0]
# Another story on the same topic: different reporting, many of the same words.
OTHER = (
    "Riverside's light-rail expansion faces its first legal challenge. A coalition of downtown "
    "merchants filed suit on Friday to halt the $10 billion project, arguing that the city council "
    "skipped a required environmental review before its vote. The lawsuit asks a judge to block "
    "construction of the airport line until the review is done. City attorneys said the council "
    "followed the law and that the review was completed in 2022. Mayor Elena Torres said she was "
    "confident the project would go ahead on schedule. The merchants say years of construction along "
    "Main Street would drive them out of business, and that the city has offered no compensation. "
    "Transit officials declined to comment on the lawsuit but said engineering work would continue. "
    "A hearing is scheduled for next month. Legal experts said such challenges rarely stop transit "
    "projects but can delay them by a year or more."
)


def test_rerun_is_similar_and_another_story_is_not():
    a, b, c = shingles(WIRE), shingles(RERUN), shingles(OTHER)
    assert similar(a, b) > 0.8  # trimmed and lightly edited: still one story
    assert similar(a, c) == 0.0 and similar(b, c) == 0.0  # same topic, different story
    assert similar(a, a) == 1.0 and similar(set(), a) == 0.0


def _write(path, items):
    path.write_text("\n".join(json.dumps(x) for x in items), encoding="utf-8")


ITEMS = [
    {"title": "Riverside approves $10 billion light-rail expansion", "source": "Riverside Ledger",
     "published_at": "2023-10-03T09:00:00+00:00", "url": "https://ledger.example/rail", "body": WIRE},
    {"title": "Council backs huge rail plan", "source": "Valley Courier",
     "published_at": "2023-10-04T07:30:00+00:00", "url": "https://courier.example/rail", "body": RERUN},
    {"title": "Merchants sue to stop Riverside light-rail project", "source": "Riverside Ledger",
     "published_at": "2023-10-20T12:00:00+00:00", "url": "https://ledger.example/rail-suit", "body": OTHER},
]


@pytest.fixture
def synd_archive(hash_settings, tmp_path):
    f = tmp_path / "rail.jsonl"
    _write(f, ITEMS)
    a = Archive.create(settings=hash_settings)
    a.ingest([f])
    return a


def test_ingest_clusters_the_rerun_only(synd_archive):
    multi = synd_archive.store.records.multi_clusters()
    assert len(multi) == 1
    (members,) = multi.values()
    assert sorted(m[1] for m in members) == ["Riverside Ledger", "Valley Courier"]
    assert all("rail-suit" not in (m[3] or "") for m in members)
    stats = update_clusters(synd_archive.store.records)
    assert (stats.sketched, stats.articles, stats.clusters, stats.multi) == (0, 3, 2, 1)  # nothing redone


def test_search_returns_one_member_with_also_ran_in(synd_archive):
    hits = synd_archive.search("Riverside council approves light-rail expansion vote", k=10)
    stories = [h.chunk.url for h in hits]
    assert "https://ledger.example/rail-suit" in stories  # the other story is still found
    rail = [h for h in hits if h.chunk.url in ("https://ledger.example/rail", "https://courier.example/rail")]
    assert len({h.chunk.url for h in rail}) == 1  # one member of the cluster
    also = rail[0].also_ran_in
    assert len(also) == 1
    other = "Valley Courier | 2023-10-04" if rail[0].chunk.outlet == "Riverside Ledger" else "Riverside Ledger | 2023-10-03"
    assert also[0].startswith(other)
    assert rail[0].to_dict()["also_ran_in"] == list(also)


def test_collapse_can_be_switched_off(synd_archive):
    off = Archive.open(synd_archive.path, synd_archive.settings.with_(syndication=False))
    urls = {h.chunk.url for h in off.search("Riverside council approves light-rail expansion vote", k=10)}
    assert {"https://ledger.example/rail", "https://courier.example/rail"} <= urls


def test_answer_cites_the_story_once_and_shows_where_else_it_ran(synd_archive):
    ans = synd_archive.ask("How much will the Riverside light-rail expansion cost?")
    assert not ans.abstained
    urls = [s.url for s in ans.sources]
    assert not {"https://ledger.example/rail", "https://courier.example/rail"} <= set(urls)
    cited = [s for s in ans.sources if s.url in ("https://ledger.example/rail", "https://courier.example/rail")]
    assert cited and all(s.also_ran_in for s in cited)
    assert ans.to_dict()["sources"][0]["also_ran_in"] == list(ans.sources[0].also_ran_in)


def test_edited_article_is_sketched_again(hash_settings, tmp_path):
    f = tmp_path / "rail.jsonl"
    _write(f, ITEMS)
    a = Archive.create(settings=hash_settings)
    a.ingest([f])
    changed = [dict(ITEMS[0]), ITEMS[1], ITEMS[2]]
    changed[0]["body"] = OTHER.replace("Friday", "Thursday") + " An appeal is likely."
    _write(f, changed)
    a.ingest([f])
    # the Ledger story now reads like the lawsuit story, and the Courier re-run stands alone
    multi = a.store.records.multi_clusters()
    assert len(multi) == 1
    (members,) = multi.values()
    assert sorted(m[3] for m in members) == ["https://ledger.example/rail", "https://ledger.example/rail-suit"]


def test_index_made_before_clusters_opens_and_gets_them(hash_settings, tmp_path):
    f = tmp_path / "rail.jsonl"
    _write(f, ITEMS)
    a = Archive.create(settings=hash_settings)
    a.ingest([f])
    db = a.path / "records.sqlite3"
    a.close()
    con = sqlite3.connect(db)
    con.execute("DROP TABLE sketches")  # what an index written by an older version looks like
    con.commit()
    con.close()
    old = Archive.open(a.path, hash_settings)
    assert len(old.search("Riverside light-rail", k=5)) > 0
    assert old.store.records.multi_clusters() == {}  # no sketches yet: nothing collapsed
    stats = update_clusters(old.store.records)
    assert stats.sketched == 3 and stats.multi == 1


def test_cluster_map_and_collapse():
    cm = ClusterMap({"c1": [("a1", "Ledger", "2023-10-03T09:00:00+00:00", "u1"), ("a2", "Courier", "2023-10-04", None)]})
    assert cm.key("a2") == "c1" and cm.key("zz") == "zz"
    assert cm.also_ran_in("a1") == ("Courier | 2023-10-04",)
    assert cm.also_ran_in("a2") == ("Ledger | 2023-10-03 | u1",)
    assert cm.also_ran_in("zz") == ()
    assert collapse(["a2", "x", "a1", "y", "x"], cm) == [0, 1, 3]


def test_records_without_sketch_table_report_nothing(tmp_path):
    r = Records(tmp_path / "r.sqlite3")
    assert r.sketch_todo() == [] and r.multi_clusters() == {} and r.cluster_sizes() == []
