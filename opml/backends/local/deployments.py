"""Deployments of local endpoints: rows in SQLite, the routing a scoring process follows in ``runtime.json``.

Every change goes through ``_change``: under the service's runtime lock and in one store transaction it
reads the deployments, lets the caller compute the new ones, and writes both the rows and the routing, so
the dashboard and the process never disagree for longer than the process's next look at the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opml.backends.local.services import DELETED, ServiceRepository
from opml.backends.local.store import Store, to_text, utcnow
from opml.entities import Service
from opml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from opml.locks import locked
from opml.rollout import MAX_DEPLOYMENTS, check_mirror, check_traffic, live_deployment, with_newcomer
from opml.serving.router import ENDPOINT_MODEL, ROUTING


@dataclass
class Routing:
    """The deployments of one endpoint while a change is computed: name -> model, traffic, mirror."""

    models: dict[str, str]  # in creation order
    traffic: dict[str, int]
    mirror: dict[str, int]
    previous: dict[str, int] | None  # the live split before the last change (what rollback restores)
    endpoint_model: str
    created: dict[str, str] = field(default_factory=dict)  # new deployments: name -> model

    @property
    def names(self) -> list[str]:
        return list(self.models)

    def set_traffic(self, traffic: dict[str, int]) -> None:
        """A new live split; the old one is kept for rollback when it differs."""
        if traffic != self.traffic:
            self.previous = dict(self.traffic)
        self.traffic = traffic
        live = live_deployment(traffic, self.names)
        if live is not None:
            self.endpoint_model = self.models[live]


class DeploymentRepository:
    def __init__(self, store: Store, services: ServiceRepository):
        self._store = store
        self._services = services

    def _change(self, service: str, change: Callable[[Routing], None]) -> Service:
        self._services.row(service)  # NotFound before any lock file is made
        # The runtime lock first, as every writer of runtime.json takes it; the file is written inside the
        # transaction, so a failed write leaves the rows as they were.
        with locked(self._services.runtime_path(service)), self._store.transaction() as connection:
            row = connection.execute("SELECT * FROM services WHERE name = ?", (service,)).fetchone()
            if row is None:
                raise NotFound(f"no service named {service!r}")
            if row["desired"] == DELETED:
                raise Conflict(f"service {service!r} is being deleted")
            rows = connection.execute(
                "SELECT * FROM deployments WHERE service = ? ORDER BY created_at, rowid", (service,)
            ).fetchall()
            routing = Routing(
                models={r["name"]: f"{r['model_name']}:{r['model_version']}" for r in rows},
                traffic={r["name"]: r["traffic"] for r in rows},
                mirror={r["name"]: r["mirror"] for r in rows},
                previous=json.loads(row["previous_traffic"]) if row["previous_traffic"] else None,
                endpoint_model=f"{row['model_name']}:{row['model_version']}",
            )
            change(routing)
            now = to_text(utcnow())
            for name in [name for name in (r["name"] for r in rows) if name not in routing.models]:
                connection.execute("DELETE FROM deployments WHERE service = ? AND name = ?", (service, name))
            for name, model in routing.models.items():
                model_name, version = model.rsplit(":", 1)
                if name in routing.created:
                    connection.execute(
                        """INSERT INTO deployments (service, name, model_name, model_version, traffic, mirror,
                           created_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                        (service, name, model_name, int(version), routing.traffic[name], routing.mirror[name], now),
                    )
                else:
                    connection.execute(
                        "UPDATE deployments SET traffic = ?, mirror = ? WHERE service = ? AND name = ?",
                        (routing.traffic[name], routing.mirror[name], service, name),
                    )
            endpoint_name, endpoint_version = routing.endpoint_model.rsplit(":", 1)
            connection.execute(
                """UPDATE services SET model_name = ?, model_version = ?, previous_traffic = ?, updated_at = ?
                   WHERE name = ?""",
                (
                    endpoint_name,
                    int(endpoint_version),
                    json.dumps(routing.previous) if routing.previous else None,
                    now,
                    service,
                ),
            )
            runtime = self._services.runtime(service)
            created = {r["name"]: r["created_at"] for r in rows} | dict.fromkeys(routing.created, now)
            runtime[ROUTING] = {
                name: {
                    "model": model,
                    "traffic": routing.traffic[name],
                    "mirror": routing.mirror[name],
                    "created": created[name],
                }
                for name, model in routing.models.items()
            }
            runtime[ENDPOINT_MODEL] = routing.endpoint_model
            self._services.write_runtime(service, runtime)
        return self._services.get(service)

    # -- operations (arguments checked by the Backend) ----------------------------------

    def create(
        self, service: str, *, name: str, model: str, traffic: int, mirror: int, schema_changed: bool
    ) -> Service:
        """Add deployment ``name`` of ``model`` ("name:version") taking ``traffic`` percent (the others keep
        their proportions of the rest) or receiving ``mirror`` percent as a shadow. With ``schema_changed``
        (confirmed by the caller) the endpoint's model, hence its swagger.json, becomes ``model`` at once."""

        def change(routing: Routing) -> None:
            if name in routing.models:
                raise AlreadyExists(f"endpoint {service!r} already has a deployment named {name!r}")
            if len(routing.models) >= MAX_DEPLOYMENTS:
                raise Conflict(
                    f"endpoint {service!r} has {MAX_DEPLOYMENTS} deployments, the most one endpoint serves; delete "
                    "an idle one first"
                )
            mirror_split = dict.fromkeys(routing.models, 0) | {name: mirror}
            if mirror:
                check_mirror(mirror_split, [*routing.models, name], {name: 0})
                others = [other for other, value in routing.mirror.items() if value]
                if others:
                    raise InvalidInput(
                        f"deployment {others[0]!r} already receives mirror traffic, and mirror traffic goes to one "
                        f"deployment at a time; set its mirror traffic to 0 first"
                    )
            routing.models[name] = model
            routing.created[name] = model
            routing.mirror[name] = mirror
            routing.traffic[name] = 0
            if traffic:
                others = {other: value for other, value in routing.traffic.items() if other != name}
                routing.set_traffic(with_newcomer(others, name, traffic))
            if schema_changed:
                routing.endpoint_model = model

        return self._change(service, change)

    def delete(self, service: str, name: str) -> Service:
        """Remove an idle deployment (no live or mirror traffic)."""

        def change(routing: Routing) -> None:
            _known(routing, service, name)
            if routing.traffic[name] or routing.mirror[name]:
                what = f"{routing.traffic[name]} % of live traffic" if routing.traffic[name] else "mirror traffic"
                raise Conflict(
                    f"deployment {name!r} takes {what}; move its traffic to another deployment first (only an idle "
                    "deployment is deleted)"
                )
            del routing.models[name], routing.traffic[name], routing.mirror[name]
            if routing.previous and routing.previous.get(name):
                routing.previous = None  # the split it took part in cannot come back
            elif routing.previous:
                routing.previous.pop(name, None)
            if routing.endpoint_model not in routing.models.values():
                live = live_deployment(routing.traffic, routing.names)
                routing.endpoint_model = routing.models[live] if live else routing.endpoint_model

        return self._change(service, change)

    def set_traffic(self, service: str, split: dict[str, Any]) -> Service:
        def change(routing: Routing) -> None:
            routing.set_traffic(check_traffic(split, routing.names, routing.mirror))

        return self._change(service, change)

    def set_mirror(self, service: str, split: dict[str, Any]) -> Service:
        def change(routing: Routing) -> None:
            routing.mirror = check_mirror(split, routing.names, routing.traffic)

        return self._change(service, change)

    def promote(self, service: str, name: str) -> Service:
        """All live traffic to ``name`` (its mirror traffic stops)."""

        def change(routing: Routing) -> None:
            _known(routing, service, name)
            routing.mirror[name] = 0
            routing.set_traffic({other: 100 if other == name else 0 for other in routing.names})

        return self._change(service, change)

    def rollback(self, service: str) -> Service:
        """The live split before the last change, back (twice: forth again)."""

        def change(routing: Routing) -> None:
            previous = routing.previous
            if not previous or sum(previous.values()) != 100 or set(previous) - set(routing.names):
                raise Conflict(
                    f"endpoint {service!r} has no earlier traffic split to roll back to (none was changed since it "
                    "was deployed, or a deployment of the earlier split was deleted)"
                )
            for other, value in previous.items():
                if value:
                    routing.mirror[other] = 0
            routing.set_traffic({other: previous.get(other, 0) for other in routing.names})

        return self._change(service, change)


def _known(routing: Routing, service: str, name: str) -> None:
    if name not in routing.models:
        raise NotFound(
            f"endpoint {service!r} has no deployment named {name!r}; its deployments: {', '.join(routing.names)}"
        )
