"""The user-facing words and units that the CLI and the window share: sizes, durations, times,
and the sentences for a check, a load and the database.

One unit convention everywhere: decimal units, 1 kB = 1,000 bytes, 1 MB = 10^6 bytes,
1 GB = 10^9 bytes (as file managers on macOS and GNOME count them), so the same file shows
the same size in the terminal and in the window.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from .database import describe_url

if TYPE_CHECKING:
    from .database import DatabaseVersion
    from .loader import LoadResult
    from .service import CheckResult
    from .settings import Settings

SIZE_UNITS = ((10**9, "GB"), (10**6, "MB"), (10**3, "kB"))


class Tone(StrEnum):
    """How a status line reads: the window gives each its colour."""

    OK = "ok"
    UPDATE = "update"
    BUSY = "busy"
    ERROR = "error"
    NEUTRAL = "neutral"


# Units -------------------------------------------------------------------------------------------
def size(value: float) -> str:
    """A byte count: 1.5 MB (decimal units, see the module's docstring)."""
    for factor, suffix in SIZE_UNITS:
        if value >= factor:
            return f"{value / factor:,.1f} {suffix}"
    return f"{int(value):,} B"


def amount(value: float, unit: str) -> str:
    """A count in its unit: "bytes" as a size, "rows" as 1,234 rows."""
    if unit == "bytes":
        return size(value)
    if unit == "rows":
        return f"{int(value):,} rows"
    return f"{int(value):,} {unit}".strip()


def rate(per_second: float, unit: str) -> str:
    if unit == "bytes":
        return f"{size(per_second)}/s"
    return f"{per_second:,.0f} {unit}/s"


def duration(seconds: float) -> str:
    """0.4 s, 12 s, 3:05, 1:02:03."""
    if seconds < 0.05:
        return "under 0.1 s"
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def clock_time(moment: datetime, now: datetime | None = None) -> str:
    """14:03 today, else 2024-11-05 14:03 (local time)."""
    local = moment.astimezone()
    now = (now or datetime.now()).astimezone()
    if local.date() == now.date():
        return f"{local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def until(moment: datetime, now: datetime) -> str:
    seconds = (moment - now).total_seconds()
    if seconds < 60:
        return "in less than a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"in {minutes} min"
    return f"in {minutes // 60} h {minutes % 60:02d} min"


# Sentences ---------------------------------------------------------------------------------------
def check_sentence(check: CheckResult) -> str:
    """The answer of a check, as the window's status line says it."""
    if check.update_available:
        return f"Update available: {check.remote.version}."
    return "Up to date."


def loaded_sentence(loaded: LoadResult) -> str:
    """What a load did (or that there was nothing to load)."""
    if not loaded.loaded:
        return f"Up to date: {loaded.version}."
    return (
        f"Loaded {loaded.version} as #{loaded.manifest_id}: {loaded.rows:,} rows "
        f"({loaded.inserts:,} new, {loaded.updates:,} changed, {loaded.deletes:,} removed) "
        f"in {duration(loaded.seconds)}."
    )


def database_words(settings: Settings) -> str:
    """Which database the settings name, without its password."""
    url = settings.database_url
    if not url:
        return f"embedded PostgreSQL in {settings.embedded_database_path}"
    return f"PostgreSQL at {describe_url(url)}"


def version_words(version: DatabaseVersion) -> str:
    return f"{version.version}  {version.path}  (#{version.manifest_id})"
