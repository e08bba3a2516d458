"""Runs in an Azure ML pipeline step: registers the best model of the pipeline's AutoML step.

The model is registered through the best child run (``Run.register_model``), not with
``Model.register(workspace, path)``: only then does it carry the ``run_id`` that deploying it needs
and the lineage back to the run that trained it, as a model registered from the dashboard does.
The ``--model_path`` input is the AutoML step's model output: it makes this step wait for that step.
"""

import argparse
import json

MODEL_FILE = "outputs/model.pkl"


def register_best(step_run, *, automl_step, model_name, primary_metric, dataset, pipeline_run_class, automl_run_class):
    """Register the best child of the AutoML step run named ``automl_step`` in ``step_run``'s pipeline run.

    The SDK classes are passed in so that the same code runs in Azure and against opml's SDK fakes."""
    pipeline_run = pipeline_run_class(step_run.experiment, step_run.parent.id)
    found = pipeline_run.find_step_run(automl_step)
    if not found:
        raise RuntimeError(f"no step run named {automl_step} in pipeline run {pipeline_run.id}")
    best = automl_run_class(step_run.experiment, found[0].id).get_best_child()
    metrics = {}
    for name, value in best.get_metrics().items():
        value = value[-1] if isinstance(value, list) and value else value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics[name] = value
    properties = {
        "opml_algorithm": (best.properties or {}).get("run_algorithm", ""),
        "opml_primary_metric": primary_metric,
        "opml_metrics": json.dumps(metrics),
        "opml_dataset": dataset,
    }
    return best.register_model(model_name=model_name, model_path=MODEL_FILE, properties=properties)


def main():
    from azureml.core import Run
    from azureml.pipeline.core import PipelineRun
    from azureml.train.automl.run import AutoMLRun

    parser = argparse.ArgumentParser()
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--automl_step", required=True)
    parser.add_argument("--primary_metric", default="")
    parser.add_argument("--dataset", default="")
    parser.add_argument("--model_path", required=True)
    args = parser.parse_args()
    model = register_best(
        Run.get_context(),
        automl_step=args.automl_step,
        model_name=args.model_name,
        primary_metric=args.primary_metric,
        dataset=args.dataset,
        pipeline_run_class=PipelineRun,
        automl_run_class=AutoMLRun,
    )
    print(f"registered {model.name} version {model.version} from run {model.run_id}")


if __name__ == "__main__":
    main()
