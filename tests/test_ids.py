"""Stable identifiers (rag.ingest.ids): the same story by different links gets one article id,
different stories get different ids, chunk ids follow the content, hashes see what changed."""
from __future__ import annotations

from rag.ingest.ids import article_id, body_hash, canonical_url, chunk_id, content_hash, normalize_text


def test_canonical_url_drops_what_does_not_name_the_story():
    same = [
        "https://www.example.com/news/story-1/",
        "http://example.com/news/story-1",
        "HTTPS://WWW.EXAMPLE.COM/news/story-1?utm_source=tw&utm_medium=social#comments",
        "https://example.com/news/story-1?fbclid=abc&gclid=x&ref=home",
        "  https://example.com/news/story-1  ",
    ]
    assert {canonical_url(u) for u in same} == {"https://example.com/news/story-1"}
    assert canonical_url("https://example.com/a?b=2&a=1") == canonical_url("https://example.com/a?a=1&b=2")
    assert canonical_url("https://example.com/a?page=2") != canonical_url("https://example.com/a?page=3")
    assert canonical_url("https://example.com/News/Story") != canonical_url("https://example.com/news/story")  # paths keep case
    assert canonical_url(None) is None and canonical_url("   ") is None
    assert canonical_url("not a url") == "not a url"


def test_article_ids_are_stable_and_distinct():
    a = article_id("https://www.example.com/a/?utm_campaign=x", "Title", "Body")
    assert a == article_id("https://example.com/a", "Another title", "Another body")  # the URL decides
    assert a.startswith("u") and a != article_id("https://example.com/b", "Title", "Body")
    t = article_id(None, "Title", "Body text")
    assert t.startswith("t") and t == article_id("", " title ", "body   TEXT")  # normalized text
    assert t != article_id(None, "Title", "Other body") != article_id(None, "Other title", "Body text")
    assert len({article_id(f"https://example.com/{i}", "", "") for i in range(500)}) == 500


def test_body_hash_ignores_case_and_spacing_only():
    assert body_hash("The  Council\nmet.") == body_hash("the council met.") == body_hash(" THE COUNCIL MET. ")
    assert body_hash("The council met.") != body_hash("The council met!")
    assert normalize_text("Ｆｕｌｌ\u00a0width") == "full width"  # NFKC


def test_chunk_ids_follow_article_offsets_and_text():
    c = chunk_id("a1", 0, 10, "0123456789")
    assert c == chunk_id("a1", 0, 10, "0123456789") and c.startswith("a1-")
    variants = {chunk_id("a1", 1, 11, "0123456789"), chunk_id("a2", 0, 10, "0123456789"),
                chunk_id("a1", 0, 10, "012345678X"), c}
    assert len(variants) == 4


def test_content_hash_sees_any_field_change_not_key_order():
    d = {"title": "T", "body": "B", "url": None}
    assert content_hash(d) == content_hash(dict(reversed(list(d.items()))))
    assert content_hash(d) != content_hash({**d, "title": "T2"}) != content_hash({**d, "url": "u"})
    assert len(content_hash(d)) == 32
