"""The benchmark scripts still run: each one end to end on a small manifest (their numbers go
into README from full-size runs; here only that they work and report what they promise)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.benchmarks import gui_heartbeat, load, notes, viewer, whats_new
from tests.gui.conftest import OFFSCREEN_LIMITS
from tests.support.postgres import PostgresServer

ROWS = "3000"


@pytest.fixture
def embedded_url(embedded_pg_server: PostgresServer) -> Iterator[str]:
    url = embedded_pg_server.create_database("bench")
    yield url
    embedded_pg_server.drop_database(url)


@pytest.mark.qt_log_ignore(OFFSCREEN_LIMITS)
@pytest.mark.parametrize(
    ("script", "promised"),
    [
        (load, ["floor (bare COPY, UNLOGGED)", "first full load", "next version, ~3% changed"]),
        (gui_heartbeat, ["first load (Check & Load)", "next version, ~3% changed"]),
        (viewer, ["hash lookup", "first rows of the largest table"]),
        (whats_new, ["notes shown", "first view of the notes after a ~3% changed load"]),
        (notes, ["notes, current vs previous (service call)", "notes backwards, v2 -> v1"]),
    ],
    ids=["load", "gui_heartbeat", "viewer", "whats_new", "notes"],
)
def test_benchmark_script_runs(
    qapp: Any,
    embedded_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    script: ModuleType,
    promised: list[str],
) -> None:
    args = ["--database-url", embedded_url, "--workdir", str(tmp_path), "--rows", ROWS]
    assert script.main(args) == 0
    out = capsys.readouterr().out
    for line in promised:
        assert line in out, out
