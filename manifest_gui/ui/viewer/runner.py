"""One database worker thread with its own read-only connection, and a GUI-side handle.

Why a handle: widgets submit plain functions `fn(conn) -> result` and get the result back in
the GUI thread (the handle lives there, so callbacks never touch widgets from the worker, and
tests never wait on a signal emitted from another thread). A tag names a stream of jobs (the
search box): submitting with cancel_tag cancels that stream's queued jobs and interrupts its
running query on the server (psycopg's cancel), so stale searches neither run nor answer.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from PySide6.QtCore import QObject, QThread, Signal, Slot

from manifest_gui.engine.database import connect
from manifest_gui.engine.errors import ManifestGuiError

from .signals import emit

log = logging.getLogger(__name__)

Job = Callable[[psycopg.Connection], Any]
STATEMENT_TIMEOUT_MS = 60_000


class _Worker(QObject):
    """Lives in the worker thread; runs jobs one at a time on one connection."""

    done = Signal(int, object)
    failed = Signal(int, str, bool)  # job id, sentence, is a bug
    cancelled = Signal(int)

    def __init__(self, url_provider: Callable[[], str], skip: Callable[[int], bool]) -> None:
        super().__init__()
        self._url_provider = url_provider
        self._skip = skip
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()
        self.current: int | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = connect(self._url_provider(), read_only=True)
            # A session setting, not a write: no query of the viewer may run away.
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false)", (str(STATEMENT_TIMEOUT_MS),)
            )
            conn.commit()
            self._conn = conn
        return self._conn

    @Slot(int, object)
    def run(self, job_id: int, fn: Job) -> None:
        if self._skip(job_id):
            emit(self.cancelled, job_id)
            return
        with self._lock:
            self.current = job_id
        try:
            result = fn(self._connection())
        except pg_errors.QueryCanceled:
            self._rollback()
            if self._skip(job_id):
                emit(self.cancelled, job_id)
            else:
                emit(self.failed, job_id, "The query took too long and was stopped.", False)
        except ManifestGuiError as exc:
            self._drop_connection()
            emit(self.failed, job_id, str(exc), False)
        except psycopg.OperationalError as exc:
            self._drop_connection()
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            emit(self.failed, job_id, f"The database connection failed: {first}", False)
        except psycopg.errors.UndefinedTable:
            self._rollback()
            emit(self.failed, job_id, "The database holds no manifest yet.", False)
        except Exception as exc:  # a bug: log the traceback, keep the viewer running
            log.exception("Viewer query failed")
            self._rollback()
            emit(self.failed, job_id, f"{type(exc).__name__}: {exc}", True)
        else:
            emit(self.done, job_id, result)
        finally:
            with self._lock:
                self.current = None

    def cancel_running(self, job_ids: set[int]) -> None:
        """Interrupt the running query if it is one of `job_ids` (called from the GUI thread)."""
        with self._lock:
            running = self.current in job_ids
            conn = self._conn
        if running and conn is not None and not conn.closed:
            conn.cancel_safe(timeout=2.0)

    def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.rollback()
            except psycopg.Error:
                self._drop_connection()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    @Slot()
    def close(self) -> None:
        self._drop_connection()


class QueryRunner(QObject):
    """GUI-thread handle of one worker thread. Callbacks run in the GUI thread."""

    _submit = Signal(int, object)
    _close = Signal()
    busyChanged = Signal(bool)

    def __init__(
        self, url_provider: Callable[[], str], name: str, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._next_id = 0
        self._callbacks: dict[int, tuple[Callable[[Any], None], Callable[[str, bool], None]]] = {}
        self._tags: dict[int, str | None] = {}
        self._skipped: set[int] = set()
        self._skip_lock = threading.Lock()
        self._thread = QThread()
        self._thread.setObjectName(f"{name}-thread")
        self._worker = _Worker(url_provider, self._is_skipped)
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run)
        self._close.connect(self._worker.close)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._thread.start()
        self._stopped = False

    def _is_skipped(self, job_id: int) -> bool:
        with self._skip_lock:
            return job_id in self._skipped

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def submit(
        self,
        fn: Job,
        on_done: Callable[[Any], None],
        on_error: Callable[[str, bool], None] | None = None,
        *,
        tag: str | None = None,
        cancel_tag: bool = False,
    ) -> int:
        """Queue `fn(conn)`; with cancel_tag, earlier jobs of the same tag are dropped first."""
        if self._stopped:
            return -1
        if cancel_tag and tag is not None:
            self.cancel(tag)
        self._next_id += 1
        job_id = self._next_id
        was_busy = self.busy
        self._callbacks[job_id] = (on_done, on_error or (lambda _m, _b: None))
        self._tags[job_id] = tag
        emit(self._submit, job_id, fn)
        if not was_busy:
            emit(self.busyChanged, True)
        return job_id

    def cancel(self, tag: str) -> None:
        """Drop the queued jobs of `tag` and interrupt its running one."""
        ids = {job_id for job_id, t in self._tags.items() if t == tag}
        if not ids:
            return
        with self._skip_lock:
            self._skipped |= ids
        for job_id in ids:
            self._callbacks.pop(job_id, None)
        self._worker.cancel_running(ids)
        self._maybe_idle()

    def cancel_all(self) -> None:
        ids = set(self._tags)
        with self._skip_lock:
            self._skipped |= ids
        self._callbacks.clear()
        self._worker.cancel_running(ids)
        self._maybe_idle()

    def _finish(
        self, job_id: int
    ) -> tuple[Callable[[Any], None], Callable[[str, bool], None]] | None:
        self._tags.pop(job_id, None)
        with self._skip_lock:
            self._skipped.discard(job_id)
        callbacks = self._callbacks.pop(job_id, None)
        return callbacks

    def _maybe_idle(self) -> None:
        if not self._callbacks:
            emit(self.busyChanged, False)

    @Slot(int, object)
    def _on_done(self, job_id: int, result: object) -> None:
        callbacks = self._finish(job_id)
        if callbacks is not None:
            callbacks[0](result)
            self._maybe_idle()

    @Slot(int, str, bool)
    def _on_failed(self, job_id: int, message: str, bug: bool) -> None:
        callbacks = self._finish(job_id)
        if callbacks is not None:
            callbacks[1](message, bug)
            self._maybe_idle()

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        self._finish(job_id)

    def stop(self) -> None:
        """Cancel everything, close the connection and join the thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.cancel_all()
        emit(self._close)
        self._thread.quit()
        self._thread.wait()
        self._worker.close()
