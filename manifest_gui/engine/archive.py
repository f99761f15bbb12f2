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
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import botocore.session
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from s3transfer.exceptions import RetriesExceededError
from s3transfer.futures import TransferFuture
from s3transfer.manager import TransferManager
from s3transfer.subscribers import BaseSubscriber

from .. import __version__
from .cache import SQLITE_SUFFIX, manifest_stem
from .errors import ArchiveError, CancelledError
from .progress import Progress
from .settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

RULE_ID_PREFIX = "manifest-gui-expire-"
MAX_RULE_ID = 255
LIST_WORKERS = 8  # HEAD requests in flight while listing (one per archived object)
# What S3 and S3-compatible stores accept as a bucket name (AWS is stricter; it says so).
BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]")
# Module-level so tests can shrink them (S3's smallest multipart part is 5 MiB).
MULTIPART_THRESHOLD = 8 << 20
MULTIPART_CHUNK = 8 << 20
ATTEMPTS = 3
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
HASH_CHUNK = 1 << 20
POLL_SECONDS = 0.05

CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "InvalidClientTokenId",
        "AuthorizationHeaderMalformed",
    }
)
DENIED_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled", "AccountProblem"})


class ArchiveCancelledError(ArchiveError, CancelledError):
    """A cancelled upload or download: both an archive failure and a cancel."""


def list_profiles() -> list[str]:
    """The AWS profiles in ~/.aws/config and ~/.aws/credentials (for the settings chooser)."""
    try:
        # botocore's session: boto3's raises when AWS_PROFILE names a missing profile.
        return sorted(botocore.session.Session().available_profiles)
    except botocore.exceptions.BotoCoreError as exc:
        log.warning("Cannot read the AWS profiles: %s", exc)
        return []


def rule_id(prefix: str) -> str:
    """Our lifecycle rule's fixed ID: how we find it again without touching anyone else's.
    S3 caps IDs at 255 characters: a longer prefix is shortened and made unique by a digest."""
    whole = RULE_ID_PREFIX + prefix
    if len(whole) <= MAX_RULE_ID:
        return whole
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:16]
    return whole[: MAX_RULE_ID - len(digest) - 1] + "-" + digest


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            if progress is not None:
                progress.check_cancelled()
            digest.update(chunk)
    return digest.hexdigest()


def describe_endpoint(url: str | None) -> str:
    """The endpoint for messages: host and port only, never user info, a path or a query."""
    if not url:
        return "AWS S3"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(invalid endpoint URL)"
    host = parts.hostname or "(invalid endpoint URL)"
    return f"{host}:{port}" if port else host


def endpoint_problem(url: str | None) -> str | None:
    """Why an S3 endpoint URL cannot be used, in a sentence; None when it can."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "The S3 endpoint URL is not valid; write it as http(s)://host:port."
    if parts.username is not None or parts.password is not None:
        # Credentials belong to boto3's chain (environment, profiles), never in a URL.
        return (
            "The S3 endpoint URL must not contain a user name or password; set the credentials "
            "in the environment or an AWS profile."
        )
    return None


def bucket_name(text: str) -> str:
    """The bucket setting as a name: spaces and an s3:// scheme around it are dropped."""
    name = text.strip()
    if name.lower().startswith("s3://"):
        name = name[5:]
    return name.strip("/")


@dataclass(frozen=True)
class ArchivedManifest:
    """One archived SQLite manifest, as listed from the bucket."""

    key: str
    language: str
    version: str
    content_path: str
    sha256: str
    size: int
    last_modified: datetime

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "language": self.language,
            "version": self.version,
            "content_path": self.content_path,
            "sha256": self.sha256,
            "size": self.size,
            "last_modified": self.last_modified.isoformat(),
        }


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
            raise ArchiveError(self._describe(exc, "preparing the S3 client")) from None

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
                if _code(exc) != "NoSuchLifecycleConfiguration":
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
        progress.start("upload", size, "bytes", PurePosixPath(key).name)
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
                raise ArchiveCancelledError(_cancelled_upload(key))
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
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        progress.start("download", archived.size, "bytes", archived.name)
        try:
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
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)
        return archived

    # Internals ---------------------------------------------------------------------------
    def _transfer(
        self,
        progress: Progress,
        submit: Callable[[TransferManager, BaseSubscriber], TransferFuture],
        action: str,
    ) -> int:
        """Run one s3transfer job; report progress from this (the caller's) thread.

        The transfer threads only count bytes and raise from their callback on cancel; this
        thread also cancels the future, which covers a stalled connection."""
        counter = _Counter(progress)
        config = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_CHUNK,
            max_concurrency=4,
        )
        with self._errors(action), TransferManager(self._client, config) as manager:
            future = submit(manager, counter)
            while not future.done():
                if progress.cancelled:
                    future.cancel()
                    break
                progress.update(counter.done)
                time.sleep(POLL_SECONDS)
            try:
                future.result()
            except CancelledError:
                raise ArchiveCancelledError(_cancelled(action)) from None
            except Exception:
                if progress.cancelled:  # s3transfer's own CancelledError, or a side effect
                    raise ArchiveCancelledError(_cancelled(action)) from None
                raise
        return counter.done

    def _head(self, key: str, *, missing_ok: bool = False) -> ArchivedManifest | None:
        try:
            with self._errors(f"reading {key}"):
                reply = self._client.head_object(Bucket=self.bucket, Key=key)
        except _MissingKey:
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
            if not isinstance(exc, botocore.exceptions.ClientError) or _code(exc) not in (
                "404",
                "NoSuchKey",
                "NotFound",
            ):
                log.warning("Could not remove %s after a cancel: %s", key, exc)

    def delete(self, key: str) -> None:
        """Remove an archived manifest (one that turned out not to load)."""
        with self._errors(f"deleting {key}"):
            self._client.delete_object(Bucket=self.bucket, Key=key)
        log.info("Removed s3://%s/%s", self.bucket, key)

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn boto's exceptions into one ArchiveError sentence."""
        try:
            yield
        except ArchiveError:
            raise
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound") and action.startswith("reading "):
                raise _MissingKey() from None
            raise ArchiveError(self._describe(exc, action)) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise ArchiveError(self._describe(exc, action)) from None
        except RetriesExceededError:
            # s3transfer retried a download whose connection kept breaking off, then gave up.
            raise ArchiveError(
                f"The connection to the S3 endpoint {self.endpoint} kept breaking off while "
                f"{action}; check the network and try again."
            ) from None
        except OSError as exc:
            # The local side: a full disk or an unreadable file, never the network (boto wraps
            # those in BotoCoreError).
            where = f" ({Path(exc.filename).name})" if exc.filename else ""
            raise ArchiveError(
                f"A local file error stopped the archive while {action}: "
                f"{exc.strerror or exc}{where}."
            ) from None

    def _describe(self, exc: Exception, action: str) -> str:
        bucket = self.bucket
        if isinstance(exc, botocore.exceptions.NoCredentialsError):
            return (
                "No AWS credentials were found for the S3 archive; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or choose a profile in Settings."
            )
        if isinstance(exc, botocore.exceptions.PartialCredentialsError):
            return "The AWS credentials are incomplete; check the profile or the environment."
        if isinstance(
            exc,
            botocore.exceptions.EndpointConnectionError
            | botocore.exceptions.ConnectionClosedError
            | botocore.exceptions.ConnectTimeoutError
            | botocore.exceptions.ReadTimeoutError
            | botocore.exceptions.HTTPClientError,
        ):
            return (
                f"Cannot reach the S3 endpoint {self.endpoint} while {action}; check the network "
                "and the endpoint URL."
            )
        if isinstance(exc, botocore.exceptions.ClientError):
            code = _code(exc)
            if code == "NoSuchBucket":
                return f"The S3 bucket {bucket!r} does not exist; create it or fix the setting."
            if code in DENIED_CODES:
                return (
                    f"Access to the S3 bucket {bucket!r} was denied while {action}; check the "
                    "credentials' permissions."
                )
            if code in CREDENTIAL_CODES:
                return f"S3 rejected the AWS credentials ({code}); check them or the profile."
            message = " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())
            detail = message[:160] or "no details"
            return f"S3 answered {code or 'an error'} while {action}: {detail}."
        # botocore's text may quote the request URL (endpoint, bucket, query): not that.
        text = _URL.sub(self.endpoint, " ".join(str(exc).split()))
        return f"The S3 archive failed while {action}: {text[:300]}."


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


class _MissingKey(Exception):
    pass


class _Counter(BaseSubscriber):
    """Counts bytes from s3transfer's threads; raises from the callback on cancel."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self.done = 0

    def on_progress(self, future: TransferFuture, bytes_transferred: int, **kwargs: Any) -> None:
        if self._progress.cancelled:
            raise CancelledError()
        with self._lock:
            self.done += bytes_transferred


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _rule_matches(rule: Any, wanted: dict[str, Any]) -> bool:
    return all(rule.get(name) == value for name, value in wanted.items())


def _cancelled(action: str) -> str:
    if action.startswith("uploading"):
        return "The upload to the S3 archive was cancelled; nothing was left in the bucket."
    return f"Cancelled while {action}."


def _cancelled_upload(key: str) -> str:
    return _cancelled("uploading " + key)
