"""AppTest of the AutoML, Leaderboard, Models, Score and Pipelines pages with each task: a regression run and a
multiclass run, both trained for real (through a real agent) once per session on small synthetic tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend
from opml.settings import get_settings
from tests.helpers import free_port

REPO = Path(__file__).resolve().parent.parent
TINY = {"experiment_timeout_minutes": 0.4, "max_iterations": 8, "n_cross_validations": 3}
CUTS = ["Fair", "Good", "Very Good", "Premium", "Ideal"]


def diamonds(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """A small synthetic table like ggplot2's diamonds: a price (regression) and a cut (5 classes) to predict."""
    rng = np.random.default_rng(seed)
    carat = rng.uniform(0.2, 2.5, rows).round(2)
    depth = rng.normal(61.5, 1.5, rows).round(1)
    color = rng.choice(list("DEFGHIJ"), rows)
    quality = rng.integers(0, 5, rows)
    price = 3000 * carat**1.6 * (1 + 0.08 * quality) + rng.normal(0, 150, rows) + 120 * (color < "G")
    table = 57 + 1.5 * (4 - quality) + rng.normal(0, 0.6, rows)
    return pd.DataFrame(
        {
            "carat": carat,
            "depth": depth,
            "table": table.round(1),
            "color": color,
            "cut": [CUTS[q] for q in quality],
            "price": price.round(2),
        }
    )


def train(root: Path, csv: Path, name: str, params: dict) -> str:
    """A completed AutoML run of ``params`` on ``csv`` in the workspace ``root``, through a real agent."""
    from opml.agent.launcher import start_agent

    backend = LocalBackend(root)
    backend.register_dataset(name=name, source=csv)
    run = backend.submit_run(
        experiment=f"{name}-automl", run_type="automl", compute="cpu-cluster", params={"dataset": name, **params}
    )
    agent = start_agent(root, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        finished = backend.wait_for_run(run.id, timeout=180)
    finally:
        agent.terminate()
        agent.wait(timeout=15)
    assert finished.status == "Completed", finished.error
    backend.store.close()
    return run.id


@pytest.fixture(scope="session")
def diamonds_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("diamonds") / "diamonds.csv"
    diamonds().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def regression_workspace(tmp_path_factory, diamonds_csv) -> tuple[Path, str]:
    """A workspace with a completed regression run on ``price`` (table ``diamonds``)."""
    root = tmp_path_factory.mktemp("regression") / "workspace"
    params = {"label_column": "price", "task": "regression", "primary_metric": "r2_score", **TINY}
    return root, train(root, diamonds_csv, "diamonds", params)


@pytest.fixture(scope="session")
def multiclass_workspace(tmp_path_factory, diamonds_csv) -> tuple[Path, str]:
    """A workspace with a completed 5-class classification run on ``cut`` (table ``diamonds``)."""
    root = tmp_path_factory.mktemp("multiclass") / "workspace"
    params = {"label_column": "cut", "task": "classification", "primary_metric": "AUC_weighted", **TINY}
    return root, train(root, diamonds_csv, "diamonds", params)


def copy_of(workspace: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    copy = tmp_path / f"workspace-{workspace[0].parent.name}"
    shutil.copytree(workspace[0], copy)
    monkeypatch.setenv("OPML_WORKSPACE", str(copy))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    monkeypatch.setenv("OPML_GATEWAY_PORT", str(free_port()))
    get_settings.cache_clear()
    return LocalBackend(copy)


@pytest.fixture
def regression_backend(regression_workspace, tmp_path, monkeypatch) -> LocalBackend:
    return copy_of(regression_workspace, tmp_path, monkeypatch)


@pytest.fixture
def multiclass_backend(multiclass_workspace, tmp_path, monkeypatch) -> LocalBackend:
    return copy_of(multiclass_workspace, tmp_path, monkeypatch)


def page(path: str) -> AppTest:
    return AppTest.from_file(str(REPO / path), default_timeout=60)


def charts(at: AppTest) -> dict[str, dict]:
    """The plotly figures of a page by widget key."""
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key}


def test_fixtures_train(regression_backend, multiclass_backend, regression_workspace, multiclass_workspace):
    reg = regression_backend.get_run(regression_workspace[1])
    assert reg.params["task"] == "regression"
    details = regression_backend.get_run_output(reg.progress["best_child_id"], "details.json")
    print(json.dumps(details["curves"])[:1500])
    multi = multiclass_backend.get_run(multiclass_workspace[1])
    details = multiclass_backend.get_run_output(multi.progress["best_child_id"], "details.json")
    print(sorted(details["curves"]), details["curves"]["classes"])
