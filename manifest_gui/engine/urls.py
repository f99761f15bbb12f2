"""Checking a URL that a user typed in (an S3 endpoint, a webhook) before anything uses it."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit


def http_url_parts(url: str) -> SplitResult | None:
    """The parts of an http(s) URL with a host and, if any, a numeric port; None otherwise.
    The caller words why, without quoting a URL that may hold a secret."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts
