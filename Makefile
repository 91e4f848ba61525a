# newsrag: `make run` sets up and answers on the bundled sample archive (then opens the chat);
# `make test` sets up and runs the whole test suite (what CI runs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAMPLE_INDEX := index/sample
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test test-fast index browser clean answer-models rerank-model settings-table

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU torch first: it lies on this machine's disk; a plain `torch` pulls a CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Build (or bring up to date: unchanged articles are skipped) the sample archive's index.
index: setup
	$(VENV)/bin/rag ingest rag/sample --index $(SAMPLE_INDEX)

run: index
	$(VENV)/bin/rag ask "What does the Pentagon memo allege about Alibaba and the Chinese military?" --index $(SAMPLE_INDEX)
	@echo "Starting the chat UI on the sample archive (prints its local URL; Ctrl-C to stop; make run UI_ARGS='--port 7861' to change)"
	$(VENV)/bin/rag ui --index $(SAMPLE_INDEX) $(UI_ARGS)

# Debian's chromium drives the browser tests (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

test: setup browser
	$(PY) -m pytest -q -p no:cacheprovider

# Inner loop: everything but the slow (model-backed corpus, browser) tests.
test-fast: setup
	$(PY) -m pytest -q -m "not slow" -x

# Refit the extractive answerer's models (rag/answer/models/*.json) on the MultiHop-RAG dev
# split in ../shared/datasets (ingests the corpus into index/eval-<hash> once, ~6 min here).
answer-models: setup
	$(PY) -m evals.train_answer --corpus ../shared/datasets/multihop-rag/corpus.json \
		--dataset ../shared/datasets/multihop-rag/queries-dev.json

# Rewrite the README's settings table from rag/settings.py (tests/test_settings.py checks it).
settings-table: setup
	$(PY) -c 'import re, pathlib; from rag.settings import settings_table; r = pathlib.Path("README.md"); \
	r.write_text(re.sub(r"(<!-- settings-table[^>]*-->\n).*?(\n<!-- /settings-table -->)", lambda m: m.group(1) + settings_table() + m.group(2), r.read_text(), flags=re.S))'

# Refit the retrieval rerank on the MultiHop-RAG dev split (the cached index/eval-<hash>, built
# once, ~8 min): writes runs/rerank/rerank_model.json with its cross-validated figures, and
# replaces the packaged rag/retrieve/rerank_model.json only when those are at least the shipped
# model's. Needs the train extra (LightGBM; scikit-learn for --trainer gbc), installed here.
rerank-model: setup
	$(PY) -m pip install -q -e '.[train]'
	$(PY) -m evals.train_rerank --corpus ../shared/datasets/multihop-rag/corpus.json \
		--dataset ../shared/datasets/multihop-rag/queries-dev.json --install

clean:
	rm -rf $(VENV) index/sample .pytest_cache
