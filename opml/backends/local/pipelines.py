"""Pipelines and published pipelines of a local workspace."""

from __future__ import annotations

import json
import sqlite3
import uuid

from opml.backends.local.store import Store, dumps, from_text, to_text, utcnow
from opml.entities import ACTIVE, DISABLED, Pipeline, PublishedPipeline
from opml.errors import NotFound

SUBMIT_PATH = "/pipelines/v1.0/PipelineRuns/PipelineSubmit/"


def _to_pipeline(row: sqlite3.Row) -> Pipeline:
    return Pipeline(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        steps=json.loads(row["steps"]),
        parameters=json.loads(row["parameters"]),
        created_at=from_text(row["created_at"]),
        compute=row["compute"],
    )


def _to_published(row: sqlite3.Row) -> PublishedPipeline:
    return PublishedPipeline(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        version=row["version"],
        pipeline_id=row["pipeline_id"],
        status=row["status"],
        endpoint=row["endpoint"],
        created_at=from_text(row["created_at"]),
    )


class PipelineRepository:
    def __init__(self, store: Store):
        self._store = store

    def create(self, *, name: str, steps: list, parameters: dict, compute: str, description: str = "") -> Pipeline:
        pipeline_id = str(uuid.uuid4())
        with self._store.transaction() as connection:
            if not connection.execute("SELECT 1 FROM computes WHERE name = ?", (compute,)).fetchone():
                raise NotFound(f"no compute named {compute!r}")
            connection.execute(
                """INSERT INTO pipelines (id, name, description, steps, parameters, compute, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (pipeline_id, name, description or "", dumps(steps), dumps(parameters), compute, to_text(utcnow())),
            )
        return self.get(pipeline_id)

    def get(self, pipeline_id: str) -> Pipeline:
        row = self._store.query_one("SELECT * FROM pipelines WHERE id = ?", (pipeline_id,))
        if row is None:
            raise NotFound(f"no pipeline with id {pipeline_id!r}")
        return _to_pipeline(row)

    def list(self) -> list[Pipeline]:
        return [_to_pipeline(row) for row in self._store.query("SELECT * FROM pipelines ORDER BY created_at DESC")]

    def publish(
        self, *, pipeline_id: str, name: str, description: str, version: str, base_url: str
    ) -> PublishedPipeline:
        published_id = str(uuid.uuid4())
        self._store.execute(
            """INSERT INTO published_pipelines
               (id, name, description, version, pipeline_id, status, endpoint, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                published_id,
                name,
                description or "",
                version.strip(),
                pipeline_id,
                ACTIVE,
                f"{base_url.rstrip('/')}{SUBMIT_PATH}{published_id}",
                to_text(utcnow()),
            ),
        )
        return self.get_published(published_id)

    def get_published(self, published_id: str) -> PublishedPipeline:
        row = self._store.query_one("SELECT * FROM published_pipelines WHERE id = ?", (published_id,))
        if row is None:
            raise NotFound(f"no published pipeline with id {published_id!r}")
        return _to_published(row)

    def list_published(self) -> list[PublishedPipeline]:
        rows = self._store.query("SELECT * FROM published_pipelines ORDER BY created_at DESC")
        return [_to_published(row) for row in rows]

    def set_status(self, published_id: str, enabled: bool) -> PublishedPipeline:
        self.get_published(published_id)
        self._store.execute(
            "UPDATE published_pipelines SET status = ? WHERE id = ?", (ACTIVE if enabled else DISABLED, published_id)
        )
        return self.get_published(published_id)

    def count(self) -> int:
        return self._store.query_one("SELECT COUNT(*) FROM pipelines")[0]
