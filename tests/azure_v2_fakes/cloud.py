"""Azure's side of the SDK v2 fakes: what the workspace holds, errors as azure-core raises them, pollers.

The entities kept here are the SDK's real classes (``AmlCompute``, ``Data``, ``Model``, the AutoML job, ...):
they build offline. What Azure would fill in on its side (a provisioning state, a scoring URI, a job's status)
is set with ``azure_sets``, which refuses an attribute the real class does not have, so opml never reads an
attribute here that a real answer lacks.
"""

from __future__ import annotations

import inspect
import itertools
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def now() -> datetime:
    return datetime.now(UTC)


def azure_sets(entity: Any, **attributes: Any) -> Any:
    """Set what Azure fills in on an entity, refusing attributes the SDK's class does not define."""
    cls = type(entity)
    for name, value in attributes.items():
        if not (hasattr(cls, name) or name in vars(entity)):
            raise AssertionError(f"{cls.__name__} has no attribute {name!r}: a real answer would not carry it")
        declared = inspect.getattr_static(cls, name, None)
        if isinstance(declared, property) and declared.fset is None:  # read-only: the SDK keeps it in _name
            setattr(entity, f"_{name}", value)
            assert getattr(entity, name) == value, f"{cls.__name__}.{name} is not read from _{name}"
        else:
            setattr(entity, name, value)
    return entity


# -- errors: azure-core's own exception classes, built as its pipeline builds them from an HTTP answer ---------


def http_error(status: int, message: str, code: str = "UserError") -> Exception:
    """The exception azure-core raises for an answer of ``status`` with Azure's error body: ResourceNotFoundError
    (404), ResourceExistsError (409), ClientAuthenticationError (401), else HttpResponseError."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceExistsError,
        ResourceNotFoundError,
    )
    from azure.core.pipeline.transport import HttpResponse

    cls = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError}.get(
        status, HttpResponseError
    )

    class _Answer(HttpResponse):  # a received answer: nothing is sent
        def __init__(self) -> None:
            super().__init__(None, None)
            self.status_code = status
            self.reason = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}.get(
                status, "Error"
            )
            self.content_type = "application/json"
            self._body = json.dumps({"error": {"code": code, "message": message}}).encode()

        def body(self) -> bytes:
            return self._body

        def text(self, encoding: str | None = None) -> str:
            return self._body.decode()

    return cls(message=message, response=_Answer())


def not_found(kind: str, name: str) -> Exception:
    return http_error(404, f"{kind} {name} not found in workspace", "UserError")


def expired_sign_in() -> Exception:
    from azure.core.exceptions import ClientAuthenticationError

    return ClientAuthenticationError(
        message="DefaultAzureCredential failed to retrieve a token from the included credentials. "
        "AADSTS700082: The refresh token has expired due to inactivity."
    )


# -- long-running operations ---------------------------------------------------------------------------------


class FakePoller:
    """An ``LROPoller``: ``result()`` waits for the fake's ``done`` (a callable), returning ``value()``."""

    def __init__(self, value: Callable[[], Any] | Any = None, done: Callable[[], bool] | None = None):
        self._value, self._done = value, done or (lambda: True)

    def done(self) -> bool:
        return self._done()

    def status(self) -> str:
        return "Succeeded" if self.done() else "InProgress"

    def wait(self, timeout: float | None = None) -> None:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.02)

    def result(self, timeout: float | None = None) -> Any:
        self.wait(timeout)
        return self._value() if callable(self._value) else self._value


# -- the workspace ---------------------------------------------------------------------------------------------


class FakeAzureML:
    """What one Azure ML workspace holds, for the fakes of every operations class.

    ``execute_pending()`` plays Azure's part, one step per call (a tick): each operations fake registers what
    it does on a tick (``on_tick``), e.g. a cluster finishes provisioning, a job moves on, a deployment becomes
    Healthy. ``refuse(operation, error)`` makes the next call of ``operation`` ("jobs.create_or_update", ...)
    raise ``error`` (Azure refusing), once.
    """

    def __init__(self, *, subscription_id: str = "sub-1", resource_group: str = "rg-1", workspace: str = "ws-1"):
        self.subscription_id, self.resource_group, self.workspace = subscription_id, resource_group, workspace
        self.lock = threading.RLock()
        self.store: dict[str, dict[Any, Any]] = {}  # kind -> key -> entity (each operations fake picks its kinds)
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (operation, arguments) in order, for assertions
        self._refusals: dict[str, list[Exception]] = {}
        self._tickers: list[Callable[[], None]] = []
        self._ids = itertools.count(1)

    def kind(self, name: str) -> dict[Any, Any]:
        return self.store.setdefault(name, {})

    def next_id(self) -> int:
        return next(self._ids)

    def on_tick(self, step: Callable[[], None]) -> None:
        self._tickers.append(step)

    def execute_pending(self) -> None:
        with self.lock:
            for step in list(self._tickers):
                step()

    def refuse(self, operation: str, error: Exception) -> None:
        self._refusals.setdefault(operation, []).append(error)

    def called(self, operation: str, **arguments: Any) -> None:
        """Record a call; raise what ``refuse`` queued for it."""
        self.calls.append((operation, arguments))
        pending = self._refusals.get(operation)
        if pending:
            raise pending.pop(0)

    def calls_of(self, operation: str) -> list[dict[str, Any]]:
        return [arguments for name, arguments in self.calls if name == operation]
