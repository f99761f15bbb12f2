"""Settings, secrets, the schema files, the embedded server, and the engine's independence of Qt."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keyring.backend
import keyring.backends.fail
import pytest

from manifest_gui.engine.database import connect, ensure_schema, migrations
from manifest_gui.engine.errors import (
    ConfigurationError,
    DatabaseUnavailableError,
    SecretStoreError,
)
from manifest_gui.engine.secrets import SecretStore
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import (
    Settings,
    load_settings,
    save_settings,
    settings_file,
    strip_password,
)
from tests.support import skip_or_fail
from tests.support.memory_keyring import MemoryKeyring
from tests.support.postgres import DebianPostgres15, PostgresServer
from tests.support.processes import run_cli

REPO = Path(__file__).resolve().parents[2]


def test_engine_imports_no_qt() -> None:
    code = (
        "import sys, manifest_gui.cli, manifest_gui.engine.service, manifest_gui.engine.loader, "
        "manifest_gui.engine.bungie, manifest_gui.engine.extract, manifest_gui.engine.settings, "
        "manifest_gui.engine.secrets, manifest_gui.engine.database, manifest_gui.engine.embedded\n"
        "import pkgutil, importlib, manifest_gui.engine as e\n"
        "for m in pkgutil.iter_modules(e.__path__, e.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        "qt = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'PyQt')))\n"
        "print(qt)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.stdout.strip() == "[]"


def test_settings_file_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MANIFEST_GUI_DATA_DIR")
    assert load_settings() == Settings()
    save_settings(
        Settings(
            language="fr",
            poll_minutes=5,
            database_url="postgresql://admin:hunter2@db.example/destiny",
        )
    )
    text = settings_file().read_text()
    assert "hunter2" not in text  # never a password in the file
    loaded = load_settings()
    assert (loaded.language, loaded.poll_minutes) == ("fr", 5)
    assert loaded.database_url == "postgresql://admin@db.example/destiny"

    monkeypatch.setenv("MANIFEST_GUI_LANGUAGE", "de")
    monkeypatch.setenv("MANIFEST_GUI_BUNGIE_ROOT", "http://127.0.0.1:9")
    overridden = load_settings()
    assert overridden.language == "de" and overridden.bungie_root == "http://127.0.0.1:9"
    assert overridden.from_environment == {"language", "bungie_root"}
    save_settings(overridden)  # the override is not written back
    assert json.loads(settings_file().read_text())["language"] == "fr"


def test_unreadable_settings_fall_back_to_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MANIFEST_GUI_DATA_DIR")
    settings_file().parent.mkdir(parents=True, exist_ok=True)
    settings_file().write_text("{not json")
    assert load_settings() == Settings()


def test_invalid_settings_are_sentences() -> None:
    with pytest.raises(ConfigurationError, match="'English' is not a language code"):
        Settings(language="English").validated()
    # Any key Bungie.net may list is accepted; one it does not list fails at check time.
    assert Settings(language="zh-chs").validated().language == "zh-chs"
    assert Settings(language="xx-new").validated().language == "xx-new"
    with pytest.raises(ConfigurationError, match="is not a web address"):
        Settings(bungie_root="ftp://x").validated()
    for root in ("http://[::1", "https://", "http://h:port"):
        with pytest.raises(ConfigurationError, match="is not a web address"):
            Settings(bungie_root=root).validated()
    assert Settings(bungie_root="http://[::1]:8080/").validated()


def test_strip_password() -> None:
    assert strip_password("postgresql://u:p@h:5/d?sslmode=require") == (
        "postgresql://u@h:5/d?sslmode=require"
    )
    assert "secret" not in strip_password("host=h user=u password=secret dbname=d")
    assert strip_password("postgresql://u@h/d?password=secret&sslmode=require") == (
        "postgresql://u@h/d?sslmode=require"
    )
    assert strip_password("postgresql://u:p@h/d?password=secret") == "postgresql://u@h/d"
    # URLs that urllib cannot parse still lose their password.
    assert strip_password("postgresql://u:pw@[::1/x") == "postgresql://u@[::1/x"
    assert strip_password("postgresql://u:p@h:99999/d?password=s&a=b") == (
        "postgresql://u@h:99999/d?a=b"
    )


def test_secret_store_round_trip_and_session_only(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryKeyring()
    store = SecretStore(backend)
    assert store.keyring_available()
    assert store.api_key() is None
    store.set_api_key("  abc123 ")
    assert backend.data == {("manifest-gui", "bungie-api-key"): "abc123"}
    assert store.api_key() == "abc123"
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "from-env\n")  # e.g. $(cat key.txt)
    assert store.api_key() == "from-env"
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "  ")
    assert store.api_key() == "abc123"
    monkeypatch.delenv("MANIFEST_GUI_API_KEY")
    backend.data[("manifest-gui", "bungie-api-key")] = "pasted-by-another-tool\r\n"
    assert store.api_key() == "pasted-by-another-tool"
    store.delete_api_key()
    store.delete_api_key()  # deleting nothing is fine
    assert store.api_key() is None


def test_keyring_name_is_the_backend_that_stores_the_key() -> None:
    import keyring.backends.chainer

    memory = MemoryKeyring()
    assert SecretStore(memory).backend_name() == memory.name

    class Chained(keyring.backends.chainer.ChainerBackend):
        backends = [memory, keyring.backends.fail.Keyring()]  # noqa: RUF012

    # Settings says where the key goes, not "chainer".
    assert SecretStore(Chained()).backend_name() == memory.name


def test_no_keyring_says_so_and_offers_this_run_only() -> None:
    store = SecretStore(keyring.backends.fail.Keyring())
    assert not store.keyring_available()
    assert store.api_key() is None
    with pytest.raises(SecretStoreError, match="No OS keyring"):
        store.set_api_key("abc")
    store.set_api_key("abc", session_only=True)
    assert store.api_key() == "abc" and store.is_session_only("bungie-api-key")


def test_database_password_comes_from_the_keyring() -> None:
    from psycopg.conninfo import conninfo_to_dict

    from manifest_gui.engine.secrets import database_entry

    store = SecretStore(MemoryKeyring())
    url = "postgresql://loader@db.example:5433/destiny"
    service = ManifestService(Settings(database_url=url), store)
    assert service.database_url() == url  # nothing stored: unchanged
    store.set(database_entry(url), "pa ss'word")
    assert conninfo_to_dict(service.database_url())["password"] == "pa ss'word"


def test_schema_files_apply_once_and_in_order(database_url: str) -> None:
    names = [name for _, name, _ in migrations()]
    assert names == sorted(names) and names[0] == "001_schema.sql"
    with connect(database_url) as conn:
        assert ensure_schema(conn) == names
        conn.commit()
        assert ensure_schema(conn) == []
        recorded = conn.execute(
            "SELECT name FROM manifest.t_schema_version ORDER BY version"
        ).fetchall()
    assert [row[0] for row in recorded] == names


def test_manifest_json_is_stored_with_lz4_where_the_server_has_it(
    pg_server: PostgresServer, database_url: str
) -> None:
    # 003 asks for LZ4 because pglz made a first load ~35% slower on Debian's PostgreSQL 15
    # (built with LZ4); the embedded server is built without it and keeps pglz, no error.
    with connect(database_url) as conn:
        ensure_schema(conn)
        (has_lz4,) = conn.execute(
            "SELECT 'lz4' = ANY (enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'"
        ).fetchone()  # type: ignore[misc]
        methods = conn.execute(
            """SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute
                WHERE attrelid IN ('manifest.t_manifest'::regclass,
                                   'manifest.t_manifest_stage'::regclass,
                                   'manifest.t_manifest_history'::regclass)
                  AND attname IN ('json', 'json_before') ORDER BY 1"""
        ).fetchall()
    expected = "l" if has_lz4 else ""
    assert methods == [
        ("manifest.t_manifest", "json", expected),
        ("manifest.t_manifest_history", "json_before", expected),
        ("manifest.t_manifest_stage", "json", expected),
    ]
    if isinstance(pg_server, DebianPostgres15):
        assert has_lz4, "Debian's PostgreSQL 15 is built with LZ4"


def test_install_sql_by_hand_with_psql(pg_server: PostgresServer, database_url: str) -> None:
    psql = shutil.which("psql")
    if psql is None:
        skip_or_fail("psql is not installed (Debian: postgresql-client)")
    for _ in range(2):  # idempotent
        done = subprocess.run(
            [
                psql,
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                database_url,
                "-f",
                "sql/install.sql",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    with connect(database_url) as conn:
        assert ensure_schema(conn) == []  # the app sees what psql applied
        assert conn.execute("SELECT count(*) FROM manifest.fn_load_manifest(0)").fetchone()


def _postgres_running(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def test_embedded_database_starts_stops_and_recovers_after_a_kill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = dict(os.environ, MANIFEST_GUI_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO))
    env.pop("MANIFEST_GUI_DATABASE_URL", None)
    pgdata = data_dir / "postgres" / "data"

    done = run_cli(env, "status", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["current"] is None
    assert _postgres_running(pgdata) is None  # stopped with the app

    # Kill a run while it holds the server: postgres keeps running with a stale handle.
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from manifest_gui.engine.embedded import EmbeddedPostgres\n"
        f"EmbeddedPostgres(Path({str(data_dir / 'postgres')!r})).start()\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n"
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    assert killed.stdout is not None and killed.stdout.readline().strip() == "started"
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)
    killed.stdout.close()
    leaked = _postgres_running(pgdata)
    assert leaked is not None

    done = run_cli(env, "status", "--json")
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 15
    while _postgres_running(pgdata) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _postgres_running(pgdata) is None  # the leaked server was reused, then stopped


def test_two_processes_starting_on_a_fresh_data_dir_both_succeed(tmp_path: Path) -> None:
    # Two windows, or a window and a cron job, opened at once on a new machine: one runs
    # initdb, the other waits for it and then shares the server.
    data_dir = tmp_path / "data"
    env = dict(os.environ, MANIFEST_GUI_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO))
    env.pop("MANIFEST_GUI_DATABASE_URL", None)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "manifest_gui", "status", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for run in runs:
        out, err = run.communicate(timeout=180)
        assert run.returncode == 0, err
        assert json.loads(out)["current"] is None
    deadline = time.monotonic() + 15
    while _postgres_running(data_dir / "postgres" / "data") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _postgres_running(data_dir / "postgres" / "data") is None


def test_threads_asking_for_the_embedded_database_share_one_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The window's job thread and the viewer's query threads ask at the same time.
    import threading

    from manifest_gui.engine import service as service_module
    from manifest_gui.engine.embedded import EmbeddedPostgres

    created: list[EmbeddedPostgres] = []

    class CountedEmbeddedPostgres(EmbeddedPostgres):
        def __init__(self, folder: Path) -> None:
            super().__init__(folder)
            created.append(self)

    monkeypatch.setattr(service_module, "EmbeddedPostgres", CountedEmbeddedPostgres)
    pgdata = tmp_path / "data" / "postgres" / "data"
    service = ManifestService(Settings(data_dir=str(tmp_path / "data")))
    start = threading.Barrier(4)
    urls: list[str] = []

    def ask() -> None:
        start.wait()
        urls.append(service.database_url())

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert len(urls) == 4 and len(set(urls)) == 1
        assert len(created) == 1
    finally:
        service.close()
    assert _postgres_running(pgdata) is None
    # A late caller (a viewer query in flight at a database switch) gets a sentence, and the
    # closed service's server stays stopped.
    with pytest.raises(DatabaseUnavailableError, match="previous database is closed"):
        service.database_url()
    assert _postgres_running(pgdata) is None and len(created) == 1


def test_connection_failures_read_as_sentences(database_url: str) -> None:
    from psycopg.conninfo import make_conninfo

    from manifest_gui.engine.database import connect
    from manifest_gui.engine.errors import DatabaseUnavailableError

    cases = {
        make_conninfo(database_url, dbname="nosuchdb"): 'Database "nosuchdb" does not exist.',
        "postgresql://u@127.0.0.1:abc/x": "the port is not a number.",
        "postgresql://u@127.0.0.1:1/x": "nothing answers there",
    }
    for url, ending in cases.items():
        with pytest.raises(DatabaseUnavailableError) as error:
            connect(url)
        text = str(error.value)
        assert ending in text and "FATAL" not in text and "\n" not in text, text
