"""Fixtures for the archive tests: a real S3 API (moto's server) on 127.0.0.1, never AWS.

Why a server and not moto's in-process mock: the engine's real boto3 client, its retries,
multipart transfers and error parsing must go over HTTP exactly as they would to S3 or MinIO.
Every test gets its own bucket, dummy credentials and empty AWS config files, so nothing on
the machine (a real ~/.aws, an instance role) can leak in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from keyring.backend import KeyringBackend
from moto.server import ThreadedMotoServer

from manifest_gui.engine import archive
from manifest_gui.engine.progress import ProgressEvent
from manifest_gui.engine.secrets import SecretStore
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from tests.support.bungie_server import BungieServer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
DUMMY_KEY_ID = "AKIAMANIFESTGUITEST1"
DUMMY_SECRET = "manifest-gui-dummy-secret-never-shown"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """http://127.0.0.1:<port> of one moto S3 server for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Dummy credentials in the environment, empty AWS config files, no metadata service.

    Returns the folder holding the (empty) config and credentials files."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in (
        "MANIFEST_GUI_S3_BUCKET",
        "MANIFEST_GUI_S3_PREFIX",
        "MANIFEST_GUI_S3_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "aws"
    folder.mkdir()
    (folder / "config").write_text("")
    (folder / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
    # A refused endpoint is retried with backoff; one attempt keeps failure tests quick.
    monkeypatch.setattr(archive, "ATTEMPTS", 1)
    return folder


@pytest.fixture
def s3(moto_endpoint: str, aws_environment: Path) -> Iterator[S3Client]:
    """A plain boto3 client on the moto server, to set up and inspect buckets."""
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    yield client
    client.close()


@pytest.fixture
def bucket(s3: S3Client) -> str:
    """A fresh, empty bucket (the moto server lives for the session)."""
    name = f"manifest-gui-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def settings(tmp_path: Path, bucket: str, moto_endpoint: str) -> Settings:
    return Settings(
        data_dir=str(tmp_path / "data"),
        s3_bucket=bucket,
        s3_endpoint_url=moto_endpoint,
    )


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> int:
    """Multipart from 5 MiB (S3's smallest part) so tests exercise it with small files."""
    size = 5 << 20
    monkeypatch.setattr(archive, "MULTIPART_THRESHOLD", size)
    monkeypatch.setattr(archive, "MULTIPART_CHUNK", size)
    return size


def random_file(path: Path, size: int, seed: int = 0) -> Path:
    """`size` bytes that do not compress, quickly (repeated random 64 KiB block + counter)."""
    block = os.urandom(1 << 16) if seed == 0 else uuid.UUID(int=seed).bytes * 4096
    with open(path, "wb") as out:
        written = 0
        n = 0
        while written < size:
            piece = (n.to_bytes(8, "big") + block)[: size - written]
            out.write(piece)
            written += len(piece)
            n += 1
    return path


class _DenyingHandler(BaseHTTPRequestHandler):
    """Answers every request like S3 does for credentials without permission."""

    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Access Denied</Message><RequestId>TEST</RequestId></Error>"
    )

    def _deny(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _deny

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _loopback_endpoint(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def denying_endpoint() -> Iterator[str]:
    """An S3-like endpoint on 127.0.0.1 that denies everything (moto enforces no IAM)."""
    with _loopback_endpoint(_DenyingHandler) as url:
        yield url


class _DroppingHandler(BaseHTTPRequestHandler):
    """Knows one object, and drops every download of it halfway (a flaky network)."""

    size = 50_000
    protocol_version = "HTTP/1.1"

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(self.size))
        self.send_header("Last-Modified", "Sat, 28 Nov 2026 12:00:00 GMT")
        self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
        self.send_header("x-amz-meta-version", "v1")
        self.send_header("x-amz-meta-content-path", "/p/world_sql_content_drop.content")
        self.send_header("x-amz-meta-sha256", "0" * 64)
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(self.size))
        self.send_header("Last-Modified", "Sat, 28 Nov 2026 12:00:00 GMT")
        self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
        self.end_headers()
        self.wfile.write(b"x" * 1000)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def dropping_endpoint() -> Iterator[str]:
    """An S3-like endpoint on 127.0.0.1 whose downloads always break off."""
    with _loopback_endpoint(_DroppingHandler) as url:
        yield url


class _SlowAnswerProxy(BaseHTTPRequestHandler):
    """Passes every request on to moto; a PUT's answer comes back a second late, as over a
    slow link: the object is stored while the client still waits (and may cancel)."""

    target = ""  # moto's "host:port", set per fixture
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection(self.target, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        upstream.request(self.command, self.path, body=body, headers=headers)
        reply = upstream.getresponse()
        data = reply.read()
        if self.command == "PUT":
            time.sleep(1.0)
        self.send_response(reply.status)
        for name, value in reply.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        upstream.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def slow_answer_endpoint(moto_endpoint: str) -> Iterator[str]:
    """moto behind a proxy on 127.0.0.1 that delays the answers to uploads."""
    handler = type("Proxy", (_SlowAnswerProxy,), {"target": moto_endpoint.split("//", 1)[1]})
    with _loopback_endpoint(handler) as url:
        yield url


class MemoryKeyring(KeyringBackend):
    """An in-memory keyring: the OS keyring is not the subject of these tests."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


@pytest.fixture
def service_settings(
    settings: Settings,
    database_url: str,
    bungie_server: BungieServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """Settings for a ManifestService on a fresh database, the fake Bungie and the bucket."""
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "test-api-key")
    return dataclasses.replace(
        settings, database_url=database_url, bungie_root=bungie_server.base_url
    )


def make_service(settings: Settings) -> ManifestService:
    return ManifestService(settings, SecretStore(MemoryKeyring()))


def record_messages(messages: list[str]) -> Callable[[ProgressEvent], None]:
    """A progress listener that keeps the messages."""

    def listener(event: ProgressEvent) -> None:
        if event.message:
            messages.append(event.message)

    return listener
