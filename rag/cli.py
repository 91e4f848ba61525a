"""The ``rag`` command: ingest, search, ask, stats, index verify (and eval, ui where installed).

Every failure becomes one line on stderr naming what failed, which file and what to do, and a
non-zero exit code (:func:`rag.errors.describe`; ``--debug`` shows the traceback instead);
Ctrl-C during an ingest keeps what was committed and says how to finish.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap
from typing import Sequence

from rag.answer import ANSWERERS
from rag.errors import RagError, describe
from rag.settings import Settings


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", help="index folder (default: $RAG_INDEX or index/default)")
    p.add_argument("--config", help="settings TOML file (default: ./rag.toml if present)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the traceback of an unexpected failure instead of one line")


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="only articles published on/after this date (YYYY-MM-DD)")
    p.add_argument("--until", help="only articles published on/before this date (YYYY-MM-DD)")
    p.add_argument("--outlet", action="append", help="only this outlet (repeatable)")
    p.add_argument("-k", "--k", type=int, help="number of passages")
    p.add_argument("--as-of", dest="as_of", metavar="DATE",
                   help="use the article revisions current on this date (YYYY-MM-DD; default: the latest)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rag`` command."""
    parser = argparse.ArgumentParser(prog="rag", description="Question answering over a news archive, with verified citations.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected failure instead of one line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add articles (json, jsonl, csv, txt, html, rss/atom, folders) to an index")
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="parse, chunk and embed on a Ray cluster (default: start a local one); needs newsrag[ray]")
    _common(p)

    p = sub.add_parser("search", help="show the passages that best match a query")
    p.add_argument("query")
    p.add_argument("--json", action="store_true")
    _filters(p)
    _common(p)

    p = sub.add_parser("ask", help="answer a question with cited passages")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.add_argument("--answerer", choices=list(ANSWERERS), help="default: extractive (or $RAG_ANSWERER)")
    p.add_argument("--show-removed", action="store_true",
                   help="after the sources, list the sentences left out because no shown passage supports them")
    _filters(p)
    _common(p)

    p = sub.add_parser("timeline", help="a story's events in date order, each with every outlet that reported it")
    p.add_argument("query")
    p.add_argument("--json", action="store_true", help="print {query, events: [{date, date_source, text, sources}]}")
    p.add_argument("--since", help="only events on/after this date (YYYY-MM-DD)")
    p.add_argument("--until", help="only events on/before this date (YYYY-MM-DD)")
    p.add_argument("--outlet", action="append", help="only this outlet (repeatable)")
    p.add_argument("-k", "--k", type=int, help="passages searched (default 40)")
    _common(p)

    p = sub.add_parser("history", help="an article's revisions with dates and the sentences each added or removed")
    p.add_argument("article", metavar="URL_OR_ID")
    p.add_argument("--json", action="store_true",
                   help="print {article_id, url, revisions: [{revision, valid_from, valid_to, title, sentences_added, sentences_removed}]}")
    _common(p)

    p = sub.add_parser("compare", help="outlets side by side on a topic: their passages, differing figures, claims only one makes")
    p.add_argument("query")
    p.add_argument("--json", action="store_true", help="print {query, outlets: [{outlet, passages}], differences: [{kind, text, sources}]}")
    _filters(p)  # --outlet: the outlets compared (default: those the query names, else those covering it); -k per outlet
    _common(p)

    p = sub.add_parser("stats", help="articles, chunks, outlets and dates in an index")
    p.add_argument("--json", action="store_true")
    _common(p)

    p = sub.add_parser("index", help="maintain an index folder")
    isub = p.add_subparsers(dest="index_command", required=True)
    v = isub.add_parser("verify", help="check manifest, chroma, BM25, dense and records against each other")
    v.add_argument("--repair", action="store_true", help="fix what can be fixed safely (exit 0 when nothing is left)")
    v.add_argument("--json", action="store_true", help="print {ok, articles, chunks, problems, repaired, ...}")
    _common(v)
    for register in _plugins():
        register(sub, _common)
    return parser


def _plugins():
    """Subcommands contributed by other packages (``eval``, ``bench``, ``ui``) through the
    ``rag.commands`` entry point group, so that ``rag`` never imports them itself. Each entry
    point is ``register(subparsers, add_common_options)`` and sets ``func`` on its parser."""
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group="rag.commands"), key=lambda e: e.name):
        try:
            yield ep.load()
        except ImportError:  # an optional part that is not installed: its command is absent
            continue


def settings_from_args(args) -> Settings:
    """Settings for parsed arguments: defaults < rag.toml < RAG_* env < --config/--index."""
    return Settings.load(toml_path=getattr(args, "config", None), index=getattr(args, "index", None))


def _fmt_date(dt) -> str:
    return dt.date().isoformat() if dt else "undated"


def _also_ran_in(places: Sequence[str]) -> str:
    """``    also ran in: Outlet | YYYY-MM-DD | url; ...``: where else a story ran (the same
    story syndicated or re-run elsewhere, see :mod:`rag.retrieve.syndication`)."""
    return textwrap.fill("; ".join(places), 100, initial_indent="    also ran in: ", subsequent_indent="      ",
                         break_long_words=False, break_on_hyphens=False)


def cmd_ingest(args) -> int:
    from pathlib import Path

    from rag.archive import Archive
    from rag.errors import BadInput

    ray = getattr(args, "ray", None)
    if ray and ray not in ("local", "auto") and ":" not in ray and Path(ray).exists():
        args.paths, ray = [ray, *args.paths], "local"  # `--ray PATH ...`: the path was taken as the address
    for p in args.paths:  # before anything is created
        if not Path(p).exists():
            raise BadInput("no such file or directory", file=p)
    archive = Archive.create(settings=settings_from_args(args))
    try:
        if ray:
            from rag.ingest.ray_ingest import ingest_ray

            report = ingest_ray(archive, args.paths, address=ray, progress=not args.quiet)
        else:
            report = archive.ingest(args.paths, progress=not args.quiet)
    except KeyboardInterrupt:
        c = archive.store.records.counts()
        print(f"interrupted: the index holds {c['articles']} articles; run the same command again to finish", file=sys.stderr)
        return 130
    for err in report.errors:
        print(f"skipped {err}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
        print(f"index: {archive.path} ({archive.store.records.counts()['articles']} articles)")
    return 0


def cmd_search(args) -> int:
    from rag.archive import Archive

    archive = Archive.open(settings=settings_from_args(args))
    hits = archive.search(args.query, args.k, args.since, args.until, args.outlet, as_of=args.as_of)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print("no passage matches")
    for h in hits:
        c = h.chunk
        print(f"{h.rank:>2}. {c.title} — {c.outlet or 'unknown outlet'} — {_fmt_date(c.published_at)}  (score {h.score:.4f})")
        print(textwrap.indent(textwrap.shorten(c.text, 300), "    "))
        if h.also_ran_in:
            print(_also_ran_in(h.also_ran_in))
    return 0


def _split_direct(ans) -> tuple[str | None, str]:
    """(first line, the rest) of an answer's text: the direct answer with its ``[n]`` markers on
    a line of its own when the answer has one, then the evidence sentences."""
    direct = getattr(ans, "direct", None)
    text = ans.text.strip()
    if ans.abstained or direct is None or not str(direct.text or "").strip():
        return None, text
    d = direct.text.strip()
    if text.startswith(d):
        m = re.match(r"(?:\s*\[\d+\])*", text[len(d):])
        return d + m.group(0).replace(" ", ""), text[len(d) + m.end():].strip()
    marks = "" if re.search(r"\[\d+\]", d) else "".join(f"[{n}]" for n in direct.citations)
    return d + marks, text


def format_answer(ans, show_removed: bool = False) -> str:
    """The human output of ``rag ask``: the direct answer first (its own line), the evidence
    sentences, the sources with their quotes, then either the removed sentences
    (``show_removed``) or how many there are."""
    lines: list[str] = []
    first, rest = _split_direct(ans)
    if first:
        lines.append(first)
    if rest:
        lines.append(textwrap.fill(rest, 100))
    if ans.sources:
        lines.append("\nSources:")
    for s in ans.sources:
        lines.append(f"[{s.n}] {s.title} — {s.outlet or 'unknown outlet'} — {_fmt_date(s.published_at)}" + (f"\n    {s.url}" if s.url else ""))
        lines.append(textwrap.indent(textwrap.fill(f"“{s.quote}”", 96), "    "))
        if s.also_ran_in:
            lines.append(_also_ran_in(s.also_ran_in))
    unsupported = [x for x in ans.sentences if not x.supported]
    if unsupported:
        lines.append(f"\n{len(unsupported)} sentence(s) not supported by any shown passage.")
    removed = [r for r in (getattr(ans, "removed_sentences", ()) or ()) if str(r).strip()]
    if show_removed:
        if removed:
            lines.append(f"\nRemoved ({len(removed)} sentence(s) no shown passage supports; left out of the answer):")
            lines += [textwrap.fill(r, 100, initial_indent="  - ", subsequent_indent="    ") for r in removed]
        else:
            lines.append("\nRemoved: none (every sentence the answerer wrote is supported by a shown passage).")
    elif removed:
        lines.append(f"\n{len(removed)} sentence(s) removed: no shown passage supports them (--show-removed lists them).")
    return "\n".join(lines)


def cmd_ask(args) -> int:
    from rag.archive import Archive

    archive = Archive.open(settings=settings_from_args(args))
    ans = archive.ask(args.question, args.k, args.since, args.until, args.outlet, answerer=args.answerer, as_of=args.as_of)
    if args.json:
        print(json.dumps(ans.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(format_answer(ans, show_removed=getattr(args, "show_removed", False)))
    return 0


def format_timeline(tl) -> str:
    """The human output of ``rag timeline``: one block per event (date, where the date came
    from, the sentence), then its sources, the first to report marked."""
    if not tl.events:
        return "no dated event found for this query"
    lines: list[str] = []
    for e in tl.events:
        how = "stated" if e.date_source == "stated" else "published"
        lines.append(f"{e.date.isoformat()} ({how})  " + textwrap.fill(e.text, 100, subsequent_indent="    ").lstrip())
        for s in e.sources:
            first = "  (first)" if s.first else ""
            lines.append(f"    [{s.n}] {s.outlet or 'unknown outlet'} — {s.title} — {_fmt_date(s.published_at)}{first}")
    return "\n".join(lines)


def cmd_timeline(args) -> int:
    from rag.archive import Archive

    tl = Archive.open(settings=settings_from_args(args)).timeline(args.query, args.k, args.since, args.until, args.outlet)
    print(json.dumps(tl.to_dict(), indent=2, ensure_ascii=False) if args.json else format_timeline(tl))
    return 0


def cmd_history(args) -> int:
    """``rag history URL_OR_ID``: one block per revision, oldest first."""
    from rag.archive import Archive

    h = Archive.open(settings=settings_from_args(args)).history(args.article)
    if args.json:
        print(json.dumps(h.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(f"{h.article_id}  {h.url or ''}".rstrip())
    for r in h.revisions:
        until = _fmt_date(r.valid_to) if r.valid_to else "now"
        print(f"revision {r.revision}: {_fmt_date(r.valid_from)} .. {until} — {r.title}")
        for sign, sents in (("+", r.sentences_added), ("-", r.sentences_removed)):
            for sent in sents:
                print(textwrap.fill(sent, 100, initial_indent=f"    {sign} ", subsequent_indent="      "))
    return 0


def cmd_stats(args) -> int:
    from rag.archive import Archive

    st = Archive.open(settings=settings_from_args(args)).stats()
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    print(f"index {st['index']}: {st['articles']} articles, {st['chunks']} chunks, {len(st['outlets'])} outlets")
    print(f"dates: {st['first_date'] or '-'} .. {st['last_date'] or '-'}; embedder {st['embedder']}")
    for o, n in list(st["outlets"].items())[:15]:
        print(f"  {n:>5}  {o}")
    return 0


def cmd_index(args) -> int:
    """``rag index verify``: exit 0 when the index is consistent, 1 when problems remain."""
    from rag.index.integrity import verify_path

    settings = settings_from_args(args)
    log = None if args.json else (lambda msg: print(f"repaired: {msg}", file=sys.stderr))
    report = verify_path(settings.index, repair=args.repair, settings=settings, log=log)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        state = "ok" if report.ok else f"{len(report.problems)} problem(s)"
        print(f"index {report.index}: {state}; {report.articles} articles, {report.chunks} chunks (generation {report.generation})")
        for p in report.problems:
            print(f"  problem: {p}")
        if report.problems and not args.repair:
            print("run `rag index verify --repair` to fix what can be fixed; re-run the ingest to finish an interrupted one")
    return 0 if report.ok else 1


def format_comparison(comp) -> str:
    """The human output of ``rag compare``: each outlet's quotes with dates, then what differs."""
    lines: list[str] = []
    for v in comp.outlets:
        lines.append(f"== {v.outlet} ==" + ("" if v.passages else "\n  (no passage on this topic)"))
        for s in v.passages:
            lines.append(f"[{s.n}] {s.title} — {_fmt_date(s.published_at)}" + (f"\n    {s.url}" if s.url else ""))
            lines.append(textwrap.indent(textwrap.fill(f"“{s.quote}”", 96), "    "))
    if comp.differences:
        lines.append("\nWhat differs:")
    for d in comp.differences:
        cites = "".join(f"[{s.n}]" for s in d.sources)
        lines.append(textwrap.fill(f"{d.kind}: {d.text} {cites}", 100, initial_indent="  - ", subsequent_indent="    "))
    return "\n".join(lines)


def cmd_compare(args) -> int:
    from rag.archive import Archive

    archive = Archive.open(settings=settings_from_args(args))
    comp = archive.compare(args.query, args.outlet, args.since, args.until, args.k)
    print(json.dumps(comp.to_dict(), indent=2, ensure_ascii=False) if args.json else format_comparison(comp))
    return 0


COMMANDS = {"ingest": cmd_ingest, "search": cmd_search, "ask": cmd_ask, "stats": cmd_stats, "index": cmd_index, "timeline": cmd_timeline,
            "history": cmd_history, "compare": cmd_compare}


# Exit code when the reader of stdout goes away (``rag search --json | head -1``): 128 + SIGPIPE,
# what a shell reports for ``cat``/``seq``/``grep`` stopped the same way, so that ``set -o
# pipefail`` scripts see the usual code and an early close is not mistaken for a complete write
# (0) or for one of rag's own errors (1-3).
EXIT_BROKEN_PIPE = 141
# Exit code of a failure that is not one of rag's own errors (the disk, SQLite, chroma, a bug).
EXIT_FAILURE = 1


def _stdout_to_devnull() -> None:
    """Point stdout's file descriptor at /dev/null so that the interpreter's final flush of
    what is still buffered cannot raise BrokenPipeError a second time (on shutdown)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout already closed or not a real file
        pass


def run_command(prog: str, func, args) -> int:
    """Run ``func(args)`` under the error policy at the edge, for ``rag`` and for the
    stand-alone entry points (``python -m evals``, ``python -m evals.bench``, ``python ui.py``):
    any failure is one line ``<prog>: error: ...`` (:func:`rag.errors.describe`) and an exit
    code, a traceback only with ``--debug``; Ctrl-C exits 130."""
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
    except Exception as exc:
        if getattr(args, "debug", False) and not isinstance(exc, RagError):
            raise
        print(f"{prog}: error: {describe(exc)}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_FAILURE)


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(f"rag {args.command}", getattr(args, "func", None) or COMMANDS[args.command], args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rag`` console script.

    A closed stdout (the reader, e.g. ``head -1``, stopped reading) ends any command quietly
    with :data:`EXIT_BROKEN_PIPE`, with no traceback."""
    try:
        code = _run(argv)
        sys.stdout.flush()  # a small output is still buffered: a closed pipe shows up here
        return code
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    except SystemExit:  # `rag --help`, a usage error, or a plugin command's sys.exit()
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _stdout_to_devnull()
            return EXIT_BROKEN_PIPE
        raise


if __name__ == "__main__":
    sys.exit(main())
