"""A keyring backend that never answers, like a Secret Service waiting on a password prompt
nobody sees. Select it with PYTHON_KEYRING_BACKEND=tests.support.blocking_keyring.Keyring."""

from __future__ import annotations

import time

from keyring.backend import KeyringBackend


class Keyring(KeyringBackend):
    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(3600)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        time.sleep(3600)

    def delete_password(self, service: str, username: str) -> None:
        time.sleep(3600)
