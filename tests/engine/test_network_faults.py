"""Network faults that used to hang or retry too soon, against real sockets on 127.0.0.1:
a host that drops connection attempts (a listener whose backlog is full: the kernel drops the
SYNs), a server that accepts but never answers the TLS handshake, and Bungie.net asking for a
throttle wait longer than a run waits."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from manifest_gui.engine.bungie import MAX_THROTTLE_WAIT, BungieClient, ThrottledUntilError
from manifest_gui.engine.errors import CancelledError, ThrottledError
from manifest_gui.engine.progress import Progress
from tests.support import skip_or_fail
from tests.support.bungie_server import BungieServer, throttled

CONTENT = "/common/destiny2_content/sqlite/en/world_sql_content_0123.content"
CANCEL_AFTER = 0.5
# What the issue allows between the cancel and the end of the call.
CANCEL_BOUND = 2.0


@pytest.fixture
def dropping_root() -> Iterator[str]:
    """http://127.0.0.1:<port> of a listener whose accept queue is full and never drained:
    Linux drops every further SYN, so a connect waits as for a host behind a DROP rule."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    queued: list[socket.socket] = []
    dropped = False
    try:
        for _ in range(16):
            probe = socket.socket()
            probe.settimeout(0.5)
            try:
                probe.connect(address)
            except TimeoutError:
                probe.close()
                dropped = True
                break
            queued.append(probe)
        if not dropped:
            skip_or_fail("this kernel answers SYNs beyond a full backlog; no dropping host")
        yield f"http://127.0.0.1:{address[1]}"
    finally:
        for sock in queued:
            sock.close()
        listener.close()


@pytest.fixture
def silent_tls_root() -> Iterator[str]:
    """https://127.0.0.1:<port> of a server that accepts connections and never says a word:
    the client's TLS handshake waits for a ServerHello that never comes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for sock in accepted:
            sock.close()
        listener.close()
    assert accepted, "the client never connected: the handshake was not what was cancelled"


def _cancelled_within_bound(call: object) -> float:
    """Run `call(progress)`, cancel it after CANCEL_AFTER s; return the seconds it took to end
    after the cancel. It must end with CancelledError (not a network error)."""
    progress = Progress()
    timer = threading.Timer(CANCEL_AFTER, progress.cancel)
    begin = time.monotonic()
    timer.start()
    try:
        with pytest.raises(CancelledError):
            call(progress)  # type: ignore[operator]
    finally:
        timer.cancel()
    return time.monotonic() - begin - CANCEL_AFTER


def _cancel_a_request(root: str, request_kind: str, destination: Path) -> float:
    """Cancel a manifest request or a download to `root`; the seconds from cancel to end."""
    with BungieClient(root, "k", timeout=30) as client:
        if request_kind == "manifest":
            return _cancelled_within_bound(client.get_manifest)
        return _cancelled_within_bound(
            lambda progress: client.download(CONTENT, destination, progress)
        )


@pytest.mark.parametrize("request_kind", ["manifest", "download"])
def test_cancel_during_a_connect_to_a_host_that_drops_packets(
    dropping_root: str, tmp_path: Path, request_kind: str
) -> None:
    # The connect timeout is 10 s: before, a cancel waited for it.
    assert _cancel_a_request(dropping_root, request_kind, tmp_path / "m.content") < CANCEL_BOUND
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("request_kind", ["manifest", "download"])
def test_cancel_during_a_tls_handshake_that_never_ends(
    silent_tls_root: str, tmp_path: Path, request_kind: str
) -> None:
    assert _cancel_a_request(silent_tls_root, request_kind, tmp_path / "m.content") < CANCEL_BOUND


def test_a_connect_that_is_not_cancelled_still_times_out_as_a_network_error(
    dropping_root: str,
) -> None:
    """The watched connect keeps urllib3's own failure: a timeout is a network sentence."""
    from manifest_gui.engine.errors import NetworkError

    begin = time.monotonic()
    with (
        BungieClient(dropping_root, "k", timeout=1.0, attempts=1) as client,
        pytest.raises(NetworkError, match="did not answer in time"),
    ):
        client.get_manifest(Progress())
    assert 0.9 < time.monotonic() - begin < 5


# Throttling ------------------------------------------------------------------------------------
class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.mark.parametrize("seconds", [61, 300, 86_400])
def test_a_throttle_wait_over_a_minute_gives_up_and_says_when(
    bungie_server: BungieServer, seconds: int
) -> None:
    bungie_server.queue(throttled(36, seconds=seconds), times=4)
    sleeps = Sleeps()
    before = datetime.now(UTC)
    with (
        BungieClient(bungie_server.base_url, "k", sleep=sleeps) as client,
        pytest.raises(ThrottledUntilError) as caught,
    ):
        client.get_manifest(Progress())
    after = datetime.now(UTC)
    # One request, no wait, no second try sooner than Bungie.net asked.
    assert len(bungie_server.manifest_requests) == 1
    assert sleeps.waits == []
    error = caught.value
    assert isinstance(error, ThrottledError) and error.error_code == 36
    assert before + timedelta(seconds=seconds) <= error.retry_at
    assert error.retry_at <= after + timedelta(seconds=seconds + 1)
    local = error.retry_at.astimezone()
    message = str(error)
    assert message.startswith("Bungie.net is throttling requests and allows the next try at ")
    assert local.strftime("%H:%M:%S") in message
    if seconds >= 12 * 3600:
        assert local.strftime("%Y-%m-%d") in message
    assert message.endswith("; try again then.") and "\n" not in message


def test_a_throttle_wait_of_a_minute_is_waited(bungie_server: BungieServer) -> None:
    bungie_server.queue(throttled(36, seconds=int(MAX_THROTTLE_WAIT)))
    sleeps = Sleeps()
    with BungieClient(bungie_server.base_url, "k", sleep=sleeps) as client:
        assert client.get_manifest(Progress()).version == bungie_server.version
    assert sleeps.waits == [MAX_THROTTLE_WAIT]
    assert len(bungie_server.manifest_requests) == 2
