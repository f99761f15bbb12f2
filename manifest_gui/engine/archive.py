"""The S3 manifest archive: upload each extracted SQLite manifest, list them, download one.

Keys are `<prefix>/<language>/<content file name without .content>.sqlite3`, with metadata
version, content-path, language and sha256. A lifecycle rule of ours (ID
`manifest-gui-expire-<prefix>`) expires the prefix after `archive_days`; other rules are never
touched. Credentials come from boto3's usual chain or a named profile; nothing secret is stored
or shown. Every failure is an ArchiveError with one sentence; S3-compatible stores (MinIO) work
through the endpoint URL.
"""

from __future__ import annotations

import contextlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from .. import __version__
from .archive_errors import (
    MISSING_CODES,
    ArchiveCancelledError,
    MissingKey,
    S3ErrorWords,
    cancelled,
    error_code,
)
from .archive_names import (
    BUCKET_NAME,
    ArchivedManifest,
    bucket_name,
    describe_endpoint,
    endpoint_problem,
    list_profiles,
    rule_id,
    sha256_file,
)
from .archive_transfer import Submit, run_transfer
from .cache import SQLITE_SUFFIX, manifest_stem
from .datadir import partial_file, require_writable_folder
from .errors import ArchiveError, CancelledError
from .progress import Progress, Stage
from .settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

LIST_WORKERS = 8  # HEAD requests in flight while listing (one per archived object)
# Module-level so tests can shrink them (S3's smallest multipart part is 5 MiB).
MULTIPART_THRESHOLD = 8 << 20
MULTIPART_CHUNK = 8 << 20
ATTEMPTS = 3
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0

__all__ = [
    "ArchiveCancelledError",
    "ArchivedManifest",
    "S3Archive",
    "bucket_name",
    "describe_endpoint",
    "endpoint_problem",
    "list_profiles",
    "rule_id",
    "sha256_file",
]


class S3Archive:
    """One bucket and prefix. Create it per job; close() releases its HTTP connections."""

    def __init__(self, settings: Settings, *, client: S3Client | None = None) -> None:
        if not settings.s3_bucket:
            raise ArchiveError(
                "No S3 bucket is configured; set one in Settings or MANIFEST_GUI_S3_BUCKET."
            )
        prefix = settings.s3_prefix.strip().strip("/")
        if not prefix:
            raise ArchiveError(
                "The S3 prefix must not be empty: its expiry rule would cover the whole bucket."
            )
        bucket = bucket_name(settings.s3_bucket)
        if not BUCKET_NAME.fullmatch(bucket):
            raise ArchiveError(
                f"The S3 bucket name {bucket!r} is not valid; use 3 to 255 letters, digits, "
                "dots, hyphens or underscores."
            )
        problem = endpoint_problem(settings.s3_endpoint_url)
        if problem:
            raise ArchiveError(problem)
        self.bucket = bucket
        self.prefix = prefix
        self.days = settings.archive_days
        self.endpoint = describe_endpoint(settings.s3_endpoint_url)
        self._words = S3ErrorWords(bucket, self.endpoint)
        self._client = client or self._make_client(settings)

    def _make_client(self, settings: Settings) -> S3Client:
        profile = settings.s3_profile or None
        try:
            session = boto3.Session(profile_name=profile)
            if session.get_credentials() is None:
                raise ArchiveError(
                    "No AWS credentials were found for the S3 archive; set AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, or choose a profile in Settings."
                )
            config = Config(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                retries={"max_attempts": ATTEMPTS, "mode": "standard"},
                # S3-compatible stores (MinIO, older Ceph) reject the newer default checksums.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                user_agent_extra=f"manifest-gui/{__version__}",
            )
            return session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)
        except botocore.exceptions.ProfileNotFound:
            name = profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
            raise ArchiveError(
                f"The AWS profile {name!r} does not exist; choose another in Settings."
            ) from None
        except ValueError:  # botocore: invalid endpoint
            raise ArchiveError(
                f"The S3 endpoint URL {self.endpoint!r} is not valid; use http(s)://host:port."
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise ArchiveError(self._words.describe(exc, "preparing the S3 client")) from None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> S3Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Naming ------------------------------------------------------------------------------
    def key_for(self, language: str, content_path: str) -> str:
        return f"{self.prefix}/{language}/{manifest_stem(content_path)}{SQLITE_SUFFIX}"

    @property
    def rule_id(self) -> str:
        return rule_id(self.prefix)

    # Lifecycle ---------------------------------------------------------------------------
    def ensure_lifecycle(self) -> bool:
        """Add or update our expiry rule; leave every other rule as it is. True if written."""
        with self._errors("reading the bucket's lifecycle rules"):
            try:
                reply = self._client.get_bucket_lifecycle_configuration(Bucket=self.bucket)
                rules: list[Any] = list(reply.get("Rules", []))
                # A bucket-wide setting that the put would otherwise reset to S3's default.
                minimum_size = reply.get("TransitionDefaultMinimumObjectSize")
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "NoSuchLifecycleConfiguration":
                    raise
                rules = []
                minimum_size = None
        wanted = {
            "ID": self.rule_id,
            "Filter": {"Prefix": self.prefix + "/"},
            "Status": "Enabled",
            "Expiration": {"Days": self.days},
            # Parts of an upload that died with the network are cleaned up too.
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
        ours = [i for i, rule in enumerate(rules) if rule.get("ID") == self.rule_id]
        if ours and all(_rule_matches(rules[i], wanted) for i in ours) and len(ours) == 1:
            return False
        if ours:
            rules[ours[0]] = wanted
            for i in reversed(ours[1:]):
                del rules[i]
        else:
            rules.append(wanted)
        with self._errors("writing the bucket's lifecycle rule"):
            if minimum_size:
                self._client.put_bucket_lifecycle_configuration(
                    Bucket=self.bucket,
                    LifecycleConfiguration={"Rules": rules},
                    TransitionDefaultMinimumObjectSize=minimum_size,
                )
            else:
                self._client.put_bucket_lifecycle_configuration(
                    Bucket=self.bucket, LifecycleConfiguration={"Rules": rules}
                )
        log.info(
            "Set lifecycle rule %s: expire %s/ after %d days", self.rule_id, self.prefix, self.days
        )
        return True

    # Upload ------------------------------------------------------------------------------
    def upload(
        self,
        sqlite_path: Path,
        *,
        language: str,
        version: str,
        content_path: str,
        progress: Progress,
    ) -> ArchivedManifest:
        """Upload an extracted manifest (multipart, progress stage "upload", cancellable).

        On cancel or failure no object and no pending multipart upload remain for the key.
        The same file already archived with the same metadata is not uploaded again."""
        key = self.key_for(language, content_path)
        sha256 = sha256_file(sqlite_path, progress)
        self.ensure_lifecycle()
        existing = self._head(key, missing_ok=True)
        if existing is not None and (existing.sha256, existing.version, existing.content_path) == (
            sha256,
            version,
            content_path,
        ):
            progress.message(f"{existing.name} is already archived in s3://{self.bucket}.")
            return existing
        size = sqlite_path.stat().st_size
        metadata = {
            "version": version,
            "content-path": content_path,
            "language": language,
            "sha256": sha256,
        }
        progress.start(Stage.UPLOAD, size, "bytes", PurePosixPath(key).name)
        try:
            # Our own file object: s3transfer leaks the handles it opens when cancelled.
            with open(sqlite_path, "rb") as body:
                done = self._transfer(
                    progress,
                    lambda manager, subscriber: manager.upload(
                        body,
                        self.bucket,
                        key,
                        extra_args={
                            "Metadata": metadata,
                            "ContentType": "application/vnd.sqlite3",
                        },
                        subscribers=[subscriber],
                    ),
                    "uploading the manifest",
                )
            if progress.cancelled:  # cancelled after the last byte: honour it anyway
                raise ArchiveCancelledError(cancelled("uploading " + key))
        except BaseException as exc:
            self._abort_pending(key)
            if progress.cancelled or isinstance(exc, CancelledError | KeyboardInterrupt):
                # A single-part upload cannot be stopped halfway: if it got there, remove it.
                self._delete_if_ours(key, sha256)
            raise
        progress.finish(done)
        log.info("Archived %s to s3://%s/%s", sqlite_path.name, self.bucket, key)
        archived = self._head(key)
        assert archived is not None
        return archived

    # List and download -------------------------------------------------------------------
    def list(self) -> list[ArchivedManifest]:
        """Every manifest this tool archived under the prefix, newest first.

        Only keys shaped <prefix>/<language>/<name>.sqlite3 whose metadata has a sha256 count:
        anything else in the prefix was not put there by manifest-gui and could not be loaded.
        Their metadata takes one HEAD request each, several in flight."""
        keys = []
        with self._errors("listing the archive"):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + "/"):
                for item in page.get("Contents", []):
                    relative = PurePosixPath(item["Key"][len(self.prefix) + 1 :])
                    if len(relative.parts) == 2 and relative.name.endswith(SQLITE_SUFFIX):
                        keys.append(item["Key"])
        with ThreadPoolExecutor(LIST_WORKERS, thread_name_prefix="archive-list") as pool:
            heads = list(pool.map(self._head_for_list, keys))
        found = [archived for archived in heads if archived is not None and archived.sha256]
        found.sort(key=lambda a: (a.last_modified, a.key), reverse=True)
        return found

    def _head_for_list(self, key: str) -> ArchivedManifest | None:
        """One object's metadata; one that cannot be read is left out of the list, not fatal."""
        try:
            return self._head(key, missing_ok=True)
        except ArchiveError as exc:
            log.warning("Leaving %s out of the archive list: %s", key, exc)
            return None

    def head(self, key: str) -> ArchivedManifest:
        if not key.startswith(self.prefix + "/"):
            raise ArchiveError(
                f"{key!r} is not in the archive ({self.prefix}/ in the bucket {self.bucket!r}); "
                "`archive list` shows the keys."
            )
        archived = self._head(key)
        assert archived is not None
        return archived

    def download(self, key: str, destination: Path, progress: Progress) -> ArchivedManifest:
        """Download `key` to `destination` and check its sha256; a mismatch is refused and
        nothing is left at `destination`."""
        archived = self.head(key)
        if not archived.sha256:
            raise ArchiveError(
                f"The archived {archived.name} has no sha256 checksum, so it cannot be verified; "
                "it was not loaded."
            )
        require_writable_folder(destination.parent, "folder for the download")
        progress.start(Stage.DOWNLOAD, archived.size, "bytes", archived.name)
        with partial_file(destination) as partial:
            done = self._transfer(
                progress,
                lambda manager, subscriber: manager.download(
                    self.bucket, key, str(partial), subscribers=[subscriber]
                ),
                "downloading the manifest",
            )
            progress.finish(done)
            if sha256_file(partial, progress) != archived.sha256:
                raise ArchiveError(
                    f"The archived {archived.name} does not match its sha256 checksum (corrupt "
                    "or changed in the bucket); it was not loaded."
                )
        return archived

    # Internals ---------------------------------------------------------------------------
    def _transfer(self, progress: Progress, submit: Submit, action: str) -> int:
        """Run one s3transfer job with progress and cancel (archive_transfer.py)."""
        config = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_CHUNK,
            max_concurrency=4,
        )
        with self._errors(action):
            return run_transfer(self._client, config, progress, submit, action)

    def _errors(self, action: str) -> contextlib.AbstractContextManager[None]:
        return self._words.errors(action)

    def _head(self, key: str, *, missing_ok: bool = False) -> ArchivedManifest | None:
        try:
            with self._errors(f"reading {key}"):
                reply = self._client.head_object(Bucket=self.bucket, Key=key)
        except MissingKey:
            if missing_ok:
                return None
            raise ArchiveError(
                f"There is no archived manifest {key!r} in the S3 bucket {self.bucket!r}."
            ) from None
        meta = reply.get("Metadata", {})
        parts = PurePosixPath(key).parts
        return ArchivedManifest(
            key=key,
            language=meta.get("language") or (parts[-2] if len(parts) >= 2 else ""),
            version=meta.get("version", ""),
            content_path=meta.get("content-path", ""),
            sha256=meta.get("sha256", ""),
            size=int(reply.get("ContentLength", 0)),
            last_modified=reply["LastModified"],
        )

    def _abort_pending(self, key: str) -> None:
        """Abort multipart uploads left for `key` (s3transfer aborts its own; this makes sure)."""
        try:
            reply = self._client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
            for upload in reply.get("Uploads", []):
                if upload.get("Key") == key:
                    self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload["UploadId"]
                    )
                    log.info("Aborted a pending multipart upload of %s", key)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            log.warning(
                "Could not check for pending uploads of %s (the lifecycle rule removes them "
                "after a day): %s",
                key,
                exc,
            )

    def _delete_if_ours(self, key: str, sha256: str) -> None:
        """Delete `key` if it holds the file this attempt uploaded (by its sha256)."""
        try:
            reply = self._client.head_object(Bucket=self.bucket, Key=key)
            if reply.get("Metadata", {}).get("sha256") == sha256:
                self._client.delete_object(Bucket=self.bucket, Key=key)
                log.info("Removed %s: its upload was cancelled", key)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            if not isinstance(exc, botocore.exceptions.ClientError) or (
                error_code(exc) not in MISSING_CODES
            ):
                log.warning("Could not remove %s after a cancel: %s", key, exc)

    def delete(self, key: str) -> None:
        """Remove an archived manifest (one that turned out not to load)."""
        with self._errors(f"deleting {key}"):
            self._client.delete_object(Bucket=self.bucket, Key=key)
        log.info("Removed s3://%s/%s", self.bucket, key)


def _rule_matches(rule: Any, wanted: dict[str, Any]) -> bool:
    return all(rule.get(name) == value for name, value in wanted.items())
