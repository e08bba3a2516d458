"""Services of a local workspace: desired state in SQLite, keys and switches in an owner-only runtime file.

The backend writes what should be (a service deployed with a model, auth on,
telemetry on, data collection at some rate); the agent's supervisor makes the
processes match. A running scoring process re-reads ``runtime.json`` when its
modification time changes, so a regenerated key or a switch takes effect on the
next request, without a redeploy.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from opml.entities import (
    DELETING,
    HEALTHY,
    MAX_SUMMARY_VALUES,
    SERVICE_FAILED,
    TRANSITIONING,
    Deployment,
    Service,
    ServiceKeys,
    TelemetrySummary,
)
from opml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from opml.keys import new_key
from opml.locks import locked
from opml.rollout import DEFAULT_DEPLOYMENT
from opml.serving.router import ENDPOINT_MODEL, ROUTING

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
        FROM telemetry WHERE service = :name AND at >= :since AND mirrored = 0)
    SELECT bucket, n AS requests, SUM(status >= 400) AS failed,
           MIN(CASE WHEN position >= 0.50 * n THEN latency_ms END) AS p50,
           MIN(CASE WHEN position >= 0.95 * n THEN latency_ms END) AS p95,
           MIN(CASE WHEN position >= 0.99 * n THEN latency_ms END) AS p99
    FROM ranked GROUP BY bucket"""

_WINDOW_COUNTS = """
    SELECT COUNT(*) AS requests, COALESCE(SUM(status >= 400), 0) AS failed
    FROM telemetry WHERE service = :name AND at >= :since AND at <= :until AND mirrored = 0"""

# The k-th smallest latency as the (n - k + 1)-th largest: SQLite's sorter then keeps only the top rows.
_WINDOW_RANKED = """
    SELECT latency_ms FROM telemetry WHERE service = :name AND at >= :since AND at <= :until AND mirrored = 0
    ORDER BY latency_ms DESC LIMIT 1 OFFSET :skip"""

# A classifier's row holds {label: count}, a regression model's the list of its predicted numbers.
_PREDICTIONS = """
    SELECT CAST(t.at / :bucket AS INTEGER) AS bucket, p.key AS label, SUM(p.value) AS count
    FROM telemetry AS t, json_each(t.predictions) AS p
    WHERE t.service = :name AND t.at >= :since AND t.mirrored = 0 AND substr(t.predictions, 1, 1) = '{'
    GROUP BY bucket, label"""

# Regression rows (a JSON array): per bucket, how many requests and predictions (``records``: the array keeps at
# most the first 1,000 of a request's values, the count is of all of them).
_VALUE_COUNTS = """
    SELECT CAST(at / :bucket AS INTEGER) AS bucket, COUNT(*) AS requests, SUM(records) AS count,
           SUM(MIN(records, 1000)) AS kept
    FROM telemetry
    WHERE service = :name AND at >= :since AND mirrored = 0 AND substr(predictions, 1, 1) = '['
    GROUP BY bucket"""

# Every :stride-th regression request's values (rowid order: spread over the window, the same sample each time).
_VALUE_ROWS = """
    SELECT CAST(at / :bucket AS INTEGER) AS bucket, predictions FROM telemetry
    WHERE service = :name AND at >= :since AND mirrored = 0 AND substr(predictions, 1, 1) = '['
          AND rowid % :stride = 0"""

_DEPLOYMENT_STATS = """
    WITH ranked AS (
        SELECT deployment, mirrored, status, latency_ms, records, agreed,
               ROW_NUMBER() OVER (PARTITION BY deployment, mirrored ORDER BY latency_ms) AS position,
               COUNT(*) OVER (PARTITION BY deployment, mirrored) AS n
        FROM telemetry
        WHERE service = :name AND at >= :since AND at <= :until AND deployment IS NOT NULL)
    SELECT deployment, mirrored, n AS requests, SUM(status >= 400) AS failed,
           MIN(CASE WHEN position >= 0.50 * n THEN latency_ms END) AS p50,
           MIN(CASE WHEN position >= 0.95 * n THEN latency_ms END) AS p95,
           MIN(CASE WHEN position >= 0.99 * n THEN latency_ms END) AS p99,
           SUM(CASE WHEN agreed IS NOT NULL THEN records ELSE 0 END) AS compared,
           COALESCE(SUM(agreed), 0) AS agreed
    FROM ranked GROUP BY deployment, mirrored"""

_DEPLOYMENT_PREDICTIONS = """
    SELECT t.deployment, t.mirrored, p.key AS label, SUM(p.value) AS count
    FROM telemetry AS t, json_each(t.predictions) AS p
    WHERE t.service = :name AND t.at >= :since AND t.at <= :until AND t.deployment IS NOT NULL
          AND substr(t.predictions, 1, 1) = '{'
    GROUP BY t.deployment, t.mirrored, label"""

MAX_READ_VALUES = 200_000  # regression predictions a telemetry summary parses (beyond: those of every k-th request)

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
        mirror_dropped=int(telemetry.get("mirror_dropped", 0)),
        data_collection=bool(settings["data_collection"]),
        collection_sampling_rate=float(settings["collection_sampling_rate"]),
        collection_retention_days=int(settings["collection_retention_days"]),
        collection_rows=int(collection.get("rows", 0)),
        collection_dropped=int(collection.get("dropped", 0)),
        collection_error=collection.get("last_error"),
    )


def _to_deployment(row: sqlite3.Row, service_state: str, loaded: dict[str, Any] | None) -> Deployment:
    """A deployment as the store has it, with the state its scoring process reports (``deployments.json``);
    while the endpoint itself is not Healthy, the endpoint's state."""
    model = f"{row['model_name']}:{row['model_version']}"
    state, error = service_state, None
    if service_state == HEALTHY:
        state = TRANSITIONING  # the process has not reported loading it yet
        # the same model, and the same deployment, not an earlier one of that name (a routing written before
        # deployments had a creation time has none: the name and model tell)
        created = (loaded or {}).get("created") or row["created_at"]
        if loaded and loaded.get("model") == model and created == row["created_at"]:
            state, error = loaded.get("state", TRANSITIONING), loaded.get("error")
    return Deployment(
        service=row["service"],
        name=row["name"],
        model=model,
        traffic=row["traffic"],
        mirror=row["mirror"],
        state=state,
        created_at=from_text(row["created_at"]),
        error=error,
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
        deployment: str = DEFAULT_DEPLOYMENT,
    ) -> Service:
        """A new endpoint with one deployment, ``deployment``, of the model, taking all the traffic."""
        with self._store.transaction() as connection:
            if connection.execute("SELECT 1 FROM services WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"a service named {name!r} already exists; delete it or pick another name")
            if port is not None and connection.execute("SELECT 1 FROM services WHERE port = ?", (port,)).fetchone():
                raise AlreadyExists(f"port {port} is used by another service")
            if port is not None and not port_free(host, port):  # e.g. the pipeline gateway's, or another program's
                raise AlreadyExists(f"port {port} is in use on {host}; choose another or leave it automatic")
            now = to_text(utcnow())
            self.write_runtime(
                name,
                {
                    "primary_key": new_key(),
                    "secondary_key": new_key(),
                    "auth_enabled": bool(auth_enabled),
                    "app_insights_enabled": bool(app_insights_enabled),
                    **COLLECTION_DEFAULTS,
                    **(collection or {}),
                    ROUTING: {
                        deployment: {
                            "model": f"{model_name}:{int(model_version)}",
                            "traffic": 100,
                            "mirror": 0,
                            "created": now,
                        }
                    },
                    ENDPOINT_MODEL: f"{model_name}:{int(model_version)}",
                },
            )
            connection.execute(
                """INSERT INTO deployments (service, name, model_name, model_version, traffic, mirror, created_at)
                   VALUES (?, ?, ?, ?, 100, 0, ?)""",
                (name, deployment, model_name, int(model_version), now),
            )
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
        row = self.row(name)
        return self._entity(row, self.deployment_rows(name))

    def _entity(self, row: sqlite3.Row, deployments: list[sqlite3.Row]) -> Service:
        name = row["name"]
        service = _to_service(
            row,
            _read_json(self._layout.service_telemetry_status(name)),
            _read_json(self._layout.service_runtime(name)),
            self._collection_status(name, [d["name"] for d in deployments]),
        )
        loaded = _read_json(self._layout.service_deployments_status(name))
        return dataclasses.replace(
            service, deployments=tuple(_to_deployment(d, service.state, loaded.get(d["name"])) for d in deployments)
        )

    def _collection_status(self, name: str, deployments: list[str]) -> dict[str, Any]:
        """The reports of the collection writers of the service's current deployments (a deleted deployment's
        no longer count), summed: rows, dropped, the newest error."""
        paths = [self._layout.service_collection_status(name)] + [
            self._layout.service_collection_status(name, f"{deployment}.{folder}")
            for deployment in deployments
            for folder in ("live", "mirrored")
        ]
        reports = [_read_json(path) for path in paths]
        errors = sorted((r.get("updated_at", 0), r["last_error"]) for r in reports if r.get("last_error"))
        return {
            "rows": sum(int(r.get("rows", 0)) for r in reports),
            "dropped": sum(int(r.get("dropped", 0)) for r in reports),
            "last_error": errors[-1][1] if errors else None,
        }

    def deployment_rows(self, name: str | None = None) -> list[sqlite3.Row]:
        """The deployments of service ``name`` (of every service when None), oldest first."""
        if name is None:
            return self._store.query("SELECT * FROM deployments ORDER BY created_at, rowid")
        return self._store.query("SELECT * FROM deployments WHERE service = ? ORDER BY created_at, rowid", (name,))

    def row(self, name: str) -> sqlite3.Row:
        row = self._store.query_one("SELECT * FROM services WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no service named {name!r}")
        return row

    def list(self) -> list[Service]:
        rows = self._store.query("SELECT * FROM services ORDER BY created_at DESC")
        deployments: dict[str, list[sqlite3.Row]] = {}
        for deployment in self.deployment_rows():
            deployments.setdefault(deployment["service"], []).append(deployment)
        return [self._entity(row, deployments.get(row["name"], [])) for row in rows]

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
            connection.execute("DELETE FROM deployments WHERE service = ?", (name,))
            connection.execute("DELETE FROM service_labels WHERE service = ?", (name,))
            connection.execute("DELETE FROM alert_rules WHERE service = ?", (name,))

    def using_model(self, model_name: str, version: int) -> list[str]:
        """The services that serve the model version (in a deployment, or as the endpoint's model)."""
        rows = self._store.query(
            """SELECT name FROM services WHERE model_name = :model AND model_version = :version
               UNION SELECT service FROM deployments WHERE model_name = :model AND model_version = :version
               ORDER BY 1""",
            {"model": model_name, "version": int(version)},
        )
        return [row[0] for row in rows]

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

    def runtime_path(self, name: str):
        return self._layout.service_runtime(name)

    def write_runtime(self, name: str, runtime: dict[str, Any]) -> None:
        write_private_file(self._layout.service_runtime(name), json.dumps(runtime).encode())

    def keys(self, name: str) -> ServiceKeys:
        self.row(name)
        runtime = self.runtime(name)
        return ServiceKeys(primary=runtime["primary_key"], secondary=runtime["secondary_key"])

    @contextlib.contextmanager
    def changing_runtime(self, name: str) -> Iterator[dict[str, Any]]:
        """The service's runtime settings, to change in the block; written back when it ends. Changes are
        serialised (two dashboard tabs regenerating keys at once: both land, no old key stays valid)."""
        path = self._layout.service_runtime(name)
        with locked(path):
            runtime = self.runtime(name)
            yield runtime
            self.write_runtime(name, runtime)

    def regenerate_key(self, name: str, which: str) -> ServiceKeys:
        which = str(which).lower()
        if which not in ("primary", "secondary"):
            raise InvalidInput(f"key must be 'Primary' or 'Secondary', got {which!r}")
        self.row(name)
        with self.changing_runtime(name) as runtime:
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
        with self.changing_runtime(name) as runtime:
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
                "values": None,
            }
            for row in self._store.query(_SUMMARY, {"name": name, "since": since, "bucket": bucket_seconds})
        }
        window = {"name": name, "since": since, "bucket": bucket_seconds}
        for row in self._store.query(_PREDICTIONS, window):
            buckets[row["bucket"]]["predictions"][row["label"]] = row["count"]
        sample = self._predicted_values(window, buckets)
        newest = self._store.query(
            "SELECT * FROM telemetry WHERE service = ? AND at >= ? AND mirrored = 0 ORDER BY at DESC LIMIT ?",
            (name, since, recent),
        )
        ordered = [buckets[key] for key in sorted(buckets)]
        return TelemetrySummary(
            since=since,
            bucket_seconds=bucket_seconds,
            requests=sum(bucket["requests"] for bucket in ordered),
            failed=sum(bucket["failed"] for bucket in ordered),
            buckets=ordered,
            recent=[{**dict(row), "predictions": json.loads(row["predictions"])} for row in newest],
            predicted_values=sample,
        )

    def _predicted_values(self, window: dict[str, Any], buckets: dict[int, dict[str, Any]]) -> list[float]:
        """Fill each bucket's ``values`` (a regression model's: the count of predictions, exact; their mean,
        smallest and largest, from the requests read) and return at most ``MAX_SUMMARY_VALUES`` of the values
        read, evenly. The values are parsed here rather than by SQLite's ``json_each`` (~10x slower); at most
        ``MAX_READ_VALUES`` are read: all of them, or those of every k-th request."""
        import numpy as np
        import orjson

        counts = self._store.query(_VALUE_COUNTS, window)
        kept = sum(row["kept"] for row in counts)
        if not kept:
            return []
        stride = max(1, math.ceil(kept / MAX_READ_VALUES))
        read: dict[int, list[float]] = {}
        for row in self._store.query(_VALUE_ROWS, {**window, "stride": stride}):
            numbers = [v for v in orjson.loads(row["predictions"]) if isinstance(v, (int, float)) and v is not True]
            read.setdefault(row["bucket"], []).extend(numbers)
        for row in counts:
            values = np.asarray(read.get(row["bucket"], []), dtype=np.float64)
            buckets[row["bucket"]]["values"] = {
                "count": int(row["count"]),
                "mean": float(values.mean()) if len(values) else None,
                "min": float(values.min()) if len(values) else None,
                "max": float(values.max()) if len(values) else None,
            }
        everything = [value for bucket in sorted(read) for value in read[bucket]]
        step = max(1, math.ceil(len(everything) / MAX_SUMMARY_VALUES))
        return [float(value) for value in everything[::step]]

    def deployment_stats(self, name: str, *, since: float, until: float) -> dict[str, dict[str, Any]]:
        """Per deployment, ``DeploymentStats`` fields from telemetry: live requests, failures and latency
        percentiles; mirrored requests, failures, p50 and agreement; the predicted class mix (of the live
        answers, or of the shadow ones for a deployment that answered none live)."""
        window = {"name": name, "since": since, "until": until}
        stats: dict[str, dict[str, Any]] = {}
        for row in self._store.query(_DEPLOYMENT_STATS, window):
            figures = stats.setdefault(row["deployment"], {})
            if row["mirrored"]:
                compared = int(row["compared"])
                figures.update(
                    mirrored=row["requests"],
                    mirror_failed=int(row["failed"]),
                    mirror_p50=row["p50"],
                    compared_records=compared,
                    agreed_records=int(row["agreed"]),
                    agreement=int(row["agreed"]) / compared if compared else None,
                )
            else:
                figures.update(
                    requests=row["requests"], failed=int(row["failed"]), p50=row["p50"], p95=row["p95"], p99=row["p99"]
                )
        mixes: dict[tuple[str, int], dict[str, int]] = {}
        for row in self._store.query(_DEPLOYMENT_PREDICTIONS, window):
            mixes.setdefault((row["deployment"], row["mirrored"]), {})[row["label"]] = int(row["count"])
        for deployment, figures in stats.items():
            figures["predictions"] = mixes.get((deployment, 0)) or mixes.get((deployment, 1)) or {}
        return stats

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
            "SELECT * FROM telemetry WHERE service = ? AND at >= ? AND mirrored = 0 ORDER BY at LIMIT ?",
            (name, since or 0.0, int(limit)),
        )
        return [{**dict(row), "predictions": json.loads(row["predictions"])} for row in rows]
