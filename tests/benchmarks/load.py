"""Load benchmark: the engine against a bare COPY floor, on a full-size manifest.

    python -m tests.benchmarks.load [--database-url URL] [--workdir DIR] [--rows N]

Generates (once, kept in --workdir) a full-size manifest (~170,000 rows, ~390 MB of JSON) and
its next version with ~3% of rows changed, then reports against one PostgreSQL:
- the floor: a bare COPY of the same (table_name, pk, json) rows into an UNLOGGED table
  without indexes, streamed by the same reader;
- the first full load and the changed load (each a `manifest-gui load --file` subprocess),
  in seconds and as a ratio to the floor;
- the peak RSS of each loading process.
Without --database-url it uses a fresh embedded PostgreSQL in the workdir.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
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


def timed_load(url: str, sqlite_path: Path) -> tuple[float, float, dict[str, object]]:
    """Run `manifest-gui load --file` in a child; return (load seconds, peak RSS MB, JSON)."""
    env = dict(os.environ, MANIFEST_GUI_DATABASE_URL=url, PYTHONPATH=str(REPO))
    child = subprocess.Popen(
        [sys.executable, "-m", "manifest_gui", "load", "--file", str(sqlite_path), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
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
    return float(result["seconds"]), usage.ru_maxrss / 1024, result


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
        floor_seconds = floor(url, first)
        first_seconds, first_rss, first_result = timed_load(url, first)
        second_seconds, second_rss, second_result = timed_load(url, second)
    finally:
        if embedded is not None:
            embedded.stop()
        if throwaway is not None:
            throwaway.stop()

    print(f"PostgreSQL {server}; manifest: {rows:,} rows, {json_bytes / 1e6:,.0f} MB of JSON")
    print(f"{'run':<34}{'seconds':>9}{'x floor':>9}{'peak RSS':>11}")
    print(f"{'floor (bare COPY, UNLOGGED)':<34}{floor_seconds:>9.2f}{1:>9.2f}{'':>11}")
    print(
        f"{'first full load':<34}{first_seconds:>9.2f}{first_seconds / floor_seconds:>9.2f}"
        f"{first_rss:>8.0f} MB"
    )
    print(
        f"{'next version, ~3% changed':<34}{second_seconds:>9.2f}"
        f"{second_seconds / floor_seconds:>9.2f}{second_rss:>8.0f} MB"
    )
    print(f"  first:   {first_result['inserts']:,} inserts")
    print(
        f"  changed: {second_result['inserts']:,} inserts, {second_result['updates']:,} "
        f"updates, {second_result['deletes']:,} deletes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
