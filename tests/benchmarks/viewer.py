"""Viewer benchmark on a full-size manifest (issue 4 targets).

    python -m tests.benchmarks.viewer [--database-url URL] [--workdir DIR] [--rows N]

Uses the database at --database-url as it is when it already holds a full-size manifest (at
least 150,000 live rows); otherwise loads the full-size manifest of tests.benchmarks.load (v1,
then v2 with ~3% changed, generated once into --workdir) through the engine into it, or into
a fresh embedded PostgreSQL in the workdir when no URL is given. Then reports, each the best
and the median of several runs (the first run cold, right after opening a connection):
- first rows of the largest table after selecting it in the real ViewerWidget (target 300 ms),
  and the SQL of that first page alone;
- hash lookup, signed and unsigned, as the search box and the hash links run it (50 ms);
- name search across all tables, case-insensitive substring (500 ms): a common word, a rare
  one and one that matches nothing (a full scan).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from manifest_gui.engine import viewer_queries as vq
from manifest_gui.engine.database import connect
from manifest_gui.engine.embedded import EmbeddedPostgres
from manifest_gui.engine.loader import load_manifest
from manifest_gui.engine.progress import Progress
from manifest_gui.engine.source import ManifestSource
from tests.support.manifest_factory import FULL_SIZE_ROWS

REPO = Path(__file__).resolve().parents[2]
RUNS = 7


def _live_rows(url: str) -> int:
    with connect(url, read_only=True) as conn:
        if not vq.schema_ready(conn):
            return 0
        return sum(t.live_rows for t in vq.list_tables(conn))


def _load(url: str, workdir: Path, rows: int) -> None:
    from tests.benchmarks.load import manifests

    first, second, _rows, _bytes = manifests(workdir, rows)
    with connect(url) as conn:
        for path, version in ((first, "bench-1"), (second, "bench-2")):
            started = time.monotonic()
            with ManifestSource(path) as source:
                load_manifest(
                    conn,
                    source,
                    version=version,
                    path=f"/bench/{version}",
                    language="en",
                    progress=Progress(None),
                )
            print(f"loaded {path.name} in {time.monotonic() - started:.1f} s")
        conn.autocommit = True
        conn.execute("ANALYZE manifest.t_manifest")


def _timed(fn: Callable[[], Any], runs: int = RUNS) -> tuple[float, float, float, Any]:
    """(cold ms, best ms, median ms, last result)."""
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return times[0], min(times), statistics.median(times), result


def _line(
    label: str, cold: float, best: float, median: float, target: float, note: str = ""
) -> str:
    verdict = "ok" if median <= target else "OVER"
    return f"{label:<46}{cold:>8.1f}{best:>8.1f}{median:>8.1f}{target:>8.0f}  {verdict}" + (
        f"  {note}" if note else ""
    )


def _widget_first_rows(url: str, table: str) -> list[float]:
    """Select the table in a real ViewerWidget (offscreen) and time until its first page."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from manifest_gui.ui.viewer import ViewerWidget

    app = QApplication.instance() or QApplication([])
    widget = ViewerWidget(lambda: url)
    widget.resize(1400, 800)

    def wait(signal: Any) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(30_000, loop.quit)
        loop.exec()
        signal.disconnect(loop.quit)

    times = []
    try:
        widget.refresh()
        wait(widget.tablesLoaded)
        other = next(t.name for t in widget.browse.tables_model.tables() if t.name != table)
        for _ in range(RUNS):
            widget.browse.select_table(other)
            wait(widget.browse.rows_model.pageLoaded)
            started = time.perf_counter()
            widget.browse.select_table(table)
            wait(widget.browse.rows_model.pageLoaded)
            app.processEvents()
            times.append((time.perf_counter() - started) * 1000)
            assert widget.browse.rows_model.rowCount() > 0
    finally:
        widget.shutdown()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL to use (default: embedded)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--rows", type=int, default=FULL_SIZE_ROWS)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)

    embedded = None
    url = args.database_url
    if url is None:
        folder = args.workdir / "postgres-viewer"
        embedded = EmbeddedPostgres(folder)
        url = embedded.start()
    try:
        if _live_rows(url) < min(150_000, int(args.rows * 0.9)):
            _load(url, args.workdir, args.rows)
        return _report(url)
    finally:
        if embedded is not None:
            embedded.stop()


def _report(url: str) -> int:
    with connect(url, read_only=True) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        conn.rollback()
        tables = vq.list_tables(conn)
        largest = max(tables, key=lambda t: t.live_rows)
        total = sum(t.live_rows for t in tables)
        print(
            f"PostgreSQL {server}; {total:,} live rows in {len(tables)} tables; largest "
            f"{largest.name} ({largest.live_rows:,} rows)"
        )
        print(f"{'measure (ms)':<46}{'cold':>8}{'best':>8}{'median':>8}{'target':>8}")

    widget_times = _widget_first_rows(url, largest.name)
    print(
        _line(
            "first rows of the largest table (widget)",
            widget_times[0],
            min(widget_times),
            statistics.median(widget_times),
            300,
            "select -> first page shown",
        )
    )

    with connect(url, read_only=True) as conn:
        for sort in (vq.SortColumn.HASH, vq.SortColumn.NAME, vq.SortColumn.CHANGED):
            cold, best, median, rows = _timed(
                functools.partial(vq.fetch_rows, conn, vq.RowQuery(largest.name, "", sort))
            )
            print(
                _line(
                    f"  first page SQL, by {sort.value}",
                    cold,
                    best,
                    median,
                    300,
                    f"{len(rows)} rows",
                )
            )
        sample = vq.fetch_rows(conn, vq.RowQuery(largest.name, descending=True), limit=50)
        row = next(r for r in sample if r.id is not None and r.id < 0)
        assert row.hash is not None and row.id is not None
        for label, text in (("unsigned", str(row.hash)), ("signed", str(row.id))):
            cold, best, median, found = _timed(
                functools.partial(vq.fetch_rows, conn, vq.RowQuery(None, text))
            )
            assert found and found[0].id == row.id
            print(_line(f"hash lookup, {label} (search box)", cold, best, median, 50))
        cold, best, median, _found = _timed(functools.partial(vq.lookup_hash, conn, row.hash))
        print(_line("hash lookup (link target)", cold, best, median, 50))

        name = (row.name or "item").split()[0]
        for label, text in (
            ("common", name[:3].upper()),
            ("one word", name.lower()),
            ("no match (full scan)", "zq#xv"),
        ):
            cold, best, median, found = _timed(
                functools.partial(vq.fetch_rows, conn, vq.RowQuery(None, text, vq.SortColumn.NAME))
            )
            print(
                _line(
                    f"name search all tables, {label}",
                    cold,
                    best,
                    median,
                    500,
                    f"{text!r}: first page {len(found)} rows",
                )
            )
        cold, best, median, count = _timed(lambda: vq.count_rows(conn, vq.RowQuery(None, name)))
        print(
            _line(
                "  count of a name search (status line)",
                cold,
                best,
                median,
                500,
                f"{count:,} matches",
            )
        )
        cold, best, median, _t = _timed(lambda: vq.list_tables(conn))
        print(_line("table list with live counts", cold, best, median, 500))
    return 0


if __name__ == "__main__":
    if os.environ.get("XDG_RUNTIME_DIR") is None:
        runtime = Path("/tmp/xdg-run")
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    raise SystemExit(main())
