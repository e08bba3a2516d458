"""Every dashboard page through Streamlit's AppTest, against a real local workspace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend
from tests.helpers import other_model_run

REPO = Path(__file__).resolve().parent.parent
PAGES = re.findall(r'st\.Page\("([^"]+)"', (REPO / "app.py").read_text())


def page(path: str) -> AppTest:
    return AppTest.from_file(str(REPO / path), default_timeout=30)


def test_app_routes_every_page_file():
    assert sorted(PAGES) == sorted(f"pages/{p.name}" for p in (REPO / "pages").glob("*.py"))


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_without_exception_on_empty_workspace(path, workspace):
    at = page(path).run()
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_with_data(path, local_backend: LocalBackend, bank_small_csv: Path):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    local_backend.submit_run(experiment="e", run_type="command", compute="cpu-cluster", params={"command": ["true"]})
    at = page(path).run()
    assert not at.exception, [e.value for e in at.exception]


def test_overview_shows_counts_and_agent_state(local_backend: LocalBackend, bank_small_csv: Path):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    at = page("pages/overview.py").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Datasets"] == "1" and metrics["Computes"] == "1"
    assert any("Agent not running" in e.value for e in at.error)
    assert str(local_backend.path) in at.markdown[0].value


def test_register_dataset_from_a_path(local_backend: LocalBackend, bank_small_csv: Path):
    at = page("pages/datasets.py").run()
    at.radio(key="ds_source_kind").set_value("Local path").run()
    at.text_input(key="ds_name").input("bankmarketing")
    at.text_input(key="ds_path").input(str(bank_small_csv))
    at.text_area(key="ds_tags").input("source=uci")
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Registered **bankmarketing** version 1" in at.success[0].value
    assert local_backend.get_dataset("bankmarketing").tags == {"source": "uci"}
    assert at.selectbox(key="ds_select").value == "bankmarketing"
    profile = next(df.value for df in at.dataframe if "Missing %" in df.value.columns)
    assert list(profile["Column"])[-1] == "y" and len(profile) == 21


def test_register_dataset_from_a_url(local_backend: LocalBackend, bank_small_csv: Path, http_folder):
    base, folder = http_folder
    (folder / "bank.csv").write_bytes(bank_small_csv.read_bytes())
    at = page("pages/datasets.py").run()
    at.text_input(key="ds_name").input("bank_url")
    at.text_input(key="ds_url").input(f"{base}/bank.csv")
    at.button[0].click().run()
    assert not at.error, [e.value for e in at.error]
    assert local_backend.get_dataset("bank_url").rows == 2000


def test_a_path_in_the_url_field_reads_no_file(local_backend: LocalBackend, bank_small_csv: Path):
    """Where the dashboard turns local paths off (no sign-in off loopback), the URL field must not read one."""
    at = page("pages/datasets.py").run()
    at.text_input(key="ds_name").input("leak")
    at.text_input(key="ds_url").input(str(bank_small_csv))
    at.button[0].click().run()
    assert any("not a web address" in e.value and "give an http:// or https:// URL" in e.value for e in at.error)
    assert local_backend.list_datasets() == []


def test_bad_registration_shows_error_and_keeps_input(local_backend: LocalBackend, tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    at = page("pages/datasets.py").run()
    at.radio(key="ds_source_kind").set_value("Local path").run()
    at.text_input(key="ds_name").input("broken")
    at.text_input(key="ds_path").input(str(empty))
    at.button[0].click().run()
    assert not at.exception
    assert "empty" in at.error[0].value
    assert at.text_input(key="ds_name").value == "broken"
    assert local_backend.list_datasets() == []


def test_profile_shows_class_balance_of_the_label(local_backend: LocalBackend, bank_small_csv: Path):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    at = page("pages/datasets.py").run()
    assert at.selectbox(key="ds_profile_column").value == "y"
    assert not at.exception


def test_compute_page_creates_and_refuses_duplicates(local_backend: LocalBackend):
    at = page("pages/compute.py").run()
    at.text_input(key="compute_name").input("cpu-4")
    at.number_input(key="compute_nodes").set_value(4).run()
    at.button(key="compute_create").click().run()
    assert local_backend.get_compute("cpu-4").max_nodes == 4
    at.button(key="compute_create").click().run()
    assert "already exists" in at.error[0].value


@pytest.mark.parametrize(("name", "nodes", "message"), [("cpu-x", 0, "between 1 and 64"), ("a/b", 2, "must not")])
def test_compute_form_says_why_it_cannot_submit(local_backend: LocalBackend, name, nodes, message):
    at = page("pages/compute.py").run()
    at.text_input(key="compute_name").input(name)
    at.number_input(key="compute_nodes").set_value(nodes).run()
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="compute_create").disabled
    assert [c.name for c in local_backend.list_computes()] == ["cpu-cluster"]


def test_compute_delete_asks_for_confirmation_and_says_what_happened(local_backend: LocalBackend):
    local_backend.create_compute(name="spare", max_nodes=1)
    at = page("pages/compute.py").run()
    at.selectbox(key="compute_delete_name").set_value("spare").run()
    assert at.button(key="compute_delete").disabled
    at.checkbox(key="compute_delete_confirm_spare").check().run()
    at.button(key="compute_delete").click().run()
    assert not at.exception
    assert [c.name for c in local_backend.list_computes()] == ["cpu-cluster"]
    assert any("Deleted compute spare" in s.value for s in at.success)


@pytest.mark.parametrize("path", PAGES)
def test_no_placeholder_looks_like_a_filled_value(path, local_backend: LocalBackend, bank_small_csv: Path):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    at = page(path).run()
    for widget in [*at.text_input, *at.text_area]:
        assert not widget.proto.placeholder, f"{widget.key} has placeholder {widget.proto.placeholder!r}"


def test_registering_the_same_file_again_says_nothing_new_was_registered(local_backend, bank_small_csv):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    at = page("pages/datasets.py").run()
    at.radio(key="ds_source_kind").set_value("Local path").run()
    at.text_input(key="ds_name").input("bank")
    at.text_input(key="ds_path").input(str(bank_small_csv))
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert "identical to version 1: nothing new registered" in at.info[0].value
    assert not at.success and [d.version for d in local_backend.list_dataset_versions("bank")] == [1]


def test_overview_counts_model_versions(trained_backend: LocalBackend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.register_model(name="bank-model", run_id=other_model_run(trained_backend, automl_run_id))
    at = page("pages/overview.py").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Models"] == "1" and metrics["Model versions"] == "2"


def test_runs_page_shows_a_run_and_its_error(local_backend: LocalBackend):
    run = local_backend.submit_run(
        experiment="e", run_type="command", compute="cpu-cluster", params={"command": ["true"]}
    )
    local_backend.runs.finish(run.id, "Failed", "the run process was killed (SIGKILL) before it finished")
    at = page("pages/runs.py").run()
    assert not at.exception
    assert at.selectbox(key="runs_selected").value == run.id
    assert any("SIGKILL" in e.value for e in at.error)
