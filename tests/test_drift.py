"""The drift engine: baselines from training data, PSI and Jensen-Shannon distance per feature over collected
Parquet files (written and read back for real), windows, drift over time, histograms, and the benchmark."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.spatial.distance import jensenshannon

from opml.errors import InvalidInput
from opml.models.manifest import input_schema
from opml.monitoring.baseline import (
    Baseline,
    FeatureBaseline,
    bin_labels,
    build_baseline,
    categorical_baseline,
    numeric_baseline,
)
from opml.monitoring.drift import (
    PREDICTION,
    PSI_EPSILON,
    collected_schema,
    drift_of_files,
    drift_over_time,
    drift_over_time_of_files,
    drift_report,
    js_distance,
    psi,
    read_collected,
)

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a whole hour and day
HOUR = 3600.0


def training_frame(rows: int = 20_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.normal(50.0, 10.0, rows),
            "tenure": rng.uniform(0.0, 10.0, rows),
            "plan": rng.choice(["basic", "plus", "pro"], rows, p=[0.5, 0.3, 0.2]),
            "region": rng.choice(["north", "south", "east", "west"], rows),
        }
    )


def manifest_of(X: pd.DataFrame, **extra) -> dict:
    return {
        "input_schema": input_schema(X),
        "classes": ["no", "yes"],
        "label_distribution": {"no": 0.9, "yes": 0.1},
        "dataset": "crafted:1",
        **extra,
    }


def collected(frame: pd.DataFrame, at: np.ndarray, labels: list[str] | None = None) -> pa.Table:
    """Rows in the data collector's schema (numbers float64, the rest text, the predicted label and its proba)."""
    rows = len(frame)
    columns = {
        "request_id": pa.array([f"r{i}" for i in range(rows)]),
        "record": pa.array(np.zeros(rows, dtype=np.int32)),
        "at": pa.array(at, pa.float64()),
        "deployment": pa.array(["m:1"] * rows),
    }
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series):
            columns[f"input.{name}"] = pa.array(series.to_numpy(dtype=np.float64), pa.float64())
        else:
            columns[f"input.{name}"] = pa.array(series.tolist(), pa.string())
    labels = labels if labels is not None else ["no"] * rows
    columns["output.label"] = pa.array(labels, pa.string())
    columns["output.proba.no"] = pa.array([0.8 if label == "no" else 0.2 for label in labels])
    columns["output.proba.yes"] = pa.array([0.2 if label == "no" else 0.8 for label in labels])
    return pa.table(columns)


def write_files(folder: Path, table: pa.Table, rows_per_file: int = 1000) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, start in enumerate(range(0, table.num_rows, rows_per_file)):
        path = folder / f"{int(T0 * 1000) + start}-1-{index}.parquet"
        pq.write_table(table.slice(start, rows_per_file), path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def crafted() -> tuple[Baseline, pd.DataFrame, pd.DataFrame]:
    """A baseline, a window drawn like training, and one with income moved and plan re-mixed."""
    X = training_frame()
    baseline = build_baseline(X, manifest_of(X))
    same = training_frame(5000, seed=1)
    shifted = training_frame(5000, seed=2)
    shifted["income"] = shifted["income"] + 8.0
    shifted["plan"] = np.random.default_rng(3).choice(["basic", "plus", "pro"], 5000, p=[0.2, 0.3, 0.5])
    return baseline, same, shifted


def test_a_shifted_number_and_a_remixed_category_are_flagged_and_the_rest_is_not(crafted, tmp_path: Path):
    baseline, same, shifted = crafted
    table = pa.concat_tables(
        [collected(same, T0 + np.linspace(0, HOUR - 1, 5000)), collected(shifted, T0 + HOUR + np.arange(5000.0))]
    )
    paths = write_files(tmp_path / "collected" / "2026-01-01", table)

    before = drift_of_files(baseline, paths, since=T0, until=T0 + HOUR)
    after = drift_of_files(baseline, paths, since=T0 + HOUR)

    assert before.rows == after.rows == 5000
    assert {d.name: d.verdict for d in before.features} == dict.fromkeys(
        ["income", "tenure", "plan", "region"], "stable"
    )
    assert all(d.psi < 0.1 and d.js < 0.1 for d in before.features)
    verdicts = {d.name: d.verdict for d in after.features}
    assert verdicts == {"income": "drift", "plan": "drift", "tenure": "stable", "region": "stable"}
    assert [d.name for d in after.features][:2] == ["income", "plan"]  # sorted by drift
    psis = [d.psi for d in after.features]
    assert psis == sorted(psis, reverse=True)
    assert after.feature("income").psi >= 0.25 and after.feature("tenure").psi < 0.1
    assert after.feature("plan").js > after.feature("region").js
    # The same rows as a table give the same numbers as the files.
    assert drift_report(baseline, table, since=T0 + HOUR).table() == after.table()


def test_psi_and_js_agree_with_an_independent_computation_on_a_tiny_example(tmp_path: Path):
    # Training 1..10: deciles 1.9, 2.8, ..., 9.1, moved half way to the next value seen: one value per bin.
    feature = numeric_baseline("x", np.arange(1.0, 11.0))
    assert feature.edges == pytest.approx([1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5])
    assert feature.shares == pytest.approx([0.1] * 10) and feature.missing == 0.0
    baseline = Baseline(features=(feature,), prediction=None, prediction_source=None, dataset=None, training_rows=10)
    values = [1.0, 1.5, 2.0, 5.0, 50.0, None]  # bins 0, 0, 1, 4, 9 and missing
    table = pa.table({"at": pa.array([T0] * 6), "input.x": pa.array(values, pa.float64())})
    paths = write_files(tmp_path, table)

    drift = drift_of_files(baseline, paths).feature("x")

    actual = [2 / 6, 1 / 6, 0, 0, 1 / 6, 0, 0, 0, 0, 1 / 6, 1 / 6]
    expected = [0.1] * 10 + [0.0]
    assert drift.actual == pytest.approx(actual) and drift.expected == pytest.approx(expected)
    by_hand = sum(
        (max(a, PSI_EPSILON) - max(e, PSI_EPSILON)) * math.log(max(a, PSI_EPSILON) / max(e, PSI_EPSILON))
        for a, e in zip(actual, expected, strict=True)
    )
    assert drift.psi == pytest.approx(by_hand, rel=1e-12)
    assert drift.js == pytest.approx(jensenshannon(actual, expected, base=2), rel=1e-9)
    assert drift.rows == 6 and drift.verdict == "too few rows"  # numbers given, no verdict on 6 rows


def test_psi_and_js_limits():
    same = np.array([0.5, 0.3, 0.2])
    assert psi(same, same) == pytest.approx(0.0) and js_distance(same, same) == pytest.approx(0.0)
    disjoint = js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert disjoint == pytest.approx(1.0)
    # A bucket empty in training and holding 10 % now: the epsilon keeps PSI finite and large.
    assert 0.5 < psi(np.array([0.9, 0.1]), np.array([1.0, 0.0])) < 1.0
    matrix = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    assert js_distance(matrix, same) == pytest.approx([0.0, jensenshannon(matrix[1], same, base=2)])


def test_unseen_categories_are_other_and_missing_values_are_missing(tmp_path: Path):
    X = pd.DataFrame({"color": ["red"] * 6 + ["blue"] * 3 + [None], "size": [1.0, 2, 3, 4, 5, 6, 7, 8, 9, np.nan]})
    baseline = build_baseline(X, manifest_of(X))
    color = baseline.feature("color")
    assert color.labels == ["red", "blue", "other", "missing"]
    assert color.expected.tolist() == pytest.approx([0.6, 0.3, 0.0, 0.1])
    assert baseline.feature("size").missing == pytest.approx(0.1)
    table = pa.table(
        {
            "at": pa.array([T0] * 5),
            "input.color": pa.array(["red", "green", "purple", None, "blue"]),
            "input.size": pa.array([5.0, None, float("nan"), 1e9, -1e9]),
        }
    )
    report = drift_of_files(baseline, write_files(tmp_path, table))
    assert report.feature("color").actual == pytest.approx([0.2, 0.2, 0.4, 0.2])
    size = report.feature("size")
    assert size.actual[0] == pytest.approx(0.2) and size.actual[-2] == pytest.approx(0.2)  # open-ended end bins
    assert size.actual[-1] == pytest.approx(0.4)  # null and NaN are missing
    histogram = {row["bucket"]: (row["training"], row["recent"]) for row in report.feature("color").histogram()}
    assert histogram == {"red": (0.6, 0.2), "blue": (0.3, 0.2), "other": (0.0, 0.4), "missing": (0.1, 0.2)}


def test_a_category_beyond_the_top_50_is_other():
    X = pd.DataFrame({"code": [f"c{i:03d}" for i in range(60) for _ in range(60 - i)]})
    feature = build_baseline(X, manifest_of(X)).feature("code")
    assert len(feature.categories) == 50 and feature.categories[0] == "c000" and "c055" not in feature.categories
    assert feature.shares[-1] == pytest.approx(sum(range(1, 11)) / len(X))  # the 10 rarest codes
    table = pa.table({"at": pa.array([T0, T0]), "input.code": pa.array(["c055", "c000"])})
    assert drift_report(build_baseline(X, manifest_of(X)), table).feature("code").actual[-2:] == (0.5, 0.0)


def test_booleans_read_as_booleans_whatever_the_collector_wrote():
    X = pd.DataFrame({"flag": [True] * 3 + [False]})
    baseline = build_baseline(X, manifest_of(X))
    assert baseline.feature("flag").labels == ["false", "true", "other", "missing"]
    numbers = pa.table({"at": pa.array([T0] * 4), "input.flag": pa.array([1.0, 0.0, None, 2.0])})
    text = pa.table({"at": pa.array([T0] * 4), "input.flag": pa.array(["True", "false", None, "maybe"])})
    assert drift_report(baseline, numbers).feature("flag").actual == (0.25, 0.5, 0.0, 0.25)
    assert drift_report(baseline, text).feature("flag").actual == (0.25, 0.25, 0.25, 0.25)


def test_an_empty_window_says_so_instead_of_failing(crafted, tmp_path: Path):
    baseline, same, _ = crafted
    paths = write_files(tmp_path, collected(same.head(10), np.full(10, T0)))
    for report in (
        drift_of_files(baseline, paths, since=T0 + HOUR),
        drift_of_files(baseline, []),
        drift_report(baseline, collected(same.head(0), np.zeros(0))),
    ):
        assert report.rows == 0
        assert {d.verdict for d in report.features} == {"no rows"}
        assert all(d.psi is None and d.js is None and sum(d.actual) == 0 for d in report.features)
        assert report.prediction.verdict == "no rows"
        json.dumps(report.to_dict())


def test_windows_are_since_inclusive_until_exclusive_and_checked(crafted, tmp_path: Path):
    baseline, same, _ = crafted
    at = T0 + np.arange(10.0)
    table = collected(same.head(10), at)
    paths = write_files(tmp_path, table, rows_per_file=3)
    assert drift_of_files(baseline, paths, since=T0 + 2, until=T0 + 5).rows == 3
    assert drift_report(baseline, table, since=T0 + 2, until=T0 + 5).rows == 3
    assert drift_of_files(baseline, paths, until=T0 + 1).rows == 1
    assert drift_of_files(baseline, paths, since=T0 + 9).rows == 1
    with pytest.raises(InvalidInput, match=r"until .* must be after since"):
        drift_of_files(baseline, paths, since=T0 + 5, until=T0 + 5)
    with pytest.raises(InvalidInput, match="since must be a time"):
        drift_report(baseline, table, since=float("nan"))


def test_only_the_needed_columns_are_read_and_a_missing_column_counts_as_missing(crafted, tmp_path: Path):
    baseline, same, _ = crafted
    table = collected(same.head(20), np.full(20, T0)).drop_columns(["input.region"])
    paths = write_files(tmp_path, table)
    read = read_collected(paths, baseline)
    assert read.column_names == ["at", "input.income", "input.tenure", "input.plan", "input.region", "output.label"]
    assert read.schema == collected_schema(baseline)
    assert pa.types.is_dictionary(read.schema.field("input.plan").type)  # categories stay dictionary-encoded
    region = drift_of_files(baseline, paths).feature("region")
    assert region.actual[-1] == 1.0 and region.labels[-1] == "missing"


def test_prediction_drift_uses_the_out_of_fold_balance_when_the_manifest_has_it(crafted):
    baseline, same, _ = crafted
    labels = ["yes"] * 1000 + ["no"] * 3000 + ["maybe"] * 1000
    table = collected(same, np.full(5000, T0), labels=labels)
    report = drift_report(baseline, table)
    assert report.prediction_source == "label_distribution"
    assert report.prediction.labels == ("no", "yes", "other", "missing")
    assert report.prediction.actual == pytest.approx((0.6, 0.2, 0.2, 0.0))
    assert report.prediction.verdict == "drift"
    X = training_frame(100)
    oof = build_baseline(X, manifest_of(X, prediction_distribution={"no": 0.6, "yes": 0.4}))
    assert oof.prediction_source == "prediction_distribution"
    assert oof.prediction.expected.tolist() == pytest.approx([0.6, 0.4, 0.0, 0.0])
    bare = build_baseline(X, {"input_schema": input_schema(X)})
    assert bare.prediction is None and drift_report(bare, table).prediction is None


def test_drift_over_time_per_hour_and_per_day(crafted, tmp_path: Path):
    baseline, same, shifted = crafted
    # Hour 0 as in training, hour 1 empty, hour 2 shifted.
    table = pa.concat_tables(
        [collected(same, T0 + np.linspace(0, 3599, 5000)), collected(shifted, T0 + 2 * HOUR + np.zeros(5000))]
    )
    paths = write_files(tmp_path, table)
    hourly = drift_over_time_of_files(baseline, paths, bucket="hour")
    assert hourly.starts == (T0, T0 + HOUR, T0 + 2 * HOUR) and hourly.rows == (5000, 0, 5000)
    assert hourly.psi["income"][0] < 0.1 and hourly.psi["income"][1] is None and hourly.psi["income"][2] >= 0.25
    assert hourly.psi["tenure"][2] < 0.1 and hourly.js["plan"][2] > hourly.js["plan"][0]
    assert hourly.prediction_psi[1] is None
    # Each bucket is the drift table of its own window.
    own = drift_of_files(baseline, paths, since=T0 + 2 * HOUR, until=T0 + 3 * HOUR)
    assert hourly.psi["plan"][2] == pytest.approx(own.feature("plan").psi)
    assert drift_over_time(baseline, table, bucket="hour") == hourly
    records = hourly.records()
    assert len(records) == 2 * 5 and {r["feature"] for r in records} == {*baseline.names, PREDICTION}
    daily = drift_over_time(baseline, table, bucket="day", since=T0 - 86400, until=T0 + 86400)
    assert daily.starts == (T0 - 86400, T0) and daily.rows == (0, 10000)
    assert drift_over_time_of_files(baseline, [], bucket="day").starts == ()
    with pytest.raises(InvalidInput, match="bucket must be one of hour, day"):
        drift_over_time(baseline, table, bucket="minute")
    with pytest.raises(InvalidInput, match="too many for a chart"):
        drift_over_time(baseline, table, bucket="hour", since=T0, until=T0 + 365 * 86400)


def test_bin_labels_and_histograms():
    assert bin_labels([1.3, 4.9]) == ["<= 1.3", "1.3 - 4.9", "> 4.9"]
    assert bin_labels([]) == ["any value"]
    assert bin_labels([4.9621, 4.9624]) == ["<= 4.9621", "4.9621 - 4.9624", "> 4.9624"]  # digits added to differ
    # A value holding most rows gets a bin of its own (else pdays-like columns have one bin for all).
    heavy = numeric_baseline("pdays", np.array([999.0] * 96 + [1.0, 2.0, 3.0, 27.0]))
    assert heavy.edges == (513.0, 999.0) and heavy.shares == pytest.approx((0.04, 0.96, 0.0))


def test_values_a_digit_off_the_training_values_land_in_their_bins(tmp_path: Path):
    """The training CSV parses 93.918 as 93.91799999999999; the same value sent as JSON is 93.918. An edge on a
    training value would put every request on the other side of it (PSI 0.8 on training rows, seen)."""
    parsed = np.repeat([92.89299999999999, 93.2, 93.444, 93.91799999999999, 93.994, 94.465], [20, 15, 15, 20, 20, 10])
    feature = numeric_baseline("cons.price.idx", parsed)
    baseline = Baseline(features=(feature,), prediction=None, prediction_source=None, dataset=None, training_rows=100)
    sent = np.round(parsed, 3)  # what a client sends
    assert not np.array_equal(sent, parsed)
    table = pa.table({"at": pa.array([T0] * 100), "input.cons.price.idx": pa.array(sent, pa.float64())})
    drift = drift_of_files(baseline, write_files(tmp_path, table)).feature("cons.price.idx")
    assert drift.actual == pytest.approx(drift.expected) and drift.psi == pytest.approx(0.0, abs=1e-12)


def test_baseline_json_round_trip_and_refusals(crafted):
    baseline = crafted[0]
    text = baseline.to_json()
    assert len(text) < 10_000
    assert Baseline.from_json(text) == baseline
    data = json.loads(text)
    for broken, message in (
        ({**data, "format": "other"}, "not an opml baseline"),
        ({**data, "features": [{**data["features"][0], "shares": [1.0]}]}, "edges need"),
        ({**data, "features": [{**data["features"][2], "shares": [0.9, 0.9, 0.0, 0.0]}]}, "sum to 1"),
        ({**data, "features": [data["features"][0], data["features"][0]]}, "lists a column twice"),
        ({**data, "features": [{"name": "x"}]}, "not a feature baseline"),
    ):
        with pytest.raises(InvalidInput, match=message):
            Baseline.from_json(json.dumps(broken))
    with pytest.raises(InvalidInput, match="not valid JSON"):
        Baseline.from_json("{")
    assert isinstance(baseline.features[0], FeatureBaseline)


def test_a_baseline_needs_the_training_columns_and_rows():
    X = training_frame(50)
    with pytest.raises(InvalidInput, match=r"lacks the model's input columns plan.*crafted:1"):
        build_baseline(X.drop(columns=["plan"]), manifest_of(X))
    with pytest.raises(InvalidInput, match="no rows"):
        build_baseline(X.head(0), manifest_of(X))
    with pytest.raises(InvalidInput, match="no input_schema"):
        build_baseline(X, {})


def test_the_benchmark_flags_the_shifted_features_on_bank_marketing(bank_csv: Path, capsys):
    from opml.bench import drift as bench

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--data", str(bank_csv), "--rows", "20000", "--file-rows", "2000", "--repeat", "1"])
    assert bench.run(args) == 0
    out = capsys.readouterr().out
    assert "flagged on day 2: age, euribor3m, job; stable on day 1: 20 of 20 -> as expected" in out
    assert "drift table over all 20,000 rows, read from 10 files" in out
    assert bench.run(parser.parse_args(["--data", "/no/such.csv"])) == 2


def test_a_file_that_cannot_be_read_is_left_out_whole_and_named(crafted, tmp_path: Path):
    baseline, same, _ = crafted
    paths = write_files(tmp_path, collected(same.head(3000), T0 + np.arange(3000.0)))  # 3 files of 1,000 rows
    truncated, retyped, gone = paths[0], tmp_path / "retyped.parquet", tmp_path / "deleted-since-listed.parquet"
    truncated.write_bytes(truncated.read_bytes()[:-100])  # a writer that died mid-file
    wrong = collected(same.head(5), np.full(5, T0)).set_column(4, "input.income", pa.array(["a"] * 5))
    pq.write_table(wrong, retyped)  # income as text: cannot be read as a number
    files = [*paths, retyped, gone]

    report = drift_of_files(baseline, files)
    assert report.rows == 2000  # the two good files, and nothing of the bad ones
    assert report.skipped_files == (str(truncated), str(retyped), str(gone))
    assert report.feature("tenure").verdict == "stable"
    over_time = drift_over_time_of_files(baseline, files, bucket="hour")
    assert sum(over_time.rows) == 2000 and over_time.skipped_files == report.skipped_files
    skipped: list[str] = []
    assert read_collected(files, baseline, skipped=skipped).num_rows == 2000 and len(skipped) == 3


def hourly_times(rows: int, seed: int, shift_days: float = 0.0) -> list[str]:
    """Times of 2013 on the hour as a CSV holds them (flights' ``time_hour``), optionally moved later."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2013-01-01") + pd.Timedelta(days=shift_days)
    hours = rng.integers(0, 365 * 24, rows)
    return [(start + pd.Timedelta(hours=int(h))).strftime("%Y-%m-%d %H:%M:%S") for h in hours]


def test_a_column_of_dates_drifts_by_its_instants_and_text_that_is_no_date_is_counted(tmp_path: Path):
    X = pd.DataFrame({"time_hour": hourly_times(20_000, seed=0), "distance": np.arange(20_000.0) % 1000})
    manifest = manifest_of(X)
    assert manifest["input_schema"][0]["format"] == "date-time"
    baseline = build_baseline(X, manifest)
    feature = baseline.feature("time_hour")
    assert feature.kind == "datetime" and len(feature.edges) == 9  # deciles of the instants, not 8,000 categories
    assert feature.labels[0].startswith("<= 2013-02-") and feature.labels[-2:] == ["not a date", "missing"]
    assert Baseline.from_json(baseline.to_json()) == baseline

    distance = np.arange(5000.0) % 1000  # as in training: only the dates move
    same = pd.DataFrame({"time_hour": hourly_times(5000, seed=1), "distance": distance})
    shifted = pd.DataFrame({"time_hour": hourly_times(5000, seed=2, shift_days=120), "distance": distance})
    shifted.loc[:9, "time_hour"] = "tomorrow"  # ten values that are not dates
    table = pa.concat_tables([collected(same, np.full(5000, T0)), collected(shifted, np.full(5000, T0 + HOUR))])
    paths = write_files(tmp_path, table)

    before = drift_of_files(baseline, paths, until=T0 + HOUR).feature("time_hour")
    after = drift_of_files(baseline, paths, since=T0 + HOUR)
    assert before.verdict == "stable" and before.psi < 0.05 and before.not_dates == 0
    moved = after.feature("time_hour")
    assert moved.verdict == "drift" and moved.psi >= 0.25
    assert moved.expected[-3] == pytest.approx(0.1, abs=0.01) and moved.actual[-3] > 0.35  # after the last decile
    assert moved.not_dates == 10 and moved.actual[-2] == pytest.approx(10 / 5000)
    assert [d.name for d in after.features] == ["time_hour", "distance"] and after.feature("distance").psi < 0.01
    assert after.to_dict()["features"][0]["not_dates"] == 10
    assert "time_hour 10" in after.not_dates_text() and before.not_dates == 0
    assert drift_report(baseline, table, since=T0 + HOUR).feature("time_hour").psi == pytest.approx(moved.psi)


def test_dates_with_zones_and_datetime_types_are_the_same_instants():
    moments = pd.to_datetime(hourly_times(1000, seed=3))
    typed = build_baseline(pd.DataFrame({"when": moments}), manifest_of(pd.DataFrame({"when": moments})))
    assert typed.feature("when").kind == "datetime"
    sent = [m.strftime("%Y-%m-%dT%H:%M:%SZ") for m in moments]  # what a client sends, in UTC
    table = pa.table({"at": pa.array([T0] * 1001), "input.when": pa.array([*sent, None])})
    drift = drift_report(typed, table).feature("when")
    assert drift.actual[:-1] == pytest.approx([share * 1000 / 1001 for share in drift.expected[:-1]])
    assert drift.actual[-1] == pytest.approx(1 / 1001) and drift.not_dates == 0


def test_a_baseline_that_kept_dates_as_categories_is_outdated():
    X = pd.DataFrame({"time_hour": hourly_times(100, seed=4), "plan": ["a", "b"] * 50})
    manifest = manifest_of(X)
    current = build_baseline(X, manifest)
    assert not current.outdated_for(manifest)
    old_rule = categorical_baseline("time_hour", X["time_hour"])  # how dates were kept before
    before = Baseline(
        features=(old_rule, current.feature("plan")),
        prediction=current.prediction,
        prediction_source=current.prediction_source,
        dataset=current.dataset,
        training_rows=100,
    )
    assert before.outdated_for(manifest)
