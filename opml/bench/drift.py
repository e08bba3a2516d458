"""Drift table speed and verdicts over 1,000,000 collected rows, half of them shifted.

Builds the training baseline from --data (Bank Marketing), writes --rows collected rows drawn from it as
Parquet files of --file-rows rows in a temporary folder, in the data collector's schema, over two days: the
first day as in training, the second shifted (age +10 years, euribor3m -1.5, job drawn uniformly over its
categories, predicted labels 'yes' twice as often). Prints the drift table of each day (the shifted features
should be flagged, the others not) and the time to compute the drift table and the hourly drift over all rows
from the files, best of --repeat. No model is trained: the predicted labels are drawn from the label balance.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bankmarketing_train.csv"
SHIFTED = ("age", "euribor3m", "job")
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC
DAY = 86_400.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=os.environ.get("OPML_BANK_CSV") or str(DEFAULT_DATA),
        help="Bank Marketing CSV (default: $OPML_BANK_CSV, else ../shared/data/bankmarketing_train.csv)",
    )
    parser.add_argument("--label", default="y")
    parser.add_argument("--rows", type=int, default=1_000_000, help="collected rows (default 1,000,000)")
    parser.add_argument("--file-rows", type=int, default=10_000, help="rows per Parquet file (default 10,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions; the best is reported")
    parser.add_argument("--keep", action="store_true", help="keep the folder of Parquet files")
    parser.set_defaults(run=run)


def usage_error(args: argparse.Namespace) -> str | None:
    if not Path(args.data).is_file():
        return f"no such file: {args.data} (give --data or set OPML_BANK_CSV)"
    if args.rows < 2 or args.file_rows < 1 or args.repeat < 1:
        return "--rows must be at least 2, --file-rows and --repeat at least 1"
    return None


def collected_tables(training, schema, label_shares: dict[str, float], rows: int, file_rows: int, seed: int = 0):
    """Yield (first row, Arrow table) per file: rows drawn from ``training``, the second half shifted."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    classes = list(label_shares)
    base_p = np.array([label_shares[c] for c in classes])
    shifted_p = base_p.copy()
    if "yes" in classes:
        yes = classes.index("yes")
        shifted_p[yes] = min(1.0, 2 * base_p[yes])
        shifted_p = shifted_p / shifted_p.sum() if shifted_p.sum() else base_p
        rest = [i for i in range(len(classes)) if i != yes]
        shifted_p[rest] = base_p[rest] * (1 - shifted_p[yes]) / base_p[rest].sum()
    jobs = sorted(training["job"].dropna().astype(str).unique()) if "job" in training else []
    numeric = {c["name"] for c in schema if c["type"] == "numeric"}
    columns = {c["name"]: training[c["name"]] for c in schema}
    for first in range(0, rows, file_rows):
        count = min(file_rows, rows - first)
        index = np.arange(first, first + count)
        shifted = index >= rows // 2
        pick = rng.integers(0, len(training), count)
        at = START + index * (2 * DAY / rows)
        data = {
            "request_id": pa.array([f"req-{i // 10:08d}" for i in index]),
            "record": pa.array(index % 10, pa.int32()),
            "at": pa.array(at),
            "deployment": pa.array(["bank:1"] * count),
        }
        for name, series in columns.items():
            if name in numeric:
                values = series.to_numpy(dtype=np.float64, na_value=np.nan)[pick]
                if name == "age":
                    values = np.where(shifted, values + 10, values)
                elif name == "euribor3m":
                    values = np.where(shifted, values - 1.5, values)
                data[f"input.{name}"] = pa.array(values)
            else:
                values = series.astype(str).to_numpy()[pick]
                if name == "job" and jobs:
                    values = np.where(shifted, np.array(jobs)[rng.integers(0, len(jobs), count)], values)
                data[f"input.{name}"] = pa.array(values.tolist(), pa.string())
        draws = rng.random(count)
        cumulative = np.where(shifted[:, None], np.cumsum(shifted_p), np.cumsum(base_p))
        labels = np.minimum((draws[:, None] > cumulative).sum(axis=1), len(classes) - 1)
        data["output.label"] = pa.array(np.array(classes)[labels].tolist(), pa.string())
        for position, name in enumerate(classes):
            data[f"output.proba.{name}"] = pa.array(np.where(labels == position, 0.8, 0.2 / max(1, len(classes) - 1)))
        yield first, pa.table(data)


def print_report(title: str, report) -> None:
    print(f"\n{title}: {report.rows:,} rows")
    print(f"  {'feature':<16} {'kind':<12} {'PSI':>8} {'JS':>7}  verdict")
    drifts = [*report.features, *([report.prediction] if report.prediction else [])]
    for drift in drifts:
        name = "prediction" if drift is report.prediction else drift.name
        psi = "-" if drift.psi is None else f"{drift.psi:.5f}"
        js = "-" if drift.js is None else f"{drift.js:.4f}"
        print(f"  {name:<16} {drift.kind:<12} {psi:>8} {js:>7}  {drift.verdict}")


def best_of(repeat: int, action) -> tuple[float, float, object]:
    """The best wall time of ``repeat`` calls, the CPU time (all threads) of that call, and its result."""
    best, cpu, result = math.inf, 0.0, None
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = action()
        elapsed = time.perf_counter() - started
        if elapsed < best:
            best, cpu = elapsed, time.process_time() - started_cpu
    return best, cpu, result


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def run(args: argparse.Namespace) -> int:
    problem = usage_error(args)
    if problem:
        print(problem)
        return 2
    import pandas as pd
    import pyarrow.parquet as pq

    from opml.models.manifest import input_schema
    from opml.monitoring.baseline import build_baseline
    from opml.monitoring.drift import drift_of_files, drift_over_time_of_files

    training = pd.read_csv(args.data, sep=None, engine="python")
    if args.label not in training.columns:
        print(f"{args.data} has no column {args.label!r} (give --label)")
        return 2
    X = training.drop(columns=[args.label])
    balance = training[args.label].astype(str).value_counts(normalize=True)
    manifest = {
        "input_schema": input_schema(X),
        "classes": sorted(balance.index),
        "label_distribution": {label: float(balance[label]) for label in sorted(balance.index)},
        "dataset": Path(args.data).name,
    }
    started = time.perf_counter()
    baseline = build_baseline(X, manifest)
    print(
        f"baseline of {len(X):,} training rows, {len(baseline.features)} columns: {time.perf_counter() - started:.2f} s"
    )

    folder = Path(tempfile.mkdtemp(prefix="opml-bench-drift-"))
    try:
        started = time.perf_counter()
        paths = []
        day = folder / "collected" / "2026-01-01"
        day.mkdir(parents=True)
        for first, table in collected_tables(
            X, manifest["input_schema"], manifest["label_distribution"], args.rows, args.file_rows
        ):
            path = day / f"{int(START * 1000) + first}-0-{first // args.file_rows}.parquet"
            pq.write_table(table, path)
            paths.append(path)
        size = sum(path.stat().st_size for path in paths)
        print(
            f"wrote {args.rows:,} collected rows in {len(paths)} Parquet files ({size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - started:.1f} s: {folder}"
        )

        middle = START + DAY
        unshifted = drift_of_files(baseline, paths, since=START, until=middle)
        shifted = drift_of_files(baseline, paths, since=middle)
        print_report("Day 1 (as in training)", unshifted)
        print_report(f"Day 2 (shifted: {', '.join(SHIFTED)}; predictions 'yes' twice as often)", shifted)
        flagged = {d.name for d in shifted.features if d.verdict in ("moderate", "drift")}
        quiet = {d.name for d in unshifted.features if d.verdict == "stable"}
        expected_flags = set(SHIFTED) & set(baseline.names)
        ok = flagged == expected_flags and quiet == set(baseline.names)
        print(
            f"\nflagged on day 2: {', '.join(sorted(flagged)) or 'none'}; "
            f"stable on day 1: {len(quiet)} of {len(baseline.names)} -> {'as expected' if ok else 'NOT as expected'}"
        )

        seconds, cpu, report = best_of(args.repeat, lambda: drift_of_files(baseline, paths))
        print(
            f"\ndrift table over all {report.rows:,} rows, read from {len(paths)} files: {seconds:.2f} s "
            f"(best of {args.repeat}; goal <= 2 s), {cpu:.2f} s of CPU; {load()}"
        )
        seconds, cpu, over_time = best_of(args.repeat, lambda: drift_over_time_of_files(baseline, paths, bucket="hour"))
        print(
            f"hourly drift over time ({len(over_time.starts)} buckets) over all rows: {seconds:.2f} s "
            f"(best of {args.repeat}), {cpu:.2f} s of CPU; {load()}"
        )
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
