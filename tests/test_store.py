"""The SQLite store: WAL, schema version, owner-only files, many processes writing at once."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from opml.backends.local import LocalBackend
from opml.backends.local.store import SCHEMA_VERSION, Store

REPO = Path(__file__).resolve().parent.parent


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
    # Plain interpreters, not multiprocessing's spawn: spawn re-runs the parent's __main__, which in a test
    # worker that ran AppTests can be a page script.
    submit = "import sys; from tests.test_store import _submit_many; _submit_many(sys.argv[1], 40)"
    processes = [
        subprocess.Popen([sys.executable, "-c", submit, str(local_backend.path)], cwd=REPO, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()[-2000:]
    assert local_backend.store.query_one("SELECT COUNT(*) FROM runs")[0] == 160
    assert local_backend.store.query_one("PRAGMA integrity_check")[0] == "ok"


HOLD_WRITE_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
connection.execute("INSERT INTO computes (name, max_nodes, created_at) VALUES ('held', 1, '2026-01-01')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
"""


def _hold_write_lock(db: Path, seconds: float):
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_reads_go_on_while_another_process_holds_the_write_lock(local_backend: LocalBackend):
    import subprocess
    import sys
    import time

    local_backend.create_compute(name="kept", max_nodes=2)
    holder = _hold_write_lock(local_backend.layout.db, 30)
    try:
        started = time.monotonic()
        reopened = LocalBackend(local_backend.path)  # opening reads the schema version; it takes no lock
        assert reopened.get_compute("kept").max_nodes == 2
        assert [c.name for c in reopened.list_computes()] == ["cpu-cluster", "kept"]
        status = subprocess.run(
            [sys.executable, "-m", "opml", "--workspace", str(local_backend.path), "status"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert time.monotonic() - started < 10  # well under the 15-s busy timeout a write would wait
    finally:
        holder.kill()
        holder.wait()


def test_a_write_that_waits_too_long_says_so_and_changes_nothing(local_backend: LocalBackend, monkeypatch):
    import pytest

    from opml.backends.local import store
    from opml.errors import BackendUnavailable

    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 300)
    hurried = LocalBackend(local_backend.path)
    holder = _hold_write_lock(local_backend.layout.db, 30)
    try:
        with pytest.raises(BackendUnavailable, match=r"database is busy.*nothing was changed"):
            hurried.create_compute(name="late", max_nodes=1)
        assert not hurried.store._connection().in_transaction
    finally:
        holder.kill()
        holder.wait()
    assert "late" not in [c.name for c in local_backend.list_computes()]
    hurried.create_compute(name="late", max_nodes=1)  # the same connection works once the lock is free
    assert hurried.get_compute("late").max_nodes == 1


FULL_DISK = """
import resource, signal, sqlite3, sys
from pathlib import Path
from opml.backends.local.store import Store

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
store = Store(Path(sys.argv[1]))
store._connection().execute("PRAGMA cache_size = -200000")  # the pages stay in memory: COMMIT is what fails
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, hard))  # 4 MB files at most: the disk is "full"
try:
    with store.transaction() as connection:
        for i in range(50):
            connection.execute(
                "INSERT INTO computes (name, max_nodes, created_at) VALUES (?, 1, ?)", (f"c{i}", "x" * 200_000)
            )
    print("written")
except Exception as exc:
    print("failed:", type(exc).__name__, exc)
print("in transaction:", store._connection().in_transaction)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
store.execute("INSERT INTO computes (name, max_nodes, created_at) VALUES ('after', 1, '2026-11-30T00:00:00+00:00')")
print("integrity:", store.query_one("PRAGMA integrity_check")[0])
print("rows:", store.query_one("SELECT COUNT(*) FROM computes WHERE name GLOB 'c[0-9]*'")[0])
"""


def test_a_full_disk_rolls_the_transaction_back_and_the_store_goes_on(local_backend: LocalBackend):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(local_backend.layout.db)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("failed: StorageFull the workspace database could not be written"), lines
    assert lines[1:] == ["in transaction: False", "integrity: ok", "rows: 0"]
    assert "after" in [c.name for c in local_backend.list_computes()]


def test_a_commit_that_fails_is_rolled_back(local_backend: LocalBackend):
    """COMMIT can fail and leave SQLite inside the transaction (a deferred constraint, as here; SQLITE_BUSY);
    the store rolls back so the connection does not hold the write lock and swallow later statements."""
    import sqlite3

    import pytest

    store = local_backend.store
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as connection:
        connection.execute("PRAGMA defer_foreign_keys = ON")
        connection.execute(
            """INSERT INTO runs (id, experiment, run_type, status, compute, parent_id, params, tags, display_name,
               progress, created_at) VALUES ('orphan', 'e', 'command', 'Queued', 'cpu-cluster', 'no-such-parent',
               '{}', '{}', '', '{}', '2026-11-30T00:00:00+00:00')"""
        )
    assert not store._connection().in_transaction
    assert store.query_one("SELECT COUNT(*) FROM runs WHERE id = 'orphan'")[0] == 0
    local_backend.create_compute(name="after", max_nodes=1)
    assert LocalBackend(local_backend.path).get_compute("after").max_nodes == 1


FULL_DISK_DATASET = """
import resource, signal, sys
from pathlib import Path
from opml.backends.local import LocalBackend

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
backend = LocalBackend(Path(sys.argv[1]))
resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
rows = "\\n".join(["a,b,y"] + [f"{i},{i * 2},{'yes' if i % 2 else 'no'}" for i in range(200_000)])
try:
    backend.register_dataset(name="big", source=rows.encode(), filename="big.csv")
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_a_dataset_that_does_not_fit_on_the_disk_is_refused_and_leaves_nothing(local_backend: LocalBackend):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK_DATASET, str(local_backend.path)], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.startswith("StorageFull no space left to write data.csv in the workspace"), result
    assert local_backend.list_datasets() == []
    assert [p for p in (local_backend.layout.artifacts / "datasets").rglob("*") if p.is_file()] == []
    assert local_backend.register_dataset(name="small", source=b"a,y\n1,no\n2,yes\n").rows == 2


def test_every_run_newest_first_is_read_in_index_order(local_backend: LocalBackend):
    """The Runs page with child runs too lists every run newest first: in a workspace of 200 AutoML runs of
    60 trials each, sorting the whole table for each page of 200 took most of that page's query time."""
    for _ in range(3):
        local_backend.submit_run(experiment="e", run_type="command", compute="cpu-cluster", params={"command": ["x"]})
    statements: list[str] = []
    connection = local_backend.store._connection()
    connection.set_trace_callback(statements.append)
    try:
        page = local_backend.search_runs(top_level_only=False, limit=2, offset=1)
    finally:
        connection.set_trace_callback(None)
    assert page.total == 3 and len(page.runs) == 2
    listing = [s for s in statements if "ORDER BY created_at DESC" in s]
    assert len(listing) == 1, statements
    plan = " | ".join(row[3] for row in local_backend.store.query(f"EXPLAIN QUERY PLAN {listing[0]}"))
    assert "runs_by_created" in plan and "TEMP B-TREE" not in plan, plan
