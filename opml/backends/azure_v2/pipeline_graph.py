"""opml's pipeline spec (``opml.pipelines.spec``) as an SDK v2 pipeline job, built with ``dsl.pipeline``.

The job's one input, ``training_data``, is the dataset the first step reads (an ``mltable`` data asset:
``datasets.training_input``). Its nodes, named as opml's steps:

- data_prep: a command node running ``step_scripts/prep_step.py`` next to a copy of the user's script in a code
  folder, in the curated environment (``OPML_AZURE_ENVIRONMENT``); it reads ``training_data``, calls
  ``prepare(df)`` and writes an MLTable folder (``outputs.prepared``, type mltable): what the AutoML node trains on
  (AutoML v2 takes mltable training data only).
- automl: the AutoML job ``runs.automl_job`` builds for a direct run, as a node (a classification or a regression
  node, as the step's ``task`` setting says); its ``best_model`` output (an MLflow model) is declared so that a
  register node can bind to it.
- register_model: a command node running ``step_scripts/register_step.py`` on the AutoML node's ``best_model``
  (see that script for what SDK v2 offers there).

``build`` returns the ``PipelineJob``; ``validate`` runs the SDK's own offline checks on it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from opml.backends.azure_common.tasks import task_of_params
from opml.errors import InvalidInput
from opml.files import make_private_dir, write_private_file

SCRIPTS = Path(__file__).with_name("step_scripts")
PIPELINE_INPUT = "training_data"
PREP_OUTPUT = "prepared"
BEST_MODEL = "best_model"


def environment_reference(name: str) -> str:
    """A v2 environment reference of a curated environment name (settings.azure_environment, e.g.
    "AzureML-sklearn-1.5" -> "azureml:AzureML-sklearn-1.5@latest"); a full reference is kept as it is."""
    if name.startswith("azureml:") or "/" in name:
        return name
    return f"azureml:{name}@latest"


def input_dataset(steps: list[dict[str, Any]]) -> str:
    """The dataset the pipeline's first step reads: the data-prep step's input, else the AutoML step's."""
    first = steps[0]
    return first["input_dataset"] if first["type"] == "data_prep" else first["settings"]["dataset"]


def _code_folder(folder: Path, files: dict[str, Path]) -> str:
    make_private_dir(folder)
    for target, source in files.items():
        write_private_file(folder / target, Path(source).read_bytes())
    return str(folder)


def build(
    sdk: Any,
    steps: list[dict[str, Any]],
    *,
    name: str,
    description: str,
    compute: str,
    environment: str,
    sources: Path,
    automl_params: Callable[[dict[str, Any], bool], dict[str, Any]],
    automl_job: Callable[[dict[str, Any], str, Any], Any],
    training_input: Any,
) -> Any:
    """The pipeline job of resolved opml steps (parameters substituted).

    ``automl_params(settings, after_prep)`` checks an AutoML step's settings (against the registered dataset,
    unless it trains on the data-prep node's output); ``automl_job(params, compute, training_data)`` builds the
    AutoML node; ``training_input`` is the pipeline's input (``Input`` of type mltable); ``sources`` is a folder
    of the state directory where each command node's code folder is written."""
    env = environment_reference(environment)
    commands: dict[str, Any] = {}
    for step in steps:
        if step["type"] == "data_prep":
            code = _code_folder(
                sources / step["name"],
                {"prep_step.py": SCRIPTS / "prep_step.py", "prep.py": Path(step["script"])},
            )
            commands[step["name"]] = sdk.command(
                name=_component_name(step["name"]),
                display_name=step["name"],
                description=f"opml data-prep step {step['name']}: prepare(df) of {Path(step['script']).name}",
                code=code,
                command="python prep_step.py --input ${{inputs.raw}} --output ${{outputs.prepared}}",
                inputs={"raw": sdk.Input(type=sdk.AssetTypes.MLTABLE)},
                outputs={PREP_OUTPUT: sdk.Output(type=sdk.AssetTypes.MLTABLE)},
                environment=env,
                compute=compute,
            )

    def graph(training_data):
        previous_output = None
        automl_node: str | None = None  # the AutoML step's name
        params: dict[str, Any] = {}
        for step in steps:
            if step["type"] == "data_prep":
                node = commands[step["name"]](raw=training_data)
                previous_output = node.outputs[PREP_OUTPUT]
            elif step["type"] == "automl":
                params = automl_params(dict(step["settings"]), previous_output is not None)
                training = previous_output if previous_output is not None else training_data
                node = automl_job(params, compute, training)
                # declared after the job is built: the register node binds to it by expression (an output added
                # to a built AutoML job is not a node output object the SDK binds)
                node.outputs = {**(node.outputs or {}), BEST_MODEL: sdk.Output(type=sdk.AssetTypes.MLFLOW_MODEL)}
                automl_node = step["name"]
            else:
                if automl_node is None:  # check_spec puts the register step after the AutoML step
                    raise InvalidInput("a register_model step needs the AutoML step before it")
                version = params.get("dataset_version")
                trained_on = f"{params['dataset']}:{version}" if version else str(params["dataset"])
                code = _code_folder(sources / step["name"], {"register_step.py": SCRIPTS / "register_step.py"})
                register = sdk.command(
                    name=_component_name(step["name"]),
                    display_name=step["name"],
                    description=f"opml register step {step['name']}: the AutoML node's best model",
                    code=code,
                    command=(
                        "python register_step.py --model ${{inputs.model}} --model_name ${{inputs.model_name}} "
                        "--primary_metric ${{inputs.primary_metric}} --dataset ${{inputs.dataset}} "
                        "--task ${{inputs.task}}"
                    ),
                    inputs={
                        "model": sdk.Input(type=sdk.AssetTypes.MLFLOW_MODEL),
                        "model_name": sdk.Input(type="string"),
                        "primary_metric": sdk.Input(type="string"),
                        "dataset": sdk.Input(type="string"),
                        "task": sdk.Input(type="string"),
                    },
                    environment=env,
                    compute=compute,
                )
                node = register(
                    model=f"${{{{parent.jobs.{automl_node}.outputs.{BEST_MODEL}}}}}",
                    model_name=step["model_name"],
                    primary_metric=params["primary_metric"],
                    dataset=trained_on,
                    task=task_of_params(params),
                )
            node.name = step["name"]  # the child job's name in the pipeline: opml's step name
            node.compute = compute

    # dsl.pipeline reads the function's signature for the pipeline component's inputs: one, the training data, an
    # mltable (an annotation object: this module's annotations are strings, which dsl cannot read)
    graph.__annotations__ = {"training_data": sdk.Input(type=sdk.AssetTypes.MLTABLE)}
    graph.__name__ = _component_name(name)
    pipeline = sdk.dsl.pipeline(name=_component_name(name), description=description or None, compute=compute)(graph)
    job = pipeline(training_data=training_input)
    job.display_name = name
    job.settings.default_compute = compute
    job.settings.force_rerun = True  # a scheduled run must train on the data of its day, not reuse a node's output
    return job


def _component_name(name: str) -> str:
    """Azure's component names: lowercase letters, digits and '_' (opml's names may hold '-', '.' or capitals)."""
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")
    return cleaned if cleaned and cleaned[0].isalpha() else f"opml_{cleaned}"


def validate(job: Any) -> None:
    """The SDK's offline checks of a pipeline job (bindings, types, required inputs); InvalidInput with its
    message when they fail. Also builds the REST body, as ``jobs.create_or_update`` will."""
    result = job._validate()
    if not result.passed:
        raise InvalidInput(f"the pipeline job is not valid for Azure ML: {result.error_messages}")
    job._to_rest_object()
