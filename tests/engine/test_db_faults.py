"""The database's own faults during a load, caused for real and run through the CLI: a reader
idle in its transaction, a server restarted under a streaming COPY, a session ended by an
administrator, the server's storage full. Each ends in success or in one `error:` line with
exit status 1 and the database as it was; either way the next load is exact."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from manifest_gui.engine.database import connect, ensure_schema, migrations
from manifest_gui.engine.db_errors import DatabaseTask, database_error, lock_wait_seconds
from manifest_gui.engine.errors import DatabaseUnavailableError
from manifest_gui.engine.loader import VIEW_TABLES
from manifest_gui.engine.secrets import SecretStore
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from tests.engine.test_load import assert_loaded, snapshot
from tests.support import skip_or_fail
from tests.support.manifest_factory import GeneratedManifest, ManifestFactory
from tests.support.memory_keyring import MemoryKeyring
from tests.support.postgres import (
    KINDS,
    PostgresServer,
    ServerUnavailable,
    start_server,
)
from tests.support.processes import run_cli

REPO = Path(__file__).resolve().parents[2]
LOCK_WAIT = "2"  # seconds: the tests' readers need no minute to prove the point


def cli_env(database_url: str) -> dict[str, str]:
    return dict(
        os.environ,
        MANIFEST_GUI_DATABASE_URL=database_url,
        MANIFEST_GUI_LOCK_TIMEOUT=LOCK_WAIT,
        PYTHONPATH=str(REPO),
    )


def load_cli(database_url: str, manifest: GeneratedManifest) -> subprocess.CompletedProcess[str]:
    return run_cli(cli_env(database_url), "load", "--file", str(manifest.path), timeout=300)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The failed run's `error:` line, after checking it is the only one and no traceback."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


@pytest.fixture(params=KINDS)
def private_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """A server of each kind of this test's own, which it may restart."""
    server = start_private(request.param)
    try:
        yield server
    finally:
        server.stop()


def start_private(kind: str) -> PostgresServer:
    try:
        return start_server(kind)
    except ServerUnavailable as exc:
        skip_or_fail(f"PostgreSQL {kind!r} is not available here: {exc}")


# --------------------------------------------------------------------------- locks


@contextmanager
def idle_reader(url: str, query: str, application_name: str) -> Iterator[int]:
    """A session that ran `query` and sits idle in its transaction (as pooled connections of
    bots and report tools do), holding the locks the query took; yields its pid."""
    with psycopg.connect(url, application_name=application_name) as reader:
        reader.execute(query)
        try:
            yield reader.info.backend_pid
        finally:
            reader.rollback()


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count(*) FROM manifest.mv_activity_definitions",
        "SELECT count(*) FROM manifest.t_manifest",
        "SELECT * FROM manifest.mv_class_definitions, manifest.mv_historical_stats_definitions",
    ],
    ids=["view", "table", "other-views"],
)
def test_a_changed_load_goes_ahead_beside_an_idle_reader(
    database_url: str, manifest_factory: ManifestFactory, query: str
) -> None:
    v1 = manifest_factory.generate(seed=601, rows=400)
    v2 = manifest_factory.generate(seed=602, version_of=v1, changed=0.5, deleted=0.1, added=0.1)
    assert v2.changes is not None
    touched = {table for table, _ in v2.changes.modified | v2.changes.deleted | v2.changes.added}
    assert set(VIEW_TABLES.values()) <= touched  # every view is refreshed
    assert load_cli(database_url, v1).returncode == 0
    with idle_reader(database_url, query, "report-bot"):
        done = load_cli(database_url, v2)
        assert done.returncode == 0, done.stderr
    assert_loaded(database_url, v2)
    with connect(database_url) as conn:
        hashes = [row[0] for row in conn.execute(
            "SELECT activity_hash FROM manifest.mv_activity_definitions ORDER BY 1"
        )]  # fmt: skip
    activities = v2.rows["DestinyActivityDefinition"] if v2.rows else {}
    assert hashes == sorted(obj["hash"] for obj in activities.values())


def assert_names_the_holder(line: str, pid: int, application_name: str) -> None:
    assert line.startswith(f"error: The load waited {LOCK_WAIT} s for a lock held by another")
    assert f'pid {pid}, application_name "{application_name}", idle in transaction since ' in line
    assert time.strftime("%Y-%m-%d", time.gmtime()) in line and " UTC" in line
    assert line.endswith("was rolled back; end that session's transaction and load again.")


def test_a_first_load_goes_ahead_beside_an_idle_reader(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    """A first load drops the empty table's indexes, which needs the table to itself; with a
    reader on it, it loads with the indexes in place instead of waiting."""
    v1 = manifest_factory.generate(seed=611, rows=300)
    with connect(database_url) as conn:
        ensure_schema(conn)
        conn.commit()
    query = "SELECT count(*) FROM manifest.vw_manifest_tables"
    with idle_reader(database_url, query, "nightly-report"):
        done = load_cli(database_url, v1)
        assert done.returncode == 0, done.stderr
    assert_loaded(database_url, v1)


def test_a_load_that_waits_for_a_lock_gives_up_and_names_the_holder(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    """A tool that holds the current version's row (SELECT ... FOR SHARE) idle in its
    transaction: the load must wait to make another version current, and gives up."""
    v1 = manifest_factory.generate(seed=612, rows=300)
    v2 = manifest_factory.generate(seed=613, version_of=v1)
    assert load_cli(database_url, v1).returncode == 0
    before = snapshot(database_url)
    query = "SELECT manifest_id FROM manifest.t_manifest_version WHERE current FOR SHARE"
    with idle_reader(database_url, query, "nightly-report") as pid:
        started = time.monotonic()
        done = load_cli(database_url, v2)
        waited = time.monotonic() - started
    assert_names_the_holder(one_error_line(done), pid, "nightly-report")
    assert waited < 30
    assert snapshot(database_url) == before
    # The reader has ended: the next load goes through, exactly.
    assert load_cli(database_url, v2).returncode == 0
    assert_loaded(database_url, v2)


def install_version_4(url: str) -> None:
    """A database as the previous release of the app left it: schema files 1 to 4."""
    with connect(url) as conn:
        conn.execute(
            """CREATE SCHEMA manifest; CREATE TABLE manifest.t_schema_version (
                   version integer PRIMARY KEY, name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        for number, name, sql in migrations():
            if number < 5:
                conn.execute(sql.encode())
                conn.execute(
                    "INSERT INTO manifest.t_schema_version VALUES (%s, %s)", (number, name)
                )
        conn.commit()


def test_an_upgrade_beside_an_idle_reader_gives_up_and_names_it(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    """A database of an older version, read by a report tool: the load that brings the new
    views must drop the old ones, which waits for the reader; it gives up and says who."""
    install_version_4(database_url)
    v1 = manifest_factory.generate(seed=621, rows=300)
    query = "SELECT count(*) FROM manifest.mv_activity_definitions"
    with idle_reader(database_url, query, "clan-bot") as pid:
        done = load_cli(database_url, v1)
    assert_names_the_holder(one_error_line(done), pid, "clan-bot")
    with connect(database_url) as conn:
        assert conn.execute("SELECT max(version) FROM manifest.t_schema_version").fetchone() == (4,)
    assert load_cli(database_url, v1).returncode == 0
    assert_loaded(database_url, v1)
    with connect(database_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM manifest.mv_activity_definitions WHERE activity_name IS NOT NULL"
        ).fetchone() == (v1.table_rows["DestinyActivityDefinition"],)


def test_status_beside_an_idle_reader_during_an_upgrade_gives_up_and_names_it(
    database_url: str,
) -> None:
    """The window's poll reads the database first: after an update of the app, that read
    upgrades the schema, which must not wait for ever on a reader either."""
    install_version_4(database_url)
    query = "SELECT count(*) FROM manifest.mv_class_definitions"
    with idle_reader(database_url, query, "clan-bot") as pid:
        done = run_cli(cli_env(database_url), "status")
    line = one_error_line(done)
    assert line.startswith(
        f"error: The schema upgrade waited {LOCK_WAIT} s for a lock held by another session "
        f'(pid {pid}, application_name "clan-bot", idle in transaction since '
    ), line
    assert line.endswith("was rolled back; end that session's transaction and try again.")
    assert run_cli(cli_env(database_url), "status").returncode == 0


# --------------------------------------------------------------------------- lost sessions


def wait_for_copy(url: str, deadline: float) -> int:
    """The pid of the session that streams the load's rows (into t_manifest or the stage)
    with COPY, once it does."""
    with psycopg.connect(url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY manifest.%%'"
                " AND state = 'active' AND datname = current_database()"
            ).fetchone()
            if row is not None:
                return int(row[0])
            time.sleep(0.02)
    raise AssertionError("the load never started copying")


def test_the_server_restarted_under_a_streaming_copy(
    private_server: PostgresServer, manifest_factory: ManifestFactory
) -> None:
    url = private_server.create_database()
    v1 = manifest_factory.generate(seed=631, rows=300)
    big = manifest_factory.generate(seed=632, rows=20000)
    assert load_cli(url, v1).returncode == 0
    before = snapshot(url)
    loader = subprocess.Popen(
        [sys.executable, "-m", "manifest_gui", "load", "--file", str(big.path)],
        env=cli_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_copy(url, time.monotonic() + 120)
        private_server.restart()
        out, err = loader.communicate(timeout=120)
    finally:
        if loader.poll() is None:
            loader.kill()
            loader.wait()
    line = one_error_line(subprocess.CompletedProcess(loader.args, loader.returncode, out, err))
    assert line.startswith("error: The database connection was lost during the load"), line
    assert line.endswith("the load was rolled back and the database keeps its previous version.")
    assert snapshot(url) == before
    assert load_cli(url, big).returncode == 0
    assert_loaded(url, big)


def memory_secrets() -> SecretStore:
    return SecretStore(MemoryKeyring())


def service_load_in_thread(
    service: ManifestService, path: Path
) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            service.load_file(path)
        except BaseException as exc:  # the test looks at it
            failures.append(exc)

    thread = threading.Thread(target=run, name="test-load")
    thread.start()
    return thread, failures


@pytest.mark.parametrize("fault", ["restart", "terminate"])
def test_the_same_service_loads_again_after_its_session_was_lost(
    private_server: PostgresServer, manifest_factory: ManifestFactory, fault: str
) -> None:
    """What the window's next poll does: the same service object, no restart of the app."""
    url = private_server.create_database()
    v1 = manifest_factory.generate(seed=641, rows=300)
    big = manifest_factory.generate(seed=642, rows=20000)
    service = ManifestService(Settings(database_url=url), memory_secrets())
    with service:
        service.load_file(v1.path)
        before = snapshot(url)
        thread, failures = service_load_in_thread(service, big.path)
        pid = wait_for_copy(url, time.monotonic() + 120)
        if fault == "restart":
            private_server.restart()
        else:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        thread.join(120)
        assert not thread.is_alive()
        assert len(failures) == 1 and isinstance(failures[0], DatabaseUnavailableError), failures
        assert str(failures[0]).startswith("The database connection was lost during the load")
        assert snapshot(url) == before
        assert service.load_file(big.path).loaded
    assert_loaded(url, big)


# --------------------------------------------------------------------------- storage


@contextmanager
def small_tmpfs(size: str, owner: str) -> Iterator[Path]:
    """A tmpfs of `size`, owned by `owner`; needs root (mount)."""
    if os.geteuid() != 0:
        skip_or_fail("mounting a small tmpfs for the database's storage needs root")
    folder = Path(tempfile.mkdtemp(prefix="manifest-gui-test-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        folder.rmdir()
        skip_or_fail(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        subprocess.run(["chown", owner, str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def test_a_full_database_storage_rolls_the_load_back(
    manifest_factory: ManifestFactory,
) -> None:
    v1 = manifest_factory.generate(seed=651, rows=300)
    big = manifest_factory.generate(seed=652, rows=12000)
    with small_tmpfs("6m", "postgres") as folder:
        server = start_private("pg15")
        try:
            url = server.create_database()
            assert load_cli(url, v1).returncode == 0
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f"CREATE TABLESPACE small_disk LOCATION '{folder}'")
                admin.execute("ALTER TABLE manifest.t_manifest SET TABLESPACE small_disk")
            before = snapshot(url)
            line = one_error_line(load_cli(url, big))
            assert line.startswith(
                f"error: The database server's storage (tablespace small_disk at {folder}) is full"
                ' (could not extend file "pg_tblspc/'
            ), line
            assert "No space left on device" in line, line
            assert line.endswith(
                "the load was rolled back and the database keeps its previous version."
            )
            assert snapshot(url) == before
            with psycopg.connect(url, autocommit=True) as admin:  # room again
                admin.execute("ALTER TABLE manifest.t_manifest SET TABLESPACE pg_default")
            assert load_cli(url, big).returncode == 0
            assert_loaded(url, big)
        finally:
            server.stop()


# --------------------------------------------------------------------------- the one mapper


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("", 60.0), ("2", 2.0), ("0.5", 0.5), ("0", 60.0), ("600", 60.0), ("soon", 60.0)],
)
def test_the_lock_bound_is_at_most_a_minute(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    """0 would mean no bound at all in PostgreSQL, and more than a minute is not allowed."""
    monkeypatch.setenv("MANIFEST_GUI_LOCK_TIMEOUT", value)
    assert lock_wait_seconds() == seconds


def test_the_reader_the_loader_and_the_viewer_word_a_failure_alike(database_url: str) -> None:
    """Real errors from the server, through the one mapper each caller uses."""
    with connect(database_url) as conn:
        conn.execute("SET statement_timeout = '50ms'")
        with pytest.raises(psycopg.errors.QueryCanceled) as stopped:
            conn.execute("SELECT pg_sleep(5)")
        conn.rollback()
        with pytest.raises(psycopg.errors.UndefinedTable) as missing:
            conn.execute("SELECT * FROM manifest.t_manifest")
        conn.rollback()
    for error in (stopped.value, missing.value):
        read = database_error(error, DatabaseTask.READ)
        query = database_error(error, DatabaseTask.QUERY)
        assert read is not None and str(read) == str(query)
    assert str(database_error(stopped.value, DatabaseTask.LOAD)) == (
        "Cancelled; the database was left as it was."
    )
    assert database_error(ValueError("a bug"), DatabaseTask.READ) is None
