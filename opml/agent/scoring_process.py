"""Entry point of one scoring process: ``python -m opml.agent.scoring_process WORKSPACE SERVICE``.

Started and watched by the agent's supervisor, like one Azure Container
Instance per service. Loads the registered model (refusing a tampered file),
then serves it with uvicorn on the service's address and port. Its telemetry
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
    from opml.automl.explain import prepare_explainers
    from opml.backends.local.backend import LocalBackend
    from opml.httpserver import SCORING_BOUNDS, raise_file_limit, server_config
    from opml.serving.app import RuntimeConfig, ScoringService, create_app
    from opml.serving.collection import CollectionWriter
    from opml.serving.telemetry import TelemetryWriter

    backend = LocalBackend(workspace)
    row = backend.services.row(name)
    model_entry = backend.get_model(row["model_name"], row["model_version"])
    log.info("service %s: loading model %s (%s)", name, model_entry.id, model_entry.algorithm)
    model = backend.load_model(model_entry.name, model_entry.version).prepare_for_serving()
    # Explainers are built in the background: the service answers /score while a big forest converts.
    threading.Thread(target=prepare_explainers, args=(model,), name="explainers", daemon=True).start()
    telemetry = TelemetryWriter(backend.layout.db, name, backend.layout.service_telemetry_status(name))
    collection = CollectionWriter(
        backend.layout.service_dir(name),
        deployment=model_entry.id,
        input_schema=model_entry.manifest["input_schema"],
        classes=[str(c) for c in model.classes_],
        status_path=backend.layout.service_collection_status(name),
    )
    service = ScoringService(
        name=name,
        model=model,
        manifest=model_entry.manifest,
        runtime=RuntimeConfig(backend.layout.service_runtime(name)),
        telemetry=telemetry,
        collection=collection,
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
        telemetry.close()
        collection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
