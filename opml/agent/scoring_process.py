"""Entry point of one scoring process: ``python -m opml.agent.scoring_process WORKSPACE SERVICE``.

Started and watched by the agent's supervisor, like one Azure Container
Instance per service. Loads the registered model of each of the service's
deployments (refusing a tampered file), then serves them with uvicorn on the
service's address and port, following changes of their traffic split. Its telemetry
and collected data are written by threads of this process and flushed when it
stops; labels POSTed to it go to the workspace's store in one transaction each.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import uvicorn


def main(workspace: Path, name: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("opml.serving")
    from opml.backends.local.backend import LocalBackend
    from opml.httpserver import SCORING_BOUNDS, raise_file_limit, server_config
    from opml.serving.app import RuntimeConfig, ScoringService, create_app
    from opml.serving.mirror import Mirror
    from opml.serving.router import DeploymentRouter
    from opml.serving.telemetry import TelemetryWriter

    backend = LocalBackend(workspace)
    row = backend.services.row(name)
    runtime = RuntimeConfig(backend.layout.service_runtime(name))
    telemetry = TelemetryWriter(backend.layout.db, name, backend.layout.service_telemetry_status(name))
    router = DeploymentRouter(
        runtime=runtime,
        load=lambda deployment, model_id: load_deployment(backend, name, deployment, model_id),
        manifest_of=lambda model_id: backend.resolve_model(model_id).manifest,
        fallback_model=f"{row['model_name']}:{row['model_version']}",
        status_path=backend.layout.service_deployments_status(name),
    )
    router.start()  # loads every deployment; raises (a crash the supervisor reports) when none can serve
    mirror = Mirror(telemetry, lambda: bool(runtime.current().get("app_insights_enabled")))
    service = ScoringService(
        name=name,
        router=router,
        runtime=runtime,
        telemetry=telemetry,
        mirror=mirror,
        store_labels=lambda rows: backend.labels.add(name, rows),
    )
    log.info("service %s: listening on http://%s:%s", name, row["host"], row["port"])
    raise_file_limit()
    config = server_config(
        create_app(service), host=row["host"], port=row["port"], bounds=SCORING_BOUNDS, timeout_graceful_shutdown=5
    )
    try:
        uvicorn.Server(config).run()
    finally:
        mirror.close()
        router.close()
        telemetry.close()
    return 0


def load_deployment(backend, service: str, deployment: str, model_id: str):
    """A deployment ready to serve: its registered model (a tampered file is refused), its schema check and its
    data collection writers; explainers are built in the background (it answers /score while a big forest
    converts)."""
    from opml.automl.explain import prepare_explainers
    from opml.monitoring.collected import MIRRORED
    from opml.serving.app import MAX_ROWS
    from opml.serving.collection import CollectionWriter
    from opml.serving.router import LoadedDeployment
    from opml.serving.validation import SchemaValidator

    log = logging.getLogger("opml.serving")
    entry = backend.resolve_model(model_id)
    log.info("service %s: loading deployment %s, model %s (%s)", service, deployment, entry.id, entry.algorithm)
    model = backend.load_model(entry.name, entry.version).prepare_for_serving()
    threading.Thread(target=prepare_explainers, args=(model,), name=f"explainers-{deployment}", daemon=True).start()
    layout = backend.layout

    def writer(folder: str | None):
        return CollectionWriter(
            layout.service_dir(service),
            deployment=deployment,
            input_schema=entry.manifest["input_schema"],
            classes=[str(c) for c in getattr(model, "classes", ())],
            task=getattr(model, "task", "classification"),
            status_path=layout.service_collection_status(service, f"{deployment}.{folder or 'live'}"),
            **({"folder": folder} if folder else {}),
        )

    return LoadedDeployment(
        name=deployment,
        model_id=entry.id,
        model=model,
        manifest=entry.manifest,
        validator=SchemaValidator(entry.manifest["input_schema"], max_rows=MAX_ROWS),
        collection=writer(None),
        mirror_collection=writer(MIRRORED),
    )


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
