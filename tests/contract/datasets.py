"""Datasets: immutable, content-addressed versions of CSV data, with a profile computed at registration."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from opml.errors import InvalidInput, NotFound
from tests.contract.fixtures import ContractFixtures


def first_rows(csv: Path, rows: int) -> bytes:
    return "".join(csv.read_text().splitlines(keepends=True)[: rows + 1]).encode()


class DatasetContract(ContractFixtures):
    def test_register_dataset_returns_version_one_with_shape(self, backend, bank_small_csv: Path):
        dataset = backend.register_dataset(name="bank", source=bank_small_csv, description="calls", tags={"a": "1"})
        assert (dataset.name, dataset.version, dataset.rows) == ("bank", 1, 2000)
        assert dataset.columns[0] == "age" and dataset.columns[-1] == "y"
        assert dataset.description == "calls" and dataset.tags == {"a": "1"}
        assert len(dataset.sha256) == 64
        assert backend.get_dataset("bank") == dataset

    def test_same_content_same_version_changed_content_new_version(self, backend, bank_small_csv: Path, tmp_path):
        first = backend.register_dataset(name="bank", source=bank_small_csv)
        again = backend.register_dataset(name="bank", source=bank_small_csv.read_bytes(), filename="x.csv")
        assert again.version == first.version and again.sha256 == first.sha256
        changed = tmp_path / "changed.csv"
        changed.write_bytes(first_rows(bank_small_csv, 1000))
        second = backend.register_dataset(name="bank", source=changed)
        assert second.version == 2 and second.rows == 1000
        assert [d.version for d in backend.list_dataset_versions("bank")] == [2, 1]
        assert backend.get_dataset("bank").version == 2
        assert backend.get_dataset("bank", 1).rows == 2000
        assert backend.get_dataset_profile("bank", 1).rows == 2000
        assert backend.get_dataset_profile("bank").rows == 1000
        assert len(backend.load_dataset("bank", 1)) == 2000

    def test_earlier_content_again_returns_its_earlier_version(self, backend, bank_small_csv: Path):
        backend.register_dataset(name="bank", source=bank_small_csv)
        backend.register_dataset(name="bank", source=first_rows(bank_small_csv, 1000), filename="short.csv")
        again = backend.register_dataset(name="bank", source=bank_small_csv)
        assert (again.version, again.rows) == (1, 2000)
        assert [d.version for d in backend.list_dataset_versions("bank")] == [2, 1]

    def test_source_records_where_bytes_came_from(self, backend, bank_small_csv: Path):
        content = first_rows(bank_small_csv, 100)
        uploaded = backend.register_dataset(name="uploaded", source=content, filename="calls.csv")
        lineage = "pipeline run r-1, step prep, from bank:1"
        derived = backend.register_dataset(name="derived", source=content, lineage=lineage)
        assert uploaded.source == "upload:calls.csv"
        assert derived.source == lineage
        assert backend.get_dataset("derived").source == lineage

    def test_load_dataset_gives_typed_frame(self, backend, bank_small_csv: Path):
        backend.register_dataset(name="bank", source=bank_small_csv)
        frame = backend.load_dataset("bank")
        expected = pd.read_csv(bank_small_csv)
        assert frame.shape == expected.shape
        assert pd.api.types.is_numeric_dtype(frame["emp.var.rate"])
        assert not pd.api.types.is_numeric_dtype(frame["job"])
        assert backend.load_dataset("bank", nrows=5).shape == (5, expected.shape[1])

    def test_profile_counts_class_balance(self, backend, bank_small_csv: Path):
        backend.register_dataset(name="bank", source=bank_small_csv)
        profile = backend.get_dataset_profile("bank")
        expected = pd.read_csv(bank_small_csv)
        assert profile.rows == len(expected)
        label = profile.column("y")
        assert label.dtype == "categorical"
        assert label.top_values == expected["y"].value_counts().to_dict()
        age = profile.column("age")
        assert age.dtype == "numeric" and age.min == expected["age"].min() and age.max == expected["age"].max()
        assert sum(age.histogram[1]) == len(expected)

    def test_list_datasets_shows_latest_of_each_newest_first(self, backend, bank_small_csv: Path):
        backend.register_dataset(name="a", source=bank_small_csv)
        backend.register_dataset(name="b", source=bank_small_csv)
        backend.register_dataset(name="a", source=first_rows(bank_small_csv, 10), filename="a.csv")
        assert [(d.name, d.version) for d in backend.list_datasets()] == [("a", 2), ("b", 1)]

    def test_unknown_dataset_is_not_found(self, backend, bank_small_csv: Path):
        backend.register_dataset(name="bank", source=bank_small_csv)
        for operation in (
            backend.get_dataset,
            backend.load_dataset,
            backend.get_dataset_profile,
            backend.list_dataset_versions,
        ):
            with pytest.raises(NotFound):
                operation("nope")
        for operation in (backend.get_dataset, backend.load_dataset, backend.get_dataset_profile):
            with pytest.raises(NotFound):
                operation("bank", 9)

    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("bad", b"", "empty"),
            ("bad", b"a,a\n1,2\n", "duplicate column"),
            ("bad", b"a,b\n", "no data rows"),
            ("bad", b"a,b\n\xff\xfe,1\n", "not UTF-8"),
            ("bad", b'{"a": 1}', "JSON"),
            ("../bad", b"a,b\n1,2\n", "must not contain"),
            ("", b"a,b\n1,2\n", "name is required"),
        ],
    )
    def test_bad_dataset_registers_nothing(self, backend, tmp_path, name, content, message):
        source = tmp_path / "data.csv"
        source.write_bytes(content)
        with pytest.raises(InvalidInput, match=message):
            backend.register_dataset(name=name, source=source)
        assert backend.list_datasets() == []

    def test_missing_file_registers_nothing(self, backend, tmp_path):
        with pytest.raises(InvalidInput, match="no such file"):
            backend.register_dataset(name="bank", source=tmp_path / "missing.csv")
        assert backend.list_datasets() == []
