"""Fetch the bytes of a dataset from a URL, a local path or an upload, within a size limit."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import requests

from opml.errors import InvalidInput

_CHUNK = 1 << 16


def _too_big(size: int, max_bytes: int) -> InvalidInput:
    return InvalidInput(
        f"the file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit "
        "(raise OPML_MAX_DATASET_MB to allow larger files)"
    )


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.strip().lower().startswith(("http://", "https://"))


def fetch_url(url: str, *, max_bytes: int, timeout: float) -> bytes:
    """GET ``url`` and return its body, refusing more than ``max_bytes``."""
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(f"not an http(s) URL: {url!r}")
    try:
        with requests.get(url, stream=True, timeout=timeout, allow_redirects=True) as response:
            if response.status_code >= 400:
                raise InvalidInput(
                    f"{parsed.netloc} answered HTTP {response.status_code} {response.reason or ''}".rstrip()
                    + f" for {url}; check the URL"
                )
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise _too_big(int(declared), max_bytes)
            body = bytearray()
            for chunk in response.iter_content(_CHUNK):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise _too_big(len(body), max_bytes)
            return bytes(body)
    except requests.exceptions.Timeout:
        raise InvalidInput(f"{parsed.netloc} did not answer within {timeout:.0f} s ({url})") from None
    except requests.exceptions.RequestException as exc:
        reason = type(exc).__name__
        raise InvalidInput(f"could not download {url}: cannot reach {parsed.netloc} ({reason})") from None


def read_path(path: str | os.PathLike, *, max_bytes: int) -> bytes:
    """Read a local file, refusing folders, missing files and files over ``max_bytes``."""
    file = Path(path).expanduser()
    if not file.exists():
        raise InvalidInput(f"no such file: {file}")
    if not file.is_file():
        raise InvalidInput(f"not a file: {file}")
    size = file.stat().st_size
    if size > max_bytes:
        raise _too_big(size, max_bytes)
    try:
        return file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None


def fetch_source(source: str | os.PathLike | bytes, *, max_bytes: int, timeout: float) -> tuple[bytes, str]:
    """The bytes of ``source`` and a label saying where they came from."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        content = bytes(source)
        if len(content) > max_bytes:
            raise _too_big(len(content), max_bytes)
        return content, "upload"
    if is_url(source):
        return fetch_url(str(source), max_bytes=max_bytes, timeout=timeout), str(source).strip()
    if isinstance(source, str) and "://" in source:
        raise InvalidInput(f"unsupported URL scheme in {source!r}: use http:// or https://, or a local path")
    if isinstance(source, str) and not source.strip():
        raise InvalidInput("give a URL, a file path or a file to upload")
    return read_path(source, max_bytes=max_bytes), str(Path(source).expanduser().resolve())
