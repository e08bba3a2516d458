"""The README's two commands are the ones that run the product and the tests, and CI uses the second."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import requests
from streamlit.testing.v1 import AppTest

from opml.backends.local import LocalBackend
from tests.helpers import free_port, wait_until

REPO = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_has_exactly_two_commands_and_ci_runs_the_test_one():
    run_command, test_command = readme_commands()
    assert run_command == "./scripts/run.sh" and test_command == "./scripts/test.sh"
    ci = [
        line
        for line in (REPO / ".ci/run").read_text().splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci == [test_command]
    for command in (run_command, test_command):
        assert os.access(REPO / command, os.X_OK), f"{command} is not executable"


def test_run_command_brings_up_dashboard_and_agent(tmp_path: Path):
    workspace, port = tmp_path / "ws", free_port()
    env = {**os.environ, "OPML_WORKSPACE": str(workspace), "OPML_GATEWAY_PORT": str(free_port())}
    process = subprocess.Popen(
        [str(REPO / readme_commands()[0]), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        backend = LocalBackend(workspace)
        wait_until(lambda: backend.agent_status().running, timeout=120, what="the agent")

        def dashboard_healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok"
            except requests.ConnectionError:
                return False

        wait_until(dashboard_healthy, timeout=60, what="the dashboard")
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}" in output
    wait_until(lambda: not backend.agent_status().running, timeout=15, what="the agent to stop")


def test_streamlit_run_app_starts_a_missing_agent(workspace: Path, monkeypatch):
    monkeypatch.setenv("OPML_AUTOSTART_AGENT", "1")
    backend = LocalBackend(workspace)
    assert not backend.agent_status().running
    at = AppTest.from_file(str(REPO / "pages/overview.py"), default_timeout=60).run()
    assert not at.exception
    status = backend.agent_status()
    try:
        assert status.running
    finally:
        if status.pid:
            os.kill(status.pid, signal.SIGTERM)
    wait_until(lambda: not backend.agent_status().running, timeout=15, what="the agent to stop")
