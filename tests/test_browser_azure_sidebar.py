"""An Azure ML workspace that cannot be reached, in a real browser (Debian's chromium driven by Playwright).

``opml up --config config.json --sdk v2`` with a made-up workspace and no sign-in, as a newcomer first tries it.
Every request the dashboard process makes to anything but this machine goes to a closed loopback port (its
HTTP(S) proxy), so Azure fails the way an offline machine fails it, and nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import requests

from tests.helpers import free_port, wait_until
from tests.test_browser_journey import CHROMIUM, REPO, Journey

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def azure_dashboard(tmp_path_factory):
    home = tmp_path_factory.mktemp("azure-sidebar")
    config = home / "config.json"
    config.write_text(json.dumps({"subscription_id": "0" * 8, "resource_group": "rg", "workspace_name": "ws"}))
    port, gateway, closed = free_port(), free_port(), free_port()
    proxy = f"http://127.0.0.1:{closed}"
    env = {**os.environ, "OPML_WORKSPACE": str(home / "ws"), "OPML_GATEWAY_PORT": str(gateway), "HOME": str(home)}
    env.update(HTTPS_PROXY=proxy, HTTP_PROXY=proxy, https_proxy=proxy, http_proxy=proxy, NO_PROXY="127.0.0.1,localhost")
    for name in ("OPML_AZURE_CONFIG", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "no_proxy"):
        env.pop(name, None)
    command = [sys.executable, "-m", "opml", "up", "--port", str(port), "--config", str(config), "--sdk", "v2"]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(f"{url}/_stcore/health", timeout=2).text == "ok"
        except requests.ConnectionError:
            return False

    try:
        wait_until(healthy, timeout=120, what="the dashboard")
        banner = [process.stdout.readline() for _ in range(5)]  # up's own lines, before Streamlit's
        assert f"azure ml: {config} (SDK v2) opens first in the dashboard; its sidebar switches to the local one\n" in (
            banner
        ), banner
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def journey(azure_dashboard):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(60_000)
        page = context.new_page()
        page.goto(azure_dashboard)
        page.get_by_role("heading", name="Workspace overview").wait_for()
        yield Journey(page, azure_dashboard)
        browser.close()


def test_every_page_of_an_unreachable_v2_workspace_says_why_and_shows_the_local_one(journey):
    """SDK v2 opens a workspace without asking Azure: the pages but the overview showed a traceback."""
    journey.text("cannot be opened", timeout=60)
    journey.check("azure-v2-unreachable")
    for title in ("Datasets", "Endpoints", "Score"):
        journey.open_page(title)
        journey.settle()
        journey.text("cannot be opened")
        journey.widget("workspace_retry").wait_for()
        journey.check(f"azure-v2-unreachable-{title.lower()}")


def test_the_workspace_selector_names_the_sdk_picked_in_the_sidebar(journey):
    """The sidebar's Workspace selector kept saying "(v2)" after SDK v1 was picked below it."""
    assert journey.selected("workspace_select").startswith("Azure ML (v2)")
    journey.page.get_by_text("SDK v1 (azureml-core").click()
    journey.settle()
    wait_until(lambda: journey.selected("workspace_select").startswith("Azure ML (v1)"), timeout=10, what="(v1)")
    journey.page.get_by_text("SDK v2 (azure-ai-ml)").click()
    journey.settle()
    wait_until(lambda: journey.selected("workspace_select").startswith("Azure ML (v2)"), timeout=10, what="(v2)")
    journey.check("azure-sdk-switched")
