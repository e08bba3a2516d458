"""Services of a local workspace: desired state in SQLite, keys and switches in an owner-only runtime file.

The backend writes what should be (a service deployed with a model, auth on,
telemetry on, data collection at some rate); the agent's supervisor makes the
processes match. A running scoring process re-reads ``runtime.json`` when its
modification time changes, so a regenerated key or a switch takes effect on the
next request, without a redeploy.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import socket
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from opml.backends.local.layout import WorkspaceLayout, write_private_file
from opml.backends.local.store import Store, from_text, to_text, utcnow
from opml.entities import DELETING, HEALTHY, SERVICE_FAILED, TRANSITIONING, Service, ServiceKeys, TelemetrySummary
from opml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from opml.keys import new_key
from opml.locks import locked

DEPLOYED, DELETED = "deployed", "deleted"


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


_SUMMARY = """
    WITH ranked AS (
        SELECT CAST(at / :bucket AS INTEGER) AS bucket, status, latency_ms,
               ROW_NUMBER() OVER (PARTITION BY CAST(at / :bucket AS INTEGER) ORDER BY latency_ms) AS position,
               COUNT(*) OVER (PARTITION BY CAST(at / :bucket AS INTEGER)) AS n
        FROM telemetry WHERE service = :name AND at >= :since)
    SELECT bucket, n AS requests, SUM(status >= 400) AS failed,
           MIN(CASE WHEN position >= 0.50 * n THEN latency_ms END) AS p50,
           MIN(CASE WHEN position >= 0.95 * n THEN latency_ms END) AS p95,
           MIN(CASE WHEN position >= 0.99 * n THEN latency_ms END) AS p99
    FROM ranked GROUP BY bucket"""

_WINDOW_COUNTS = """
    SELECT COUNT(*) AS requests, COALESCE(SUM(status >= 400), 0) AS failed
    FROM telemetry WHERE service = :name AND at >= :since AND at <= :until"""

# The k-th smallest latency as the (n - k + 1)-th largest: SQLite's sorter then keeps only the top rows.
_WINDOW_RANKED = """
    SELECT latency_ms FROM telemetry WHERE service = :name AND at >= :since AND at <= :until
    ORDER BY latency_ms DESC LIMIT 1 OFFSET :skip"""

_PREDICTIONS = """
    SELECT CAST(t.at / :bucket AS INTEGER) AS bucket, p.key AS label, SUM(p.value) AS count
    FROM telemetry AS t, json_each(t.predictions) AS p
    WHERE t.service = :name AND t.at >= :since GROUP BY bucket, label"""


# Data collection settings kept in runtime.json, with their values for a service deployed before they existed.
COLLECTION_DEFAULTS = {"data_collection": False, "collection_sampling_rate": 1.0, "collection_retention_days": 30}


def _to_service(
    row: sqlite3.Row, telemetry: dict[str, Any], runtime: dict[str, Any], collection: dict[str, Any]
) -> Service:
    base = f"http://{row['host']}:{row['port']}"
    settings = {key: runtime.get(key, default) for key, default in COLLECTION_DEFAULTS.items()}
    return Service(
        name=row["name"],
        model=f"{row['model_name']}:{row['model_version']}",
        state=DELETING if row["desired"] == DELETED else row["state"],
        auth_enabled=bool(row["auth_enabled"]),
        app_insights_enabled=bool(row["app_insights"]),
        scoring_uri=f"{base}/score",
        swagger_uri=f"{base}/swagger.json",
        created_at=from_text(row["created_at"]),
        updated_at=from_text(row["updated_at"]),
        description=row["description"],
        error=row["error"],
        restarts=row["restarts"],
        telemetry_dropped=int(telemetry.get("dropped", 0)),
        telemetry_note=str(telemetry.get("export", "")),
        data_collection=bool(settings["data_collection"]),
        collection_sampling_rate=float(settings["collection_sampling_rate"]),
        collection_retention_days=int(settings["collection_retention_days"]),
        collection_rows=int(collection.get("rows", 0)),
        collection_dropped=int(collection.get("dropped", 0)),
        collection_error=collection.get("last_error"),
    )


def _read_json(path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # not written yet (a process not started), being deleted, or written by an older opml


class ServiceRepository:
    def __init__(self, store: Store, layout: WorkspaceLayout):
        self._store = store
        self._layout = layout

    # -- desired state ---------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        model_name: str,
        model_version: int,
        auth_enabled: bool,
        app_insights_enabled: bool,
        port: int | None,
        host: str,
        description: str,
        collection: dict[str, Any] | None = None,
    ) -> Service:
        with self._store.transaction() as connection:
            if connection.execute("SELECT 1 FROM services WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"a service named {name!r} already exists; delete it or pick another name")
            if port is not None and connection.execute("SELECT 1 FROM services WHERE port = ?", (port,)).fetchone():
                raise AlreadyExists(f"port {port} is used by another service")
            if port is not None and not port_free(host, port):  # e.g. the pipeline gateway's, or another program's
                raise AlreadyExists(f"port {port} is in use on {host}; choose another or leave it automatic")
            self._write_runtime(
                name,
                {
                    "primary_key": new_key(),
                    "secondary_key": new_key(),
                    "auth_enabled": bool(auth_enabled),
                    "app_insights_enabled": bool(app_insights_enabled),
                    **COLLECTION_DEFAULTS,
                    **(collection or {}),
                },
            )
            now = to_text(utcnow())
            connection.execute(
                """INSERT INTO services (name, model_name, model_version, description, auth_enabled, app_insights,
                   host, port, desired, state, created_at, updated_at, not_healthy_since)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    name,
                    model_name,
                    int(model_version),
                    description or "",
                    int(bool(auth_enabled)),
                    int(bool(app_insights_enabled)),
                    host,
                    port or free_port(host),
                    DEPLOYED,
                    TRANSITIONING,
                    now,
                    now,
                    time.time(),
                ),
            )
        return self.get(name)

    def get(self, name: str) -> Service:
        return self._entity(self.row(name))

    def _entity(self, row: sqlite3.Row) -> Service:
        name = row["name"]
        return _to_service(
            row,
            _read_json(self._layout.service_telemetry_status(name)),
            _read_json(self._layout.service_runtime(name)),
            _read_json(self._layout.service_collection_status(name)),
        )

    def row(self, name: str) -> sqlite3.Row:
        row = self._store.query_one("SELECT * FROM services WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no service named {name!r}")
        return row

    def list(self) -> list[Service]:
        rows = self._store.query("SELECT * FROM services ORDER BY created_at DESC")
        return [self._entity(row) for row in rows]

    def rows(self) -> list[sqlite3.Row]:
        return self._store.query("SELECT * FROM services")

    def mark_deleted(self, name: str) -> None:
        self.row(name)
        self._store.execute(
            "UPDATE services SET desired = ?, updated_at = ? WHERE name = ?", (DELETED, to_text(utcnow()), name)
        )

    def purge(self, name: str) -> None:
        """Forget a service whose process has stopped (the supervisor's last step of a delete): its row, its
        labels, its alert rules (a later service of the same name starts without them; its alerts stay as
        history), and its folder (keys, collected data). The folder goes first, while the row still holds the
        name: a service deployed again under it the moment the row is gone keeps the folder it makes."""
        shutil.rmtree(self._layout.service_dir(name), ignore_errors=True)
        with self._store.transaction() as connection:
            connection.execute("DELETE FROM services WHERE name = ?", (name,))
            connection.execute("DELETE FROM service_labels WHERE service = ?", (name,))
            connection.execute("DELETE FROM alert_rules WHERE service = ?", (name,))

    def using_model(self, model_name: str, version: int) -> list[str]:
        rows = self._store.query(
            "SELECT name FROM services WHERE model_name = ? AND model_version = ?", (model_name, int(version))
        )
        return [row["name"] for row in rows]

    def count(self) -> int:
        return self._store.query_one("SELECT COUNT(*) FROM services WHERE desired = ?", (DEPLOYED,))[0]

    # -- observed state (written by the supervisor) -----------------------------------

    def set_state(self, name: str, state: str, *, error: str | None = None, restarts: int | None = None) -> None:
        """Record the observed state; leaving Healthy starts the service's not-Healthy time, reaching it ends
        it (``not_healthy_since``, read by ``unhealthy`` alert rules)."""
        self._store.execute(
            """UPDATE services SET state = :state, error = :error, restarts = COALESCE(:restarts, restarts),
               updated_at = :updated,
               not_healthy_since = CASE WHEN :state = :healthy THEN NULL ELSE COALESCE(not_healthy_since, :now) END
               WHERE name = :name""",
            {
                "state": state,
                "error": error,
                "restarts": restarts,
                "updated": to_text(utcnow()),
                "healthy": HEALTHY,
                "now": time.time(),
                "name": name,
            },
        )

    def not_healthy_since(self, name: str) -> tuple[str, float | None]:
        """The service's state and since when (epoch seconds) it has not been Healthy (None when Healthy).
        Raises NotFound."""
        row = self.row(name)
        return (DELETING if row["desired"] == DELETED else row["state"]), row["not_healthy_since"]

    def restart(self, name: str) -> Service:
        """Ask the agent to start a Failed service again (its crash count starts afresh)."""
        with self._store.transaction() as connection:
            row = connection.execute("SELECT state, desired FROM services WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"no service named {name!r}")
            if row["desired"] == DELETED or row["state"] != SERVICE_FAILED:
                state = DELETING if row["desired"] == DELETED else row["state"]
                raise Conflict(
                    f"service {name!r} is {state}: only a Failed service is restarted (a running one is restarted "
                    "by the agent when its process dies)"
                )
            connection.execute(
                "UPDATE services SET state = ?, error = ?, updated_at = ? WHERE name = ?",
                (TRANSITIONING, "restart requested", to_text(utcnow()), name),
            )
        return self.get(name)

    def process_of(self, name: str) -> tuple[int | None, float | None]:
        row = self._store.query_one("SELECT pid, pid_started FROM services WHERE name = ?", (name,))
        return (row["pid"], row["pid_started"]) if row else (None, None)

    def set_process(self, name: str, pid: int | None, pid_started: float | None) -> None:
        self._store.execute("UPDATE services SET pid = ?, pid_started = ? WHERE name = ?", (pid, pid_started, name))

    # -- keys and switches ------------------------------------------------------------

    def runtime(self, name: str) -> dict[str, Any]:
        path = self._layout.service_runtime(name)
        if not path.exists():
            raise NotFound(f"service {name!r} has no runtime configuration")
        return json.loads(path.read_text())

    def _write_runtime(self, name: str, runtime: dict[str, Any]) -> None:
        write_private_file(self._layout.service_runtime(name), json.dumps(runtime).encode())

    def keys(self, name: str) -> ServiceKeys:
        self.row(name)
        runtime = self.runtime(name)
        return ServiceKeys(primary=runtime["primary_key"], secondary=runtime["secondary_key"])

    @contextlib.contextmanager
    def _changing_runtime(self, name: str) -> Iterator[dict[str, Any]]:
        """The service's runtime settings, to change in the block; written back when it ends. Changes are
        serialised (two dashboard tabs regenerating keys at once: both land, no old key stays valid)."""
        path = self._layout.service_runtime(name)
        with locked(path):
            runtime = self.runtime(name)
            yield runtime
            self._write_runtime(name, runtime)

    def regenerate_key(self, name: str, which: str) -> ServiceKeys:
        which = str(which).lower()
        if which not in ("primary", "secondary"):
            raise InvalidInput(f"key must be 'Primary' or 'Secondary', got {which!r}")
        self.row(name)
        with self._changing_runtime(name) as runtime:
            runtime[f"{which}_key"] = new_key()
            keys = ServiceKeys(primary=runtime["primary_key"], secondary=runtime["secondary_key"])
        return keys

    def update(
        self,
        name: str,
        *,
        app_insights_enabled: bool | None,
        auth_enabled: bool | None,
        collection: dict[str, Any] | None = None,
    ) -> Service:
        """Change switches (None: unchanged) and data collection settings (``COLLECTION_DEFAULTS``' keys)."""
        self.row(name)
        with self._changing_runtime(name) as runtime:
            if app_insights_enabled is not None:
                runtime["app_insights_enabled"] = bool(app_insights_enabled)
            if auth_enabled is not None:
                runtime["auth_enabled"] = bool(auth_enabled)
            for key, value in (collection or {}).items():
                if key in COLLECTION_DEFAULTS and value is not None:
                    runtime[key] = value
        self._store.execute(
            "UPDATE services SET app_insights = ?, auth_enabled = ?, updated_at = ? WHERE name = ?",
            (int(runtime["app_insights_enabled"]), int(runtime["auth_enabled"]), to_text(utcnow()), name),
        )
        return self.get(name)

    # -- telemetry ---------------------------------------------------------------------

    def prune_telemetry(self, older_than: float, *, chunk: int = 10_000) -> int:
        """Delete telemetry rows recorded before ``older_than`` (epoch seconds), a chunk per transaction so
        that writers are never kept waiting long. Returns how many went."""
        removed = 0
        while True:
            count = self._store.execute(
                "DELETE FROM telemetry WHERE rowid IN (SELECT rowid FROM telemetry WHERE at < ? LIMIT ?)",
                (older_than, chunk),
            )
            removed += count
            if count < chunk:
                return removed

    def telemetry_summary(self, name: str, *, since: float, bucket_seconds: int, recent: int) -> TelemetrySummary:
        """``TelemetrySummary`` computed in SQL: counts and nearest-rank latency percentiles per bucket (window
        functions), predicted labels summed from each row's JSON; only the ``recent`` newest rows are read."""
        buckets = {
            row["bucket"]: {
                "at": float(row["bucket"] * bucket_seconds),
                "requests": row["requests"],
                "failed": row["failed"],
                "p50": row["p50"],
                "p95": row["p95"],
                "p99": row["p99"],
                "predictions": {},
            }
            for row in self._store.query(_SUMMARY, {"name": name, "since": since, "bucket": bucket_seconds})
        }
        for row in self._store.query(_PREDICTIONS, {"name": name, "since": since, "bucket": bucket_seconds}):
            buckets[row["bucket"]]["predictions"][row["label"]] = row["count"]
        newest = self._store.query(
            "SELECT * FROM telemetry WHERE service = ? AND at >= ? ORDER BY at DESC LIMIT ?", (name, since, recent)
        )
        ordered = [buckets[key] for key in sorted(buckets)]
        return TelemetrySummary(
            since=since,
            bucket_seconds=bucket_seconds,
            requests=sum(bucket["requests"] for bucket in ordered),
            failed=sum(bucket["failed"] for bucket in ordered),
            buckets=ordered,
            recent=[{**dict(row), "predictions": json.loads(row["predictions"])} for row in newest],
        )

    def window_counts(self, name: str, *, since: float, until: float) -> tuple[int, int]:
        """Requests recorded from ``since`` to ``until`` (epoch seconds) and how many failed (status >= 400)."""
        row = self._store.query_one(_WINDOW_COUNTS, {"name": name, "since": since, "until": until})
        return int(row["requests"]), int(row["failed"])

    def window_percentile(self, name: str, *, since: float, until: float, quantile: float, requests: int) -> float:
        """The nearest-rank ``quantile`` of the latencies (ms) of the ``requests`` (> 0, from ``window_counts``)
        recorded from ``since`` to ``until``: the smallest whose rank is at least ``quantile`` times the count,
        found without sorting the whole window."""
        rank = max(1, math.ceil(quantile * requests))
        row = self._store.query_one(
            _WINDOW_RANKED, {"name": name, "since": since, "until": until, "skip": requests - rank}
        )
        return row["latency_ms"]

    def telemetry(self, name: str, *, since: float | None = None, limit: int = 100_000) -> list[dict[str, Any]]:
        rows = self._store.query(
            "SELECT * FROM telemetry WHERE service = ? AND at >= ? ORDER BY at LIMIT ?",
            (name, since or 0.0, int(limit)),
        )
        return [{**dict(row), "predictions": json.loads(row["predictions"])} for row in rows]
