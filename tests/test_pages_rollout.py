"""AppTests of safe rollout's views against a real endpoint served by a real agent: the Endpoints page's
Deployments and Compare tabs, the registry's "Deploy as a challenger" form, and the Score page's deployment
picker. The endpoint holds bank-model:1 ("blue"); each test adds what it needs and puts it back."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from opml.client import score
from opml.entities import HEALTHY
from opml.settings import get_settings
from tests.helpers import wait_until

REPO = Path(__file__).resolve().parent.parent
ENDPOINT = "bank-endpoint"


@pytest.fixture(scope="module")
def endpoint(rollout_workspace, tmp_path_factory: pytest.TempPathFactory):
    """(backend, endpoint name): bank-model:1 (the AutoML run's best) as deployment "blue" with telemetry on,
    served by a real agent; bank-model:2 (another of the run's models) and narrow-model:1 registered."""
    with rollout_workspace.serving(tmp_path_factory, "pages-rollout", ENDPOINT) as backend:
        yield backend, ENDPOINT


@pytest.fixture
def live(endpoint, monkeypatch):
    """The endpoint, with the dashboard pointed at its workspace; blue alone again afterwards."""
    backend, name = endpoint
    monkeypatch.setenv("OPML_WORKSPACE", str(backend.path))
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "0")
    get_settings.cache_clear()
    yield backend, name
    backend.set_mirror_traffic(name, {})
    backend.promote_deployment(name, "blue")
    for deployment in backend.list_deployments(name):
        if deployment.name != "blue":
            backend.delete_deployment(name, deployment.name)


@pytest.fixture(scope="module")
def records(bank_small_csv) -> list[dict]:
    return json.loads(pd.read_csv(bank_small_csv).drop(columns="y").head(20).to_json(orient="records"))


def page(path: str) -> AppTest:
    return AppTest.from_file(str(REPO / path), default_timeout=60)


def endpoints_page(tab: str = "Deployments") -> AppTest:
    at = page("pages/endpoints.py")
    at.session_state["ep_tabs"] = tab  # what a click on the tab does
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def table(at: AppTest, column: str) -> pd.DataFrame:
    """The table with that column (AppTest does not expose a dataframe's key)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def traffic_input(at: AppTest, deployment: str):
    return next(n for n in at.number_input if n.label == f"{deployment} %")


def add_green(backend, name: str, deployment: str = "green", **share) -> None:
    """bank-model:2 behind the endpoint, Healthy. The tests that send requests to it name it apart (see the
    report of this branch: a deployment re-created under a name just deleted was once reported Healthy
    while its process still loaded it)."""
    backend.create_deployment(name, name=deployment, model_name="bank-model", model_version=2, **share)
    assert backend.wait_for_deployment(name, deployment, timeout=60).state == HEALTHY


def test_the_deployments_table_shows_each_deployment(live):
    backend, name = live
    add_green(backend, name, mirror=20)
    at = ok(endpoints_page())
    shown = table(at, "Mirror %")
    expected = [(d.name, d.model, d.traffic, d.mirror, d.state) for d in backend.list_deployments(name)]
    assert expected == [("blue", "bank-model:1", 100, 0, HEALTHY), ("green", "bank-model:2", 0, 20, HEALTHY)]
    assert [tuple(row) for row in shown[["Deployment", "Model", "Traffic %", "Mirror %", "State"]].values] == expected
    assert list(shown["Error"]) == ["", ""]
    assert at.selectbox(key=f"ep_mirror_target_{name}").value == "green"  # the mirror control shows the shadow


def test_a_split_not_adding_up_to_100_is_refused_and_a_valid_one_applied(live):
    backend, name = live
    add_green(backend, name)
    at = ok(endpoints_page())
    traffic_input(at, "blue").set_value(60)
    traffic_input(at, "green").set_value(30)
    at.button(key=f"FormSubmitter:ep_traffic_form_{name}-Set traffic").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Nothing changed. traffic must add up to 100 %, got 90 % (blue=60, green=30)"
    ]
    assert backend.get_service(name).traffic == {"blue": 100, "green": 0}
    traffic_input(at, "blue").set_value(90)
    traffic_input(at, "green").set_value(10)
    at.button(key=f"FormSubmitter:ep_traffic_form_{name}-Set traffic").click().run()
    ok(at)
    assert backend.get_service(name).traffic == {"blue": 90, "green": 10}
    assert [s.value for s in at.success] == [f"Traffic of {name}: blue 90 %, green 10 %."]
    assert list(table(at, "Mirror %")["Traffic %"]) == [90, 10]  # the table drawn after the change agrees
    assert (traffic_input(at, "blue").value, traffic_input(at, "green").value) == (90, 10)


def test_promote_and_roll_back_are_one_click_each(live):
    backend, name = live
    add_green(backend, name, traffic=10)
    at = ok(endpoints_page())
    at.button(key=f"ep_promote_{name}_green").click().run()
    ok(at)
    assert backend.get_service(name).traffic == {"blue": 0, "green": 100}
    assert [s.value for s in at.success] == ["Promoted green: blue 0 %, green 100 %."]
    event = backend.list_audit_events()[0]
    assert (event.action, event.target) == ("change_traffic", f"service {name}: Promoted green: blue 0 %, green 100 %.")
    assert list(table(at, "Mirror %")["Traffic %"]) == [0, 100]
    at.button(key=f"ep_rollback_{name}").click().run()
    ok(at)
    assert backend.get_service(name).traffic == {"blue": 90, "green": 10}
    assert [s.value for s in at.success] == [f"Rolled back {name}: blue 90 %, green 10 %."]


def test_mirror_traffic_and_deleting_an_idle_deployment(live):
    backend, name = live
    add_green(backend, name)
    at = ok(endpoints_page())
    assert not [b for b in at.button if b.key == f"ep_delete_deployment_{name}_blue"]  # blue takes traffic
    at.selectbox(key=f"ep_mirror_target_{name}").set_value("green")
    at.number_input(key=f"ep_mirror_percent_{name}").set_value(60)
    at.button(key=f"ep_mirror_set_{name}").click().run()
    assert [e.value for e in at.error] == ["Nothing changed. mirror traffic is at most 50 % of requests, got 60 %"]
    assert backend.get_service(name).mirror_traffic == {"blue": 0, "green": 0}
    at.number_input(key=f"ep_mirror_percent_{name}").set_value(25)
    at.button(key=f"ep_mirror_set_{name}").click().run()
    ok(at)
    assert backend.get_service(name).mirror_traffic == {"blue": 0, "green": 25}
    assert [s.value for s in at.success] == [f"{name} mirrors 25 % of requests to green."]
    assert not [b for b in at.button if b.key == f"ep_delete_deployment_{name}_green"]  # a shadow is not idle
    at.selectbox(key=f"ep_mirror_target_{name}").set_value("off")
    at.button(key=f"ep_mirror_set_{name}").click().run()
    assert backend.get_service(name).mirror_traffic == {"blue": 0, "green": 0}
    at.button(key=f"ep_delete_deployment_{name}_green").click().run()
    ok(at)
    assert [d.name for d in backend.list_deployments(name)] == ["blue"]
    assert list(table(at, "Mirror %")["Deployment"]) == ["blue"]


def test_the_add_deployment_form_adds_a_challenger_with_its_share(live):
    backend, name = live
    at = ok(endpoints_page())
    assert not [n for n in at.number_input if n.label == "blue %"]  # one deployment: nothing to split yet
    assert any("Add a deployment (below) to split the traffic" in c.value for c in at.caption)
    assert at.selectbox(key="ep_add_model").value == "bank-model"
    assert at.selectbox(key="ep_add_version").value == 2  # the newest version first
    assert at.text_input(key=f"ep_add_name_{name}_2_blue").value == "green"
    at.text_input(key=f"ep_add_name_{name}_2_blue").input("Green!").run()
    assert any("deployment name 'Green!' is not valid" in e.value for e in at.error)
    assert at.button(key="ep_add").disabled
    at.text_input(key=f"ep_add_name_{name}_2_blue").input("green").run()
    at.number_input(key="ep_add_share").set_value(10)
    at.button(key="ep_add").click().run()
    ok(at)
    assert backend.get_service(name).traffic == {"blue": 90, "green": 10}
    assert backend.get_service(name).deployments[1].model == "bank-model:2"
    assert (traffic_input(at, "blue").value, traffic_input(at, "green").value) == (90, 10)
    assert any("Added deployment **green** (bank-model:2)" in s.value for s in at.success)
    assert at.text_input(key=f"ep_add_name_{name}_2_blue-green").value == "version-2"  # green is taken now
    at.text_input(key=f"ep_add_name_{name}_2_blue-green").input("green").run()
    at.button(key="ep_add").click().run()  # the same name again: the backend's message, nothing changed
    assert any("already has a deployment" in e.value for e in at.error), [e.value for e in at.error]
    assert backend.get_service(name).traffic == {"blue": 90, "green": 10}


def test_compare_shows_the_figures_of_compare_deployments(live, records, bank_small_csv):
    backend, name = live
    add_green(backend, name, "teal")
    service = backend.update_service(name, data_collection=True)  # live accuracy joins labels with these
    key = backend.get_service_keys(name).primary
    truth = list(pd.read_csv(bank_small_csv)["y"].head(20).astype(str))
    since = time.time()
    labels = []
    try:
        for index in range(12):
            result = score(
                service.scoring_uri, records[index : index + 2], key=key, deployment="teal" if index < 4 else None
            )
            labels += [{"request_id": result.request_id, "record": r, "label": truth[index + r]} for r in (0, 1)]
        backend.add_service_labels(name, labels)
        wait_until(
            lambda: (
                (stats := backend.compare_deployments(name, since=since)).stats("blue").labelled == 16
                and stats.stats("teal").labelled == 8
            ),
            timeout=30,
            what="12 requests in telemetry and their 24 records collected",
        )
    finally:
        backend.update_service(name, data_collection=False)
    at = page("pages/endpoints.py")
    at.session_state["ep_tabs"] = "Compare"
    at.run()
    ok(at)
    comparison = backend.compare_deployments(name, since=time.time() - 86_400)
    shown = table(at, "Agreement %").set_index("Deployment")
    for stats in comparison.deployments:
        row = shown.loc[stats.name]
        assert (row["Requests"], row["Mirrored"], row["Traffic %"]) == (stats.requests, stats.mirrored, stats.traffic)
        assert row["p50 ms"] == pytest.approx(stats.p50, abs=0.01) and row["p99 ms"] == pytest.approx(
            stats.p99, abs=0.01
        )
        assert row["Failed %"] == 0 and row["CV accuracy"] == pytest.approx(stats.cv_accuracy, abs=1e-4)
        assert row["Labelled"] == stats.labelled and row["Live accuracy"] == pytest.approx(stats.accuracy, abs=1e-4)
    assert shown.loc["teal", "Requests"] == 4 and shown.loc["blue", "Requests"] >= 8  # blue: other tests' too
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    charts = {chart["layout"]["title"]["text"]: chart for chart in charts}
    latency = charts["Latency per deployment"]["data"]
    assert [trace["name"] for trace in latency] == ["p50", "p95", "p99"]
    assert latency[0]["y"] == pytest.approx([comparison.stats("blue").p50, comparison.stats("teal").p50])
    mix = charts["Predicted class mix per deployment"]["data"]
    counts = {trace["name"]: trace["customdata"] for trace in mix}
    assert {label: sum(values) for label, values in counts.items()} == {
        label: sum(s.predictions.get(label, 0) for s in comparison.deployments) for label in counts
    }
    teal = [s.name for s in comparison.deployments].index("teal")
    assert sum(values[teal] for values in counts.values()) == 8  # its 4 requests of 2 records
    assert shown.loc["teal", "Labelled"] == 8 and 0 <= shown.loc["teal", "Live accuracy"] <= 1


def test_compare_says_why_it_is_empty(live):
    backend, _ = live
    backend.deploy_model(name="quiet-endpoint", model_name="bank-model", model_version=1)  # telemetry off
    try:
        at = page("pages/endpoints.py")
        at.session_state["ep_tabs"] = "Compare"
        at.session_state["ep_service"] = "quiet-endpoint"
        ok(at.run())
        assert any("Telemetry is off for this endpoint" in i.value for i in at.info)
        assert any(i.value.startswith("Telemetry is off: switch it on") for i in at.info)  # the comparison's note
        assert not at.get("plotly_chart")
        assert list(table(at, "Agreement %")["Requests"]) == [0]
        backend.update_service("quiet-endpoint", app_insights_enabled=True)
        ok(at.run())
        assert any("No requests in the last 24 hours" in i.value for i in at.info), [i.value for i in at.info]
    finally:
        backend.delete_service("quiet-endpoint")


def test_the_registry_deploys_a_version_as_a_challenger(live):
    backend, name = live
    at = page("pages/models.py").run()
    at.selectbox(key="models_version").set_value(2).run()
    ok(at)
    assert at.selectbox(key="models_ch_endpoint").value == name
    assert at.text_input(key=f"models_ch_name_{name}_bank-model:2_blue").value == "green"
    at.radio(key="models_ch_how").set_value("Mirror only %")
    at.button(key="models_ch_deploy").click().run()
    ok(at)
    green = backend.list_deployments(name)[1]
    assert (green.name, green.model, green.traffic, green.mirror) == ("green", "bank-model:2", 0, 10)
    assert any("10 % of requests mirrored" in s.value for s in at.success)
    assert (
        at.text_input(key=f"models_ch_name_{name}_bank-model:2_blue-green").value == "version-2"
    )  # green is taken now
    at.radio(key="models_ch_how").set_value("Live traffic %")
    at.button(key="models_ch_deploy").click().run()
    ok(at)
    assert backend.get_service(name).traffic == {"blue": 90, "green": 0, "version-2": 10}


def test_the_score_page_picks_a_deployment_and_says_which_answered(live):
    backend, name = live
    add_green(backend, name, "coral")
    at = page("pages/score.py").run()
    picker = at.selectbox(key="score_deployment")
    assert picker.value == "By traffic split" and picker.options == ["By traffic split", "blue", "coral"]
    at.button(key="score_record").click().run()
    ok(at)
    assert at.session_state[f"score_result_{name}"][2].deployment == "blue"  # green takes no live traffic
    assert "answered by deployment **blue**" in at.success[0].value
    at.selectbox(key="score_deployment").set_value("coral").run()
    at.button(key="score_record").click().run()
    ok(at)
    assert at.session_state[f"score_result_{name}"][2].deployment == "coral"
    assert "answered by deployment **coral**" in at.success[0].value
    assert any("deployment coral: model bank-model:2" in c.value for c in at.caption)  # the model that answers


@pytest.fixture(scope="module")
def narrow_model(rollout_workspace) -> str:
    """narrow-model:1 lacks the last input column of bank-model (another input schema): the column it lacks."""
    return rollout_workspace.dropped


def test_another_input_schema_is_deployed_only_once_confirmed(live, narrow_model):
    backend, name = live
    at = ok(endpoints_page())
    at.selectbox(key="ep_add_model").set_value("narrow-model").run()
    at.button(key="ep_add").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (warning,) = at.warning
    assert f"no column(s) {narrow_model}" in warning.value and "Confirm" in warning.value
    assert [d.name for d in backend.list_deployments(name)] == ["blue"]  # nothing changed yet
    at.checkbox(key="ep_pending_deployment_confirm").check().run()
    ok(at)
    service = backend.get_service(name)
    assert service.traffic == {"blue": 90, "green": 10} and service.model == "narrow-model:1"
    assert any("swagger.json now describes its schema" in s.value for s in at.success)
    assert not at.warning  # the confirmation is gone with the request it confirmed


def test_the_registry_form_asks_the_same_confirmation(live, narrow_model):
    backend, name = live
    at = page("pages/models.py")
    at.session_state["models_name"] = "narrow-model"
    at.run()
    at.radio(key="models_ch_how").set_value("Mirror only %")
    at.button(key="models_ch_deploy").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(f"no column(s) {narrow_model}" in w.value for w in at.warning)
    assert [d.name for d in backend.list_deployments(name)] == ["blue"]
    at.checkbox(key="models_pending_deployment_confirm").check().run()
    ok(at)
    green = backend.list_deployments(name)[1]
    assert (green.name, green.model, green.mirror) == ("green", "narrow-model:1", 10)
    assert backend.get_service(name).model == "narrow-model:1"


def test_the_score_form_follows_the_schema_of_the_deployment_picked(live, narrow_model):
    backend, name = live
    backend.create_deployment(name, name="slim", model_name="narrow-model", allow_schema_change=True)
    backend.wait_for_deployment(name, "slim", timeout=60)
    backend.promote_deployment(name, "blue")  # the endpoint's model (its swagger) is blue's again
    at = page("pages/score.py").run()
    assert narrow_model in at.session_state[f"score_rows_{name}"].columns  # by traffic split: the endpoint's
    at.selectbox(key="score_deployment").set_value("slim").run()
    ok(at)
    assert narrow_model not in at.session_state[f"score_rows_{name}"].columns  # slim's model lacks it
    at.button(key="score_record").click().run()
    ok(at)
    assert at.session_state[f"score_result_{name}"][2].deployment == "slim"


def test_promoting_the_mirrored_deployment_says_its_mirror_stopped(live):
    backend, name = live
    add_green(backend, name, mirror=20)
    at = ok(endpoints_page())
    assert any("**green** · bank-model:2 · 0 % · mirror 20 %" in m.value for m in at.markdown)
    at.button(key=f"ep_promote_{name}_green").click().run()
    ok(at)
    assert [s.value for s in at.success] == [
        "Promoted green: blue 0 %, green 100 %. Its mirror traffic (20 %) stopped: it takes live traffic now."
    ]
    assert backend.get_service(name).mirror_traffic == {"blue": 0, "green": 0}
