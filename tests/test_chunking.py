"""Chunking: offsets point into the body, sentences stay whole, overlap, token budget."""
from __future__ import annotations

from datetime import datetime, timezone

from rag.ingest.chunking import chunk_article, count_tokens, make_header
from rag.ingest.loaders import iter_articles
from rag.types import Article
from tests.conftest import MINI, SEED


def _articles():
    return [a for a in iter_articles([SEED, MINI]) if isinstance(a, Article)]


def test_offsets_point_into_body_for_real_articles():
    arts = _articles()
    assert len(arts) == 7
    for art in arts:
        chunks = chunk_article(art, 200, 40)
        assert chunks, art.title
        for ch in chunks:
            assert art.body[ch.start : ch.end] == ch.text
            assert ch.article_id == art.id
        # every character of the body that is not white space is covered by some chunk
        covered = set()
        for ch in chunks:
            covered.update(range(ch.start, ch.end))
        missing = [i for i, c in enumerate(art.body) if not c.isspace() and i not in covered]
        assert not missing, (art.title, art.body[missing[0] : missing[0] + 40])


def test_token_budget_and_overlap():
    art = _articles()[1]
    chunks = chunk_article(art, 120, 30)
    assert len(chunks) > 3
    for ch in chunks:
        assert count_tokens(ch.text) <= 120 + 5  # whole sentences, joined by their spacing
    overlaps = [a.end > b.start for a, b in zip(chunks, chunks[1:])]
    assert sum(overlaps) >= len(overlaps) // 2, "consecutive chunks should share sentences"
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:])), "always progresses"


def test_chunks_end_on_sentence_boundaries():
    art = _articles()[0]  # the seed article
    for ch in chunk_article(art, 80, 20):
        assert ch.text.rstrip()[-1] in ".!?'\"’”)*", ch.text[-60:]


def test_header_carries_headline_outlet_date_and_ids_are_stable():
    art = Article(id="a1", title="Big news", body="One sentence here. Another one there.", outlet="Wire",
                  published_at=datetime(2023, 10, 2, 9, 0, tzinfo=timezone.utc))
    assert make_header(art) == "Big news — Wire — 2023-10-02"
    undated = Article(id="a2", title="Big news", body="Text.", outlet=None)
    assert make_header(undated) == "Big news"
    a, b = chunk_article(art), chunk_article(art)
    assert [c.id for c in a] == [c.id for c in b]
    assert a[0].indexed_text.startswith("Big news — Wire — 2023-10-02\n\n")


def test_one_huge_sentence_is_cut_to_fit():
    body = " ".join(["word"] * 2000)
    art = Article(id="x", title="t", body=body)
    chunks = chunk_article(art, 100, 10)
    assert len(chunks) >= 15
    assert all(count_tokens(c.text) <= 100 for c in chunks)
    assert all(body[c.start : c.end] == c.text for c in chunks)
