"""No leaks in the window: many checks and loads in a row (a tray poller's weeks, compressed).

    python -m tests.benchmarks.window_soak [--database-url URL] [--workdir DIR]
                                           [--checks 150] [--loads 20] [--rows N]

Runs the real Application against the fake Bungie.net and a PostgreSQL: a warm-up (a few checks
and two loads), then the measured run of --checks checks and --loads loads (each one a changed
manifest: two releases published in turn), through the same slots the buttons call. Before and
after the measured run it takes the process's resident memory, open files, threads, the Qt
objects under the Application and the database sessions, and checks the bars: memory grows by
at most 30 MB, and the others end where they started. Exit status 1 when a bar is missed.
Without --database-url it uses a fresh embedded PostgreSQL in the workdir.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import ensure_runtime_dir

ensure_runtime_dir()
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import psutil  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from manifest_gui.app import Application  # noqa: E402
from manifest_gui.engine.database import connect  # noqa: E402
from manifest_gui.engine.embedded import EmbeddedPostgres  # noqa: E402
from manifest_gui.engine.secrets import SecretStore  # noqa: E402
from manifest_gui.engine.settings import Settings  # noqa: E402
from tests.benchmarks.load import REPO  # noqa: E402
from tests.gui.conftest import MemoryKeyring  # noqa: E402
from tests.support.bungie_server import BungieServer  # noqa: E402
from tests.support.manifest_factory import ManifestFactory  # noqa: E402

MEMORY_BAR_MB = 30.0
JOB_TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class Snapshot:
    rss_mb: float
    open_files: int
    threads: int
    qt_objects: int
    sessions: int

    def line(self) -> str:
        return (
            f"RSS {self.rss_mb:.1f} MB, {self.open_files} open files, {self.threads} threads, "
            f"{self.qt_objects} Qt objects, {self.sessions} database sessions"
        )


def settle(app: Application, ms: int = 300) -> None:
    """Let queued signals, deleteLater and short-lived cancel threads finish."""
    deadline = time.monotonic() + ms / 1000
    while time.monotonic() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        QCoreApplication.sendPostedEvents(None, 0)  # deleteLater included
        time.sleep(0.01)
    gc.collect()


def settled(before: Snapshot, after: Snapshot) -> bool:
    return (
        after.open_files <= before.open_files
        and after.threads <= before.threads
        and after.qt_objects <= before.qt_objects
        and after.sessions <= before.sessions
    )


def sessions(url: str) -> int:
    with connect(url, autocommit=True) as conn:
        row = conn.execute(
            # Client sessions only: autovacuum workers come and go after loads.
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def snapshot(app: Application, url: str) -> Snapshot:
    settle(app)
    process = psutil.Process()
    return Snapshot(
        rss_mb=process.memory_info().rss / 1e6,
        open_files=process.num_fds() if hasattr(process, "num_fds") else len(process.open_files()),
        threads=process.num_threads(),
        qt_objects=len(app.findChildren(QObject)) + len(app.window.findChildren(QObject)),
        sessions=sessions(url),
    )


def run_job(app: Application, start: Callable[[], object]) -> str:
    """One job through the window; its outcome."""
    loop = QEventLoop()
    outcome: list[str] = []

    def finished(_kind: str, result: str) -> None:
        outcome.append(result)
        loop.quit()

    app.jobFinished.connect(finished)
    timer = QTimer(singleShot=True, interval=JOB_TIMEOUT_MS)
    timer.timeout.connect(loop.quit)
    timer.start()
    started = bool(start())
    if started:
        loop.exec()
    timer.stop()
    app.jobFinished.disconnect(finished)
    if not outcome:
        raise RuntimeError("a job did not start or did not finish in time")
    return outcome[0]


def cycle(
    app: Application, bungie: BungieServer, contents: list[Path], checks: int, loads: int
) -> tuple[int, int]:
    """`checks` checks and `loads` loads, spread evenly; counts of (ok checks, changed loads)."""
    ok_checks = 0
    loaded: list[object] = []  # a load that changed the database says so on loadFinished
    app.presenter.loadFinished.connect(loaded.append)
    every = max(1, checks // max(loads, 1))
    for number in range(checks):
        ok_checks += run_job(app, app.check) == "ok"
        if (number + 1) % every == 0 and len(loaded) < loads:
            load_next(app, bungie, contents[len(loaded) % 2])
    for _ in range(loads - len(loaded)):
        load_next(app, bungie, contents[len(loaded) % 2])
    app.presenter.loadFinished.disconnect(loaded.append)
    return ok_checks, len(loaded)


def load_next(app: Application, bungie: BungieServer, content: Path) -> None:
    """Release `content` on Bungie.net and Check & Load it."""
    bungie.publish(content)
    run_job(app, app.check_and_load)


def measure(
    app: Application,
    url: str,
    bungie: BungieServer,
    contents: list[Path],
    args: argparse.Namespace,
) -> int:
    cycle(app, bungie, contents, 4, 2)  # warm-up: caches, first connections, imports
    before = snapshot(app, url)
    started = time.perf_counter()
    ok_checks, changed_loads = cycle(app, bungie, contents, args.checks, args.loads)
    seconds = time.perf_counter() - started
    after = snapshot(app, url)
    # Threads that end on their own (a request handler of the fake Bungie.net, a cancel
    # sender) get a few seconds: a leak is what stays.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not settled(before, after):
        after = snapshot(app, url)
    print(f"soak: {ok_checks} of {args.checks} checks ok, {changed_loads} loads in {seconds:.1f} s")
    print(f"  before: {before.line()}")
    print(f"  after:  {after.line()}")
    growth = after.rss_mb - before.rss_mb
    bars = {
        f"memory grows by at most {MEMORY_BAR_MB:.0f} MB ({growth:+.1f} MB)": growth
        <= MEMORY_BAR_MB,
        "open files end where they started": after.open_files <= before.open_files,
        "threads end where they started": after.threads <= before.threads,
        "Qt objects end where they started": after.qt_objects <= before.qt_objects,
        "database sessions end where they started": after.sessions <= before.sessions,
        "every job ended well": ok_checks == args.checks and changed_loads == args.loads,
    }
    for bar, held in bars.items():
        print(f"  {'ok  ' if held else 'MISS'} {bar}")
    return 0 if all(bars.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL to use (default: embedded)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--checks", type=int, default=150)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--rows", type=int, default=3000)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="window-soak-", dir=args.workdir))
    factory = ManifestFactory(work / "manifests")
    first = factory.generate(seed=7, rows=args.rows)
    second = factory.generate(seed=8, version_of=first)  # a few % changed
    contents = [factory.content_file(first), factory.content_file(second)]

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841  (kept alive)
    embedded = None
    url = args.database_url
    if url is None:
        embedded = EmbeddedPostgres(work / "postgres")
        url = embedded.start()
    try:
        with connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS manifest CASCADE")
        with BungieServer() as bungie:
            data = work / "data"
            settings = Settings(
                database_url=url,
                bungie_root=bungie.base_url,
                data_dir=str(data),
                poll_enabled=False,
            )
            app = Application(
                settings,
                secrets=SecretStore(MemoryKeyring()),
                state=QSettings(str(work / "window.ini"), QSettings.Format.IniFormat),
                settings_path=work / "settings.json",
                tray=False,
            )
            app.start(hidden=False, startup_job=None)
            try:
                return measure(app, url, bungie, contents, args)
            finally:
                app.shutdown()
                app.window.deleteLater()
    finally:
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
