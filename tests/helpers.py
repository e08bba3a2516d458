"""Small helpers shared by tests."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.1, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def other_model_run(backend, automl_run_id: str) -> str:
    """A completed child of an AutoML run that is not its best model (registering it makes another model)."""
    best = backend.get_run(automl_run_id).progress["best_child_id"]
    return next(
        child.id
        for child in backend.list_runs(parent_id=automl_run_id)
        if child.id != best and child.status == "Completed"
    )
