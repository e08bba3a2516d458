"""The reference data's lookup: a fresh clone without ../shared finds, fetches and checks the file (over a
loopback server standing in for the public URL: tests never leave the machine)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests import reference_data
from tests.reference_data import ReferenceDataMissing


@pytest.fixture
def no_reference(monkeypatch, tmp_path):
    """No $OPML_BANK_CSV, no ../shared, an empty cache folder."""
    monkeypatch.delenv(reference_data.VARIABLE, raising=False)
    monkeypatch.setattr(reference_data, "SHARED", tmp_path / "nowhere" / "bankmarketing_train.csv")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def publish(monkeypatch, http_folder, content: bytes, *, rows: int) -> None:
    """Serve ``content`` as the published file and pin its size, sha256 and rows."""
    base, folder = http_folder
    (folder / "bank.csv").write_bytes(content)
    monkeypatch.setattr(reference_data, "URL", f"{base}/bank.csv")
    monkeypatch.setattr(reference_data, "PUBLISHED_SIZE", len(content))
    monkeypatch.setattr(reference_data, "PUBLISHED_SHA256", hashlib.sha256(content).hexdigest())
    monkeypatch.setattr(reference_data, "PUBLISHED_ROWS", rows)


def test_the_variable_wins_and_must_name_a_file(monkeypatch, tmp_path, bank_small_csv):
    monkeypatch.setenv(reference_data.VARIABLE, str(bank_small_csv))
    assert reference_data.bank_csv() == bank_small_csv
    monkeypatch.setenv(reference_data.VARIABLE, str(tmp_path / "missing.csv"))
    with pytest.raises(ReferenceDataMissing, match="is not a file"):
        reference_data.bank_csv()


def test_the_published_file_is_downloaded_once_checked_and_kept(no_reference, monkeypatch, http_folder):
    content = b"a,y\n" + b"1,no\n" * 30
    publish(monkeypatch, http_folder, content, rows=30)
    path = reference_data.bank_csv()
    assert path == reference_data.cache_path() and path.read_bytes() == content
    (http_folder[1] / "bank.csv").unlink()  # the next lookup needs no network: the kept copy is used
    assert reference_data.bank_csv() == path


def test_a_download_that_is_not_the_published_file_is_refused(no_reference, monkeypatch, http_folder):
    publish(monkeypatch, http_folder, b"a,y\n1,no\n", rows=1)
    monkeypatch.setattr(reference_data, "PUBLISHED_SHA256", "0" * 64)
    with pytest.raises(ReferenceDataMissing, match="not the published one"):
        reference_data.bank_csv()
    assert not reference_data.cache_path().exists() and not list(reference_data.cache_path().parent.iterdir())


def test_no_file_and_no_network_says_what_to_set(no_reference, monkeypatch):
    from tests.helpers import free_port

    monkeypatch.setattr(reference_data, "URL", f"http://127.0.0.1:{free_port()}/bank.csv")  # nothing listens
    with pytest.raises(ReferenceDataMissing, match=r"Set OPML_BANK_CSV=/path/to/bankmarketing_train.csv"):
        reference_data.bank_csv(timeout=5)


def test_rows_are_counted_without_the_header(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    assert reference_data.rows_of(path) == 2
