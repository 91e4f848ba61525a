"""Syndication: a story and its lightly edited re-run collapse into one cluster; two different
stories on one topic do not. Search shows one member with "also ran in"; answers cite it once."""
from __future__ import annotations

import json
import sqlite3

import pytest

from rag.archive import Archive
from rag.index.records import Records
from rag.retrieve.syndication import ClusterMap, collapse, shingles, similar, update_clusters

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


def test_collapse_keeps_every_passage_of_the_articles_it_shows(synd_archive):
    """Collapse drops the copies of a story, not the other passages of one article."""
    on = synd_archive.search("Riverside light-rail", k=50)
    off = Archive.open(synd_archive.path, synd_archive.settings.with_(syndication=False)).search("Riverside light-rail", k=50)
    shown = {h.chunk.article_id for h in on}
    copy = ({h.chunk.article_id for h in off} - shown)
    assert len(copy) == 1  # exactly the re-run's article went
    assert [h.chunk.id for h in on] == [h.chunk.id for h in off if h.chunk.article_id not in copy]
    per_article = {}
    for h in on:
        per_article[h.chunk.article_id] = per_article.get(h.chunk.article_id, 0) + 1
    assert max(per_article.values()) > 1, "the fixture should have an article with several passages"


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
    # a2 represents story c1 (ranked first), so a1's copy goes; several passages of one
    # article (x twice, a2 twice) all stay
    assert collapse(["a2", "x", "a1", "y", "x", "a2"], cm) == [0, 1, 3, 4, 5]


def test_records_without_sketch_table_report_nothing(tmp_path):
    r = Records(tmp_path / "r.sqlite3")
    assert r.sketch_todo() == [] and r.multi_clusters() == {} and r.cluster_sizes() == []


# ---- "also ran in" shown everywhere a source is: generative answers, the CLI, the UI panel ----
RAIL_URLS = {"https://ledger.example/rail", "https://courier.example/rail"}
RAIL_QUESTION = "How much will the Riverside light-rail expansion cost?"


def _other_outlet(src) -> str:
    """The outlet the shown member of the rail story did not run in."""
    return "Valley Courier" if src.outlet == "Riverside Ledger" else "Riverside Ledger"


def _cite_every_passage(messages) -> str:
    """A scripted LLM reply citing every numbered passage it was shown, so that a source list
    holding both copies of the story would show up in the answer."""
    import re

    user = messages[-1]["content"]
    ns = sorted({int(n) for n in re.findall(r"^\[(\d+)\] ", user, re.M)})
    cites = "".join(f"[{n}]" for n in ns)
    return f"The Riverside light-rail expansion will cost $10 billion {cites}."


def _assert_story_cited_once(ans):
    assert not ans.abstained
    rail = [s for s in ans.sources if s.url in RAIL_URLS]
    # one copy of the story, never both as two sources (several passages of that copy may be)
    assert rail and len({s.url for s in rail}) == 1
    assert len({s.chunk_id for s in ans.sources}) == len(ans.sources)  # no passage shown twice
    src = rail[0]
    for r in rail:
        assert len(r.also_ran_in) == 1 and r.also_ran_in[0].startswith(_other_outlet(r))
    others = {s.url for s in ans.sources if s.url != src.url}
    assert not any(u and u in x for u in others for x in src.also_ran_in)  # "also ran in" is not also cited
    return src


def test_generative_answer_cites_the_story_once_with_also_ran_in(synd_archive):
    from fakes import ScriptedLLMServer

    with ScriptedLLMServer(_cite_every_passage) as server:
        llm = Archive.open(synd_archive.path, synd_archive.settings.with_(llm_base_url=server.base_url, llm_model="scripted-model", llm_timeout=5.0))
        ans = llm.ask(RAIL_QUESTION, answerer="llm")
        stream = llm.ask_stream(RAIL_QUESTION, answerer="llm")
        "".join(stream)
        streamed = stream.answer
        (req, _) = server.requests
    assert ans.answerer == "llm"
    shown = req["messages"][-1]["content"]
    assert not all(t in shown for t in ("Riverside approves $10 billion", "Council backs huge rail plan"))  # the LLM saw one copy
    src = _assert_story_cited_once(ans)
    assert ans.to_dict()["sources"][[s.n for s in ans.sources].index(src.n)]["also_ran_in"] == list(src.also_ran_in)
    assert _assert_story_cited_once(streamed).also_ran_in == src.also_ran_in


def test_generative_answerer_copies_also_ran_in_from_hits():
    """Directly on hits: the source of a hit with ``also_ran_in`` carries it, others stay ()."""
    import dataclasses

    from fakes import HEAT, TRANSIT, ScriptedLLMServer, article_hits, renumber
    from rag.answer import GenerativeAnswerer
    from rag.answer.llm import OpenAICompatibleLLM
    from rag.settings import Settings

    transit, heat = article_hits(TRANSIT)[0], article_hits(HEAT)[0]
    hits = renumber([dataclasses.replace(transit, also_ran_in=("Valley Courier | 2024-05-15 | https://courier.example/rail",)), heat])
    reply = "The Riverside City Council approved a $10 billion light-rail expansion [1]. Phoenix recorded 123 degrees Fahrenheit on Sunday [2]."
    with ScriptedLLMServer(reply) as server:
        s = Settings(answerer="llm", llm_base_url=server.base_url, llm_model="scripted-model", llm_timeout=5.0)
        ans = GenerativeAnswerer(s, OpenAICompatibleLLM(s, max_retries=0)).answer("What did Riverside approve and how hot was Phoenix?", hits)
    by_title = {x.title: x for x in ans.sources}
    assert by_title[TRANSIT["title"]].also_ran_in == ("Valley Courier | 2024-05-15 | https://courier.example/rail",)
    assert by_title[HEAT["title"]].also_ran_in == ()


def _rag_cli(*args, env=None):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    e = dict(os.environ, RAG_EMBEDDER="hash", **(env or {}))
    p = subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT, env=e, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def _also_lines(out: str) -> list[str]:
    return [ln.strip() for ln in out.splitlines() if ln.strip().startswith("also ran in:")]


def test_cli_search_and_ask_show_also_ran_in(tmp_path):
    from fakes import ScriptedLLMServer

    f = tmp_path / "rail.jsonl"
    _write(f, ITEMS)
    idx = str(tmp_path / "idx")
    _rag_cli("ingest", str(f), "--index", idx, "--quiet")

    hits = json.loads(_rag_cli("search", "Riverside council approves light-rail expansion vote", "--index", idx, "--json"))
    rail = [h for h in hits if h["chunk"]["url"] in RAIL_URLS]
    assert len({h["chunk"]["url"] for h in rail}) == 1 and rail[0]["also_ran_in"]
    other = "Valley Courier" if rail[0]["chunk"]["outlet"] == "Riverside Ledger" else "Riverside Ledger"
    out = _rag_cli("search", "Riverside council approves light-rail expansion vote", "--index", idx)
    # under each passage of the story's shown copy, and nowhere else
    assert _also_lines(out) == [f"also ran in: {rail[0]['also_ran_in'][0]}"] * len(rail)
    assert other in _also_lines(out)[0]
    assert out.count("also ran in:") == len(rail) and "rail-suit" not in _also_lines(out)[0]

    js = json.loads(_rag_cli("ask", RAIL_QUESTION, "--index", idx, "--json"))
    rail = [s for s in js["sources"] if s["url"] in RAIL_URLS]
    assert rail and len({s["url"] for s in rail}) == 1 and all(len(s["also_ran_in"]) == 1 for s in rail)
    out = _rag_cli("ask", RAIL_QUESTION, "--index", idx)
    lines = out.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith(f"[{rail[0]['n']}] "))
    nxt = next((i for i, ln in enumerate(lines) if i > at and ln.startswith("[")), len(lines))
    assert f"also ran in: {rail[0]['also_ran_in'][0]}" in [ln.strip() for ln in lines[at:nxt]]  # under its source
    assert len(_also_lines(out)) == len(rail)  # one line under each passage of the story

    with ScriptedLLMServer(_cite_every_passage) as server:
        env = {"RAG_LLM_BASE_URL": server.base_url, "RAG_LLM_MODEL": "scripted-model"}
        out = _rag_cli("ask", RAIL_QUESTION, "--index", idx, "--answerer", "llm", env=env)
        js = json.loads(_rag_cli("ask", RAIL_QUESTION, "--index", idx, "--answerer", "llm", "--json", env=env))
    assert js["answerer"] == "llm" and not js["abstained"]
    rail = [s for s in js["sources"] if s["url"] in RAIL_URLS]
    assert rail and len({s["url"] for s in rail}) == 1
    assert len({s["chunk_id"] for s in js["sources"]}) == len(js["sources"])
    assert _also_lines(out) == [f"also ran in: {rail[0]['also_ran_in'][0]}"] * len(rail)


def test_ui_sources_panel_shows_also_ran_in(synd_archive):
    import ui

    ans = synd_archive.ask(RAIL_QUESTION)
    src = _assert_story_cited_once(ans)
    panel = ui.render_panel([(1, RAIL_QUESTION, ui.render_sources(ans, 1, RAIL_QUESTION))])
    card = panel[panel.index(f'id="src-1-{src.n}"'):]
    card = card[: card.index("</blockquote>")]
    assert 'class="src-also"' in card and f"Also ran in: {_other_outlet(src)}" in card
    other_url = next(u for u in RAIL_URLS if u != src.url)
    assert f'<a href="{other_url}" target="_blank" rel="noopener noreferrer">{other_url}</a>' in card
    assert panel.count('class="src-also"') == sum(1 for s in ans.sources if s.also_ran_in)


def test_ui_also_ran_in_is_escaped():
    import ui

    from rag.types import Source

    evil = ('<img src=x onerror="alert(1)"> *x* {{y}} | 2023-10-04 | javascript://alert(2)', "Plain Outlet | 2023-10-05 | https://e.example/a?b=1&c=2")
    src = Source(n=1, article_id="a", chunk_id="c", title="T", outlet="O", author=None, published_at=None, url=None,
                 quote="Quote here.", start=0, end=11, also_ran_in=evil)
    out = ui.render_source(src, 1)
    assert "<img" not in out and "javascript:" not in out and "{{" not in out and "*x*" not in out
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in out
    assert 'href="https://e.example/a?b=1&amp;c=2"' in out and "Plain Outlet · 2023-10-05" in out
    assert ui.render_also_ran_in(()) == ""
    assert 'class="src-also"' not in ui.render_source(Source(n=2, article_id="b", chunk_id="d", title="T", outlet=None, author=None,
                                                              published_at=None, url=None, quote="Q.", start=0, end=2), 1)


def test_compact_shingle_sets_give_the_same_similarity_as_the_sets():
    """update_clusters compares hashed shingle sets (to bound memory): same figure as the sets."""
    from rag.retrieve.syndication import _compact, _similar_compact

    words = ("the rail strike closed every line in the north on monday while talks went on "
             "and the union said it would meet again next week to vote on the offer").split()
    bodies = [" ".join(words), " ".join(words[:-2]), " ".join(words[3:] + ["extra", "words", "here"]),
              " ".join(reversed(words)), " ".join(words[:4])]
    seen = set()
    for a in bodies:
        for b in bodies:
            sa, sb = shingles(a), shingles(b)
            want = similar(sa, sb)
            seen.add(round(want, 6))
            assert _similar_compact(_compact(sa), _compact(sb), 0.8, 0.9) == pytest.approx(want)
    assert len(seen) >= 3  # the pairs cover a match, a containment and a miss, not one case
