"""Loaders of record files: JSON (an array, one object, or ``{"articles": [...]}``),
JSON Lines / NDJSON, and CSV / TSV. Each record's fields are mapped by
:data:`rag.ingest.fields.ALIASES`; a bad record is a BadRecord with its line, and loading goes on.
"""
from __future__ import annotations

import csv
import io
import json
import re
import sys
from bisect import bisect_right
from collections.abc import Iterator
from typing import Any

from rag.ingest.decode import reads_text
from rag.ingest.fields import ALIASES, Result, field_key, record_to_article
from rag.types import BadRecord

# Keys under which a JSON object may wrap its list of records.
_WRAPPER_KEYS = ("articles", "items", "records", "data", "entries", "results")


def _line_index(text: str) -> list[int]:
    """Offsets of the newlines of ``text`` (to turn an offset into a line number)."""
    return [m.start() for m in re.finditer("\n", text)]


@reads_text
def load_json(file: str, text: str) -> Iterator[Result]:
    """Load a JSON file: an array of records, a single record, or an object wrapping a list
    under ``articles``/``items``/``records``/``data``/``entries``/``results``.

    A file that does not parse is one BadRecord with the JSONDecodeError line and nothing
    else is loaded from it. For a bad record of an array, ``BadRecord.line`` is the 1-based
    line where the record starts and the reason begins ``record N`` (1-based index); for a
    wrapped list the line is ``None`` (only the record index is known).
    """
    dec = json.JSONDecoder()
    ws = " \t\n\r"
    i = len(text) - len(text.lstrip(ws))
    items: list[tuple[Any, int | None]] = []
    try:
        if text.startswith("[", i):
            newlines = None
            i += 1
            while True:
                while i < len(text) and text[i] in ws:
                    i += 1
                if text.startswith("]", i) and not items:
                    i += 1
                    break
                obj, end = dec.raw_decode(text, i)
                if newlines is None:
                    newlines = _line_index(text)
                items.append((obj, bisect_right(newlines, i - 1) + 1))
                i = end
                while i < len(text) and text[i] in ws:
                    i += 1
                if text.startswith(",", i):
                    i += 1
                    continue
                if text.startswith("]", i):
                    i += 1
                    break
                raise json.JSONDecodeError("Expecting ',' delimiter or ']'", text, i)
        else:
            obj, i = dec.raw_decode(text, i)
            items.append((obj, 1 + text.count("\n", 0, len(text) - len(text.lstrip(ws)))))
        if text[i:].strip(ws):
            raise json.JSONDecodeError("Extra data", text, i + len(text[i:]) - len(text[i:].lstrip(ws)))
    except json.JSONDecodeError as e:
        yield BadRecord(file, e.lineno, f"invalid JSON: {e.msg} (column {e.colno})")
        return
    except (ValueError, RecursionError) as e:  # e.g. int too long, nesting too deep
        yield BadRecord(file, None, f"invalid JSON: {type(e).__name__}: {e}")
        return
    if len(items) == 1 and isinstance(items[0][0], dict):
        rec = items[0][0]
        keyed = {field_key(k): v for k, v in rec.items()}
        if not any(a in keyed for a in ALIASES["body"]):
            for w in _WRAPPER_KEYS:
                if isinstance(keyed.get(w), list):
                    for n, sub in enumerate(keyed[w], 1):
                        yield record_to_article(sub, file, None, f"record {n}")
                    return
    for n, (obj, line) in enumerate(items, 1):
        yield record_to_article(obj, file, line, f"record {n}")


# JSON Lines end at \n, \r\n or \r only: U+2028, U+0085 and friends are legal inside JSON
# strings (str.splitlines would cut records there).
_LINES = re.compile(r"\r\n|\r|\n")


@reads_text
def load_jsonl(file: str, text: str) -> Iterator[Result]:
    """Load JSON Lines: one record per line (blank lines skipped). Each unparseable line or
    non-object is one BadRecord with its 1-based line number; other lines still load."""
    for n, line in enumerate(_LINES.split(text), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            yield BadRecord(file, n, f"invalid JSON: {e.msg} (column {e.colno})")
            continue
        except (ValueError, RecursionError) as e:
            yield BadRecord(file, n, f"invalid JSON: {type(e).__name__}: {e}")
            continue
        yield record_to_article(rec, file, n)


def looks_like_jsonl(text: str) -> bool:
    """True when the first two non-blank lines are each one JSON object (a ``.json`` file
    that is really JSON Lines)."""
    lines = [ln for ln in _LINES.split(text.lstrip(), 3)[:3] if ln.strip()]
    if len(lines) < 2 or not lines[1].lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(lines[0]), dict)
    except json.JSONDecodeError:
        return False


@reads_text
def load_csv(file: str, text: str, delimiter: str | None = None) -> Iterator[Result]:
    """Load CSV (or TSV: ``.tsv`` or a tab-only header). The first row is the header and must
    name a body column (see :data:`ALIASES`). ``BadRecord.line`` is the physical line where
    the row starts; a CSV syntax error stops the file at that line."""
    if delimiter is None:
        first = text.split("\n", 1)[0]
        tsv = file.lower().endswith(".tsv") or ("\t" in first and "," not in first)
        delimiter = "\t" if tsv else ","
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    # An odd number of quotes means a quoted field is never closed: a lenient reader would
    # swallow every later row into it, so read strictly and report the row where it opens.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=text.count('"') % 2 == 1)
    prev = 0
    try:
        header = next(reader, None)
        prev = reader.line_num
        if not header or not any(field_key(h) in ALIASES["body"] for h in header):
            yield BadRecord(file, 1, "CSV header row has no body/text/content column")
            return
        for row in reader:
            start, prev = prev + 1, reader.line_num
            if not any(c.strip() for c in row):
                continue
            rec = {h: (row[i] if i < len(row) else None) for i, h in enumerate(header)}
            yield record_to_article(rec, file, start)
    except csv.Error as e:
        yield BadRecord(file, prev + 1, f"CSV error: {e}")
