"""The benchmark scripts still run: each one end to end on a small manifest (their numbers go
into README from full-size runs; here only that they work and report what they promise)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks import gui_heartbeat, load, viewer
from tests.gui.conftest import OFFSCREEN_LIMITS
from tests.support.postgres import PostgresServer

ROWS = "3000"


@pytest.fixture
def embedded_url(embedded_pg_server: PostgresServer) -> Iterator[str]:
    url = embedded_pg_server.create_database("bench")
    yield url
    embedded_pg_server.drop_database(url)


def test_load_benchmark(
    embedded_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        load.main(["--database-url", embedded_url, "--workdir", str(tmp_path), "--rows", ROWS]) == 0
    )
    out = capsys.readouterr().out
    for line in ("floor (bare COPY, UNLOGGED)", "first full load", "next version, ~3% changed"):
        assert line in out, out


@pytest.mark.qt_log_ignore(OFFSCREEN_LIMITS)
def test_window_heartbeat_benchmark(
    qapp: Any, embedded_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--database-url", embedded_url, "--workdir", str(tmp_path), "--rows", ROWS]
    assert gui_heartbeat.main(args) == 0
    out = capsys.readouterr().out
    assert "first load (Check & Load)" in out and "next version, ~3% changed" in out, out


def test_viewer_benchmark(
    qapp: Any, embedded_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--database-url", embedded_url, "--workdir", str(tmp_path), "--rows", ROWS]
    assert viewer.main(args) == 0
    out = capsys.readouterr().out
    assert "hash lookup" in out and "first rows of the largest table" in out, out
