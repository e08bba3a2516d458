"""Download a URL as an untrusted request.

Only http(s); never to a link-local or cloud-metadata address: the host's addresses are checked after DNS
resolution, and the socket's peer is checked once connected, before a byte of the request is sent (so a
host name that resolves differently the second time gains nothing); every redirect goes through the same
checks. One deadline covers the whole download (a watchdog shuts the sockets when it passes, so a server
that sends one byte every few seconds is given up on), and reading stops at the size limit whatever the
server declares. Proxy settings from the environment are not used: the checks apply to the real peer.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from urllib.parse import urljoin, urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from opml.errors import InvalidInput

_CHUNK = 1 << 16
MAX_REDIRECTS = 5

# Cloud instance metadata and host services (AWS/GCP/Azure IMDS, AWS's IPv6 IMDS, Alibaba, Azure's WireServer).
_METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")}


def refused_address(address: str) -> str | None:
    """Why a download may not go to ``address`` (an IP literal), or None when it may. Loopback and private
    networks are allowed: datasets are often served from the operator's own machine or network."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):  # an IPv4 address carried inside IPv6 is judged as itself
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast or ip.is_unspecified or (ip.is_reserved and not ip.is_loopback):
        return "not a host address"
    return None


class TooBig(Exception):
    """More bytes than allowed (``size`` read so far, or declared)."""

    def __init__(self, size: int, *, declared: bool):
        super().__init__(size)
        self.size, self.declared = size, declared


def _check_host(url: str, action: str = "download", shown: str | None = None) -> None:
    """Refuse ``url`` unless it is http(s) and every address its host resolves to is allowed. Messages say
    "could not/refused to ``action`` ``shown``" (the URL itself unless a shorter form is given)."""
    shown = shown or url
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInput(f"not an http(s) URL: {shown!r}")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise InvalidInput(f"not a valid port in {shown!r}") from None
    try:
        infos = socket.getaddrinfo(parsed.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise InvalidInput(f"could not {action} {shown}: the host name {parsed.hostname} does not resolve") from None
    for address in sorted({info[4][0] for info in infos}):
        reason = refused_address(address)
        if reason:
            raise InvalidInput(f"refused to {action} {shown}: {parsed.hostname} is {reason} ({address})")


class _Refused(OSError):
    """Raised inside urllib3 when a connection reached a refused address (it becomes InvalidInput)."""


def _guarded_adapter(sockets: list[socket.socket]) -> HTTPAdapter:
    """An adapter whose connections check their peer before sending and record their sockets (for the
    watchdog)."""

    def checked(connection: HTTPConnection) -> None:
        sock = connection.sock
        peer = sock.getpeername()[0]
        reason = refused_address(peer)
        if reason:
            sock.close()
            raise _Refused(f"connected to {reason} ({peer})")
        sockets.append(sock)

    class Connection(HTTPConnection):
        def connect(self) -> None:
            super().connect()
            checked(self)

    class SecureConnection(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            checked(self)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SecurePool}

    return Adapter(max_retries=0)


def download(url: str, *, max_bytes: int, timeout: float) -> tuple[bytes, str]:
    """The body of ``url`` and the URL it finally came from. Raises InvalidInput (refused address, no answer,
    HTTP error, deadline passed, too many redirects) or TooBig."""
    sockets: list[socket.socket] = []
    expired = threading.Event()

    def shut() -> None:
        expired.set()
        for sock in list(sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, shut)
    watchdog.daemon = True
    watchdog.start()
    deadline = time.monotonic() + timeout
    try:
        with requests.Session() as session:
            session.trust_env = False
            session.headers["Connection"] = "close"  # one request per connection: nothing pooled goes stale
            adapter = _guarded_adapter(sockets)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            for _ in range(MAX_REDIRECTS + 1):
                _check_host(url)
                with _get(session, url, deadline, timeout, expired) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("Location", ""))
                        continue
                    if response.status_code >= 400:
                        status = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
                        raise InvalidInput(f"{urlparse(url).netloc} answered {status} for {url}; check the URL")
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise TooBig(int(declared), declared=True)
                    return _read(response, url, max_bytes, timeout, expired), url
            raise InvalidInput(f"could not download {url}: more than {MAX_REDIRECTS} redirects")
    finally:
        watchdog.cancel()


def post_json(url: str, document: object, *, timeout: float, shown: str | None = None) -> int:
    """POST ``document`` as JSON to ``url`` under the rules of a download (the host's addresses checked after
    DNS resolution, the connected peer checked before a byte is sent, no proxies, one deadline for the
    whole exchange); redirects are not followed. Returns the HTTP status. Raises InvalidInput (a refused
    address, no answer, the deadline passed), whose message names ``shown`` (e.g. the URL without its
    path, which may hold a secret) rather than the URL."""
    import json

    shown = shown or url
    sockets: list[socket.socket] = []
    expired = threading.Event()

    def shut() -> None:
        expired.set()
        for sock in list(sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    _check_host(url, "post to", shown)
    watchdog = threading.Timer(timeout, shut)
    watchdog.daemon = True
    watchdog.start()
    try:
        with requests.Session() as session:
            session.trust_env = False
            session.headers["Connection"] = "close"
            adapter = _guarded_adapter(sockets)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            body = json.dumps(document, default=str).encode()
            try:
                response = session.post(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=timeout,
                    allow_redirects=False,
                    stream=True,
                )
            except requests.exceptions.RequestException as exc:
                refused = _refusal(exc)
                if refused:
                    raise InvalidInput(f"refused to post to {shown}: {refused}") from None
                if expired.is_set():
                    raise InvalidInput(f"no answer from {shown} within {timeout:g} s") from None
                raise InvalidInput(f"could not post to {shown}: no HTTP answer (refused, reset or silent)") from None
            response.close()  # the answer's body is not needed
            return response.status_code
    finally:
        watchdog.cancel()


def _late(url: str, timeout: float) -> InvalidInput:
    return InvalidInput(
        f"could not download {url} within {timeout:.0f} s (raise OPML_URL_TIMEOUT_SECONDS for slow servers)"
    )


def _get(
    session: requests.Session, url: str, deadline: float, timeout: float, expired: threading.Event
) -> requests.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _late(url, timeout)
    try:
        return session.get(url, stream=True, timeout=remaining, allow_redirects=False)
    except requests.exceptions.RequestException as exc:
        refused = _refusal(exc)
        if refused:
            raise InvalidInput(f"refused to download {url}: {refused}") from None
        if expired.is_set():
            raise _late(url, timeout) from None
        raise InvalidInput(
            f"could not download {url}: no HTTP answer from {urlparse(url).netloc} (refused, reset or silent)"
        ) from None


def _refusal(exc: BaseException) -> str | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _Refused):
            return str(exc)
        for arg in getattr(exc, "args", ()):
            if isinstance(arg, BaseException):
                found = _refusal(arg)
                if found:
                    return found
        exc = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
    return None


def _read(response: requests.Response, url: str, max_bytes: int, timeout: float, expired: threading.Event) -> bytes:
    body = bytearray()
    try:
        for chunk in response.iter_content(_CHUNK):
            body.extend(chunk)
            if len(body) > max_bytes:
                raise TooBig(len(body), declared=False)
    except requests.exceptions.RequestException:
        if expired.is_set():
            raise _late(url, timeout) from None
        raise InvalidInput(f"could not download {url}: the connection failed while reading") from None
    if expired.is_set():  # the watchdog shut the socket: what was read is cut short
        raise _late(url, timeout)
    return bytes(body)
