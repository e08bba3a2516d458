"""The SQLite store of a local workspace: WAL mode, busy timeout, versioned schema.

Several processes share one database (dashboard, agent, run processes, scoring
services). Writers take the lock up front (``BEGIN IMMEDIATE``) so a
read-then-write transaction cannot fail half way with SQLITE_BUSY. Readers never
take it (WAL): opening a workspace and reading it go on while another process
writes; a writer that waits longer than the busy timeout gets ``StoreBusy`` (a
message, not a traceback), and a transaction whose COMMIT fails is rolled back.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opml.backends.local.layout import PRIVATE_FILE
from opml.errors import BackendUnavailable
from opml.files import StorageFull

BUSY_TIMEOUT_MS = 15_000

# Each entry is one schema version: the statements that take the previous version to it.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE datasets (
            name TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL, tags TEXT NOT NULL,
            sha256 TEXT NOT NULL, rows INTEGER NOT NULL, columns TEXT NOT NULL, source TEXT NOT NULL,
            size_bytes INTEGER NOT NULL, delimiter TEXT NOT NULL, decimal TEXT NOT NULL,
            profile TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (name, version))""",
        "CREATE UNIQUE INDEX datasets_by_hash ON datasets (name, sha256)",
        """CREATE TABLE computes (
            name TEXT PRIMARY KEY, max_nodes INTEGER NOT NULL, created_at TEXT NOT NULL)""",
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY, experiment TEXT NOT NULL, run_type TEXT NOT NULL, status TEXT NOT NULL,
            compute TEXT NOT NULL, parent_id TEXT REFERENCES runs (id), params TEXT NOT NULL,
            tags TEXT NOT NULL, display_name TEXT NOT NULL, progress TEXT NOT NULL, error TEXT,
            pid INTEGER, pid_started REAL, created_at TEXT NOT NULL, started_at TEXT, ended_at TEXT)""",
        "CREATE INDEX runs_by_status ON runs (status)",
        "CREATE INDEX runs_by_parent ON runs (parent_id)",
        "CREATE INDEX runs_by_experiment ON runs (experiment, created_at)",
        """CREATE TABLE metrics (
            run_id TEXT NOT NULL REFERENCES runs (id), name TEXT NOT NULL, value REAL,
            step INTEGER NOT NULL, logged_at TEXT NOT NULL)""",
        "CREATE INDEX metrics_by_run ON metrics (run_id, name)",
        """CREATE TABLE agent (
            id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, started_at TEXT, heartbeat_at TEXT)""",
    ],
    [
        """CREATE TABLE models (
            name TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL, tags TEXT NOT NULL,
            run_id TEXT NOT NULL, algorithm TEXT NOT NULL, dataset TEXT NOT NULL, primary_metric TEXT NOT NULL,
            metrics TEXT NOT NULL, sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL, manifest TEXT NOT NULL,
            created_at TEXT NOT NULL, PRIMARY KEY (name, version))""",
    ],
    [
        """CREATE TABLE services (
            name TEXT PRIMARY KEY, model_name TEXT NOT NULL, model_version INTEGER NOT NULL,
            description TEXT NOT NULL, auth_enabled INTEGER NOT NULL, app_insights INTEGER NOT NULL,
            host TEXT NOT NULL, port INTEGER NOT NULL, desired TEXT NOT NULL, state TEXT NOT NULL, error TEXT,
            restarts INTEGER NOT NULL DEFAULT 0, pid INTEGER, pid_started REAL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        """CREATE TABLE telemetry (
            service TEXT NOT NULL, at REAL NOT NULL, request_id TEXT NOT NULL, status INTEGER NOT NULL,
            latency_ms REAL NOT NULL, records INTEGER NOT NULL, predictions TEXT NOT NULL, error TEXT,
            client TEXT)""",
        "CREATE INDEX telemetry_by_service ON telemetry (service, at)",
    ],
    [
        """CREATE TABLE pipelines (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, steps TEXT NOT NULL,
            parameters TEXT NOT NULL, compute TEXT NOT NULL, created_at TEXT NOT NULL)""",
        """CREATE TABLE published_pipelines (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, version TEXT NOT NULL,
            pipeline_id TEXT NOT NULL REFERENCES pipelines (id), status TEXT NOT NULL, endpoint TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE tokens (
            name TEXT PRIMARY KEY, hash TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)""",
    ],
    [
        """CREATE TABLE schedules (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, published_id TEXT NOT NULL REFERENCES published_pipelines (id),
            experiment TEXT NOT NULL, interval_seconds REAL, cron TEXT, parameters TEXT NOT NULL,
            allow_overlap INTEGER NOT NULL, status TEXT NOT NULL, next_run_at REAL, last_run_id TEXT,
            created_at TEXT NOT NULL)""",
    ],
    [
        """CREATE TABLE model_aliases (
            name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (name, alias))""",
        """CREATE TABLE model_alias_history (
            name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER, previous_version INTEGER,
            actor TEXT NOT NULL, at TEXT NOT NULL)""",
        "CREATE INDEX model_alias_history_by_name ON model_alias_history (name, at)",
    ],
    [
        """CREATE TABLE audit_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            target TEXT NOT NULL)""",
    ],
    [
        """CREATE TABLE service_labels (
            service TEXT NOT NULL, request_id TEXT NOT NULL, record INTEGER NOT NULL, label TEXT NOT NULL,
            at REAL NOT NULL, PRIMARY KEY (service, request_id, record))""",
        "CREATE INDEX service_labels_by_time ON service_labels (service, at)",
    ],
    [  # alerts on services; a service's not-Healthy time (since when it has not been Healthy, epoch seconds)
        "ALTER TABLE services ADD COLUMN not_healthy_since REAL",
        """UPDATE services SET not_healthy_since = (julianday(updated_at) - 2440587.5) * 86400.0
           WHERE state != 'Healthy'""",
        """CREATE TABLE alert_rules (
            id TEXT PRIMARY KEY, service TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
            threshold REAL NOT NULL, window_minutes REAL NOT NULL, for_minutes REAL NOT NULL,
            enabled INTEGER NOT NULL, webhook_url TEXT, pipeline TEXT, pipeline_parameters TEXT NOT NULL,
            experiment TEXT, note TEXT NOT NULL DEFAULT '', evaluated_at REAL, pending_since REAL,
            created_at TEXT NOT NULL)""",
        "CREATE INDEX alert_rules_by_service ON alert_rules (service)",
        """CREATE TABLE alerts (
            id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, rule_name TEXT NOT NULL, service TEXT NOT NULL,
            kind TEXT NOT NULL, state TEXT NOT NULL, value REAL NOT NULL, threshold REAL NOT NULL,
            message TEXT NOT NULL, fired_at REAL NOT NULL, resolved_at REAL, webhook_status TEXT, run_id TEXT)""",
        "CREATE INDEX alerts_by_service ON alerts (service, fired_at)",
        "CREATE INDEX alerts_by_time ON alerts (fired_at)",
        # one firing alert per rule, whoever evaluates it
        "CREATE UNIQUE INDEX alerts_one_firing ON alerts (rule_id) WHERE state = 'Firing'",
    ],
    [  # safe rollout: deployments behind an endpoint; which deployment answered a request (or mirrored it)
        """CREATE TABLE deployments (
            service TEXT NOT NULL, name TEXT NOT NULL, model_name TEXT NOT NULL, model_version INTEGER NOT NULL,
            traffic INTEGER NOT NULL, mirror INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
            PRIMARY KEY (service, name))""",
        """INSERT INTO deployments (service, name, model_name, model_version, traffic, mirror, created_at)
           SELECT name, 'blue', model_name, model_version, 100, 0, created_at FROM services""",
        "ALTER TABLE services ADD COLUMN previous_traffic TEXT",  # the split before the last change (rollback)
        "ALTER TABLE telemetry ADD COLUMN deployment TEXT",
        "ALTER TABLE telemetry ADD COLUMN mirrored INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE telemetry ADD COLUMN agreed INTEGER",  # mirrored: records predicted as the live answer did
    ],
    [  # runs newest first (the Runs page, child runs too) read from an index instead of sorting every run
        "CREATE INDEX runs_by_created ON runs (created_at)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def from_text(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def dumps(value: Any) -> str:
    """JSON as SQLite's JSON functions read it: UTF-8 text (not \\u escapes, which their paths do not match),
    and no NaN or Infinity (which they refuse: a value that made it this far is stored as text)."""
    return json.dumps(_finite(value), sort_keys=True, default=str, ensure_ascii=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


class StoreBusy(BackendUnavailable):
    """Another process held the workspace database's write lock for longer than the busy timeout."""


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class Store:
    """Thread-safe access to one workspace database (one connection per thread)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._migrate()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and getattr(self._local, "pid", None) == os.getpid():
            return connection
        created = not self.path.exists()
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        if created:
            os.chmod(self.path, PRIVATE_FILE)
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":  # switching takes the write lock
            connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        self._local.connection = connection
        self._local.pid = os.getpid()
        return connection

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from its first statement."""
        connection = self._connection()
        if connection.in_transaction:  # nested: join the outer transaction
            yield connection
            return
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise StoreBusy(
                    f"the workspace database is busy: another process has held its write lock for over "
                    f"{BUSY_TIMEOUT_MS / 1000:g} s; nothing was changed, try again"
                ) from None
            raise
        try:
            yield connection
            connection.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._roll_back(connection)
            if "full" in str(exc) or "disk I/O" in str(exc):
                raise StorageFull(f"the workspace database could not be written ({exc}); nothing was changed") from None
            raise
        except BaseException:
            self._roll_back(connection)
            raise

    @staticmethod
    def _roll_back(connection: sqlite3.Connection) -> None:
        """Also when COMMIT itself failed (disk full, I/O error): never leave the connection inside a
        transaction that would hold the write lock and swallow later statements."""
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._connection().execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self._connection().execute(sql, params).fetchone()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; returns the changed row count."""
        with self.transaction() as connection:
            return connection.execute(sql, params).rowcount

    def schema_version(self) -> int:
        return self.query_one("PRAGMA user_version")[0]

    def _migrate(self) -> None:
        if self.path.exists() and self.schema_version() == SCHEMA_VERSION:
            return  # the usual case, a read: opening a workspace never waits for another process's writes
        with self.transaction() as connection:
            current = connection.execute("PRAGMA user_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                from opml.errors import BackendUnavailable

                raise BackendUnavailable(
                    f"workspace database {self.path} has schema version {current}, newer than this "
                    f"opml understands ({SCHEMA_VERSION}); upgrade opml"
                )
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version]:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {version + 1}")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
