"""How soon the window shows what a release changed (a script, not a timed test).

    python -m tests.benchmarks.whats_new [--database-url URL | --server embedded|pg15]
                                         [--workdir DIR] [--rows N] [--repeat N]

Loads a generated manifest (by default full size, ~170,000 rows; generated once and kept in
--workdir) through the real window's Check & Load, then its next version with ~3 % of rows
changed, and measures from the moment the load ended (the job's end reached the window) to:
- the first view of the notes on the What's new page (the issue's bar: 1 s);
- how long the worker took to read them;
- the icons of the first screenful arriving from the Bungie.net stand-in.
Three more loads of a changed version give the spread. Without --database-url it uses a fresh
throwaway server of --server kind (default: the embedded PostgreSQL, in the workdir). Runs
offscreen unless a DISPLAY is set.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import ensure_runtime_dir

ensure_runtime_dir()
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from manifest_gui.app import Application  # noqa: E402
from manifest_gui.engine.database import connect  # noqa: E402
from manifest_gui.engine.loader import LoadResult  # noqa: E402
from manifest_gui.engine.secrets import SecretStore  # noqa: E402
from manifest_gui.engine.settings import Settings  # noqa: E402
from manifest_gui.ui.whats_new.notes_loader import LoadedNotes  # noqa: E402
from tests.benchmarks.load import REPO, manifests  # noqa: E402
from tests.benchmarks.notes import add_server_options, benchmark_database  # noqa: E402
from tests.gui.conftest import MemoryKeyring  # noqa: E402
from tests.support.bungie_server import BungieServer  # noqa: E402
from tests.support.manifest_factory import (  # noqa: E402
    FULL_SIZE_ROWS,
    content_file_name,
    write_content_zip,
)

VISIBLE_ROWS = 15  # entries whose icons count as "the first screenful"


def wait(predicate: Callable[[], object], timeout: float) -> bool:
    """Run the event loop until predicate() holds (checked every 5 ms) or the timeout."""
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(5)

    def check() -> None:
        if predicate() or time.monotonic() > deadline:
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    if not predicate():
        loop.exec()
    timer.stop()
    return bool(predicate())


@dataclass
class Measured:
    first_view: float  # load end → the page's first view (the outline, or the notes)
    notes: float  # load end → the whole notes on the page
    worker: float  # seconds the worker took to read them
    icons: float  # load end → the first screenful of icons
    entries: int


def measure(app: Application) -> Measured:
    """Check & Load, then time what the page shows after the load ended."""
    news = app.news.news
    shown: list[tuple[float, LoadedNotes]] = []
    first: list[tuple[float, LoadedNotes]] = []

    def on_shown(loaded: LoadedNotes) -> None:
        shown.append((time.perf_counter(), loaded))

    def on_first(loaded: LoadedNotes) -> None:
        first.append((time.perf_counter(), loaded))

    news.page.notesShown.connect(on_shown)
    news.page.firstViewShown.connect(on_first)
    outcomes: list[str] = []

    def on_finished(_kind: str, outcome: str) -> None:
        outcomes.append(outcome)

    loads: list[int] = []

    def on_load(loaded: LoadResult) -> None:
        loads.append(loaded.manifest_id or 0)

    app.jobFinished.connect(on_finished)
    app.presenter.loadFinished.connect(on_load)
    app.check_and_load()
    if not wait(lambda: outcomes, 3600) or outcomes[-1] != "ok":
        raise SystemExit(f"the load did not end well: {outcomes}")
    app.jobFinished.disconnect(on_finished)
    app.presenter.loadFinished.disconnect(on_load)
    ended = news.load_ended_at or 0.0
    newest = loads[-1]

    def this_load(
        seen: list[tuple[float, LoadedNotes]] = shown,
    ) -> list[tuple[float, LoadedNotes]]:
        return [(t, n) for t, n in seen if n.notes.to_version.manifest_id == newest]

    if not wait(this_load, 600):
        raise SystemExit("the notes were never shown")
    news.page.notesShown.disconnect(on_shown)
    news.page.firstViewShown.disconnect(on_first)
    shown_at, loaded = this_load()[0]
    first_at = this_load(first)[0][0]
    view, model = news.page, news.page.entries_model
    paths = [e.icon for s in (view.notes.sections if view.notes else ()) for e in s.entries]
    screenful = [p for p in paths if p][:VISIBLE_ROWS]
    for path in screenful:
        news.icons.icon(path)  # what painting the rows asks for
    icons = news.icons
    wait(lambda: all(icons.has_icon(p) or icons.is_missing(p) for p in screenful), 60)
    icons_at = time.perf_counter()
    return Measured(
        first_at - ended, shown_at - ended, loaded.seconds, icons_at - ended, model.entry_rows()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_server_options(parser)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--rows", type=int, default=FULL_SIZE_ROWS)
    parser.add_argument("--repeat", type=int, default=3, help="more ~3%% changed loads")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    first, second, rows, _json_bytes = manifests(args.workdir, args.rows)
    contents = []
    for sqlite_path in (first, second):
        zipped = args.workdir / "content" / content_file_name(sqlite_path)
        if not zipped.exists():
            write_content_zip(sqlite_path, zipped)
        contents.append(zipped)

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841  (kept alive)
    servers = ExitStack()
    url = servers.enter_context(benchmark_database(args, args.workdir / "postgres-whats-new"))
    data = Path(tempfile.mkdtemp(prefix="whats-new-", dir=args.workdir))
    try:
        with connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS manifest CASCADE")
            server = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        with BungieServer() as bungie:
            bungie.any_icon = True
            settings = Settings(database_url=url, bungie_root=bungie.base_url, data_dir=str(data))
            app = Application(
                settings,
                secrets=SecretStore(MemoryKeyring()),
                state=QSettings(str(data / "window.ini"), QSettings.Format.IniFormat),
                settings_path=data / "settings.json",
                tray=False,
            )
            app.start(hidden=False, startup_job=None)
            print(f"PostgreSQL {server}; manifest: {rows:,} rows")
            try:
                bungie.publish(contents[0])
                m = measure(app)
                print(f"first load: notes shown {m.notes:.2f} s after the load")
                firsts, wholes = [], []
                # v2, then back and forth (a rolled-back release is ~3 % changed too).
                for n in range(1 + args.repeat):
                    bungie.publish(contents[1 - n % 2] if n else contents[1])
                    m = measure(app)
                    firsts.append(m.first_view)
                    wholes.append(m.notes)
                    print(
                        f"next version, ~3% changed: first view {m.first_view:.2f} s, notes "
                        f"shown {m.notes:.2f} s after the load (worker {m.worker:.2f} s, "
                        f"{m.entries:,} entries); first {VISIBLE_ROWS} icons {m.icons:.2f} s"
                    )
                print(
                    f"first view of the notes after a ~3% changed load: median "
                    f"{statistics.median(firsts):.2f} s, max {max(firsts):.2f} s (bar: 1 s); "
                    f"whole notes: median {statistics.median(wholes):.2f} s"
                )
            finally:
                app.shutdown()
                app.window.deleteLater()
    finally:
        shutil.rmtree(data, ignore_errors=True)
        servers.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
