"""Fetch the bytes of a dataset from a URL, a local path or an upload, within a size limit."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from opml.errors import InvalidInput


def _too_big(size: int, max_bytes: int, *, at_least: bool = False) -> InvalidInput:
    """``at_least``: reading stopped at the limit, so ``size`` is only a lower bound."""
    size_text = "" if at_least else f"{size / 1e6:.1f} MB, "
    return InvalidInput(
        f"the file is {size_text}over the {max_bytes / 1e6:g} MB limit "
        "(raise OPML_MAX_DATASET_MB to allow larger files)"
    )


def without_credentials(url: str) -> str:
    """``url`` as it is recorded and shown: a ``user:password@`` part is left out."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.strip().lower().startswith(("http://", "https://"))


def fetch_url(url: str, *, max_bytes: int, timeout: float) -> tuple[bytes, str]:
    """The body of ``url`` and the URL it came from after redirects (see ``opml.data.download``)."""
    from opml.data.download import TooBig, download

    try:
        return download(url.strip(), max_bytes=max_bytes, timeout=timeout)
    except TooBig as exc:
        raise _too_big(exc.size, max_bytes, at_least=not exc.declared) from None


def read_path(path: str | os.PathLike, *, max_bytes: int) -> bytes:
    """Read a local file, refusing folders, devices, missing files and more than ``max_bytes`` (counted while
    reading: a growing file or a /proc file declares a size it does not have)."""
    file = Path(path).expanduser()
    try:
        mode = file.stat().st_mode
    except ValueError:  # an embedded NUL byte
        raise InvalidInput(f"not a valid file path: {str(path)[:200]!r}") from None
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {file}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise InvalidInput(f"not a file: {file}")
    try:
        with file.open("rb") as handle:
            content = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    if len(content) > max_bytes:
        raise _too_big(len(content), max_bytes, at_least=True)
    return content


def fetch_source(source: str | os.PathLike | bytes, *, max_bytes: int, timeout: float) -> tuple[bytes, str]:
    """The bytes of ``source`` and a label saying where they came from (for a URL: where it led)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        content = bytes(source)
        if len(content) > max_bytes:
            raise _too_big(len(content), max_bytes)
        return content, "upload"
    if is_url(source):
        content, url = fetch_url(str(source), max_bytes=max_bytes, timeout=timeout)
        return content, without_credentials(url)
    if isinstance(source, str) and "://" in source:
        raise InvalidInput(f"unsupported URL scheme in {source!r}: use http:// or https://, or a local path")
    if isinstance(source, str) and not source.strip():
        raise InvalidInput("give a URL, a file path or a file to upload")
    return read_path(source, max_bytes=max_bytes), str(Path(source).expanduser().resolve())
