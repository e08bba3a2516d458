"""Dataset URLs as untrusted requests: refused addresses (never connected to), redirects checked at every hop,
one deadline for the whole download, and the size limit counted while reading. All traffic stays on loopback;
a guard fails the test if anything connects elsewhere."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from opml.data import download as download_module
from opml.data.download import refused_address
from opml.data.sources import fetch_source, read_path
from opml.errors import InvalidInput

CSV = b"age,y\n30,no\n41,yes\n"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch) -> list[tuple]:
    """Every connect of the test goes to loopback, or the test fails (and nothing leaves the machine)."""
    attempts: list[tuple] = []
    original = socket.socket.connect

    def connect(sock, address):
        attempts.append(address)
        if address[0] not in ("127.0.0.1", "::1"):
            raise AssertionError(f"the test tried to connect to {address}")
        return original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """Start loopback servers that answer each connection with ``handler(conn)``; yields a starter that gives
    the base URL. ``requests_seen`` counts requests whose first bytes arrived."""
    servers: list[socket.socket] = []
    stop = threading.Event()

    def start(handler: Callable[[socket.socket], None]) -> str:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(0.2)
        servers.append(server)

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                threading.Thread(target=_answer, args=(conn, handler), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{server.getsockname()[1]}"

    yield start
    stop.set()
    for server in servers:
        server.close()


def _answer(conn: socket.socket, handler: Callable[[socket.socket], None]) -> None:
    try:
        conn.settimeout(10)
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(4096)
            if not data:
                return
            request += data
        handler(conn)
    except OSError:
        pass
    finally:
        conn.close()


def _csv(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(CSV), CSV))


def _redirect_to(location: str) -> Callable[[socket.socket], None]:
    def handler(conn: socket.socket) -> None:
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )

    return handler


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "::ffff:169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
        "0.0.0.0",
        "224.0.0.1",
        "::",
    ],
)
def test_link_local_metadata_and_non_host_addresses_are_refused(address):
    assert refused_address(address) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.5", "172.16.0.9", "93.184.216.34"])
def test_loopback_private_and_public_hosts_are_allowed(address):
    assert refused_address(address) is None


def test_a_metadata_url_is_refused_without_connecting(loopback_only):
    with pytest.raises(InvalidInput, match="cloud metadata address"):
        fetch_source("http://169.254.169.254/latest/meta-data/", max_bytes=1000, timeout=5)
    assert loopback_only == []


def test_a_host_name_resolving_to_link_local_is_refused_without_connecting(monkeypatch, loopback_only):
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1", port, 0, 2))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(InvalidInput, match=r"metadata\.internal is a link-local address"):
        fetch_source("http://metadata.internal/data.csv", max_bytes=1000, timeout=5)
    assert loopback_only == []


def test_a_redirect_to_a_metadata_address_is_refused_at_the_hop(raw_server, loopback_only):
    base = raw_server(_redirect_to("http://169.254.169.254/latest/meta-data/"))
    with pytest.raises(InvalidInput, match=r"refused to download http://169\.254\.169\.254/.*cloud metadata"):
        fetch_source(f"{base}/data.csv", max_bytes=1000, timeout=5)
    assert all(address[0] == "127.0.0.1" for address in loopback_only)


def test_a_followed_redirect_is_recorded_under_the_url_it_led_to(raw_server):
    target = raw_server(_csv)
    start = raw_server(_redirect_to(f"{target}/real.csv"))
    content, source = fetch_source(f"{start}/data.csv", max_bytes=1000, timeout=5)
    assert content == CSV and source == f"{target}/real.csv"


def test_the_connected_peer_is_checked_before_the_request_is_sent(raw_server, monkeypatch):
    """A host name that resolves to an allowed address for the check and to a refused one for the connection
    (DNS rebinding): the connection's own peer is refused and no request reaches the server."""
    requests_seen = []

    def record(conn: socket.socket) -> None:
        requests_seen.append(1)
        _csv(conn)

    base = raw_server(record)
    checks = []

    def refuse_the_connected_peer(address: str) -> str | None:
        checks.append(address)
        return "a link-local address" if len(checks) > 1 else None

    monkeypatch.setattr(download_module, "refused_address", refuse_the_connected_peer)
    with pytest.raises(InvalidInput, match=r"connected to a link-local address \(127\.0\.0\.1\)"):
        fetch_source(f"{base}/data.csv", max_bytes=1000, timeout=5)
    time.sleep(0.2)
    assert requests_seen == []


def _slow_body(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nage,y\n")
    for _ in range(100):
        time.sleep(0.2)
        conn.sendall(b"1")


def _slow_headers(conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
        time.sleep(0.2)
        conn.sendall(bytes([byte]))


@pytest.mark.parametrize("handler", [_slow_body, _slow_headers], ids=["body", "headers"])
def test_one_deadline_covers_the_whole_download(raw_server, handler):
    base = raw_server(handler)
    started = time.monotonic()
    with pytest.raises(InvalidInput, match=r"within 2 s \(raise OPML_URL_TIMEOUT_SECONDS"):
        fetch_source(f"{base}/data.csv", max_bytes=10_000_000, timeout=2)
    assert time.monotonic() - started < 4


def test_a_body_longer_than_declared_stops_at_the_limit(raw_server):
    def endless(conn: socket.socket) -> None:  # no Content-Length: read until the server closes
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        for _ in range(200):
            conn.sendall(b"1,2\n" * 4096)

    base = raw_server(endless)
    with pytest.raises(InvalidInput, match=r"over the 0\.1 MB limit"):
        fetch_source(f"{base}/data.csv", max_bytes=100_000, timeout=10)


def test_a_declared_size_over_the_limit_is_refused_before_reading(raw_server):
    def huge(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\n")

    base = raw_server(huge)
    with pytest.raises(InvalidInput, match=r"5000\.0 MB, over the"):
        fetch_source(f"{base}/data.csv", max_bytes=1_000_000, timeout=5)


def test_too_many_redirects_are_refused(raw_server):
    base = raw_server(_redirect_to("/again"))
    with pytest.raises(InvalidInput, match="more than 5 redirects"):
        fetch_source(f"{base}/data.csv", max_bytes=1000, timeout=5)


def test_a_file_whose_size_lies_is_read_only_to_the_limit():
    # /proc files declare a size of 0 and hold more; reading counts what comes.
    assert os.stat("/proc/self/status").st_size == 0
    with pytest.raises(InvalidInput, match=r"over the 0\.0001 MB limit"):
        read_path("/proc/self/status", max_bytes=100)


def test_devices_and_pipes_are_not_files(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for path in ("/dev/zero", fifo):
        with pytest.raises(InvalidInput, match="not a file"):
            read_path(path, max_bytes=100)


def test_credentials_in_a_url_are_not_recorded(raw_server):
    base = raw_server(_csv)
    with_password = base.replace("http://", "http://ada:s3cret@")
    content, source = fetch_source(f"{with_password}/data.csv", max_bytes=1000, timeout=5)
    assert content == CSV and source == f"{base}/data.csv"


def test_a_path_with_a_nul_byte_is_a_clear_error():
    with pytest.raises(InvalidInput, match="not a valid file path"):
        read_path("/tmp/a\x00b", max_bytes=100)
