"""Numbers, sizes and times as short words for labels."""

from __future__ import annotations

from datetime import datetime


def amount(value: float, unit: str) -> str:
    if unit == "bytes":
        return size(value)
    if unit == "rows":
        return f"{int(value):,} rows"
    return f"{int(value):,} {unit}".strip()


def size(value: float) -> str:
    for factor, suffix in ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")):
        if value >= factor:
            return f"{value / factor:,.1f} {suffix}"
    return f"{int(value):,} B"


def rate(per_second: float, unit: str) -> str:
    if unit == "bytes":
        return f"{size(per_second)}/s"
    return f"{per_second:,.0f} {unit}/s"


def duration(seconds: float) -> str:
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
