"""A stand-in for Discord's webhook API on 127.0.0.1: records every execution and answers as
scripted (204/200, 429 with retry_after, 5xx, or nothing at all).

Why: the notifier's splitting, rate-limit handling and failure paths must be tested over real
HTTP, with every body checked against Discord's documented limits, without posting anywhere.

Usage::

    with DiscordServer() as discord:                   # or the `discord_server` fixture
        discord.queue(rate_limited(0.5))               # the next request gets a 429
        discord.queue(server_error(500), times=2)      # then two 500s, then 204s
        post_to(discord.webhook_url)
        assert [m.payload["content"] for m in discord.accepted]
        assert limit_violations(discord.accepted[0]) == []

Requests to another path than the webhook's answer 404 "Unknown Webhook", like Discord. A body
that breaks a limit answers 400 "Invalid Form Body" (and the test sees it in `violations`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DiscordServer",
    "WebhookRequest",
    "client_error",
    "hang",
    "limit_violations",
    "no_content",
    "ok_json",
    "rate_limited",
    "server_error",
]

WEBHOOK_ID = "1180000000000000001"
DEFAULT_TOKEN = "tOkEn-ThIs_iS-SeCrEt_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"


@dataclass
class WebhookRequest:
    """One request as received. `payload` is the JSON body or the multipart payload_json;
    `files` maps a multipart field name (files[0]) to (filename, bytes)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    time: float
    payload: dict[str, Any] | None = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    status: int | None = None  # None: no answer was sent
    action: str = "default"
    violations: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    @property
    def text(self) -> str:
        """Every human-readable string of the message (content, embed texts, file names)."""
        return json.dumps(self.payload, ensure_ascii=False) if self.payload else ""


def limit_violations(request: WebhookRequest) -> list[str]:
    """Every way the request breaks Discord's documented message limits (none: [])."""
    payload = request.payload
    if not isinstance(payload, dict):
        return ["the body is not a JSON object"]
    found: list[str] = []

    def at_most(what: str, value: Any, limit: int) -> None:
        if value is not None and len(value) > limit:
            found.append(f"{what} has {len(value)} characters (limit {limit})")

    content = payload.get("content")
    embeds = payload.get("embeds") or []
    if not content and not embeds and not request.files:
        found.append("the message is empty")
    at_most("content", content, 2000)
    if len(embeds) > 10:
        found.append(f"{len(embeds)} embeds (limit 10)")
    total = 0
    for n, embed in enumerate(embeds):
        fields = embed.get("fields") or []
        at_most(f"embed {n} title", embed.get("title"), 256)
        at_most(f"embed {n} description", embed.get("description"), 4096)
        at_most(f"embed {n} footer", (embed.get("footer") or {}).get("text"), 2048)
        at_most(f"embed {n} author", (embed.get("author") or {}).get("name"), 256)
        if len(fields) > 25:
            found.append(f"embed {n} has {len(fields)} fields (limit 25)")
        for f in fields:
            at_most(f"embed {n} field name", f.get("name"), 256)
            at_most(f"embed {n} field value", f.get("value"), 1024)
            if not f.get("name") or not f.get("value"):
                found.append(f"embed {n} has a field with an empty name or value")
        total += len(embed.get("title") or "") + len(embed.get("description") or "")
        total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
        total += len((embed.get("footer") or {}).get("text") or "")
        total += len((embed.get("author") or {}).get("name") or "")
        for image in ("thumbnail", "image"):
            url = (embed.get(image) or {}).get("url")
            if url is not None and urlsplit(url).scheme not in ("http", "https", "attachment"):
                found.append(f"embed {n} {image} url is not http(s): {url!r}")
    if total > 6000:
        found.append(f"{total} characters of embed text (limit 6000)")
    return found


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Action:
    name: str
    run: Callable[[_Handler, WebhookRequest], None] = field(repr=False)


def _send(
    handler: _Handler, record: WebhookRequest, status: int, body: Any = None, **headers: str
) -> None:
    data = b"" if body is None else json.dumps(body).encode()
    record.status = status  # before the answer leaves: the client may look at once
    handler.send_response(status)
    if body is not None:
        handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(data)


def no_content() -> Action:
    """Discord's answer to a webhook execution without ?wait=true."""
    return Action("204", lambda h, r: _send(h, r, 204))


def ok_json() -> Action:
    """The answer with ?wait=true: 200 and the created message."""
    return Action("200", lambda h, r: _send(h, r, 200, {"id": "1", "type": 0, **(r.payload or {})}))


def rate_limited(retry_after: float, *, in_body: bool = True, in_header: bool = True) -> Action:
    """429 as Discord sends it: retry_after (seconds, float) in the body and Retry-After."""
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    headers = {"Retry_After": str(max(0, round(retry_after)))} if in_header else {}
    return Action("429", lambda h, r: _send(h, r, 429, body if in_body else None, **headers))


def server_error(status: int = 500) -> Action:
    return Action(str(status), lambda h, r: _send(h, r, status, {"message": "Internal Error"}))


def client_error(status: int = 404, message: str = "Unknown Webhook", code: int = 10015) -> Action:
    return Action(str(status), lambda h, r: _send(h, r, status, {"message": message, "code": code}))


def hang(seconds: float | None = None) -> Action:
    """Answer nothing: hold the connection for `seconds` (None: until the server stops),
    then close it."""

    def run(handler: _Handler, record: WebhookRequest) -> None:
        handler.server.owner._stopping.wait(seconds)  # type: ignore[attr-defined]
        handler.close_connection = True

    return Action("hang", run)


# --------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        owner: DiscordServer = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        record = WebhookRequest(
            "POST", self.path, dict(self.headers.items()), self.rfile.read(length), time.monotonic()
        )
        try:
            _parse_body(record)
        except (ValueError, UnicodeDecodeError) as exc:
            record.violations.append(f"unparseable body: {exc}")
        with owner._lock:
            owner.requests.append(record)
        if urlsplit(self.path).path != owner.webhook_path:
            client_error().run(self, record)
            return
        action = owner._next_action()
        record.action = action.name
        if action.name in ("204", "200"):
            record.violations += limit_violations(record)
            if record.violations:
                _send(self, record, 400, {"message": "Invalid Form Body", "code": 50035})
                return
        action.run(self, record)


def _parse_body(record: WebhookRequest) -> None:
    content_type = record.header("Content-Type") or ""
    if content_type.startswith("application/json"):
        record.payload = json.loads(record.body)
        return
    if not content_type.startswith("multipart/form-data"):
        raise ValueError(f"content type {content_type!r}")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + record.body
    )
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            raise ValueError(f"part {name!r} has no body")
        filename = part.get_filename()
        if name == "payload_json":
            record.payload = json.loads(data)
        elif filename is not None:
            record.files[str(name)] = (filename, data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: DiscordServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.owner._lock:
            self.owner._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.owner._lock:
            self.owner._connections.discard(request)
        super().shutdown_request(request)


class DiscordServer:
    """Discord's webhook endpoint on 127.0.0.1:<free port>; use as a context manager.

    `requests` holds every request in arrival order; `accepted` those answered 2xx. queue()
    scripts one-shot answers; after them every request gets `default` (204)."""

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        self.webhook_path = f"/api/webhooks/{WEBHOOK_ID}/{token}"
        self.requests: list[WebhookRequest] = []
        self.default: Action = no_content()
        self._queue: list[Action] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> DiscordServer:
        self._httpd = _Server(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-discord"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        with self._lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = None

    def __enter__(self) -> DiscordServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + self.webhook_path

    def queue(self, *actions: Action, times: int = 1) -> None:
        with self._lock:
            self._queue += list(actions) * times

    def _next_action(self) -> Action:
        with self._lock:
            return self._queue.pop(0) if self._queue else self.default

    @property
    def accepted(self) -> list[WebhookRequest]:
        """The messages Discord would have shown, in order."""
        with self._lock:
            return [r for r in self.requests if r.status is not None and 200 <= r.status < 300]
