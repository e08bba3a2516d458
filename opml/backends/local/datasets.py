"""Datasets of a local workspace: immutable, content-addressed snapshots with a stored profile."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opml.backends.base import DatasetSource
from opml.backends.local.layout import WorkspaceLayout, write_private_file
from opml.backends.local.store import Store, dumps, from_text, to_text, utcnow
from opml.data.sources import fetch_source
from opml.entities import Dataset, DatasetProfile
from opml.errors import NotFound
from opml.settings import get_settings

if TYPE_CHECKING:
    import pandas as pd

SNAPSHOT_NAME = "data.csv"


def _to_dataset(row: sqlite3.Row) -> Dataset:
    return Dataset(
        name=row["name"],
        version=row["version"],
        description=row["description"],
        tags=json.loads(row["tags"]),
        sha256=row["sha256"],
        rows=row["rows"],
        columns=tuple(json.loads(row["columns"])),
        source=row["source"],
        size_bytes=row["size_bytes"],
        created_at=from_text(row["created_at"]),
        delimiter=row["delimiter"],
        decimal=row["decimal"],
    )


class DatasetRepository:
    def __init__(self, store: Store, layout: WorkspaceLayout):
        self._store = store
        self._layout = layout

    def register(
        self,
        *,
        name: str,
        source: DatasetSource,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        filename: str | None = None,
        lineage: str | None = None,
    ) -> Dataset:
        settings = get_settings()
        content, origin = fetch_source(
            source, max_bytes=settings.max_dataset_mb * 1_000_000, timeout=settings.url_timeout_seconds
        )
        if origin == "upload":
            origin = lineage or f"upload:{filename or 'file'}"
        sha256 = hashlib.sha256(content).hexdigest()
        existing = self._store.query_one("SELECT * FROM datasets WHERE name = ? AND sha256 = ?", (name, sha256))
        if existing is not None:
            return _to_dataset(existing)
        from opml.data.csv_format import parse_csv  # pandas is imported only when data is read
        from opml.data.profile import profile_frame

        frame, fmt = parse_csv(content)
        profile = profile_frame(frame)
        # The snapshot is written before the row: a crash in between leaves an unreferenced
        # file (harmless, reused by the next registration of the same bytes), never a row without data.
        snapshot = self._layout.dataset_dir(sha256) / SNAPSHOT_NAME
        if not snapshot.exists():
            write_private_file(snapshot, content)
        with self._store.transaction() as connection:
            again = connection.execute(
                "SELECT * FROM datasets WHERE name = ? AND sha256 = ?", (name, sha256)
            ).fetchone()
            if again is not None:
                return _to_dataset(again)
            version = connection.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM datasets WHERE name = ?", (name,)
            ).fetchone()[0]
            connection.execute(
                """INSERT INTO datasets (name, version, description, tags, sha256, rows, columns, source,
                   size_bytes, delimiter, decimal, profile, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    name,
                    version,
                    description.strip(),
                    dumps(tags),
                    sha256,
                    len(frame),
                    json.dumps([str(column) for column in frame.columns]),
                    origin,
                    len(content),
                    fmt.delimiter,
                    fmt.decimal,
                    json.dumps(dataclasses.asdict(profile)),
                    to_text(utcnow()),
                ),
            )
        return self.get(name, version)

    def list_latest(self) -> list[Dataset]:
        rows = self._store.query(
            """SELECT d.* FROM datasets d
               JOIN (SELECT name, MAX(version) AS version FROM datasets GROUP BY name) latest
               USING (name, version) ORDER BY d.created_at DESC"""
        )
        return [_to_dataset(row) for row in rows]

    def list_versions(self, name: str) -> list[Dataset]:
        rows = self._store.query("SELECT * FROM datasets WHERE name = ? ORDER BY version DESC", (name,))
        if not rows:
            raise NotFound(f"no dataset named {name!r}")
        return [_to_dataset(row) for row in rows]

    def _row(self, name: str, version: int | None) -> sqlite3.Row:
        if version is None:
            row = self._store.query_one("SELECT * FROM datasets WHERE name = ? ORDER BY version DESC LIMIT 1", (name,))
        else:
            row = self._store.query_one("SELECT * FROM datasets WHERE name = ? AND version = ?", (name, int(version)))
        if row is None:
            raise NotFound(f"no dataset {name!r}" + (f" version {version}" if version is not None else ""))
        return row

    def get(self, name: str, version: int | None = None) -> Dataset:
        return _to_dataset(self._row(name, version))

    def profile(self, name: str, version: int | None = None) -> DatasetProfile:
        return DatasetProfile.from_dict(json.loads(self._row(name, version)["profile"]))

    def load(self, name: str, version: int | None = None, *, nrows: int | None = None) -> pd.DataFrame:
        from opml.data.csv_format import CsvFormat, read_frame

        dataset = self.get(name, version)
        snapshot = self._layout.dataset_dir(dataset.sha256) / SNAPSHOT_NAME
        if not snapshot.exists():
            raise NotFound(f"the data file of dataset {dataset.id} is missing from the workspace ({snapshot})")
        return read_frame(
            snapshot.read_bytes(), CsvFormat(delimiter=dataset.delimiter, decimal=dataset.decimal), nrows=nrows
        )

    def count(self) -> int:
        return self._store.query_one("SELECT COUNT(DISTINCT name) FROM datasets")[0]
