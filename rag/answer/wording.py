"""The answer's own words for what the archive lacks, built from the question's words.

:func:`undecided` turns a question into "The archive does not say who ..." for a question
whose direct answer the evidence cannot give; :func:`surface` and :func:`join_words` name
what no shown passage holds in a refusal ("Nothing in it mentions Baidu.").
"""
from __future__ import annotations

import re
from typing import Sequence

from rag.text import STOPWORDS, entity_spans, stem, terms

_IRREGULAR = {
    "pay": "paid", "say": "said", "win": "won", "make": "made", "buy": "bought", "sell": "sold", "get": "got",
    "take": "took", "give": "gave", "have": "had", "do": "did", "go": "went", "tell": "told", "find": "found",
    "lose": "lost", "leave": "left", "hold": "held", "spend": "spent", "meet": "met", "run": "ran",
    "become": "became", "write": "wrote", "choose": "chose", "lead": "led", "bring": "brought", "raise": "raised",
    "lay": "laid", "send": "sent", "build": "built", "keep": "kept", "see": "saw", "know": "knew", "fall": "fell",
    "rise": "rose", "grow": "grew", "begin": "began", "steal": "stole", "sue": "sued", "hit": "hit", "cut": "cut",
    "put": "put", "set": "set", "let": "let", "quit": "quit", "shut": "shut", "bid": "bid", "think": "thought",
}


def _past(verb: str) -> str:
    """"win" -> "won", "allege" -> "alleged", "report" -> "reported"."""
    return _IRREGULAR.get(verb, verb + ("d" if verb.endswith("e") else "ed"))


def _third_person(verb: str) -> str:
    """"allege" -> "alleges", "reach" -> "reaches"."""
    return verb + ("es" if verb.endswith(("s", "sh", "ch", "x")) else "s")


def undecided(question: str) -> str:
    """"The archive does not say who won the 2023 Nobel Prize in Literature." (the question
    turned into a clause; yes/no questions get "whether ..."), for a question whose direct
    answer the evidence cannot give."""
    q = question.strip().rstrip("?").strip()
    m = re.match(r"(?i)^(who|whom|what|which\s+[\w\-]+|where|when|how much|how many(?:\s+[\w\-]+)?|how)\s+(did|does|do)\s+(.+)$", q)
    if m:
        wh, aux, rest = m.groups()
        words = rest.split()
        for i, w in enumerate(words[1:], 1):
            # the verb: the first lower-case word after the subject that ends the clause or
            # is followed by a preposition or article ("the memo allege about ...")
            nxt = words[i + 1].lower() if i + 1 < len(words) else ""
            if w.islower() and w.isalpha() and w not in STOPWORDS and (not nxt or nxt in STOPWORDS):
                if aux.lower() == "did":
                    words[i] = _past(w)
                elif aux.lower() == "does":
                    words[i] = _third_person(w)
                break
        return f"The archive does not say {wh[0].lower() + wh[1:]} {' '.join(words)}."
    m = re.match(r"^(Is|Was|Are|Were|Has|Have|Had|Did|Does|Do|Will|Can)\s+((?:(?:[A-Z][\w.'’\-]*|of|the)\s+)*[A-Z][\w.'’\-]*)\s+([a-z].*)$", q)
    if m:  # "Was Sam Bankman-Fried found guilty" -> "whether Sam Bankman-Fried was found guilty"
        aux, subject, rest = m.groups()
        words = rest.split()
        if aux in ("Did", "Does", "Do"):
            w = words[0]
            words[0] = _past(w) if aux == "Did" else _third_person(w) if aux == "Does" else w
            return f"The archive does not say whether {subject} {' '.join(words)}."
        return f"The archive does not say whether {subject} {aux.lower()} {' '.join(words)}."
    if re.match(r"(?i)^(who|what|which|where|when|how)\b(?!\s+(?:is|was|are|were|has|have|had|will|would|can|could)\b)", q):
        return f"The archive does not say {q[0].lower() + q[1:]}."
    return f'The archive does not say: "{question.strip()}"'


def surface(question: str, missing_stems: Sequence[str]) -> list[str]:
    """The question's own words for missing stems: the whole name when a missing word is
    part of one ("Super Bowl", "Nobel Prize in Literature" -> "Literature"), else the word."""
    missing = set(missing_stems)
    out: list[str] = []
    covered: set[int] = set()
    for e in entity_spans(question):
        stems = [stem(t.norm) for t in terms(e.text)]
        if stems and all(k in missing for k in stems):
            out.append(re.sub(r"['’]s$", "", e.text))
            covered.update(range(e.start, e.end))
    for t in terms(question):
        if stem(t.norm) in missing and t.start not in covered:
            word = re.sub(r"['’]s$", "", question[t.start:t.end])
            if word not in out:
                out.append(word)
    return out


def join_words(words: Sequence[str]) -> str:
    """"Baidu", "Baidu or Literature", "A, B or C"."""
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
