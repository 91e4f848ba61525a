"""One settings object, built at each entry point from defaults, an optional TOML file and
``RAG_*`` environment variables (in that order of precedence, lowest first).

Library code receives a :class:`Settings`; no setting is read from the environment anywhere
else. What else touches the environment, and why (README, "Settings", says the same):
``RAG_UI_USER``/``RAG_UI_PASSWORD`` are read by the chat only (credentials never enter a
settings object, which is hashed and printed); ``TIKTOKEN_CACHE_DIR`` is set to
llama-index's bundled tokenizer files when unset, and ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE``
before MiniLM loads, so nothing downloads; ``ANONYMIZED_TELEMETRY``/``GRADIO_ANALYTICS_ENABLED``
default to off so nothing phones home; Ray workers get ``OMP_NUM_THREADS``.

:func:`settings_table` writes the settings table the README carries (``make settings-table``;
a test keeps the two equal).
"""
from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

from rag.errors import BadInput

DEFAULT_INDEX = "index/default"


@dataclass(frozen=True)
class Settings:
    """Every tunable of newsrag. Build with :meth:`Settings.load`; derive with :meth:`with_`."""

    index: str = DEFAULT_INDEX  # the index folder
    # embedding
    embedder: str | None = None  # the model (unset: an index's own, the one that built it; a new
    # index: "minilm-int8", the packaged all-MiniLM-L6-v2 int8 on ONNX Runtime, 1.3-3x faster ingest,
    # within 0.01 of MiniLM on every dev retrieval figure; "minilm": the same model in float, the
    # reference; "static": model2vec token embeddings distilled from it, far faster ingest, weaker
    # retrieval; "hash": a deterministic bag-of-words fake for tests and quick experiments)
    embed_batch_size: int = 16  # fastest for MiniLM on 2 CPU cores (bench: 16 beat 32 by 3-7%)
    chroma_url: str | None = None  # a `chroma run` server instead of the embedded store under the index folder
    # chunking (tokens of tiktoken cl100k)
    chunk_tokens: int = 200  # tokens per chunk (cl100k), fixed per index at creation
    chunk_overlap: int = 40  # tokens shared by neighbouring chunks, fixed per index at creation
    # retrieval
    top_k: int = 10  # passages returned
    candidates: int = 60  # candidates per retriever (BM25, dense) before fusion and rerank
    fusion: str = "score"  # "score" (bm25/max + w*cosine) or "rrf" (weighted reciprocal rank)
    dense_weight: float = 0.3  # weight of the cosine in first-stage fusion
    lexical_weight: float = 1.0  # weight of the normalised BM25 score in first-stage fusion
    rrf_k: int = 60  # the k of reciprocal-rank fusion (fusion = "rrf")
    # news-grade retrieval (rag/retrieve/query.py, rag/retrieve/features.py, rag/retrieve/diversify.py, rag/retrieve/syndication.py;
    # README has the ablation of each on the MultiHop-RAG dev split)
    query_outlets: bool = True  # outlets named in the question -> boosts and per-outlet sub-queries
    query_dates: bool = True  # dates/recency in the question (relative to the archive's dates)
    subqueries: bool = True  # split multi-part questions into filtered sub-queries
    sub_candidates: int = 45  # BM25 candidates per sub-query (45: gold facts in the pool 0.81 -> 0.83 of questions)
    rerank: bool = True  # learned second-stage rerank of all candidates
    # rerank signals for questions whose facts sit in several chunks/articles (rag/retrieve/features.py):
    # question word pairs in one sentence, per-sub-query sentence rank, rank within the article
    part_features: bool = True
    diversify_cap: int = 0  # max chunks per article in the top k (0: no cap)
    diversify_penalty: float = 0.0  # MMR-style score penalty per chunk already taken from an article
    syndication: bool = True  # one member per near-duplicate story, others as "also ran in"
    # answering
    answerer: str = "extractive"  # a name of rag.answer.ANSWERERS ("extractive", "llm")
    answer_passages: int = 8  # passages shown to the answerer
    max_answer_sentences: int = 3  # evidence sentences after the direct answer
    answer_embed_sentences: int = 0  # extractive: rerank this many sentences with MiniLM (0: lexical only;
    # on the dev split 16 gave the same answer accuracy (0.323 vs 0.327) at 6x the latency)
    abstain_threshold: float = 0.05  # extractive: refusal threshold for questions of 14+ content terms (tuned on MultiHop-RAG dev)
    abstain_short_threshold: float = 0.3  # the same for questions of <= 5 content terms, interpolated between (sample QA set)
    abstain_name_coverage: float = 0.5  # extractive: refuse when fewer of the question's names are in the passages
    support_threshold: float = 0.6  # verifier: a citation whose support score (0-1) is below this is removed
    # OpenAI-compatible LLM endpoint (Ollama, vLLM, llama.cpp server, OpenAI)
    llm_base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1
    llm_model: str | None = None  # the model name the endpoint serves
    llm_api_key: str | None = None  # sent as a bearer token when set
    llm_temperature: float = 0.0  # 0: the same question gets the same answer
    llm_timeout: float = 60.0  # seconds per request
    llm_max_tokens: int = 512  # longest answer the LLM may write
    # UI
    max_upload_mb: int = 50  # largest file the chat accepts

    @classmethod
    def load(
        cls,
        toml_path: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> "Settings":
        """Build settings: defaults < ``rag.toml`` (or ``RAG_CONFIG``) < ``RAG_*`` env < overrides.

        Overrides whose value is ``None`` are ignored, so CLI flags can be passed straight in.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = toml_path or env.get("RAG_CONFIG")
        if path is None and Path("rag.toml").is_file():
            path = "rag.toml"
        if path is not None:
            p = Path(path)
            try:
                data = tomllib.loads(p.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise BadInput(f"cannot read settings: {exc}", file=str(p)) from exc
            data = data.get("rag", data)
            values.update(_coerce_all(data, source=str(p)))
        known = {f.name for f in fields(cls)}
        for key, raw in env.items():
            if key.startswith("RAG_") and key != "RAG_CONFIG":
                name = key[4:].lower()
                if name in known:
                    values[name] = _coerce(name, raw, source=f"${key}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - known
        if unknown:
            raise BadInput(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    def with_(self, **changes: Any) -> "Settings":
        """Return a copy with ``changes`` applied (``None`` values ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def llm_configured(self) -> bool:
        """True when an OpenAI-compatible endpoint and model are set."""
        return bool(self.llm_base_url and self.llm_model)

    def answer_hash(self) -> str:
        """Short hash of every setting that can change an answer (not paths or secrets)."""
        d = asdict(self)
        for k in ("index", "llm_api_key", "chroma_url", "max_upload_mb", "llm_timeout"):
            d.pop(k, None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, raw: Any, source: str) -> Any:
    kind = str(_TYPES[name])
    try:
        if "bool" in kind:
            if isinstance(raw, str):
                low = raw.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(raw)
            return bool(raw)
        if isinstance(raw, str):
            if "int" in kind and "None" not in kind:
                return int(raw)
            if "float" in kind:
                return float(raw)
            if raw == "" and "None" in kind:
                return None
        elif "int" in kind and not isinstance(raw, int):
            return int(raw)
        elif "float" in kind and not isinstance(raw, float):
            return float(raw)
    except ValueError as exc:
        raise BadInput(f"setting {name}: expected {kind}, got {raw!r}", file=source) from exc
    return raw


def _coerce_all(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    known = set(_TYPES)
    out = {}
    for k, v in data.items():
        if k not in known:
            raise BadInput(f"unknown setting {k!r}", file=source)
        out[k] = _coerce(k, v, source)
    return out


def settings_table() -> str:
    """The README's settings table, generated from :class:`Settings` itself: every field, its
    ``RAG_*`` variable, its default and the comment written beside it in this file."""
    import inspect

    notes: dict[str, str] = {}
    block: list[str] = []  # the comment lines since the last field (a field without its own comment uses them)
    last = None
    for line in inspect.getsource(Settings).splitlines():
        code, _, comment = line.strip().partition("#")
        name = code.split(":")[0].strip() if ":" in code and "=" in code else ""
        if name.isidentifier() and name in _TYPES:
            notes[name] = comment.strip() or " ".join(block)
            last, block = name, []
        elif not code and comment:
            if last and notes[last].count("(") > notes[last].count(")"):
                notes[last] += " " + comment.strip()  # the field's comment, continued
            else:
                last = None
                block.append(comment.strip())
    rows = ["| setting | env | default | what it does |", "| --- | --- | --- | --- |"]
    for f in fields(Settings):
        default = "—" if f.default is None else f"`{str(f.default).lower() if isinstance(f.default, bool) else f.default}`"
        note = notes.get(f.name, "").replace("|", "\\|")
        rows.append(f"| `{f.name}` | `RAG_{f.name.upper()}` | {default} | {note} |")
    return "\n".join(rows)
