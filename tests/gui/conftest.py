"""Fixtures for the window tests: an in-memory keyring, the Application wired to the fake
Bungie.net and a real PostgreSQL, and helpers to wait for jobs.

Jobs are awaited through Application.jobFinished, which is emitted in the GUI thread (waiting on
a worker thread's own signals trips pytest-qt's killTimer warning, see platform notes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring.errors
import psycopg
import pytest
from keyring.backend import KeyringBackend
from PySide6.QtCore import QSettings

from manifest_gui.app import Application
from manifest_gui.engine.bungie import BungieClient
from manifest_gui.engine.secrets import SecretStore
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
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

    priority = 1  # type: ignore[assignment]

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
KeyringBackend._classes.discard(MemoryKeyring)  # type: ignore[attr-defined]


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
