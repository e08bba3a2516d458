"""The agent's supervisor with real scoring processes: restart after kill -9, agent restarts, delete, failures."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil
import pytest
import requests

from opml.agent.launcher import start_agent
from opml.backends.local import LocalBackend
from opml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from tests.helpers import wait_until


@pytest.fixture
def registered(trained_backend: LocalBackend, automl_run_id) -> LocalBackend:
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    return trained_backend


@pytest.fixture
def running_agent(registered: LocalBackend):
    process = start_agent(registered.path)
    yield process
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)
    for service in registered.services.rows():
        if service["pid"]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service["pid"], signal.SIGKILL)


def healthy(backend: LocalBackend, name: str):
    service = backend.wait_for_service(name, timeout=90)
    assert service.state == "Healthy", service.error
    assert requests.get(service.base_uri + "/", timeout=5).text == "Healthy"
    return service


def test_killed_scoring_process_is_restarted(registered, running_agent):
    registered.deploy_model(name="svc", model_name="bank-model")
    healthy(registered, "svc")
    pid = registered.services.process_of("svc")[0]
    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: registered.get_service("svc").restarts >= 1, timeout=15, what="the restart to be counted")
    wait_until(lambda: registered.services.process_of("svc")[0] not in (None, pid), timeout=30, what="a new process")
    service = healthy(registered, "svc")
    assert service.restarts == 1


def test_services_stop_with_the_agent_and_come_back_with_the_next(registered, running_agent):
    registered.deploy_model(name="svc", model_name="bank-model")
    service = healthy(registered, "svc")
    pid = registered.services.process_of("svc")[0]
    running_agent.terminate()
    running_agent.wait(timeout=30)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert registered.get_service("svc").state == "Transitioning"  # not Healthy while nothing serves it
    again = start_agent(registered.path)
    try:
        assert healthy(registered, "svc").scoring_uri == service.scoring_uri
    finally:
        again.terminate()
        again.wait(timeout=30)


def test_service_survives_agent_kill_and_is_adopted(registered, running_agent):
    registered.deploy_model(name="svc", model_name="bank-model")
    healthy(registered, "svc")
    pid = registered.services.process_of("svc")[0]
    running_agent.send_signal(signal.SIGKILL)
    running_agent.wait(timeout=10)
    service = registered.get_service("svc")
    assert requests.get(service.base_uri + "/", timeout=5).status_code == 200  # still serving
    again = start_agent(registered.path)
    try:
        wait_until(lambda: registered.agent_status().running, timeout=10)
        healthy(registered, "svc")
        assert registered.services.process_of("svc")[0] == pid  # adopted, not restarted
    finally:
        again.terminate()
        again.wait(timeout=30)


def test_delete_stops_the_process_and_forgets_the_service(registered, running_agent):
    registered.deploy_model(name="svc", model_name="bank-model")
    service = healthy(registered, "svc")
    pid = registered.services.process_of("svc")[0]
    with pytest.raises(Conflict, match="used by service"):
        registered.delete_model("bank-model", 1)
    registered.delete_service("svc")
    assert registered.get_service("svc").state == "Deleting"
    wait_until(lambda: not registered.list_services(), timeout=30, what="the service to go")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(requests.ConnectionError):
        requests.get(service.base_uri + "/", timeout=2)
    registered.delete_model("bank-model", 1)  # no service uses it any more


def test_a_model_that_cannot_load_ends_failed_until_a_user_restarts_it(registered, running_agent):
    path = registered.download_model("bank-model")
    good = path.read_bytes()
    path.write_bytes(good + b"tampered")
    log = registered.layout.service_log("svc")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("an old line of an earlier service of this name\n")
    registered.deploy_model(name="svc", model_name="bank-model")
    service = registered.wait_for_service("svc", timeout=120)
    assert service.state == "Failed"
    assert service.error.startswith("gave up after 5 crashes within 120 s without answering; fix the cause")
    assert "refusing to load" in service.error and service.restarts >= 4
    assert "an old line" not in service.error  # the crash's own output is quoted, not older lines
    # Failed is kept: the next agent does not start it again by itself.
    running_agent.terminate()
    running_agent.wait(timeout=30)
    successor = start_agent(registered.path)
    try:
        wait_until(lambda: registered.agent_status().running, timeout=30, what="the next agent")
        time.sleep(3)  # a dozen ticks of the new agent
        assert registered.get_service("svc").state == "Failed" and registered.services.process_of("svc")[0] is None
        path.write_bytes(good)  # the cause fixed, a user restarts it
        assert registered.restart_service("svc").state == "Transitioning"
        assert healthy(registered, "svc").restarts >= 4
        with pytest.raises(Conflict, match="only a Failed service is restarted"):
            registered.restart_service("svc")
    finally:
        successor.terminate()
        successor.wait(timeout=30)


def test_bad_deployments_are_refused(registered):
    with pytest.raises(NotFound):
        registered.deploy_model(name="svc", model_name="nope")
    with pytest.raises(InvalidInput, match="port"):
        registered.deploy_model(name="svc", model_name="bank-model", port=80)
    with pytest.raises(InvalidInput):
        registered.deploy_model(name="bad/name", model_name="bank-model")
    registered.deploy_model(name="svc", model_name="bank-model", port=45123)
    with pytest.raises(AlreadyExists, match="already exists"):
        registered.deploy_model(name="svc", model_name="bank-model")
    with pytest.raises(AlreadyExists, match="port 45123"):
        registered.deploy_model(name="other", model_name="bank-model", port=45123)
    with pytest.raises(InvalidInput, match="Primary"):
        registered.regenerate_service_key("svc", "tertiary")
    assert registered.get_service("svc").auth_enabled  # auth is on by default


def test_a_service_killed_again_and_again_after_answering_always_comes_back(registered, running_agent):
    """Killing a healthy process is not a crash loop: six kills in a row (more than the give-up count),
    and the service answers again after each."""
    registered.deploy_model(name="svc", model_name="bank-model")
    healthy(registered, "svc")
    for _ in range(6):
        pid = registered.services.process_of("svc")[0]
        os.killpg(pid, signal.SIGKILL)
        wait_until(
            lambda pid=pid: registered.services.process_of("svc")[0] not in (None, pid), timeout=30, what="a restart"
        )
        healthy(registered, "svc")
    assert registered.get_service("svc").restarts == 6
