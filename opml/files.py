"""Owner-only folders and atomically written owner-only files."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

from opml.errors import BackendUnavailable

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
FULL_DISK_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


class StorageFull(BackendUnavailable):
    """The workspace's disk (or the process's file-size limit) is full: nothing was written."""


def make_private_dir(folder: Path) -> Path:
    """``folder`` and every missing parent, owner-only (``mkdir -p`` would give the parents the umask's mode)."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            path.mkdir(mode=PRIVATE_DIR)
        os.chmod(path, PRIVATE_DIR)
    os.chmod(folder, PRIVATE_DIR)
    return folder


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` atomically with owner-only permissions: to a temporary file of a unique name in the same
    folder (two writers never share one), then renamed over ``path``."""
    make_private_dir(path.parent)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(temp_name)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.errno in FULL_DISK_ERRORS:
            raise StorageFull(
                f"no space left to write {path.name} in the workspace ({exc.strerror}); free some space and try again"
            ) from None
        raise
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_private_folder(folder: Path, files: dict[str, Path]) -> None:
    """Copy ``files`` (name -> source) into ``folder`` as a whole: they are written owner-only into a temporary
    folder beside it, which is then renamed, so ``folder`` never holds some of them without the others. A
    ``folder`` left by an earlier attempt that did not complete is replaced."""
    make_private_dir(folder.parent)
    temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        os.chmod(temp, PRIVATE_DIR)
        for name, source in files.items():
            write_private_file(temp / name, source.read_bytes())
        if folder.exists():
            shutil.rmtree(folder)
        os.rename(temp, folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def tail_lines(path: Path, count: int, *, block: int = 1 << 16) -> list[str]:
    """The last ``count`` lines of a text file, read from its end (a large log is not loaded whole)."""
    if count <= 0 or not path.exists():
        return []
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        position, data = handle.tell(), b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(block, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    return data.decode("utf-8", errors="replace").splitlines()[-count:]


def rotate_log(path: Path, max_bytes: int) -> bool:
    """When ``path`` is over ``max_bytes``: copy it to ``path.1`` (replacing the previous one) and empty it.
    The writing process keeps its descriptor (opened with O_APPEND, so it writes at the new end); lines
    written between the copy and the truncation are lost, as with logrotate's copytruncate."""
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    rotated = path.with_name(path.name + ".1")
    shutil.copyfile(path, rotated)
    os.chmod(rotated, PRIVATE_FILE)
    os.truncate(path, 0)
    return True
