"""Signing in to the dashboard for real: an OpenID Connect provider on loopback (``tests/oidc_provider.py``,
Authlib's authorization server: code flow with PKCE, discovery, JWKS, an id_token signed RS256) and the product
started with ``opml up --secrets FILE``, whose ``[auth]`` points at it (no ``cookie_secret``: opml makes one).
Debian's chromium, driven by Playwright, signs in through the provider's form: the allowed user gets the
dashboard, their email and a log-out, and what they do is recorded under their email; a user the provider knows
but ``OPML_ALLOWED_USERS`` does not is refused. Then ``opml up --allow-unauthenticated`` shows its red banner.
Every request that would leave the machine is blocked and fails the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from opml.backends.local import LocalBackend
from tests.helpers import free_port, wait_until
from tests.oidc_provider import OidcProvider

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("OPML_SCREENSHOTS") or REPO / "build" / "screenshots")
USERS = {"ada@example.com": "ada-password", "mallory@example.com": "mallory-password"}

pytestmark = pytest.mark.browser


def start_opml(workspace: Path, port: int, *arguments: str, allowed: str = "") -> subprocess.Popen:
    """``opml up`` on loopback with its own workspace and gateway port; returns once the dashboard answers."""
    env = {
        **os.environ,
        "OPML_WORKSPACE": str(workspace),
        "OPML_GATEWAY_PORT": str(free_port()),
        "OPML_ALLOWED_USERS": allowed,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for name in ("OPML_AZURE_CONFIG", "OPML_ALLOW_UNAUTHENTICATED"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "opml", "up", "--port", str(port), *arguments],
        cwd=REPO,
        env=env,
        start_new_session=True,
    )

    def healthy() -> bool:
        assert process.poll() is None, f"opml up exited with {process.returncode}"
        try:
            return requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok"
        except requests.ConnectionError:
            return False

    wait_until(healthy, timeout=60, what="the dashboard")
    return process


def stop_opml(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(users=USERS) as running:
        yield running


@pytest.fixture(scope="module")
def dashboard(provider, tmp_path_factory) -> Iterator[tuple[str, LocalBackend]]:
    """opml up with sign-in through ``provider``; only ada may use it. Yields (URL, workspace)."""
    folder = tmp_path_factory.mktemp("signin")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    provider.add_client("opml-dashboard", "client-secret-for-the-test", f"{url}/oauth2callback")
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        'client_id = "opml-dashboard"\n'
        'client_secret = "client-secret-for-the-test"\n'
        f'server_metadata_url = "{provider.metadata_url}"\n'
    )
    process = start_opml(folder / "ws", port, "--secrets", str(secrets), allowed="Ada@example.com")
    try:
        yield url, LocalBackend(folder / "ws")
    finally:
        stop_opml(process)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-background-networking"]
        )
        yield chromium
        chromium.close()


class Visit:
    """A fresh browser context (no cookies) that blocks and records requests leaving the machine, and records
    console errors (``close`` asserts there were none of either)."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(30_000)
        self.blocked: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def _route(self, route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def sign_in(self, url: str, provider: OidcProvider, email: str) -> None:
        """Open the dashboard, press Sign in, and sign in on the provider's form."""
        self.page.goto(url)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{provider.issuer}/authorize?*")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(USERS[email])
        self.page.get_by_role("button", name="Continue").click()
        self.page.wait_for_url(f"{url}/**")

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"signin-{name}.png"))

    def close(self) -> None:
        assert self.blocked == [], self.blocked
        assert self.console_errors == [], self.console_errors
        self.context.close()


def test_an_allowed_user_signs_in_acts_under_their_email_and_logs_out(dashboard, provider, browser):
    url, backend = dashboard
    visit = Visit(browser)
    visit.page.goto(url)
    visit.page.get_by_role("button", name="Sign in").wait_for()
    assert visit.page.locator('[data-testid="stSidebarNav"]').count() == 0  # no page before signing in
    visit.sign_in(url, provider, "ada@example.com")
    visit.page.get_by_role("heading", name="Workspace overview").wait_for()
    sidebar = visit.page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("ada@example.com").wait_for()
    assert sidebar.get_by_role("button", name="Log out").is_visible()
    assert {c["name"] for c in visit.context.cookies()} >= {"_streamlit_user"}
    visit.shot("signed-in")

    visit.page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Pipelines").click()
    visit.page.get_by_role("tab", name="Tokens").click()
    visit.page.locator(".st-key-pl_token_name input").fill("ci-robot")
    visit.page.locator(".st-key-pl_token_name input").press("Tab")
    visit.page.locator(".st-key-pl_token_create button").click()
    visit.page.get_by_text("Copy this token now").wait_for()
    assert [(e.actor, e.action, e.target) for e in backend.list_audit_events()] == [
        ("ada@example.com", "create_token", "token ci-robot")
    ]

    sidebar.get_by_role("button", name="Log out").click()
    visit.page.get_by_role("button", name="Sign in").wait_for()
    assert "_streamlit_user" not in {c["name"] for c in visit.context.cookies()}
    visit.page.reload()
    visit.page.get_by_role("button", name="Sign in").wait_for()  # signed out for good
    assert visit.page.get_by_role("heading", name="Workspace overview").count() == 0
    visit.close()


def test_a_user_not_on_the_list_is_refused(dashboard, provider, browser):
    url, backend = dashboard
    visit = Visit(browser)
    visit.sign_in(url, provider, "mallory@example.com")
    visit.page.get_by_text("mallory@example.com may not use this dashboard").wait_for()
    visit.page.get_by_text("OPML_ALLOWED_USERS").first.wait_for()
    assert visit.page.get_by_role("heading", name="Workspace overview").count() == 0
    assert visit.page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert visit.page.locator('[data-testid="stMetric"]').count() == 0
    visit.shot("refused")
    assert (backend.list_audit_events()[0].actor, backend.list_audit_events()[0].action) == (
        "mallory@example.com",
        "sign_in_refused",
    )
    visit.page.get_by_role("button", name="Log out").click()
    visit.page.get_by_role("button", name="Sign in").wait_for()
    visit.close()


def test_without_sign_in_every_page_carries_the_banner(tmp_path, browser):
    port = free_port()
    process = start_opml(tmp_path / "ws", port, "--allow-unauthenticated")
    try:
        visit = Visit(browser)
        visit.page.goto(f"http://127.0.0.1:{port}")
        visit.page.get_by_role("heading", name="Workspace overview").wait_for()
        for title in ("Overview", "Endpoints"):
            visit.page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
            visit.page.get_by_text("No sign-in.").wait_for()
        visit.page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Datasets").click()
        visit.page.get_by_text("Web URL").wait_for()
        assert visit.page.get_by_text("Local path", exact=True).count() == 0
        visit.shot("no-sign-in")
        visit.close()
    finally:
        stop_opml(process)
