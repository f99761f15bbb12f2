"""Fixtures for the window tests: an in-memory keyring, the Application wired to the fake
Bungie.net and a real PostgreSQL, a real S3 API (moto's server on 127.0.0.1, never AWS) for the
archive, and helpers to wait for jobs.

Jobs are awaited through Application.jobFinished, which is emitted in the GUI thread (waiting on
a worker thread's own signals trips pytest-qt's killTimer warning, see platform notes).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import keyring.errors
import psycopg
import pytest
from keyring.backend import KeyringBackend
from moto.server import ThreadedMotoServer
from PySide6.QtCore import QSettings

from manifest_gui.app import Application
from manifest_gui.engine import archive
from manifest_gui.engine.bungie import BungieClient
from manifest_gui.engine.secrets import SecretStore
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from tests.archive.conftest import AWS_VARIABLES, DUMMY_KEY_ID, DUMMY_SECRET
from tests.support.bungie_server import BungieServer
from tests.support.manifest_factory import GeneratedManifest, ManifestFactory

JOB_TIMEOUT_MS = 60_000
# The offscreen platform says so when a window is shown or raised: not a problem of the app.
OFFSCREEN_LIMITS = r"^This plugin does not support (propagateSizeHints|raise|requestActivate)\(\)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/gui/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_LIMITS))


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in this process only: tests never touch the user's keyring."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.passwords[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(username) from None


# keyring registers every backend class for its automatic choice; this one is only ever passed
# explicitly, and must not join the OS keyring's chain in the real-keyring test.
KeyringBackend._classes.discard(MemoryKeyring)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def secrets(memory_keyring: MemoryKeyring) -> SecretStore:
    return SecretStore(memory_keyring)


def quick_service(settings: Settings, secrets: SecretStore) -> ManifestService:
    """The real service with a Bungie client that retries fast (errors show in seconds)."""

    def bungie(settings: Settings, api_key: str | None) -> BungieClient:
        return BungieClient(settings.bungie_root, api_key, attempts=2, backoff=0.01, timeout=10)

    return ManifestService(settings, secrets, bungie_factory=bungie)


@dataclass
class AppFactory:
    """Builds Applications for a test and shuts them all down (threads joined) at teardown."""

    qtbot: Any
    tmp_path: Path
    secrets: SecretStore
    apps: list[Application]

    def __call__(
        self,
        *,
        database_url: str | None = "postgresql://nobody@127.0.0.1:1/none",
        bungie_root: str = "http://127.0.0.1:1",
        service_factory: Callable[[Settings, SecretStore], ManifestService] = quick_service,
        tray: bool = False,
        start: bool = True,
        **changes: Any,
    ) -> Application:
        settings = Settings(
            database_url=database_url,
            bungie_root=bungie_root,
            data_dir=str(self.tmp_path / "data"),
            **changes,
        )
        app = Application(
            settings,
            secrets=self.secrets,
            service_factory=service_factory,
            settings_path=self.settings_path,
            state=self.state(),
            tray=tray,
        )
        self.apps.append(app)
        self.qtbot.addWidget(app.window)
        if start:
            app.start(hidden=False, startup_job=None)
        return app

    @property
    def settings_path(self) -> Path:
        return self.tmp_path / "config" / "settings.json"

    def state(self) -> QSettings:
        return QSettings(str(self.tmp_path / "window.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_app(qtbot: Any, tmp_path: Path, secrets: SecretStore) -> Iterator[AppFactory]:
    factory = AppFactory(qtbot, tmp_path, secrets, [])
    yield factory
    for app in factory.apps:
        app.shutdown()
        assert not app.runner.busy, "a worker thread outlived its test"


def run_job(qtbot: Any, app: Application, start: Callable[[], object]) -> tuple[str, str]:
    """Start a job (e.g. a click) and wait until the runner is free; (kind, outcome)."""
    with qtbot.waitSignal(app.jobFinished, timeout=JOB_TIMEOUT_MS) as blocker:
        start()
    kind, outcome = blocker.args
    return str(kind), str(outcome)


@dataclass
class Published:
    manifest: GeneratedManifest
    content: Path
    version: str
    path: str


@pytest.fixture
def published(bungie_server: BungieServer, manifest_factory: ManifestFactory) -> Published:
    """A small manifest released on the fake Bungie.net as the current English one."""
    manifest = manifest_factory.generate(seed=3, rows=1500)
    content = manifest_factory.content_file(manifest)
    paths = bungie_server.publish(content)
    return Published(manifest, content, bungie_server.version, paths["en"])


def db_state(url: str) -> tuple[list[tuple[Any, ...]], int]:
    """(versions, live rows): what a cancelled or failed job must leave unchanged."""
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('manifest.t_manifest_version')").fetchone()
        if not exists or exists[0] is None:
            return [], 0
        versions = conn.execute(
            "SELECT manifest_id, version, current FROM manifest.t_manifest_version "
            "ORDER BY manifest_id"
        ).fetchall()
        (rows,) = conn.execute(
            "SELECT count(*) FROM manifest.t_manifest WHERE deleted IS NULL"
        ).fetchone() or (0,)
        return versions, int(rows)


# --------------------------------------------------------------------------- S3 (archive)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """http://127.0.0.1:<port> of one moto S3 server (a real S3 HTTP API) for the session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, empty AWS config files, no metadata service, one attempt per call:
    nothing on the machine (a real ~/.aws, an instance role) can leak in."""
    for name in AWS_VARIABLES:
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
    monkeypatch.setattr(archive, "ATTEMPTS", 1)


@pytest.fixture
def s3_bucket(moto_endpoint: str, aws_environment: None) -> str:
    """A fresh, empty bucket on the moto server."""
    name = f"manifest-gui-{uuid.uuid4().hex[:16]}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    client.close()
    return name


class _SlowDenyingHandler(BaseHTTPRequestHandler):
    """Answers like S3 for credentials without permission, but only after a delay."""

    delay = 2.0
    stopping: threading.Event
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Access Denied</Message><RequestId>TEST</RequestId></Error>"
    )

    def _deny(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.stopping.wait(self.delay)
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _deny

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def slow_s3_endpoint(aws_environment: None) -> Iterator[str]:
    """An S3-like endpoint on 127.0.0.1 that takes 2 s to deny each request (a slow link)."""
    stopping = threading.Event()
    handler = type("Handler", (_SlowDenyingHandler,), {"stopping": stopping})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stopping.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
