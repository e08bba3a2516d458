"""Data collection without a service: the writer's files (schema, permissions, atomic names), its bounds, the
choice of files by time, retention, the labels' checks and live accuracy on crafted data."""

from __future__ import annotations

import datetime as dt
import os
import stat
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from opml.errors import InvalidInput
from opml.monitoring.accuracy import live_accuracy
from opml.monitoring.collected import collected_dir, collected_files, prune_collected, read_collected
from opml.monitoring.labels import check_labels, read_labels_csv
from opml.serving.collection import CollectionWriter

DAY = 86_400
SCHEMA = [
    {"name": "age", "type": "numeric"},
    {"name": "default", "type": "boolean"},
    {"name": "job", "type": "categorical"},
]
CLASSES = ["no", "yes"]


def writer(folder: Path, **options) -> CollectionWriter:
    return CollectionWriter(
        folder,
        deployment="bank-model:3",
        input_schema=SCHEMA,
        classes=CLASSES,
        status_path=folder / "collection.json",
        **options,
    )


def request(collection: CollectionWriter, request_id: str, at: float, records: list[dict], yes: list[float]) -> bool:
    proba = np.array([[1 - p, p] for p in yes])
    labels = ["yes" if p >= 0.5 else "no" for p in yes]
    return collection.record(request_id=request_id, at=at, records=records, labels=labels, proba=proba)


def test_files_hold_the_documented_schema_exactly(tmp_path: Path):
    collection = writer(tmp_path)
    at = time.time()
    request(collection, "r-1", at, [{"age": 41, "default": True, "job": "admin."}, {"job": 7}], [0.2, 0.9])
    collection.close()
    files = collected_files(tmp_path)
    assert len(files) == 1
    path = files[0]
    assert path.parent.name == dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d")
    first_ms, pid, seq = path.stem.split("-")
    assert (int(first_ms), int(pid), int(seq)) == (int(at * 1000), os.getpid(), 1)
    table = pq.read_table(path)
    assert [(field.name, str(field.type)) for field in table.schema] == [
        ("request_id", "string"),
        ("record", "int32"),
        ("at", "double"),
        ("deployment", "string"),
        ("input.age", "double"),
        ("input.default", "double"),
        ("input.job", "string"),
        ("output.label", "string"),
        ("output.proba.no", "double"),
        ("output.proba.yes", "double"),
    ]
    assert table.to_pylist() == [
        {
            "request_id": "r-1",
            "record": 0,
            "at": at,
            "deployment": "bank-model:3",
            "input.age": 41.0,
            "input.default": 1.0,
            "input.job": "admin.",
            "output.label": "no",
            "output.proba.no": pytest.approx(0.8),
            "output.proba.yes": 0.2,
        },
        {
            "request_id": "r-1",
            "record": 1,
            "at": at,
            "deployment": "bank-model:3",
            "input.age": None,
            "input.default": None,
            "input.job": "7",
            "output.label": "yes",
            "output.proba.no": pytest.approx(0.1),
            "output.proba.yes": 0.9,
        },
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (path.parent, collected_dir(tmp_path)):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    status = (tmp_path / "collection.json").read_text()
    assert '"rows": 2' in status and '"dropped": 0' in status
    assert stat.S_IMODE((tmp_path / "collection.json").stat().st_mode) == 0o600


def test_a_file_holds_one_minute_and_is_named_by_its_first_row(tmp_path: Path):
    collection = writer(tmp_path)
    base = (time.time() // 60) * 60 - 120  # the start of a minute, two minutes ago
    for offset in (5.0, 50.0, 65.0, 119.5):
        request(collection, f"r-{offset}", base + offset, [{"age": 1}], [0.3])
    collection.close()
    files = collected_files(tmp_path)
    assert [int(path.stem.split("-")[0]) for path in files] == [int((base + 5) * 1000), int((base + 65) * 1000)]
    assert [pq.read_table(path).num_rows for path in files] == [2, 2]


def test_a_full_queue_drops_and_counts_and_never_blocks(tmp_path: Path):
    collection = writer(tmp_path, flush_seconds=60, max_queued_rows=5)
    at = time.time()
    started = time.perf_counter()
    assert request(collection, "a", at, [{"age": 1}] * 3, [0.1] * 3)
    assert not request(collection, "b", at, [{"age": 2}] * 3, [0.1] * 3)  # 6 > 5: dropped whole
    assert request(collection, "c", at, [{"age": 3}] * 2, [0.1] * 2)
    assert not request(collection, "d", at, [{"age": 4}], [0.1])
    assert time.perf_counter() - started < 0.5
    assert collection.dropped == 4
    collection.close()  # flushes what was queued
    table = read_collected(collected_files(tmp_path))
    assert sorted(set(table.column("request_id").to_pylist())) == ["a", "c"]
    assert '"dropped": 4' in (tmp_path / "collection.json").read_text()


def test_the_writer_survives_a_refused_write(tmp_path: Path):
    collected_dir(tmp_path).write_text("in the way")  # a file where the folder should be
    collection = writer(tmp_path, flush_seconds=0.1)
    request(collection, "lost", time.time(), [{"age": 1}, {"age": 2}], [0.1, 0.2])
    deadline = time.monotonic() + 10
    while collection.dropped < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert collection.dropped == 2 and collection.last_error
    collected_dir(tmp_path).unlink()
    request(collection, "kept", time.time(), [{"age": 3}], [0.7])
    collection.close()
    table = read_collected(collected_files(tmp_path))
    assert table.column("request_id").to_pylist() == ["kept"]
    assert '"dropped": 2' in (tmp_path / "collection.json").read_text()


def _write_old(tmp_path: Path, ages_in_days: list[float]) -> float:
    now = time.time()
    collection = writer(tmp_path)
    for age in ages_in_days:
        request(collection, f"age-{age}", now - age * DAY, [{"age": age}], [0.5])
    collection.close()
    return now


def test_files_are_chosen_by_time_from_their_names(tmp_path: Path):
    now = _write_old(tmp_path, [0, 0.5, 2, 2.5, 10])
    assert len(collected_files(tmp_path)) == 5
    recent = collected_files(tmp_path, since=now - 1 * DAY)
    assert read_collected(recent, ["request_id"]).column("request_id").to_pylist() == ["age-0.5", "age-0"]
    window = collected_files(tmp_path, since=now - 3 * DAY, until=now - 1 * DAY)
    assert read_collected(window, ["request_id"]).column("request_id").to_pylist() == ["age-2.5", "age-2"]
    (collected_files(tmp_path)[0].parent / "notes.txt").write_text("not ours")
    (collected_files(tmp_path)[0].parent / ".123-1-1.parquet.tmp").write_text("half a file")
    assert len(collected_files(tmp_path)) == 5
    assert collected_files(tmp_path / "nowhere") == []


def test_reading_tolerates_a_column_older_files_lack(tmp_path: Path):
    old = CollectionWriter(tmp_path, deployment="m:1", input_schema=SCHEMA[:1], classes=CLASSES)
    old.record(request_id="old", at=time.time() - 120, records=[{"age": 1}], labels=["no"], proba=[[0.9, 0.1]])
    old.close()
    new = writer(tmp_path)
    request(new, "new", time.time(), [{"age": 2, "job": "x"}], [0.6])
    new.close()
    files = collected_files(tmp_path)
    table = read_collected(files, ["request_id", "input.job", "input.age"])
    assert table.to_pylist() == [
        {"request_id": "old", "input.job": None, "input.age": 1.0},
        {"request_id": "new", "input.job": "x", "input.age": 2.0},
    ]
    assert read_collected(files).column("input.job").to_pylist() == [None, "x"]
    assert read_collected([], ["at"]).num_rows == 0


def test_retention_deletes_whole_old_days_and_old_files_of_the_boundary_day(tmp_path: Path):
    now = _write_old(tmp_path, [0, 1.2, 2.9, 3.2, 40])
    removed = prune_collected(tmp_path, now - 3 * DAY)
    assert removed == 2
    kept = read_collected(collected_files(tmp_path), ["request_id"]).column("request_id").to_pylist()
    assert kept == ["age-2.9", "age-1.2", "age-0"]
    cutoff_day = dt.datetime.fromtimestamp(now - 3 * DAY, dt.UTC).strftime("%Y-%m-%d")
    days = sorted(p.name for p in collected_dir(tmp_path).iterdir())
    assert all(day >= cutoff_day for day in days)
    assert prune_collected(tmp_path, now - 3 * DAY) == 0


def test_the_agents_retention_uses_each_services_days(trained_backend, automl_run_id):
    from opml.agent.retention import Retention

    backend = trained_backend
    backend.register_model(name="bank-model", run_id=automl_run_id)
    backend.deploy_model(name="short", model_name="bank-model", collection_retention_days=2)
    backend.deploy_model(name="long", model_name="bank-model")  # 30 days
    for name in ("short", "long"):
        _write_old(backend.layout.service_dir(name), [0, 5, 45])
    assert Retention(backend).prune_collected(time.time()) == {"short": 2, "long": 1}
    remaining = {name: len(collected_files(backend.layout.service_dir(name), since=0)) for name in ("short", "long")}
    assert remaining == {"short": 1, "long": 2}


# -- labels ---------------------------------------------------------------------------------------------------

RID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_labels_are_checked_and_the_bad_one_named():
    rows = check_labels([{"request_id": RID.upper(), "label": "yes", "record": 2}, {"request_id": RID, "label": "no"}])
    assert rows == [(RID, 2, "yes"), (RID, 0, "no")]
    cases = [
        ([{"request_id": RID, "label": "yes"}, {"request_id": RID, "label": "maybe"}], "label 2: label 'maybe'"),
        ([{"request_id": RID, "label": 1}], "label 1: label must be a class name"),
        ([{"request_id": RID, "label": "no", "record": True}], "record must be"),
        ([{"request_id": RID, "label": "no", "record": 10_000}], "record must be"),
        ([{"label": "no"}], "request_id must be"),
        ([["not", "a", "dict"]], "must be an object"),
        ({"request_id": RID, "label": "no"}, "must be a list"),
    ]
    for labels, fragment in cases:
        with pytest.raises(InvalidInput) as info:
            check_labels(labels, CLASSES)
        assert fragment in str(info.value)
    with pytest.raises(InvalidInput, match="at most 100,000"):
        check_labels([{"request_id": RID, "label": "no"}] * 100_001, CLASSES)


def test_a_labels_csv_names_its_bad_line():
    labels, lines = read_labels_csv(f"request_id,label,record\n{RID},yes,1\n\n{RID},no,0\n".encode())
    assert labels == [{"request_id": RID, "label": "yes", "record": 1}, {"request_id": RID, "label": "no", "record": 0}]
    assert lines == [2, 4]
    labels, lines = read_labels_csv(f"label,request_id\nno,{RID}\n".encode())
    assert labels == [{"label": "no", "request_id": RID}]
    for data, fragment in (
        (b"", "empty"),
        (b"id,label\n", "line 1: the columns"),
        (f"request_id,label\n{RID},yes\n{RID}\n".encode(), "line 3: 1 field(s)"),
        (f"request_id,label,record\n{RID},yes,first\n".encode(), "line 2: record"),
        (b"request_id,label\n", "no labels"),
        (b"\xff\xfe", "not UTF-8"),
    ):
        with pytest.raises(InvalidInput) as info:
            read_labels_csv(data)
        assert fragment in str(info.value)


# -- live accuracy ----------------------------------------------------------------------------------------------


def _auc_by_pairs(truth: list[bool], scores: list[float]) -> float:
    """ROC AUC as the share of (positive, negative) pairs ranked right, ties counting half."""
    positives = [s for t, s in zip(truth, scores, strict=True) if t]
    negatives = [s for t, s in zip(truth, scores, strict=True) if not t]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def test_live_accuracy_joins_labels_by_request_and_record(tmp_path: Path):
    rng = np.random.default_rng(7)
    bucket = 600
    start = (time.time() // bucket) * bucket - 3 * bucket
    collection = writer(tmp_path)
    predictions: dict[tuple[str, int], tuple[float, float]] = {}  # (request, record) -> (at, P(yes))
    for index in range(60):
        at = start + index * 25  # 60 requests over 1,500 s: three buckets
        request_id = f"{index:08x}-0000-4000-8000-000000000000"
        yes = rng.random(2).round(3).tolist()
        request(collection, request_id, at, [{"age": 30}, {"age": 40}], yes)
        for record, p in enumerate(yes):
            predictions[(request_id, record)] = (at, p)
    request(collection, "ffffffff-0000-4000-8000-000000000000", start - 7200, [{"age": 1}], [0.9])  # before `since`
    collection.close()
    labelled = sorted(predictions)[::3]  # a third of the records get a label
    labels = [(rid, record, "yes" if rng.random() < 0.6 else "no") for rid, record in labelled]
    labels.append(("eeeeeeee-0000-4000-8000-000000000000", 0, "yes"))  # never collected
    labels.append(("ffffffff-0000-4000-8000-000000000000", 0, "yes"))  # made before the window
    manifest = {"metrics": {"accuracy": 0.91, "AUC_weighted": 0.93}}
    result = live_accuracy(
        tmp_path, labels, classes=CLASSES, manifest=manifest, since=start, until=time.time(), bucket_seconds=bucket
    )
    expected: dict[int, list[tuple[bool, bool, float]]] = {}
    for rid, record, truth in labels[:-2]:
        at, p = predictions[(rid, record)]
        expected.setdefault(int(at // bucket), []).append((("yes" if p >= 0.5 else "no") == truth, truth == "yes", p))
    assert [b["at"] for b in result.buckets] == [float(key * bucket) for key in sorted(expected)]
    for got, key in zip(result.buckets, sorted(expected), strict=True):
        members = expected[key]
        assert got["labelled"] == len(members)
        assert got["correct"] == sum(right for right, _, _ in members)
        assert got["accuracy"] == pytest.approx(got["correct"] / len(members))
        assert got["auc"] == pytest.approx(_auc_by_pairs([t for _, t, _ in members], [p for _, _, p in members]))
    everything = [member for members in expected.values() for member in members]
    assert (result.labelled, result.unmatched) == (len(everything), 2)
    assert result.correct == sum(right for right, _, _ in everything)
    assert result.accuracy == pytest.approx(result.correct / result.labelled)
    assert result.auc == pytest.approx(_auc_by_pairs([t for _, t, _ in everything], [p for _, _, p in everything]))
    assert (result.cv_accuracy, result.cv_auc_weighted, result.positive_class) == (0.91, 0.93, "yes")


def test_live_accuracy_without_both_classes_has_no_auc(tmp_path: Path):
    collection = writer(tmp_path)
    rid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    request(collection, rid, time.time() - 10, [{"age": 1}, {"age": 2}], [0.8, 0.3])
    collection.close()
    result = live_accuracy(
        tmp_path,
        [(rid, 0, "yes"), (rid, 1, "yes")],
        classes=CLASSES,
        manifest={},
        since=time.time() - 60,
        until=time.time(),
        bucket_seconds=3600,
    )
    assert (result.labelled, result.correct, result.accuracy, result.auc) == (2, 1, 0.5, None)
    assert result.buckets[0]["auc"] is None and result.cv_accuracy is None


def test_collected_data_is_newest_first_across_files_of_one_minute(trained_backend, automl_run_id):
    backend = trained_backend
    backend.register_model(name="bank-model", run_id=automl_run_id)
    backend.deploy_model(name="svc", model_name="bank-model")
    folder = backend.layout.service_dir("svc")
    base = (time.time() // 60) * 60 - 60  # the start of the last full minute
    times = {0: [1, 30, 58], 1: [2, 40], 2: [10, 20, 59]}  # three flushes (or processes) in the same minute
    for flush, offsets in times.items():
        collection = writer(folder)
        for offset in offsets:
            request(collection, f"{flush}-{offset}", base + offset, [{"age": offset}], [0.4])
        collection.close()
    _write_old(folder, [3])  # an older day
    assert len(collected_files(folder)) == 4
    newest = backend.get_collected_data("svc", limit=4)
    assert [row["request_id"] for row in newest] == ["2-59", "0-58", "1-40", "0-30"]
    assert [row["input.age"] for row in newest] == [59.0, 58.0, 40.0, 30.0]
    assert len(backend.get_collected_data("svc")) == 9
    since = backend.get_collected_data("svc", since=base + 20)
    assert [row["request_id"] for row in since] == ["2-59", "0-58", "1-40", "0-30", "2-20"]


def test_a_file_cut_short_or_empty_is_left_out_and_named(tmp_path: Path):
    start = time.time() - 600
    collection = writer(tmp_path, flush_rows=2)  # one file per request
    ids = [f"{index:08x}-0000-4000-8000-000000000000" for index in range(3)]
    for index, request_id in enumerate(ids):
        request(collection, request_id, start + 70 * index, [{"age": 30}, {"age": 40}], [0.9, 0.1])
    collection.close()
    files = collected_files(tmp_path)
    assert len(files) == 3
    files[1].write_bytes(files[1].read_bytes()[:40])  # a crash or a full disk cut it short
    empty = files[0].parent / f"{int((start + 100) * 1000)}-1-99.parquet"  # inside the window
    empty.write_bytes(b"")
    skipped: list[str] = []
    table = read_collected(collected_files(tmp_path), ["request_id", "record"], skipped=skipped)
    assert sorted(set(table.column("request_id").to_pylist())) == [ids[0], ids[2]]
    assert sorted(skipped) == sorted([str(files[1]), str(empty)])
    labels = [(ids[0], 0, "yes"), (ids[2], 1, "yes")]
    result = live_accuracy(
        tmp_path, labels, classes=CLASSES, manifest={}, since=start - 1, until=time.time(), bucket_seconds=3600
    )
    assert (result.labelled, result.correct) == (2, 1) and len(result.skipped_files) == 2
