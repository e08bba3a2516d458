"""AppTest of the Runs page: every run reachable (per experiment, paged, by id), search, compare."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend

REPO = Path(__file__).resolve().parent.parent


def page() -> AppTest:
    return AppTest.from_file(str(REPO / "pages/runs.py"), default_timeout=60)


def many_runs(backend: LocalBackend, count: int) -> list[str]:
    """``count`` finished runs, oldest first: every fifth in experiment "old-bank", the rest in "noise"."""
    ids = []
    with backend.store.transaction():
        for index in range(count):
            run = backend.runs.insert(
                experiment="old-bank" if index % 5 == 0 else "noise",
                run_type="command",
                compute="cpu-cluster",
                params={"command": ["true"], "index": index},
            )
            backend.runs.log_metrics(run.id, {"accuracy": index / count})
            backend.runs.finish(run.id, "Completed")
            ids.append(run.id)
    return ids


def test_all_runs_are_paged_and_the_count_is_shown(local_backend: LocalBackend):
    ids = many_runs(local_backend, 250)
    at = page().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.value == "Runs 1-200 of 250, newest first" for c in at.caption)
    at.selectbox(key="runs_page").set_value(2).run()
    assert any(c.value == "Runs 201-250 of 250, newest first" for c in at.caption)
    table = next(df.value for df in at.dataframe if "Run" in df.value.columns)
    assert list(table["Run"]) == ids[:50][::-1]  # the oldest runs are reachable
    assert at.selectbox(key="runs_selected").options == ids[:50][::-1]


def test_an_experiment_shows_its_runs_in_the_picker(local_backend: LocalBackend):
    ids = many_runs(local_backend, 250)
    old = [run_id for index, run_id in enumerate(ids) if index % 5 == 0]
    at = page().run()
    at.selectbox(key="runs_experiment").set_value("old-bank").run()
    assert at.selectbox(key="runs_selected").options == old[::-1]
    assert any(c.value == "Runs 1-50 of 50, newest first" for c in at.caption)


def test_search_by_run_id_and_by_metric(local_backend: LocalBackend):
    ids = many_runs(local_backend, 250)
    at = page().run()
    at.text_input(key="runs_id_search").input(ids[3][-8:]).run()
    assert at.selectbox(key="runs_selected").options == [ids[3]]
    at.text_input(key="runs_id_search").input("")
    at.text_input(key="runs_filter").input("metrics.accuracy >= 0.99 and params.index > 100").run()
    expected = [run_id for index, run_id in enumerate(ids) if index / 250 >= 0.99]
    assert at.selectbox(key="runs_selected").options == expected[::-1]
    at.text_input(key="runs_filter").input("accuracy > 0.9").run()
    assert not at.exception and "unknown run attribute 'accuracy'" in at.error[0].value


def test_runs_are_compared_side_by_side(local_backend: LocalBackend):
    ids = many_runs(local_backend, 6)
    at = page().run()
    at.multiselect(key="runs_compare").set_value([ids[0], ids[5]]).run()
    assert not at.exception, [e.value for e in at.exception]
    params = next(
        df.value for df in at.dataframe if list(df.value.columns) == [ids[0], ids[5]] and "index" in df.value.index
    )
    assert params.index[0] == "index" and list(params.loc["index"]) == ["0", "5"]  # differing rows first
    metrics = next(df.value for df in at.dataframe if "accuracy" in df.value.index)
    assert list(metrics.loc["accuracy"]) == [0.0, 5 / 6]
    # Runs chosen from one search stay choosable after another search.
    at.selectbox(key="runs_experiment").set_value("noise").run()
    assert set(at.multiselect(key="runs_compare").value) == {ids[0], ids[5]}


def test_a_command_runs_environment_values_are_masked(local_backend: LocalBackend):
    import json
    import os
    import subprocess
    import sys

    def opml(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "opml", "--workspace", str(local_backend.path), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)

    # The secret comes from the shell's environment, not the command line (which other users can read).
    shell = {**os.environ, "API_TOKEN": "s3cret-value"}
    submitted = opml("--json", "runs", "submit", "--env", "API_TOKEN", "--env", "MODE=fast", "--", "true", env=shell)
    assert submitted.returncode == 0, submitted.stderr
    assert "s3cret-value" not in submitted.stdout
    run = local_backend.get_run(json.loads(submitted.stdout)["id"])
    assert run.params["env"] == {"API_TOKEN": "s3cret-value", "MODE": "fast"}  # the run itself gets them
    at = page().run()
    shown = json.dumps([j.value for j in at.json], default=str)
    assert "API_TOKEN" in shown and "s3cret-value" not in shown
    cli = opml("--json", "runs", "show", run.id)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["params"]["env"] == {"API_TOKEN": "••••••", "MODE": "••••••"}
    bad = opml("runs", "submit", "--env", "NOT_SET_ANYWHERE", "--", "true")
    assert bad.returncode == 2 and "this shell has no variable NOT_SET_ANYWHERE" in bad.stderr
