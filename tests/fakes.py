"""Test doubles that are real things: an OpenAI-compatible HTTP server with scripted replies,
and Hit/Chunk builders over real short news texts with correct body offsets."""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Sequence

from rag.ingest.ids import chunk_id
from rag.types import Chunk, Hit

DATA = Path(__file__).parent / "data"
SEED = DATA / "ksmo-alibaba-pla-memo.txt"

Script = Callable[[list[dict[str, Any]]], str]


class ScriptedError(Exception):
    """Raise from a script to make the server answer with an HTTP error."""

    def __init__(self, status: int, message: str = "scripted failure"):
        super().__init__(message)
        self.status = status
        self.message = message


class ScriptedLLMServer:
    """A real OpenAI-compatible server on 127.0.0.1 (random port) replying from a script.

    ``script`` is a function ``(messages) -> reply text``, a list of replies (served in order,
    the last one repeated) or one reply string. Serves ``POST /v1/chat/completions`` (JSON, or
    SSE chunks when ``stream`` is true) and ``GET /v1/models``. ``requests`` records every JSON
    body received. Use as a context manager; ``base_url`` is ``http://127.0.0.1:PORT/v1``.
    """

    def __init__(self, script: Script | Sequence[str] | str, model: str = "scripted-model"):
        if isinstance(script, str):
            script = [script]
        if not callable(script):
            replies = list(script)
            count = iter(range(10**9))
            script = lambda _messages: replies[min(next(count), len(replies) - 1)]  # noqa: E731
        self.script: Script = script
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> "ScriptedLLMServer":
        """Bind a free port and serve in a daemon thread."""
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and free the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)

    def __enter__(self) -> "ScriptedLLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reply(self, body: dict[str, Any]) -> str:
        """Record a request body and compute the scripted reply to it."""
        with self._lock:
            self.requests.append(body)
            return self.script(body.get("messages", []))


def _handler(server: ScriptedLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _json(self, status: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": server.model, "object": "model", "created": 0, "owned_by": "tests"}]})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            try:
                text = server.reply(body)
            except ScriptedError as exc:
                self._json(exc.status, {"error": {"message": exc.message, "type": "scripted"}})
                return
            created, cid = int(time.time()), "chatcmpl-scripted"
            if not body.get("stream"):
                self._json(200, {
                    "id": cid, "object": "chat.completion", "created": created, "model": server.model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                })
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()

            def send(delta: dict[str, Any], finish: str | None = None) -> None:
                chunk = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": server.model,
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            send({"role": "assistant", "content": ""})
            for piece in re.findall(r"\S+\s*|\s+", text):
                send({"content": piece})
            send({}, "stop")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


# --- real short texts -------------------------------------------------------------------

def seed_article() -> tuple[str, str]:
    """(title, body) of the seed article in tests/data (outlet line, section line, title, body)."""
    _outlet_section, title, body = SEED.read_text(encoding="utf-8").split("\n\n", 2)
    return title.strip(), body


TRANSIT = dict(
    title="Riverside council approves $10 billion light-rail expansion",
    outlet="Riverside Ledger",
    published_at=datetime(2024, 5, 14, 18, 30, tzinfo=timezone.utc),
    body=(
        "The Riverside City Council voted 7-2 on Tuesday to approve a $10 billion expansion of the "
        "city's light-rail network, the largest public works project in its history.\n\n"
        "The plan adds 22 miles of track and 14 stations, connecting the airport to downtown by 2031. "
        "Mayor Elena Ortiz said construction of the first segment would begin next spring.\n\n"
        "Council member David Chen, who voted against the measure, argued that the cost estimate relied "
        "on federal grants that have not yet been secured. The city expects the federal government to "
        "cover about 40% of the cost."
    ),
)

HEAT = dict(
    title="Phoenix sets all-time heat record as hospitals fill",
    outlet="Valley Courier",
    published_at=datetime(2024, 7, 22, 9, 0, tzinfo=timezone.utc),
    body=(
        "Phoenix recorded a temperature of 123 degrees Fahrenheit on Sunday, breaking the city's all-time "
        "record of 122 degrees set in 1990, the National Weather Service said.\n\n"
        "Hospitals in Maricopa County reported more than 300 emergency visits for heat-related illness over "
        "the weekend. Officials opened 40 cooling centers and extended hours at public libraries.\n\n"
        "Forecasters expect temperatures to stay above 110 degrees through Thursday."
    ),
)

MARATHON = dict(
    title="Kenyan runner wins Riverside Marathon in course record",
    outlet="Riverside Ledger",
    published_at=datetime(2023, 10, 9, 7, 0, tzinfo=timezone.utc),
    body=(
        "Kenyan runner Grace Wanjiru won the Riverside Marathon on Sunday in 2 hours, 21 minutes, setting a "
        "course record. Wanjiru, 27, finished almost three minutes ahead of last year's champion.\n\n"
        "About 12,000 runners took part in the 2023 race, organizers said."
    ),
)


def make_hits(
    body: str,
    *,
    title: str = "Untitled",
    outlet: str | None = None,
    published_at: datetime | None = None,
    url: str | None = None,
    article_id: str | None = None,
    chunk_chars: int | None = 600,
) -> list[Hit]:
    """Chunk ``body`` at line breaks into passages of about ``chunk_chars`` characters (one
    passage when None) with ``chunk.text == body[chunk.start:chunk.end]``; ranks 1..n."""
    aid = article_id or "a" + re.sub(r"\W+", "-", title.lower())[:24]
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", body)]
    groups: list[tuple[int, int]] = []
    for s, e in lines:
        if groups and (chunk_chars is None or e - groups[-1][0] <= chunk_chars):
            groups[-1] = (groups[-1][0], e)
        else:
            groups.append((s, e))
    hdr = " — ".join(x for x in (title, outlet, published_at.date().isoformat() if published_at else None) if x)
    hits = []
    for i, (s, e) in enumerate(groups):
        chunk = Chunk(
            id=chunk_id(aid, s, e, body[s:e]), article_id=aid, index=i, text=body[s:e], start=s, end=e,
            header=hdr, title=title, outlet=outlet, published_at=published_at, url=url,
        )
        hits.append(Hit(chunk=chunk, score=1.0 / (i + 1), rank=i + 1))
    return hits


def renumber(hits: Sequence[Hit]) -> list[Hit]:
    """The same hits ranked 1..n in the given order (for lists combined from several articles)."""
    return [replace(h, rank=i + 1, score=1.0 / (i + 1)) for i, h in enumerate(hits)]


def article_hits(article: dict[str, Any], chunk_chars: int | None = None) -> list[Hit]:
    """Hits for one of the dicts above (TRANSIT, HEAT, MARATHON); one passage by default."""
    return make_hits(article["body"], chunk_chars=chunk_chars, **{k: v for k, v in article.items() if k != "body"})


def seed_hits(chunk_chars: int | None = 600) -> tuple[str, list[Hit]]:
    """(body, hits) of the seed article, undated, outlet KSMO Santa Monica."""
    title, body = seed_article()
    return body, make_hits(body, title=title, outlet="KSMO Santa Monica", chunk_chars=chunk_chars)
