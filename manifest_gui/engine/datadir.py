"""The local side of the disk: a data dir that cannot be used and a disk that fills up.

Both are known errors with one sentence that names the path. A front end can tell them apart
from other failures: the window points a DataDirError at Settings, and nothing that a disk-full
failure touched is taken for a damaged download.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import ManifestGuiError

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
WHERE_TO_FIX = "choose another data dir in Settings or set MANIFEST_GUI_DATA_DIR"


class DataDirError(ManifestGuiError):
    """A folder the app keeps its files in cannot be used: a file in its place, a read-only
    file system, no write permission. `path` is the folder (or what stands in its place)."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class DiskFullError(ManifestGuiError):
    """The disk (or the user's quota) ran out while writing into `path` (a folder)."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


@contextlib.contextmanager
def partial_file(destination: Path) -> Iterator[Path]:
    """A `.part` file beside `destination` to write into: moved into place when the block
    succeeds, removed when it fails in any way (a full disk, a cancel, Ctrl+C), so no
    half-written file is ever left under the final name or beside it."""
    partial = destination.with_name(destination.name + ".part")
    try:
        yield partial
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def disk_full(
    action: str, folder: Path, needed: int | None = None, *, cause: OSError | None = None
) -> DiskFullError:
    """The sentence for a disk without room for `action` (which writes into `folder`): found
    before writing (`needed` bytes), or met while writing (`cause`)."""
    if needed is not None:
        return DiskFullError(
            f"There is not enough disk space in {folder} for {action} ({needed:,} bytes "
            f"needed, only {_free_bytes(folder):,} are free); free some space and try again.",
            folder,
        )
    what = "disk quota" if cause is not None and cause.errno == errno.EDQUOT else "disk space"
    return DiskFullError(
        f"The {what} ran out in {folder} while {action}; free some space and try again.", folder
    )


def folder_problem(folder: Path, exc: OSError) -> tuple[str, Path]:
    """Why `folder` cannot be written (a clause naming the path) and the path to blame."""
    blocker = _first_non_folder(folder)
    if blocker is not None:
        return f"{blocker} is a file, not a folder", blocker
    if exc.errno == errno.EROFS:
        return f"{folder} is on a read-only file system", folder
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"this user may not write to {_first_existing(folder)}", folder
    return f"{folder} cannot be used ({exc.strerror or type(exc).__name__})", folder


def unusable_folder(
    folder: Path, exc: OSError, role: str = "data dir", *, in_data_dir: bool = True
) -> DataDirError:
    """The sentence for an OSError met while creating or writing into `folder`; it points to
    the data dir setting when the folder is in the data dir."""
    reason, path = folder_problem(folder, exc)
    hint = f"; {WHERE_TO_FIX}" if in_data_dir else ""
    return DataDirError(f"The {role} cannot be used: {reason}{hint}.", path)


def require_writable_folder(folder: Path, role: str = "data dir") -> Path:
    """Create `folder` if needed and prove that this user can write into it (a probe file is
    created and removed). Raises DataDirError or DiskFullError with the path."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(
            folder / f".write-test-{os.getpid()}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600
        )
        os.close(descriptor)
        os.unlink(folder / f".write-test-{os.getpid()}")
    except FileExistsError:
        if not folder.is_dir():
            raise unusable_folder(folder, FileExistsError(errno.EEXIST, "exists"), role) from None
        # A probe left by a killed run of this pid: the folder is writable enough to clear it.
        with contextlib.suppress(OSError):
            os.unlink(folder / f".write-test-{os.getpid()}")
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(f"preparing the {role}", folder, cause=exc) from None
        raise unusable_folder(folder, exc, role) from None
    return folder


def _first_non_folder(folder: Path) -> Path | None:
    """The folder or a parent of it that exists but is not a folder (a file in the way)."""
    for path in (folder, *folder.parents):
        try:
            mode = path.stat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            return None
        return None if stat.S_ISDIR(mode) else path
    return None


def _first_existing(folder: Path) -> Path:
    for path in (folder, *folder.parents):
        if path.exists():
            return path
    return folder


def _free_bytes(folder: Path) -> int:
    for path in (folder, *folder.parents):
        try:
            return shutil.disk_usage(path).free
        except OSError:
            continue
    return 0


def data_dir_problem(folder: Path) -> DataDirError | DiskFullError | None:
    """What keeps `folder` from serving as the data dir, or None: for a front end that checks
    at start-up (the window's dialog names `error.path` and points to Settings)."""
    try:
        require_writable_folder(folder)
    except (DataDirError, DiskFullError) as error:
        return error
    return None
