"""One sentence for a request that failed on the network, naming only the host (requests' own
text quotes the URL, which may hold a key or a webhook token). Each client adds its own advice."""

from __future__ import annotations

import socket

import requests

RESOLUTION_WORDS = (
    "NameResolution",
    "Name or service not known",
    "nodename nor servname",
    "getaddrinfo",
    "Temporary failure in name resolution",
)


def network_failure_sentence(
    exc: BaseException, host: str, *, unresolved: str, refused: str, timeout: str = ""
) -> str:
    """Without a final full stop: `unresolved` and `refused` are the advice after the semicolon
    for a host that cannot be resolved or refuses; `timeout` is added to a timeout's words."""
    text = f"{exc!r} {exc}"
    if isinstance(exc, requests.Timeout):
        return f"{host} did not answer in time{timeout}"
    if _caused_by(exc, socket.gaierror) or any(words in text for words in RESOLUTION_WORDS):
        return f"Cannot resolve {host}; {unresolved}"
    if "Connection refused" in text or "ECONNREFUSED" in text:
        return f"{host} refused the connection; {refused}"
    if isinstance(exc, requests.ConnectionError):
        return f"Cannot reach {host}; check the network connection"
    return f"The request to {host} failed ({type(exc).__name__})"


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is anywhere in the chain requests and urllib3 wrap around an error."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        error = pending.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, kind):
            return True
        pending += [error.__cause__, error.__context__, getattr(error, "reason", None)]
        pending += list(error.args)
    return False
