"""One database worker thread with its own read-only connection, and a GUI-side handle.

Why a handle: widgets submit plain functions `fn(conn) -> result` and get the result back in
the GUI thread (the handle lives there, so callbacks never touch widgets from the worker, and
tests never wait on a signal emitted from another thread). A tag names a stream of jobs (the
search box): submitting with cancel_tag cancels that stream's queued jobs and interrupts its
running query on the server (psycopg's cancel), so stale searches neither run nor answer.

The server-side cancel is a network round trip, so it is sent from a short-lived thread, never
from the GUI thread. It targets one job (its id is the token): the sender checks, under the
worker's lock, that this job is still the one running and holds the lock until the server has
taken the request (libpq waits for that), while the worker takes the same lock before it moves
on. So a cancel meant for a stale query can never hit the next one.

The worker ends every job with one typed JobEnd, as the window's jobs do: a known failure is a
sentence for the job's on_error; a bug (ERROR) also reaches the runner's bugFound signal with
its traceback, which the Application shows in the error dialog.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from PySide6.QtCore import QObject, QThread, Signal, Slot

from manifest_gui.engine.database import connect
from manifest_gui.engine.db_errors import DatabaseTask, database_error
from manifest_gui.engine.errors import ManifestGuiError
from manifest_gui.engine.jobs import Outcome

from ..workers import JobEnd

log = logging.getLogger(__name__)

Job = Callable[[psycopg.Connection], Any]
ErrorCallback = Callable[[str], None]
STATEMENT_TIMEOUT_MS = 60_000
CANCEL_TIMEOUT_S = 2.0


class _Worker(QObject):
    """Lives in the worker thread; runs jobs one at a time on one connection."""

    ended = Signal(int, object)  # job id, JobEnd

    def __init__(self, url_provider: Callable[[], str], skip: Callable[[int], bool]) -> None:
        super().__init__()
        self._url_provider = url_provider
        self._skip = skip
        self._conn: psycopg.Connection | None = None
        # Held briefly by the worker when it starts or ends a job or drops its connection, and
        # by a cancel sender for its whole check-and-send: never taken in the GUI thread.
        self._lock = threading.Lock()
        self.current: int | None = None  # the running job's id; read without the lock
        self._senders: list[threading.Thread] = []

    def _connection(self) -> psycopg.Connection:
        conn = self._conn
        if conn is None or conn.closed:
            conn = connect(self._url_provider(), read_only=True)
            # A session setting, not a write: no query of the viewer may run away.
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false)", (str(STATEMENT_TIMEOUT_MS),)
            )
            conn.commit()
            with self._lock:
                self._conn = conn
        return conn

    @Slot(int, object)
    def run(self, job_id: int, fn: Job) -> None:
        # Running first, then the skip check: a cancel that comes between them either sees
        # this job running (and interrupts it) or is seen by the check (and it never runs).
        with self._lock:
            self.current = job_id
        kind = f"viewer query {job_id}"
        try:
            if self._skip(job_id):
                self.ended.emit(job_id, JobEnd(kind, Outcome.CANCELLED))
                return
            result = fn(self._connection())
        except pg_errors.QueryCanceled as exc:
            self._rollback()
            if self._skip(job_id):
                self.ended.emit(job_id, JobEnd(kind, Outcome.CANCELLED))
            else:
                error = database_error(exc, DatabaseTask.QUERY) or exc
                self.ended.emit(job_id, JobEnd(kind, Outcome.FAILED, error=error))
        except ManifestGuiError as exc:
            self._drop_connection()
            self.ended.emit(job_id, JobEnd(kind, Outcome.FAILED, error=exc))
        except Exception as exc:
            known = database_error(exc, DatabaseTask.QUERY)
            if known is None:  # a bug: the traceback to the log and the dialog; keep running
                details = traceback.format_exc()
                log.error("Viewer query failed\n%s", details.rstrip())
                self._rollback()
                self.ended.emit(job_id, JobEnd(kind, Outcome.ERROR, error=exc, details=details))
                return
            if isinstance(exc, psycopg.OperationalError):  # the session may be gone
                self._drop_connection()
            else:
                self._rollback()
            self.ended.emit(job_id, JobEnd(kind, Outcome.FAILED, error=known))
        else:
            # A job that read outside `with conn.transaction()` left one open: end it, or the
            # idle session would hold its table locks (blocking schema changes) indefinitely.
            conn = self._conn
            if (
                conn is not None
                and not conn.closed
                and (conn.info.transaction_status != TransactionStatus.IDLE)
            ):
                self._rollback()
            self.ended.emit(job_id, JobEnd(kind, Outcome.OK, result))
        finally:
            with self._lock:
                self.current = None

    def cancel_running(self, job_ids: set[int]) -> threading.Thread | None:
        """Interrupt the running query if it is one of `job_ids`. Called from the GUI thread;
        returns at once: the cancel request goes out from a short-lived thread (returned)."""
        token = self.current  # one read: an int or None
        if token is None or token not in job_ids:
            return None
        sender = threading.Thread(
            target=self._send_cancel, args=(token,), name="viewer-cancel", daemon=True
        )
        self._senders = [thread for thread in self._senders if thread.is_alive()]
        self._senders.append(sender)
        sender.start()
        return sender

    def _send_cancel(self, token: int) -> None:
        """In the sender thread: cancel job `token`'s query, if and only if it still runs."""
        with self._lock:
            conn = self._conn
            if self.current != token or conn is None or conn.closed:
                return  # it ended already: the next query must not be hit
            try:
                conn.cancel_safe(timeout=CANCEL_TIMEOUT_S)
            except Exception as exc:  # never escape a thread; the query then runs to its end
                log.info("Could not cancel a viewer query: %s", exc)

    def join_senders(self, timeout: float = CANCEL_TIMEOUT_S + 1) -> None:
        for thread in self._senders:
            thread.join(timeout)
        self._senders = []

    def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.rollback()
            except psycopg.Error:
                self._drop_connection()

    def _drop_connection(self) -> None:
        with self._lock:  # not while a cancel request is being sent on it
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
    bugFound = Signal(str, str, str)  # summary, traceback, error name: a query hit a bug

    def __init__(
        self, url_provider: Callable[[], str], name: str, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._next_id = 0
        self._callbacks: dict[int, tuple[Callable[[Any], None], ErrorCallback]] = {}
        self._tags: dict[int, str | None] = {}
        self._skipped: set[int] = set()
        self._skip_lock = threading.Lock()
        self._thread = QThread()
        self._thread.setObjectName(f"{name}-thread")
        self._worker = _Worker(url_provider, self._is_skipped)
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run)
        self._close.connect(self._worker.close)
        self._worker.ended.connect(self._on_ended)
        self._thread.start()
        self._stopped = False

    def _is_skipped(self, job_id: int) -> bool:
        with self._skip_lock:
            return job_id in self._skipped

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    @property
    def running_job(self) -> int | None:
        """The id of the job the worker runs now (None when idle)."""
        return self._worker.current

    def submit(
        self,
        fn: Job,
        on_done: Callable[[Any], None],
        on_error: ErrorCallback | None = None,
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
        self._callbacks[job_id] = (on_done, on_error or _ignore)
        self._tags[job_id] = tag
        self._submit.emit(job_id, fn)
        if not was_busy:
            self.busyChanged.emit(True)
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

    def _finish(self, job_id: int) -> tuple[Callable[[Any], None], ErrorCallback] | None:
        self._tags.pop(job_id, None)
        with self._skip_lock:
            self._skipped.discard(job_id)
        callbacks = self._callbacks.pop(job_id, None)
        return callbacks

    def _maybe_idle(self) -> None:
        if not self._callbacks:
            self.busyChanged.emit(False)

    @Slot(int, object)
    def _on_ended(self, job_id: int, end: JobEnd) -> None:
        callbacks = self._finish(job_id)
        if end.outcome is Outcome.ERROR:
            # Even when nobody waits for its answer any more: a bug is never silent.
            name = type(end.error).__name__
            self.bugFound.emit(f"A viewer query failed: {name}: {end.error}", end.details, name)
        if callbacks is None or end.outcome is Outcome.CANCELLED:
            return
        on_done, on_error = callbacks
        if end.outcome is Outcome.OK:
            on_done(end.result)
        elif end.outcome is Outcome.FAILED:
            on_error(str(end.error))
        else:
            on_error(f"An unexpected error ({type(end.error).__name__}); details are in the log.")
        self._maybe_idle()

    def reset(self) -> None:
        """Drop every job and close the connection (after the running job): the next job
        connects again, to the database url_provider() names then (after a switch)."""
        if self._stopped:
            return
        self.cancel_all()
        self._close.emit()

    def stop(self) -> None:
        """Cancel everything, close the connection and join the thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.cancel_all()
        self._close.emit()
        self._thread.quit()
        self._thread.wait()
        self._worker.join_senders()
        self._worker.close()


def _ignore(_message: str) -> None:
    pass
