"""The window's jobs, one class per kind: what each does, what it is called, how it behaves.

A JobSpec is plain data with a run(service, progress) that returns one typed JobResult. The
window's worker runs it; the presenter reads the spec's flags (does it check Bungie.net, does it
load, can it be cancelled) instead of comparing kind names. Qt-free, so it is testable alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from .errors import CancelledError, ManifestGuiError
from .progress import Progress
from .service import CheckResult

if TYPE_CHECKING:
    from .loader import LoadResult
    from .service import ManifestService, Status


class JobKind(StrEnum):
    CHECK = "check"
    UPDATE = "update"  # Check & Load
    POLL = "poll"  # an automatic Check & Load
    FORCE = "force"  # Force reload
    FILE = "file"
    ARCHIVE = "archive"
    STATUS = "status"  # read the database side


class Outcome(StrEnum):
    """How a job ended. ERROR is a bug (a traceback); FAILED a known error (a sentence)."""

    OK = "ok"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ERROR = "error"


def outcome_of(error: BaseException | None) -> Outcome:
    """Classify a job's end once, where it ends."""
    if error is None:
        return Outcome.OK
    if isinstance(error, CancelledError):
        return Outcome.CANCELLED
    if isinstance(error, ManifestGuiError):
        return Outcome.FAILED
    return Outcome.ERROR


@dataclass(frozen=True)
class JobResult:
    """What a job that ended well hands back: the database side after it, and what it did."""

    status: Status | None = None
    check: CheckResult | None = None
    load: LoadResult | None = None


def _read_first(service: ManifestService, progress: Progress) -> None:
    """Hand the database side over before a check: a check that then fails (no key yet,
    Bungie.net down) still leaves the database's version on screen."""
    try:
        status = service.status()
    except ManifestGuiError:
        return  # the job's own steps meet the same problem and report it
    progress.partial(status)


@dataclass(frozen=True)
class JobSpec:
    """The base of every job. `read_first`: show the database side before the job's own work
    (until the window has shown it once)."""

    kind: ClassVar[JobKind]
    words: ClassVar[str]  # the status line and log while it runs
    checks_bungie: ClassVar[bool] = False
    loads: ClassVar[bool] = False
    force_load: ClassVar[bool] = False  # loads even when the database is up to date
    cancellable: ClassVar[bool] = True
    read_first: bool = False

    def run(self, service: ManifestService, progress: Progress) -> JobResult:
        """The job's own work, then the database side after it."""
        if self.read_first:
            _read_first(service, progress)
        done = self.work(service, progress)
        status = service.status()
        if isinstance(done, CheckResult):
            return JobResult(status, check=done)
        return JobResult(status, load=done)

    def work(self, service: ManifestService, progress: Progress) -> CheckResult | LoadResult | None:
        """What the job does (None: nothing but reading the database side)."""
        return None

    def version_head(self, version: str) -> str:
        """How the status line names the version being loaded once Bungie.net has answered;
        a stage's words follow it after `stage_separator`."""
        return f"Update available: {version}"

    stage_separator: ClassVar[str] = ";"


@dataclass(frozen=True)
class CheckJob(JobSpec):
    kind = JobKind.CHECK
    words = "Checking Bungie.net…"
    checks_bungie = True

    def work(self, service: ManifestService, progress: Progress) -> CheckResult:
        return service.check(progress)


@dataclass(frozen=True)
class UpdateJob(JobSpec):
    """Check & Load: check, and load when Bungie.net has a new manifest."""

    kind = JobKind.UPDATE
    words = "Checking Bungie.net…"
    checks_bungie = True
    loads = True

    def work(self, service: ManifestService, progress: Progress) -> LoadResult:
        return service.update(force=self.force_load, progress=progress)


@dataclass(frozen=True)
class PollJob(UpdateJob):
    kind = JobKind.POLL
    words = "Automatic check…"


@dataclass(frozen=True)
class ForceJob(UpdateJob):
    kind = JobKind.FORCE
    words = "Reloading the manifest…"
    force_load = True
    stage_separator = ":"

    def version_head(self, version: str) -> str:
        return f"Reloading {version}"


@dataclass(frozen=True)
class FileJob(JobSpec):
    kind = JobKind.FILE
    words = "Loading the file…"
    loads = True
    path: Path = Path()

    def work(self, service: ManifestService, progress: Progress) -> LoadResult:
        return service.load_file(self.path, progress)


@dataclass(frozen=True)
class ArchiveJob(JobSpec):
    kind = JobKind.ARCHIVE
    words = "Loading from the archive…"
    loads = True
    key: str = ""

    def work(self, service: ManifestService, progress: Progress) -> LoadResult:
        return service.load_from_archive(self.key, progress)


@dataclass(frozen=True)
class StatusJob(JobSpec):
    """Read the database side; after a database switch, first close the previous service
    (which stops its embedded server, in the worker)."""

    kind = JobKind.STATUS
    words = "Reading the database…"
    cancellable = False
    close_first: ManifestService | None = None

    def work(self, service: ManifestService, progress: Progress) -> None:
        if self.close_first is not None:
            self.close_first.close()
