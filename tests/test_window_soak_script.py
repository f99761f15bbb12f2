"""The window soak script (tests/benchmarks/window_soak.py) runs end to end on a tiny scale and
its bars hold: the full-size numbers (150 checks, 20 loads) are in README."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks import window_soak
from tests.gui.conftest import OFFSCREEN_LIMITS
from tests.support.postgres import PostgresServer


@pytest.fixture
def embedded_url(embedded_pg_server: PostgresServer) -> Iterator[str]:
    url = embedded_pg_server.create_database("soak")
    yield url
    embedded_pg_server.drop_database(url)


@pytest.mark.qt_log_ignore(OFFSCREEN_LIMITS)
def test_the_soak_script_runs_and_its_bars_hold(
    qapp: Any, embedded_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--database-url", embedded_url, "--workdir", str(tmp_path)]
    code = window_soak.main([*args, "--checks", "12", "--loads", "3", "--rows", "300"])
    out = capsys.readouterr().out
    assert "soak: 12 of 12 checks ok, 3 loads in" in out, out
    assert "MISS" not in out and code == 0, out
    for bar in ("memory grows by at most 30 MB", "database sessions end where they started"):
        assert f"ok   {bar}" in out, out
