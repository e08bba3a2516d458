"""Runs in an Azure ML (SDK v2) pipeline's data-prep node: the input table through the user's ``prepare(df)``,
written as an MLTable folder (the CSV and its ``MLTable`` file), the type the AutoML node trains on."""

import argparse
import glob
import os

from prep import prepare

# Azure's MLTable schema: the delimited-text transformation is ``read_delimited`` (``read_delimited_files`` is
# SDK v1's OutputFileDatasetConfig method, which an MLTable reader does not know)
MLTABLE = """paths:
  - file: ./prepared.csv
transformations:
  - read_delimited:
      delimiter: ','
      encoding: utf8
      header: all_files_same_headers
      support_multi_line: {multi_line}
"""


def read_table(folder):
    """The input MLTable as a DataFrame: with the ``mltable`` package when the environment has it, else the CSV
    files of the folder (what opml registers: one CSV beside its MLTable file)."""
    import pandas as pd

    try:
        import mltable
    except ImportError:
        files = sorted(glob.glob(os.path.join(folder, "**", "*.csv"), recursive=True))
        if not files:
            raise SystemExit(f"no CSV file under {folder}, and no mltable package to read it") from None
        return pd.concat([pd.read_csv(path) for path in files], ignore_index=True)
    return mltable.load(folder).to_pandas_dataframe()


parser = argparse.ArgumentParser()
parser.add_argument("--input", required=True)
parser.add_argument("--output", required=True)
args = parser.parse_args()

prepared = prepare(read_table(args.input))
os.makedirs(args.output, exist_ok=True)
prepared.to_csv(os.path.join(args.output, "prepared.csv"), index=False)
# a quoted line break inside a value is read as one value only when the reader is told
text = prepared.select_dtypes(include=["object", "string"])
multi_line = bool(text.apply(lambda column: column.astype(str).str.contains("[\r\n]").any()).any())
with open(os.path.join(args.output, "MLTable"), "w") as handle:
    handle.write(MLTABLE.format(multi_line="true" if multi_line else "false"))
print(f"prepared {len(prepared)} rows, {prepared.shape[1]} columns")
