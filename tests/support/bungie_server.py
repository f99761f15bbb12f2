"""A fake Bungie.net on 127.0.0.1: the manifest endpoint and the content-file CDN.

Why: the app's Bungie client, downloader and error handling must be tested over real HTTP
(sockets, Content-Length, slow and broken transfers) without touching the internet.

Usage::

    with BungieServer() as bungie:                       # or the `bungie_server` fixture
        paths = bungie.publish(content_file, version="v1")  # serve it as the "en" manifest
        bungie.queue(error_envelope(5))                    # next manifest request: maintenance
        bungie.queue(throttled(36, seconds=1), times=2)    # then two throttles, then success
        client = SomeClient(root=bungie.base_url, api_key="k")
        ...
        assert bungie.requests_to(MANIFEST_PATH)[0].api_key == "k"

Scripted behaviour is a queue of one-shot actions per route ("manifest", "content", "*" or an
exact path). A request takes the first queued action whose route matches, else it gets the
default answer: the success envelope for the manifest, the file for a served path, 404 else.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import json
import os
import random
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "ERROR_STATUS",
    "LANGUAGES",
    "MANIFEST_PATH",
    "THROTTLE_CODES",
    "Action",
    "BungieServer",
    "RecordedRequest",
    "corrupt",
    "default",
    "delayed",
    "disconnect",
    "error_envelope",
    "gzip_encoded",
    "html_page",
    "http_error",
    "json_body",
    "not_found",
    "png_image",
    "redirect",
    "refused_url",
    "slow_body",
    "throttled",
    "truncated",
    "without_length",
]

MANIFEST_PATH = "/Platform/Destiny2/Manifest/"
CONTENT_PREFIX = "/common/destiny2_content/"
ICON_PREFIX = "/common/destiny2_content/icons/"
LANGUAGES = (
    "en", "fr", "es", "es-mx", "de", "it", "ja", "pt-br", "ru", "pl", "ko", "zh-cht", "zh-chs",
)  # fmt: skip
THROTTLE_CODES = frozenset({31, 35, 36, 37, 51, 54, 55, 56, 57, 1672})
KEY_ERROR_CODES = frozenset({2101, 2102, 2103, 2107})
ERROR_STATUS: Mapping[int, str] = {
    1: "Success",
    3: "UnhandledException",
    5: "SystemDisabled",
    27: "ExternalServiceTimeout",
    31: "ThrottleLimitExceeded",
    35: "ThrottleLimitExceededMinutes",
    36: "ThrottleLimitExceededMomentarily",
    37: "ThrottleLimitExceededSeconds",
    51: "PerEndpointRequestThrottleExceeded",
    54: "PerApplicationThrottleExceeded",
    55: "PerApplicationAnonymousThrottleExceeded",
    56: "PerApplicationAuthenticatedThrottleExceeded",
    57: "PerUserThrottleExceeded",
    99: "WebAuthRequired",
    1618: "DestinyUnexpectedError",
    1636: "DestinyDefinitionsNotLoaded",
    1672: "DestinyThrottledByGameServer",
    2101: "ApiInvalidOrExpiredKey",
    2102: "ApiKeyMissingFromRequest",
    2103: "ApplicationDisabled",
    2107: "OriginHeaderDoesNotMatchKey",
}
_MESSAGES: Mapping[int, str] = {
    5: "This system is temporarily disabled for maintenance.",
    2101: "Please use a valid API key.",
    2102: "An API key is required for this request.",
    2103: "This application has been disabled.",
    2107: "The Origin header does not match the provided API key.",
}
DEFAULT_VERSION = "100001.26.07.01.1200-1-bnet.60001"

_BUILTIN_HTML = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bungie.net</title>'
    "</head><body><noscript>You need to enable JavaScript to run this app.</noscript>"
    '<div id="root"></div></body></html>'
)
_NOT_FOUND_HTML = (
    "<!DOCTYPE html><html><head><title>Bungie.net: 404 Not Found</title></head>"
    "<body><h1>404: Not Found</h1></body></html>"
)


def _reference_bungie_dir() -> Path | None:
    path = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "bungie"
    return path if path.is_dir() else None


def _reference_response() -> dict[str, Any] | None:
    """The Response of the real GetDestinyManifest capture in ../shared, if present."""
    ref = _reference_bungie_dir()
    file = ref / "manifest-response-2026-06-30.json" if ref else None
    if file is None or not file.is_file():
        return None
    data = json.loads(file.read_text(encoding="utf-8"))
    response = data.get("Response")
    return response if isinstance(response, dict) else None


def _html_page_text() -> str:
    """Bungie's HTML page from ../shared when present, else a small built-in one."""
    ref = _reference_bungie_dir()
    file = ref / "html-page-instead-of-json.html" if ref else None
    if file is not None and file.is_file():
        return file.read_text(encoding="utf-8")
    return _BUILTIN_HTML


def _builtin_response(version: str) -> dict[str, Any]:
    """A DestinyManifest with every field of the real one, for machines without ../shared."""
    asset = "/common/destiny2_content/sqlite/asset/asset_sql_content_0123456789abcdef0123456789abcdef.content"  # noqa: E501
    return {
        "version": version,
        "mobileAssetContentPath": asset,
        "mobileGearAssetDataBases": [{"version": 0, "path": asset}],
        "mobileWorldContentPaths": {},
        "jsonWorldContentPaths": {
            lang: f"/common/destiny2_content/json/{lang}/aggregate-{i:032x}.json"
            for i, lang in enumerate(LANGUAGES)
        },
        "jsonWorldComponentContentPaths": {
            lang: {
                "DestinyInventoryItemDefinition": f"/common/destiny2_content/json/{lang}/"
                f"DestinyInventoryItemDefinition-{i:032x}.json"
            }
            for i, lang in enumerate(LANGUAGES)
        },
        "mobileClanBannerDatabasePath": "/common/destiny2_content/clanbanner/"
        "clanbanner_sql_content_0123456789abcdef0123456789abcdef.content",
        "mobileGearCDN": {
            "Geometry": "/common/destiny2_content/geometry/gear",
            "Texture": "/common/destiny2_content/geometry/platform/mobile/textures",
            "PlateRegion": "/common/destiny2_content/geometry/platform/mobile/plated_textures",
        },
        "iconImagePyramidInfo": [],
    }


def placeholder_paths(version: str) -> dict[str, str]:
    """mobileWorldContentPaths for all 13 languages pointing at files nobody serves (404)."""
    out = {}
    for lang in LANGUAGES:
        digest = hashlib.md5(f"{version}/{lang}".encode(), usedforsecurity=False).hexdigest()
        out[lang] = f"/common/destiny2_content/sqlite/{lang}/world_sql_content_{digest}.content"
    return out


def refused_url() -> str:
    """http://127.0.0.1:<port> with nothing listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------- recorded requests


@dataclass
class RecordedRequest:
    """One request as the server saw it, and how the answer went.

    `headers` keeps the client's spelling; use header() for case-insensitive access.
    `status` is None when the connection was dropped without a response. `completed` is
    False when the client went away (or the script truncated the body) before the end.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    time: float
    status: int | None = None
    bytes_sent: int = 0
    completed: bool = False
    action: str = "default"

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def api_key(self) -> str | None:
        return self.header("X-API-Key")

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


# --------------------------------------------------------------------------- scripted actions


class _Exchange:
    """One request being answered: what an action needs to build its reply."""

    def __init__(self, handler: _Handler, record: RecordedRequest) -> None:
        self.handler = handler
        self.record = record
        self.server: BungieServer = handler.server.owner  # type: ignore[attr-defined]
        self.head_only = record.method == "HEAD"

    @property
    def stopping(self) -> threading.Event:
        return self.server._stopping

    def send_head(self, status: int, content_type: str | None, length: int | None) -> None:
        h = self.handler
        h.send_response(status)
        if content_type:
            h.send_header("Content-Type", content_type)
        if length is not None:
            h.send_header("Content-Length", str(length))
        h.send_header("Cache-Control", "no-cache")
        h.end_headers()
        self.record.status = status

    def write(self, data: bytes) -> None:
        if self.head_only or not data:
            return
        self.handler.wfile.write(data)
        self.record.bytes_sent += len(data)

    def send_bytes(self, status: int, content_type: str | None, body: bytes) -> None:
        self.send_head(status, content_type, len(body))
        self.write(body)
        self.record.completed = True

    def send_json(self, status: int, obj: Any) -> None:
        self.send_bytes(status, "application/json; charset=utf-8", json.dumps(obj).encode())

    def default_body(self) -> tuple[int, str, Callable[[], Iterator[bytes]], int]:
        """The normal answer as (status, content type, chunk iterator factory, length)."""
        return self.server._default_body(self.record)

    def send_default(
        self, *, chunk: int = 1 << 16, interval: float = 0.0, limit: int | None = None
    ) -> None:
        """Send the normal answer, optionally in slow chunks or cut off after `limit` bytes."""
        status, content_type, chunks, length = self.default_body()
        self.send_head(status, content_type, length)
        sent = 0
        for piece in _rechunk(chunks(), chunk):
            if limit is not None and sent + len(piece) > limit:
                self.write(piece[: limit - sent])
                self.handler.close_connection = True
                return
            if interval and self.stopping.wait(interval):
                return
            self.write(piece)
            sent += len(piece)
        self.record.completed = True


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_image(colour: tuple[int, int, int], size: int = 24) -> bytes:
    """A real PNG file: a square of one colour with a light frame (an icon stand-in)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    frame = bytes((230, 230, 230))
    rows = b""
    for y in range(size):
        edge = y in (0, size - 1)
        pixels = [frame if edge or x in (0, size - 1) else bytes(colour) for x in range(size)]
        rows += b"\x00" + b"".join(pixels)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        _PNG_MAGIC
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    buffer = b""
    for data in chunks:
        buffer += data
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


@dataclass(frozen=True)
class Action:
    """A scripted one-shot answer; build them with the functions below."""

    name: str
    run: Callable[[_Exchange], None] = field(repr=False)


def default() -> Action:
    """The normal answer (useful inside a sequence)."""
    return Action("default", lambda ex: ex.send_default())


def error_envelope(
    code: int,
    *,
    http_status: int | None = None,
    throttle_seconds: int = 0,
    message: str | None = None,
    status_name: str | None = None,
    message_data: Mapping[str, str] | None = None,
) -> Action:
    """A Bungie error envelope {ErrorCode, ThrottleSeconds, ErrorStatus, Message, ...}.

    Default HTTP status: 503 for 5 (SystemDisabled; pass 400 to see the other variant),
    401 for key errors (2101-2107), 429 for throttling codes, 500 otherwise.
    """
    if http_status is None:
        if code == 5:
            http_status = 503
        elif code in KEY_ERROR_CODES:
            http_status = 401
        elif code in THROTTLE_CODES:
            http_status = 429
        else:
            http_status = 500
    body = {
        "ErrorCode": code,
        "ThrottleSeconds": throttle_seconds,
        "ErrorStatus": status_name or ERROR_STATUS.get(code, f"Error{code}"),
        "Message": message or _MESSAGES.get(code, "An error has occurred."),
        "MessageData": dict(message_data or {}),
    }
    status = http_status
    return Action(f"error {code}/{status}", lambda ex: ex.send_json(status, body))


def throttled(code: int = 36, *, seconds: int = 0, http_status: int | None = None) -> Action:
    """A throttling envelope (codes 31, 35-37, 51, 54-57, 1672) with ThrottleSeconds."""
    if code not in THROTTLE_CODES:
        raise ValueError(f"{code} is not a throttling code")
    return error_envelope(code, http_status=http_status, throttle_seconds=seconds)


def http_error(status: int, body: bytes = b"", content_type: str = "text/plain") -> Action:
    """A bare HTTP error (e.g. 500/502/503) whose body is not JSON."""
    return Action(f"http {status}", lambda ex: ex.send_bytes(status, content_type, body))


def html_page(status: int = 200) -> Action:
    """Bungie.net's HTML page instead of JSON (HTTP 200, text/html by default)."""
    body = _html_page_text().encode()
    return Action(
        f"html {status}", lambda ex: ex.send_bytes(status, "text/html; charset=utf-8", body)
    )


def json_body(body: Any, *, http_status: int = 200) -> Action:
    """Any JSON as the answer: odd envelopes (ErrorCode as a string, odd ThrottleSeconds...)."""
    data = copy.deepcopy(body)
    return Action(f"json {http_status}", lambda ex: ex.send_json(http_status, data))


def redirect(location: str, *, status: int = 302) -> Action:
    """A redirect to `location` (absolute, or relative to the request)."""

    def run(ex: _Exchange) -> None:
        h = ex.handler
        h.send_response(status)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()
        ex.record.status = status
        ex.record.completed = True

    return Action(f"redirect {status}", run)


def not_found() -> Action:
    """HTTP 404 with an HTML page, like a CDN that cached a missing content file."""
    body = _NOT_FOUND_HTML.encode()
    return Action("404", lambda ex: ex.send_bytes(404, "text/html; charset=utf-8", body))


def delayed(seconds: float, then: Action | None = None) -> Action:
    """Wait `seconds` before answering with `then` (default: the normal answer).

    The wait ends early when the server stops, so a test never hangs on it.
    """
    follow = then or default()

    def run(ex: _Exchange) -> None:
        if not ex.stopping.wait(seconds):
            follow.run(ex)

    return Action(f"delay {seconds}s then {follow.name}", run)


def slow_body(chunk_size: int = 16_384, interval: float = 0.05) -> Action:
    """The normal answer, streamed `chunk_size` bytes every `interval` s (cancel mid-way)."""
    return Action(
        f"slow {chunk_size}B/{interval}s",
        lambda ex: ex.send_default(chunk=chunk_size, interval=interval),
    )


def truncated(send_bytes: int | None = None, *, fraction: float = 0.5) -> Action:
    """Announce the full Content-Length, send only part of the body, then close."""

    def run(ex: _Exchange) -> None:
        _, _, _, length = ex.default_body()
        limit = send_bytes if send_bytes is not None else int(length * fraction)
        ex.send_default(limit=min(limit, max(length - 1, 0)))

    return Action("truncated", run)


def corrupt(size: int | None = None, *, seed: int = 0) -> Action:
    """HTTP 200 with garbage bytes (default: as long as the normal body) and a true length."""

    def run(ex: _Exchange) -> None:
        n = size if size is not None else max(ex.default_body()[3], 64)
        data = random.Random(seed).randbytes(n)
        ex.send_bytes(200, "application/octet-stream", data)

    return Action("corrupt", run)


def gzip_encoded(*, when_asked_only: bool = True) -> Action:
    """The normal answer gzip-compressed on the fly with Content-Encoding: gzip and the
    compressed Content-Length, as a CDN does for a client that accepts gzip (or for every
    client, with when_asked_only=False)."""

    def run(ex: _Exchange) -> None:
        accepted = (ex.record.header("Accept-Encoding") or "").lower()
        if when_asked_only and "gzip" not in accepted:
            ex.send_default()
            return
        status, content_type, chunks, _ = ex.default_body()
        body = gzip.compress(b"".join(chunks()), compresslevel=1)
        h = ex.handler
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        ex.record.status = status
        ex.write(body)
        ex.record.completed = True

    return Action("gzip", run)


def without_length() -> Action:
    """The normal answer without Content-Length, ended by closing the connection (HTTP/1.0),
    as a streaming CDN sends it: the client cannot know the size before it writes."""

    def run(ex: _Exchange) -> None:
        status, content_type, chunks, _length = ex.default_body()
        ex.send_head(status, content_type, None)
        for piece in chunks():
            ex.write(piece)
        ex.handler.close_connection = True
        ex.record.completed = True

    return Action("without length", run)


def disconnect() -> Action:
    """Close the connection without sending anything."""

    def run(ex: _Exchange) -> None:
        ex.handler.close_connection = True
        ex.record.status = None

    return Action("disconnect", run)


# --------------------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeBungie/1.0"
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.server.owner._handle(self)  # type: ignore[attr-defined]

    def do_HEAD(self) -> None:
        self.server.owner._handle(self)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; requests are recorded instead."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins handler threads: no leaks between tests
    block_on_close = True

    def __init__(self, owner: BungieServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-answer are expected; anything else is recorded."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        self.owner.errors.append(exc if isinstance(exc, BaseException) else RuntimeError("?"))

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        self.owner._track(request, True)
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.owner._track(request, False)


@dataclass
class _Queued:
    route: str
    action: Action


class BungieServer:
    """Fake www.bungie.net on 127.0.0.1:<free port>; use as a context manager.

    State is set per test: set_manifest()/publish() choose what the manifest says and which
    files are served; queue() scripts one-shot answers; `requests` records every request.
    `api_key`, when set, makes the manifest endpoint answer 2102/2101 to a missing/wrong key.
    """

    def __init__(self, *, api_key: str | None = None, use_reference: bool = True) -> None:
        self.api_key = api_key
        # True: any .png under /common/destiny2_content/icons/ not served otherwise answers a
        # PNG of a colour taken from its path (generated manifests name random icons).
        self.any_icon = False
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._queue: list[_Queued] = []
        self._files: dict[str, Path | bytes] = {}
        self._cache_404: dict[str | None, int] = {}
        self._version_counter = 0
        reference = _reference_response() if use_reference else None
        self._response: dict[str, Any] = reference or _builtin_response(DEFAULT_VERSION)
        self._response["version"] = DEFAULT_VERSION
        self._response["mobileWorldContentPaths"] = placeholder_paths(DEFAULT_VERSION)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle

    def start(self) -> BungieServer:
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-bungie"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake sleeping scripts, cut open connections, join all threads."""
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

    def __enter__(self) -> BungieServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port> — the stand-in for https://www.bungie.net."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def manifest_url(self) -> str:
        return self.url(MANIFEST_PATH)

    def url(self, path: str) -> str:
        return self.base_url + path

    # ----- what is served

    @property
    def version(self) -> str:
        return str(self._response["version"])

    @property
    def content_paths(self) -> dict[str, str]:
        """The current mobileWorldContentPaths."""
        return dict(self._response["mobileWorldContentPaths"])

    def manifest_response(self) -> dict[str, Any]:
        """A copy of the DestinyManifest the endpoint currently returns."""
        with self._lock:
            return copy.deepcopy(self._response)

    def envelope(self) -> dict[str, Any]:
        """The full success envelope the manifest endpoint currently returns."""
        return {
            "Response": self.manifest_response(),
            "ErrorCode": 1,
            "ThrottleSeconds": 0,
            "ErrorStatus": "Success",
            "Message": "Ok",
            "MessageData": {},
        }

    def serve(self, path: str, content: Path | bytes) -> str:
        """Serve `content` (a file, streamed from disk, or bytes) at `path`; returns its URL."""
        if not path.startswith("/"):
            raise ValueError("path must start with /")
        with self._lock:
            self._files[path] = content if isinstance(content, bytes) else Path(content)
        return self.url(path)

    def serve_icon(self, name: str, colour: tuple[int, int, int] = (40, 110, 200)) -> str:
        """Serve a small PNG at /common/destiny2_content/icons/<name> (a definition's
        displayProperties.icon); returns that path. 404/500/no answer: queue() on the path."""
        path = ICON_PREFIX + name
        self.serve(path, png_image(colour))
        return path

    def unserve(self, path: str) -> None:
        with self._lock:
            self._files.pop(path, None)

    def set_manifest(
        self,
        *,
        version: str,
        paths: Mapping[str, str] | None = None,
        files: Mapping[str, Path | bytes] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Set what the manifest endpoint says.

        `paths` replaces mobileWorldContentPaths entirely ({lang: path}); None keeps it.
        `files` maps paths to content served from now on; `extra` overrides other fields.
        """
        with self._lock:
            self._response["version"] = version
            if paths is not None:
                self._response["mobileWorldContentPaths"] = dict(paths)
            for key, value in (extra or {}).items():
                self._response[key] = copy.deepcopy(value)
            for path, content in (files or {}).items():
                self.serve(path, content)

    def publish(
        self,
        content_file: Path,
        *,
        version: str | None = None,
        languages: Iterable[str] = ("en",),
        path: str | None = None,
    ) -> dict[str, str]:
        """Release `content_file` (a .content zip) for `languages`; returns {lang: path}.

        The path is /common/destiny2_content/sqlite/<lang>/<file name> (or `path`); other
        languages keep their current paths. version=None picks a new unique version string.
        """
        content_file = Path(content_file)
        if version is None:
            self._version_counter += 1
            n = self._version_counter
            version = f"{100000 + n}.26.07.{n % 28 + 1:02d}.1200-{n}-bnet.{60000 + n}"
        with self._lock:
            paths = dict(self._response["mobileWorldContentPaths"])
            published = {}
            for lang in languages:
                lang_path = path or f"/common/destiny2_content/sqlite/{lang}/{content_file.name}"
                self.serve(lang_path, content_file)
                paths[lang] = published[lang] = lang_path
            self.set_manifest(version=version, paths=paths)
        return published

    # ----- scripting

    def queue(self, *actions: Action, route: str = "manifest", times: int = 1) -> None:
        """Queue one-shot answers for the next requests on `route`, `times` over.

        route: "manifest" (/Platform/...), "content" (/common/...), "*" (any) or an exact
        path (query string ignored). Unqueued requests get the default answer.
        """
        with self._lock:
            for _ in range(times):
                self._queue.extend(_Queued(route, action) for action in actions)

    def fail_content_until_cache_busted(self, times: int = 1, path: str | None = None) -> None:
        """404 for the next `times` content requests without a query string.

        Like a CDN that cached the 404 of a just-released file: requests with any query
        string (a cache-busting parameter) get the file. `path` limits it to one file.
        """
        with self._lock:
            self._cache_404[path] = self._cache_404.get(path, 0) + times

    def pending(self) -> list[str]:
        """Names of queued actions not consumed yet (assert it is empty at the end)."""
        with self._lock:
            return [f"{q.route}: {q.action.name}" for q in self._queue]

    def clear_queue(self) -> None:
        with self._lock:
            self._queue.clear()
            self._cache_404.clear()

    # ----- inspection

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests for `path` (query string ignored); "content" = all content files."""
        with self._lock:
            if path == "content":
                return [r for r in self.requests if r.path.startswith(CONTENT_PREFIX)]
            return [r for r in self.requests if r.path == path]

    @property
    def manifest_requests(self) -> list[RecordedRequest]:
        return self.requests_to(MANIFEST_PATH)

    @property
    def content_requests(self) -> list[RecordedRequest]:
        return self.requests_to("content")

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being answered (records are then final)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    # ----- internals

    def _track(self, conn: socket.socket, opened: bool) -> None:
        with self._lock:
            if opened:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    @staticmethod
    def _matches(route: str, path: str) -> bool:
        if route == "*":
            return True
        if route == "manifest":
            return path.startswith("/Platform/")
        if route == "content":
            return path.startswith(CONTENT_PREFIX)
        return route == path

    def _take_action(self, record: RecordedRequest) -> Action | None:
        with self._lock:
            if record.path.startswith(CONTENT_PREFIX) and not record.query:
                for key in (record.path, None):
                    if self._cache_404.get(key, 0) > 0:
                        self._cache_404[key] -= 1
                        return not_found()
            for i, queued in enumerate(self._queue):
                if self._matches(queued.route, record.path):
                    del self._queue[i]
                    return queued.action
        return None

    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        record = RecordedRequest(
            method=handler.command,
            path=split.path,
            query=split.query,
            headers=dict(handler.headers.items()),
            time=time.monotonic(),
        )
        with self._lock:
            self.requests.append(record)
            self._in_flight += 1
        try:
            action = self._take_action(record) or default()
            record.action = action.name
            action.run(_Exchange(handler, record))
        except (ConnectionError, TimeoutError):
            handler.close_connection = True
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _default_body(
        self, record: RecordedRequest
    ) -> tuple[int, str, Callable[[], Iterator[bytes]], int]:
        def of_bytes(data: bytes) -> Callable[[], Iterator[bytes]]:
            return lambda: iter((data,))

        if record.path == MANIFEST_PATH:
            key = record.api_key
            if self.api_key is not None and not key:
                return self._envelope_body(2102)
            if self.api_key is not None and key != self.api_key:
                return self._envelope_body(2101)
            body = json.dumps(self.envelope()).encode()
            return 200, "application/json; charset=utf-8", of_bytes(body), len(body)
        with self._lock:
            content = self._files.get(record.path)
        if isinstance(content, bytes):
            kind = "image/png" if content.startswith(_PNG_MAGIC) else "application/octet-stream"
            return 200, kind, of_bytes(content), len(content)
        if isinstance(content, Path) and content.is_file():
            file = content

            def read() -> Iterator[bytes]:
                with open(file, "rb") as f:
                    yield from iter(lambda: f.read(1 << 16), b"")

            return 200, "application/octet-stream", read, os.path.getsize(file)
        if self.any_icon and record.path.startswith(ICON_PREFIX) and record.path.endswith(".png"):
            digest = hashlib.sha256(record.path.encode()).digest()
            icon = png_image((digest[0], digest[1], digest[2]), 48)
            return 200, "image/png", of_bytes(icon), len(icon)
        body = _NOT_FOUND_HTML.encode()
        return 404, "text/html; charset=utf-8", of_bytes(body), len(body)

    def _envelope_body(self, code: int) -> tuple[int, str, Callable[[], Iterator[bytes]], int]:
        body = json.dumps(
            {
                "ErrorCode": code,
                "ThrottleSeconds": 0,
                "ErrorStatus": ERROR_STATUS[code],
                "Message": _MESSAGES[code],
                "MessageData": {},
            }
        ).encode()
        return 401, "application/json; charset=utf-8", lambda: iter((body,)), len(body)
