"""Hypothesis property tests: the loaders never raise and load every good record; chunk
offsets always hold and cover the body; citation verification never raises and leaves only
markers that resolve to shown sources with exact quotes."""
from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, assume, given, settings, strategies as st

from rag.answer.markers import MARKER
from rag.answer.verify import verify_answer
from rag.ingest.chunking import chunk_article
from rag.ingest.fields import MISSING
from rag.ingest.loaders import load_csv, load_json, load_jsonl, normalize_body
from rag.types import ABSTAIN_TEXT, Article, BadRecord
from tests.fakes import make_hits

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# any code point, lone surrogates and line/paragraph separators included
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)
WORDS = st.lists(
    st.sampled_from(
        "the council said on Tuesday that Alibaba OpenAI 2023 $10 billion 7-2 vote plan rail Dr. U.S. "
        "Mr. Chen é 中国 — “quoted” 40% ... ! ? ; : \n \n\n \t".split(" ")
    ),
    min_size=1, max_size=400,
).map(" ".join)


def _good_body(text: str) -> bool:
    n = normalize_body(text)
    return bool(n) and n.lower() not in MISSING and any(ch.isalnum() for ch in n)


GOOD_BODY = st.one_of(ANY_TEXT, WORDS).filter(_good_body)
GOOD_RECORD = st.fixed_dictionaries(
    {"title": ANY_TEXT, "body": GOOD_BODY},
    optional={"url": st.one_of(ANY_TEXT, st.just("https://example.org/a")), "date": ANY_TEXT,
              "source": st.one_of(ANY_TEXT, st.integers(), st.none(), st.lists(ANY_TEXT, max_size=2)),
              "author": st.one_of(ANY_TEXT, st.dictionaries(st.sampled_from(["name", "x"]), ANY_TEXT, max_size=2))},
)
JUNK_LINE = st.one_of(
    ANY_TEXT.filter(lambda s: "\n" not in s and "\r" not in s),
    st.builds(lambda r, k: json.dumps(r)[: min(k, len(json.dumps(r)) - 1)], GOOD_RECORD, st.integers(1, 40)),  # truncated
    st.builds(json.dumps, st.one_of(st.integers(), st.lists(st.integers(), max_size=3), st.none(), st.text(max_size=10))),
    st.builds(lambda d: "[" * d + "]" * d, st.integers(1000, 5000)),  # deeply nested
)


# ---- loaders ---------------------------------------------------------------------------------
@FAST
@given(st.lists(st.tuples(st.booleans(), GOOD_RECORD, JUNK_LINE, st.booleans()), min_size=1, max_size=12),
       st.sampled_from(["\n", "\r\n", "\r"]))
def test_jsonl_never_raises_and_loads_every_good_line(rows, newline):
    lines, good = [], {}
    for is_good, rec, junk, ascii_only in rows:
        if is_good:
            lines.append(json.dumps(rec, ensure_ascii=ascii_only))
            good[len(lines)] = rec
        else:
            lines.append(junk)
    text = newline.join(lines) + newline
    results = list(load_jsonl("mem.jsonl", text))  # never raises
    articles = [r for r in results if not isinstance(r, BadRecord)]
    bad = [r for r in results if isinstance(r, BadRecord)]
    assert [a.body for a in articles] == [normalize_body(good[n]["body"]) for n in sorted(good)]
    assert [b.line for b in bad] == [n for n in range(1, len(lines) + 1) if n not in good and lines[n - 1].strip()]
    assert all(b.file == "mem.jsonl" and b.reason for b in bad)
    for a in articles:  # storable as UTF-8 (no lone surrogates) and normalized
        a.body.encode("utf-8"), a.title.encode("utf-8"), (a.url or "").encode("utf-8"), (a.outlet or "").encode("utf-8")
        assert a.body == normalize_body(a.body)


@FAST
@given(st.lists(GOOD_RECORD, min_size=1, max_size=6), st.integers(0, 400))
def test_json_array_loads_all_records_or_is_one_bad_file(recs, cut):
    text = json.dumps(recs, ensure_ascii=False)
    whole = list(load_json("mem.json", text))
    assert [a.body for a in whole] == [normalize_body(r["body"]) for r in recs]
    if cut < len(text):
        part = list(load_json("mem.json", text[:cut]))
        assert len(part) == 1 and isinstance(part[0], BadRecord) and part[0].reason.startswith("invalid JSON")


@FAST
@given(st.lists(st.tuples(WORDS.filter(_good_body), WORDS.filter(_good_body), st.booleans()), min_size=1, max_size=6))
def test_csv_never_raises_and_loads_every_complete_row(rows):
    def q(s: str) -> str:
        return '"' + s.replace('"', '""') + '"'

    lines = ["title,body"]
    good = 0
    for title, body, complete in rows:
        if complete:
            lines.append(f"{q(title)},{q(body)}")
            good += 1
        else:
            lines.append(q(title))  # the body cell is missing
    results = list(load_csv("mem.csv", "\n".join(lines) + "\n"))
    arts = [r for r in results if not isinstance(r, BadRecord)]
    bad = [r for r in results if isinstance(r, BadRecord)]
    assert len(arts) == good and len(bad) == len(rows) - good
    assert all(b.line is not None and "empty body" in b.reason for b in bad)


# ---- chunk offsets ---------------------------------------------------------------------------
@FAST
@given(st.one_of(WORDS, ANY_TEXT), st.sampled_from([(16, 0), (32, 8), (64, 16), (200, 40)]))
def test_chunk_offsets_hold_and_cover_the_body(raw, sizes):
    body = normalize_body(raw)
    assume(body.strip())
    tokens, overlap = sizes
    art = Article(id="a1", title="T", body=body)
    chunks = chunk_article(art, tokens, overlap)
    assert chunks
    covered = [False] * len(body)
    prev_start = -1
    for i, c in enumerate(chunks):
        assert c.index == i and c.article_id == "a1"
        assert 0 <= c.start < c.end <= len(body)
        assert body[c.start : c.end] == c.text
        assert c.start > prev_start  # progress, even with overlap
        prev_start = c.start
        for j in range(c.start, c.end):
            covered[j] = True
    assert all(covered[j] for j, ch in enumerate(body) if not ch.isspace()), "a character of the body is in no chunk"
    assert len({c.id for c in chunks}) == len(chunks)


# ---- citation parsing and verification -------------------------------------------------------
MARKERS = st.one_of(
    st.integers(-3, 12).map(lambda n: f"[{n}]"),
    st.tuples(st.integers(0, 9), st.integers(0, 9)).map(lambda t: f"[{t[0]}, {t[1]}]"),
    st.tuples(st.integers(0, 9), st.integers(0, 200)).map(lambda t: f"[{t[0]}-{t[1]}]"),
    st.integers(0, 9).map(lambda n: f"[Source {n}]"),
    st.integers(0, 9).map(lambda n: f"[passage {n}]"),
    st.sampled_from(["[999999]", "[[1]]", "[1][2][3]", "[ 2 ]", "[1;3]", "[]", "[n]", "[1.5]", "(1)"]),
)


@st.composite
def answers(draw):
    bodies = draw(st.lists(WORDS.filter(_good_body), min_size=1, max_size=4))
    hits = []
    for i, b in enumerate(bodies):
        hits += make_hits(normalize_body(b), title=f"Story {i}", outlet="Wire", chunk_chars=draw(st.sampled_from([None, 80, 300])),
                          article_id=f"art{i}")
    hits = [h for h in hits][:8]
    pieces = []
    for _ in range(draw(st.integers(0, 6))):
        if hits and draw(st.booleans()):  # a sentence copied from a passage (supported)
            text = draw(st.sampled_from(hits)).chunk.text
            s = draw(st.integers(0, max(0, len(text) - 1)))
            pieces.append(text[s : s + draw(st.integers(1, 200))])
        else:
            pieces.append(draw(st.one_of(WORDS, ANY_TEXT)))
        pieces.append(draw(st.lists(MARKERS, max_size=3).map("".join)))
        pieces.append(draw(st.sampled_from([". ", " ", "\n", "! ", ""])))
    return "".join(pieces), hits


@FAST
@given(answers(), st.sampled_from([0.0, 0.3, 0.6, 1.0]))
def test_verified_answers_cite_only_shown_sources_with_exact_quotes(case, threshold):
    raw, hits = case
    ans = verify_answer("a question?", raw, hits, support_threshold=threshold, answerer="test")
    numbers = {s.n for s in ans.sources}
    assert [s.n for s in ans.sources] == list(range(1, len(ans.sources) + 1))
    for m in MARKER.finditer(ans.text):  # every marker left in the text resolves
        nums = [int(x) for x in re.findall(r"\d+", m.group(1))]
        assert set(nums) <= numbers, (m.group(0), numbers)
    for sent in ans.sentences:
        assert set(sent.citations) <= numbers
    chunks = {h.chunk.id: h.chunk for h in hits}
    for s in ans.sources:
        c = chunks[s.chunk_id]
        assert c.text[s.start - c.start : s.end - c.start] == s.quote and s.quote.strip()
        assert s.passage == c.text
    assert 0 <= ans.citations_invalid <= ans.citations_total
    if ans.abstained:
        assert ans.text == ABSTAIN_TEXT and not ans.sources and not ans.sentences
