"""The local manifest cache: downloaded .content files and extracted SQLite files.

Files live in `<cache>/<language>/` named after the content path, so a content path that is
already cached is never downloaded again. Files unused for `days` days are pruned after a load;
"used" means written or reused (reuse touches the file), so a file just loaded is never pruned.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .bungie import path_name

log = logging.getLogger(__name__)

SQLITE_SUFFIX = ".sqlite3"
CONTENT_SUFFIX = ".content"


def manifest_stem(content_path: str) -> str:
    """The content file's name without `.content`: the name shared by the cache and the archive."""
    name = path_name(content_path)
    return name[: -len(CONTENT_SUFFIX)] if name.endswith(CONTENT_SUFFIX) else name


@dataclass(frozen=True)
class ManifestCache:
    """One cache folder; cheap to create, holds no open resources."""

    root: Path
    days: int = 7

    def folder(self, language: str) -> Path:
        return self.root / language

    def content_file(self, language: str, content_path: str) -> Path:
        return self.folder(language) / path_name(content_path)

    def sqlite_file(self, language: str, content_path: str) -> Path:
        return self.folder(language) / (manifest_stem(content_path) + SQLITE_SUFFIX)

    def touch(self, path: Path) -> None:
        """Mark a cached file as used now, so the prune after this load keeps it."""
        try:
            os.utime(path)
        except OSError as exc:
            log.info("Could not touch %s: %s", path, exc)

    def files(self) -> list[Path]:
        """Every regular file in the cache (symlinks are neither followed nor counted)."""
        if not self.root.is_dir():
            return []
        found = []
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    found.append(path)
        return found

    def size(self) -> int:
        """Bytes used by the cache (shown in Settings)."""
        total = 0
        for path in self.files():
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def prune(self, now: float | None = None) -> list[Path]:
        """Delete files not used for `days` days; return what was deleted. Never raises."""
        cutoff = (time.time() if now is None else now) - self.days * 86400
        removed = []
        for path in self.files():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except OSError as exc:
                log.warning("Could not prune %s: %s", path, exc)
        self._remove_empty_folders()
        if removed:
            log.info("Pruned %d cached file(s) older than %d days", len(removed), self.days)
        return removed

    def clear(self) -> int:
        """Delete every cached file ("Clear cache"); return the bytes freed. Never raises."""
        freed = 0
        for path in self.files():
            try:
                size = path.stat().st_size
                path.unlink()
                freed += size
            except OSError as exc:
                log.warning("Could not delete %s: %s", path, exc)
        self._remove_empty_folders()
        return freed

    def _remove_empty_folders(self) -> None:
        if not self.root.is_dir():
            return
        for folder, _dirs, _names in os.walk(self.root, topdown=False):
            if Path(folder) != self.root:
                with contextlib.suppress(OSError):  # not empty
                    Path(folder).rmdir()
