"""The CLI end to end: real fake-Bungie server, real PostgreSQL, real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import psycopg.sql
import pytest

from manifest_gui import cli
from manifest_gui.engine.database import connect
from tests.support.bungie_server import BungieServer, error_envelope
from tests.support.manifest_factory import ManifestFactory
from tests.support.processes import run_cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def configured(
    monkeypatch: pytest.MonkeyPatch, database_url: str, bungie_server: BungieServer
) -> BungieServer:
    monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", database_url)
    monkeypatch.setenv("MANIFEST_GUI_BUNGIE_ROOT", bungie_server.base_url)
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "cli-test-key")
    return bungie_server


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_load_status_history(
    configured: BungieServer, manifest_factory: ManifestFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = manifest_factory.generate(seed=101, rows=700)
    paths = configured.publish(manifest_factory.content_file(v1), version="1.0")

    code, out, err = run(capsys, "check", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "remote": {"version": "1.0", "path": paths["en"]},
        "database": None,
        "update_available": True,
    }

    code, out, err = run(capsys, "load", "--json")
    assert code == 0, err
    loaded = json.loads(out)
    assert loaded["loaded"] is True and loaded["version"] == "1.0" and loaded["path"] == paths["en"]
    assert loaded["rows"] == loaded["inserts"] == v1.total_rows
    assert (loaded["updates"], loaded["deletes"]) == (0, 0)
    assert set(loaded) == {
        "loaded",
        "manifest_id",
        "version",
        "path",
        "rows",
        "inserts",
        "updates",
        "deletes",
        "seconds",
    }
    assert err == ""  # quiet when not a terminal
    assert configured.manifest_requests[0].api_key == "cli-test-key"

    code, out, _ = run(capsys, "check", "--json")
    check = json.loads(out)
    assert check["update_available"] is False
    assert check["database"] == {
        "manifest_id": loaded["manifest_id"],
        "version": "1.0",
        "path": paths["en"],
    }

    code, out, _ = run(capsys, "load", "--json")
    assert code == 0 and json.loads(out)["loaded"] is False  # up to date: exit 0

    # Same version string, new content path: still an update (Bungie has done this).
    v2 = manifest_factory.generate(seed=102, version_of=v1)
    paths2 = configured.publish(manifest_factory.content_file(v2), version="1.0")
    code, out, _ = run(capsys, "load", "--json")
    second = json.loads(out)
    assert code == 0 and second["loaded"] and second["path"] == paths2["en"]
    assert second["updates"] == len(v2.changes.modified)

    code, out, _ = run(capsys, "status", "--json")
    status = json.loads(out)
    assert status["current"]["manifest_id"] == second["manifest_id"]
    assert status["live_rows"] == v2.total_rows
    assert status["tables"] == {t: n for t, n in v2.table_rows.items() if n}

    code, out, _ = run(capsys, "history", "--json")
    history = json.loads(out)
    assert [(h["inserts"], h["updates"], h["deletes"], h["current"]) for h in history] == [
        (v1.total_rows, 0, 0, False),
        (second["inserts"], second["updates"], second["deletes"], True),
    ]

    for command in ("check", "status", "history"):
        code, out, _ = run(capsys, command)
        assert code == 0 and out.strip()


def test_force_reloads(
    configured: BungieServer, manifest_factory: ManifestFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = manifest_factory.generate(seed=111, rows=200)
    configured.publish(manifest_factory.content_file(v1), version="1.0")
    assert run(capsys, "load")[0] == 0
    code, out, _ = run(capsys, "load", "--force", "--json")
    forced = json.loads(out)
    assert code == 0 and forced["loaded"] and forced["inserts"] == 0 and forced["updates"] == 0


def test_load_file_content_and_sqlite(
    configured: BungieServer, manifest_factory: ManifestFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = manifest_factory.generate(seed=121, rows=300)
    content = manifest_factory.content_file(v1)
    code, out, err = run(capsys, "load", "--file", str(content), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["version"] == content.name and result["inserts"] == v1.total_rows
    code, out, err = run(capsys, "load", "--file", str(v1.path), "--json")
    assert code == 0, err
    assert json.loads(out)["version"] == v1.path.name
    assert configured.manifest_requests == []  # --file never asks Bungie.net


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda b: b.queue(error_envelope(5)), "Bungie.net is down for maintenance"),
        (lambda b: b.queue(error_envelope(2101)), "rejected the API key"),
    ],
)
def test_known_failures_are_one_line(
    configured: BungieServer,
    capsys: pytest.CaptureFixture[str],
    setup: object,
    message: str,
) -> None:
    setup(configured)  # type: ignore[operator]
    code, out, err = run(capsys, "load")
    assert code == 1
    assert out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert "cli-test-key" not in err


def test_bad_file_and_unreachable_database(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
) -> None:
    monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", database_url)
    junk = tmp_path / "junk.content"
    junk.write_bytes(b"not a manifest")
    code, _, err = run(capsys, "load", "--file", str(junk))
    assert code == 1 and err.startswith("error: ") and "neither" in err
    # A zip holding a damaged database: the message names the user's file, not a temp name.
    import zipfile

    damaged = tmp_path / "broken-release.content"
    with zipfile.ZipFile(damaged, "w") as archive:
        archive.writestr("world.content", b"SQLite format 3\x00\x10\x00" + b"garbage" * 2000)
    code, _, err = run(capsys, "load", "--file", str(damaged))
    assert code == 1 and err.startswith("error: broken-release"), err

    monkeypatch.setenv(
        "MANIFEST_GUI_DATABASE_URL", "postgresql://someone:s3cret@127.0.0.1:1/nowhere"
    )
    code, _, err = run(capsys, "status")
    assert code == 1 and err.startswith("error: Cannot connect to the database")
    assert "s3cret" not in err and err.count("\n") == 1


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "load", "--bogus")[0] == 2
    code, _, err = run(capsys, "load", "--from-archive", " ")
    assert code == 2 and "the key is empty" in err
    assert run(capsys, "load", "--file", "")[0] == 2
    code, _, err = run(capsys, "check", "--json", "extra")
    assert code == 2 and "error:" in err
    # Options without a command: usage, not a traceback (through the real entry point).
    from manifest_gui.__main__ import main as entry_point

    assert entry_point(["--json"]) == 2
    _, err = capsys.readouterr()
    assert "error: unrecognized arguments: --json" in err and "Traceback" not in err
    code, _, err = run(
        capsys
    )  # the CLI itself without a command (the entry point opens the window)
    assert code == 2 and "error: a command is required" in err


def _env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MANIFEST_GUI_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(REPO)
    return env


def test_console_script_runs(database_url: str, manifest_factory: ManifestFactory) -> None:
    v1 = manifest_factory.generate(seed=131, rows=100)
    done = run_cli(_env(database_url), "load", "--file", str(v1.path), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inserts"] == v1.total_rows


def test_load_killed_halfway_leaves_the_database_as_it_was(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    v1 = manifest_factory.generate(seed=141, rows=300)
    big = manifest_factory.generate(seed=142, rows=30000)
    first = run_cli(_env(database_url), "load", "--file", str(v1.path))
    assert first.returncode == 0, first.stderr
    with connect(database_url) as conn:
        before = conn.execute(
            "SELECT count(*), max(manifest_id) FROM manifest.t_manifest_version"
        ).fetchone()
        rows_before = conn.execute("SELECT count(*) FROM manifest.t_manifest").fetchone()
    loader = subprocess.Popen(
        [sys.executable, "-m", "manifest_gui", "load", "--file", str(big.path)],
        env=_env(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        copying = False
        with connect(database_url, autocommit=True) as watcher:
            while time.monotonic() < deadline and not copying:
                (copying,) = watcher.execute(
                    "SELECT count(*) > 0 FROM pg_stat_activity "
                    "WHERE query LIKE 'COPY manifest.t_manifest%%' "
                    "AND datname = current_database()"
                ).fetchone()  # type: ignore[misc]
                time.sleep(0.02)
        assert copying, "the load never started copying"
        loader.send_signal(signal.SIGKILL)
    finally:
        loader.wait(30)
    assert loader.returncode == -signal.SIGKILL
    with connect(database_url) as conn:
        # The server notices the dead client; its transaction rolls back.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            (busy,) = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY manifest.%%' "
                "AND datname = current_database()"
            ).fetchone()  # type: ignore[misc]
            conn.commit()
            if not busy:
                break
            time.sleep(0.1)
        assert (
            conn.execute(
                "SELECT count(*), max(manifest_id) FROM manifest.t_manifest_version"
            ).fetchone()
            == before
        )
        assert conn.execute("SELECT count(*) FROM manifest.t_manifest").fetchone() == rows_before
    # The lock died with the session: the next load goes through.
    done = run_cli(_env(database_url), "load", "--file", str(big.path), "--json", timeout=300)
    assert done.returncode == 0, done.stderr


def test_language_setting_picks_its_content_path(
    configured: BungieServer,
    manifest_factory: ManifestFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v1 = manifest_factory.generate(seed=151, rows=100)
    paths = configured.publish(manifest_factory.content_file(v1), languages=("fr",))
    monkeypatch.setenv("MANIFEST_GUI_LANGUAGE", "fr")
    code, out, err = run(capsys, "load", "--json")
    assert code == 0, err
    assert json.loads(out)["path"] == paths["fr"]
    assert [r.path for r in configured.content_requests] == [paths["fr"]]


def test_terminal_progress_bar() -> None:
    import io

    from manifest_gui.engine.progress import ProgressEvent

    stream = io.StringIO()
    bar = cli.TerminalProgress(stream)
    bar(ProgressEvent("download", 0, 2_000_000, "bytes"))
    bar(ProgressEvent("download", 1_000_000, 2_000_000, "bytes"))
    bar(ProgressEvent("download", 2_000_000, 2_000_000, "bytes", finished=True))
    bar(ProgressEvent("load", 500, 1000, "rows", "DestinyInventoryItemDefinition"))
    bar(ProgressEvent("load", message="Applying changes"))
    text = stream.getvalue()
    assert "50.0%" in text and "100.0%" in text and "1.0 MB / 2.0 MB" in text
    assert "500 rows / 1,000 rows" in text and "DestinyInventoryItemDefinition" in text
    assert text.endswith("Applying changes\n")


def test_a_user_without_privileges_gets_one_sentence(
    database_url: str,
    manifest_factory: ManifestFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A role that may neither create schemas nor write: the owner installed the schema and
    # granted it read access only (a common set-up for a reporting user).
    from psycopg.conninfo import make_conninfo

    from manifest_gui.engine.database import ensure_schema

    role = "reader_" + os.urandom(4).hex()
    with connect(database_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN").format(psycopg.sql.Identifier(role)))
    try:
        reader_url = make_conninfo(database_url, user=role)
        monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", reader_url)
        code, _, err = run(capsys, "status")  # no schema yet, and it may not create one
        assert code == 1 and err.startswith("error: The database user lacks a privilege")
        assert err.count("\n") == 1 and "Traceback" not in err

        with connect(database_url) as conn:
            ensure_schema(conn)
            conn.execute(
                psycopg.sql.SQL(
                    "GRANT USAGE ON SCHEMA manifest TO {0}; "
                    "GRANT SELECT ON ALL TABLES IN SCHEMA manifest TO {0}"
                ).format(psycopg.sql.Identifier(role))
            )
            conn.commit()
        code, out, err = run(capsys, "status", "--json")  # reading works: no DDL needed
        assert code == 0, err
        assert json.loads(out)["current"] is None

        v1 = manifest_factory.generate(seed=141, rows=50)
        code, _, err = run(capsys, "load", "--file", str(v1.path))
        assert code == 1 and err.startswith("error: The database user lacks a privilege")
        assert err.count("\n") == 1
    finally:
        with connect(database_url, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(
                    psycopg.sql.Identifier(role)
                )
            )


def test_secrets_never_reach_logs_settings_or_messages(
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from psycopg.conninfo import make_conninfo

    from manifest_gui.engine.settings import Settings, load_settings, save_settings, settings_file

    api_key = "KEY-sekrit-0123456789"
    password = "pw-sekrit-9876543210"
    monkeypatch.setenv("MANIFEST_GUI_BUNGIE_ROOT", bungie_server.base_url)
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", api_key)
    # The test servers trust local connections, so the password is carried but not needed.
    monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", make_conninfo(database_url, password=password))
    save_settings(Settings(database_url=f"postgresql://loader:{password}@db.example/destiny"))

    bungie_server.publish(manifest_factory.content_file(manifest_factory.generate(rows=60)))
    outputs = [run(capsys, "load", "--json")]
    bungie_server.queue(error_envelope(2101))
    outputs.append(run(capsys, "check"))
    unreachable = f"postgresql://loader:{password}@127.0.0.1:1/nowhere"
    monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", unreachable)
    outputs.append(run(capsys, "status"))
    # URLs libpq cannot parse: its error quotes the whole string, password included.
    for malformed in (
        f"mysql://loader:{password}@127.0.0.1/destiny",
        f"postgresql://loader:{password}@[::1/destiny",
        f"host=127.0.0.1 password={password} port=1 dbname=x sslmode=bogus",
        # A raw @ in the password: libpq would take its tail for the host and quote it.
        f"postgresql://loader:{password}@tail-sekrit@127.0.0.1:1/destiny",
    ):
        monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", malformed)
        outputs.append(run(capsys, "status"))
    assert [code for code, _, _ in outputs] == [0, 1, 1, 1, 1, 1, 1]
    assert "not a PostgreSQL URL" in outputs[3][2] and "not a PostgreSQL URL" in outputs[4][2]
    assert "write it there as %40" in outputs[6][2] and "tail-sekrit" not in outputs[6][2]

    settings = load_settings()
    written = [settings.log_path / name for name in os.listdir(settings.log_path)]
    written += [path for path in settings_file().parent.iterdir() if path.is_file()]
    assert written and any(path.suffix == ".log" for path in written)
    for text in [out + err for _, out, err in outputs] + [p.read_text() for p in written]:
        assert api_key not in text and password not in text


def test_status_during_a_first_load_elsewhere_says_so_instead_of_hanging(
    configured: BungieServer, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A first load into an empty database holds t_manifest exclusively until it commits.
    from manifest_gui.engine.database import ensure_schema

    with connect(database_url) as loader:
        ensure_schema(loader)
        loader.commit()
        loader.execute("LOCK TABLE manifest.t_manifest IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        code, _, err = run(capsys, "status")
        waited = time.monotonic() - started
        loader.rollback()
    assert code == 1 and err.startswith("error: The manifest tables are locked by a first load")
    assert waited < 30  # gave up after the lock timeout, not after the load
    assert run(capsys, "status")[0] == 0


@pytest.mark.parametrize(
    ("variable", "value", "sentence"),
    [
        ("MANIFEST_GUI_BUNGIE_ROOT", "http://[::1", "is not a web address"),
        ("MANIFEST_GUI_DATA_DIR", "<a file>", "cannot keep its files in"),
        ("MANIFEST_GUI_DATA_DIR", "/proc/no-such-folder", "cannot keep its files in"),
    ],
)
def test_bad_environment_is_one_sentence(
    tmp_path: Path, variable: str, value: str, sentence: str
) -> None:
    """Through the real entry point, so nothing else has set up logging: the settings file's
    complaint goes to the log (or nowhere), never to stderr beside the one `error:` line."""
    if value == "<a file>":
        value = str(tmp_path / "a-file")
        Path(value).write_text("")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "manifest-gui" / "settings.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('{"poll_minutes": "often"')  # unreadable: ignored, logged
    env = dict(os.environ, PYTHONPATH=str(REPO), MANIFEST_GUI_API_KEY="k")
    env.pop("MANIFEST_GUI_DATABASE_URL", None)  # the embedded default needs the data dir
    env[variable] = value
    done = run_cli(
        # status never reaches Bungie.net; check stops at the root before any request
        env,
        "check" if "ROOT" in variable else "status",
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: ") and sentence in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_sigterm_rolls_back_and_stops_the_embedded_server(
    manifest_factory: ManifestFactory,
) -> None:
    """systemd and docker stop with SIGTERM: like Ctrl+C, the load rolls back and the embedded
    PostgreSQL the run started is stopped, not left behind holding the data dir."""
    big = manifest_factory.generate(seed=171, rows=30000)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("MANIFEST_GUI_DATABASE_URL", None)
    pid_file = Path(env["MANIFEST_GUI_DATA_DIR"]) / "postgres" / "data" / "postmaster.pid"
    loader = subprocess.Popen(
        [sys.executable, "-m", "manifest_gui", "load", "--file", str(big.path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not pid_file.exists():
            time.sleep(0.05)
        assert pid_file.exists(), "the embedded server never started"
        assert _wait_for_copy(pid_file, deadline), "the load never started copying"
        loader.send_signal(signal.SIGTERM)
        _, err = loader.communicate(timeout=60)
    finally:
        loader.kill()
    assert loader.returncode == 1, err
    assert err.startswith("error: Interrupted"), err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pid_file.exists():
        time.sleep(0.1)
    assert not pid_file.exists(), "the embedded PostgreSQL was left running"
    status = run_cli(env, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["current"] is None  # the half-done load rolled back


def _wait_for_copy(pid_file: Path, deadline: float) -> bool:
    """Wait until the embedded server (found through its postmaster.pid) runs the load's COPY."""
    while time.monotonic() < deadline:
        lines = pid_file.read_text().splitlines() if pid_file.exists() else []
        if len(lines) >= 5 and lines[4]:
            try:
                url = f"host={lines[4]} port={lines[3]} dbname=postgres user=postgres"
                with psycopg.connect(url, autocommit=True, connect_timeout=5) as watcher:
                    while time.monotonic() < deadline:
                        (copying,) = watcher.execute(
                            "SELECT count(*) > 0 FROM pg_stat_activity "
                            "WHERE query LIKE 'COPY manifest.t_manifest %%'"
                        ).fetchone()  # type: ignore[misc]
                        if copying:
                            return True
                        time.sleep(0.02)
            except psycopg.OperationalError:
                pass  # still starting up
        time.sleep(0.05)
    return False
