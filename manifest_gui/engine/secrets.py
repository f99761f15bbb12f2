"""Secrets live in the OS keyring (service "manifest-gui"), or, when the user agrees because no
keyring exists, in this process's memory for this run only. Never in files, logs or messages."""

from __future__ import annotations

import logging
import os

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

from .. import APP_NAME
from .errors import SecretStoreError

log = logging.getLogger(__name__)

API_KEY_ENTRY = "bungie-api-key"
API_KEY_ENVIRONMENT = "MANIFEST_GUI_API_KEY"
DISCORD_WEBHOOK_ENTRY = "discord-webhook-url"
DISCORD_WEBHOOK_ENVIRONMENT = "MANIFEST_GUI_DISCORD_WEBHOOK_URL"


def database_entry(url_without_password: str) -> str:
    return f"database:{url_without_password}"


class SecretStore:
    """get/set/delete secrets by entry name; the keyring backend is injectable for tests."""

    def __init__(self, backend: KeyringBackend | None = None, service: str = APP_NAME) -> None:
        self._backend = backend
        self._service = service
        self._session: dict[str, str] = {}  # for-this-run-only secrets

    @property
    def backend(self) -> KeyringBackend:
        return self._backend or keyring.get_keyring()

    def keyring_available(self) -> bool:
        """False when only keyring's fail backend (or a chainer of nothing) is there."""
        backend = self.backend
        try:
            priority = float(backend.priority)
        except Exception:  # some backends compute priority lazily and may raise
            return False
        return priority > 0 and "fail" not in type(backend).__module__

    def backend_name(self) -> str:
        backend = self.backend
        chained = getattr(backend, "backends", None)
        if chained:  # keyring's chainer: name the backend it stores into (its first)
            backend = chained[0]
        return str(getattr(backend, "name", type(backend).__name__))

    def get(self, entry: str) -> str | None:
        if entry in self._session:
            return self._session[entry]
        try:
            return self.backend.get_password(self._service, entry)
        except keyring.errors.KeyringError as exc:
            log.info("Keyring unavailable while reading %s: %s", entry, type(exc).__name__)
            return None

    def set(self, entry: str, secret: str, *, session_only: bool = False) -> None:
        if session_only:
            self._session[entry] = secret
            return
        try:
            self.backend.set_password(self._service, entry, secret)
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(
                "No OS keyring is available to store the secret; keep it for this run only "
                "or set up a keyring (Secret Service, macOS Keychain, Windows Credential Locker)."
            ) from exc
        self._session.pop(entry, None)

    def delete(self, entry: str) -> None:
        self._session.pop(entry, None)
        try:
            self.backend.delete_password(self._service, entry)
        except keyring.errors.PasswordDeleteError:
            pass  # nothing stored: already the desired state
        except keyring.errors.KeyringError as exc:
            log.info("Keyring unavailable while deleting %s: %s", entry, type(exc).__name__)

    def is_session_only(self, entry: str) -> bool:
        return entry in self._session

    # The Bungie API key ------------------------------------------------------------------
    def api_key(self) -> str | None:
        """The environment's key first (servers, cron), else the keyring's."""
        # Strip: a key pasted with a newline would be an invalid HTTP header, not a bad key.
        key = (os.environ.get(API_KEY_ENVIRONMENT) or "").strip()
        return key or (self.get(API_KEY_ENTRY) or "").strip() or None

    def set_api_key(self, key: str, *, session_only: bool = False) -> None:
        self.set(API_KEY_ENTRY, key.strip(), session_only=session_only)

    def delete_api_key(self) -> None:
        self.delete(API_KEY_ENTRY)

    # The Discord webhook URL: its token lets anyone post to the channel ------------------
    def discord_webhook_url(self) -> str | None:
        """The environment's URL first (cron, servers), else the keyring's; None when unset."""
        url = (os.environ.get(DISCORD_WEBHOOK_ENVIRONMENT) or "").strip()
        return url or (self.get(DISCORD_WEBHOOK_ENTRY) or "").strip() or None

    def set_discord_webhook_url(self, url: str, *, session_only: bool = False) -> None:
        """Store an http(s) URL; ConfigurationError (which never quotes it) for anything else."""
        from .discord import checked_webhook_url

        self.set(DISCORD_WEBHOOK_ENTRY, checked_webhook_url(url), session_only=session_only)

    def delete_discord_webhook_url(self) -> None:
        self.delete(DISCORD_WEBHOOK_ENTRY)
