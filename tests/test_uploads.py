"""Upload handling: names, types, sizes, symlinks, and nothing written outside <index>/uploads."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rag.ingest import loaders
from rag.errors import BadInput
from rag.settings import Settings
from rag.ingest.uploads import safe_filename, save_uploads

DATA = Path(__file__).parent / "data"


@pytest.fixture
def settings() -> Settings:
    return Settings.load(env={}, index="unused", max_upload_mb=1)


def _file(dir: Path, name: str, data: bytes | str = b"{}") -> Path:
    p = dir / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


@pytest.mark.parametrize(
    "name, safe",
    [
        ("news.jsonl", "news.jsonl"),
        ("My Feed (1).RSS", "My_Feed_1.rss"),
        ("dir/sub/report.csv", "report.csv"),
        ("dir\\sub\\page.HTM", "page.htm"),
        (".hidden.json", "hidden.json"),
        ("ünïcödé ñame.txt", "n_c_d_ame.txt"),
        ("a" * 300 + ".xml", "a" * 116 + ".xml"),
    ],
)
def test_safe_filename(name, safe):
    assert safe_filename(name) == safe


@pytest.mark.parametrize(
    "name",
    ["../x.json", "a/../../x.json", "..\\..\\x.json", "/etc/passwd.txt", "C:\\x\\y.json", "\\\\server\\share\\a.json",
     "evil.exe", "archive.tar.gz", "noext", ".json", "", "   ", "a\x00.json", "script.json.sh"],
)
def test_safe_filename_rejects(name):
    with pytest.raises(BadInput):
        safe_filename(name)


BODY = "The council approved the new tram line on Tuesday after a long debate."


def _tiny(ext: str, title: str) -> str:
    """A small valid file of the format the loaders use for ``ext`` (by their own extension groups)."""
    rec = {"title": title, "body": BODY, "outlet": "Tiny Times"}
    if ext in loaders.JSON_EXT:
        return json.dumps([rec])
    if ext in loaders.JSONL_EXT:
        return json.dumps(rec) + "\n"
    if ext in loaders.CSV_EXT:
        sep = "\t" if ext == ".tsv" else ","
        return f"title{sep}body{sep}outlet\n{title}{sep}{BODY}{sep}Tiny Times\n"
    if ext in loaders.TXT_EXT:
        return f"Title: {title}\nOutlet: Tiny Times\n\n{BODY}\n"
    if ext in loaders.HTML_EXT:
        return (f"<html><head><title>{title}</title>"
                '<meta property="og:site_name" content="Tiny Times"></head>'
                f"<body><article><h1>{title}</h1>"
                f"<p>{BODY}</p><p>{BODY}</p></article></body></html>")
    if ext == ".atom":
        return ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Tiny Times</title>'
                f"<entry><title>{title}</title><summary>{BODY}</summary></entry></feed>")
    assert ext in loaders.FEED_EXT, f"no loader group for {ext}"
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Tiny Times</title>'
            f"<item><title>{title}</title><description>{BODY}</description></item></channel></rss>")


@pytest.mark.parametrize("name", ["tool.exe", "data.dat", "page.php", "notes.docx", "scan.pdf"])
def test_an_unlisted_type_is_refused_with_a_clear_error(tmp_path, settings, name):
    # .dat would even be sniffed and loaded by ingest: uploads take only the listed types
    result = save_uploads(tmp_path / "idx", [_file(tmp_path, name, json.dumps([{"body": BODY}]))], settings)
    assert result.saved == () and [e.file for e in result.errors] == [name]
    reason = result.errors[0].reason
    ext = name[name.rindex("."):]
    assert reason.startswith(f"file type {ext} is not accepted (allowed: ")
    assert all(allowed in reason for allowed in loaders.LOADABLE_EXTENSIONS), "the error lists what is accepted"
    assert list((tmp_path / "idx" / "uploads").iterdir()) == []


@pytest.mark.parametrize("ext", sorted(loaders.LOADABLE_EXTENSIONS))
def test_each_loadable_type_is_accepted_as_an_upload_and_loads(tmp_path, settings, ext):
    title = f"Tiny article {ext[1:]}"
    src = _file(tmp_path, f"tiny{ext}", _tiny(ext, title))
    result = save_uploads(tmp_path / "idx", [(f"Tiny{ext.upper()}", src)], settings)
    assert result.errors == () and [p.name for p in result.saved] == [f"Tiny{ext}"]
    got = list(loaders.load_file(result.saved[0]))
    assert [type(x).__name__ for x in got] == ["Article"], got
    art = got[0]
    assert art.title == title and "tram line" in art.body and art.outlet == "Tiny Times"


def test_saves_good_files_and_reports_bad_ones(tmp_path, settings):
    src = tmp_path / "src"
    src.mkdir()
    idx = tmp_path / "idx"
    good = shutil.copy(DATA / "mini.jsonl", src / "mini.jsonl")
    big = _file(src, "big.json", b"x" * (2**20 + 1))
    exe = _file(src, "tool.exe", b"MZ")
    result = save_uploads(idx, [good, big, exe, ("../../escape.json", _file(src, "e.json"))], settings)
    assert [p.name for p in result.saved] == ["mini.jsonl"]
    assert result.saved[0].parent == idx / "uploads"
    assert result.saved[0].read_bytes() == (DATA / "mini.jsonl").read_bytes()
    reasons = {Path(e.file).name: e.reason for e in result.errors}
    assert "limit is 1 MiB" in reasons["big.json"]
    assert "not accepted" in reasons["tool.exe"]
    assert "'..'" in reasons["escape.json"]
    assert sorted(p.name for p in (idx / "uploads").iterdir()) == ["mini.jsonl"]
    assert not (tmp_path / "escape.json").exists()


def test_rejects_symlinks_and_non_files(tmp_path, settings):
    secret = _file(tmp_path, "secret.txt", "top secret")
    link = tmp_path / "link.txt"
    link.symlink_to(secret)
    folder = tmp_path / "folder.json"
    folder.mkdir()
    result = save_uploads(tmp_path / "idx", [link, folder, tmp_path / "missing.json"], settings)
    assert result.saved == ()
    reasons = " | ".join(e.reason for e in result.errors)
    assert "symbolic links" in reasons and "not a regular file" in reasons and "cannot read" in reasons
    assert list((tmp_path / "idx" / "uploads").iterdir()) == []


def test_never_overwrites_and_reuses_identical_files(tmp_path, settings):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    first = save_uploads(tmp_path / "idx", [_file(a, "feed.json", '{"v": 1}')], settings).saved[0]
    again = save_uploads(tmp_path / "idx", [_file(b, "feed.json", '{"v": 1}')], settings).saved[0]
    other = save_uploads(tmp_path / "idx", [_file(b, "feed.json", '{"v": 2}')], settings).saved[0]
    assert again == first and other.name == "feed-2.json"
    assert first.read_text() == '{"v": 1}' and other.read_text() == '{"v": 2}'


def test_does_not_write_through_a_symlink_in_the_uploads_folder(tmp_path, settings):
    outside = tmp_path / "outside"
    outside.mkdir()
    idx = tmp_path / "idx"
    (idx / "uploads").mkdir(parents=True)
    (idx / "uploads" / "feed.json").symlink_to(outside / "target.json")
    saved = save_uploads(idx, [_file(tmp_path, "feed.json", "{}")], settings).saved
    assert [p.name for p in saved] == ["feed-2.json"]
    assert not (outside / "target.json").exists()


def test_refuses_an_uploads_folder_that_is_a_symlink(tmp_path, settings):
    outside = tmp_path / "outside"
    outside.mkdir()
    idx = tmp_path / "idx"
    idx.mkdir()
    os.symlink(outside, idx / "uploads")
    with pytest.raises(BadInput):
        save_uploads(idx, [_file(tmp_path, "feed.json", "{}")], settings)
    assert list(outside.iterdir()) == []


def test_accepts_gradio_style_items(tmp_path, settings):
    p = _file(tmp_path, "tmpabc123", "{}")

    class FileData:
        path = str(p)
        orig_name = "Report 2024.json"

    result = save_uploads(tmp_path / "idx", [FileData(), {"path": str(p), "orig_name": "b.csv"}], settings)
    assert [x.name for x in result.saved] == ["Report_2024.json", "b.csv"]
    assert save_uploads(tmp_path / "idx", [], settings).saved == ()
