"""The S3 archive's failures as sentences: boto's exceptions become one ArchiveError that names
the bucket or the endpoint (host and port only, never a URL with its query), and a full local
disk is a DiskFullError like everywhere else."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
from s3transfer.exceptions import RetriesExceededError

from .datadir import disk_full, is_disk_full
from .errors import ArchiveError, CancelledError

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
MISSING_CODES = ("404", "NoSuchKey", "NotFound")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


class ArchiveCancelledError(ArchiveError, CancelledError):
    """A cancelled upload or download: both an archive failure and a cancel."""


class MissingKey(Exception):
    """HEAD found no object under the key (the caller decides whether that is an error)."""


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancelled(action: str) -> str:
    if action.startswith("uploading"):
        return "The upload to the S3 archive was cancelled; nothing was left in the bucket."
    return f"Cancelled while {action}."


class S3ErrorWords:
    """The sentences for one bucket on one endpoint."""

    def __init__(self, bucket: str, endpoint: str) -> None:
        self.bucket = bucket
        self.endpoint = endpoint

    @contextlib.contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn boto's exceptions into one ArchiveError sentence."""
        try:
            yield
        except ArchiveError:
            raise
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in MISSING_CODES and action.startswith("reading "):
                raise MissingKey() from None
            raise ArchiveError(self.describe(exc, action)) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise ArchiveError(self.describe(exc, action)) from None
        except RetriesExceededError:
            # s3transfer retried a download whose connection kept breaking off, then gave up.
            raise ArchiveError(
                f"The connection to the S3 endpoint {self.endpoint} kept breaking off while "
                f"{action}; check the network and try again."
            ) from None
        except OSError as exc:
            # The local side: a full disk or an unreadable file, never the network (boto wraps
            # those in BotoCoreError).
            if is_disk_full(exc) and exc.filename:
                raise disk_full(action, Path(exc.filename).parent, cause=exc) from None
            where = f" ({Path(exc.filename).name})" if exc.filename else ""
            raise ArchiveError(
                f"A local file error stopped the archive while {action}: "
                f"{exc.strerror or exc}{where}."
            ) from None

    def describe(self, exc: Exception, action: str) -> str:
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
            code = error_code(exc)
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
