"""Known errors: things the environment did, each shown to the user as one plain sentence.

Anything that is not a ManifestGuiError is a bug: front ends log its traceback and show details.
"""

from __future__ import annotations


class ManifestGuiError(Exception):
    """A known failure. str(error) is one sentence fit for a status line or `error: ...`."""


class CancelledError(ManifestGuiError):
    def __init__(self, message: str = "Cancelled; the database was left as it was.") -> None:
        super().__init__(message)


class ConfigurationError(ManifestGuiError):
    """A setting is missing or invalid (no API key, unknown language...)."""


class BungieError(ManifestGuiError):
    """Bungie.net answered with an error, or with something that is not its API."""

    def __init__(self, message: str, error_code: int | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code


class MaintenanceError(BungieError):
    pass


class ApiKeyError(BungieError):
    pass


class ThrottledError(BungieError):
    pass


class NetworkError(ManifestGuiError):
    """Bungie.net (or another server) could not be reached: DNS, refused, timeout."""


class DownloadError(ManifestGuiError):
    pass


class BadManifestFileError(ManifestGuiError):
    """A downloaded or chosen file is not exactly one SQLite manifest database."""


class DatabaseUnavailableError(ManifestGuiError):
    pass


class DatabaseRefusedError(ManifestGuiError):
    """The database answered but refused: no privilege, or a read-only server."""


class DatabaseBusyError(ManifestGuiError):
    """A read or a load waited too long for a lock that another session holds."""


class DatabaseFullError(ManifestGuiError):
    """The database server ran out of disk space (or memory) for what it was asked to do."""


class DatabaseQueryError(ManifestGuiError):
    """A read the database could not answer: stopped for taking too long, no manifest yet, a
    search it cannot compare."""


class LoadInProgressError(ManifestGuiError):
    def __init__(self) -> None:
        super().__init__(
            "Another load is running on this database; try again when it has finished."
        )


class ArchiveError(ManifestGuiError):
    pass


class ExportError(ManifestGuiError):
    """The viewer could not write an export file (folder missing, read-only, disk full...)."""


class SecretStoreError(ManifestGuiError):
    pass
