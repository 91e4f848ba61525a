"""How `compare` chooses each outlet's passages (rag.stories.compare.Selection / choose): the
outlet's own clause searched alone, a cap per article, each quote once; and the --cv
cross-validation of evals/compare.py. Small real archives with the bag-of-words embedder."""
from __future__ import annotations

import json

from evals.compare import cross_validate
from rag.archive import Archive
from rag.stories.compare import OutletSearches, Selection, choose, outlet_searches

BRIDGE = ("The harbour bridge closed on Monday after engineers found cracks in the harbour bridge deck, "
          "the city said. Traffic on the harbour bridge was sent through the old tunnel. ")
MAYOR = "Mayor Anna Berg resigned on Friday, citing her health, the city council said."
QUESTION = ("Did the Daily Planet report that the harbour bridge closed, while The Bugle reported that the mayor "
            "resigned citing her health?")


def _ingest(settings, tmp_path, records):
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    a = Archive.create(settings=settings)
    a.ingest([str(path)])
    return a


def _rec(outlet, title, body, day):
    return {"title": title, "source": outlet, "published_at": f"2023-11-{day:02d}T10:00:00+00:00",
            "url": f"https://example.com/{outlet.replace(' ', '').lower()}/{day}", "body": body}


def _city(hash_settings, tmp_path):
    return _ingest(hash_settings, tmp_path, [
        _rec("Daily Planet", "Harbour bridge closed", BRIDGE, 1),
        _rec("The Bugle", "Harbour bridge shut for repairs", BRIDGE.replace("Monday", "Tuesday"), 2),
        _rec("The Bugle", "Harbour bridge: what drivers need to know", BRIDGE + "Drivers should plan for delays.", 3),
        _rec("The Bugle", "Mayor steps down", MAYOR, 4),
    ])


def test_the_outlets_own_clause_finds_its_fact(hash_settings, tmp_path):
    a = _city(hash_settings, tmp_path)
    whole = tuple(a.search("harbour bridge closed cracks tunnel mayor", 5, outlets=["The Bugle"]))
    side = tuple(a.search("mayor resigned citing her health", 5, outlets=["The Bugle"]))
    assert "resigned" not in whole[0].chunk.text and "resigned" in side[0].chunk.text
    searched = OutletSearches("The Bugle", "mayor resigned citing her health", (), whole, side)
    [(h, _)] = choose(searched, 1, Selection(side_slots=0))
    assert "resigned" not in h.chunk.text  # the whole query's best passage is a bridge story
    [(h, (s, e))] = choose(searched, 1, Selection(side_slots=1))
    assert "resigned" in h.chunk.text and "resigned" in h.chunk.text[s:e]
    two = choose(searched, 2, Selection(side_slots=1))
    assert [x.chunk.id for x, _ in two] == [side[0].chunk.id, whole[0].chunk.id]  # then the whole query's


def test_searches_run_only_when_the_selection_uses_them(hash_settings, tmp_path):
    a = _city(hash_settings, tmp_path)
    plain = outlet_searches(a, QUESTION, ["Daily Planet", "The Bugle"], sel=Selection(overall_k=0, side_slots=0))
    assert all(s.overall == () and s.side == () and s.whole for s in plain)
    wide = outlet_searches(a, QUESTION, ["Daily Planet", "The Bugle"], sel=Selection(overall_k=10, side_slots=1))
    assert [s.clause for s in wide] != [QUESTION, QUESTION] and any(s.side for s in wide)
    assert all(h.chunk.outlet == s.outlet for s in wide for h in s.overall + s.whole + s.side)


def test_article_cap_leaves_room_for_other_articles(hash_settings, tmp_path):
    long_body = " ".join(f"Storm Lira flooded district {i} of Velmora overnight, officials said, and "
                         f"rescue crews in boats reached {i * 10} families by morning." for i in range(1, 25))
    a = _ingest(hash_settings, tmp_path, [
        _rec("Daily Planet", "Storm Lira floods Velmora", long_body, 5),
        _rec("Daily Planet", "Velmora counts the cost of the flood", "Storm Lira flooded Velmora; insurers expect "
             "large claims after the flood, officials said.", 6),
    ])
    [searched] = outlet_searches(a, "Storm Lira flooded Velmora", ["Daily Planet"])
    long_id = searched.whole[0].chunk.article_id
    assert sum(h.chunk.article_id == long_id for h in searched.whole[:3]) == 3  # the long story fills the top
    capped = choose(searched, 3, Selection(article_cap=2))
    assert len(capped) == 3 and sum(h.chunk.article_id == long_id for h, _ in capped) == 2
    uncapped = choose(searched, 3, Selection())
    quotes = [(h.chunk.article_id, h.chunk.start + s) for h, (s, _) in uncapped]
    assert len(set(quotes)) == len(quotes)  # each quote once, even from overlapping chunks


def test_cross_validation_scores_each_fold_with_the_choice_of_the_others():
    # entry 1 passes every question but the first; entry 0 only the first: entry 1 wins every
    # fold that does not hold question 0's mistakes alone, and the held-out score is honest
    hits = [[True, False]] + [[False, True]] * 9
    passed, chosen = cross_validate(hits, folds=5, seed=1)
    assert chosen == [1] * 5 and passed == 9
    tie = [[True, True], [False, False]]
    assert cross_validate(tie, folds=2, seed=1) == (1, [0, 0])  # ties go to the first (shipped) entry
