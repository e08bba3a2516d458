"""Runs in an Azure ML pipeline step: registers the AutoML step's best model (Azure's own sample pattern)."""

import argparse

from azureml.core import Model, Run

parser = argparse.ArgumentParser()
parser.add_argument("--model_name", required=True)
parser.add_argument("--model_path", required=True)
args = parser.parse_args()

run = Run.get_context()
workspace = run.experiment.workspace
model = Model.register(workspace=workspace, model_path=args.model_path, model_name=args.model_name)
print(f"registered {model.name} version {model.version}")
