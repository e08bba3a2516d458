"""The deployments one scoring process serves, and which of them answers a request.

The routing lives in the service's ``runtime.json`` (``{"deployments": {name: {"model", "traffic",
"mirror", "created"}}, "endpoint_model": "name:version"}``), which the backend rewrites (under a lock, renamed into
place) and the process re-reads when it changes. So a new split applies to the next request, with no
restart and no request refused: a request is routed with the table in force when it arrived (tables are
swapped whole), and only an idle deployment can be removed.

A deployment added to the routing is loaded in the background (``Transitioning``); until it is loaded, or
when its model cannot be loaded (``Failed``), its share of the traffic goes to the others in proportion,
and when the split names no loaded deployment at all (everything promoted to one still loading), the
loaded ones keep answering until it is ready. What the process has loaded is written to
``deployments.json`` for the backend to show.
"""

from __future__ import annotations

import bisect
import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opml.entities import HEALTHY, SERVICE_FAILED, TRANSITIONING
from opml.files import write_private_file
from opml.serving.validation import RequestError, SchemaValidator

log = logging.getLogger("opml.serving.router")

ROUTING = "deployments"
ENDPOINT_MODEL = "endpoint_model"
WATCH_SECONDS = 0.5  # how often the routing is re-read when no request arrives


@dataclass
class LoadedDeployment:
    """A deployment ready to answer: its model and what serving it needs."""

    name: str
    model_id: str  # "name:version"
    model: Any
    manifest: dict[str, Any]
    validator: SchemaValidator
    collection: Any = None  # CollectionWriter of its live answers (or None)
    mirror_collection: Any = None  # CollectionWriter of its shadow answers (or None)

    @property
    def regression(self) -> bool:
        """Its model predicts values (``OpmlRegressor``: numbers, no probabilities), not classes."""
        return getattr(self.model, "task", "classification") == "regression"

    def close(self) -> None:
        for writer in (self.collection, self.mirror_collection):
            if writer is not None:
                writer.close()


@dataclass(frozen=True)
class RoutingTable:
    """An immutable snapshot of where requests go (swapped whole; readers never see half a change)."""

    names: tuple[str, ...] = ()  # loaded deployments with live traffic
    bounds: tuple[float, ...] = ()  # cumulative weights, for bisect
    mirror: str | None = None  # the loaded deployment receiving mirror traffic
    mirror_share: float = 0.0  # 0..0.5
    known: frozenset[str] = frozenset()  # every deployment in the routing, loaded or not

    def pick(self) -> str | None:
        if not self.names:
            return None
        if len(self.names) == 1:
            return self.names[0]
        return self.names[bisect.bisect_right(self.bounds, random.random() * self.bounds[-1])]  # noqa: S311


def routing_of(runtime: Mapping[str, Any], fallback_model: str) -> dict[str, dict[str, Any]]:
    """The routing of a runtime document; a service deployed before endpoints held several deployments has
    none: its one model takes all the traffic."""
    routing = runtime.get(ROUTING)
    if isinstance(routing, dict) and routing:
        return routing
    return {"blue": {"model": fallback_model, "traffic": 100, "mirror": 0}}


@dataclass
class _Slot:
    model_id: str
    created: str = ""  # when the deployment was made: one re-created under the same name is another
    state: str = TRANSITIONING
    error: str | None = None
    loaded: LoadedDeployment | None = None


@dataclass
class DeploymentRouter:
    """Keeps the loaded deployments in line with the routing and picks one per request.

    ``load(name, model_id)`` builds a ``LoadedDeployment`` (raising when the model cannot be loaded);
    ``manifest_of(model_id)`` reads a model's manifest (for the endpoint's swagger.json)."""

    runtime: Any  # RuntimeConfig
    load: Callable[[str, str], LoadedDeployment]
    manifest_of: Callable[[str], dict[str, Any]]
    fallback_model: str
    status_path: Path | None = None
    table: RoutingTable = field(default_factory=RoutingTable)
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _routing: dict[str, dict[str, Any]] = field(default_factory=dict)
    _source: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _status_lock: threading.Lock = field(default_factory=threading.Lock)
    _to_load: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    _manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    # -- starting ------------------------------------------------------------------

    def start(self) -> None:
        """Load every deployment of the routing now (the process answers once this returns), then watch the
        routing in the background. Raises RuntimeError when no deployment that takes traffic could load."""
        routing = self._read()
        for name, spec in routing.items():
            slot = self._slots[name] = _Slot(str(spec["model"]), str(spec.get("created", "")))
            self._load_into(name, slot)
        with self._lock:
            self._rebuild()
        self._write_status()
        if not self.table.names and any(int(spec.get("traffic", 0)) for spec in routing.values()):
            errors = "; ".join(f"{name}: {slot.error}" for name, slot in self._slots.items() if slot.error)
            raise RuntimeError(f"no deployment that takes traffic could be loaded ({errors})")
        threading.Thread(target=self._watch, name="routing-watch", daemon=True).start()
        threading.Thread(target=self._loader, name="deployment-loader", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._to_load.put(None)
        for slot in list(self._slots.values()):
            if slot.loaded is not None:
                slot.loaded.close()

    # -- the request path ----------------------------------------------------------

    def choose(self, requested: str | None) -> LoadedDeployment:
        """The deployment to answer a request: the one named in the ``azureml-model-deployment`` header
        (whatever its traffic), or one drawn by the traffic split. RequestError 400 for an unknown name, 503
        when the deployment (or every deployment taking traffic) is not loaded."""
        self.sync()
        table = self.table
        if requested:
            slot = self._slots.get(requested)
            if requested not in table.known or slot is None:
                raise RequestError(
                    400,
                    f"no deployment named {requested[:64]!r} on this endpoint; its deployments: "
                    f"{', '.join(sorted(table.known))}",
                )
            if slot.loaded is None:
                reason = f"failed to load: {slot.error}" if slot.state == SERVICE_FAILED else "is still loading"
                raise RequestError(503, f"deployment {requested!r} {reason}")
            return slot.loaded
        name = table.pick()
        slot = self._slots.get(name) if name else None
        if slot is None or slot.loaded is None:
            raise RequestError(503, "no deployment that takes traffic is loaded yet; retry in a few seconds")
        return slot.loaded

    def mirror_for(self, live: LoadedDeployment) -> LoadedDeployment | None:
        """The deployment to shadow this request, drawn by the mirror share (None mostly)."""
        table = self.table
        if table.mirror is None or table.mirror == live.name or random.random() >= table.mirror_share:  # noqa: S311
            return None
        slot = self._slots.get(table.mirror)
        return slot.loaded if slot is not None else None

    def endpoint_manifest(self) -> dict[str, Any]:
        """The manifest of the endpoint's model (its input schema is what swagger.json describes)."""
        self.sync()
        model_id = str(self.runtime.current().get(ENDPOINT_MODEL) or self.fallback_model)
        for slot in self._slots.values():
            if slot.loaded is not None and slot.model_id == model_id:
                return slot.loaded.manifest
        if model_id not in self._manifests:
            self._manifests[model_id] = self.manifest_of(model_id)
        return self._manifests[model_id]

    def serves_regression(self) -> bool:
        """Whether the loaded deployments predict values (an endpoint's deployments share their task: see
        ``LocalBackend._create_deployment``), for the telemetry of a request refused before one was chosen."""
        return any(slot.loaded is not None and slot.loaded.regression for slot in list(self._slots.values()))

    def healthy(self) -> bool:
        self.sync()
        return bool(self.table.names)

    # -- following the routing -----------------------------------------------------

    def _read(self) -> dict[str, dict[str, Any]]:
        current = self.runtime.current()
        self._source = current
        self._routing = routing_of(current, self.fallback_model)
        return self._routing

    def sync(self) -> None:
        """Apply a changed routing (cheap when unchanged: ``runtime.current()`` is a stat)."""
        if self.runtime.current() is self._source:
            return
        with self._lock:
            if self.runtime.current() is self._source:
                return
            routing = self._read()
            gone = []
            for name, slot in self._slots.items():
                spec = routing.get(name, {})
                created = str(spec.get("created", ""))
                if spec.get("model") != slot.model_id or (slot.created and created != slot.created):
                    gone.append(name)
                elif created != slot.created:
                    # a routing written before deployments had a creation time (an endpoint served since before
                    # an upgrade) gets one at its first change: the same deployment, kept answering
                    slot.created = created
            retired = [self._slots.pop(name) for name in gone]
            for name, spec in routing.items():
                if name not in self._slots:
                    self._slots[name] = _Slot(str(spec["model"]), str(spec.get("created", "")))
                    self._to_load.put(name)
                    log.info("deployment %s (%s) added: loading", name, spec["model"])
            self._rebuild()
        for slot in retired:
            log.info("deployment of %s removed", slot.model_id)
            if slot.loaded is not None:
                threading.Thread(target=slot.loaded.close, daemon=True).start()  # flushes its collected data
        self._write_status()

    def _rebuild(self) -> None:
        """A new table from the routing and what is loaded (caller holds the lock)."""
        names, bounds, total = [], [], 0.0
        mirror, share = None, 0.0
        for name, spec in self._routing.items():
            slot = self._slots.get(name)
            loaded = slot is not None and slot.loaded is not None
            traffic, mirrored = int(spec.get("traffic", 0)), int(spec.get("mirror", 0))
            if loaded and traffic > 0:
                total += traffic
                names.append(name)
                bounds.append(total)
            if loaded and mirrored > 0:
                mirror, share = name, mirrored / 100
        if not names:  # the split names only deployments still loading: the loaded ones answer meanwhile
            for name, slot in self._slots.items():
                if slot.loaded is not None and name != mirror:
                    total += 1
                    names.append(name)
                    bounds.append(total)
        self.table = RoutingTable(tuple(names), tuple(bounds), mirror, share, frozenset(self._routing))

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            try:
                self.sync()
            except Exception:  # a half-written or unreadable runtime file: the old routing stays
                log.exception("could not apply the routing")

    def _loader(self) -> None:
        while True:
            name = self._to_load.get()
            if name is None or self._stop.is_set():
                return
            slot = self._slots.get(name)
            if slot is None or slot.loaded is not None:
                continue
            self._load_into(name, slot)
            with self._lock:
                if self._slots.get(name) is slot:
                    self._rebuild()
                elif slot.loaded is not None:  # removed while it loaded
                    slot.loaded.close()
            self._write_status()

    def _load_into(self, name: str, slot: _Slot) -> None:
        started = time.perf_counter()
        try:
            slot.loaded = self.load(name, slot.model_id)
        except Exception as exc:
            slot.state, slot.error = SERVICE_FAILED, f"{type(exc).__name__}: {exc}"[:500]
            log.error("deployment %s (%s) could not be loaded: %s", name, slot.model_id, slot.error)
            return
        slot.state, slot.error = HEALTHY, None
        log.info("deployment %s (%s) loaded in %.1f s", name, slot.model_id, time.perf_counter() - started)

    def _write_status(self) -> None:
        """Report what is loaded; built and written under one lock, so an older report never lands last."""
        if self.status_path is None:
            return
        with self._status_lock:
            document = {
                name: {"model": slot.model_id, "created": slot.created, "state": slot.state, "error": slot.error}
                for name, slot in list(self._slots.items())
            }
            try:
                write_private_file(self.status_path, json.dumps(document).encode())
            except OSError as exc:
                log.warning("could not write the deployments' status (%s)", exc)
