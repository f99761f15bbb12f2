"""Posting to a Discord webhook (or any server that speaks its webhook protocol).

The webhook URL is a secret: whoever holds its token can post to the channel. It is never put
in an error, a log line or a message; errors name only the host.

HTTP 429 is waited out (`retry_after` in the body, else the Retry-After header), up to a
bound, and the same message is sent again, so the order of messages holds. 5xx answers,
timeouts and refused connections are tried again a few times; after that, a DiscordError.
A cancel on the Progress handle ends a wait or a request still waiting for its answer.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import urlsplit

import requests

from .cancellable_http import cancellable, cancellable_session
from .discord_messages import WebhookMessage
from .errors import ConfigurationError, ManifestGuiError
from .network_errors import network_failure_sentence
from .progress import Progress, no_progress
from .urls import http_url_parts

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # seconds for connecting and for the answer: a notification must not stall a job
ATTEMPTS = 3  # tries of one message against 5xx, timeouts and refused connections
BACKOFF = 1.0  # seconds before the second try, doubling
MAX_RATE_LIMIT_WAIT = 60.0  # a longer 429 wait gives up instead of holding a load's job
MAX_RATE_LIMITS = 5  # 429s in a row for one message before giving up
TEST_MESSAGE = "manifest-gui can post release notes here."


class DiscordError(ManifestGuiError):
    """The webhook did not take a message. The sentence never holds the URL or its token."""

    def __init__(self, message: str, posted: int = 0) -> None:
        super().__init__(message)
        self.posted = posted  # messages that went out before this failure


def checked_webhook_url(url: str) -> str:
    """The URL, stripped, when it is an http(s) address with a host; else a ConfigurationError
    that does not quote it (it is a secret)."""
    url = url.strip()
    if http_url_parts(url) is None:
        raise ConfigurationError(
            "The Discord webhook URL must be an http(s) address, such as the one Discord's "
            "channel settings give under Integrations > Webhooks > Copy Webhook URL."
        )
    return url


def webhook_host(url: str) -> str:
    """The host to name in messages (never the path: it holds the token)."""
    try:
        return urlsplit(url).hostname or "the webhook server"
    except ValueError:
        return "the webhook server"


def redact(text: str, url: str) -> str:
    """`text` without the URL, its path or any long part of its path (the token)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return text.replace(url, "<webhook URL>")
    text = text.replace(url, "<webhook URL>")
    for secret in (parts.path, parts.query, *parts.path.split("/")):
        if len(secret) >= 8:
            text = text.replace(secret, "…")
    return text


class DiscordWebhook:
    """Posts messages to one webhook URL, in order. The session and sleep are injectable."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = TIMEOUT,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        max_rate_limit_wait: float = MAX_RATE_LIMIT_WAIT,
        session: requests.Session | None = None,
    ) -> None:
        self._url = checked_webhook_url(url)
        self.host = webhook_host(self._url)
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._max_wait = max_rate_limit_wait
        self._session = cancellable_session(session)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> DiscordWebhook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def post_all(self, messages: Sequence[WebhookMessage], progress: Progress | None = None) -> int:
        """Post every message in order; the number posted. A failure raises DiscordError with
        `posted` set, and the rest are not sent (they would arrive out of order)."""
        progress = progress or no_progress()
        for done, message in enumerate(messages):
            try:
                self.post(message, progress)
            except DiscordError as exc:
                if done:
                    raise DiscordError(
                        f"{exc} {done} of {len(messages)} messages had been posted.", done
                    ) from exc
                raise
        return len(messages)

    def post(self, message: WebhookMessage, progress: Progress | None = None) -> None:
        """Post one message, waiting out 429s and trying again after transient failures."""
        progress = progress or no_progress()
        failures = rate_limits = 0
        while True:
            progress.check_cancelled()
            try:
                reply = self._send(message, progress)
            except requests.RequestException as exc:
                progress.check_cancelled()  # a cancel shuts the socket down: not a failure
                failures += 1
                reason = describe_failure(exc, self.host)
                if failures >= self._attempts:
                    raise DiscordError(f"{reason} (tried {failures} times).") from None
                log.info("Discord webhook: %s; trying again.", reason)
                self._wait(self._backoff * 2 ** (failures - 1), progress)
                continue
            status = reply.status_code
            if 200 <= status < 300:
                self._respect_bucket(reply, progress)
                return
            if status == 429:
                rate_limits += 1
                wait = retry_after(reply)
                if wait > self._max_wait or rate_limits > MAX_RATE_LIMITS:
                    raise DiscordError(
                        f"{self.host} kept asking to wait ({math.ceil(wait)} s) before posting "
                        "again; the notification was cut short."
                    )
                log.info("Discord webhook rate limit: waiting %.2f s.", wait)
                self._wait(wait, progress)
                continue
            if status >= 500:
                failures += 1
                if failures >= self._attempts:
                    raise DiscordError(
                        f"{self.host} answered HTTP {status} (tried {failures} times)."
                    )
                self._wait(self._backoff * 2 ** (failures - 1), progress)
                continue
            advice = "; check the webhook URL in Settings" if status in (401, 403, 404) else ""
            raise DiscordError(
                f"{self.host} refused the message (HTTP {status}{self._reason(reply)}){advice}."
            )

    def _send(self, message: WebhookMessage, progress: Progress) -> requests.Response:
        payload = message.payload()
        with cancellable(progress):
            if message.attachment is None:
                return self._session.post(self._url, json=payload, timeout=self._timeout)
            file = message.attachment
            return self._session.post(
                self._url,
                data={"payload_json": json.dumps(payload)},
                files={"files[0]": (file.filename, file.data, file.content_type)},
                timeout=self._timeout,
            )

    def _reason(self, reply: requests.Response) -> str:
        """Discord's own words for a refusal ("Unknown Webhook"), redacted and short."""
        try:
            said = reply.json().get("message")
        except (ValueError, AttributeError):
            return ""
        if not isinstance(said, str) or not said.strip():
            return ""
        return ": " + redact(said.strip(), self._url)[:120]

    def _respect_bucket(self, reply: requests.Response, progress: Progress) -> None:
        """When the answer says the rate-limit bucket is empty, wait for it before the next
        message instead of earning a 429."""
        if reply.headers.get("X-RateLimit-Remaining") == "0":
            wait = _seconds(reply.headers.get("X-RateLimit-Reset-After"))
            if wait is not None and 0 < wait <= self._max_wait:
                self._wait(wait, progress)

    def _wait(self, seconds: float, progress: Progress) -> None:
        """Sleep; a cancel ends the wait at once."""
        woken = threading.Event()
        remove = progress.on_cancel(woken.set)
        try:
            woken.wait(max(0.0, seconds))
        finally:
            remove()
        progress.check_cancelled()


def describe_failure(exc: requests.RequestException, host: str) -> str:
    """Why a request failed, naming only the host (requests' own text quotes the URL)."""
    return network_failure_sentence(
        exc,
        host,
        unresolved="check the network and the webhook URL",
        refused="check the webhook URL",
    )


def retry_after(reply: requests.Response) -> float:
    """Seconds a 429 asks to wait: the body's `retry_after`, else the Retry-After header
    (seconds or an HTTP date), else X-RateLimit-Reset-After, else one second."""
    try:
        body = reply.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        seconds = _seconds(body.get("retry_after"))
        if seconds is not None:
            return seconds
    header = reply.headers.get("Retry-After")
    seconds = _seconds(header)
    if seconds is None and header:
        try:
            seconds = max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
        except (TypeError, ValueError):
            seconds = None
    if seconds is None:
        seconds = _seconds(reply.headers.get("X-RateLimit-Reset-After"))
    return 1.0 if seconds is None else seconds


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def send_test_message(url: str, progress: Progress | None = None) -> None:
    """Post a short test message (Settings' Test button); DiscordError or ConfigurationError
    says why it failed, in a sentence without the URL."""
    with DiscordWebhook(url) as webhook:
        webhook.post(WebhookMessage(TEST_MESSAGE), progress)
