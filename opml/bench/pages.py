"""Dashboard page render times in a workspace of 200 AutoML runs of 60 children each.

Fills a temporary local workspace (or --workspace) with --runs AutoML runs of --children child runs each, as a
run process would have written them: every run submitted through the backend (its settings and data checked),
then its trials and ensembles started, given their parameters, every metric of the task, a details.json with
curves and ended through the run's context (``opml.runtypes.context.RunContext``, what the AutoML runner
writes through), the parent's progress, guardrails, log and best child too. Most runs completed, some failed
or canceled, the newest one running. Nothing is trained, so filling takes about a minute, not days.

Then renders every page of the dashboard, and the pages with a run chosen (the leaderboard of a 60-child run,
a run's details on the Runs page, the AutoML page watching a completed and the running run), with Streamlit's
AppTest, as ``opml up`` serves them on 127.0.0.1. Per page, in ms: its first render in this process (cold:
the imports it is the first to need), a new session's first render, then the median and max wall time of
--rounds reruns of that session (what each click costs) and their median CPU time (the figure other work on
the machine moves least). A 2-line page shows what AppTest itself takes (most of a new session's first
render). Prints the worst page and the load average; exits 1 when a page fails, or with --fail-over-ms when a
page's median is over it.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = ("bank-automl", "churn-automl", "fraud-automl", "leads-automl", "credit-automl", "upsell-automl")
# Trial algorithms in the proportions a search tends to try them, and their featurizations (the leaderboard's).
TRIAL_ALGORITHMS = ("LightGBM",) * 4 + ("XGBoostClassifier",) * 3 + ("ExtremeRandomTrees", "RandomForest")
FEATURIZATION = {
    "LightGBM": "ordinal encoding, native missing values",
    "XGBoostClassifier": "ordinal encoding, native missing values",
    "ExtremeRandomTrees": "ordinal encoding, median imputation",
    "RandomForest": "ordinal encoding, median imputation",
    "LogisticRegression": "one-hot encoding, median imputation, standard scaling",
}
FEATURIZATION["XGBoostRegressor"] = FEATURIZATION["XGBoostClassifier"]
FEATURIZATION["ElasticNet"] = FEATURIZATION["LogisticRegression"]
CURVE_SHAPES = 8  # distinct curves written to the children's details.json (computing 12,000 would take minutes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=200, help="AutoML runs in the workspace (default 200)")
    parser.add_argument("--children", type=int, default=60, help="child runs of each (default 60)")
    parser.add_argument("--rounds", type=int, default=5, help="reruns of each page after its first render")
    parser.add_argument("--fail-over-ms", type=float, help="exit 1 if a page's median rerun takes longer")
    parser.add_argument(
        "--workspace",
        help="fill this workspace if it has no runs, else time its pages as they are; kept afterwards "
        "(default: a temporary workspace, deleted at the end)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the metric values drawn")
    parser.set_defaults(run=run)


def usage_error(args: argparse.Namespace) -> str | None:
    """Why these arguments cannot run (nothing has been made yet), or None."""
    if not 1 <= args.runs <= 10_000:
        return "--runs must be from 1 to 10,000"
    if not 3 <= args.children <= 1_000:
        return "--children must be from 3 to 1,000 (trials and the two ensembles)"
    if not 1 <= args.rounds <= 100:
        return "--rounds must be from 1 to 100"
    if args.fail_over_ms is not None and not (math.isfinite(args.fail_over_ms) and args.fail_over_ms > 0):
        return "--fail-over-ms must be a positive number of milliseconds"
    if args.workspace and Path(args.workspace).exists() and not Path(args.workspace).is_dir():
        return f"--workspace {args.workspace} is a file, not a workspace folder"
    if args.seed < 0:
        return "--seed must be 0 or more"
    return None


# -- filling a workspace ----------------------------------------------------------------------------------------


@dataclass
class Filled:
    """What the filler made: run ids newest first, and the ones the timed pages choose."""

    runs: list[str] = field(default_factory=list)
    children: int = 0
    completed: str | None = None  # the newest completed run (its leaderboard has every child)
    running: str | None = None
    tasks: tuple[str, ...] = ()
    seconds: float = 0.0


def tasks_supported() -> tuple[str, ...]:
    """Every AutoML task: runs alternate between them."""
    from opml.automl.names import TASKS

    return TASKS


def synthetic_table(task: str, rows: int = 2_000, seed: int = 0):
    """A table like Bank Marketing (numbers and categories), its label ``y`` a class or a number."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows).round(4) for i in range(12)})
    for i, levels in enumerate((["a", "b", "c"], ["admin.", "blue-collar", "technician", "services"], ["no", "yes"])):
        frame[f"c{i}"] = rng.choice(levels, size=rows)
    signal = frame["x0"] + 0.5 * frame["x1"] - 0.3 * (frame["c2"] == "yes") + rng.normal(scale=0.8, size=rows)
    frame["y"] = np.where(signal > 0.8, "yes", "no") if task == "classification" else (100 + 20 * signal).round(2)
    return frame


def _metric_names(task: str) -> tuple[str, ...]:
    from opml.automl.names import all_metrics

    return all_metrics(task)


def _draw_metrics(task: str, rng: np.random.Generator, quality: float) -> dict[str, float]:
    """Plausible values of every metric of the task for a model of ``quality`` (0 worst, 1 best)."""
    if task != "classification":
        error = 0.12 - 0.06 * quality + rng.normal(scale=0.003)
        values = {"spearman_correlation": 0.80 + 0.15 * quality, "r2_score": 0.70 + 0.22 * quality}
        values |= {"normalized_root_mean_squared_error": error, "normalized_mean_absolute_error": error * 0.7}
        return {name: float(values.get(name, quality)) for name in _metric_names(task)}
    auc = 0.90 + 0.052 * quality + rng.normal(scale=0.001)
    accuracy = 0.895 + 0.022 * quality + rng.normal(scale=0.001)
    values = {
        "accuracy": accuracy,
        "AUC_weighted": auc,
        "AUC_macro": auc,
        "average_precision_score_weighted": 0.93 + 0.03 * quality,
        "balanced_accuracy": 0.70 + 0.08 * quality,
        "f1_score_weighted": accuracy - 0.01,
        "precision_score_weighted": accuracy - 0.005,
        "recall_score_weighted": accuracy,
        "norm_macro_recall": 0.40 + 0.16 * quality,
        "log_loss": 0.26 - 0.06 * quality + rng.normal(scale=0.002),
        "matthews_correlation": 0.50 + 0.12 * quality,
    }
    return {name: float(values.get(name, quality)) for name in _metric_names(task)}


def _curve_shapes(seed: int) -> dict[str, list[dict]]:
    """A few charts' data per task, as AutoML children keep them (``details.json`` curves)."""
    from opml.automl.metrics import curves, regression_curves

    rng = np.random.default_rng(seed)
    shapes: dict[str, list[dict]] = {"classification": [], "regression": []}
    for k in range(CURVE_SHAPES):
        y = (rng.random(4_000) < 0.11).astype(int)
        score = np.clip(0.11 + (0.25 + 0.03 * k) * (y - 0.11) + rng.normal(scale=0.18, size=len(y)), 0.001, 0.999)
        shapes["classification"].append(curves(y, np.column_stack([1 - score, score]), ["no", "yes"], threshold=0.45))
        values = rng.normal(100, 20, 4_000)
        shapes["regression"].append(regression_curves(values, values + rng.normal(0, 5 + k, 4_000)))
    return shapes


def _hyperparameters(algorithm: str, rng: np.random.Generator) -> dict[str, Any]:
    if algorithm in ("ExtremeRandomTrees", "RandomForest"):
        return {"n_estimators": int(rng.integers(4, 400)), "max_features": round(float(rng.uniform(0.1, 1)), 4)}
    return {
        "n_estimators": int(rng.integers(4, 1200)),
        "num_leaves" if algorithm == "LightGBM" else "max_leaves": int(rng.integers(4, 128)),
        "learning_rate": round(float(10 ** rng.uniform(-2.3, -0.5)), 5),
        "colsample_bytree": round(float(rng.uniform(0.4, 1)), 4),
        "reg_lambda": round(float(10 ** rng.uniform(-3, 1)), 5),
    }


def fill_workspace(backend, *, runs: int, children: int, seed: int = 0) -> Filled:
    """Write ``runs`` AutoML runs of ``children`` child runs each into a local workspace (see the module's
    docstring); returns their ids. Each run's records go in one transaction (the context's calls join it)."""
    from opml.automl.settings import automl_params

    started = time.monotonic()
    filled = Filled(children=children, tasks=tasks_supported())
    rng = np.random.default_rng(seed)
    shapes = _curve_shapes(seed)
    datasets = {"classification": "bank", "regression": "prices"}
    for task in filled.tasks:
        frame = synthetic_table(task, seed=seed).to_csv(index=False).encode()
        backend.register_dataset(name=datasets[task], source=frame, filename=f"{datasets[task]}.csv")
    guardrails = {task: _guardrails(task, seed) for task in filled.tasks}
    for index in range(runs):
        task = filled.tasks[index % len(filled.tasks)]
        newest = index == runs - 1
        status = "Running" if newest else "Failed" if index % 23 == 7 else "Canceled" if index % 37 == 11 else None
        params = automl_params(
            dataset=datasets[task],
            label_column="y",
            task=task,
            primary_metric=_primary_metric(task, index),
            timeout_minutes=float(rng.choice([5, 15, 30, 60])),
            max_iterations=children - 2,
        )
        run = backend.submit_run(
            experiment=EXPERIMENTS[index % len(EXPERIMENTS)], run_type="automl", compute="cpu-cluster", params=params
        )
        made = children // 2 if status in ("Running", "Canceled") else children - 2 if status == "Failed" else children
        with backend.store.transaction():
            _write_run(backend, run, task, status or "Completed", made, rng, shapes, guardrails[task])
        filled.runs.insert(0, run.id)
        if status is None:
            filled.completed = run.id
        if newest:
            filled.running = run.id
    filled.seconds = time.monotonic() - started
    return filled


def _guardrails(task: str, seed: int) -> list[dict]:
    """The data guardrails of the task's table (the AutoML page shows a run's)."""
    from opml.automl.guardrails import run_guardrails
    from opml.automl.refit import prepare

    X, y, _, target = prepare(synthetic_table(task, seed=seed), "y", task)
    return [g.to_dict() for g in run_guardrails(X, y, target, task=task, n_cross_validations=5, validation_size=None)]


def _primary_metric(task: str, index: int) -> str:
    from opml.automl.names import primary_metrics

    if task == "classification":
        metrics = primary_metrics(task)
        return ("AUC_weighted", "accuracy", "AUC_weighted", *metrics)[index % (3 + len(metrics))]
    return ("normalized_root_mean_squared_error", "r2_score", "spearman_correlation")[index % 3]


def _write_run(backend, run, task: str, status: str, made: int, rng, shapes: list[dict], guardrails: list) -> None:
    """One AutoML run's records and files, as its run process writes them."""
    from opml.automl.names import LOWER_IS_BETTER
    from opml.automl.refit import DETAILS_FILE
    from opml.automl.runner import GUARDRAILS_FILE, write_json
    from opml.runtypes.context import RunContext

    context = RunContext(backend, run)
    context.set_status("Running")
    metric = run.params["primary_metric"]
    write_json(context.outputs_of(run.id) / GUARDRAILS_FILE, guardrails)
    log = ["2,000 rows, 15 features, classes ['no', 'yes']" if task == "classification" else "2,000 rows"]
    trials = made - 2 if status == "Completed" else made
    best: tuple[float, str, dict] | None = None
    for n in range(made):
        child_id = f"{run.id}_{n}"
        ensemble = n >= trials
        algorithm = ("VotingEnsemble", "StackEnsemble")[n - trials] if ensemble else _algorithm(task, n, rng)
        if ensemble:
            members = [f"{run.id}_{m}" for m in range(min(5, trials))]
            params: dict[str, Any] = {"members": members, "weights": [round(1 / len(members), 4)] * len(members)}
        else:
            params = {"hyperparameters": _hyperparameters(algorithm, rng), "featurization": FEATURIZATION[algorithm]}
        context.start_child(
            run_id=child_id,
            run_type="automl",
            params={"algorithm": algorithm, **params},
            display_name=algorithm,
            status="Running",
        )
        duration = float(rng.uniform(0.5, 40))
        context.log_metrics({"duration_seconds": duration}, run_id=child_id)
        if status == "Running" and n == made - 1:
            break  # the trial running now
        if n % 17 == 16 and not ensemble:
            context.finish(child_id, "Failed", "LightGBMError: Check failed: (num_data) > (0)")
            continue
        quality = min(1.0, n / max(1, trials) + float(rng.uniform(-0.3, 0.1)) + (0.05 if ensemble else 0))
        metrics = _draw_metrics(task, rng, max(0.0, quality))
        context.log_metrics(metrics, run_id=child_id)
        members = params.get("members") or [child_id]
        spec = {"kind": "single" if not ensemble else algorithm, "members": members, "threshold": 0.45}
        details = {"spec": spec, "feature_importance": {f"x{i}": 1 / (i + 1) for i in range(12)}}
        details["curves"] = shapes[task][n % len(shapes[task])]
        write_json(context.outputs_of(child_id) / DETAILS_FILE, details)
        context.finish(child_id, "Completed")
        value = metrics.get(metric)
        score = -value if metric in LOWER_IS_BETTER or "error" in metric else value
        if best is None or score > best[0]:
            best = (score, child_id, metrics)
        log.append(f"{child_id} {algorithm}: {metric} = {value:.4f}")
        context.set_progress(
            elapsed_seconds=round(n * 4.2, 1),
            timeout_seconds=run.params["experiment_timeout_minutes"] * 60,
            iterations_done=n + 1,
            max_iterations=run.params["max_iterations"],
            best_child_id=best[1],
            best_metric=best[2].get(metric),
            primary_metric=metric,
            phase="searching",
            guardrails=[{k: g[k] for k in ("name", "status")} for g in guardrails],
        )
    context.log_path_of(run.id).write_text("\n".join(log) + "\n")
    if status == "Running":
        return
    if status == "Completed" and best:
        context.set_progress(phase="done")
        context.log_metrics(best[2])
        context.update_progress(best[1], {"best": True})
        context.finish(run.id, "Completed")
    elif status == "Failed":
        context.finish_descendants(run.id, "Failed", "the run process ended")
        context.finish(run.id, "Failed", "the run process exited with code -9 (killed: out of memory?)")
    else:
        context.finish_descendants(run.id, "Canceled", "canceled")
        context.finish(run.id, "Canceled", "canceled by the user")


def _algorithm(task: str, n: int, rng: np.random.Generator) -> str:
    """A child's algorithm: classification's names, with the regression ones in a regression run."""
    regression = task == "regression"
    if n < 2:
        return ("LightGBM", "XGBoostRegressor" if regression else "XGBoostClassifier")[n]
    if n % 11 == 5:
        return "ElasticNet" if regression else "LogisticRegression"
    algorithm = TRIAL_ALGORITHMS[int(rng.integers(len(TRIAL_ALGORITHMS)))]
    return "XGBoostRegressor" if regression and algorithm == "XGBoostClassifier" else algorithm


# -- timing pages -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A page as a user opens it: its file and the choices already made in the session (widget keys)."""

    name: str
    path: str
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Timing:
    """A case's renders in ms: the first of a new session, then its reruns (``error``: the page raised)."""

    case: Case
    first_ms: float
    reruns_ms: tuple[float, ...]
    reruns_cpu_ms: tuple[float, ...] = ()  # this process's CPU time: less moved by other work on the machine
    error: str | None = None
    cold_ms: float | None = None  # the page's first render in this process (its imports included)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.reruns_ms) if self.reruns_ms else math.inf

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.reruns_cpu_ms) if self.reruns_cpu_ms else math.inf

    @property
    def max_ms(self) -> float:
        return max(self.reruns_ms) if self.reruns_ms else math.inf


def routed_pages() -> list[str]:
    """The page files app.py routes, in its order."""
    return re.findall(r'st\.Page\("([^"]+)"', (REPO / "app.py").read_text())


def cases(filled: Filled) -> list[Case]:
    """Every routed page as it opens, then the pages with a run chosen."""
    result = [Case(Path(path).stem, path) for path in routed_pages()]
    if filled.completed:
        run = filled.completed
        result += [
            Case(f"leaderboard: {filled.children}-child run", "pages/leaderboard.py", {"lb_run": run}),
            Case("runs: a run's details", "pages/runs.py", {"runs_selected": run}),
            Case("runs: child runs too", "pages/runs.py", {"runs_children": True}),
            Case("automl: completed run", "pages/automl.py", {"automl_run": run}),
        ]
    if filled.running:
        result.append(Case("automl: running run", "pages/automl.py", {"automl_run": filled.running}))
    return result


def _session(case: Case):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / case.path), default_timeout=120)
    for key, value in case.state.items():
        at.session_state[key] = value
    return at


def _render(at) -> float:
    return _timed_render(at)[0]


def _timed_render(at) -> tuple[float, float]:
    """Wall and CPU time of one run of the page, in ms."""
    started, cpu = time.perf_counter(), time.process_time()
    at.run()
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


def time_case(case: Case, rounds: int, cold_ms: float | None = None) -> Timing:
    """The first render of a new session, then ``rounds`` reruns of it (what a click does)."""
    at = _session(case)
    first = _render(at)
    if at.exception:
        return Timing(case, first, (), error=at.exception[0].value.splitlines()[0], cold_ms=cold_ms)
    if len(at.main.children) < 2:  # a title and nothing else: the dashboard's door stopped the page
        return Timing(case, first, (), error="the page stopped after its title (access refused?)", cold_ms=cold_ms)
    reruns = [_timed_render(at) for _ in range(rounds)]
    return Timing(case, first, tuple(r[0] for r in reruns), tuple(r[1] for r in reruns), cold_ms=cold_ms)


REFERENCE = "(AppTest alone: a 2-line page)"
REFERENCE_PAGE = 'import streamlit as st\n\nst.title("Reference")\nst.caption("no workspace, no opml")\n'


def time_pages(filled: Filled, rounds: int) -> list[Timing]:
    """Each page file rendered once first (the process's imports, timed as ``cold_ms``), then every case."""
    cold = {}
    for case in cases(filled):
        if case.path not in cold:
            cold[case.path] = _render(_session(Case(case.name, case.path)))
    timings = []
    for case in cases(filled):
        timings.append(time_case(case, rounds, cold.pop(case.path, None)))
        print(f"  {case.name}: median {timings[-1].median_ms:.0f} ms", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="opml-bench-page-"))
    try:  # what AppTest itself takes: most of a new session's first render is its own set-up
        (folder / "reference.py").write_text(REFERENCE_PAGE)
        timings.append(time_case(Case(REFERENCE, str(folder / "reference.py")), rounds))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return timings


def as_local_dashboard() -> None:
    """Render pages as ``opml up`` serves them on 127.0.0.1 (whatever .streamlit/config.toml the current
    folder has: elsewhere the door would refuse a dashboard on every interface without sign-in), and keep the
    table readable (AppTest runs pages without a browser session, which Streamlit warns about on each run)."""
    from streamlit import config
    from streamlit.logger import set_log_level

    config.set_option("server.address", "127.0.0.1")
    set_log_level("error")


def report(timings: list[Timing]) -> str:
    """The table of render times and the worst page."""
    width = max(len(t.case.name) for t in timings)
    lines = [f"{'page':<{width}}  {'cold ms':>8}  {'first ms':>8}  {'median ms':>9}  {'max ms':>7}  {'cpu ms':>6}"]
    for t in timings:
        cold = "" if t.cold_ms is None else f"{t.cold_ms:.0f}"
        row = f"{t.case.name:<{width}}  {cold:>8}  {t.first_ms:>8.0f}  "
        times = f"{t.median_ms:>9.0f}  {t.max_ms:>7.0f}  {t.cpu_ms:>6.0f}"
        lines.append(row + (f"error: {t.error}" if t.error else times))
    worst = max((t for t in timings if t.case.name != REFERENCE), key=lambda t: t.median_ms)
    lines.append(f"worst: {worst.case.name} (median {worst.median_ms:.0f} ms, first render {worst.first_ms:.0f} ms)")
    return "\n".join(lines)


def existing_runs(backend) -> Filled:
    """The runs a workspace already has, for timing its pages as they are."""
    runs = backend.list_automl_runs(limit=100_000)
    filled = Filled(runs=[r.id for r in runs])
    filled.completed = next((r.id for r in runs if r.progress.get("best_child_id") and r.is_terminal), None)
    filled.running = next((r.id for r in runs if not r.is_terminal), None)
    if filled.completed:
        filled.children = len(backend.list_runs(parent_id=filled.completed, limit=100_000))
    return filled


def run(args: argparse.Namespace) -> int:
    problem = usage_error(args)
    if problem:
        print(problem)
        return 2
    from opml.backends.local import LocalBackend
    from opml.settings import get_settings

    path = Path(args.workspace) if args.workspace else Path(tempfile.mkdtemp(prefix="opml-bench-pages-"))
    try:
        backend = LocalBackend(path)
        if backend.list_automl_runs(limit=1):
            filled = existing_runs(backend)
            print(f"workspace {path}: its {len(filled.runs)} AutoML runs as they are")
        else:
            filled = fill_workspace(backend, runs=args.runs, children=args.children, seed=args.seed)
            total = backend.runs.count(top_level_only=False)
            print(
                f"filled {path}: {len(filled.runs)} AutoML runs ({', '.join(filled.tasks)}) of {args.children} "
                f"children, {total:,} runs in all, in {filled.seconds:.0f} s"
            )
        backend.store.close()
        as_local_dashboard()
        os.environ.update({"OPML_WORKSPACE": str(path), "OPML_AUTOSTART_AGENT": "0"})
        get_settings.cache_clear()
        print(
            f"rendering each page with AppTest: once cold, then a new session's first render and {args.rounds} reruns"
        )
        load = os.getloadavg()[0]
        timings = time_pages(filled, args.rounds)
        print(report(timings))
        print(f"load average (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores")
        failed = [t.case.name for t in timings if t.error]
        if args.fail_over_ms is not None:
            failed += [t.case.name for t in timings if not t.error and t.median_ms > args.fail_over_ms]
        if failed:
            print(f"failed (an error, or a median over --fail-over-ms): {', '.join(failed)}")
        return 1 if failed else 0
    finally:
        if not args.workspace:
            shutil.rmtree(path, ignore_errors=True)
