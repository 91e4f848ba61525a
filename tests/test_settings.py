"""Settings: defaults < rag.toml (or $RAG_CONFIG) < RAG_* environment < explicit overrides, and the
conversion of TOML and environment strings to each field's type."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from rag.errors import BadInput
from rag.settings import DEFAULT_INDEX, Settings


def _toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_stray_rag_toml(tmp_path, monkeypatch):
    """Run in an empty folder, so that a ./rag.toml of the checkout cannot leak in."""
    monkeypatch.chdir(tmp_path)


def test_defaults_with_no_file_and_no_environment():
    s = Settings.load(env={})
    assert s == Settings()
    assert (s.index, s.embedder, s.top_k, s.rerank, s.chroma_url) == (DEFAULT_INDEX, None, 10, True, None)


def test_each_layer_overrides_the_one_below(tmp_path):
    cfg = _toml(tmp_path / "my.toml", 'top_k = 5\ncandidates = 70\nfusion = "rrf"\nanswerer = "llm"\n')
    env = {"RAG_TOP_K": "7", "RAG_CANDIDATES": "80"}

    only_file = Settings.load(toml_path=cfg, env={})
    assert (only_file.top_k, only_file.candidates, only_file.fusion) == (5, 70, "rrf")
    assert only_file.chunk_tokens == Settings().chunk_tokens  # untouched keys keep their default

    file_env = Settings.load(toml_path=cfg, env=env)
    assert (file_env.top_k, file_env.candidates, file_env.fusion) == (7, 80, "rrf")  # env beats the file

    all_four = Settings.load(toml_path=cfg, env=env, top_k=9, answerer="extractive", index="idx/x")
    assert (all_four.top_k, all_four.candidates, all_four.fusion) == (9, 80, "rrf")  # overrides beat env
    assert (all_four.answerer, all_four.index) == ("extractive", "idx/x")  # and beat the file

    none_flags = Settings.load(toml_path=cfg, env=env, top_k=None, index=None)  # an unset CLI flag
    assert (none_flags.top_k, none_flags.index) == (7, DEFAULT_INDEX)


def test_config_file_found_by_rag_config_then_by_rag_toml_in_the_cwd(tmp_path):
    _toml(tmp_path / "rag.toml", "top_k = 3\n")  # the cwd is tmp_path
    assert Settings.load(env={}).top_k == 3
    other = _toml(tmp_path / "other.toml", "top_k = 4\n")
    assert Settings.load(env={"RAG_CONFIG": str(other)}).top_k == 4  # $RAG_CONFIG wins over ./rag.toml
    explicit = _toml(tmp_path / "explicit.toml", "top_k = 6\n")
    assert Settings.load(toml_path=explicit, env={"RAG_CONFIG": str(other)}).top_k == 6  # --config wins over both


def test_keys_may_sit_under_a_rag_table(tmp_path):
    cfg = _toml(tmp_path / "t.toml", '[rag]\ntop_k = 12\nembedder = "hash"\n')
    s = Settings.load(toml_path=cfg, env={})
    assert (s.top_k, s.embedder) == (12, "hash")


def test_environment_strings_become_typed_values():
    env = {
        "RAG_TOP_K": "25", "RAG_DENSE_WEIGHT": "0.75", "RAG_LLM_TIMEOUT": "5",
        "RAG_RERANK": "off", "RAG_SUBQUERIES": "no", "RAG_SYNDICATION": "", "RAG_QUERY_DATES": "YES",
        "RAG_PART_FEATURES": "1", "RAG_CHROMA_URL": "", "RAG_LLM_MODEL": "llama3", "RAG_EMBEDDER": "hash",
    }
    s = Settings.load(env=env)
    assert s.top_k == 25 and type(s.top_k) is int
    assert s.dense_weight == 0.75 and type(s.dense_weight) is float
    assert s.llm_timeout == 5.0 and type(s.llm_timeout) is float  # an integer string for a float field
    assert (s.rerank, s.subqueries, s.syndication) == (False, False, False)
    assert (s.query_dates, s.part_features) == (True, True)
    assert s.chroma_url is None  # an empty string clears an optional setting
    assert (s.llm_model, s.embedder) == ("llama3", "hash")


def test_toml_values_become_the_field_types(tmp_path):
    cfg = _toml(tmp_path / "t.toml", 'dense_weight = 1\ntop_k = "8"\nrerank = false\nquery_outlets = "on"\n'
                                      'llm_base_url = "http://localhost:11434/v1"\n')
    s = Settings.load(toml_path=cfg, env={})
    assert s.dense_weight == 1.0 and type(s.dense_weight) is float
    assert s.top_k == 8 and type(s.top_k) is int
    assert (s.rerank, s.query_outlets) == (False, True)
    assert s.llm_base_url == "http://localhost:11434/v1"


def test_every_field_can_be_set_from_the_environment():
    defaults = Settings()
    for f in fields(Settings):
        value = getattr(defaults, f.name)
        raw = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        got = getattr(Settings.load(env={f"RAG_{f.name.upper()}": raw}), f.name)
        assert got == value and type(got) is type(value), f.name  # the default survives a round trip


def test_unknown_key_in_the_toml_is_an_error_naming_key_and_file(tmp_path):
    cfg = _toml(tmp_path / "t.toml", "top_k = 5\ntop_kk = 6\n")
    with pytest.raises(BadInput) as exc:
        Settings.load(toml_path=cfg, env={})
    assert "top_kk" in str(exc.value) and str(cfg) in str(exc.value) and exc.value.file == str(cfg)
    nested = _toml(tmp_path / "n.toml", "[rag]\ncolour = 'blue'\n")
    with pytest.raises(BadInput, match="colour"):
        Settings.load(toml_path=nested, env={})


def test_unknown_environment_names_are_ignored_but_unknown_overrides_are_not():
    s = Settings.load(env={"RAG_UI_PORT": "7861", "RAG_NOT_A_SETTING": "x", "RAG_CONFIG_X": "y", "TOP_K": "3"})
    assert s == Settings()  # other RAG_* variables (the UI's, for one) are not settings
    with pytest.raises(BadInput, match="unknown setting.*top_kk"):
        Settings.load(env={}, top_kk=3)


@pytest.mark.parametrize("key, raw, kind", [
    ("RAG_TOP_K", "ten", "int"),
    ("RAG_DENSE_WEIGHT", "heavy", "float"),
    ("RAG_RERANK", "maybe", "bool"),
    ("RAG_TOP_K", "", "int"),
])
def test_a_bad_environment_value_names_the_setting_and_the_variable(key, raw, kind):
    with pytest.raises(BadInput) as exc:
        Settings.load(env={key: raw})
    name = key[4:].lower()
    msg = str(exc.value)
    assert f"setting {name}" in msg and kind in msg and repr(raw) in msg
    assert exc.value.file == f"${key}" and msg.startswith(f"${key}: ")


def test_a_bad_toml_value_names_the_setting_and_the_file(tmp_path):
    cfg = _toml(tmp_path / "t.toml", '[rag]\nllm_timeout = "soon"\n')
    with pytest.raises(BadInput) as exc:
        Settings.load(toml_path=cfg, env={})
    assert "setting llm_timeout" in str(exc.value) and "'soon'" in str(exc.value) and exc.value.file == str(cfg)


def test_an_unreadable_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(BadInput, match="cannot read settings") as exc:
        Settings.load(env={"RAG_CONFIG": str(tmp_path / "missing.toml")})
    assert exc.value.file == str(tmp_path / "missing.toml")
    broken = _toml(tmp_path / "broken.toml", "top_k = = 3\n")
    with pytest.raises(BadInput, match="cannot read settings"):
        Settings.load(toml_path=broken, env={})


def test_with_applies_changes_and_ignores_none():
    s = Settings.load(env={}, top_k=4)
    t = s.with_(top_k=None, answerer="llm")
    assert (t.top_k, t.answerer, s.answerer) == (4, "llm", "extractive")
    assert s.answer_hash() != t.answer_hash()
    assert s.answer_hash() == s.with_(index="elsewhere", llm_api_key="secret").answer_hash()  # paths/secrets excluded


def test_the_readme_settings_table_is_the_one_generated_from_settings():
    import re
    from dataclasses import fields

    from rag.settings import Settings, settings_table
    from tests.conftest import ROOT

    table = settings_table()
    assert len(table.splitlines()) == 2 + len(fields(Settings))  # every setting has a row
    assert all(row.rstrip(" |").split("|")[-1].strip() for row in table.splitlines()[2:])  # and a note
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- settings-table[^>]*-->\n(.*?)\n<!-- /settings-table -->", readme, re.S)
    assert block, "README.md lost its settings-table markers"
    assert block.group(1) == table, "README.md's settings table is stale: run `make settings-table`"
