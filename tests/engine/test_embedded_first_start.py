"""The embedded PostgreSQL's very first start killed during initdb (SIGKILL: a power cut, the
OOM killer, systemd's final kill): the next start must work, with nothing left to clear by hand.
Real processes, a real initdb, a real kill."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from manifest_gui.engine.embedded_setup import UNFINISHED_PREFIX
from tests.support.processes import run_cli

REPO = Path(__file__).resolve().parents[2]


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, MANIFEST_GUI_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO))
    env.pop("MANIFEST_GUI_DATABASE_URL", None)
    return env


def _processes_using(folder: Path) -> list[psutil.Process]:
    """Processes (initdb and its postgres) whose command line or cwd is inside `folder`."""
    found = []
    for process in psutil.process_iter():
        try:
            words = " ".join(process.cmdline())
            cwd = process.cwd()
        except (psutil.Error, OSError):
            continue
        if str(folder) in words or cwd.startswith(str(folder)):
            found.append(process)
    return found


@pytest.fixture
def no_orphans(tmp_path: Path) -> Iterator[Path]:
    """An initdb orphaned by the kill would run on: end whatever still works in tmp_path."""
    yield tmp_path
    for process in _processes_using(tmp_path):
        with contextlib.suppress(psutil.Error):
            process.kill()


def _wait_for_initdb(folder: Path, process: subprocess.Popen[bytes]) -> Path:
    """The temporary cluster folder once initdb has written into it (it is well under way)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for staging in folder.glob(UNFINISHED_PREFIX + "*"):
            try:
                if (staging / "global").is_dir():
                    return staging
            except OSError:
                pass
        assert process.poll() is None, "the first start ended before initdb got going"
        time.sleep(0.005)
    raise AssertionError("initdb never started writing its cluster")


@pytest.mark.parametrize("victims", ["the app", "the app and initdb"])
def test_a_kill_during_the_first_initdb_leaves_nothing_that_blocks_the_next_start(
    no_orphans: Path, victims: str
) -> None:
    data_dir = no_orphans / "data"
    folder = data_dir / "postgres"
    env = _env(data_dir)
    first = subprocess.Popen(
        [sys.executable, "-m", "manifest_gui", "status"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: initdb and its postgres in it
    )
    try:
        staging = _wait_for_initdb(folder, first)
        if victims == "the app":
            first.send_signal(signal.SIGKILL)  # initdb, orphaned, runs on for a while
        else:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    assert not (folder / "data").exists(), "the kill came after initdb, not during it"
    assert staging.exists()

    second = run_cli(env, "status", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["current"] is None
    assert (folder / "data" / "PG_VERSION").is_file()
    assert list(folder.glob(UNFINISHED_PREFIX + "*")) == []

    # And the cluster it made is a normal one: the next start simply uses it.
    third = run_cli(env, "status", "--json")
    assert third.returncode == 0, third.stderr
