"""Where things live inside a local workspace folder, created with owner-only permissions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opml.errors import InvalidInput
from opml.files import PRIVATE_DIR, PRIVATE_FILE, make_private_dir, write_private_file

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "WorkspaceLayout", "make_private_dir", "write_private_file"]


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

    def run_outputs(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "outputs"

    def service_dir(self, name: str) -> Path:
        return self.artifacts / "services" / name

    def service_runtime(self, name: str) -> Path:
        """Keys and switches a running scoring process re-reads when they change (owner-only)."""
        return self.service_dir(name) / "runtime.json"

    def service_telemetry_status(self, name: str) -> Path:
        """What the service's telemetry writer reports: requests dropped, App Insights export state."""
        return self.service_dir(name) / "telemetry.json"

    def service_collection_status(self, name: str, writer: str | None = None) -> Path:
        """What a data collection writer of the service reports: records written and dropped, the last error
        (one file per ``writer``, a deployment's; ``collection.json`` was the one writer of older services)."""
        return self.service_dir(name) / (f"collection.{writer}.json" if writer else "collection.json")

    def service_deployments_status(self, name: str) -> Path:
        """What the service's scoring process reports per deployment: loaded, loading or failed (and why)."""
        return self.service_dir(name) / "deployments.json"

    def service_log(self, name: str) -> Path:
        return self.logs / "services" / f"{name}.log"

    def model_dir(self, name: str, version: int) -> Path:
        return self.artifacts / "models" / name / str(version)

    def create(self) -> None:
        """Create the folders (idempotent); every folder is owner-only."""
        if self.root.exists() and not self.root.is_dir():
            raise InvalidInput(f"workspace path {self.root} exists and is not a folder")
        for folder in (
            self.root,
            self.artifacts,
            self.logs,
            *(self.artifacts / kind for kind in ("datasets", "runs", "models", "services")),
            self.logs / "services",
        ):
            make_private_dir(folder)
