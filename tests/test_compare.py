"""`rag compare` / Archive.compare: outlets side by side, differing figures, claims only one
outlet makes, named outlets, exact quotes and the JSON shape, on a small real archive."""
from __future__ import annotations

import json

import pytest

from rag.archive import Archive
from rag.errors import BadInput
from rag.stories.compare import Selection, compare, resolve_outlets
from rag.stories.compare_diff import figures
from rag.types import Source

BOT_A = (
    "A network of fake accounts is flooding Chirp with propaganda, researchers at Lakeside University found. "
    "The bot network posts 1,000 messages a day about the election, the researchers said. "
    "Chirp said it removed the accounts on Tuesday."
)
BOT_B = (
    "Researchers at Lakeside University found a network of fake accounts flooding Chirp with propaganda. "
    "The bot network posts 2,500 messages a day about the election, according to the researchers. "
    "Chirp said it removed the accounts on Tuesday."
)
BOT_B_EXTRA = BOT_B + " Investigators believe the operators were paid by a marketing firm based in Velmora."
RIVER = (
    "The Danube river festival drew crowds to the old harbour for boat races and music. "
    "Organisers said the festival will return next summer with more boat races."
)


def _write(tmp_path, records) -> str:
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return str(path)


def _record(outlet, title, body, day, slug):
    return {"title": title, "source": outlet, "published_at": f"2023-11-{day:02d}T10:00:00+00:00",
            "url": f"https://{slug}.example/{day}", "body": body}


def _archive(hash_settings, tmp_path, b_body=BOT_B):
    a = Archive.create(settings=hash_settings)
    a.ingest([_write(tmp_path, [
        _record("Daily Planet", "Bots flood Chirp with election propaganda", BOT_A, 10, "planet"),
        _record("The Bugle", "Fake accounts push election posts on Chirp", b_body, 11, "bugle"),
        _record("River Weekly", "Danube festival returns", RIVER, 12, "river"),
    ])])
    return a


def _body(a: Archive, s: Source) -> str:
    return a.store.records.get_article(s.article_id).body


def test_figures_that_differ_are_one_difference_citing_both(hash_settings, tmp_path):
    a = _archive(hash_settings, tmp_path)
    comp = a.compare("How many messages a day does the bot network post on Chirp?", outlets=["Daily Planet", "The Bugle"])
    figs = [d for d in comp.differences if d.kind == "figure"]
    assert len(figs) == 1
    d = figs[0]
    assert [s.outlet for s in d.sources] == ["Daily Planet", "The Bugle"]
    assert "1,000" in d.sources[0].quote and "2,500" in d.sources[1].quote
    assert "1,000" in d.text and "2,500" in d.text
    for s in d.sources:
        assert _body(a, s)[s.start:s.end] == s.quote


def test_claim_only_one_outlet_makes(hash_settings, tmp_path):
    a = _archive(hash_settings, tmp_path, BOT_B_EXTRA)
    # the bag-of-words embedder has no meaning to quote by: quotes by shared words (search order)
    comp = compare(a, "Who paid the operators of the bot network on Chirp?", outlets=["Daily Planet", "The Bugle"],
                   sel=Selection(pool=0))
    only = [d for d in comp.differences if d.kind == "only"]
    assert any(d.sources[0].outlet == "The Bugle" and "Velmora" in d.sources[0].quote for d in only)
    assert not any(d.sources[0].outlet == "Daily Planet" and "removed the accounts" in d.sources[0].quote for d in only)
    for d in only:
        assert len(d.sources) == 2 and d.sources[0].outlet != d.sources[1].outlet  # both sides cited


def test_nothing_invented_when_outlets_agree(hash_settings, tmp_path):
    a = _archive(hash_settings, tmp_path, BOT_B.replace("2,500", "1,000"))  # the same report, reworded
    comp = a.compare("How many messages a day does the bot network post?", outlets=["Daily Planet", "The Bugle"])
    assert [v.outlet for v in comp.outlets] == ["Daily Planet", "The Bugle"]
    assert all(v.passages for v in comp.outlets)
    assert comp.differences == ()


def test_named_outlets_detected_from_the_query(hash_settings, tmp_path):
    a = _archive(hash_settings, tmp_path)
    comp = a.compare("Did the Daily Planet and The Bugle report the same number of bot messages a day?")
    assert [v.outlet for v in comp.outlets] == ["Daily Planet", "The Bugle"]
    assert all(p.outlet == v.outlet for v in comp.outlets for p in v.passages)


def test_quotes_are_exact_body_spans_with_dates(hash_settings, tmp_path):
    a = _archive(hash_settings, tmp_path)
    comp = a.compare("bot network election propaganda Chirp")  # no outlet named: those covering it
    assert {"Daily Planet", "The Bugle"} <= {v.outlet for v in comp.outlets}
    for v in comp.outlets:
        for p in v.passages:
            assert _body(a, p)[p.start:p.end] == p.quote and p.quote.strip()
            assert p.published_at is not None


def test_unknown_outlet_is_bad_input():
    assert resolve_outlets(["the bugle"], ["The Bugle", "Daily Planet"]) == ["The Bugle"]
    with pytest.raises(BadInput):
        resolve_outlets(["Nowhere Times"], ["The Bugle", "Daily Planet"])


def test_dates_and_years_are_not_figures():
    text = "On November 17, 2023 the board said the 2023 season drew 40 percent more fans and $3 million."
    src = Source(1, "a", "c", "t", "X", None, None, None, text, 0, len(text), text, 0, len(text))
    got = {(f.unit, f.value) for f in figures(src)}
    assert got == {("percent", 40.0), ("$", 3e6)}


def test_cli_json_shape(hash_settings, tmp_path, capsys, monkeypatch):
    from rag.cli import main

    _archive(hash_settings, tmp_path)
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    code = main(["compare", "bot messages a day", "--outlet", "Daily Planet", "--outlet", "The Bugle",
                 "--json", "--index", hash_settings.index])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"query", "outlets", "differences"}
    assert [o["outlet"] for o in out["outlets"]] == ["Daily Planet", "The Bugle"]
    p = out["outlets"][0]["passages"][0]
    assert {"article_id", "title", "published_at", "url", "quote", "start", "end"} <= set(p)
    assert all({"kind", "text", "sources"} <= set(d) for d in out["differences"])
    assert main(["compare", "bot messages a day", "--outlet", "Daily Planet", "--outlet", "The Bugle",
                 "--index", hash_settings.index]) == 0
    human = capsys.readouterr().out
    assert "== Daily Planet ==" in human and "What differs:" in human
