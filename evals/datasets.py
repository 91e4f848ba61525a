"""Eval datasets: MultiHop-RAG query files and the project's own JSONL, as :class:`EvalItem`.

* MultiHop-RAG (a JSON array): ``{query, answer, question_type, evidence_list}``, each
  evidence ``{url, title, source, published_at, fact}``; ``null_query`` items are unanswerable.
* Own JSONL, one object per line: ``question``; optional ``id``, ``answer``, ``type``;
  ``answerable`` (default: true); ``gold``: a list of ``{url | article_id, quote}`` where the
  quote is an exact substring of that article's body.

A bare name such as ``smoke`` or ``sample_qa`` means ``evals/datasets/<name>.jsonl``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.errors import BadInput
from rag.ingest.ids import article_id as make_article_id

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"


@dataclass(frozen=True)
class GoldEvidence:
    """One gold evidence item: the supporting fact (quote) and the article it comes from."""

    fact: str
    url: str | None = None
    article_id: str | None = None
    title: str | None = None

    @property
    def key(self) -> str | None:
        """The article id the index gives this article (from the canonical URL), if known."""
        if self.article_id:
            return self.article_id
        return make_article_id(self.url, "", "") if self.url else None


@dataclass(frozen=True)
class EvalItem:
    """One question of a dataset, with its gold answer (optional) and gold evidence."""

    id: str
    question: str
    answer: str | None = None
    answerable: bool = True
    qtype: str = "default"
    gold: tuple[GoldEvidence, ...] = field(default_factory=tuple)

    @property
    def facts(self) -> list[str]:
        """The gold facts (quotes), in order."""
        return [g.fact for g in self.gold if g.fact.strip()]

    @property
    def gold_keys(self) -> list[str]:
        """The distinct gold article ids, in order."""
        return list(dict.fromkeys(k for k in (g.key for g in self.gold) if k))

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        d = asdict(self)
        d["gold"] = [asdict(g) for g in self.gold]
        return d


def resolve_dataset(name: str | Path) -> Path:
    """A dataset path: ``name`` itself when it exists, else ``evals/datasets/<name>[.jsonl]``."""
    p = Path(name)
    if p.exists():
        return p
    for cand in (DATASETS_DIR / str(name), DATASETS_DIR / f"{name}.jsonl"):
        if cand.is_file():
            return cand
    raise BadInput("no such dataset (give a file, or one of: "
                   + ", ".join(sorted(x.stem for x in DATASETS_DIR.glob("*.jsonl") if "pairs" not in x.stem)) + ")",
                   file=str(name))


def _multihop_item(i: int, rec: dict, file: str) -> EvalItem:
    try:
        qtype = str(rec.get("question_type") or "default")
        gold = tuple(
            GoldEvidence(fact=str(e["fact"]), url=e.get("url"), title=e.get("title"))
            for e in rec.get("evidence_list") or []
        )
        return EvalItem(
            id=f"q{i:04d}", question=str(rec["query"]), answer=rec.get("answer"),
            answerable=qtype != "null_query" and bool(gold), qtype=qtype, gold=gold,
        )
    except (KeyError, TypeError) as exc:
        raise BadInput(f"query {i}: not a MultiHop-RAG query ({exc})", file=file) from exc


def _own_item(line: int, rec: dict, file: str) -> EvalItem:
    if not isinstance(rec, dict) or not str(rec.get("question") or "").strip():
        raise BadInput("each line needs a 'question'", file=file, line=line)
    gold = []
    for g in rec.get("gold") or []:
        quote = g.get("quote", g.get("fact")) if isinstance(g, dict) else None
        if not quote or not (g.get("url") or g.get("article_id") or g.get("id")):
            raise BadInput("gold items need 'quote' and 'url' or 'article_id'", file=file, line=line)
        gold.append(GoldEvidence(fact=str(quote), url=g.get("url"), article_id=g.get("article_id") or g.get("id"),
                                 title=g.get("title")))
    answerable = bool(rec.get("answerable", True))
    return EvalItem(
        id=str(rec.get("id") or f"line{line}"), question=str(rec["question"]).strip(),
        answer=rec.get("answer"), answerable=answerable,
        qtype=str(rec.get("type") or ("unanswerable" if not answerable else "default")), gold=tuple(gold),
    )


def load_dataset(path: str | Path, limit: int | None = None) -> list[EvalItem]:
    """Load a MultiHop-RAG query file or an own JSONL dataset (first ``limit`` items)."""
    p = resolve_dataset(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read dataset: {exc}", file=str(p)) from exc
    items: list[EvalItem] = []
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadInput(f"invalid JSON: {exc}", file=str(p)) from exc
        for i, rec in enumerate(data):
            if isinstance(rec, dict) and "query" in rec:
                items.append(_multihop_item(i, rec, str(p)))
            else:
                items.append(_own_item(i + 1, rec, str(p)))
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise BadInput(f"invalid JSON: {exc}", file=str(p), line=n) from exc
            items.append(_multihop_item(n, rec, str(p)) if "query" in rec else _own_item(n, rec, str(p)))
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        raise BadInput("duplicate item ids", file=str(p))
    return items[:limit] if limit else items
