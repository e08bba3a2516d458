"""Runs in an Azure ML (SDK v2) pipeline's register node: registers the AutoML node's best model.

The node's input is the AutoML node's ``best_model`` output (an MLflow model folder); it also makes this node wait
for training. MLflow, which Azure ML points at the workspace inside every job (azureml-mlflow is in the curated
sklearn environments), logs the folder as this node's artifact and registers it: the model's lineage is this
node's job, and its tags name the pipeline job, the task, the primary metric and the dataset, as a model
registered from the dashboard carries them (in its properties). (SDK v1 registered through the best trial run
itself; SDK v2 offers no step that does so without azure-ai-ml and a credential inside the job, which the curated
environment does not have.)
"""

import argparse
import os

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--model_name", required=True)
parser.add_argument("--primary_metric", required=True)
parser.add_argument("--dataset", required=True)
parser.add_argument("--task", default="classification")  # a pipeline published before opml knew tasks passes none
args = parser.parse_args()

with mlflow.start_run() as run:
    mlflow.log_artifacts(args.model, artifact_path="mlflow-model")
    tags = {
        "opml_primary_metric": args.primary_metric,
        "opml_task": args.task,
        "opml_dataset": args.dataset,
        "opml_pipeline_job": os.environ.get("AZUREML_ROOT_RUN_ID", ""),
    }
    version = mlflow.register_model(f"runs:/{run.info.run_id}/mlflow-model", args.model_name, tags=tags)
print(f"registered {version.name}:{version.version}")
