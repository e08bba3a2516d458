"""Runs in an Azure ML pipeline step: registers the best model of the pipeline's AutoML step.

The model is registered through the best child run (``Run.register_model``), not with
``Model.register(workspace, path)``: only then does it carry the ``run_id`` that deploying it needs
and the lineage back to the run that trained it, as a model registered from the dashboard does.
The ``--model_path`` input is the AutoML step's model output: it makes this step wait for that step.

Only ``azureml.core`` is imported: the step runs in a curated environment (``AzureML-sklearn-1.5``
by default) that has azureml-core but neither azureml-pipeline-core nor azureml-train-automl-client,
so ``PipelineRun.find_step_run`` and ``AutoMLRun.get_best_child`` are done here by hand, as they do it.
Children are listed as plain runs (``_rehydrate_runs=False``, as AutoMLRun lists them): rebuilding each in
its own SDK class would need those packages too.
"""

import argparse
import json

MODEL_FILE = "outputs/model.pkl"
BEST_CHILD_TAG = "automl_best_child_run_id"  # what Azure tags a completed AutoML parent with


def lower_is_better(metric):
    """Whether a smaller value of ``metric`` is a better model: log_loss and every regression error (Azure's
    ``MetricObjective``; opml.automl.names.LOWER_IS_BETTER, which this script, run in Azure, cannot import)."""
    return metric == "log_loss" or metric.endswith("_error")


def _name(run):
    """A step run's name: the step's name (``find_step_run`` matches the RunDto's ``name``)."""
    dto = getattr(run, "_run_dto", None) or {}
    return dto.get("name") or run.display_name


def best_trial(automl_run, primary_metric):
    """The best completed trial of an AutoML run: the one Azure tagged, else the best primary metric among the
    completed ``automl_child`` runs (``AutoMLRun.get_best_child``'s rule: the highest, the lowest for an error)."""
    trials = {
        child.id: child
        for child in automl_run.get_children(_rehydrate_runs=False)
        if (child.properties or {}).get("runTemplate") == "automl_child" and child.status == "Completed"
    }
    tagged = (automl_run.tags or {}).get(BEST_CHILD_TAG)
    if tagged in trials:
        return trials[tagged]
    scores = {}
    for run_id, metrics in automl_run.get_metrics(recursive=True).items():
        value = metrics.get(primary_metric)
        value = value[-1] if isinstance(value, list) and value else value
        if run_id in trials and isinstance(value, (int, float)) and not isinstance(value, bool):
            scores[run_id] = value
    if not scores:
        raise RuntimeError(f"AutoML run {automl_run.id} has no completed trial with {primary_metric}")
    pick = min if lower_is_better(primary_metric) else max
    return trials[pick(scores, key=scores.get)]


def register_best(step_run, *, automl_step, model_name, primary_metric, dataset, task="classification"):
    """Register the best trial of the AutoML step run named ``automl_step`` in ``step_run``'s pipeline run."""
    found = [run for run in step_run.parent.get_children(_rehydrate_runs=False) if _name(run) == automl_step]
    if not found:
        raise RuntimeError(f"no step run named {automl_step} in pipeline run {step_run.parent.id}")
    best = best_trial(found[0], primary_metric)
    metrics = {}
    for name, value in best.get_metrics().items():
        value = value[-1] if isinstance(value, list) and value else value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics[name] = value
    properties = {
        "opml_algorithm": (best.properties or {}).get("run_algorithm", ""),
        "opml_primary_metric": primary_metric,
        "opml_task": task,
        "opml_metrics": json.dumps(metrics),
        "opml_dataset": dataset,
    }
    return best.register_model(model_name=model_name, model_path=MODEL_FILE, properties=properties)


def main():
    from azureml.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--automl_step", required=True)
    parser.add_argument("--primary_metric", default="accuracy")
    parser.add_argument("--dataset", default="")
    parser.add_argument("--model_path", required=True)
    parser.add_argument("--task", default="classification")  # pipelines published before opml knew tasks
    args = parser.parse_args()
    model = register_best(
        Run.get_context(),
        automl_step=args.automl_step,
        model_name=args.model_name,
        primary_metric=args.primary_metric,
        dataset=args.dataset,
        task=args.task,
    )
    print(f"registered {model.name} version {model.version} from run {model.run_id}")


if __name__ == "__main__":
    main()
