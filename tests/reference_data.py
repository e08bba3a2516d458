"""Where the tests find the Bank Marketing reference file, so that a fresh clone anywhere tests itself.

Looked up in order: ``$OPML_BANK_CSV``; ``../shared/data/bankmarketing_train.csv`` beside the repository
(the project's read-only material, a 26,230-row sample); a copy in the user's cache folder; a download of
the file Azure ML's AutoML samples publish (32,950 rows), checked against its pinned size, sha256 and row
count before it is kept. With no file and no network, one message says what to set.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

from tests.loopback_guard import allow_internet

REPO = Path(__file__).resolve().parent.parent
VARIABLE = "OPML_BANK_CSV"
SHARED = REPO.parent / "shared" / "data" / "bankmarketing_train.csv"
URL = "https://automlsamplenotebookdata.blob.core.windows.net/automl-sample-notebook-data/bankmarketing_train.csv"
# The published file: its size and sha256 as recorded by a public Git LFS pointer of the same file.
PUBLISHED_SIZE = 4_150_422
PUBLISHED_SHA256 = "4c16872d76296728dad73beeecb82f251a3070a132c721639ea8b5212a8c1589"
PUBLISHED_ROWS = 32_950


class ReferenceDataMissing(Exception):
    """No reference file could be found or fetched; the message says what to do."""


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "opml" / "bankmarketing_train.csv"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_published_copy(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size != PUBLISHED_SIZE or _sha256(path) != PUBLISHED_SHA256:
        return False
    return sum(1 for _ in path.open("rb")) - 1 == PUBLISHED_ROWS


def _download(target: Path, *, timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as handle:
        partial = Path(handle.name)
        try:
            with allow_internet(), urllib.request.urlopen(URL, timeout=timeout) as response:
                handle.write(response.read(PUBLISHED_SIZE + 1))
        except OSError:
            partial.unlink(missing_ok=True)
            raise
    if not _is_published_copy(partial):
        partial.unlink(missing_ok=True)
        raise ReferenceDataMissing(
            f"the file downloaded from {URL} is not the published one (size, sha256 or row count differ)"
        )
    partial.replace(target)


def bank_csv(*, timeout: float = 60.0) -> Path:
    """The reference file's path (see the module's docstring for the order). Raises ReferenceDataMissing."""
    given = os.environ.get(VARIABLE)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise ReferenceDataMissing(f"{VARIABLE}={given} is not a file")
        return path
    if SHARED.is_file():
        return SHARED
    cached = cache_path()
    if _is_published_copy(cached):
        return cached
    try:
        _download(cached, timeout=timeout)
    except OSError as exc:
        raise ReferenceDataMissing(
            f"the Bank Marketing reference file is not at {SHARED}, not in {cached}, and downloading it from "
            f"{URL} failed ({exc}). Set {VARIABLE}=/path/to/bankmarketing_train.csv (or connect to the Internet "
            "once: the copy is kept)."
        ) from None
    return cached


def rows_of(path: Path) -> int:
    """Data rows of a CSV file with a header line and no line breaks inside values (as this file is)."""
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1
