"""Registering datasets: both Bank Marketing formats, URLs on loopback, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from opml.backends.local import LocalBackend
from opml.errors import InvalidInput
from opml.settings import get_settings
from tests.helpers import free_port

GOOD = b"age,job,y\n30,admin.,no\n41,technician,yes\n"


def test_bank_marketing_registers_from_path(local_backend: LocalBackend, bank_csv: Path, bank_rows: int):
    dataset = local_backend.register_dataset(name="bankmarketing", source=bank_csv)
    assert dataset.rows == bank_rows and len(dataset.columns) == 21
    profile = local_backend.get_dataset_profile("bankmarketing")
    balance = profile.column("y").top_values
    assert balance["yes"] / profile.rows == pytest.approx(0.1114, abs=0.001)
    assert profile.duplicate_rows > 0  # the reference file has a few exact duplicates


def test_semicolon_decimal_comma_variant_loads_the_same(local_backend: LocalBackend, bank_small_csv: Path, tmp_path):
    original = pd.read_csv(bank_small_csv)
    european = tmp_path / "bank_eu.csv"
    original.to_csv(european, sep=";", decimal=",", index=False)
    dataset = local_backend.register_dataset(name="bank_eu", source=european)
    assert (dataset.delimiter, dataset.decimal) == (";", ",")
    loaded = local_backend.load_dataset("bank_eu")
    pd.testing.assert_frame_equal(loaded, original, check_dtype=True)


def test_registers_from_http_url_on_loopback(local_backend: LocalBackend, bank_small_csv: Path, http_folder):
    base, folder = http_folder
    (folder / "bankmarketing_train.csv").write_bytes(bank_small_csv.read_bytes())
    url = f"{base}/bankmarketing_train.csv"
    dataset = local_backend.register_dataset(name="bank", source=url)
    assert dataset.source == url and dataset.rows == 2000
    assert local_backend.register_dataset(name="bank", source=url).version == 1


def test_upload_keeps_the_file_name(local_backend: LocalBackend):
    dataset = local_backend.register_dataset(name="tiny", source=GOOD, filename="tiny.csv")
    assert dataset.source == "upload:tiny.csv" and dataset.rows == 2


BAD_CONTENT = [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"PK\x03\x04rest-of-a-zip", "Excel"),
    (b"a,b\n1,\x00\x002\n", "binary"),
    ("age,job\n30,caf\u00e9\n".encode("latin-1"), "not UTF-8"),
    (b"<!DOCTYPE html><html><body>Sign in</body></html>", "HTML"),
    (b'{"age": [30, 41]}', "JSON"),
    (b"age\n30\n41\n", "only one column"),
    (b"1,2,3\n4,5,6\n", "looks like data"),
    (b"age,job,age\n1,a,2\n", "duplicate column names: 'age' \\(columns 1 and 3\\)"),
    (b"age,,y\n1,a,no\n", "column 2 has no name"),
    (b"age,job,y\n", "no data rows"),
    (b"age,job,y\n30,admin,no\n41,tech,yes,extra,fields\n", "malformed: Expected 3 fields in line 3, saw 5"),
    (b"a;b\n1;2\n1;2;3\n", "malformed: Expected 2 fields in line 3, saw 3"),  # caught while sniffing decimals
    (b"a;b\n" + b"1;2\n" * 3 + b'1;"2\n3\n', "malformed: EOF inside string starting at row 4"),
    (b"x" * 200_000 + b"\n1\n", "first line is longer than 64 KB"),
]


@pytest.mark.parametrize(("content", "message"), BAD_CONTENT, ids=[m for _, m in BAD_CONTENT])
def test_bad_content_gives_clear_error_and_registers_nothing(local_backend: LocalBackend, content, message):
    with pytest.raises(InvalidInput, match=message):
        local_backend.register_dataset(name="bad", source=content, filename="bad.csv")
    assert local_backend.list_datasets() == []
    assert not any((local_backend.layout.artifacts / "datasets").iterdir())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil", "must not contain"),
        ("a/b", "must not contain"),
        ("", "required"),
        ("x" * 65, "not valid"),
        ("-x", "not valid"),
    ],
)
def test_bad_names_are_refused(local_backend: LocalBackend, name, message):
    with pytest.raises(InvalidInput, match=message):
        local_backend.register_dataset(name=name, source=GOOD)
    assert local_backend.list_datasets() == []


def test_file_over_the_size_limit_is_refused(local_backend: LocalBackend, monkeypatch, tmp_path):
    monkeypatch.setenv("OPML_MAX_DATASET_MB", "1")
    get_settings.cache_clear()
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" + b"1,2\n" * 300_000)
    with pytest.raises(InvalidInput, match="over the 1 MB limit"):
        local_backend.register_dataset(name="big", source=big)
    with pytest.raises(InvalidInput, match="over the 1 MB limit"):
        local_backend.register_dataset(name="big", source=big.read_bytes())
    assert local_backend.list_datasets() == []


def test_missing_path_and_folder_are_refused(local_backend: LocalBackend, tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        local_backend.register_dataset(name="x", source=tmp_path / "missing.csv")
    with pytest.raises(InvalidInput, match="not a file"):
        local_backend.register_dataset(name="x", source=str(tmp_path))


def test_unreachable_url_is_refused(local_backend: LocalBackend):
    url = f"http://127.0.0.1:{free_port()}/data.csv"
    with pytest.raises(InvalidInput, match=r"no HTTP answer from 127\.0\.0\.1"):
        local_backend.register_dataset(name="x", source=url)
    assert local_backend.list_datasets() == []


def test_url_answering_404_names_the_status(local_backend: LocalBackend, http_folder):
    base, _ = http_folder
    with pytest.raises(InvalidInput, match="HTTP 404"):
        local_backend.register_dataset(name="x", source=f"{base}/missing.csv")


def test_url_serving_html_is_refused(local_backend: LocalBackend, http_folder):
    base, folder = http_folder
    (folder / "page.csv").write_text("<html><body>Please log in</body></html>")
    with pytest.raises(InvalidInput, match="HTML"):
        local_backend.register_dataset(name="x", source=f"{base}/page.csv")


def test_other_url_schemes_are_refused(local_backend: LocalBackend):
    with pytest.raises(InvalidInput, match="unsupported URL scheme"):
        local_backend.register_dataset(name="x", source="ftp://example.org/data.csv")


@pytest.mark.parametrize("lineage", ["x" * 501, "line one\nline two", "\x1b[31mred", {"a": 1}, b"xx"])
def test_a_bad_lineage_is_refused(local_backend, lineage):
    with pytest.raises(InvalidInput, match="lineage must be"):
        local_backend.register_dataset(name="d", source=b"a,y\n1,no\n", lineage=lineage)
    assert local_backend.list_datasets() == []


def test_a_wide_table_registers(local_backend: LocalBackend):
    """A first data row that ends past the 64 KB the format is sniffed from (1,000 long text columns)."""
    header = ",".join(f"c{i}" for i in range(1_000)) + ",y\n"
    row = ",".join("x" * 70 for _ in range(1_000))
    dataset = local_backend.register_dataset(name="wide", source=(header + f"{row},no\n{row},yes\n").encode())
    assert dataset.rows == 2 and len(dataset.columns) == 1_001


@pytest.mark.parametrize(
    "values",
    [
        ["-1e308", "1e308", "0"],  # a span that overflows a float
        ["1.0", "1.0000000000000002", "1.0"],  # a span of one ulp: too narrow for 20 distinct bin edges
        ["5e-324", "1e-323", "5e-324"],  # subnormal numbers
    ],
)
def test_numbers_at_the_edges_of_float_register_with_a_histogram(local_backend: LocalBackend, values):
    content = "x,y\n" + "".join(f"{value},{i % 2}\n" for i, value in enumerate(values * 4))
    local_backend.register_dataset(name="edges", source=content.encode(), filename="edges.csv")
    column = local_backend.get_dataset_profile("edges").column("x")
    edges, counts = column.histogram
    assert sum(counts) == 12
    assert edges[0] == float(min(values, key=float)) and edges[-1] == float(max(values, key=float))
    assert list(edges) == sorted(edges)
