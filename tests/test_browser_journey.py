"""The README's walkthrough in a real browser (Debian's chromium driven by Playwright).

The product is started exactly as the README's run command does, on its own workspace and ports.
Then, as a user: register the Bank Marketing CSV by upload, launch AutoML and watch it complete,
find an ensemble on the leaderboard and register the best model, deploy it with auth, switch App
Insights on, score records from the form, open Swagger UI, see the requests on the telemetry chart,
deploy a second version from the registry as a challenger at 10 %, score it, promote it and roll back,
build, run and publish the training pipeline, trigger it with ``requests`` and the token the page
shows, and watch that run complete. Each step saves a screenshot (the folder is printed; the README's
images are copied from it by ``python -m tests.browser_screenshots``). The test fails on any console
error, any Streamlit exception shown on a page, and any request that tries to leave the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest
import requests

from opml.backends.local import LocalBackend
from opml.rollout import DEPLOYMENT_HEADER
from tests.helpers import free_port, wait_until

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("OPML_SCREENSHOTS") or REPO / "build" / "screenshots")
AUTOML_MINUTES = "1"
PIPELINE_AUTOML_MINUTES = "0.5"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def product(tmp_path_factory, bank_csv: Path):
    """``./scripts/run.sh --port P`` on a fresh workspace; yields (dashboard URL, backend)."""
    workspace = tmp_path_factory.mktemp("journey") / "ws"
    port, gateway = free_port(), free_port()
    env = {**os.environ, "OPML_WORKSPACE": str(workspace), "OPML_GATEWAY_PORT": str(gateway)}
    env.pop("OPML_AZURE_CONFIG", None)
    process = subprocess.Popen(
        [str(REPO / "scripts/run.sh"), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    backend = LocalBackend(workspace)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(f"{url}/_stcore/health", timeout=2).text == "ok"
        except requests.ConnectionError:
            return False

    try:
        wait_until(healthy, timeout=180, what="the dashboard")
        wait_until(lambda: backend.agent_status().running, timeout=60, what="the agent")
        yield url, backend
    finally:
        for service in backend.list_services():
            backend.delete_service(service.name)
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class Journey:
    """A browser page plus what the test watches on it: console errors, Streamlit exceptions, and
    requests to anything but this machine (they are blocked: the journey must work offline)."""

    def __init__(self, page, url: str):
        self.page, self.url = page, url
        self.console_errors: list[str] = []
        self.blocked: list[str] = []
        self.shots = 0
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        page.context.route("**/*", self._route)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _route(self, route) -> None:
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    # -- steps -----------------------------------------------------------------------------

    def open_page(self, title: str) -> None:
        self.page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
        self.page.get_by_role("heading", level=1).first.wait_for()
        self.page.wait_for_load_state("networkidle")

    def reopen(self, title: str) -> None:
        """Show a page afresh, as a user would: through another page (a reload of a sub-page URL makes
        Streamlit's frontend probe ``/<page>/_stcore/...`` first, which answers 404)."""
        self.open_page("Overview")
        self.open_page(title)

    def settle(self) -> None:
        """Wait until the app's script run (if any) is over: Streamlit shows its status widget meanwhile."""
        self.page.wait_for_timeout(300)
        self.page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=60_000)

    def open_tab(self, name: str, shows: str) -> None:
        """Select the tab ``name`` and wait until the widget keyed ``shows`` in it is visible. A click that
        lands while a script run redraws the page can be undone by the redraw (seen once in CI): the run
        is waited out first, and the tab is clicked again while it does not show as selected."""
        tab = self.page.get_by_role("tab", name=name)
        for _ in range(3):
            self.settle()
            tab.click()
            self.settle()
            if tab.get_attribute("aria-selected") == "true":
                break
        self.widget(shows).wait_for()

    def widget(self, key: str):
        # not an element a rerun is about to replace (Streamlit keeps it, marked stale, until the new one is drawn)
        return self.page.locator(f'.st-key-{key}:not([data-stale="true"])')

    def fill(self, key: str, value: str) -> None:
        box = self.widget(key).locator("input, textarea").first
        box.fill(value)
        box.press("Tab")

    def choose(self, key: str, option: str) -> None:
        """Pick ``option`` in the selectbox keyed ``key``. A script run can redraw the box and close the
        open list before the option is clicked (seen in CI): the run is waited out and the list opened again."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        for attempt in range(3):
            self.settle()
            combobox = self.widget(key).get_by_role("combobox")
            combobox.evaluate("element => element.scrollIntoView({block: 'center'})")
            combobox.click()
            choice = self.page.get_by_role("option", name=option, exact=True)
            try:
                choice.wait_for(timeout=10_000)
                choice.click(timeout=10_000)
                return
            except PlaywrightTimeoutError:
                if attempt == 2:
                    raise
                self.page.keyboard.press("Escape")

    def options(self, key: str) -> list[str]:
        """The texts of a selectbox's options: open the list, read it, close it. A script run can
        redraw the box and close an open list before it is read (seen once in CI); then open it again."""
        texts: list[str] = []
        for _ in range(3):
            self.settle()
            combobox = self.widget(key).get_by_role("combobox")
            # At the bottom edge of the window the list did not open: centre the box first.
            combobox.evaluate("element => element.scrollIntoView({block: 'center'})")
            combobox.click()
            self.page.get_by_role("option").first.wait_for()
            texts = [t for t in self.page.get_by_role("option").all_inner_texts() if t.strip()]
            self.page.keyboard.press("Escape")
            if texts:
                break
        return texts

    def selected(self, key: str) -> str:
        """The text a selectbox shows for its current value."""
        box = self.widget(key).get_by_role("combobox")
        return box.input_value() or box.get_attribute("aria-label") or self.widget(key).text_content()

    def cell(self, column: str, text):
        """The first cell showing ``text`` in the table that has a column named ``column`` (tables carry no
        widget key; their cells are glide-data-grid's accessible ones)."""
        table = self.page.locator('[data-testid="stDataFrame"]').filter(
            has=self.page.locator('[role="columnheader"]', has_text=column)
        )
        table.first.scroll_into_view_if_needed()
        return table.first.locator('[role="gridcell"]').filter(has_text=text).first

    def rows(self, column: str) -> dict[str, list[str]]:
        """The rows of the first table that has a column named ``column``, as its accessible cells show them, by
        their first cell (see ``cell``)."""
        table = self.page.locator('[data-testid="stDataFrame"]').filter(
            has=self.page.locator('[role="columnheader"]', has_text=column)
        )
        rows = {}
        for row in table.first.locator('[role="row"]').all():
            cells = row.locator('[role="gridcell"]').all_inner_texts()
            if cells:
                rows[cells[0].strip()] = [cell.strip() for cell in cells]
        return rows

    def click(self, key: str) -> None:
        self.widget(key).locator("button").first.click()

    def text(self, text: str, timeout: float = 30) -> None:
        self.page.get_by_text(text).filter(visible=True).first.wait_for(timeout=timeout * 1000)

    def check(self, name: str) -> None:
        """No exception on the page, no console error so far; then a screenshot."""
        exceptions = self.page.locator('[data-testid="stException"]')
        assert exceptions.count() == 0, exceptions.first.inner_text()
        assert self.console_errors == [], self.console_errors
        assert self.blocked == [], self.blocked
        self.shots += 1
        path = SCREENSHOTS / f"{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path))
        print(f"screenshot: {path}")


@pytest.fixture(scope="module")
def journey(product):
    from playwright.sync_api import sync_playwright

    url, _ = product
    print(f"screenshots go to {SCREENSHOTS}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        page = context.new_page()
        page.goto(url)
        page.get_by_role("heading", name="Workspace overview").wait_for()
        yield Journey(page, url)
        browser.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, journey):
    """A failed step leaves a picture of what the browser showed (the path is printed)."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        path = SCREENSHOTS / f"failed-{request.node.name}.png"
        journey.page.screenshot(path=str(path))
        print(f"screenshot of the failure: {path}")
        shown = journey.page.locator('[data-testid="stMain"]').inner_text(timeout=5_000)
        print("what the page showed:\n" + shown[:4_000])


def test_1_register_the_dataset_by_upload(journey, bank_csv, bank_rows):
    journey.check("overview")
    journey.open_page("Datasets")
    journey.page.get_by_text("Upload a file").click()
    journey.widget("ds_upload").wait_for()
    journey.settle()
    journey.fill("ds_name", "bankmarketing")
    journey.widget("ds_upload").locator('input[type="file"]').set_input_files(str(bank_csv))
    journey.widget("ds_upload").locator('[data-testid="stFileChipName"]').wait_for()
    journey.page.get_by_role("button", name="Register").click()
    journey.text(f"Registered bankmarketing version 1: {bank_rows:,} rows.", timeout=60)
    journey.check("dataset")


def test_2_automl_completes_with_an_ensemble_and_the_best_is_registered(journey, product):
    _, backend = product
    journey.open_page("Automated ML")
    journey.choose("automl_label", "y")
    journey.fill("automl_timeout", "-1")  # refused in words, and Launch stays off (not a run of 5 minutes)
    journey.text("experiment_timeout_minutes must be a positive number of minutes, got -1")
    assert journey.widget("automl_launch").locator("button").is_disabled()
    journey.fill("automl_timeout", AUTOML_MINUTES)
    journey.settle()
    journey.click("automl_launch")
    journey.text("Launched")
    journey.check("automl-launched")
    journey.text("Running", timeout=60)
    journey.check("automl-running")
    journey.widget("automl_open_leaderboard").wait_for(timeout=150_000)
    assert backend.list_runs(top_level_only=True)[0].status == "Completed"
    assert backend.list_runs(top_level_only=True)[0].params["experiment_timeout_minutes"] == float(AUTOML_MINUTES)
    # The past runs table follows without leaving the page.
    journey.cell("Primary metric", "Completed").wait_for(state="attached")
    journey.check("automl-completed")

    journey.click("automl_open_leaderboard")
    journey.page.get_by_role("heading", name="Leaderboard").wait_for()
    models = journey.options("lb_model")
    assert any(re.search(r"(VotingEnsemble|StackEnsemble)", m) for m in models), models
    ensemble_cell = journey.page.locator('[role="gridcell"]').filter(  # the tables' accessible cells
        has_text=re.compile(r"^(VotingEnsemble|StackEnsemble)$")
    )
    ensemble_cell.first.wait_for(state="attached")
    selected = journey.selected("lb_model")
    assert "(best)" in selected, selected
    journey.check("leaderboard")
    journey.open_tab("ROC", shows="lb_roc")
    journey.widget("lb_roc").scroll_into_view_if_needed()
    journey.check("leaderboard-roc")
    journey.open_tab("Register", shows="lb_register_name")
    journey.fill("lb_register_name", "bank-model")
    journey.click("lb_register")
    journey.text("Registered bank-model:1", timeout=120)
    assert backend.get_model("bank-model").algorithm in selected
    journey.check("model-registered")


def test_3_deploy_with_auth_and_switch_app_insights_on(journey, product):
    _, backend = product
    journey.open_page("Endpoints")
    journey.fill("ep_name", "bank-service")
    journey.click("ep_deploy")
    journey.text("Deploying")
    wait_until(lambda: backend.get_service("bank-service").state == "Healthy", timeout=90, what="Healthy")
    # The details follow the table live, without leaving the page.
    journey.page.locator('[data-testid="stMetricValue"]').filter(has_text="Healthy").wait_for(timeout=10_000)
    assert backend.get_service("bank-service").auth_enabled
    journey.open_tab("Telemetry", shows="ep_insights_bank-service")
    journey.widget("ep_insights_bank-service").locator("label").click()
    wait_until(lambda: backend.get_service("bank-service").app_insights_enabled, timeout=15, what="App Insights on")
    journey.settle()
    journey.cell("App Insights", re.compile("^on$")).wait_for(state="attached")
    journey.check("endpoint-healthy")


def test_4_score_two_records_and_open_swagger_ui(journey, product):
    _, backend = product
    journey.open_page("Score")
    journey.settle()
    journey.fill("score_field_bank-service_age", "30")
    journey.fill("score_field_bank-service_duration", "900")
    journey.click("score_record")
    journey.text("1 prediction(s) for the form's record")
    journey.cell("P(yes)", re.compile("^30$")).wait_for(
        state="attached"
    )  # the record on screen (age 30) is the one scored
    journey.text("Top reasons:")  # explained in the same request: reasons in words and a waterfall chart
    title = journey.widget("score_waterfall").locator("text.gtitle")
    title.wait_for()
    assert title.text_content().startswith("Why P(yes) = "), title.text_content()
    assert journey.widget("score_waterfall").get_by_text("duration = 900").count() == 1
    journey.widget("score_waterfall").scroll_into_view_if_needed()
    journey.check("explained")
    journey.settle()  # a click while the page still runs can be lost
    journey.click("score_add")
    journey.text("Added: the table has 2 record(s).")
    journey.settle()
    journey.click("score_table")
    journey.text("2 prediction(s) for the table's 2 record(s)")
    journey.check("scored")

    service = backend.get_service("bank-service")
    swagger = journey.page.context.new_page()
    swagger.goto(f"{service.base_uri}/docs")
    swagger.get_by_text("/score").first.wait_for()
    swagger.screenshot(path=str(SCREENSHOTS / "swagger-ui.png"))
    swagger.close()
    assert journey.blocked == [], journey.blocked


def test_5_telemetry_chart_shows_the_requests(journey, product):
    _, backend = product
    wait_until(lambda: len(backend.get_service_telemetry("bank-service")) >= 2, timeout=15, what="telemetry")
    journey.open_page("Endpoints")
    journey.open_tab("Telemetry", shows="ep_requests")
    requests_metric = journey.page.locator('[data-testid="stMetric"]').filter(has_text="Requests")
    assert requests_metric.locator('[data-testid="stMetricValue"]').inner_text() == "2"
    journey.widget("ep_requests").scroll_into_view_if_needed()
    journey.check("telemetry")
    journey.open_tab("Logs", shows="ep_log_lines")
    log = journey.page.locator('[data-testid="stCode"]').filter(has_text="POST /score").first
    log.wait_for()
    text = log.inner_text()
    assert len(re.findall(r"POST /score [0-9a-f-]{36} 200 [\d.]+ ms \d+ record\(s\)", text)) == 2, text
    assert backend.get_service_keys("bank-service").primary not in text


def test_5b_monitoring_shows_the_drift_of_shifted_requests(journey, product, bank_csv):
    from opml.client import score

    _, backend = product
    journey.open_page("Monitoring")
    journey.click("mon_collect_bank-service")  # collection is off: the page offers to switch it on
    wait_until(lambda: backend.get_service("bank-service").data_collection, timeout=15, what="data collection on")
    service = backend.get_service("bank-service")
    key = backend.get_service_keys("bank-service").primary
    rows = pd.read_csv(bank_csv).drop(columns="y").sample(n=800, random_state=1)
    plain = json.loads(rows.to_json(orient="records"))
    shifted = [{**record, "age": record["age"] + 30} for record in plain]  # an older clientele
    since = time.time()
    for chunk in range(0, 800, 200):  # an external program calling the endpoint
        score(service.scoring_uri, plain[chunk : chunk + 200], key=key)
        score(service.scoring_uri, shifted[chunk : chunk + 200], key=key)
    wait_until(
        lambda: backend.get_service_drift("bank-service", since=since).rows == 1600, timeout=30, what="collection"
    )
    journey.reopen("Monitoring")
    journey.cell("Feature", re.compile("^age$")).wait_for(state="attached")
    journey.cell("Verdict", re.compile("^drift$")).wait_for(state="attached")  # age, and only age
    assert journey.widget("mon_histogram").locator("text.gtitle").text_content().startswith("age")
    journey.widget("mon_histogram").scroll_into_view_if_needed()
    journey.check("monitoring-drift")


def answered_by(service, key: str, record: dict, count: int) -> Counter:
    """Which deployments answered ``count`` requests of ``record`` (the response header), as an external client."""
    answers: Counter = Counter()
    with requests.Session() as session:
        for _ in range(count):
            response = session.post(
                service.scoring_uri, json={"data": [record]}, headers={"Authorization": f"Bearer {key}"}, timeout=10
            )
            assert response.status_code == 200, response.text
            answers[response.headers[DEPLOYMENT_HEADER]] += 1
    return answers


def test_5c_a_challenger_from_the_registry_is_scored_promoted_and_rolled_back(journey, product, bank_csv):
    _, backend = product
    # A second version of bank-model: another child of the same AutoML run (a logistic regression if there is one).
    automl = backend.list_runs(experiment="bankmarketing-automl", top_level_only=True)[0]
    best = backend.get_model("bank-model", 1)
    children = [
        run
        for run in backend.list_runs(parent_id=automl.id)
        if run.status == "Completed" and run.id != best.run_id and "Ensemble" not in run.display_name
    ]
    children.sort(key=lambda run: run.display_name != "LogisticRegression")
    second = backend.register_model(name="bank-model", run_id=children[0].id)
    assert second.version == 2

    journey.open_page("Models")
    journey.choose("models_version", "v2")
    journey.open_tab("Deploy as a challenger", shows="models_ch_deploy")
    assert journey.selected("models_ch_endpoint") == "bank-service"
    journey.click("models_ch_deploy")  # the form's defaults: "green", 10 % of live traffic
    journey.text("Added deployment green (bank-model:2) to bank-service with 10 % of live traffic")

    journey.open_page("Endpoints")
    journey.open_tab("Deployments", shows="ep_rollback_bank-service")
    healthy = {
        "blue": ["blue", "bank-model:1", "90", "0", "Healthy"],
        "green": ["green", "bank-model:2", "10", "0", "Healthy"],
    }

    def shows(split: dict[str, list[str]]) -> bool:
        rows = journey.rows("Mirror %")
        return all(rows.get(name, [])[:5] == cells for name, cells in split.items())

    wait_until(lambda: shows(healthy), timeout=60, what="green Healthy, 90/10, in the table")  # no click: it follows
    assert backend.get_service("bank-service").traffic == {"blue": 90, "green": 10}
    journey.widget("ep_rollback_bank-service").scroll_into_view_if_needed()
    journey.check("endpoint-deployments")

    journey.open_page("Score")
    journey.choose("score_deployment", "green")
    journey.settle()
    journey.click("score_record")
    journey.text("answered by deployment green")
    journey.check("score-deployment")

    service = backend.get_service("bank-service")
    key = backend.get_service_keys("bank-service").primary
    record = json.loads(pd.read_csv(bank_csv, nrows=1).drop(columns="y").to_json(orient="records"))[0]
    journey.open_page("Endpoints")
    journey.open_tab("Deployments", shows="ep_promote_bank-service_green")
    journey.click("ep_promote_bank-service_green")
    journey.text("Promoted green: blue 0 %, green 100 %.")
    promoted = {
        "blue": ["blue", "bank-model:1", "0", "0", "Healthy"],
        "green": ["green", "bank-model:2", "100", "0", "Healthy"],
    }
    wait_until(lambda: shows(promoted), timeout=15, what="0/100 in the table")
    # The scoring process re-reads its routing within a moment: then every answer is green's.
    wait_until(lambda: answered_by(service, key, record, 1) == {"green": 1}, timeout=10, what="green answering")
    assert answered_by(service, key, record, 20) == {"green": 20}

    journey.settle()
    journey.click("ep_rollback_bank-service")
    journey.text("Rolled back bank-service: blue 90 %, green 10 %.")
    wait_until(lambda: shows(healthy), timeout=15, what="90/10 again in the table")
    wait_until(lambda: answered_by(service, key, record, 1) == {"blue": 1}, timeout=10, what="blue answering")
    answers = answered_by(service, key, record, 200)  # at 10 %, no green answer in 200 has odds of 7e-10
    assert set(answers) == {"blue", "green"} and answers["blue"] > answers["green"], answers
    journey.check("endpoint-rolled-back")

    # Leave the endpoint as the later steps found it: one deployment, blue, all traffic.
    backend.promote_deployment("bank-service", "blue")
    backend.delete_deployment("bank-service", "green")
    assert [d.name for d in backend.list_deployments("bank-service")] == ["blue"]


def test_6_pipeline_published_triggered_from_outside_and_watched(journey, product):
    _, backend = product
    journey.open_page("Pipelines")
    journey.fill("pl_timeout", PIPELINE_AUTOML_MINUTES)
    journey.click("pl_create")
    journey.text("Created pipeline")
    journey.click("pl_run")
    journey.text("Queued")
    journey.check("pipeline-created")

    journey.open_tab("Published", shows="pl_publish_name")
    journey.page.get_by_role("button", name="Publish").click()
    journey.text("Published Bankmarketing Train")
    journey.widget("pl_reveal").locator("label").click()
    code_blocks = journey.page.locator('[data-testid="stCode"]')
    revealed = code_blocks.filter(has_text="curl -X POST", has_not_text="<your-token>")
    snippet = revealed.first.inner_text()
    token = re.search(r"Bearer ([A-Za-z0-9_\-]+)", snippet).group(1)
    endpoint = re.search(r"(http://127\.0\.0\.1:\d+/pipelines/v1\.0/PipelineRuns/PipelineSubmit/[\w-]+)", snippet)
    journey.check("pipeline-published")

    answer = requests.post(
        endpoint.group(1),
        headers={"Authorization": f"Bearer {token}"},
        json={"ExperimentName": "bank-rest", "ParameterAssignments": {}},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["Id"]

    journey.reopen("Pipelines")
    journey.open_tab("Runs", shows="pl_watch")
    journey.choose("pl_watch", run_id)
    status = journey.page.locator('[data-testid="stMetric"]').filter(has_text="Status")
    status.locator('[data-testid="stMetricValue"]').filter(has_text=re.compile("Running|Completed")).wait_for()
    journey.check("pipeline-running")
    wait_until(lambda: backend.get_run(run_id).is_terminal, timeout=240, what="the pipeline run")
    assert backend.get_run(run_id).status == "Completed", backend.get_run(run_id).error
    status.locator('[data-testid="stMetricValue"]').filter(has_text="Completed").wait_for()
    journey.check("pipeline-completed")

    # The same run on the Runs page (found by its id), with its step graph and each step's log.
    journey.open_page("Runs")
    journey.fill("runs_id_search", run_id[-8:])
    journey.settle()
    journey.widget("runs_pipeline_graph").wait_for()
    journey.cell("Step", re.compile("^train$")).wait_for(state="attached")
    journey.text("[opml] step train (automl)")
    journey.check("runs-pipeline")
    # Its AutoML step is on the Leaderboard with the AutoML runs.
    journey.open_page("Leaderboard")
    options = journey.options("lb_run")
    assert any(f"{run_id}_train (pipeline step train)" in option for option in options), options

    # Runs side by side: the AutoML run and the pipeline's AutoML step, found by a parameter filter.
    journey.open_page("Runs")
    journey.fill("runs_id_search", "")
    journey.widget("runs_children").locator("label").click()
    journey.fill("runs_filter", "params.primary_metric = 'accuracy' and params.label_column = 'y'")
    journey.settle()
    compared = [backend.list_runs(experiment="bankmarketing-automl", top_level_only=True)[0].id, f"{run_id}_train"]
    for chosen in compared:
        # A script run that redraws the box can swallow a choice (seen once under load): choose again until
        # the box shows it.
        for _ in range(3):
            box = journey.widget("runs_compare").get_by_role("combobox")
            box.evaluate("element => element.scrollIntoView({block: 'center'})")  # lists open badly at the edge
            box.click()
            box.press_sequentially(chosen[-12:])
            journey.page.get_by_role("option", name=chosen, exact=True).click()
            journey.page.keyboard.press("Escape")
            journey.settle()
            if chosen in (journey.widget("runs_compare").text_content() or ""):
                break
    journey.widget("runs_compare_view_roc").wait_for()
    journey.cell(compared[0], "experiment_timeout_minutes").wait_for(state="attached")
    journey.widget("runs_compare_view_roc").scroll_into_view_if_needed()
    journey.check("runs-compare")
