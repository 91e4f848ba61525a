"""A generated corpus of hostile input files, each with the number of valid articles it holds
and the number of errors (BadRecords) loading it must report. Used by the tests
(``tests/test_hostile_inputs.py``: behaviour) and by ``rag bench`` (the time it takes).

``make_hostile_corpus(folder)`` writes 200+ files: binary data (random, and PDF/PNG/ZIP/...
magic), zero-byte and blank files, JSON arrays truncated at many offsets, JSONL truncated at
many offsets, invalid UTF-8 (stray, overlong, truncated and surrogate byte sequences; JSON
``\\ud800`` escapes), other encodings (UTF-16 with and without BOM, UTF-32 and UTF-8 with BOM, latin-1,
cp1252; UTF-32 without BOM is refused as binary), two 50 MB single lines, deeply nested JSON, CSV with
missing columns and an unclosed quote, HTML with scripts, event handlers, entities and 20,000
nested divs, RSS/Atom with broken dates, missing bodies, a truncated feed, an entity bomb and an
external entity, and odd JSON types and names. Every valid record has its own body, so the
expected number of ingested articles is the sum of ``valid``.

Decided behaviours (documented in README): a JSON document that does not parse is one bad file
(nothing is salvaged from a truncated array; JSONL loses only the broken line); a record whose
body is over ``rag.ingest.loaders.MAX_BODY_CHARS`` (1,000,000 characters) is one "body too large"
error; invalid UTF-8 bytes in an otherwise UTF-8 file become U+FFFD (the record is kept).
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

BIG = 50 * 1024 * 1024


@dataclass
class Case:
    """One hostile file: ``valid`` articles it holds, ``errors`` BadRecords it must give, and
    optionally the error lines and a substring every error reason contains."""

    path: Path
    kind: str
    valid: int
    errors: int
    lines: list[int | None] | None = None
    reason: str | None = None
    must_have: list[str] = field(default_factory=list)  # texts some article of it must contain
    must_not: list[str] = field(default_factory=list)  # texts no article of it may contain


class _Bodies:
    """Distinct, realistic article bodies."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, extra: str = "") -> str:
        self.n += 1
        i = self.n
        return (
            f"The council of district {i} approved a budget of {i * 7 + 3} million dollars on Tuesday, "
            f"officials said. The plan funds {i % 17 + 2} schools and {i % 11 + 1} clinics over {i % 5 + 2} years. "
            f"Residents of ward {i * 13 % 97} raised questions about the cost.{extra}"
        )

    def record(self, tag: str, **extra) -> dict:
        b = self(extra.pop("body_extra", ""))
        return {"title": f"{tag} story {self.n}", "body": b, "url": f"https://hostile.example/{tag}/{self.n}",
                "source": "Hostile Times", "published_at": "2024-03-01T10:00:00Z", **extra}


def _w(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def make_hostile_corpus(root: Path, seed: int = 7) -> list[Case]:
    """Write the corpus under ``root``; return one :class:`Case` per file."""
    rnd = random.Random(seed)
    body = _Bodies()
    cases: list[Case] = []

    def add(rel: str, data: bytes | str, kind: str, valid: int, errors: int, **kw) -> None:
        cases.append(Case(_w(root / rel, data), kind, valid, errors, **kw))

    # ---- binary --------------------------------------------------------------------------
    exts = [".json", ".jsonl", ".csv", ".txt", ".html", ".xml", ".rss", ".bin", "", ".md"]
    for k in range(20):
        data = b"\x00\x01" + bytes(rnd.randrange(256) for _ in range(rnd.randrange(64, 4096)))
        add(f"binary/random-{k}{exts[k % len(exts)]}", data, "binary", 0, 1, reason="binary file")
    magic = {"pdf": b"%PDF-1.7\n", "png": b"\x89PNG\r\n\x1a\n", "zip": b"PK\x03\x04", "gzip": b"\x1f\x8b\x08",
             "jpeg": b"\xff\xd8\xff\xe0", "sqlite": b"SQLite format 3\x00"}
    for k, (name, head) in enumerate(magic.items()):
        add(f"binary/magic-{name}{exts[k]}", head + b"looks like text after the magic bytes" * 20, "binary", 0, 1,
            reason="binary file")
    u32 = json.dumps([body.record("utf32")]).encode("utf-32-le")  # no BOM: not supported
    body.n -= 1  # that record is never loaded: reuse its number
    add("binary/utf32-no-bom.json", u32, "binary", 0, 1, reason="binary file")

    # ---- zero bytes and blank files ---------------------------------------------------------
    for ext in (".json", ".jsonl", ".csv", ".txt", ".html", ".rss"):
        add(f"empty/zero{ext}", b"", "empty", 0, 1, reason="empty file")
    for k, (ext, data) in enumerate([(".json", " \n\t\n"), (".jsonl", "\n\n\n"), (".csv", "   "), (".txt", "\ufeff  \n"),
                                     (".html", "\r\n\r\n"), (".xml", " ")]):
        add(f"empty/blank-{k}{ext}", data, "empty", 0, 1, reason="empty file")

    # ---- truncated JSON documents (one bad file each: nothing salvaged) -----------------------
    doc = json.dumps([body.record("trunc") for _ in range(3)], indent=1, ensure_ascii=False)
    body.n -= 3
    offsets = sorted(rnd.sample(range(1, len(doc) - 1), 30))
    for k, off in enumerate(offsets):
        add(f"truncated-json/cut-{k:02d}-at-{off}.json", doc[:off], "truncated JSON", 0, 1, reason="invalid JSON")

    # ---- truncated JSONL (the broken last line is one error; complete lines load) -------------
    for k in range(30):
        recs = [body.record("jsonl", body_extra=" Zürich café naïve — “quoted”.") for _ in range(4)]
        lines = [json.dumps(r, ensure_ascii=False) for r in recs]
        text = "\n".join(lines) + "\n"
        raw = text.encode("utf-8")
        off = rnd.randrange(1, len(raw) - 1)
        cut = raw[:off]
        # lines complete in the cut (a line cut right before its newline is complete too)
        complete = sum(1 for i, ln in enumerate(lines) if len("\n".join(lines[: i + 1]).encode()) <= off)
        partial = 1 if complete < 4 and off > len(("\n".join(lines[:complete]) + ("\n" if complete else "")).encode()) else 0
        body.n -= 4 - complete  # records cut off (or broken) are never loaded
        add(f"truncated-jsonl/cut-{k:02d}.jsonl", cut, "truncated JSONL", complete, partial,
            lines=[complete + 1] if partial else None, reason="invalid JSON" if partial else None)

    # ---- invalid UTF-8 (bad bytes become U+FFFD; the rest of the file keeps its UTF-8) --------
    bad_seqs = [b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                b"\x80", b"\xfe", b"\xa0\xa1", b"\xf0\x28\x8c\x28"]
    for k, seq in enumerate(bad_seqs):
        recs = [body.record("utf8", body_extra=" Zürich café naïve — “quoted”.") for _ in range(3)]
        lines = [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in recs]
        lines[1] = lines[1].replace(b"Residents", b"Resid" + seq + b"ents", 1)
        add(f"bad-utf8/stray-{k}.jsonl", b"\n".join(lines) + b"\n", "invalid UTF-8", 3, 0, must_have=["Zürich café"])
    for k in range(3):
        r = body.record("surrogate")
        line = json.dumps(r).replace("Residents", "Resid\\ud800ents" if k != 1 else "Resid\\udfffents")
        good = json.dumps(body.record("surrogate"))
        add(f"bad-utf8/json-surrogate-{k}.jsonl", line + "\n" + good + "\n", "invalid UTF-8", 2, 0)
    for k in range(2):
        txt = f"Stray byte headline {k}\n\n".encode() + body(" Zürich café naïve — “quoted”.").encode("utf-8").replace(b"budget", b"bud\xffget")
        add(f"bad-utf8/stray-{k}.txt", txt, "invalid UTF-8", 1, 0, must_have=["Zürich"])

    # ---- other encodings ---------------------------------------------------------------------
    def jsonl(recs) -> str:
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n"

    def csv_text(recs) -> str:
        rows = ["title,body,url"] + [f'"{r["title"]}","{r["body"]}",{r["url"]}' for r in recs]
        return "\r\n".join(rows) + "\r\n"

    enc_cases = [
        ("utf-16", ".jsonl"), ("utf-16", ".json"), ("utf-16", ".csv"), ("utf-16", ".txt"),
        ("utf-16-le", ".jsonl"), ("utf-16-be", ".jsonl"), ("utf-16-le", ".txt"), ("utf-16-be", ".csv"),
        ("utf-8-sig", ".jsonl"), ("utf-8-sig", ".csv"), ("utf-8-sig", ".json"),
        ("latin-1", ".txt"), ("latin-1", ".csv"), ("cp1252", ".jsonl"), ("cp1252", ".txt"), ("cp1252", ".csv"),
        ("utf-32", ".jsonl"),
    ]
    for k, (enc, ext) in enumerate(enc_cases):
        extra = " Café naïve façade." if enc == "latin-1" else " Café — “€5” naïve."
        if ext == ".txt":
            text, n, want = f"Encoded headline {k}\n\n" + body(extra), 1, extra.strip()
        else:
            recs = [body.record(f"enc{k}", body_extra=extra) for _ in range(2)]
            text = {".jsonl": jsonl(recs), ".json": json.dumps(recs, ensure_ascii=False), ".csv": csv_text(recs)}[ext]
            n, want = 2, extra.strip()
        add(f"encodings/{enc}-{k}{ext}", text.encode(enc), f"encoding {enc}", n, 0, must_have=[want])

    # ---- 50 MB single lines --------------------------------------------------------------------
    words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " * 1024).encode()
    with open(_w(root / "huge/huge-line.jsonl", b""), "wb") as f:  # one valid JSON object, 50 MB body
        f.write(b'{"title": "One enormous line", "body": "')
        for _ in range(-(-BIG // len(words))):
            f.write(words)
        f.write(b'"}\n')
    cases.append(Case(root / "huge/huge-line.jsonl", "50 MB line", 0, 1, lines=[1], reason="body too large"))
    with open(_w(root / "huge/huge-line.txt", b""), "wb") as f:  # a title, then a 50 MB paragraph
        f.write(b"Title: A 50 MB paragraph\n\n")
        for _ in range(-(-BIG // len(words))):
            f.write(words)
    cases.append(Case(root / "huge/huge-line.txt", "50 MB line", 0, 1, reason="body too large"))

    # ---- deeply nested JSON ------------------------------------------------------------------
    add("nested/deep-array.json", "[" * 100_000, "nested JSON", 0, 1, reason="invalid JSON")
    add("nested/deep-object.json", '{"a":' * 50_000 + "1" + "}" * 50_000, "nested JSON", 0, 1, reason="invalid JSON")
    ok1, ok2 = json.dumps(body.record("nested")), json.dumps(body.record("nested"))
    add("nested/deep-line.jsonl", ok1 + "\n" + '{"body": ' + "[" * 60_000 + "]" * 60_000 + "}\n" + ok2 + "\n",
        "nested JSON", 2, 1, lines=[2], reason="invalid JSON")
    r = body.record("nested")
    r["extra"] = json.loads('{"x":' * 400 + "1" + "}" * 400)  # deep but parseable: a valid record
    add("nested/deep-extra-field.json", json.dumps([r]), "nested JSON", 1, 0)
    add("nested/body-is-nested-list.json", json.dumps([{"title": "Nested body", "body": [["a", ["b"]]]}]),
        "nested JSON", 0, 1, reason="body is not text")
    add("nested/body-is-object.jsonl", json.dumps({"title": "Object body", "body": {"text": {"deeper": "x"}}}) + "\n",
        "nested JSON", 0, 1, lines=[1], reason="body is not text")
    add("nested/deep-wrapped.json", json.dumps({"articles": [body.record("wrapped"), {"title": "no body here"}]}),
        "nested JSON", 1, 1, reason="no body field")
    add("nested/deep-jsonl-object.jsonl", '{"title": "deep", "body": "x", "k": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}\n",
        "nested JSON", 0, 1, lines=[1], reason="invalid JSON")
    add("nested/deep-in-array-element.json", "[" + json.dumps(body.record("lost")) + ", " + "[" * 50_000 + "]" * 50_000 + "]",
        "nested JSON", 0, 1, reason="invalid JSON")
    body.n -= 1  # the record above is in a file that does not parse
    add("nested/array-of-strings.json", json.dumps(["just", "strings"]), "nested JSON", 0, 2, reason="not an object")

    # ---- CSV: missing columns, short rows, unclosed quote ------------------------------------
    for k in range(5):  # no body column at all
        add(f"csv/no-body-column-{k}.csv", "title,url,date\n" + "".join(f"T{i},https://x.example/{k}/{i},2024-01-0{i + 1}\n" for i in range(3)),
            "CSV missing columns", 0, 1, lines=[1], reason="no body/text/content column")
    for k in range(6):  # some rows lack their body cell
        recs = [body.record(f"csv{k}") for _ in range(3)]
        rows = ["title,url,body"] + [f'"{r["title"]}",{r["url"]},"{r["body"]}"' for r in recs]
        rows.insert(2, f"Short row {k},https://x.example/short/{k}")  # line 3: no body cell
        rows.insert(4, f"Shorter row {k}")  # line 5
        add(f"csv/short-rows-{k}.csv", "\n".join(rows) + "\n", "CSV missing columns", 3, 2, lines=[3, 5], reason="empty body")
    for k in range(4):  # extra cells and a multi-line quoted body: fine
        recs = [body.record(f"csvx{k}") for _ in range(2)]
        multi = [r["body"].replace(". ", ".\n", 1) for r in recs]  # a quoted body over two lines
        rows = ["title,body"] + [f'"{r["title"]}","{m}",extra,cells' for r, m in zip(recs, multi)]
        add(f"csv/extra-cells-{k}.csv", "\n".join(rows) + "\n", "CSV extra cells", 2, 0)
    for k in range(3):  # TSV with a missing body cell
        recs = [body.record(f"tsv{k}") for _ in range(2)]
        rows = ["title\tbody"] + [f'{r["title"]}\t{r["body"]}' for r in recs] + [f"Lonely title {k}"]
        add(f"csv/missing-cell-{k}.tsv", "\n".join(rows) + "\n", "CSV missing columns", 2, 1, lines=[4], reason="empty body")
    for k in range(2):  # a quote opened and never closed: rows before load, the error names its line
        recs = [body.record(f"quote{k}") for _ in range(2)]
        rows = ["title,body", f'"{recs[0]["title"]}","{recs[0]["body"]}"', f'Open quote {k},"this never closes', "Later,row"]
        body.n -= 1
        add(f"csv/unclosed-quote-{k}.csv", "\n".join(rows) + "\n", "CSV unclosed quote", 1, 1, lines=[3], reason="CSV error")

    # ---- HTML: scripts, handlers, entities, nesting ---------------------------------------------
    for k in range(14):
        text = body(" AT&T and Johnson & Johnson said <b>so</b>.")
        paras = "".join(f"<p>{s.strip()}.</p>" for s in text.replace("&", "&amp;").split(". ") if s)
        page = f"""<!doctype html><html><head><title>Scripted page {k} &amp; friends</title>
<script>window.__pwned = 1; document.write("INJECTED-{k}")</script><style>p {{ color: red }}</style></head>
<body onload="alert('onload-{k}')"><nav>Home | About</nav><article><h1>Scripted page {k} &amp; friends</h1>
<img src="x" onerror="alert('img-{k}')">{paras}<!-- a comment that is not text -->
<p>Entities: &lt;script&gt;alert(&#39;entity-{k}&#39;)&lt;/script&gt; &copy; &#x2014; caf&eacute;</p>
<iframe src="javascript:alert('frame-{k}')"></iframe><script type="text/javascript">alert("body-script-{k}")</script>
</article></body></html>"""
        add(f"html/scripted-{k}.html", page, "HTML scripts/entities", 1, 0, must_have=["AT&T", "café"],
            must_not=[f"INJECTED-{k}", f"body-script-{k}", "window.__pwned", f"onload-{k}", f"img-{k}"])
    for k in range(3):
        add(f"html/only-script-{k}.html", f"<html><head><script>var x = {k};</script></head><body><script>alert({k})</script></body></html>",
            "HTML without text", 0, 1, reason="empty body")
    nested = "<html><body>" + "<div>" * 20_000 + body(" Deep.") + "</div>" * 20_000 + "</body></html>"
    add("html/nested-20000-divs.html", nested, "HTML nesting", 1, 0)
    unclosed = "<html><body><article><p>" + body(" Unclosed.") + "<p><b><i>never closed"
    add("html/unclosed-tags.html", unclosed, "HTML broken", 1, 0)
    add("html/entities-title.htm", f"<html><head><title>&lt;img src=x onerror=alert(1)&gt; headline</title></head><body><p>{body()}</p></body></html>",
        "HTML entities", 1, 0)

    # ---- RSS / Atom: broken dates, missing bodies, truncation, entity tricks ---------------------
    bad_dates = ["Mon, 99 Foo 2023 25:61:00 +0000", "yesterday", "2023-13-45", "32/13/2023", "", "0000-00-00T00:00:00Z",
                 "Tue, 31 Feb 2023 10:00:00 GMT", "99999999999999999999", "2023-11-27T08:45:59+99:00", "NaN"]
    for k in range(10):
        items = "".join(
            f"<item><title>Feed {k} entry {j}</title><link>https://feed.example/{k}/{j}</link>"
            f"<pubDate>{bad_dates[(k + j) % len(bad_dates)]}</pubDate><description>{body()}</description></item>"
            for j in range(2)
        )
        rss = f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Broken Dates {k}</title>{items}</channel></rss>'
        add(f"feeds/bad-dates-{k}.rss", rss, "RSS broken dates", 2, 0)
    for k in range(4):
        atom = (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom {k}</title>'
                f'<entry><title>Atom entry {k}</title><link href="https://atom.example/{k}"/><updated>{bad_dates[k]}</updated>'
                f'<published>not a date {k}</published><content type="html">&lt;p&gt;{body()}&lt;/p&gt;&lt;script&gt;alert("atom-{k}")&lt;/script&gt;</content></entry>'
                f'<entry><title>Empty atom entry {k}</title><link href="https://atom.example/e{k}"/></entry></feed>')
        add(f"feeds/atom-{k}.atom", atom, "Atom broken dates", 1, 1, reason="empty body", must_not=[f"atom-{k}"])
    for k in range(4):  # truncated: entries before the cut load, the cut entry has no text
        items = "".join(f"<item><title>Cut {k} {j}</title><link>https://cut.example/{k}/{j}</link><description>{body()}</description></item>" for j in range(2))
        rss = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Cut {k}</title>{items}<item><title>half an entr"
        add(f"feeds/truncated-{k}.xml", rss, "RSS truncated", 2, 1, reason="empty body")
    lol = '<!ENTITY lol "lol">' + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    add("feeds/entity-bomb.rss", f'<?xml version="1.0"?><!DOCTYPE lolz [{lol}]><rss version="2.0"><channel><title>Bomb</title>'
        f"<item><title>Boom</title><link>https://bomb.example/1</link><description>{body()} &lol9;</description></item></channel></rss>",
        "XML entity bomb", 1, 0, must_not=["lollollol"])
    add("feeds/external-entity.rss", '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f'<rss version="2.0"><channel><title>XXE</title><item><title>Leak</title><link>https://xxe.example/1</link>'
        f"<description>{body()} &xxe;</description></item></channel></rss>", "XML external entity", 1, 0, must_not=["root:"])
    add("feeds/not-a-feed.xml", "<?xml version='1.0'?><config><a>1</a></config>", "XML not a feed", 0, 1, reason="not an RSS/Atom feed")
    add("feeds/garbage.rss", "this is not xml at all < > & ;", "RSS garbage", 0, 1, reason="feed")

    # ---- odd JSON types, names and paths -----------------------------------------------------
    add("odd/body-number.json", json.dumps([{"title": "Number body", "body": 12345}]), "JSON types", 0, 1, reason="body is not text")
    add("odd/null.json", "null", "JSON types", 0, 1, reason="not an object")
    add("odd/body-null-string.jsonl", json.dumps({"title": "t", "body": "null"}) + "\n" + json.dumps({"title": "t2", "body": "   "}) + "\n",
        "JSON types", 0, 2, lines=[1, 2], reason="empty body")
    add("odd/huge-int.jsonl", '{"title": "t", "body": "b", "n": ' + "9" * 5000 + "}\n" + json.dumps(body.record("int")) + "\n",
        "JSON types", 1, 1, lines=[1], reason="invalid JSON")
    r = body.record("nan")
    add("odd/nan-and-dup-keys.json", json.dumps([r]).replace('"source"', '"score": NaN, "source"').replace('"title"', '"title": "dup", "title"', 1),
        "JSON types", 1, 0)
    add("odd/crlf-and-bom.jsonl", "\ufeff" + "\r\n".join(json.dumps(body.record("crlf")) for _ in range(2)) + "\r\n", "JSON line endings", 2, 0)
    add("odd/no-extension", json.dumps([body.record("noext")]), "sniffed", 1, 0)
    add("odd/weird name ü (1) ;$`.jsonl", json.dumps(body.record("weird")) + "\n", "odd name", 1, 0)
    add("odd/control-chars.jsonl", json.dumps(body.record("ctrl", body_extra=" \x00\x07\x1b[31m red \x7f")) + "\n", "control characters", 1, 0,
        must_not=["\x1b", "\x00"])
    add("odd/folder.json/inner.jsonl", json.dumps(body.record("folder")) + "\n", "folder named .json", 1, 0)
    add("odd/bad-dates.jsonl", "\n".join(json.dumps(body.record("date", published_at=d)) for d in ("31/02/2023", "tomorrow", 1e30, -5, [], {})) + "\n",
        "JSON bad dates", 6, 0)
    outside = root.parent / (root.name + "-outside")
    _w(outside / "secret.txt", "Secret headline\n\nThis file is outside the corpus and must never be read.")
    link = root / "odd" / "link-outside.txt"
    if not link.is_symlink():
        os.symlink(outside / "secret.txt", link)
    cases.append(Case(link, "symlink outside", 0, 1, reason="symlink points outside"))
    return cases
