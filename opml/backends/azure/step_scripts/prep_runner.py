"""Runs in an Azure ML pipeline step: the input dataset through the user's prepare(df), to CSV."""

import argparse
import os

from azureml.core import Run
from prep import prepare

parser = argparse.ArgumentParser()
parser.add_argument("--output", required=True)
args = parser.parse_args()

frame = Run.get_context().input_datasets["raw"].to_pandas_dataframe()
prepared = prepare(frame)
os.makedirs(args.output, exist_ok=True)
prepared.to_csv(os.path.join(args.output, "prepared.csv"), index=False)
print(f"prepared {len(prepared)} rows, {prepared.shape[1]} columns")
