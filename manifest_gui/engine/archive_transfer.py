"""One s3transfer job with progress and cancel: the transfer threads only count bytes (and
raise from their callback on cancel); the caller's thread reports progress and cancels the
future, which also covers a stalled connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from boto3.s3.transfer import TransferConfig
from s3transfer.futures import TransferFuture
from s3transfer.manager import TransferManager
from s3transfer.subscribers import BaseSubscriber

from .archive_errors import ArchiveCancelledError, cancelled
from .errors import CancelledError
from .progress import Progress

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

POLL_SECONDS = 0.05

Submit = Callable[[TransferManager, BaseSubscriber], TransferFuture]


class _Counter(BaseSubscriber):
    """Counts bytes from s3transfer's threads; raises from the callback on cancel."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self.done = 0

    def on_progress(self, future: TransferFuture, bytes_transferred: int, **kwargs: Any) -> None:
        if self._progress.cancelled:
            raise CancelledError()
        with self._lock:
            self.done += bytes_transferred


def run_transfer(
    client: S3Client, config: TransferConfig, progress: Progress, submit: Submit, action: str
) -> int:
    """Run the transfer that `submit` starts; return the bytes moved. A cancel raises
    ArchiveCancelledError; other failures come out as s3transfer raised them."""
    counter = _Counter(progress)
    with TransferManager(client, config) as manager:
        future = submit(manager, counter)
        while not future.done():
            if progress.cancelled:
                future.cancel()
                break
            progress.update(counter.done)
            time.sleep(POLL_SECONDS)
        try:
            future.result()
        except CancelledError:
            raise ArchiveCancelledError(cancelled(action)) from None
        except Exception:
            if progress.cancelled:  # s3transfer's own CancelledError, or a side effect
                raise ArchiveCancelledError(cancelled(action)) from None
            raise
    return counter.done
