"""Tests stay on loopback: in the test process, a name lookup or a connection to any other address fails.

Installed for the whole session (``tests/conftest.py``), not per test, because some traffic would leave
from a thread after the test that caused it: the Azure ML SDK, used offline by the Azure tests, queues
usage telemetry (its dataprep part even when ``HBI_WORKSPACE_JOB`` turns the rest off) and a background
sender posts it to Microsoft later. IP literals resolve (no lookup is sent); connecting to one that is not
loopback (or the unspecified address, which is this host) raises. The one allowed exception is fetching
the reference dataset when no copy exists (``allow_internet()``, used by ``tests/reference_data.py``).
Child processes (workers, services, the browser) are not covered: they are opml's and Chromium's own.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterator

_allowed = threading.local()  # per thread: a telemetry thread never inherits the download's permission
_original = {"getaddrinfo": socket.getaddrinfo, "connect": socket.socket.connect, "connect_ex": None}


def _is_local(host: object) -> bool:
    if host is None or (isinstance(host, str) and host.lower() in ("localhost", "")):
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _is_literal(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return True


def _permitted() -> bool:
    return getattr(_allowed, "depth", 0) > 0


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not (_permitted() or _is_local(host) or _is_literal(host)):
        raise socket.gaierror(socket.EAI_NONAME, f"tests stay on loopback: name lookup of {host!r} refused")
    return _original["getaddrinfo"](host, *args, **kwargs)


def _refused(sock: socket.socket, address) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6) and not (_permitted() or _is_local(address[0]))


def _guarded_connect(sock: socket.socket, address):
    if _refused(sock, address):
        raise ConnectionRefusedError(f"tests stay on loopback: connection to {address!r} refused")
    return _original["connect"](sock, address)


def _guarded_connect_ex(sock: socket.socket, address):
    if _refused(sock, address):
        raise ConnectionRefusedError(f"tests stay on loopback: connection to {address!r} refused")
    return _original["connect_ex"](sock, address)


def install() -> None:
    """Guard this process's sockets (idempotent)."""
    if socket.getaddrinfo is _guarded_getaddrinfo:
        return
    _original["connect_ex"] = socket.socket.connect_ex
    socket.getaddrinfo = _guarded_getaddrinfo
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex


@contextlib.contextmanager
def allow_internet() -> Iterator[None]:
    """Let this thread reach the internet for the duration (the reference data download only)."""
    _allowed.depth = getattr(_allowed, "depth", 0) + 1
    try:
        yield
    finally:
        _allowed.depth -= 1
