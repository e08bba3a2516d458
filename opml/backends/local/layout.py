"""Where things live inside a local workspace folder, created with owner-only permissions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from opml.errors import InvalidInput

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class WorkspaceLayout:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "opml.db"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def agent_lock(self) -> Path:
        return self.root / "agent.lock"

    @property
    def agent_log(self) -> Path:
        return self.logs / "agent.log"

    def dataset_dir(self, sha256: str) -> Path:
        return self.artifacts / "datasets" / sha256

    def run_dir(self, run_id: str) -> Path:
        return self.artifacts / "runs" / run_id

    def run_log(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "run.log"

    def create(self) -> None:
        """Create the folders (idempotent); every folder is owner-only."""
        if self.root.exists() and not self.root.is_dir():
            raise InvalidInput(f"workspace path {self.root} exists and is not a folder")
        for folder in (self.root, self.artifacts, self.logs, self.artifacts / "datasets", self.artifacts / "runs"):
            make_private_dir(folder)


def make_private_dir(folder: Path) -> Path:
    folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(folder, PRIVATE_DIR)
    return folder


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` atomically (temp file + rename) with owner-only permissions."""
    make_private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
