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


def stopped_trials(backend, run_id: str) -> list[str]:
    """A canceled and a failed trial added to the run ``run_id`` as the search records them
    (``opml.automl.runner.AutoMLJob``: the child started Running, its duration logged, then ended without any
    metric)."""
    parent = backend.get_run(run_id)
    ids = []
    for index, (status, error) in enumerate((("Canceled", "stopped: the time was up"), ("Failed", "a crash"))):
        child = backend.runs.insert(
            experiment=parent.experiment,
            run_type="automl",
            compute=parent.compute,
            params={"algorithm": "XGBoostClassifier", "hyperparameters": {"n_estimators": 4}, "featurization": ""},
            display_name="XGBoostClassifier",
            parent_id=run_id,
            run_id=f"{run_id}_{900 + index}",
            status="Running",
        )
        backend.runs.log_metrics(child.id, {"duration_seconds": 1.5})
        backend.runs.finish(child.id, status, error)
        ids.append(child.id)
    return ids


def write_task_tables(folder) -> tuple:
    """Two small tables for the AutoML tasks, written to ``folder``: ``prices.csv`` (600 rows, regression on
    ``price``, which grows with ``carat`` and depends on ``cut``; skewed as prices are, so its models learn
    log(price)) and ``grades.csv`` (600 rows, multiclass ``grade`` of 4 classes). Returns their paths."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    n = 600
    carat = np.clip(np.exp(rng.normal(-0.1, 0.5, n)), 0.2, 4.0).round(2)  # most stones small, a few large
    cut = rng.choice(["Fair", "Good", "Ideal"], n)
    depth = rng.normal(61.5, 1.5, n).round(1)
    price = 3000 * carat**1.6 + pd.Series(cut).map({"Fair": 0, "Good": 400, "Ideal": 900}) + rng.normal(0, 150, n)
    prices = pd.DataFrame({"carat": carat, "cut": cut, "depth": depth, "price": price.round(2)})
    score = carat + rng.normal(0, 0.25, n)
    grade = np.select([score < 0.8, score < 1.4, score < 2.0], ["D", "C", "B"], "A")
    grades = pd.DataFrame({"carat": carat, "cut": cut, "depth": depth, "grade": grade})
    paths = folder / "prices.csv", folder / "grades.csv"
    prices.to_csv(paths[0], index=False)
    grades.to_csv(paths[1], index=False)
    return paths


def train_automl(root, runs: dict) -> dict:
    """AutoML runs trained by a real agent in the workspace ``root``, side by side: ``runs`` maps a run's name to
    (a dataset name, the CSV to register under it (or None: already registered), the run's params without
    "dataset"). Fails unless every run completes. Returns the run ids by name; the agent is stopped and the
    workspace closed."""
    from opml.agent.launcher import start_agent
    from opml.backends.local import LocalBackend

    backend = LocalBackend(root)
    ids = {}
    for name, (dataset, csv, params) in runs.items():
        if csv is not None:
            backend.register_dataset(name=dataset, source=csv)
        run = backend.submit_run(
            experiment=name, run_type="automl", compute="cpu-cluster", params={"dataset": dataset, **params}
        )
        ids[name] = run.id
    agent = start_agent(root, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        for run_id in ids.values():
            finished = backend.wait_for_run(run_id, timeout=180)
            assert finished.status == "Completed", finished.error
    finally:
        agent.terminate()
        agent.wait(timeout=15)
    backend.store.close()
    return ids


def make_search(data, algorithms: list[str], metric: str, iterations: int):
    """An AutoML ``Search`` of ``iterations`` trials over ``data``, one at a time, with ten minutes to finish them
    (time enough on a busy machine), no early stopping and no callbacks."""
    import time

    from opml.automl.search import Search

    return Search(
        data,
        algorithms=algorithms,
        metric=metric,
        max_iterations=iterations,
        max_concurrent=1,
        deadline=time.monotonic() + 600,
        early_stopping=False,
        featurize=True,
        seed=0,
        on_trial_start=lambda trial: None,
        on_trial_end=lambda trial: None,
    )
