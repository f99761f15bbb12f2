"""HTTP that a cancel interrupts at once, whatever the request is waiting for.

A blocked socket call ends when its socket is shut down from another thread. requests gives no
handle on the socket, so the connections of a session mounted with CancellableAdapter shut their
socket down when the Progress of the request running in their thread is cancelled:
- while the TCP connection is being opened (a host that drops packets: up to the connect
  timeout) and during the TLS handshake (a server that accepts but never answers);
- while waiting for the answer's headers;
- and, through abort_on_cancel, while the body is read.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family

from .. import __version__
from .progress import Progress

_watching = threading.local()


@contextlib.contextmanager
def cancellable(progress: Progress | None) -> Iterator[None]:
    """Requests made in this block by a CancellableAdapter session end when `progress` is
    cancelled (the request then fails; the caller checks the cancel and raises it)."""
    previous = getattr(_watching, "progress", None)
    _watching.progress = progress
    try:
        yield
    finally:
        _watching.progress = previous


def shut_down(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def abort_on_cancel(reply: requests.Response, progress: Progress) -> Callable[[], None]:
    """Cancel must not wait for a stalled server: shutting the socket down wakes the blocked
    read. Returns the function that unregisters this."""

    def shut_down_reply() -> None:
        sock: socket.socket | None = getattr(getattr(reply.raw, "connection", None), "sock", None)
        if sock is None:
            # A connection that closes after the response hands its socket to the response:
            # urllib3 response -> http.client response -> buffered reader -> SocketIO.
            fp = getattr(getattr(reply.raw, "_fp", None), "fp", None)
            sock = getattr(getattr(fp, "raw", None), "_sock", None)
        shut_down(sock)

    return progress.on_cancel(shut_down_reply)


def _current_progress() -> Progress | None:
    progress: Progress | None = getattr(_watching, "progress", None)
    return progress


class _ConnectWatch:
    """A duplicate of a connecting socket, shut down on cancel. The duplicate, unlike the
    socket itself, stays usable when TLS takes the socket over for its handshake."""

    def __init__(self, sock: socket.socket, progress: Progress) -> None:
        self._twin = sock.dup()
        self._remove = progress.on_cancel(functools.partial(shut_down, self._twin))

    def close(self) -> None:
        self._remove()
        self._twin.close()


def _open_socket(conn: urllib3.connection.HTTPConnection, progress: Progress) -> socket.socket:
    """urllib3's create_connection, with each socket watched before it connects."""
    host = conn._dns_host.strip("[]")
    error: OSError | None = None
    for family, kind, proto, _name, address in socket.getaddrinfo(
        host, conn.port, allowed_gai_family(), socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            if isinstance(conn.timeout, int | float):
                sock.settimeout(conn.timeout)
            if conn.source_address:
                sock.bind(conn.source_address)
            watches: list[_ConnectWatch] = conn.__dict__.setdefault("_watches", [])
            watches.append(_ConnectWatch(sock, progress))  # closed when connect() ends
            sock.connect(address)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
        progress.check_cancelled()
    raise error or OSError("getaddrinfo returned no address")


def _watched_new_conn(conn: urllib3.connection.HTTPConnection, new_conn: Any) -> socket.socket:
    progress = _current_progress()
    if progress is None:
        return new_conn()
    try:
        return _open_socket(conn, progress)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    except TimeoutError as exc:
        raise ConnectTimeoutError(
            conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
        ) from exc
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc


def _watched_connect(conn: urllib3.connection.HTTPConnection, connect: Any) -> None:
    """Connect (TCP, then TLS for https) while a cancel can shut the socket down."""
    conn._watches = []  # type: ignore[attr-defined]
    try:
        connect()
    finally:
        for watch in conn._watches:  # type: ignore[attr-defined]
            watch.close()
        conn._watches = []  # type: ignore[attr-defined]


def _watched_getresponse(conn: urllib3.connection.HTTPConnection, getresponse: Any) -> Any:
    progress = _current_progress()
    if progress is None or conn.sock is None:
        return getresponse()
    remove = progress.on_cancel(functools.partial(shut_down, conn.sock))
    try:
        return getresponse()
    finally:
        remove()


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _watched_new_conn(self, super()._new_conn)

    def connect(self) -> None:
        _watched_connect(self, super().connect)

    def getresponse(self) -> Any:
        return _watched_getresponse(self, super().getresponse)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, urllib3.connection.HTTPSConnection):
    """The same watches; super() of the methods above is HTTPSConnection's here (TLS)."""


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class CancellableAdapter(HTTPAdapter):
    """Mount on a session (http:// and https://) for requests that a cancel interrupts."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


def cancellable_session(session: requests.Session | None = None) -> requests.Session:
    """`session` (a test's), or a new one whose requests a cancel interrupts, even one still
    connecting or waiting for the server's answer; either way it names the app as its agent."""
    if session is None:
        session = requests.Session()
        for scheme in ("http://", "https://"):
            session.mount(scheme, CancellableAdapter())
    session.headers.setdefault("User-Agent", f"manifest-gui/{__version__}")
    return session
