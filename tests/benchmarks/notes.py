"""Release notes benchmark: notes of a ~3% changed release of a full-size manifest.

    python -m tests.benchmarks.notes [--database-url URL | --server embedded|pg15]
                                     [--workdir DIR] [--rows N]

Loads the full-size manifest of tests.benchmarks.load (v1, then v2 with ~3% of rows changed,
generated once into --workdir) through the engine into a fresh database: a throwaway server of
--server kind (default: the embedded PostgreSQL, in the workdir), or the database at
--database-url (its manifest schema is dropped first). Then reports, right after the load (no
ANALYZE beyond what the load runs), each the first run and the best and median of several:
- `manifest-gui notes` as the CLI and the window get it: ManifestService.release_notes, which
  opens its own connection (target 2 s);
- the engine's query and diff alone, on an open connection;
- the Markdown writer;
- notes across both loads backwards (v2 -> v1), the same work the other way round.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from manifest_gui.engine.database import connect
from manifest_gui.engine.embedded import EmbeddedPostgres
from manifest_gui.engine.loader import LoadResult, load_manifest
from manifest_gui.engine.notes import build_release_notes
from manifest_gui.engine.notes_text import to_markdown
from manifest_gui.engine.progress import Progress
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from manifest_gui.engine.source import ManifestSource
from tests.benchmarks.load import REPO, manifests
from tests.support.manifest_factory import FULL_SIZE_ROWS

RUNS = 5
TARGET_SECONDS = 2.0


def _load_both(url: str, workdir: Path, rows: int) -> list[LoadResult]:
    first, second, _rows, _bytes = manifests(workdir, rows)
    results = []
    with connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS manifest CASCADE")
    with connect(url) as conn:
        for path, version in ((first, "bench-1"), (second, "bench-2")):
            with ManifestSource(path) as source:
                results.append(
                    load_manifest(
                        conn,
                        source,
                        version=version,
                        path=f"/bench/{version}",
                        language="en",
                        progress=Progress(None),
                    )
                )
    return results


def _timed(fn: Callable[[], Any], runs: int = RUNS) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def _line(label: str, times: list[float], target: float | None = None, note: str = "") -> str:
    median = statistics.median(times)
    verdict = "" if target is None else ("ok" if median <= target else "OVER")
    return (
        f"{label:<44}{times[0]:>8.2f}{min(times):>8.2f}{median:>8.2f}"
        f"{'' if target is None else f'{target:>8.1f}':>8}  {verdict}{'  ' + note if note else ''}"
    )


def report(url: str, loads: list[LoadResult], data_dir: Path) -> int:
    first, second = loads
    with connect(url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    changed = second.inserts + second.updates + second.deletes
    print(
        f"PostgreSQL {server}; v1 {first.rows:,} rows; v2 {second.inserts:,} added, "
        f"{second.updates:,} changed, {second.deletes:,} removed "
        f"({changed / first.rows:.1%} of the rows)"
    )
    print(f"{'measure (seconds)':<44}{'first':>8}{'best':>8}{'median':>8}{'target':>8}")
    settings = Settings(database_url=url, data_dir=str(data_dir))
    with ManifestService(settings) as service:
        times, notes = _timed(service.release_notes)
    entries = sum(len(section.entries) for section in notes.sections)
    rows = sum(c.added + c.changed + c.removed for c in notes.counts.values())
    listed = f"{entries:,} entries listed, {rows:,} rows counted"
    print(_line("notes, current vs previous (service call)", times, TARGET_SECONDS, listed))
    with connect(url) as conn:
        times, _ = _timed(lambda: build_release_notes(conn))
        print(_line("  query and diff on an open connection", times))
        times, back = _timed(
            lambda: build_release_notes(conn, second.manifest_id, first.manifest_id)
        )
        assert sum(len(s.entries) for s in back.sections) == entries
        print(_line("notes backwards, v2 -> v1", times, TARGET_SECONDS))
    times, markdown = _timed(lambda: to_markdown(notes))
    print(_line("  Markdown writer", times, None, f"{len(markdown) / 1e3:,.0f} kB"))
    return 0


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """--database-url, or --server: the kind of throwaway server to start without one."""
    parser.add_argument("--database-url", help="PostgreSQL to use (its manifest schema is dropped)")
    parser.add_argument(
        "--server",
        choices=("embedded", "pg15"),
        default="embedded",
        help="a throwaway server to start when no URL is given",
    )


@contextmanager
def benchmark_database(args: argparse.Namespace, folder: Path) -> Iterator[str]:
    """The URL of --database-url, or of a throwaway --server (an embedded one in `folder`),
    stopped afterwards."""
    if args.database_url is not None:
        yield args.database_url
    elif args.server == "pg15":
        from tests.support.postgres import start_server

        throwaway = start_server("pg15")
        try:
            yield throwaway.create_database("bench")
        finally:
            throwaway.stop()
    else:
        shutil.rmtree(folder, ignore_errors=True)
        embedded = EmbeddedPostgres(folder)
        try:
            yield embedded.start()
        finally:
            embedded.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_server_options(parser)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--rows", type=int, default=FULL_SIZE_ROWS)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)

    with benchmark_database(args, args.workdir / "postgres-notes") as url:
        data_dir = Path(tempfile.mkdtemp(prefix="manifest-gui-notes-bench-"))
        try:
            loads = _load_both(url, args.workdir, args.rows)
            return report(url, loads, data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
