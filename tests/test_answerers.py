"""One verified path: whatever writes a draft, the Archive verifies it; one registry of
answerers feeds the CLI, the chat and rag eval."""
from __future__ import annotations

from rag.answer import ANSWERERS, Draft, DraftAnswerer, available_answerers, make_answerer
from rag.settings import Settings


class CarelessAnswerer(DraftAnswerer):
    """A third answerer that cites what it likes and checks nothing: an invented passage
    number, and a claim no passage makes."""

    name = "careless"

    def __init__(self, settings, llm=None, embedder=None):
        self.settings = settings

    def draft(self, question, hits):
        first = hits[0].chunk.text.split("\n")[0].strip() if hits else "Nothing."
        text = f"{first} [1][9]\nThe company also announced a $50 billion buyback. [1]"
        return Draft(question, text, tuple(hits), self.name)


def test_the_archive_verifies_every_answerers_draft(hash_archive, monkeypatch):
    monkeypatch.setitem(ANSWERERS, "careless", (CarelessAnswerer, lambda s: True))
    ans = hash_archive.ask("What did the Pentagon memo allege about Alibaba?", answerer="careless")
    assert ans.answerer == "careless"
    assert "[9]" not in ans.text and ans.citations_invalid == 1 and ans.removed_citations >= 1
    assert "buyback" not in ans.text and any("buyback" in s for s in ans.removed_sentences)
    for s in ans.sources:  # every quote is an exact span of its article
        body = hash_archive.store.records.get_article(s.article_id).body
        assert body[s.start:s.end] == s.quote
    streamed = hash_archive.ask_stream("What did the Pentagon memo allege about Alibaba?", answerer="careless")
    "".join(streamed)
    assert "[9]" not in streamed.answer.text and "buyback" not in streamed.answer.text


def test_one_registry_feeds_the_cli_and_the_chat():
    from rag.cli import build_parser

    ask = build_parser()._subparsers._group_actions[0].choices["ask"]  # noqa: SLF001 - argparse has no public API
    choices = next(a.choices for a in ask._actions if "--answerer" in a.option_strings)
    assert list(choices) == list(ANSWERERS) == ["extractive", "llm"]
    assert available_answerers(Settings()) == ["extractive"]
    assert available_answerers(Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="m")) == ["extractive", "llm"]
    assert make_answerer(Settings()).name == "extractive"
