"""The Bungie.net client: the manifest envelope, its error codes, and the content download.

Every failure becomes a known error with one plain sentence; transient ones are retried a bounded
number of times with backoff first.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from .cancellable_http import abort_on_cancel, cancellable, cancellable_session
from .datadir import disk_full, is_disk_full, partial_file, unusable_folder
from .errors import (
    ApiKeyError,
    BungieError,
    DownloadError,
    MaintenanceError,
    NetworkError,
    ThrottledError,
)
from .network_errors import network_failure_sentence
from .progress import Progress, Stage

log = logging.getLogger(__name__)

MANIFEST_ENDPOINT = "/Platform/Destiny2/Manifest/"
SUCCESS = 1
SYSTEM_DISABLED = 5
KEY_ERRORS = {
    2101: "Bungie.net rejected the API key as invalid or expired; check it in Settings.",
    2102: "Bungie.net needs an API key (get one at https://www.bungie.net/en/Application); "
    "set it in Settings or MANIFEST_GUI_API_KEY.",
    2103: "Bungie.net has disabled the application that owns this API key.",
    2107: "Bungie.net refused the API key from this origin (the key is restricted to another "
    "origin header).",
}
THROTTLE_CODES = frozenset({31, 35, 36, 37, 51, 54, 55, 56, 57, 1672})
MAX_THROTTLE_WAIT = 60.0
CONNECT_TIMEOUT = 10.0  # seconds to open a connection (the read timeout is longer)
CHUNK = 1 << 16  # small reads keep progress lively on slow links
MAX_REDIRECTS = 5  # same-origin hops the API request follows (the key never leaves the root)


@dataclass(frozen=True)
class RemoteManifest:
    """What GetDestinyManifest says is current."""

    version: str
    world_content_paths: dict[str, str]  # language -> content path relative to root

    def content_path(self, language: str) -> str:
        try:
            return self.world_content_paths[language]
        except KeyError:
            available = ", ".join(sorted(self.world_content_paths)) or "none"
            raise BungieError(
                f"Bungie.net offers no manifest in language {language!r} (available: {available})."
            ) from None


class BungieClient:
    """Talks to one Bungie.net root. The session, clock and sleep are injectable for tests."""

    def __init__(
        self,
        root: str = "https://www.bungie.net",
        api_key: str | None = None,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 2.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self._api_key = api_key
        self._session = cancellable_session(session)
        # A host that never answers the handshake fails fast; a slow answer gets `timeout`.
        self._timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._sleep = sleep  # None: a wait that a cancel cuts short

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> BungieClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def host(self) -> str:
        return urlsplit(self.root).netloc or self.root

    # The manifest envelope ---------------------------------------------------------------
    def get_manifest(self, progress: Progress | None = None) -> RemoteManifest:
        envelope = self._get_envelope(MANIFEST_ENDPOINT, progress)
        response = envelope.get("Response")
        if not isinstance(response, dict) or not isinstance(response.get("version"), str):
            raise BungieError("Bungie.net's manifest answer has no version; try again later.")
        paths = response.get("mobileWorldContentPaths")
        if not isinstance(paths, dict) or not paths:
            raise BungieError("Bungie.net's manifest answer lists no content files.")
        return RemoteManifest(
            version=response["version"],
            world_content_paths={str(k): str(v) for k, v in paths.items() if isinstance(v, str)},
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._api_key:
            if not all(" " <= ch <= "~" for ch in self._api_key):
                # It could not go into an HTTP header; never quote it back.
                raise ApiKeyError(
                    "The API key holds characters that no Bungie.net API key has; enter it "
                    "again in Settings."
                )
            headers["X-API-Key"] = self._api_key
        return headers

    def _wait(self, seconds: float, progress: Progress | None) -> None:
        """Sleep between tries; a cancel ends the wait at once."""
        if progress is not None:
            progress.check_cancelled()
        if self._sleep is not None:
            self._sleep(seconds)
        elif progress is None:
            time.sleep(seconds)
        else:
            woken = threading.Event()
            remove = progress.on_cancel(woken.set)
            try:
                woken.wait(seconds)
            finally:
                remove()
        if progress is not None:
            progress.check_cancelled()

    def _get_envelope(self, endpoint: str, progress: Progress | None) -> dict[str, Any]:
        last_error: Exception | None = None
        for attempt in range(1, self._attempts + 1):
            if progress is not None:
                progress.check_cancelled()
            backoff = self._backoff * 2 ** (attempt - 1)
            try:
                return self._try_envelope(endpoint, progress)
            except _ThrottledFor as exc:
                if exc.wait > MAX_THROTTLE_WAIT:
                    # Waiting that long would hold the job (and a cron run) for minutes, and
                    # asking sooner is what Bungie asked us not to do: give up, say when.
                    raise ThrottledUntilError.after(exc.wait, exc.error_code) from None
                last_error = exc
                wait = exc.wait if exc.wait > 0 else backoff
            except (NetworkError, _TransientError) as exc:
                last_error = exc
                wait = backoff
            if attempt < self._attempts:
                log.info(
                    "%s Retrying in %.0f s (%d/%d).", last_error, wait, attempt, self._attempts
                )
                if progress is not None:
                    progress.message(_retry_note(last_error, wait, attempt + 1, self._attempts))
                self._wait(wait, progress)
        assert last_error is not None
        if isinstance(last_error, _TransientError):
            raise BungieError(str(last_error)) from None
        raise last_error

    def _try_envelope(self, endpoint: str, progress: Progress | None) -> dict[str, Any]:
        try:
            with cancellable(progress):
                reply = self._get_api(self.root + endpoint)
            with contextlib.closing(reply):
                stop_reading = abort_on_cancel(reply, progress) if progress else _nothing
                try:
                    reply.content  # noqa: B018 - read the body while a cancel can cut it
                finally:
                    stop_reading()
        except requests.RequestException as exc:
            if progress is not None:
                progress.check_cancelled()  # a cancel shuts the socket: not a network problem
            raise NetworkError(describe_network_error(exc, self.host)) from None
        if progress is not None:
            progress.check_cancelled()
        envelope = _parse_json(reply)
        if envelope is None:
            if reply.status_code >= 500:
                raise _TransientError(
                    f"Bungie.net answered HTTP {reply.status_code} without API data; it may be "
                    "down or overloaded."
                )
            if _looks_like_html(reply):
                raise _TransientError(
                    "Bungie.net returned a web page instead of API data; the site may be down "
                    "or in maintenance."
                )
            raise BungieError(
                f"Bungie.net answered HTTP {reply.status_code} with something that is not API data."
            )
        code = _error_code(envelope.get("ErrorCode"))
        if code == SUCCESS:
            return envelope
        status = _one_line(str(envelope.get("ErrorStatus") or ""))
        message = _sentence(_one_line(str(envelope.get("Message") or "")) or "no details")
        if code == SYSTEM_DISABLED:
            raise MaintenanceError(
                "Bungie.net is down for maintenance; try again later.", error_code=code
            )
        if code in KEY_ERRORS:
            raise ApiKeyError(KEY_ERRORS[code], error_code=code)
        if code in THROTTLE_CODES:
            seconds = _throttle_seconds(envelope.get("ThrottleSeconds"))
            log.info("Throttled: %s (%s), ThrottleSeconds=%s", status, code, seconds)
            raise _ThrottledFor(seconds, code)
        if reply.status_code >= 500:
            raise _TransientError(f"Bungie.net reported an error ({status or code}): {message}")
        raise BungieError(
            f"Bungie.net reported an error ({status or code}): {message}", error_code=code
        )

    def _get_api(self, url: str) -> requests.Response:
        """GET an API URL with the key, following redirects only within the root's origin:
        requests would carry X-API-Key to whatever host a redirect names."""
        for _ in range(MAX_REDIRECTS + 1):
            reply = self._session.get(
                url,
                headers=self._headers(),
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
            )
            if not reply.is_redirect:
                return reply
            target = urljoin(url, reply.headers["Location"])
            reply.close()
            if _origin(target) != _origin(url):
                raise BungieError(
                    f"{self.host} redirected the API request to {_origin(target)}; set the "
                    "Bungie.net root to that address if it is right (the API key is only sent "
                    "to the root)."
                )
            url = target
        raise BungieError(f"{self.host} redirected the API request too many times.")

    # The content file --------------------------------------------------------------------
    def download(self, path: str, destination: Path, progress: Progress) -> Path:
        """Stream {root}{path} to `destination` with progress; retries transient failures and
        a 404 right after a release (with a cache-busting query string)."""
        url = self.root + path
        last_error: Exception | None = None
        for attempt in range(1, self._attempts + 1):
            progress.check_cancelled()
            query = {"cb": str(int(time.time() * 1000))} if attempt > 1 else None
            try:
                return self._try_download(url, query, destination, progress)
            except (_TransientError, NetworkError) as exc:
                last_error = exc
            if attempt < self._attempts:
                wait = self._backoff * 2 ** (attempt - 1)
                log.info("%s Retrying in %.0f s.", last_error, wait)
                progress.message(_retry_note(last_error, wait, attempt + 1, self._attempts))
                self._wait(wait, progress)
        assert last_error is not None
        raise DownloadError(str(last_error)) from None

    def _try_download(
        self, url: str, query: dict[str, str] | None, destination: Path, progress: Progress
    ) -> Path:
        name = path_name(url)
        try:
            # A zip gains nothing from gzip in transit; asking for it as it is keeps
            # Content-Length equal to the bytes written.
            with cancellable(progress):
                reply = self._session.get(
                    url,
                    params=query,
                    stream=True,
                    timeout=self._timeout,
                    headers={"Accept-Encoding": "identity"},
                )
        except requests.RequestException as exc:
            progress.check_cancelled()  # a cancel shuts the socket: not a network problem
            raise NetworkError(describe_network_error(exc, self.host)) from None
        with contextlib.closing(reply):
            if reply.status_code == 404:
                raise _TransientError(f"Bungie.net does not have {name} yet (HTTP 404).")
            if reply.status_code >= 500 or reply.status_code in (408, 429):
                raise _TransientError(f"Bungie.net answered HTTP {reply.status_code} for {name}.")
            if reply.status_code != 200:
                raise DownloadError(f"Bungie.net answered HTTP {reply.status_code} for {name}.")
            total = _content_length(reply)
            if total is not None:
                _require_free_space(destination.parent, total, name)
            progress.start(Stage.DOWNLOAD, total, "bytes", name)
            stop_reading = abort_on_cancel(reply, progress)
            try:
                with partial_file(destination) as partial:
                    progress_done = _write_body(reply, partial, progress)
                    progress.check_cancelled()
                    if total is not None and progress_done != total:
                        raise _TransientError(
                            f"The download of {name} was cut short ({progress_done:,} of "
                            f"{total:,} bytes)."
                        )
            except requests.exceptions.ChunkedEncodingError:
                progress.check_cancelled()
                expected = f"{total:,}" if total is not None else "?"
                raise _TransientError(
                    f"The download of {name} was cut short ({_bytes_received(reply):,} of "
                    f"{expected} bytes)."
                ) from None
            except requests.RequestException as exc:
                progress.check_cancelled()
                raise NetworkError(
                    f"The download of {name} failed after {_bytes_received(reply):,} bytes: "
                    f"{describe_network_error(exc, self.host)}"
                ) from None
            except OSError as exc:
                progress.check_cancelled()  # a cancel shuts the socket: not a disk problem
                if is_disk_full(exc):
                    raise disk_full(f"downloading {name}", destination.parent, cause=exc) from None
                raise unusable_folder(destination.parent, exc, "download folder") from None
            finally:
                stop_reading()
        progress.finish(progress_done)
        return destination


class _ThrottledFor(ThrottledError):
    """A throttling answer with the wait Bungie.net asked for (0: none said)."""

    def __init__(self, wait: float, error_code: int | None) -> None:
        super().__init__(
            "Bungie.net is throttling requests; try again in a few minutes.", error_code=error_code
        )
        self.wait = wait


class ThrottledUntilError(ThrottledError):
    """Bungie.net asked for a wait longer than a run waits (ThrottleSeconds over a minute).
    `retry_at` (aware, UTC) is the earliest time Bungie.net allows the next try: a scheduler
    must not poll before it."""

    def __init__(self, message: str, retry_at: datetime, error_code: int | None = None) -> None:
        super().__init__(message, error_code=error_code)
        self.retry_at = retry_at

    @classmethod
    def after(cls, seconds: float, error_code: int | None) -> ThrottledUntilError:
        retry_at = datetime.now(UTC) + timedelta(seconds=math.ceil(seconds))
        local = retry_at.astimezone()
        when = local.strftime("%H:%M:%S %Z" if seconds < 12 * 3600 else "%Y-%m-%d %H:%M:%S %Z")
        return cls(
            f"Bungie.net is throttling requests and allows the next try at {when.strip()} "
            f"(in {_duration(seconds)}); try again then.",
            retry_at,
            error_code,
        )


def _duration(seconds: float) -> str:
    minutes, rest = divmod(math.ceil(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _retry_note(error: Exception, wait: float, next_try: int, tries: int) -> str:
    """What the log pane says between tries (the final failure keeps its own sentence)."""
    if isinstance(error, ThrottledError):
        return (
            f"Bungie.net is throttling requests; waiting {wait:.0f} s before try {next_try} "
            f"of {tries}."
        )
    return f"{error} Trying again in {wait:.0f} s (try {next_try} of {tries})."


def _write_body(reply: requests.Response, partial: Path, progress: Progress) -> int:
    """Stream the answer's body into `partial`; return the bytes received. Should a server
    compress anyway, Content-Length and progress count wire bytes."""
    encoded = reply.headers.get("Content-Encoding", "identity").lower() != "identity"
    done = 0
    with open(partial, "wb") as out:
        for chunk in reply.iter_content(CHUNK):
            progress.check_cancelled()
            out.write(chunk)
            done = reply.raw.tell() if encoded else done + len(chunk)
            progress.update(done)
    return done


def _bytes_received(reply: requests.Response) -> int:
    try:
        return int(reply.raw.tell())
    except (AttributeError, OSError, ValueError):
        return 0


class _TransientError(Exception):
    """Worth another try; becomes a BungieError/DownloadError when tries run out."""


def path_name(url_or_path: str) -> str:
    return urlsplit(url_or_path).path.rsplit("/", 1)[-1] or url_or_path


def _parse_json(reply: requests.Response) -> dict[str, Any] | None:
    try:
        value = reply.json()
    except ValueError:
        return None
    return value if isinstance(value, dict) and "ErrorCode" in value else None


def _looks_like_html(reply: requests.Response) -> bool:
    kind = reply.headers.get("Content-Type", "")
    return "html" in kind or reply.text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _error_code(value: object) -> int | None:
    """ErrorCode as the number the spec says it is (int32), also when sent as "1" or 1.0."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _throttle_seconds(value: object) -> float:
    """ThrottleSeconds as a wait: 0 (use the backoff) when missing, odd or negative."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


def _content_length(reply: requests.Response) -> int | None:
    try:
        value = int(reply.headers["Content-Length"])
    except (KeyError, ValueError):
        return None
    return value if value >= 0 else None


def _require_free_space(folder: Path, needed: int, name: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable_folder(folder, exc, "download folder") from None
    if needed > shutil.disk_usage(folder).free:
        raise disk_full(f"downloading {name}", folder, needed)


def _nothing() -> None:
    pass


def describe_network_error(exc: BaseException, host: str) -> str:
    """One sentence for a requests exception, without URLs' query strings or headers."""
    sentence = network_failure_sentence(
        exc,
        host,
        unresolved="check the network connection",
        refused="check the network and the Bungie.net root",
        timeout="; check the network and try again",
    )
    return f"{sentence}."
