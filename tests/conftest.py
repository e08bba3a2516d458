"""Fixtures: the reference data, throw-away workspaces in tmp_path, a real agent process."""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from opml.backends.local import LocalBackend
from opml.settings import get_settings
from tests import loopback_guard, reference_data
from tests.helpers import free_port

# Tests stay on loopback (tests/loopback_guard.py), for the whole session. The Azure ML SDK, which the Azure
# tests use offline, reads HBI_WORKSPACE_JOB when imported: "true" turns off most of its usage telemetry.
os.environ.setdefault("HBI_WORKSPACE_JOB", "true")
loopback_guard.install()

pytest_plugins = ["tests.azure_fixtures", "tests.azure_v2_fixtures"]
pytest.register_assert_rewrite("tests.contract")  # its modules hold the contract's asserts

# Checks against a real Azure ML workspace are collected only when one is configured (CI has none).
collect_ignore = [] if os.environ.get("OPML_AZURE_CONFIG") else ["test_azure_live.py"]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def bank_csv() -> Path:
    """The Bank Marketing reference file: $OPML_BANK_CSV, ../shared/data, the user's cache, or a verified
    download (``tests/reference_data.py``); with none of them, the test run stops with what to set."""
    try:
        return reference_data.bank_csv()
    except reference_data.ReferenceDataMissing as exc:
        pytest.exit(str(exc), returncode=2)


@pytest.fixture(scope="session")
def bank_rows(bank_csv: Path) -> int:
    """Data rows of the reference file (26,230 in ../shared's sample, 32,950 in the published file)."""
    return reference_data.rows_of(bank_csv)


@pytest.fixture(scope="session")
def bank_small_csv(bank_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 2,000 rows of Bank Marketing: quick to register and profile."""
    lines = bank_csv.read_text().splitlines(keepends=True)[:2001]
    path = tmp_path_factory.mktemp("data") / "bank_small.csv"
    path.write_text("".join(lines))
    return path


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "workspace"
    monkeypatch.setenv("OPML_WORKSPACE", str(path))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    monkeypatch.setenv("OPML_GATEWAY_PORT", str(free_port()))  # agents of tests never collide on 8790
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture
def local_backend(workspace: Path) -> LocalBackend:
    return LocalBackend(workspace)


def _stop_run_processes(backend: LocalBackend) -> None:
    for row in backend.store.query("SELECT pid FROM runs WHERE pid IS NOT NULL"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(row["pid"], signal.SIGKILL)


@pytest.fixture
def agent(local_backend: LocalBackend) -> Iterator[psutil.Popen]:
    """A real ``opml agent`` process for the test's workspace; stopped with its runs afterwards."""
    from opml.agent.launcher import start_agent

    process = start_agent(local_backend.path)
    assert process is not None, "an agent was already running for a fresh workspace"
    yield process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except Exception:
            process.kill()
    _stop_run_processes(local_backend)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a temp folder: (base URL, folder)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = lambda *args, **kwargs: _QuietHandler(*args, directory=str(folder), **kwargs)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


TINY_AUTOML = {
    "dataset": "bank",
    "label_column": "y",
    "experiment_timeout_minutes": 0.5,
    "max_iterations": 10,
    "n_cross_validations": 3,
}


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory: pytest.TempPathFactory, bank_small_csv: Path) -> tuple[Path, str]:
    """A workspace in which a short AutoML run on 2,000 Bank Marketing rows completed, through a real
    agent. Built once per test session; tests get a copy (``trained_backend``)."""
    from tests.helpers import train_automl

    root = tmp_path_factory.mktemp("trained") / "workspace"
    runs = train_automl(root, {"bank-automl": ("bank", bank_small_csv, TINY_AUTOML)})
    return root, runs["bank-automl"]


def opened_copy(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    """A copy of the workspace ``source`` in ``tmp_path``, opened as the test's workspace (no agent autostart, a
    free gateway port)."""
    import shutil

    copy = tmp_path / "workspace"
    shutil.copytree(source, copy)
    monkeypatch.setenv("OPML_WORKSPACE", str(copy))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    monkeypatch.setenv("OPML_GATEWAY_PORT", str(free_port()))
    get_settings.cache_clear()
    return LocalBackend(copy)


@pytest.fixture
def trained_backend(trained_workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    return opened_copy(trained_workspace[0], tmp_path, monkeypatch)


@pytest.fixture
def automl_run_id(trained_workspace) -> str:
    return trained_workspace[1]


TASK_AUTOML = {"experiment_timeout_minutes": 0.5, "max_iterations": 12, "n_cross_validations": 3}


@pytest.fixture(scope="session")
def task_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A workspace in which two short AutoML runs completed through a real agent, side by side: a regression
    on ``prices`` (label ``price``) and a multiclass classification on ``grades`` (label ``grade``, 4
    classes, validated on a 25 % holdout), each with its best model registered (``price-model``,
    ``grade-model``). Built once per test session; tests get a copy (``task_backend``). Returns (folder,
    {"regression": run id, "multiclass": run id})."""
    from tests.helpers import train_automl, write_task_tables

    root = tmp_path_factory.mktemp("tasks") / "workspace"
    prices, grades = write_task_tables(tmp_path_factory.mktemp("task_data"))
    runs = train_automl(
        root,
        {
            "regression": ("prices", prices, {"label_column": "price", "task": "regression", **TASK_AUTOML}),
            "multiclass": (
                "grades",
                grades,
                # validated on a holdout: its best model is kept as the search validated it (no refit)
                {
                    "label_column": "grade",
                    "primary_metric": "AUC_weighted",
                    **{k: v for k, v in TASK_AUTOML.items() if k != "n_cross_validations"},
                    "validation_size": 0.25,
                },
            ),
        },
    )
    backend = LocalBackend(root)
    backend.register_model(name="price-model", run_id=runs["regression"])
    backend.register_model(name="grade-model", run_id=runs["multiclass"])
    backend.store.close()
    return root, runs


@pytest.fixture
def task_backend(task_workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    """A copy of ``task_workspace``'s workspace, opened as the test's workspace."""
    return opened_copy(task_workspace[0], tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def deployed(trained_workspace, tmp_path_factory: pytest.TempPathFactory):
    """A real scoring service (its own uvicorn process, started by a real agent) of the trained model,
    with telemetry on, shared by the HTTP tests of a session: (backend, service name)."""
    import shutil

    from opml.agent.launcher import start_agent

    source, run_id = trained_workspace
    root = tmp_path_factory.mktemp("deployed") / "workspace"
    shutil.copytree(source, root)
    backend = LocalBackend(root)
    backend.register_model(name="bank-model", run_id=run_id)
    backend.deploy_model(name="bank-svc", model_name="bank-model", app_insights_enabled=True)
    agent = start_agent(root, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        service = backend.wait_for_service("bank-svc", timeout=120)
        assert service.state == "Healthy", service.error
        yield backend, "bank-svc"
    finally:
        agent.terminate()
        agent.wait(timeout=30)


@dataclass(frozen=True)
class RolloutWorkspace:
    """A workspace for safe rollout tests (copy it: ``copy_to``): the trained workspace with bank-model:1 (the
    AutoML run's best), bank-model:2 (its LogisticRegression child) and narrow-model:1 (a short AutoML run on
    the data without ``dropped``, the last input column: a model of another input schema)."""

    root: Path
    run_id: str
    dropped: str

    def copy_to(self, tmp_path_factory: pytest.TempPathFactory, name: str) -> LocalBackend:
        import shutil

        root = tmp_path_factory.mktemp(name) / "workspace"
        shutil.copytree(self.root, root)
        return LocalBackend(root)

    @contextlib.contextmanager
    def serving(self, tmp_path_factory: pytest.TempPathFactory, name: str, endpoint: str) -> Iterator[LocalBackend]:
        """A copy with ``endpoint`` serving bank-model:1 as deployment "blue" (telemetry on), through a real
        agent stopped at the end."""
        from opml.agent.launcher import start_agent

        backend = self.copy_to(tmp_path_factory, name)
        backend.deploy_model(name=endpoint, model_name="bank-model", model_version=1, app_insights_enabled=True)
        agent = start_agent(backend.path, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
        try:
            assert backend.wait_for_service(endpoint, timeout=120).state == "Healthy"
            yield backend
        finally:
            agent.terminate()
            agent.wait(timeout=30)


@pytest.fixture(scope="session")
def rollout_workspace(trained_workspace, bank_small_csv: Path, tmp_path_factory) -> RolloutWorkspace:
    """Built once per session: the narrow model's AutoML run is the costly part (a real agent runs it)."""
    import shutil

    import pandas as pd

    from opml.agent.launcher import start_agent

    source, run_id = trained_workspace
    root = tmp_path_factory.mktemp("rollout-source") / "workspace"
    shutil.copytree(source, root)
    backend = LocalBackend(root)
    best = backend.register_model(name="bank-model", run_id=run_id)
    logistic = next(
        run
        for run in backend.list_runs(parent_id=run_id)
        if run.status == "Completed" and run.display_name == "LogisticRegression"
    )
    assert backend.register_model(name="bank-model", run_id=logistic.id).version == 2
    dropped = best.manifest["input_schema"][-1]["name"]
    narrow_csv = tmp_path_factory.mktemp("narrow") / "narrow.csv"
    pd.read_csv(bank_small_csv).drop(columns=dropped).to_csv(narrow_csv, index=False)
    backend.register_dataset(name="bank-narrow", source=narrow_csv)
    params = {
        "dataset": "bank-narrow",
        "label_column": "y",
        "max_iterations": 1,
        "n_cross_validations": 2,
        "experiment_timeout_minutes": 0.5,
    }
    run = backend.submit_run(experiment="narrow", run_type="automl", compute="cpu-cluster", params=params)
    agent = start_agent(root, extra_env={"OPML_GATEWAY_PORT": str(free_port())})
    try:
        assert backend.wait_for_run(run.id, timeout=180).status == "Completed"
    finally:
        agent.terminate()
        agent.wait(timeout=30)
    backend.register_model(name="narrow-model", run_id=run.id)
    backend.store.close()
    return RolloutWorkspace(root, run_id, dropped)


@pytest.fixture
def gateway_backend(local_backend: LocalBackend, bank_small_csv, monkeypatch, tmp_path):
    """A workspace with Bank Marketing (2,000 rows), prep scripts in tmp_path and a free gateway port."""
    monkeypatch.setenv("OPML_GATEWAY_PORT", str(free_port()))
    get_settings.cache_clear()
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    (tmp_path / "prep.py").write_text(
        "def prepare(df):\n    print('dropping duration')\n    return df.drop(columns=['duration'])\n"
    )
    (tmp_path / "broken.py").write_text("def prepare(df):\n    raise ValueError('the prep script is broken')\n")
    return local_backend


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (the browser journey screenshots a failed step)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
