"""Names and small facts of the S3 archive that need no connection: the bucket name and
endpoint URL as settings take them, the lifecycle rule's ID, a file's sha256, the AWS profiles
to choose from, and what one archived manifest is."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import botocore.exceptions
import botocore.session

from .progress import Progress
from .urls import http_url_parts

log = logging.getLogger(__name__)

RULE_ID_PREFIX = "manifest-gui-expire-"
MAX_RULE_ID = 255
# What S3 and S3-compatible stores accept as a bucket name (AWS is stricter; it says so).
BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]")
HASH_CHUNK = 1 << 20


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
    parts = http_url_parts(url)
    if parts is None:
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
