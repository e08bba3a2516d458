"""What opml keeps about an Azure workspace that Azure itself does not: pipeline definitions
(Azure has no draft pipelines in SDK v1), which draft a published pipeline came from, schedules'
experiments, dataset profiles and columns, model aliases, and opml's audit trail. One owner-only JSON file
per kind (the audit trail: JSON lines, appended)."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opml.audit import AuditEvent
from opml.entities import AliasChange, DatasetProfile, Pipeline
from opml.errors import NotFound
from opml.files import PRIVATE_FILE, make_private_dir, write_private_file

_lock = threading.Lock()


class AzureState:
    def __init__(self, folder: Path):
        self.folder = make_private_dir(Path(folder))

    def _read(self, kind: str) -> dict[str, Any]:
        path = self.folder / f"{kind}.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _update(self, kind: str, key: str, value: dict[str, Any]) -> None:
        with _lock:
            data = self._read(kind)
            data[key] = {**data.get(key, {}), **value}
            write_private_file(self.folder / f"{kind}.json", json.dumps(data, indent=1, default=str).encode())

    # -- pipelines -----------------------------------------------------------------

    def save_pipeline(self, pipeline: Pipeline) -> None:
        self._update("pipelines", pipeline.id, {**dataclasses.asdict(pipeline), "created_at": pipeline.created_at})

    def pipelines(self) -> list[Pipeline]:
        return [self._to_pipeline(item) for item in self._read("pipelines").values()]

    def pipeline(self, pipeline_id: str) -> Pipeline:
        item = self._read("pipelines").get(pipeline_id) if isinstance(pipeline_id, str) else None
        if item is None:
            raise NotFound(f"no pipeline {pipeline_id}")
        return self._to_pipeline(item)

    @staticmethod
    def _to_pipeline(item: dict[str, Any]) -> Pipeline:
        from opml.backends.azure_common.times import parse_time

        return Pipeline(**{**item, "created_at": parse_time(item["created_at"])})

    def save_published(
        self, published_id: str, *, pipeline_id: str, created_at: Any, parameters: dict[str, Any]
    ) -> None:
        """The draft a published pipeline came from, and the parameter values it was published with."""
        record = {"pipeline_id": pipeline_id, "created_at": str(created_at), "parameters": parameters}
        self._update("published", published_id, record)

    def published(self, published_id: str) -> dict[str, Any]:
        return self._read("published").get(published_id, {})

    # -- model aliases -------------------------------------------------------------

    def model_aliases(self, name: str) -> dict[str, int]:
        return dict(self._read("aliases").get(name, {}).get("current", {}))

    def move_model_alias(self, name: str, alias: str, version: int | None, actor: str) -> None:
        with _lock:
            data = self._read("aliases")
            record = data.setdefault(name, {"current": {}, "history": []})
            previous = record["current"].get(alias)
            if previous == version:
                return
            if version is None:
                record["current"].pop(alias, None)
            else:
                record["current"][alias] = int(version)
            record["history"].append(
                {
                    "alias": alias,
                    "version": version,
                    "previous_version": previous,
                    "actor": actor,
                    "at": datetime.now(UTC).isoformat(),
                }
            )
            write_private_file(self.folder / "aliases.json", json.dumps(data, indent=1).encode())

    def alias_history(self, name: str) -> list[AliasChange]:
        history = self._read("aliases").get(name, {}).get("history", [])
        return [
            AliasChange(model=name, **{**item, "at": datetime.fromisoformat(item["at"])}) for item in reversed(history)
        ]

    # -- audit trail ---------------------------------------------------------------

    def record_audit_event(self, actor: str, action: str, target: str) -> AuditEvent:
        """Append one line to ``audit.jsonl`` (0600): one ``write`` in append mode, so lines of several
        processes never interleave."""
        event = AuditEvent(at=datetime.now(UTC), actor=actor, action=action, target=target)
        line = json.dumps({"at": event.at.isoformat(), "actor": actor, "action": action, "target": target}) + "\n"
        fd = os.open(self.folder / "audit.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return event

    def audit_events(self, limit: int) -> list[AuditEvent]:
        path = self.folder / "audit.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        events = []
        for line in reversed(lines):
            if len(events) == limit:
                break
            item = json.loads(line)
            events.append(AuditEvent(**{**item, "at": datetime.fromisoformat(item["at"])}))
        return events

    # -- runs of published pipelines (SDK v2): a batch endpoint starts the job; Azure refuses to tag it after ----

    def save_triggered_run(self, job_name: str, **values: Any) -> None:
        self._update("triggered_runs", job_name, values)

    def triggered_runs(self) -> dict[str, dict[str, Any]]:
        """Job name -> what opml knows of a run it started through a published pipeline's endpoint."""
        return self._read("triggered_runs")

    # -- schedules -----------------------------------------------------------------

    def save_schedule(self, schedule_id: str, **values: Any) -> None:
        self._update("schedules", schedule_id, values)

    def schedule(self, schedule_id: str) -> dict[str, Any]:
        return self._read("schedules").get(schedule_id, {})

    # -- endpoints (SDK v2): what Azure does not keep, e.g. the split before the last change ----------

    def save_endpoint(self, name: str, **values: Any) -> None:
        self._update("endpoints", name, values)

    def endpoint(self, name: str) -> dict[str, Any]:
        return self._read("endpoints").get(name, {})

    # -- datasets ------------------------------------------------------------------

    def save_dataset_meta(self, name: str, version: int, meta: dict[str, Any]) -> None:
        self._update("datasets", f"{name}:{version}", meta)

    def dataset_meta(self, name: str, version: int) -> dict[str, Any]:
        return self._read("datasets").get(f"{name}:{version}", {})

    def save_profile(self, name: str, version: int, profile: DatasetProfile) -> None:
        self._update("profiles", f"{name}:{version}", dataclasses.asdict(profile))

    def profile(self, name: str, version: int) -> DatasetProfile | None:
        item = self._read("profiles").get(f"{name}:{version}")
        return None if item is None else DatasetProfile.from_dict(item)

    # -- models (SDK v2): versions opml deleted (archived: SDK v2 cannot delete a model version) ----------

    def mark_model_deleted(self, name: str, version: int) -> None:
        self._update("deleted_models", f"{name}:{version}", {"at": datetime.now(UTC).isoformat()})

    def model_deleted(self, name: str, version: int | str) -> bool:
        return f"{name}:{version}" in self._read("deleted_models")
