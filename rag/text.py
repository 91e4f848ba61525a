"""Pure text helpers shared by chunking, answering and evals: sentence spans and content words.

* :func:`split_sentences` returns character spans, so callers can map sentences back to body
  offsets. Line breaks always end a sentence; abbreviations ("U.S.", "Dr.", "Jan."), initials,
  decimals ("3.5") and quoted sentence ends are handled.
* :func:`terms` / :func:`content_words` tokenize into lowercased content words (English
  stopwords removed). Numbers are normalized ("$10" -> "10", "1,200" -> "1200", "03" -> "3",
  "seven" -> "7"), dotted acronyms lose their dots ("U.S." -> "us").
* :func:`stem` is a tiny suffix stripper used only for matching words against each other.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import NamedTuple

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each either etc few for from further had hadn't has hasn't
    have haven't having he her here hers herself him himself his how however i if in into is
    isn't it its itself just let me might mightn't more most must mustn't my myself no nor not
    now of off on once only or other ought our ours ourselves out over own per same shall shan't
    she should shouldn't so some such than that the their theirs them themselves then there
    these they this those through to too under until up upon us very via was wasn't we were
    weren't what when where whether which while who whom whose why will with won't would
    wouldn't yet you your yours yourself yourselves eg ie rd th nd st""".split()
)

_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
    if i >= 2  # "one" is too often a pronoun
}

_TOKEN = re.compile(
    r"(?P<num>\$?\d{1,3}(?:,\d{3})+(?:\.\d+)?|\$?\d+(?:\.\d+)?)(?P<pct>%)?"
    r"|(?P<acr>(?:[^\W\d_]\.){2,})"
    r"|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)"
)


MONTHS: tuple[str, ...] = tuple(
    "january february march april may june july august september october november december".split()
)
WEEKDAYS: tuple[str, ...] = tuple("monday tuesday wednesday thursday friday saturday sunday".split())

_MIN_WORD = 2  # a single letter is an initial or noise, not a content word
_MIN_STEM = 3  # words this short stay whole, and no suffix is cut to leave fewer letters

# A letter or digit: text that holds one is more than punctuation and white space.
WORDY = re.compile(r"[^\W_]")


# The lexical index's own tokenization (bm25s' default pattern on lower-cased text): what
# BM25 and the rerank's term matching see. Content words for answering and verification are
# :func:`terms` below.
LEXICAL_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def lexical_tokens(text: str) -> list[str]:
    """Lower-cased tokens as the lexical index (bm25s) splits them, before stopwords and
    stemming."""
    return LEXICAL_TOKEN.findall(text.lower())


class Term(NamedTuple):
    """A content word: normalized form, span in the text, and kind
    ("number", "acronym", "capitalized" or "word")."""

    norm: str
    start: int
    end: int
    kind: str


def _norm_number(raw: str) -> str:
    s = raw.lstrip("$").replace(",", "")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    s = s.lstrip("0") if "." not in s else s
    if s.startswith("."):
        s = "0" + s
    return s or "0"


@lru_cache(maxsize=65536)
def _word(raw: str) -> tuple[str, str] | None:
    """(norm, kind) of a word token, or None for stopwords and single letters."""
    low = raw.lower().replace("’", "'")
    if low.endswith("'s"):
        low = low[:-2]
    if low in _NUMBER_WORDS:
        return _NUMBER_WORDS[low], "number"
    if len(low) < _MIN_WORD:
        return None
    core = raw.split("'")[0].split("’")[0]
    if len(core) >= _MIN_WORD and core.isupper():
        return None if low in STOPWORDS and low != "us" else (low, "acronym")
    if low in STOPWORDS:
        return None
    if raw[0].isupper():
        return low, "capitalized"
    if any(c.isupper() for c in raw[1:]):
        return low, "acronym"  # iPhone, eBay: name-like
    return low, "word"


def terms(text: str) -> list[Term]:
    """Content words of ``text`` with spans and kinds (stopwords dropped, numbers kept)."""
    out: list[Term] = []
    for m in _TOKEN.finditer(text):
        num, acr, word = m.group("num", "acr", "word")
        if word:
            w = _word(word)
            if w is not None:
                out.append(Term(w[0], m.start(), m.end(), w[1]))
        elif num:
            out.append(Term(_norm_number(num), m.start(), m.end(), "number"))
            if m.group("pct"):
                out.append(Term("percent", m.start("pct"), m.end("pct"), "word"))
        else:
            out.append(Term(acr.replace(".", "").lower(), m.start(), m.end(), "acronym"))
    return out


def content_words(text: str) -> list[str]:
    """Lowercased content words of ``text`` in order (stopwords removed, numbers normalized)."""
    return [t.norm for t in terms(text)]


@lru_cache(maxsize=8192)
def stems(text: str) -> frozenset[str]:
    """The stems of the content words of ``text`` (cached per text: a question's passages are
    matched against it in several steps)."""
    return frozenset(stem(t.norm) for t in terms(text))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Crude, symmetric suffix stripping ("releases"/"released"/"release" -> "releas") used
    to match content words; numbers and short words are returned unchanged."""
    w = word
    if len(w) <= _MIN_STEM or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > _MIN_STEM + 1:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith(("ches", "shes")) or (w.endswith("es") and w[-3] in "sxz"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suf in ("ingly", "edly", "ing", "ed", "ly"):
        if w.endswith(suf) and len(w) - len(suf) >= _MIN_STEM:
            w = w[: -len(suf)]
            if len(w) > _MIN_STEM and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            break
    if len(w) > _MIN_STEM and w.endswith("e"):
        w = w[:-1]
    return w


def idf(df, n):
    """The one IDF of newsrag: BM25's, kept positive, ``log(1 + (n - df + 0.5) / (df + 0.5))``
    for a term found in ``df`` of ``n`` texts (scalars, or numpy arrays of ``df``)."""
    if isinstance(df, (int, float)):
        return math.log(1 + (n - df + 0.5) / (df + 0.5))
    import numpy as np

    return np.log(1.0 + (n - df + 0.5) / (df + 0.5))


# --- sentence splitting -----------------------------------------------------------------

# Never end a sentence after these (titles, "Jan. 5", "No. 3").
_NO_BREAK = frozenset(
    """mr mrs ms dr prof sen rep gov gen col lt sgt capt cmdr adm st mt ft rev hon pres supt det
    insp maj messrs jan feb mar apr jun jul aug sep sept oct nov dec no nos vol fig approx est
    dept vs v""".split()
)
# End a sentence after these only when a typical sentence opener follows ("in the U.S. The").
_MAYBE_BREAK = frozenset("inc corp co ltd jr sr llc plc bros etc al".split())
_OPENERS = STOPWORDS | {"meanwhile", "still", "yesterday", "today", "earlier", "later"}

_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?:\[\s*\d[\d\s,;–-]*\])*(?=\s|$)")
_LINE = re.compile(r"[^\n\r]+")
_PREV_WORD = re.compile(r"(\S+)$")
_NEXT_WORD = re.compile(r"\s*([^\W\d_]+)")


def _is_boundary(line: str, m: re.Match) -> bool:
    rest = line[m.end():]
    nxt = rest.lstrip()
    if not nxt:
        return True
    c = nxt[0]
    if c.islower() or c in ",;:":
        return False
    punct = m.group(0)
    if punct != ".":
        return True
    pw = _PREV_WORD.search(line, 0, m.start())
    if not pw:
        return True
    word = pw.group(1).lstrip("(\"'“‘[")
    low = word.lower().replace(".", "")
    if low in _NO_BREAK or (len(word) == 1 and word.isupper()):
        return False
    if "." in word or low in _MAYBE_BREAK:  # dotted acronym (U.S, a.m) or company suffix
        nw = _NEXT_WORD.match(rest)
        return bool(nw) and nw.group(1).lower() in _OPENERS
    return True


_ABBREV_END = re.compile(r"(?:\b(?:[^\W\d_]\.){2,}|\b(?P<word>[^\W\d_]+)\.)$")


def _continues(prev: str, nxt: str) -> bool:
    """True when a line ending in ``prev`` is cut mid-sentence after an abbreviation and
    ``nxt`` (the next line) carries the sentence on: "The U.S." / "Department of Defense
    has released..."."""
    m = _ABBREV_END.search(prev)
    if not m:
        return False
    if m.group("word") is not None and m.group("word").lower() not in _NO_BREAK:
        return False
    nw = _NEXT_WORD.match(nxt)
    if not nw:
        return False
    word = nw.group(1)
    return word[0].islower() or word.lower() not in _OPENERS


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text``, stripped of surrounding
    white space. A line break ends a sentence, except after an abbreviation that cannot end
    one when the next line carries the sentence on ("The U.S.\n\nDepartment of Defense has
    released...": one sentence, its span covering the break). The one sentence splitter of
    newsrag (chunking, rerank, answerers, verifier, judge); results are cached per text, since
    one question splits the same passages in several steps."""
    return list(_split_cached(text))


@lru_cache(maxsize=8192)
def _split_cached(text: str) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    line_starts: set[int] = set()
    for lm in _LINE.finditer(text):
        line, base, start = lm.group(0), lm.start(), 0
        first = len(spans)
        for m in _END.finditer(line):
            if _is_boundary(line, m):
                _add(spans, line, base, start, m.end())
                start = m.end()
        _add(spans, line, base, start, len(line))
        if len(spans) > first:
            line_starts.add(spans[first][0])
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s in line_starts and _continues(text[merged[-1][0]:merged[-1][1]], text[s:e]):
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return tuple(merged)


def _add(spans: list[tuple[int, int]], line: str, base: int, s: int, e: int) -> None:
    seg = line[s:e]
    lead = len(seg) - len(seg.lstrip())
    trail = len(seg) - len(seg.rstrip())
    if e - trail > s + lead:
        spans.append((base + s + lead, base + e - trail))


# --- named things -------------------------------------------------------------------------

_CAP_WORD = r"(?:[A-Z][\w'’&.\-]*[\w]|[A-Z]|\d+[A-Za-z][\w\-]*)"
_ENTITY = re.compile(
    rf"{_CAP_WORD}(?:(?:\s+(?:of|de|da|del|van|von|der|le|la|&|for|the)\s+|\s+|-){_CAP_WORD})*"
)
# capitalized words that are not names on their own (sentence openers, months, titles)
_NOT_NAMES = STOPWORDS | frozenset(
    """mr mrs ms dr prof sen rep gov gen president ceo cfo chief ex former new according
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december jan feb mar apr jun jul aug sep sept
    oct nov dec yes no it's i'm we're they're here's there's that's what's though although despite
    unlike like singer star rapper actor actress quarterback coach chair chairman chairwoman founder
    co-founder cofounder judge senator attorney billionaire executive director minister secretary
    spokesperson spokesman spokeswoman analyst reporter columnist editor professor""".split()
)


class EntitySpan(NamedTuple):
    """A run of capitalized words ("Sam Bankman-Fried", "U.S. Department of Defense") with
    its span in the text."""

    text: str
    start: int
    end: int


def entity_spans(text: str) -> list[EntitySpan]:
    """Runs of capitalized words in ``text`` that read as names ("Sam Bankman-Fried",
    "Department of Defense"). Words that are not names on their own (sentence openers,
    titles such as "CEO", month and day names) split a run and are dropped, as are
    connectors ("of", "and") left at either end."""
    out: list[EntitySpan] = []
    connectors = ("of", "and", "&", "for", "the", "de", "da", "del", "van", "von", "der", "la", "le")

    def emit(words: list[re.Match], base: int) -> None:
        while words and words[0].group(0).lower() in connectors:
            words.pop(0)
        while words and words[-1].group(0).lower() in connectors:
            words.pop()
        if not words:
            return
        s, e = base + words[0].start(), base + words[-1].end()
        span = text[s:e].rstrip(".’'")
        if len(span) >= 2 and any(c.isalpha() for c in span):
            out.append(EntitySpan(span, s, s + len(span)))

    for m in _ENTITY.finditer(text):
        group: list[re.Match] = []
        for w in re.finditer(r"[^\s-]+(?:-[^\s-]+)*", m.group(0)):
            low = w.group(0).lower().replace("’", "'")
            if low.strip(".'") in _NOT_NAMES and low not in connectors:
                emit(group, m.start())
                group = []
            elif low == "of" and len(group) >= 2:  # "Moungi Bawendi of MIT": two names
                emit(group, m.start())
                group = []
            else:
                group.append(w)
        emit(group, m.start())
    return out
