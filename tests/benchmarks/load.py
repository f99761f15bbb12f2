"""Load benchmark: the engine against a bare COPY floor, on a full-size manifest.

    python -m tests.benchmarks.load [--database-url URL] [--workdir DIR] [--rows N]

Generates (once, kept in --workdir) a full-size manifest (~170,000 rows, ~390 MB of JSON) and
its next version with ~3% of rows changed, then reports against one PostgreSQL:
- the floor: a bare COPY of the same (table_name, pk, json) rows into an UNLOGGED table
  without indexes, streamed by the same reader. It runs three times, before, between and after
  the loads (a busy machine slows some runs more than others); the ratios are to the median,
  and the three runs are printed as the floor's spread;
- the first full load and the changed load (each a `manifest-gui load --file` subprocess),
  in seconds (the load's own figure, as `load --json` reports it and the window logs it) and
  as a ratio to the floor, and the whole subprocess's wall time (Python start-up, counting the
  file's rows and connecting included);
- the peak RSS of each loading process.
Without --database-url it uses a fresh embedded PostgreSQL in the workdir.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from manifest_gui.engine.database import connect
from manifest_gui.engine.embedded import EmbeddedPostgres
from manifest_gui.engine.row_stream import copy_escape, pk_text
from manifest_gui.engine.source import ManifestSource
from tests.support.manifest_factory import FULL_SIZE_ROWS, generate_manifest

REPO = Path(__file__).resolve().parents[2]


def manifests(workdir: Path, rows: int) -> tuple[Path, Path, int, int]:
    """v1 and v2 (3% changed) SQLite files, generated once per size."""
    first, second = workdir / f"v1-{rows}.sqlite3", workdir / f"v2-{rows}.sqlite3"
    marker = workdir / f"sizes-{rows}.json"
    if not (first.exists() and second.exists() and marker.exists()):
        print(f"generating a {rows:,}-row manifest and its next version in {workdir} ...")
        started = time.monotonic()
        v1 = generate_manifest(first, seed=2026, rows=rows, full_size=True)
        v2 = generate_manifest(
            second,
            seed=2027,
            version_of=v1,
            full_size=True,
            changed=0.03,
            deleted=0.002,
            added=0.002,
            new_tables=0,
        )
        marker.write_text(
            json.dumps(
                {"rows": v1.total_rows, "json_bytes": v1.total_json_bytes, "v2_rows": v2.total_rows}
            )
        )
        print(f"  done in {time.monotonic() - started:.0f} s")
    sizes = json.loads(marker.read_text())
    return first, second, sizes["rows"], sizes["json_bytes"]


def floor(url: str, sqlite_path: Path) -> float:
    """A bare COPY of the same rows into an UNLOGGED table without indexes."""
    with connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.bench_floor")
        conn.execute(
            "CREATE UNLOGGED TABLE public.bench_floor "
            "(table_name varchar(100), pk jsonb, json jsonb)"
        )
        started = time.monotonic()
        with (
            ManifestSource(sqlite_path) as source,
            conn.cursor() as cur,
            cur.copy("COPY public.bench_floor FROM STDIN") as copy,
        ):
            for table in source.tables:
                name = copy_escape(table.name.encode())
                buffer: list[bytes] = []
                size = 0
                for key, blob in source.rows(table):
                    line = b"".join(
                        (
                            name,
                            b"\t",
                            pk_text(key),
                            b"\t",
                            copy_escape(blob),
                            b"\n",
                        )
                    )
                    buffer.append(line)
                    size += len(line)
                    if size >= 1 << 20:
                        copy.write(b"".join(buffer))
                        buffer.clear()
                        size = 0
                copy.write(b"".join(buffer))
        seconds = time.monotonic() - started
        conn.execute("DROP TABLE public.bench_floor")
        conn.execute("CHECKPOINT")
    return seconds


@dataclass(frozen=True)
class TimedLoad:
    seconds: float  # the load's own figure
    wall: float  # the whole subprocess
    rss_mb: float
    result: dict[str, object]


def timed_load(url: str, sqlite_path: Path) -> TimedLoad:
    """Run `manifest-gui load --file` in a child and time it."""
    env = dict(os.environ, MANIFEST_GUI_DATABASE_URL=url, PYTHONPATH=str(REPO))
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "manifest_gui", "load", "--file", str(sqlite_path), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    assert child.stdout is not None and child.stderr is not None
    out, err = child.stdout.read(), child.stderr.read()
    child.stdout.close()
    child.stderr.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"load failed: {err.decode()}")
    result = json.loads(out)
    with connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    return TimedLoad(float(result["seconds"]), wall, usage.ru_maxrss / 1024, result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL to use (default: --server)")
    parser.add_argument(
        "--server",
        choices=("embedded", "pg15"),
        default="embedded",
        help="a throwaway server to start when no URL is given",
    )
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--rows", type=int, default=FULL_SIZE_ROWS)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    first, second, rows, json_bytes = manifests(args.workdir, args.rows)

    embedded = None
    throwaway = None
    url = args.database_url
    if url is None and args.server == "pg15":
        from tests.support.postgres import start_server

        throwaway = start_server("pg15")
        url = throwaway.create_database("bench")
    elif url is None:
        folder = args.workdir / "postgres"
        shutil.rmtree(folder, ignore_errors=True)
        embedded = EmbeddedPostgres(folder)
        url = embedded.start()
    try:
        with connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS manifest CASCADE")
            server = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        # Interleaved: a busy spell of the machine lands on one floor, not on all three.
        floors = [floor(url, first)]
        first_load = timed_load(url, first)
        floors.append(floor(url, first))
        changed_load = timed_load(url, second)
        floors.append(floor(url, first))
    finally:
        if embedded is not None:
            embedded.stop()
        if throwaway is not None:
            throwaway.stop()

    floor_seconds = statistics.median(floors)
    print(f"PostgreSQL {server}; manifest: {rows:,} rows, {json_bytes / 1e6:,.0f} MB of JSON")
    print(f"{'run':<34}{'seconds':>9}{'x floor':>9}{'process':>9}{'peak RSS':>11}")
    print(f"{'floor (bare COPY, UNLOGGED)':<34}{floor_seconds:>9.2f}{1:>9.2f}")
    for label, run in (
        ("first full load", first_load),
        ("next version, ~3% changed", changed_load),
    ):
        print(
            f"{label:<34}{run.seconds:>9.2f}{run.seconds / floor_seconds:>9.2f}"
            f"{run.wall:>9.2f}{run.rss_mb:>8.0f} MB"
        )
    print(
        f"  floor: median of {', '.join(f'{x:.2f}' for x in floors)} s "
        f"(spread {min(floors):.2f}-{max(floors):.2f} s, "
        f"{(max(floors) - min(floors)) / floor_seconds:.0%} of the median)"
    )
    print(f"  first:   {first_load.result['inserts']:,} inserts")
    print(
        f"  changed: {changed_load.result['inserts']:,} inserts, "
        f"{changed_load.result['updates']:,} updates, {changed_load.result['deletes']:,} deletes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
