"""The model registry of a local workspace: versioned copies of model folders, verified on load."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opml.backends.local.layout import WorkspaceLayout
from opml.backends.local.store import Store, dumps, from_text, to_text, utcnow
from opml.entities import AliasChange, Model
from opml.errors import Conflict, NotFound
from opml.files import write_private_folder
from opml.models.artifact import MANIFEST_FILE, MODEL_FILE, load_model, read_manifest, sha256_of

# Every model row comes with the aliases that point at it.
_SELECT = """SELECT m.*, (SELECT group_concat(a.alias, ',') FROM model_aliases a
              WHERE a.name = m.name AND a.version = m.version) AS alias_list FROM models m"""


def _to_model(row: sqlite3.Row) -> Model:
    return Model(
        name=row["name"],
        version=row["version"],
        description=row["description"],
        tags=json.loads(row["tags"]),
        run_id=row["run_id"],
        algorithm=row["algorithm"],
        dataset=row["dataset"],
        primary_metric=row["primary_metric"],
        metrics=json.loads(row["metrics"]),
        sha256=row["sha256"],
        size_bytes=row["size_bytes"],
        created_at=from_text(row["created_at"]),
        manifest=json.loads(row["manifest"]),
        aliases=tuple(sorted(row["alias_list"].split(","))) if row["alias_list"] else (),
    )


class ModelRepository:
    def __init__(self, store: Store, layout: WorkspaceLayout):
        self._store = store
        self._layout = layout

    def register(
        self,
        *,
        name: str,
        source: Path,
        run_id: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> Model:
        """Copy the model folder ``source`` (model.pkl + manifest.json) in as the next version of ``name``;
        a file identical to an existing version's returns that version instead."""
        manifest = read_manifest(source)
        sha256 = sha256_of(source / MODEL_FILE)
        if sha256 != manifest["sha256"]:
            raise Conflict(f"the model file in {source} does not match its manifest; it cannot be registered")
        with self._store.transaction() as connection:
            same = connection.execute(
                "SELECT version FROM models WHERE name = ? AND sha256 = ? ORDER BY version LIMIT 1", (name, sha256)
            ).fetchone()
            if same is not None:  # identical content: nothing new to register
                return self.get(name, same["version"])
            version = connection.execute(
                # Never a number an alias once pointed at: its history would name another model.
                """SELECT COALESCE(MAX(v), 0) + 1 FROM (
                     SELECT version AS v FROM models WHERE name = ?
                     UNION ALL SELECT version FROM model_alias_history WHERE name = ?
                     UNION ALL SELECT previous_version FROM model_alias_history WHERE name = ?)""",
                (name, name, name),
            ).fetchone()[0]
            write_private_folder(
                self._layout.model_dir(name, version), {file: source / file for file in (MODEL_FILE, MANIFEST_FILE)}
            )
            connection.execute(
                """INSERT INTO models (name, version, description, tags, run_id, algorithm, dataset,
                   primary_metric, metrics, sha256, size_bytes, manifest, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    name,
                    version,
                    str(description or "").strip(),
                    dumps(tags),
                    run_id,
                    manifest["algorithm"],
                    manifest["dataset"],
                    manifest["primary_metric"],
                    dumps(manifest["metrics"]),
                    sha256,
                    manifest["size_bytes"],
                    json.dumps(manifest),
                    to_text(utcnow()),
                ),
            )
        return self.get(name, version)

    def list(self, name: str | None = None) -> list[Model]:
        if name is None:
            rows = self._store.query(f"{_SELECT} ORDER BY m.created_at DESC, m.name, m.version DESC")
        else:
            rows = self._store.query(f"{_SELECT} WHERE m.name = ? ORDER BY m.version DESC", (name,))
        return [_to_model(row) for row in rows]

    def get(self, name: str, version: int | None = None) -> Model:
        if version is None:
            row = self._store.query_one(f"{_SELECT} WHERE m.name = ? ORDER BY m.version DESC LIMIT 1", (name,))
        else:
            row = self._store.query_one(f"{_SELECT} WHERE m.name = ? AND m.version = ?", (name, int(version)))
        if row is None:
            raise NotFound(f"no model {name!r}" + (f" version {version}" if version is not None else ""))
        return _to_model(row)

    def path(self, name: str, version: int | None = None) -> Path:
        model = self.get(name, version)
        return self._layout.model_dir(model.name, model.version) / MODEL_FILE

    def load(self, name: str, version: int | None = None) -> Any:
        model = self.get(name, version)
        return load_model(self._layout.model_dir(model.name, model.version) / MODEL_FILE, model.sha256)

    def delete(self, name: str, version: int, *, in_use_by: list[str]) -> None:
        model = self.get(name, version)
        if in_use_by:
            raise Conflict(f"model {model.id} is used by service(s) {', '.join(in_use_by)}; delete them first")
        with self._store.transaction() as connection:
            held = connection.execute(
                "SELECT alias FROM model_aliases WHERE name = ? AND version = ? ORDER BY alias", (name, version)
            ).fetchall()
            if held:  # an alias moved here since the caller looked: checked again in this transaction
                aliases = ", ".join(row["alias"] for row in held)
                raise Conflict(f"model {model.id} holds alias(es) {aliases}: move or remove them first")
            connection.execute("DELETE FROM models WHERE name = ? AND version = ?", (name, version))
        shutil.rmtree(self._layout.model_dir(name, version), ignore_errors=True)

    def count(self) -> int:
        return self._store.query_one("SELECT COUNT(DISTINCT name) FROM models")[0]

    def count_versions(self) -> int:
        return self._store.query_one("SELECT COUNT(*) FROM models")[0]

    # -- aliases -----------------------------------------------------------------------

    def aliases(self, name: str) -> dict[str, int]:
        rows = self._store.query("SELECT alias, version FROM model_aliases WHERE name = ?", (name,))
        return {row["alias"]: row["version"] for row in rows}

    def move_alias(self, name: str, alias: str, version: int | None, actor: str) -> None:
        with self._store.transaction() as connection:
            exists = connection.execute("SELECT 1 FROM models WHERE name = ? AND version = ?", (name, version))
            if version is not None and exists.fetchone() is None:  # deleted meanwhile: checked in this transaction
                raise NotFound(f"no model {name!r} version {version}")
            row = connection.execute(
                "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", (name, alias)
            ).fetchone()
            previous = row["version"] if row else None
            if previous == version:
                return  # nothing moves, nothing to record
            if version is None:
                connection.execute("DELETE FROM model_aliases WHERE name = ? AND alias = ?", (name, alias))
            else:
                connection.execute(
                    "INSERT OR REPLACE INTO model_aliases (name, alias, version) VALUES (?, ?, ?)",
                    (name, alias, version),
                )
            connection.execute(
                """INSERT INTO model_alias_history (name, alias, version, previous_version, actor, at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (name, alias, version, previous, actor, to_text(utcnow())),
            )

    def alias_history(self, name: str) -> list[AliasChange]:
        rows = self._store.query(
            "SELECT * FROM model_alias_history WHERE name = ? ORDER BY at DESC, rowid DESC", (name,)
        )
        return [
            AliasChange(
                model=row["name"],
                alias=row["alias"],
                version=row["version"],
                previous_version=row["previous_version"],
                actor=row["actor"],
                at=from_text(row["at"]),
            )
            for row in rows
        ]
