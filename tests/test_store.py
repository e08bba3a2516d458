"""The SQLite store: WAL, schema version, owner-only files, many processes writing at once."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

from opml.backends.local import LocalBackend
from opml.backends.local.store import SCHEMA_VERSION, Store


def test_database_uses_wal_and_current_schema(local_backend: LocalBackend):
    assert local_backend.store.query_one("PRAGMA journal_mode")[0] == "wal"
    assert local_backend.store.schema_version() == SCHEMA_VERSION
    assert int(local_backend.store.query_one("PRAGMA busy_timeout")[0]) >= 5000


def test_reopening_does_not_migrate_twice_or_lose_data(local_backend: LocalBackend):
    local_backend.create_compute(name="kept", max_nodes=3)
    reopened = LocalBackend(local_backend.path)
    assert reopened.get_compute("kept").max_nodes == 3
    assert reopened.store.schema_version() == SCHEMA_VERSION


def test_workspace_files_are_owner_only(local_backend: LocalBackend, bank_small_csv: Path):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    for path in [local_backend.path, *local_backend.path.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is readable by others: {oct(mode)}"


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path):
    import sqlite3

    import pytest

    from opml.errors import BackendUnavailable

    db = tmp_path / "opml.db"
    connection = sqlite3.connect(db)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(BackendUnavailable, match="newer than this opml"):
        Store(db)


def _submit_many(workspace: str, count: int) -> None:
    backend = LocalBackend(workspace)
    for _ in range(count):
        backend.submit_run(
            experiment=f"p{os.getpid()}", run_type="command", compute="cpu-cluster", params={"command": ["true"]}
        )


def test_concurrent_writers_from_several_processes(local_backend: LocalBackend):
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_submit_many, args=(str(local_backend.path), 40)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert local_backend.store.query_one("SELECT COUNT(*) FROM runs")[0] == 160
    assert local_backend.store.query_one("PRAGMA integrity_check")[0] == "ok"
