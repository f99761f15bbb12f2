"""GUI responsiveness while a manifest loads through the window (a script, not a timed test).

    python -m tests.benchmarks.gui_heartbeat [--database-url URL] [--workdir DIR] [--rows N]

Publishes a generated manifest (by default full size, ~170,000 rows; generated once and kept in
--workdir) on the fake Bungie.net, clicks Check & Load in the real window and, until the job
has finished, measures:
- event-loop stalls of the GUI thread: a 10 ms heartbeat QTimer records the gap between its
  ticks (max and 99th percentile, ms); the issue's bar is 50 ms;
- how often the progress bars move: the longest interval between two value changes of any
  stage bar (the issue's bar is 0.5 s), also excluding the spans where a bar is a busy bar
  (an unknown total, or PostgreSQL applying the rows in one statement).
It then loads the next version (~3 % changed) the same way. Without --database-url it uses a
fresh embedded PostgreSQL in the workdir. Runs offscreen unless a DISPLAY is set.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.postgres import ensure_runtime_dir

ensure_runtime_dir()
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from manifest_gui.app import Application  # noqa: E402
from manifest_gui.engine.database import connect  # noqa: E402
from manifest_gui.engine.embedded import EmbeddedPostgres  # noqa: E402
from manifest_gui.engine.secrets import SecretStore  # noqa: E402
from manifest_gui.engine.settings import Settings  # noqa: E402
from tests.benchmarks.load import REPO, manifests  # noqa: E402
from tests.gui.conftest import MemoryKeyring  # noqa: E402
from tests.support.bungie_server import BungieServer  # noqa: E402
from tests.support.manifest_factory import (  # noqa: E402
    FULL_SIZE_ROWS,
    content_file_name,
    write_content_zip,
)

HEARTBEAT_MS = 10


@dataclass
class Measurement:
    gaps: list[float] = field(default_factory=list)  # ms between heartbeat ticks
    changes: list[tuple[float, bool, str]] = field(default_factory=list)  # time, busy, stage
    seconds: float = 0.0
    outcome: str = ""
    status: str = ""

    def percentile(self, p: float) -> float:
        ordered = sorted(self.gaps)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0

    def longest_still(self, *, skip_busy: bool) -> tuple[float, str]:
        """Longest time between two bar value changes (and the stage that ended it),
        optionally not counting busy spans."""
        longest, where, last, last_busy = 0.0, "", None, False
        for moment, busy, stage in self.changes:
            counted = last is not None and not (skip_busy and (busy or last_busy))
            if counted and moment - last > longest:  # type: ignore[operator]
                longest, where = moment - last, stage  # type: ignore[operator]
            last, last_busy = moment, busy
        return longest, where


def measure(app: Application, start: Callable[[], object]) -> Measurement:
    """Run one job through the window with the heartbeat and bar watchers attached."""
    result = Measurement()
    stages = ("download", "extract", "load")
    bars = [app.window.progress_panel.bar(s) for s in stages]
    busy = [False]
    last_tick = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        result.gaps.append((now - last_tick[0]) * 1000)
        last_tick[0] = now
        # A busy bar (maximum 0) animates instead of moving: its spans are marked as busy.
        busy_now = any(bar.maximum() == 0 for bar in bars)
        if busy_now != busy[0]:
            busy[0] = busy_now
            result.changes.append((now, True, "busy bar"))

    def watcher(stage: str) -> Callable[[int], None]:
        def changed(_value: int) -> None:
            result.changes.append((time.perf_counter(), busy[0], stage))

        return changed

    watchers = [watcher(stage) for stage in stages]

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(tick)
    for bar, changed in zip(bars, watchers, strict=True):
        bar.valueChanged.connect(changed)
    loop = QEventLoop()

    def finished(_kind: str, outcome: str) -> None:
        result.outcome = outcome
        loop.quit()

    app.jobFinished.connect(finished)
    started = time.perf_counter()
    heartbeat.start()
    last_tick[0] = time.perf_counter()
    start()
    loop.exec()
    heartbeat.stop()
    result.seconds = time.perf_counter() - started
    result.status = app.window.version_panel.status_label.text()
    app.jobFinished.disconnect(finished)
    for bar, changed in zip(bars, watchers, strict=True):
        bar.valueChanged.disconnect(changed)
    return result


def report(title: str, m: Measurement) -> None:
    print(f"{title}: {m.outcome} in {m.seconds:.1f} s — {m.status}")
    print(
        f"  event loop: {len(m.gaps):,} heartbeats of {HEARTBEAT_MS} ms; "
        f"max gap {max(m.gaps, default=0):.1f} ms, p99 {m.percentile(0.99):.1f} ms, "
        f"p50 {m.percentile(0.50):.1f} ms"
    )
    still, where = m.longest_still(skip_busy=False)
    still_moving, where_moving = m.longest_still(skip_busy=True)
    print(
        f"  progress bars: {len(m.changes):,} changes; longest still {still:.2f} s "
        f"(ended by {where or '-'}), {still_moving:.2f} s not counting busy-bar spans "
        f"(ended by {where_moving or '-'})"
    )


def run_both(app: Application, bungie: BungieServer, contents: list[Path]) -> None:
    bungie.publish(contents[0])
    report("first load (Check & Load)", measure(app, app.check_and_load))
    bungie.publish(contents[1])
    report("next version, ~3% changed", measure(app, app.check_and_load))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL to use (default: embedded)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--rows", type=int, default=FULL_SIZE_ROWS)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    first, second, rows, json_bytes = manifests(args.workdir, args.rows)
    contents = []
    for sqlite_path in (first, second):
        zipped = args.workdir / "content" / content_file_name(sqlite_path)
        if not zipped.exists():
            print(f"zipping {sqlite_path.name} ...")
            write_content_zip(sqlite_path, zipped)
        contents.append(zipped)

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841  (kept alive)
    embedded = None
    url = args.database_url
    if url is None:
        folder = args.workdir / "postgres-gui"
        shutil.rmtree(folder, ignore_errors=True)
        embedded = EmbeddedPostgres(folder)
        url = embedded.start()
    data = Path(tempfile.mkdtemp(prefix="gui-heartbeat-", dir=args.workdir))
    try:
        with connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS manifest CASCADE")
            server = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        with BungieServer() as bungie:
            settings = Settings(database_url=url, bungie_root=bungie.base_url, data_dir=str(data))
            app = Application(
                settings,
                secrets=SecretStore(MemoryKeyring()),
                state=QSettings(str(data / "window.ini"), QSettings.Format.IniFormat),
                settings_path=data / "settings.json",
                tray=False,
            )
            app.start(hidden=False, startup_job=None)
            print(
                f"PostgreSQL {server}; manifest: {rows:,} rows, {json_bytes / 1e6:,.0f} MB of "
                f"JSON; Qt platform {QGuiApplication.platformName()}"
            )
            try:
                run_both(app, bungie, contents)
            finally:
                app.shutdown()
                app.window.deleteLater()
    finally:
        shutil.rmtree(data, ignore_errors=True)
        if embedded is not None:
            embedded.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
