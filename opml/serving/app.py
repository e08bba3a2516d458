"""The scoring ASGI app of one service: ``GET /``, ``POST /score``, ``POST /labels``, ``/swagger.json``, ``/docs``.

Each ``/score`` request is answered by one of the endpoint's deployments, drawn by the traffic split or
named in the ``azureml-model-deployment`` header; the answer names it in the same header. A share of
requests may also be mirrored to a shadow deployment, off the request path (``opml.serving.mirror``).

Errors are real status codes with ``{"error", "status_code"}`` bodies; every
``/score`` answer carries ``X-Ms-Request-Id`` and ``X-Ms-Run-Function-Failed``.
Records go straight from JSON to the model's arrays (no DataFrame), one thread
per prediction. With data collection on, a sampled successful request's records
and outputs are queued for the ``CollectionWriter`` (nothing else on the request
path). ``POST /labels`` takes ground truth for earlier requests, with the same key.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from opml.errors import InvalidInput, OpmlError
from opml.httpserver import BodyError, read_body
from opml.keys import bearer_token, key_matches
from opml.monitoring.labels import check_labels
from opml.rollout import DEPLOYMENT_HEADER
from opml.serving.mirror import Mirror
from opml.serving.router import DeploymentRouter, LoadedDeployment
from opml.serving.swagger import swagger_document
from opml.serving.telemetry import TelemetryWriter, predictions_column
from opml.serving.validation import INPUT_DATA, INPUTS, Payload, RequestError, parse_payload

log = logging.getLogger("opml.serving")
# One line per scoring request in the service log: id, status, latency, records. Never the key or the body
# (an error message can quote the body's values: it goes to telemetry, not here).
request_log = logging.getLogger("opml.serving.requests")

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_ROWS = 10_000
MAX_EXPLAIN_ROWS = 1_000  # an explanation costs ~10-100x a prediction
# Bodies larger than this (about 30 records) are handled off the event loop, so health checks and small
# requests are answered while a big batch is parsed and scored.
THREADPOOL_BYTES = 16 * 1024


class RuntimeConfig:
    """The service's keys, switches and routing, re-read whenever ``runtime.json`` changes (one stat per
    request). The file is replaced whole on every change (a new inode), so two changes within the
    filesystem's clock tick are told apart by the inode even when their modification times are equal.
    A file that does not parse as a JSON object (edited by hand) keeps the settings last read, logged once
    per version; only the first read raises."""

    def __init__(self, path: Path):
        self.path = path
        self._version: tuple[int, int, int] | None = None
        self._values: dict[str, Any] = {}

    def current(self) -> dict[str, Any]:
        stat = self.path.stat()
        version = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
        if version != self._version:
            try:
                values = json.loads(self.path.read_text())
                if not isinstance(values, dict):
                    raise ValueError(f"a JSON object is expected, got {type(values).__name__}")
            except ValueError as exc:
                if self._version is None:
                    raise
                log.error("%s does not parse (%s): the settings last read stay in force", self.path, exc)
            else:
                self._values = values
            self._version = version
        return self._values


class ORJSONResponse(JSONResponse):
    """JSON rendered by orjson (several times faster than the standard library for prediction lists)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass
class ScoringService:
    """An endpoint as its process serves it: the router picks the deployment of each request."""

    name: str
    router: DeploymentRouter
    runtime: RuntimeConfig
    telemetry: TelemetryWriter | None = None
    mirror: Mirror | None = None
    store_labels: Callable[[list[tuple[str, int, str]]], int] | None = None  # checked labels -> how many stored
    max_body_bytes: int = MAX_BODY_BYTES
    max_rows: int = MAX_ROWS


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> ORJSONResponse:
    return ORJSONResponse({"error": message, "status_code": status}, status_code=status, headers=headers)


def parse_and_check(raw: bytes, deployment: LoadedDeployment) -> Payload:
    payload = parse_payload(raw)
    deployment.validator.check(payload.records)
    return payload


REGRESSION_REFUSALS = {
    "predict_proba": "a regression model predicts values; predict_proba is for classification models: ask for "
    '"predict" (the default), or "explain" for each column\'s contribution to the predicted value',
}


def predict(deployment: LoadedDeployment, payload: Payload) -> tuple[Any, list, Any]:
    """(response body, predictions, probabilities) for a validated payload. Predictions are labels (text) for
    a classifier, with its (n, k) class probabilities; numbers (floats) for a regressor, with no probabilities
    (None), which refuses ``predict_proba`` (RequestError 400 saying why). ``explain`` answers explanations
    (binary classifiers and regressors; a 400 saying why for other models)."""
    model = deployment.model
    if payload.method == "explain":
        return explain_payload(deployment, payload)
    if deployment.regression:
        if payload.method in REGRESSION_REFUSALS:
            raise RequestError(400, REGRESSION_REFUSALS[payload.method])
        values = model.predict_records(payload.records).tolist()
        return _answer(payload, values), values, None
    proba = model.predict_proba_records(payload.records)
    labels = [str(label) for label in model.labels_for(proba)]
    if payload.method == "predict_proba":
        classes = [str(c) for c in model.classes_]
        results: list = [dict(zip(classes, map(float, row), strict=True)) for row in proba]
    else:
        results = labels
    return _answer(payload, results), labels, proba


def _answer(payload: Payload, results: list) -> Any:
    """The per-record ``results`` in the answer family of the request's shape."""
    if payload.shape == INPUT_DATA:  # as Azure ML's MLflow scoring answers: the bare list, one item per row
        return results
    return {"Results": results} if payload.shape == INPUTS else {"result": results}


def authorize(request: Request, runtime: dict[str, Any]) -> None:
    """The service key check of every authenticated path (RequestError 401)."""
    if runtime.get("auth_enabled", True):
        token = bearer_token(request.headers.get("authorization"))
        if not key_matches(token, [runtime["primary_key"], runtime["secondary_key"]]):
            raise RequestError(401, "missing or wrong key: send 'Authorization: Bearer <primary or secondary key>'")


def require_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise RequestError(415, f"Content-Type must be application/json, got {content_type or 'none'!r}")


def parse_labels(raw: bytes, classes: list[str], task: str = "classification") -> list[tuple[str, int, str]]:
    """The checked labels of a ``POST /labels`` body ``{"labels": [...]}`` (RequestError 400 naming the bad one):
    class names for a classifier, numbers for a regressor (``task`` "regression")."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or set(document) != {"labels"}:
        raise RequestError(400, 'the body must be {"labels": [{"request_id": ..., "label": ..., "record": 0}, ...]}')
    try:
        return check_labels(document["labels"], classes, where=lambda index: f"labels[{index}]", task=task)
    except InvalidInput as exc:
        raise RequestError(400, str(exc)) from None


def collect(deployment: LoadedDeployment, runtime: dict[str, Any], request_id: str, at: float, payload, labels, proba):
    """Queue a successful request for data collection when it is on and the request is sampled; True if so
    (its mirrored answer, if any, is then collected too)."""
    if deployment.collection is None or not runtime.get("data_collection"):
        return False
    if random.random() >= float(runtime.get("collection_sampling_rate", 1.0)):  # noqa: S311 (sampling)
        return False
    deployment.collection.record(request_id=request_id, at=at, records=payload.records, labels=labels, proba=proba)
    return True


def explain_payload(deployment: LoadedDeployment, payload: Payload) -> tuple[Any, list, Any]:
    """(``{"Results": [explanation per record]}`` (see ``opml.automl.explain``), labels, probabilities), or a
    400 that says why not. A regressor's labels are its predicted values and its probabilities None, as
    ``predict`` gives them (telemetry, data collection and the mirror read them alike)."""
    from opml.automl.explain import NotExplainable, explain

    if len(payload.records) > MAX_EXPLAIN_ROWS:
        raise RequestError(
            400, f"explain takes at most {MAX_EXPLAIN_ROWS:,} records per request, got {len(payload.records):,}"
        )
    try:
        explanations = explain(deployment.model, payload.records)
    except NotExplainable as exc:
        raise RequestError(400, f"this service's model cannot be explained: {exc}") from None
    results = [explanations.record(i) for i in range(len(payload.records))]
    return {"Results": results}, explanations.labels, explanations.probabilities


def create_app(service: ScoringService) -> FastAPI:
    app = FastAPI(
        title=service.name, docs_url=None, redoc_url=None, openapi_url=None, default_response_class=ORJSONResponse
    )
    router = service.router

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> ORJSONResponse:
        message = {
            404: f"no such path: {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }
        return error_response(
            exc.status_code, message.get(exc.status_code, str(exc.detail)), getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> ORJSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(500, f"the service failed: {type(exc).__name__}")

    @app.get("/", response_class=PlainTextResponse)
    async def health() -> Response:
        if not router.healthy():
            return error_response(503, "no deployment that takes traffic is loaded")
        return PlainTextResponse("Healthy")

    @app.get("/swagger.json")
    async def swagger() -> ORJSONResponse:
        auth = bool(service.runtime.current().get("auth_enabled", True))
        manifest = await run_in_threadpool(router.endpoint_manifest)
        document = swagger_document(
            service_name=service.name, manifest=manifest, auth_enabled=auth, max_rows=service.max_rows
        )
        return ORJSONResponse(document)

    @app.post("/score")
    async def score(request: Request) -> Response:
        started = time.perf_counter()
        received = time.time()
        request_id = str(uuid.uuid4())
        status, error, records, labels = 200, None, 0, []
        deployment: LoadedDeployment | None = None
        client = request.client.host if request.client else None
        try:
            runtime = service.runtime.current()
            authorize(request, runtime)
            require_json(request)
            pinned = request.headers.get(DEPLOYMENT_HEADER, "").strip() or None
            deployment = router.choose(pinned)
            try:
                raw = await read_body(request, service.max_body_bytes)
            except BodyError as exc:
                raise RequestError(exc.status, exc.message) from None
            if len(raw) > THREADPOOL_BYTES:  # a big batch: parsed, checked and scored off the event loop
                payload = await run_in_threadpool(parse_and_check, raw, deployment)
                records = len(payload.records)
                body, labels, proba = await run_in_threadpool(predict, deployment, payload)
            else:
                payload = parse_and_check(raw, deployment)
                records = len(payload.records)
                body, labels, proba = predict(deployment, payload)
            response: Response = ORJSONResponse(body)
            collected = collect(deployment, runtime, request_id, received, payload, labels, proba)
            shadow = None if pinned or service.mirror is None else router.mirror_for(deployment)
            if shadow is not None:
                service.mirror.submit(
                    shadow, payload, labels, request_id=request_id, at=received, collect=collected, client=client
                )
        except RequestError as exc:
            status, error = exc.status, exc.message
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            response = error_response(status, error, headers)
        response.headers["X-Ms-Request-Id"] = request_id
        response.headers["X-Ms-Run-Function-Failed"] = "False" if status == 200 else "True"
        if deployment is not None:
            response.headers[DEPLOYMENT_HEADER] = deployment.name
        latency_ms = (time.perf_counter() - started) * 1000
        request_log.info("POST /score %s %d %.1f ms %d record(s)", request_id, status, latency_ms, records)
        if service.telemetry is not None and service.runtime.current().get("app_insights_enabled"):
            regression = deployment.regression if deployment is not None else router.serves_regression()
            service.telemetry.record(
                at=time.time(),
                request_id=request_id,
                status=status,
                latency_ms=latency_ms,
                records=records,
                predictions=predictions_column(labels, regression=regression),
                error=error,
                client=client,
                deployment=deployment.name if deployment is not None else None,
            )
        return response

    @app.post("/labels")
    async def add_labels(request: Request) -> Response:
        """Ground truth for earlier requests: ``{"labels": [{"request_id", "label", "record"}]}`` -> accepted."""
        started = time.perf_counter()
        status, accepted = 200, 0
        try:
            authorize(request, service.runtime.current())
            require_json(request)
            if service.store_labels is None:
                raise RequestError(503, "this service does not store labels")
            try:
                raw = await read_body(request, service.max_body_bytes)
            except BodyError as exc:
                raise RequestError(exc.status, exc.message) from None
            manifest = await run_in_threadpool(router.endpoint_manifest)
            classes = [str(c) for c in manifest.get("classes", [])]
            rows = await run_in_threadpool(parse_labels, raw, classes, manifest.get("task") or "classification")
            try:
                accepted = await run_in_threadpool(service.store_labels, rows)
            except OpmlError as exc:  # the store busy or full: nothing was stored
                raise RequestError(exc.http_status, str(exc)) from None
            response: Response = ORJSONResponse({"accepted": accepted})
        except RequestError as exc:
            status = exc.status
            response = error_response(status, exc.message, {"WWW-Authenticate": "Bearer"} if status == 401 else None)
        latency_ms = (time.perf_counter() - started) * 1000
        request_log.info("POST /labels %d %.1f ms %d label(s)", status, latency_ms, accepted)
        return response

    mount_swagger_ui(app)
    return app


def mount_swagger_ui(app: FastAPI) -> None:
    """Swagger UI from the files installed with swagger-ui-bundle: no CDN, works offline."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/static", StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", response_class=HTMLResponse)
    async def docs() -> HTMLResponse:
        return HTMLResponse(SWAGGER_UI_PAGE)


SWAGGER_UI_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Swagger UI</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({url: "/swagger.json", dom_id: "#swagger-ui", deepLinking: true});
  </script>
</body>
</html>
"""
