"""The CLI as a user runs it: `python -m manifest_gui ...` in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping


def run_cli(
    env: Mapping[str, str], *argv: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run manifest-gui with `argv` and `env`; its exit code, stdout and stderr (never raises
    on a non-zero exit: the tests assert on it)."""
    return subprocess.run(
        [sys.executable, "-m", "manifest_gui", *argv],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
