"""Attribution under a scripted LLM that mis-cites: does the verifier move, keep and remove right?

For each answerable dev question (MultiHop-RAG format), the shown passages are
``Archive.search(question, 10)`` (what the answerer sees). A scripted LLM answer is built from
them:

* one evidence sentence per gold fact found in a shown passage (MultiHop-RAG's rule: the fact,
  spaces removed, is a substring of the passage), lightly paraphrased (a leading connective
  dropped, an outlet attribution, a reporting verb swapped, a trailing clause cut), each
  citing its passage, except that half of the sentences (alternating, deterministic) cite a
  RELATED but wrong shown passage: another passage of the same article, else the
  highest-ranked passage that shares a name with the sentence, else the highest-ranked other
  passage; never one that holds the fact;
* one invented sentence ("<Name> also announced a $50 billion share buyback.", varied, with a
  name from the question) citing the highest-ranked shown passage that mentions that name;
* a direct answer line first (the gold answer, citing the first fact's passage) when the
  question asks for a name or yes/no, as the answer prompt asks.

The text goes through the real :class:`rag.answer.GenerativeAnswerer` with a scripted
:class:`rag.answer.llm.LLMClient`, and each scripted sentence is traced to its verified sentence:

* ``wrong_moved``: a wrong citation replaced by a passage that holds the gold fact (>= 0.90);
* ``right_kept``: a right citation still on the same passage (>= 0.98);
* ``invented_removed``: the invented sentence left out of the answer text (>= 0.95).

Run: ``python -m evals.attribution --index index/eval-XXXX --dataset queries-dev.json --n 150
[--out attribution.json]``. The archive is only searched (read-only).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Sequence

from evals.datasets import EvalItem, load_dataset
from evals.metrics import squash
from rag.answer.generative import GenerativeAnswerer
from rag.answer.question import answer_type
from rag.answer import verify
from rag.answer.markers import MARKER as _MARKER
from rag.text import entity_spans, split_sentences, stem, terms
from rag.types import Answer, Hit

TARGETS = {"wrong_moved": 0.90, "right_kept": 0.98, "invented_removed": 0.95}

_CONNECTIVE = re.compile(r"^(?:however|but|meanwhile|still|moreover|additionally|also|and|yet|so|in addition|furthermore)\s*,?\s+", re.I)
_SWAPS = [(r"\bsaid\b", "stated"), (r"\bsays\b", "states"), (r"\btold\b", "informed"), (r"\bannounced\b", "revealed"),
          (r"\bshowed\b", "indicated"), (r"\bhas been\b", "was"), (r"\bbegan\b", "started")]
_INVENTED = [
    "{e} also announced a ${n} billion share buyback.",
    "{e} said it would cut {n},000 jobs by the end of 2025.",
    "A spokesperson for {e} confirmed plans to move its headquarters to Austin, Texas.",
    "{e} was fined ${n} million by European regulators last week.",
    "Analysts expect revenue at {e} to double within two years.",
    "{e} has since hired a former Goldman Sachs executive to lead the effort.",
    "Shares of {e} rose {n} percent in after-hours trading following the news.",
    "The board of {e} approved the plan unanimously in March.",
    "{e} plans to open {n} new offices across Southeast Asia next year.",
    "Regulators in Brazil opened a separate inquiry into {e} in {y}.",
]


@dataclass
class Scripted:
    """One sentence of a scripted answer and what became of it."""

    text: str  # without its marker
    kind: str  # right | wrong | invented
    cited: int  # 1-based shown passage it cites
    gold: list[int]  # 1-based shown passages that hold its fact (empty for invented)
    outcome: str = ""  # kept | moved | moved_elsewhere | removed_citation | dropped_sentence | kept_wrong
    cited_score: float = 0.0  # the verifier's support score of the cited passage
    gold_score: float = 0.0  # ... of the best passage holding the fact
    other_score: float = 0.0  # ... of the best other passage (neither cited nor holding the fact)


@dataclass
class Case:
    """A question, its shown passages and the scripted answer."""

    id: str
    question: str
    sentences: list[Scripted]
    direct: str | None = None
    raw: str = ""
    direct_kept: bool | None = None
    notes: list[str] = field(default_factory=list)


class ScriptedLLM:
    """An :class:`rag.answer.llm.LLMClient` that returns the next scripted text."""

    def __init__(self) -> None:
        self.reply = ""
        self.calls = 0

    def complete(self, prompt: str, system: str | None = None) -> str:
        self.calls += 1
        return self.reply

    def stream(self, prompt: str, system: str | None = None) -> Iterator[str]:
        self.calls += 1
        yield self.reply


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _names(text: str) -> set[str]:
    return {stem(t.norm) for t in terms(text) if t.kind in ("capitalized", "acronym")}


def fact_sentence(fact: str) -> str:
    """The sentence of a gold fact an answer would state: the longest one of it."""
    spans = split_sentences(fact)
    parts = [fact[s:e] for s, e in spans] or [fact.strip()]
    return max(parts, key=lambda p: len(p.split())).strip()


def paraphrase(sentence: str, outlet: str | None, variant: int) -> str:
    """A light, realistic rewording of a fact sentence (the variant picks how)."""
    s = _CONNECTIVE.sub("", sentence.strip())
    s = s[:1].upper() + s[1:]
    if variant % 4 == 1 and outlet and not s.lower().startswith(("according", outlet.lower())):
        s = f"{outlet} reported that {s[:1].lower() + s[1:] if not _is_name_start(s) else s}"
    elif variant % 4 == 2:
        for pat, rep in _SWAPS:
            if re.search(pat, s):
                s = re.sub(pat, rep, s, count=1)
                break
    elif variant % 4 == 3:
        words = s.split()
        cut = s.rfind(", ")
        if len(words) > 22 and cut > len(s) // 2:
            s = s[:cut]
    s = s.rstrip()
    if not re.search(r"[.!?][\"'”’)]*$", s):
        s += "."
    return s


def _is_name_start(s: str) -> bool:
    first = s.split()[0] if s.split() else ""
    return bool(first) and first.lower() not in ("the", "a", "an", "this", "that", "it", "in", "on", "at", "as", "for")


def cite(sentence: str, n: int) -> str:
    """``sentence`` with ``[n]`` before its final punctuation, as LLMs write it."""
    m = re.search(r"([.!?])([\"'”’)]*)$", sentence)
    if m and not m.group(2):
        return f"{sentence[: m.start()]} [{n}]{m.group(1)}"
    return f"{sentence} [{n}]"


def _related(hits: Sequence[Hit], gold: list[int], sentence: str) -> int | None:
    """The related but wrong shown passage (1-based): same article, else the highest-ranked
    sharing a name with the sentence, else the highest-ranked other; never a gold one."""
    others = [i for i in range(1, len(hits) + 1) if i not in gold]
    if not others:
        return None
    arts = {hits[g - 1].chunk.article_id for g in gold}
    same = [i for i in others if hits[i - 1].chunk.article_id in arts]
    if same:
        return same[0]
    names = _names(sentence)
    sharing = [i for i in others if names & _names(hits[i - 1].chunk.text + " " + hits[i - 1].chunk.title)]
    return (sharing or others)[0]


def _subject(item: EvalItem, hits: Sequence[Hit]) -> str:
    """A name from the question that is not an outlet (for the invented sentence)."""
    outlets = {(h.chunk.outlet or "").lower() for h in hits} | {"the", "a"}
    for ent in entity_spans(item.question):
        name = ent.text.strip(" '\"‘’“”")
        if name.lower() not in outlets and not any(name.lower() in o for o in outlets if o) and len(name) > 2:
            return name
    return "The company"


def build_case(item: EvalItem, hits: Sequence[Hit], rng: random.Random, wrong_first: bool) -> Case | None:
    """The scripted answer for one question, or None when no gold fact is in a shown passage."""
    texts = [squash(h.chunk.text) for h in hits]
    sentences: list[Scripted] = []
    seen: set[str] = set()
    wrong_turn = wrong_first
    for g in item.gold:
        key = squash(g.fact)
        if not key or key in seen:
            continue
        seen.add(key)
        holders = [i for i, t in enumerate(texts, 1) if key in t]
        if not holders:
            continue
        outlet = hits[holders[0] - 1].chunk.outlet
        text = paraphrase(fact_sentence(g.fact), outlet, rng.randrange(4))
        if len(text.split()) < 4:
            continue
        # a citation counts as right when its passage holds the fact sentence
        gold = [i for i in holders]
        sent_key = squash(fact_sentence(g.fact))
        gold = sorted(set(gold) | {i for i, t in enumerate(texts, 1) if sent_key and sent_key in t})
        wrong = _related(hits, gold, text) if wrong_turn else None
        if wrong is not None:
            sentences.append(Scripted(text, "wrong", wrong, gold))
        else:
            sentences.append(Scripted(text, "right", gold[0], gold))
        wrong_turn = not wrong_turn
    if not sentences:
        return None
    who = _subject(item, hits)
    tmpl = rng.choice(_INVENTED)
    invented = tmpl.format(e=who, n=rng.choice([3, 7, 12, 15, 40, 50, 120]), y=rng.choice([2019, 2021, 2022]))
    invented = invented[:1].upper() + invented[1:]
    names = _names(who)
    about = next((i for i, h in enumerate(hits, 1) if names & _names(h.chunk.text)), 1)
    pos = rng.randrange(1, len(sentences) + 1)
    sentences.insert(pos, Scripted(invented, "invented", about, []))
    direct = _direct_line(item, sentences)
    raw = " ".join(cite(s.text, s.cited) for s in sentences)
    if direct:
        raw = direct + "\n" + raw
    return Case(item.id, item.question, sentences, direct, raw)


def _direct_line(item: EvalItem, sentences: list[Scripted]) -> str | None:
    """The gold answer as a direct answer line, citing the first fact's passage."""
    ans = (item.answer or "").strip()
    qtype = answer_type(item.question)
    if not ans or qtype == "none" or len(ans.split()) > 8 or ans.lower().startswith("insufficient"):
        return None
    first = next((s for s in sentences if s.gold), None)
    if first is None:
        return None
    if qtype == "yesno":
        if ans.lower() not in ("yes", "no"):
            return None
        return f"{ans.capitalize()}. [{first.gold[0]}]"
    return cite(ans.rstrip(".") + ".", first.gold[0])


def trace(case: Case, ans: Answer, hits: Sequence[Hit]) -> None:
    """Set each scripted sentence's outcome from the verified answer."""
    chunk_of = {s.n: s.chunk_id for s in ans.sources}
    index_of = {h.chunk.id: i for i, h in enumerate(hits, 1)}
    out = [(_norm(s.text), [index_of[chunk_of[c]] for c in s.citations]) for s in ans.sentences]
    for sc in case.sentences:
        key = _norm(sc.text)
        match = [cites for norm, cites in out if norm and norm in key]
        if not match:
            sc.outcome = "dropped_sentence"
            continue
        cites = match[-1]  # the piece that carried the marker (when the splitter cut it)
        if sc.kind == "invented":
            sc.outcome = "kept"
        elif sc.cited in cites:
            sc.outcome = "kept" if sc.kind == "right" else "kept_wrong"
        elif set(cites) & set(sc.gold):
            sc.outcome = "moved"
        elif cites:
            sc.outcome = "moved_elsewhere"
        else:
            sc.outcome = "removed_citation"
    if case.direct is not None:
        case.direct_kept = ans.direct is not None


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarize(cases: Sequence[Case]) -> dict[str, Any]:
    """The three shares (and the outcome counts behind them)."""
    by: dict[str, dict[str, int]] = {"right": {}, "wrong": {}, "invented": {}}
    for c in cases:
        for s in c.sentences:
            by[s.kind][s.outcome] = by[s.kind].get(s.outcome, 0) + 1
    n = {k: sum(v.values()) for k, v in by.items()}
    directs = [c.direct_kept for c in cases if c.direct_kept is not None]
    return {
        "questions": len(cases),
        "sentences": n,
        "wrong_moved": _rate(by["wrong"].get("moved", 0), n["wrong"]),
        "right_kept": _rate(by["right"].get("kept", 0), n["right"]),
        "right_kept_or_moved_to_gold": _rate(by["right"].get("kept", 0) + by["right"].get("moved", 0), n["right"]),
        "invented_removed": _rate(by["invented"].get("dropped_sentence", 0), n["invented"]),
        "direct_kept": _rate(sum(directs), len(directs)),
        "outcomes": by,
        "targets": TARGETS,
    }


def margins(cases: Sequence[Case], threshold: float) -> dict[str, Any]:
    """What the move margin has to separate: for right citations, how far the best other
    passage scores above the cited one (a margin below that would move a right citation);
    for wrong citations that pass the threshold on their own, how far the gold passage
    scores above them (a margin above that would leave them in place)."""
    right = [s.other_score - s.cited_score for c in cases for s in c.sentences if s.kind == "right"]
    wrong = [s.gold_score - s.cited_score for c in cases for s in c.sentences
             if s.kind == "wrong" and s.cited_score >= threshold]
    n_wrong = sum(1 for c in cases for s in c.sentences if s.kind == "wrong")
    return {
        "right_max_gain_elsewhere": round(max(right), 4) if right else None,
        "wrong_passing_threshold": len(wrong),
        "wrong_total": n_wrong,
        "wrong_passing_min_gap_to_gold": round(min(wrong), 4) if wrong else None,
        "wrong_passing_gaps": sorted(round(x, 4) for x in wrong),
    }


def measure(
    items: Sequence[EvalItem],
    search: Callable[[str], Sequence[Hit]],
    settings: Any,
    n: int | None = None,
    seed: int = 11,
) -> tuple[dict[str, Any], list[Case]]:
    """Build, answer and trace scripted answers for up to ``n`` usable questions."""
    llm = ScriptedLLM()
    answerer = GenerativeAnswerer(settings, llm)
    cases: list[Case] = []
    skipped = {"null_query": 0, "no_fact_shown": 0}
    verify_ms: list[float] = []
    for k, item in enumerate(items):
        if n is not None and len(cases) >= n:
            break
        if not item.answerable or not item.facts:
            skipped["null_query"] += 1
            continue
        hits = list(search(item.question))
        case = build_case(item, hits, random.Random(f"{seed}:{item.id}"), wrong_first=len(cases) % 2 == 0)
        if case is None:
            skipped["no_fact_shown"] += 1
            continue
        llm.reply = case.raw
        ans = answerer.answer(item.question, hits)
        verify_ms.append(ans.timing_ms.get("verify", 0.0))
        for m in _MARKER.finditer(ans.text):  # the verifier's own contract, checked on the way
            assert all(1 <= int(x) <= len(ans.sources) for x in re.findall(r"\d+", m.group(1)))
        trace(case, ans, hits)
        for sc in case.sentences:
            scores = verify.support_scores(sc.text, hits)
            sc.cited_score = round(scores[sc.cited - 1], 4)
            sc.gold_score = round(max((scores[g - 1] for g in sc.gold), default=0.0), 4)
            sc.other_score = round(max((x for i, x in enumerate(scores, 1) if i != sc.cited and i not in sc.gold),
                                       default=0.0), 4)
        cases.append(case)
    summary = summarize(cases)
    summary["skipped"] = skipped
    summary["margins"] = margins(cases, getattr(settings, "support_threshold", 0.6))
    verify_ms.sort()
    summary["verify_ms_p50"] = round(verify_ms[len(verify_ms) // 2], 2) if verify_ms else None
    summary["move_margin"] = verify.MOVE_MARGIN
    return summary, cases


def table(summary: dict[str, Any]) -> str:
    """A small markdown table of the three shares against their targets."""
    n = summary["sentences"]
    rows = [
        ("wrong citations moved to a supporting passage", "wrong_moved", n["wrong"]),
        ("right citations kept", "right_kept", n["right"]),
        ("invented sentences removed", "invented_removed", n["invented"]),
    ]
    out = ["| measure | share | n | target |", "| --- | --- | --- | --- |"]
    for label, key, count in rows:
        out.append(f"| {label} | {summary[key]} | {count} | >= {TARGETS[key]} |")
    if summary.get("direct_kept") is not None:
        out.append(f"| direct answers (gold) kept | {summary['direct_kept']} | | |")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.attribution", description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, help="index folder (opened read-only: search only)")
    ap.add_argument("--dataset", required=True, help="MultiHop-RAG query file")
    ap.add_argument("--n", type=int, default=150, help="usable questions to answer (default 150)")
    ap.add_argument("--k", type=int, default=10, help="passages shown (default 10)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", help="write the summary and every case as JSON here")
    ap.add_argument("--margin", type=float, help="override the verifier's MOVE_MARGIN (for tuning)")
    ap.add_argument("--show", type=int, default=0, help="print this many failures per kind")
    args = ap.parse_args(argv)

    from rag import Archive
    from rag.settings import Settings

    if args.margin is not None:
        verify.MOVE_MARGIN = args.margin
    t0 = time.perf_counter()
    settings = Settings.load(index=args.index)
    archive = Archive.open(args.index, settings)
    items = load_dataset(args.dataset)
    summary, cases = measure(items, lambda q: archive.search(q, args.k), archive.settings, n=args.n, seed=args.seed)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["command"] = "python -m evals.attribution " + " ".join(sys.argv[1:] if argv is None else argv)
    print(table(summary))
    m = summary["margins"]
    print(f"\nmove margin {summary['move_margin']}: right citations, best other passage at most "
          f"{m['right_max_gain_elsewhere']} above the cited one; {m['wrong_passing_threshold']}/{m['wrong_total']} wrong "
          f"citations pass the threshold alone, gold passage at least {m['wrong_passing_min_gap_to_gold']} above them")
    print(f"{summary['questions']} questions, skipped {summary['skipped']}, verify p50 {summary['verify_ms_p50']} ms, "
          f"{summary['seconds']} s")
    if args.show:
        for kind, good in (("wrong", "moved"), ("right", "kept"), ("invented", "dropped_sentence")):
            bad = [(c, s) for c in cases for s in c.sentences if s.kind == kind and s.outcome != good][: args.show]
            for c, s in bad:
                print(f"\n[{kind} -> {s.outcome}] {c.question}\n  {s.text} (cited {s.cited}, gold {s.gold})")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump({"summary": summary, "cases": [asdict(c) for c in cases]}, fh, indent=1, ensure_ascii=False)
    archive.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
