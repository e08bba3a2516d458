"""opml's pipeline spec (``opml.pipelines.spec``) as Azure ML pipeline steps.

- data_prep: a ``PythonScriptStep`` running ``prep_runner.py`` next to a copy of the user's
  script; it reads the input dataset, calls ``prepare(df)`` and writes ``prepared.csv`` to an
  ``OutputFileDatasetConfig`` read as delimited files: an output promoted to a tabular dataset,
  registered under the step's ``output_dataset`` when the step completes, and the AutoML step's
  training data (Microsoft's pattern for an AutoMLStep after a data-prep step). A plain
  ``PipelineData`` would stay a folder: nothing registered, and no dataset for AutoML to read.
- automl: an ``AutoMLStep`` with the same ``AutoMLConfig`` as a direct run (its task included), and its
  metrics and best-model outputs (``TrainingOutput``), as in Azure's own samples. Reuse is
  off: Azure decides reuse by the step's definition, and a dataset fixed at build time has
  the same definition on every scheduled run, so a reused step would never train on new data.
- register_model: a ``PythonScriptStep`` running ``register_model.py``, which registers the
  AutoML step's best child through that run (``Run.register_model``), so the model keeps its
  ``run_id`` (deployable, with lineage) and its task; it waits for the AutoML step's model output.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.backends.azure_common.tasks import task_of_params
from opml.files import make_private_dir, write_private_file

if TYPE_CHECKING:
    from opml.backends.azure.datasets import AzureDatasets
    from opml.backends.azure.runs import AzureRuns
    from opml.backends.base import Backend

SCRIPTS = Path(__file__).with_name("step_scripts")


def _source_directory(runs: AzureRuns, name: str, files: dict[str, Path]) -> str:
    folder = runs.state.folder / "step_sources" / name
    make_private_dir(folder)
    for target, source in files.items():
        write_private_file(folder / target, Path(source).read_bytes())
    return str(folder)


def _run_config(runs: AzureRuns) -> Any:
    config = runs.sdk.RunConfiguration()
    config.environment = runs.environment()
    return config


def build_steps(
    steps: list[dict[str, Any]],
    compute_target: Any,
    *,
    runs: AzureRuns,
    datasets: AzureDatasets,
    workspace: Backend,
) -> list[Any]:
    """Azure steps for resolved opml steps (parameters already substituted). ``workspace`` is the backend
    the AutoML settings are checked against (their dataset and label column)."""
    from opml.automl.settings import checked_params

    sdk = runs.sdk
    datastore = sdk.Datastore.get_default(runs.ws)
    azure_steps: list[Any] = []
    prepared = None
    model_data = None
    automl_step_name = None
    trained_on, metric, task, prep_output = "", "", "", ""
    for step in steps:
        if step["type"] == "data_prep":
            prepared = (
                sdk.OutputFileDatasetConfig(name="prepared")
                .read_delimited_files()
                .register_on_complete(name=step["output_dataset"], description=f"output of step {step['name']}")
            )
            prep_output = step["output_dataset"]
            raw = datasets.tabular(step["input_dataset"]).as_named_input("raw")
            azure_steps.append(
                sdk.PythonScriptStep(
                    script_name="prep_runner.py",
                    name=step["name"],
                    arguments=["--output", prepared],
                    compute_target=compute_target,
                    runconfig=_run_config(runs),
                    inputs=[raw],
                    outputs=[prepared],
                    source_directory=_source_directory(
                        runs,
                        step["name"],
                        {"prep_runner.py": SCRIPTS / "prep_runner.py", "prep.py": Path(step["script"])},
                    ),
                    allow_reuse=False,
                )
            )
        elif step["type"] == "automl":
            settings = dict(step["settings"])
            training = None
            if prepared is not None:
                training = prepared
                settings["dataset"] = prep_output
                params = _automl_params(settings)
            else:
                params = checked_params(settings, workspace)
            metrics_data = sdk.PipelineData(
                name="metrics_data",
                datastore=datastore,
                pipeline_output_name="metrics_output",
                training_output=sdk.TrainingOutput(type="Metrics"),
            )
            model_data = sdk.PipelineData(
                name="model_data",
                datastore=datastore,
                pipeline_output_name="best_model_output",
                training_output=sdk.TrainingOutput(type="Model"),
            )
            azure_steps.append(
                sdk.AutoMLStep(
                    name=step["name"],
                    automl_config=runs.automl_config(params, compute_target, training),
                    outputs=[metrics_data, model_data],
                    allow_reuse=False,
                )
            )
            automl_step_name = step["name"]
            metric, task = params["primary_metric"], task_of_params(params)
            version = params.get("dataset_version")
            trained_on = f"{params['dataset']}:{version}" if version else params["dataset"]
        else:
            azure_steps.append(
                sdk.PythonScriptStep(
                    script_name="register_model.py",
                    name=step["name"],
                    arguments=[
                        *("--model_name", step["model_name"], "--automl_step", automl_step_name),
                        *("--primary_metric", metric, "--dataset", trained_on, "--model_path", model_data),
                        *("--task", task),
                    ],
                    compute_target=compute_target,
                    runconfig=_run_config(runs),
                    inputs=[model_data],
                    source_directory=_source_directory(
                        runs, step["name"], {"register_model.py": SCRIPTS / "register_model.py"}
                    ),
                    allow_reuse=False,
                )
            )
    return azure_steps


def _automl_params(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings of an AutoML step that trains on a previous step's output (no registered dataset to check)."""
    from opml.automl.settings import parse_settings

    return {**parse_settings(settings).to_params(), "dataset_version": None}
