"""Shared test infrastructure: fake Bungie.net, PostgreSQL servers, manifest generator.

Small helpers used by all of them live here: whether we run in CI, and how to react when a
real component (PostgreSQL 15, an X display, the OS keyring, ../shared) is missing: skip on a
developer's machine, fail in CI where everything must be present.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["display_available", "in_ci", "keyring_available", "skip_or_fail"]


def in_ci() -> bool:
    """True when running in CI (env CI=true), where missing components are failures."""
    return os.environ.get("CI", "").strip().lower() == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the current test with `reason`, or fail it when running in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this component must be available in CI)", pytrace=False)
    pytest.skip(reason)


def display_available() -> bool:
    """True when tests/run started a virtual X display (with a tray) for this test run."""
    return os.environ.get("MANIFEST_GUI_TEST_DISPLAY") == "1" and bool(os.environ.get("DISPLAY"))


def keyring_available() -> bool:
    """True when tests/run unlocked a throwaway gnome-keyring (Secret Service) for this run."""
    return os.environ.get("MANIFEST_GUI_TEST_KEYRING") == "1" and bool(
        os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    )
