"""The pipeline REST gateway: trigger published pipelines and read run status over HTTP.

A client written for Azure ML works unchanged::

    response = requests.post(published.endpoint, headers=auth_header, json={"ExperimentName": "bank"})
    run_id = response.json()["Id"]
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from opml.backends.base import MAX_PIPELINE_RUNS
from opml.entities import NOT_STARTED, QUEUED, Run
from opml.errors import InvalidInput, OpmlError, Unauthorized
from opml.httpserver import GATEWAY_BOUNDS, BodyError, read_body, server_config
from opml.keys import bearer_token

log = logging.getLogger("opml.gateway")
PREFIX = "/pipelines/v1.0/PipelineRuns"


def _error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, "status_code": status}, status_code=status, headers=headers)


def _time(moment) -> str | None:
    return moment.isoformat() if moment else None


def run_document(backend: Any, run: Run) -> dict[str, Any]:
    """A pipeline run as Azure ML's REST API shows it, with its step runs."""
    steps = sorted(backend.list_runs(parent_id=run.id, limit=1000), key=lambda r: r.created_at)
    return {
        "Id": run.id,
        "Status": NOT_STARTED if run.status == QUEUED else run.status,
        "ExperimentName": run.experiment,
        "PipelineId": run.params.get("published_pipeline_id") or run.params.get("pipeline_id"),
        "Description": run.display_name,
        "Tags": run.tags,
        "RunSource": run.params.get("trigger"),
        "CreatedTimeUtc": _time(run.created_at),
        "StartTimeUtc": _time(run.started_at),
        "EndTimeUtc": _time(run.ended_at),
        "Error": run.error,
        "StepRuns": [
            {
                "Id": s.id,
                "Name": s.display_name,
                "Status": s.status,
                "StartTimeUtc": _time(s.started_at),
                "EndTimeUtc": _time(s.ended_at),
                "Error": s.error,
            }
            for s in steps
        ],
    }


MAX_BODY_BYTES = 64 * 1024  # a trigger is a few hundred bytes; Azure's own limit is far below a megabyte
TRIGGER_FIELDS = {"ExperimentName", "ParameterAssignments", "Description", "Tags", "DataPathAssignments"}


def parse_trigger(raw: bytes) -> dict[str, Any]:
    """A trigger's body, checked for its shape (the backend checks the values). Raises InvalidInput."""
    try:
        body = orjson.loads(raw)  # deep nesting is a decode error here, not a RecursionError
    except orjson.JSONDecodeError:
        raise InvalidInput('the request body must be JSON, e.g. {"ExperimentName": "my-experiment"}') from None
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    unknown = sorted(set(body) - TRIGGER_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(name[:60] for name in unknown[:20])}")
    experiment = body.get("ExperimentName")
    if not isinstance(experiment, str) or not experiment.strip():
        raise InvalidInput("ExperimentName is required")
    for field in ("ParameterAssignments", "Tags"):
        if body.get(field) is not None and not isinstance(body[field], dict):
            raise InvalidInput(f"{field} must be an object of names to values")
    if body.get("DataPathAssignments"):  # accepted by Azure; here a run would silently use the default data
        raise InvalidInput(
            "DataPathAssignments is not supported by opml's pipelines: pass the dataset as a pipeline parameter"
        )
    description = body.get("Description")
    if description is not None and not isinstance(description, str):
        raise InvalidInput("Description must be text")
    return body


def create_gateway_app(backend: Any) -> FastAPI:
    """The gateway's routes. They read the body on the event loop (bounded, with the server's deadlines) and
    do everything that touches the store in the thread pool, so a slow database never stalls the loop."""
    app = FastAPI(title="opml pipelines", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(
            exc.status_code, f"no such path: {request.url.path}" if exc.status_code == 404 else str(exc.detail)
        )

    @app.exception_handler(OpmlError)
    async def opml_error(request: Request, exc: OpmlError) -> JSONResponse:
        return _error(exc.http_status, str(exc))  # a busy store is a 503 the client may retry, not a 500

    @app.exception_handler(BodyError)
    async def body_error(request: Request, exc: BodyError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return _error(500, f"the gateway failed: {type(exc).__name__}")

    def authorize(request: Request, message: str = "missing, wrong or revoked token") -> str:
        """The name of the live token the request carries; Unauthorized without one."""
        name = backend.tokens.identify(bearer_token(request.headers.get("authorization")))
        if name is None:
            raise Unauthorized(message)
        return name

    def submit_run(published_id: str, token_name: str, raw: bytes) -> JSONResponse:
        published = backend.get_published_pipeline(published_id)
        body = parse_trigger(raw)
        run = backend.trigger_published_pipeline(  # Conflict (409) when the published pipeline is disabled
            published_id,
            experiment=body["ExperimentName"].strip(),
            parameters=body.get("ParameterAssignments") or {},
            trigger="REST",
            description=body.get("Description") or "",
            tags=body.get("Tags") or {},
        )
        try:  # the run is queued: a trail that cannot be written is logged, not a failed trigger to retry
            backend.record_audit_event(
                f"token {token_name} (REST)", "trigger_pipeline", f"run {run.id} of {published.name}"
            )
        except OpmlError as exc:
            log.error("run %s: the audit event could not be recorded: %s", run.id, exc)
        return JSONResponse(
            {"Id": run.id, "Status": NOT_STARTED, "ExperimentName": run.experiment, "PipelineId": published.id}
        )

    @app.post(PREFIX + "/PipelineSubmit/{published_id}")
    async def submit(published_id: str, request: Request) -> JSONResponse:
        token_name = await run_in_threadpool(
            authorize, request, "missing, wrong or revoked token: send 'Authorization: Bearer <workspace token>'"
        )
        raw = await read_body(request, MAX_BODY_BYTES)
        return await run_in_threadpool(submit_run, published_id, token_name, raw)

    @app.get(PREFIX + "/Pipeline/{published_id}")
    def runs_of(published_id: str, request: Request) -> JSONResponse:
        authorize(request)
        backend.get_published_pipeline(published_id)
        runs = backend.list_pipeline_runs(published_pipeline_id=published_id, limit=MAX_PIPELINE_RUNS)
        return JSONResponse([run_document(backend, run) for run in runs])

    @app.get(PREFIX + "/{run_id}")
    def status(run_id: str, request: Request) -> JSONResponse:
        authorize(request)
        run = backend.get_run(run_id)
        if run.run_type != "pipeline":
            return _error(404, f"run {run_id} is not a pipeline run")
        return JSONResponse(run_document(backend, run))

    return app


class Gateway:
    """The gateway served by uvicorn in a thread of the agent."""

    def __init__(self, backend: Any, host: str, port: int):
        config = server_config(create_gateway_app(backend), host=host, port=port, bounds=GATEWAY_BOUNDS)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._serve, name="pipeline-gateway", daemon=True)

    def _serve(self) -> None:
        try:
            self.server.run()
        except SystemExit:  # uvicorn exits when it cannot bind: the agent goes on without the gateway
            log.error("the pipeline gateway could not start (port in use?)")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
