"""Cancelling a stale viewer query: the GUI thread never waits for the cancel request, and the
request can only hit the query it was meant for, never the next one (real PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from manifest_gui.ui.viewer.runner import QueryRunner

WAIT = 20_000
CANCEL_DELAY = 0.5  # a slow network between the viewer and PostgreSQL


def sleeper(seconds: float, result: str) -> Any:
    def job(conn: psycopg.Connection) -> str:
        conn.execute("SELECT pg_sleep(%s)", (seconds,))
        return result

    return job


@pytest.fixture
def runner(qtbot: Any, database_url: str) -> Iterator[QueryRunner]:
    runner = QueryRunner(lambda: database_url, "test-runner")
    ready: list[str] = []
    runner.submit(sleeper(0, "ready"), ready.append)  # connect first
    qtbot.waitUntil(lambda: ready == ["ready"], timeout=WAIT)
    yield runner
    runner.stop()
    runner.deleteLater()


@pytest.fixture
def slow_cancel(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """psycopg's cancel request takes CANCEL_DELAY before it is sent; records its threads."""
    original = psycopg.Connection.cancel_safe
    senders: list[threading.Thread] = []

    def cancel_safe(self: psycopg.Connection, *, timeout: float = 30.0) -> None:
        senders.append(threading.current_thread())
        time.sleep(CANCEL_DELAY)
        original(self, timeout=timeout)

    monkeypatch.setattr(psycopg.Connection, "cancel_safe", cancel_safe)
    return senders


def test_a_stale_query_is_cancelled_without_blocking(
    qtbot: Any, runner: QueryRunner, slow_cancel: list[threading.Thread]
) -> None:
    answers: list[str] = []
    errors: list[str] = []
    stale = runner.submit(sleeper(30, "stale"), answers.append, tag="search")
    qtbot.waitUntil(lambda: runner.running_job == stale, timeout=WAIT)
    time.sleep(0.2)  # the query is on the server
    started = time.monotonic()
    runner.submit(
        sleeper(0, "fresh"),
        answers.append,
        lambda message: errors.append(message),
        tag="search",
        cancel_tag=True,
    )
    took = time.monotonic() - started
    assert took < 0.2, f"the GUI thread waited {took:.2f} s for the cancel request"
    qtbot.waitUntil(lambda: answers == ["fresh"], timeout=WAIT)
    assert errors == []
    assert slow_cancel and all(t is not threading.main_thread() for t in slow_cancel)


def test_a_late_cancel_never_hits_the_next_query(
    qtbot: Any, runner: QueryRunner, slow_cancel: list[threading.Thread]
) -> None:
    """The stale query ends while its cancel request is on its way; the next query (another
    stream, not stale) must run to its end rather than be cancelled in its place."""
    answers: list[str] = []
    errors: list[str] = []
    stale = runner.submit(sleeper(0.2, "stale"), answers.append, tag="search")
    runner.submit(
        sleeper(1.0, "next"),
        answers.append,
        lambda message: errors.append(message),
        tag="tables",
    )
    qtbot.waitUntil(lambda: runner.running_job == stale, timeout=WAIT)
    runner.cancel("search")  # its request goes out after the stale query has ended
    qtbot.waitUntil(lambda: bool(answers or errors), timeout=WAIT)
    assert errors == [] and answers == ["next"]
    qtbot.waitUntil(lambda: not any(t.is_alive() for t in slow_cancel), timeout=WAIT)
