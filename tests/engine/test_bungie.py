"""The Bungie.net client against a real HTTP server on 127.0.0.1 playing Bungie.net."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from manifest_gui.engine.bungie import THROTTLE_CODES, BungieClient
from manifest_gui.engine.errors import (
    ApiKeyError,
    BungieError,
    CancelledError,
    DownloadError,
    MaintenanceError,
    NetworkError,
    ThrottledError,
)
from manifest_gui.engine.progress import Progress, ProgressEvent
from tests.support.bungie_server import (
    MANIFEST_PATH,
    BungieServer,
    delayed,
    error_envelope,
    gzip_encoded,
    html_page,
    http_error,
    json_body,
    redirect,
    refused_url,
    slow_body,
    throttled,
    truncated,
)


class Sleeps:
    """Records the waits the client asks for instead of sleeping them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client_for(
    server: BungieServer, sleeps: Sleeps | None = None, **kwargs: object
) -> BungieClient:
    options: dict[str, object] = {"timeout": 5.0, "backoff": 1.0, "sleep": sleeps or Sleeps()}
    options.update(kwargs)
    return BungieClient(server.base_url, "test-key", **options)  # type: ignore[arg-type]


def test_manifest_envelope_is_parsed_and_key_sent(bungie_server: BungieServer) -> None:
    with client_for(bungie_server) as client:
        remote = client.get_manifest()
    assert remote.version == bungie_server.version
    assert remote.content_path("en") == bungie_server.content_paths["en"]
    assert set(remote.world_content_paths) >= {"en", "fr", "de"}
    (request,) = bungie_server.requests_to(MANIFEST_PATH)
    assert request.api_key == "test-key"


def test_unknown_language_is_a_sentence(bungie_server: BungieServer) -> None:
    with client_for(bungie_server) as client:
        remote = client.get_manifest()
    with pytest.raises(BungieError, match="no manifest in language 'xx'"):
        remote.content_path("xx")


@pytest.mark.parametrize("status", [503, 400])
def test_maintenance(bungie_server: BungieServer, status: int) -> None:
    bungie_server.queue(error_envelope(5, http_status=status))
    with client_for(bungie_server) as client, pytest.raises(MaintenanceError) as caught:
        client.get_manifest()
    assert str(caught.value) == "Bungie.net is down for maintenance; try again later."
    assert len(bungie_server.manifest_requests) == 1  # not hammered with retries


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (2101, "invalid or expired"),
        (2102, "needs an API key"),
        (2103, "disabled the application"),
    ],
)
def test_key_errors(bungie_server: BungieServer, code: int, words: str) -> None:
    bungie_server.queue(error_envelope(code))
    with client_for(bungie_server) as client, pytest.raises(ApiKeyError, match=words) as caught:
        client.get_manifest()
    assert "test-key" not in str(caught.value)


@pytest.mark.parametrize("code", sorted(THROTTLE_CODES))
def test_throttling_waits_throttle_seconds_then_succeeds(
    bungie_server: BungieServer, code: int
) -> None:
    bungie_server.queue(throttled(code, seconds=3), times=2)
    sleeps = Sleeps()
    with client_for(bungie_server, sleeps) as client:
        remote = client.get_manifest()
    assert remote.version == bungie_server.version
    assert sleeps.waits == [3.0, 3.0]


def test_persistent_throttling_gives_up(bungie_server: BungieServer) -> None:
    bungie_server.queue(throttled(36, seconds=1), times=10)
    sleeps = Sleeps()
    events: list[ProgressEvent] = []
    with (
        client_for(bungie_server, sleeps, attempts=3) as client,
        pytest.raises(ThrottledError, match="throttling"),
    ):
        client.get_manifest(Progress(events.append, 0))
    assert len(bungie_server.manifest_requests) == 3
    assert len(sleeps.waits) == 2
    # Between tries the log says it waits; it never contradicts itself ("try later. Retrying").
    assert [event.message for event in events if event.message] == [
        "Bungie.net is throttling requests; waiting 1 s before try 2 of 3.",
        "Bungie.net is throttling requests; waiting 1 s before try 3 of 3.",
    ]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_backoff(bungie_server: BungieServer, status: int) -> None:
    bungie_server.queue(http_error(status), times=2)
    sleeps = Sleeps()
    with client_for(bungie_server, sleeps) as client:
        assert client.get_manifest().version == bungie_server.version
    assert sleeps.waits == [1.0, 2.0]


def test_server_errors_give_up_with_a_sentence(bungie_server: BungieServer) -> None:
    bungie_server.queue(http_error(502), times=5)
    with (
        client_for(bungie_server, attempts=3) as client,
        pytest.raises(BungieError, match="HTTP 502"),
    ):
        client.get_manifest()


def test_html_page_instead_of_json(bungie_server: BungieServer) -> None:
    bungie_server.queue(html_page(), times=5)
    with (
        client_for(bungie_server, attempts=2) as client,
        pytest.raises(BungieError, match="web page instead of API data"),
    ):
        client.get_manifest()


def test_other_error_code_is_reported_with_its_status(bungie_server: BungieServer) -> None:
    bungie_server.queue(error_envelope(1636, http_status=200))
    with (
        client_for(bungie_server) as client,
        pytest.raises(BungieError, match="DestinyDefinitionsNotLoaded"),
    ):
        client.get_manifest()


def test_timeout(bungie_server: BungieServer) -> None:
    bungie_server.queue(delayed(2.0), times=2)
    with (
        client_for(bungie_server, timeout=0.3, attempts=2) as client,
        pytest.raises(NetworkError, match="did not answer in time"),
    ):
        client.get_manifest()


def test_connection_refused() -> None:
    with (
        BungieClient(refused_url(), "k", attempts=2, sleep=Sleeps()) as client,
        pytest.raises(NetworkError, match="refused the connection"),
    ):
        client.get_manifest()


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    # The resolver alone is replaced: no query leaves the machine.
    def no_such_host(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    client = BungieClient("https://www.bungie.net", "k", attempts=2, sleep=Sleeps())
    with client, pytest.raises(NetworkError, match="Cannot resolve www.bungie.net"):
        client.get_manifest()


# Downloads -----------------------------------------------------------------------------------
def publish_bytes(server: BungieServer, size: int = 3_000_000) -> tuple[str, bytes]:
    data = bytes(range(256)) * (size // 256)
    path = "/common/destiny2_content/sqlite/en/world_sql_content_test.content"
    server.serve(path, data)
    return path, data


def test_download_streams_with_progress(bungie_server: BungieServer, tmp_path: Path) -> None:
    path, data = publish_bytes(bungie_server)
    events: list[ProgressEvent] = []
    with client_for(bungie_server) as client:
        result = client.download(path, tmp_path / "m.content", Progress(events.append, 0))
    assert result.read_bytes() == data
    assert events[0].total == len(data) and events[0].unit == "bytes"
    assert events[-1].finished and events[-1].done == len(data)
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert not list(tmp_path.glob("*.part"))


def test_download_404_after_release_is_retried_with_cache_busting(
    bungie_server: BungieServer, tmp_path: Path
) -> None:
    path, data = publish_bytes(bungie_server, 10_000)
    bungie_server.fail_content_until_cache_busted(times=5)
    with client_for(bungie_server) as client:
        client.download(path, tmp_path / "m.content", Progress())
    first, second = bungie_server.content_requests
    assert first.params == {}
    assert "cb" in second.params
    assert (tmp_path / "m.content").read_bytes() == data


@pytest.mark.parametrize("when_asked_only", [True, False])
def test_download_is_not_mistaken_for_cut_short_when_compressed_in_transit(
    bungie_server: BungieServer, tmp_path: Path, when_asked_only: bool
) -> None:
    # Content-Length counts the bytes on the wire; requests hands out decoded bytes.
    path, data = publish_bytes(bungie_server, 300_000)
    bungie_server.queue(gzip_encoded(when_asked_only=when_asked_only), route="content")
    events: list[ProgressEvent] = []
    with client_for(bungie_server, attempts=1) as client:
        client.download(path, tmp_path / "m.content", Progress(events.append, 0))
    assert (tmp_path / "m.content").read_bytes() == data
    assert events[-1].finished and events[-1].done == events[0].total
    if when_asked_only:
        # A zip is already compressed: the client asks for it as it is.
        assert bungie_server.content_requests[0].header("Accept-Encoding") == "identity"


def test_truncated_download_is_retried_then_fails(
    bungie_server: BungieServer, tmp_path: Path
) -> None:
    path, data = publish_bytes(bungie_server, 100_000)
    bungie_server.queue(truncated(), route="content", times=5)
    with (
        client_for(bungie_server, attempts=2) as client,
        pytest.raises(DownloadError, match="cut short") as failure,
    ):
        client.download(path, tmp_path / "m.content", Progress())
    assert not list(tmp_path.iterdir())  # nothing partial left behind
    # Half of it came (less than one read's worth): the message says so, not "0 of".
    size = len(data)
    assert f"({size // 2:,} of {size:,} bytes)" in str(failure.value), failure.value


def test_truncated_download_recovers(bungie_server: BungieServer, tmp_path: Path) -> None:
    path, data = publish_bytes(bungie_server, 100_000)
    bungie_server.queue(truncated(), route="content")
    with client_for(bungie_server) as client:
        client.download(path, tmp_path / "m.content", Progress())
    assert (tmp_path / "m.content").read_bytes() == data


def test_missing_file_gives_up_with_a_sentence(bungie_server: BungieServer, tmp_path: Path) -> None:
    with (
        client_for(bungie_server, attempts=2) as client,
        pytest.raises(DownloadError, match="does not have nothing.content yet"),
    ):
        client.download("/common/nothing.content", tmp_path / "m.content", Progress())


def test_cancel_stops_a_stalled_download_quickly(
    bungie_server: BungieServer, tmp_path: Path
) -> None:
    path, _ = publish_bytes(bungie_server, 5_000_000)
    bungie_server.queue(slow_body(chunk_size=8192, interval=0.5), route="content")
    started = threading.Event()

    def on_event(event: ProgressEvent) -> None:
        if event.stage == "download":
            started.set()

    progress = Progress(on_event, interval=0)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with client_for(bungie_server, timeout=30) as client:
                client.download(path, tmp_path / "m.content", progress)
        except BaseException as exc:  # handed to the test thread
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert started.wait(5)
    begin = time.monotonic()
    progress.cancel()
    worker.join(5)
    assert not worker.is_alive()
    assert time.monotonic() - begin < 2.0
    assert failure and isinstance(failure[0], CancelledError)
    assert not list(tmp_path.iterdir())


def test_error_envelope_with_5xx_is_retried(bungie_server: BungieServer) -> None:
    bungie_server.queue(error_envelope(1618))  # DestinyUnexpectedError over HTTP 500
    with client_for(bungie_server) as client:
        assert client.get_manifest().version == bungie_server.version
    assert len(bungie_server.manifest_requests) == 2


# Cancel, retries and odd answers ----------------------------------------------------------------
def cancel_soon(progress: Progress, after: float = 0.3) -> threading.Timer:
    timer = threading.Timer(after, progress.cancel)
    timer.start()
    return timer


def test_cancel_cuts_a_throttle_wait_short(bungie_server: BungieServer) -> None:
    # The real clock: a wait of ThrottleSeconds (here 30 s) must not outlast a cancel.
    bungie_server.queue(throttled(36, seconds=30), times=2)
    progress = Progress()
    cancel_soon(progress)
    begin = time.monotonic()
    with BungieClient(bungie_server.base_url, "k") as client, pytest.raises(CancelledError):
        client.get_manifest(progress)
    assert time.monotonic() - begin < 2.0
    assert len(bungie_server.manifest_requests) == 1


def test_cancel_cuts_a_download_backoff_short(bungie_server: BungieServer, tmp_path: Path) -> None:
    path, _ = publish_bytes(bungie_server, 10_000)
    bungie_server.fail_content_until_cache_busted(times=1)
    progress = Progress()
    cancel_soon(progress)
    begin = time.monotonic()
    with (
        BungieClient(bungie_server.base_url, "k", backoff=30) as client,
        pytest.raises(CancelledError),
    ):
        client.download(path, tmp_path / "m.content", progress)
    assert time.monotonic() - begin < 2.0
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("route", ["manifest", "content"])
def test_cancel_while_waiting_for_the_answer(
    bungie_server: BungieServer, tmp_path: Path, route: str
) -> None:
    # The server says nothing (no headers yet) for 30 s: a cancel must not wait for it.
    path, _ = publish_bytes(bungie_server, 10_000)
    bungie_server.queue(delayed(30), route=route)
    progress = Progress()
    cancel_soon(progress)
    begin = time.monotonic()
    with BungieClient(bungie_server.base_url, "k") as client, pytest.raises(CancelledError):
        if route == "manifest":
            client.get_manifest(progress)
        else:
            client.download(path, tmp_path / "m.content", progress)
    assert time.monotonic() - begin < 2.0
    assert len(bungie_server.requests) == 1  # not retried after the cancel
    assert not list(tmp_path.iterdir())


def test_a_redirect_to_another_host_never_gets_the_key(bungie_server: BungieServer) -> None:
    with BungieServer() as elsewhere:
        target = elsewhere.manifest_url.replace("127.0.0.1", "localhost")
        bungie_server.queue(redirect(target))
        with client_for(bungie_server) as client, pytest.raises(BungieError) as caught:
            client.get_manifest()
    assert elsewhere.requests == []
    message = str(caught.value)
    assert "redirected the API request to http://localhost:" in message
    assert "test-key" not in message and "\n" not in message


def test_a_redirect_within_the_root_is_followed(bungie_server: BungieServer) -> None:
    bungie_server.queue(redirect(MANIFEST_PATH + "?moved=1", status=301))
    with client_for(bungie_server) as client:
        assert client.get_manifest().version == bungie_server.version
    _, second = bungie_server.manifest_requests
    assert second.params == {"moved": ["1"]} and second.api_key == "test-key"


@pytest.mark.parametrize("seconds", [-1, "soon", None, {"s": 1}, 0])
def test_odd_throttle_seconds_fall_back_to_the_backoff(
    bungie_server: BungieServer, seconds: object
) -> None:
    body = {"ErrorCode": 36, "ThrottleSeconds": seconds, "ErrorStatus": "x", "Message": "m"}
    bungie_server.queue(json_body(body, http_status=429), times=2)
    sleeps = Sleeps()
    with client_for(bungie_server, sleeps) as client:
        assert client.get_manifest().version == bungie_server.version
    assert sleeps.waits == [1.0, 2.0]  # backoff 1, 2 (as for any transient failure)


@pytest.mark.parametrize("code", ["1", 1.0])
def test_error_code_one_spelled_oddly_is_success(bungie_server: BungieServer, code: object) -> None:
    envelope = bungie_server.envelope()
    envelope["ErrorCode"] = code
    bungie_server.queue(json_body(envelope))
    with client_for(bungie_server) as client:
        assert client.get_manifest().version == bungie_server.version


def test_error_without_a_message_is_still_a_sentence(bungie_server: BungieServer) -> None:
    body = {"ErrorCode": 99, "ThrottleSeconds": 0, "ErrorStatus": "WebAuthRequired", "Message": ""}
    bungie_server.queue(json_body(body, http_status=401))
    with client_for(bungie_server) as client, pytest.raises(BungieError) as caught:
        client.get_manifest()
    assert str(caught.value) == "Bungie.net reported an error (WebAuthRequired): no details."


@pytest.mark.parametrize("key", ["0123456789abcdef\u2019", "0123\n4567", "abc\x00def"])
def test_a_key_that_cannot_be_a_header_is_a_sentence(bungie_server: BungieServer, key: str) -> None:
    with (
        BungieClient(bungie_server.base_url, key, sleep=Sleeps()) as client,
        pytest.raises(ApiKeyError, match="enter it again in Settings") as caught,
    ):
        client.get_manifest()
    assert key not in str(caught.value)
    assert bungie_server.requests == []  # not retried, not sent


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (socket.EAI_NODATA, "No address associated with hostname"),
        (socket.EAI_FAIL, "Non-recoverable failure in name resolution"),
    ],
)
def test_every_dns_failure_is_named(monkeypatch: pytest.MonkeyPatch, code: int, text: str) -> None:
    def no_address(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(code, text)

    monkeypatch.setattr(socket, "getaddrinfo", no_address)
    client = BungieClient("https://www.bungie.net", "k", attempts=1)
    with client, pytest.raises(NetworkError, match="Cannot resolve www.bungie.net"):
        client.get_manifest()
