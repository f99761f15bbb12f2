"""The engine's front door: check, update, load a file, status and history.

The CLI and the window call exactly these methods; each long one takes a Progress handle.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from .archive import ArchivedManifest, S3Archive, sha256_file
from .bungie import BungieClient, RemoteManifest, path_name
from .cache import ManifestCache
from .database import (
    READ_LOCK_TIMEOUT,
    DatabaseVersion,
    TableCount,
    connect,
    current_version,
    database_errors,
    ensure_schema,
    table_counts,
    versions,
)
from .datadir import require_writable_folder
from .embedded import EmbeddedPostgres
from .errors import ArchiveError, BadManifestFileError, CancelledError, DatabaseUnavailableError
from .extract import extract_content, is_sqlite_file
from .loader import LoadResult, load_manifest
from .notes import Watch, build_release_notes
from .notes_model import ReleaseNotes
from .progress import Progress, Stage, no_progress
from .secrets import SecretStore
from .settings import Settings
from .source import ManifestSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteVersion:
    version: str
    path: str


@dataclass(frozen=True)
class CheckResult:
    remote: RemoteVersion
    database: DatabaseVersion | None
    checked_at: datetime

    @property
    def update_available(self) -> bool:
        """New when the version string or the content path differs: Bungie has changed content
        without changing the version, and has rolled releases back."""
        db = self.database
        return db is None or (db.version, db.path) != (self.remote.version, self.remote.path)

    def as_json(self) -> dict[str, object]:
        db = self.database
        return {
            "remote": {"version": self.remote.version, "path": self.remote.path},
            "database": None
            if db is None
            else {
                "manifest_id": db.manifest_id,
                "version": db.version,
                "path": db.path,
            },
            "update_available": self.update_available,
        }


@dataclass(frozen=True)
class Status:
    current: DatabaseVersion | None
    tables: list[TableCount]

    @property
    def live_rows(self) -> int:
        return sum(table.live_rows for table in self.tables)

    def as_json(self) -> dict[str, object]:
        current = self.current
        return {
            "current": None
            if current is None
            else {
                "manifest_id": current.manifest_id,
                "version": current.version,
                "path": current.path,
                "language": current.language,
                "loaded_at": current.loaded_at.isoformat(),
            },
            "live_rows": self.live_rows,
            "tables": {table.table_name: table.live_rows for table in self.tables},
        }


def version_json(version: DatabaseVersion) -> dict[str, object]:
    return {
        "manifest_id": version.manifest_id,
        "version": version.version,
        "path": version.path,
        "language": version.language,
        "loaded_at": version.loaded_at.isoformat(),
        "current": version.current,
        "rows": version.row_count,
        "inserts": version.inserts,
        "updates": version.updates,
        "deletes": version.deletes,
        "seconds": version.load_seconds,
    }


BungieFactory = Callable[[Settings, str | None], BungieClient]


def default_bungie_factory(settings: Settings, api_key: str | None) -> BungieClient:
    return BungieClient(settings.bungie_root, api_key)


class ManifestService:
    """Wires settings, secrets, the database and Bungie.net together. Thread-safe enough for one
    job at a time (the window runs one job at a time; each call opens its own connection)."""

    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore | None = None,
        *,
        bungie_factory: BungieFactory = default_bungie_factory,
    ) -> None:
        self.settings = settings.validated()
        self.secrets = secrets or SecretStore()
        self._bungie_factory = bungie_factory
        self._embedded: EmbeddedPostgres | None = None
        self._closed = False  # the embedded server is never started again after close()
        # The job thread and the viewer's query threads may ask for the URL at the same time:
        # only one of them may start the embedded server.
        self._embedded_lock = threading.Lock()

    # Resources -----------------------------------------------------------------------------
    @property
    def uses_embedded_database(self) -> bool:
        return not self.settings.database_url

    def database_url(self) -> str:
        """The configured URL (its password, if any, from the keyring), or the embedded one."""
        if self.settings.database_url:
            return self._with_stored_password(self.settings.database_url)
        with self._embedded_lock:
            if self._closed:
                # A viewer query that was in flight when the database setting changed: it
                # must not start the old embedded server again, with nobody left to stop it.
                raise DatabaseUnavailableError(
                    "The database setting changed; the previous database is closed."
                )
            if self._embedded is None:
                self._embedded = EmbeddedPostgres(self.settings.embedded_database_path)
            return self._embedded.start()

    def _with_stored_password(self, url: str) -> str:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        from .secrets import database_entry
        from .settings import strip_password

        try:
            params = conninfo_to_dict(url)
        except Exception:
            return url  # connect() reports the bad URL in a sentence
        if params.get("password"):
            return url
        password = self.secrets.get(database_entry(strip_password(url)))
        return make_conninfo(url, password=password) if password else url

    def close(self) -> None:
        with self._embedded_lock:
            self._closed = True
            if self._embedded is not None:
                self._embedded.stop()
                self._embedded = None

    def __enter__(self) -> ManifestService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def bungie(self) -> BungieClient:
        return self._bungie_factory(self.settings, self.secrets.api_key())

    # Read side ------------------------------------------------------------------------------
    def database_version(self) -> DatabaseVersion | None:
        with self._reader() as conn:
            return current_version(conn)

    def status(self) -> Status:
        with self._reader() as conn:
            return Status(current_version(conn), table_counts(conn))

    def history(self) -> list[DatabaseVersion]:
        with self._reader() as conn:
            return versions(conn)

    def release_notes(
        self,
        from_id: int | None = None,
        to_id: int | None = None,
        *,
        include_art: bool = False,
        watch: Watch | None = None,
    ) -> ReleaseNotes:
        """What version `to_id` (default: the current one) changed against `from_id` (default:
        the one loaded before it); `watch` picks the entries for `watched`."""
        with self._reader() as conn:
            return build_release_notes(conn, from_id, to_id, include_art=include_art, watch=watch)

    @contextmanager
    def _reader(self) -> Iterator[psycopg.Connection]:
        """A connection for the read side: schema in place, known errors as sentences, and a
        lock timeout so a first load elsewhere is reported instead of waited out."""
        with connect(self.database_url()) as conn, database_errors():
            ensure_schema(conn)
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (READ_LOCK_TIMEOUT,))
            yield conn

    def remote_manifest(self, progress: Progress | None = None) -> RemoteManifest:
        with self.bungie() as client:
            return client.get_manifest(progress)

    def check(self, progress: Progress | None = None) -> CheckResult:
        progress = progress or no_progress()
        progress.start(Stage.CHECK)
        remote = self.remote_manifest(progress)
        path = remote.content_path(self.settings.language)
        database = self.database_version()
        result = CheckResult(RemoteVersion(remote.version, path), database, datetime.now(UTC))
        progress.partial(result)  # an update goes on to download: the answer is news already
        progress.finish(0)
        return result

    # Write side -----------------------------------------------------------------------------
    def update(self, *, force: bool = False, progress: Progress | None = None) -> LoadResult:
        """Check, and when Bungie has a new manifest (or with force), download, extract, load.

        A best-effort step that fails (archiving) is a warning: on the progress channel at
        once, and in the result's warnings for whoever only sees the result."""
        progress = progress or no_progress()
        check = self.check(progress)
        remote = check.remote
        if not check.update_available and not force:
            db = check.database
            assert db is not None
            progress.message(f"Already up to date: {db.version}.")
            self.cache().prune()  # cron runs are mostly this: old files still go
            return LoadResult(False, db.manifest_id, db.version, db.path)
        progress.message(f"Loading {remote.version} ({path_name(remote.path)}).")
        sqlite_path = self.fetch(remote, progress)
        warnings: list[str] = []
        archived = self._archive_best_effort(sqlite_path, remote, progress, warnings)
        try:
            result = self.load_sqlite(
                sqlite_path, remote.version, remote.path, progress, skip_if_current=not force
            )
        except BadManifestFileError:
            # Damage found only while reading rows: the next run must download it afresh, and
            # nobody should load it from the archive later.
            self._discard_cached(remote.path)
            if archived is not None:
                self._unarchive(archived, progress)
            raise
        self.cache().prune()
        return dataclasses.replace(result, warnings=tuple(warnings))

    def fetch(self, remote: RemoteVersion, progress: Progress) -> Path:
        """Download and extract a content file into the cache; return the SQLite file."""
        name = path_name(remote.path)
        cache = self.cache()  # paths and reuse: engine/cache.py
        content = cache.content_file(self.settings.language, remote.path)
        # An unusable data dir is a sentence that names it, before anything is downloaded.
        require_writable_folder(self.settings.data_path)
        require_writable_folder(content.parent)
        sqlite_path = cache.sqlite_file(self.settings.language, remote.path)
        try:
            if sqlite_path.exists():
                progress.message(f"Using the cached {sqlite_path.name}.")
                cache.touch(sqlite_path)
            else:
                if not content.exists():
                    with self.bungie() as client:
                        client.download(remote.path, content, progress)
                else:
                    progress.message(f"Using the cached {name}.")
                    cache.touch(content)
                extract_content(content, sqlite_path, progress)
            # A SQLite header is not a manifest: make sure it has readable definition tables
            # before it is archived or kept for the next run.
            ManifestSource(sqlite_path).close()
        except BadManifestFileError:
            self._discard_cached(remote.path)  # never reuse a bad download
            raise
        return sqlite_path

    def _discard_cached(self, content_path: str) -> None:
        cache = self.cache()
        for path in (
            cache.content_file(self.settings.language, content_path),
            cache.sqlite_file(self.settings.language, content_path),
        ):
            path.unlink(missing_ok=True)

    def load_file(self, path: Path, progress: Progress | None = None) -> LoadResult:
        """Load a local .content zip or SQLite file; its version is its file name."""
        progress = progress or no_progress()
        if not path.is_file():
            raise BadManifestFileError(f"{path} is not a file.")
        if is_sqlite_file(path):
            return self.load_sqlite(path, path.name, path.name, progress)
        if not zipfile.is_zipfile(path):
            raise BadManifestFileError(
                f"{path.name} is neither a .content (zip) file nor a SQLite database."
            )
        with tempfile.TemporaryDirectory(prefix="manifest-gui-") as folder:
            # Named after the user's file: messages about it then name what they chose.
            sqlite_path = extract_content(path, Path(folder) / f"{path.stem}.sqlite3", progress)
            return self.load_sqlite(sqlite_path, path.name, path.name, progress)

    def load_sqlite(
        self,
        sqlite_path: Path,
        version: str,
        content_path: str,
        progress: Progress | None = None,
        *,
        skip_if_current: bool = False,
    ) -> LoadResult:
        progress = progress or no_progress()
        # Counting a large file's rows, connecting and taking the lock take seconds before the
        # first row moves: the load stage starts now, with its total still unknown.
        progress.start(Stage.LOAD, None, "rows", detail="counting rows")
        with ManifestSource(sqlite_path) as source, connect(self.database_url()) as conn:
            return load_manifest(
                conn,
                source,
                version=version,
                path=content_path,
                language=self.settings.language,
                progress=progress,
                skip_if_current=skip_if_current,
            )

    # Cache and archive ------------------------------------------------------------------
    def cache(self) -> ManifestCache:
        return ManifestCache(self.settings.cache_path, self.settings.cache_days)

    def archive(self) -> S3Archive:
        """The S3 archive; raises ArchiveError when no bucket is set or no credentials exist."""
        return S3Archive(self.settings)

    def _archive_best_effort(
        self, sqlite_path: Path, remote: RemoteVersion, progress: Progress, warnings: list[str]
    ) -> str | None:
        """Upload to the archive when a bucket is set; the key, or None. A failure is a warning
        (added to `warnings`), not a failed load; a cancel cancels the whole job."""
        if not self.settings.s3_bucket:
            return None
        try:
            with self.archive() as archive:
                return archive.upload(
                    sqlite_path,
                    language=self.settings.language,
                    version=remote.version,
                    content_path=remote.path,
                    progress=progress,
                ).key
        except CancelledError:
            raise
        except ArchiveError as exc:
            log.warning("Archiving failed: %s", exc)
            warnings.append(str(exc))
            progress.warning(f"Archiving failed; loading from the local file. {exc}")
            return None

    def _unarchive(self, key: str, progress: Progress) -> None:
        try:
            with self.archive() as archive:
                archive.delete(key)
        except ArchiveError as exc:
            log.warning("Could not remove the unloadable %s from the archive: %s", key, exc)
            progress.warning(
                f"The manifest does not load, but it could not be removed from the archive: {exc}"
            )

    def archive_list(self) -> list[ArchivedManifest]:
        with self.archive() as archive:
            return archive.list()

    def load_from_archive(
        self, key: str, progress: Progress | None = None, *, force: bool = False
    ) -> LoadResult:
        """Download an archived manifest into the cache, check its sha256, load it."""
        progress = progress or no_progress()
        with self.archive() as archive:
            archived = archive.head(key)
            if archived.language and archived.language != self.settings.language:
                raise ArchiveError(
                    f"{archived.name} is in language {archived.language!r} but the database is "
                    f"loaded in {self.settings.language!r}; change the language in Settings first."
                )
            if not archived.version or not archived.content_path:
                raise ArchiveError(
                    f"The archived {archived.name} has no version metadata; it was not loaded."
                )
            cache = self.cache()
            sqlite_path = cache.sqlite_file(self.settings.language, archived.content_path)
            if sqlite_path.exists() and sha256_file(sqlite_path, progress) == archived.sha256:
                progress.message(f"Using the cached {sqlite_path.name}.")
                cache.touch(sqlite_path)
            else:
                archive.download(key, sqlite_path, progress)
        try:
            result = self.load_sqlite(
                sqlite_path,
                archived.version,
                archived.content_path,
                progress,
                skip_if_current=not force,
            )
        except BadManifestFileError:
            self._discard_cached(archived.content_path)
            raise
        self.cache().prune()
        return result
