"""Hostile inputs: the generated corpus of :mod:`evals.hostile` (binary, truncated, mis-encoded,
nested, 50 MB lines, ...) timed through the loaders and a real ingest. The tests check what
happens to each file; this measures how long it takes."""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from evals.bench.common import settings_for

HUGE_LINE_TARGET_S = 20  # a 50 MB line must be refused long before a user gives up on the run
LOAD_TARGET_S = 120  # loading 200+ hostile files: bounded work per file, so well under two minutes
INGEST_TARGET_S = 120  # the bag-of-words ingest adds little to loading: the same bound


def bench_hostile(out: Path, log) -> dict[str, Any]:
    """Write the hostile corpus under ``out/hostile``; time refusing each 50 MB line, loading
    every file, and ``rag ingest`` of the folder (bag-of-words embedder: the inputs, not the
    model, are measured). The corpus is removed afterwards (it holds 100 MB of long lines)."""
    from evals.hostile import make_hostile_corpus
    from rag.archive import Archive
    from rag.ingest.loaders import iter_articles, load_file
    from rag.types import BadRecord

    folder = out / "hostile"
    shutil.rmtree(folder, ignore_errors=True)
    root = folder / "corpus"
    cases = make_hostile_corpus(root)
    valid, errors = sum(c.valid for c in cases), sum(c.errors for c in cases)
    huge_s, refused = [], True
    for c in cases:
        if c.kind != "50 MB line":
            continue
        t = time.perf_counter()
        got = list(load_file(c.path))
        huge_s.append(time.perf_counter() - t)
        refused &= len(got) == 1 and isinstance(got[0], BadRecord) and "body too large" in got[0].reason
    t = time.perf_counter()
    loaded = list(iter_articles([root]))
    load_s = time.perf_counter() - t
    bad = sum(isinstance(x, BadRecord) for x in loaded)
    archive = Archive.create(settings=settings_for(folder / "index", "hash"))
    t = time.perf_counter()
    rep = archive.ingest([root])
    ingest_s = time.perf_counter() - t
    archive.store.release_vectors()
    archive.close()
    shutil.rmtree(folder, ignore_errors=True)
    res = {
        "files": len(cases), "valid": valid, "errors": errors,
        "huge_line_seconds": huge_s, "huge_line_max_s": max(huge_s), "huge_line_refused": refused,
        "load_s": load_s, "loaded_articles": len(loaded) - bad, "loaded_errors": bad,
        "ingest_s": ingest_s, "ingested_articles": rep.new, "ingest_skipped": rep.skipped,
        "targets_s": {"huge_line": HUGE_LINE_TARGET_S, "load": LOAD_TARGET_S, "ingest": INGEST_TARGET_S},
    }
    log(f"  {len(cases)} files: 50 MB line refused in {res['huge_line_max_s']:.1f}s; loaded in {load_s:.1f}s "
        f"({res['loaded_articles']}/{valid} articles, {bad}/{errors} errors); ingested in {ingest_s:.1f}s")
    return res
