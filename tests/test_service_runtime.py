"""A service's runtime settings (keys, switches) changed from several threads at once: every change lands."""

from __future__ import annotations

import threading

import pytest


@pytest.fixture
def service(trained_backend, automl_run_id):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")  # no agent: only its settings matter here
    return trained_backend


def test_concurrent_key_regenerations_all_land(service):
    """One thread rotates the primary key, one the secondary, one flips telemetry, all at once, while a
    fourth watches the keys. A revoked key never comes back (a lost update would write an older key back,
    usable again by a client that was told it was revoked), and at the end the keys are the last handed out."""
    issued: dict[str, list[str]] = {"Primary": [], "Secondary": []}
    watched: list[tuple[str, str]] = []
    done = threading.Event()
    start = threading.Barrier(4)

    def rotate(which: str) -> None:
        start.wait()
        for _ in range(300):
            keys = service.regenerate_service_key("svc", which)
            issued[which].append(keys.primary if which == "Primary" else keys.secondary)

    def flip() -> None:
        start.wait()
        for flag in (True, False) * 150:
            service.update_service("svc", app_insights_enabled=flag)

    def watch() -> None:
        start.wait()
        while not done.is_set():
            keys = service.get_service_keys("svc")
            watched.append((keys.primary, keys.secondary))

    writers = [threading.Thread(target=rotate, args=(which,)) for which in ("Primary", "Secondary")]
    writers.append(threading.Thread(target=flip))
    watcher = threading.Thread(target=watch)
    for thread in [*writers, watcher]:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    watcher.join()
    final = service.get_service_keys("svc")
    assert final.primary == issued["Primary"][-1] and final.secondary == issued["Secondary"][-1]
    for which, position in (("Primary", 0), ("Secondary", 1)):
        order = {key: index for index, key in enumerate(issued[which])}
        seen = [order[keys[position]] for keys in watched if keys[position] in order]
        assert seen == sorted(seen), f"a replaced {which.lower()} key came back"


def test_switches_and_keys_changed_together_keep_both(service):
    before = service.get_service_keys("svc")
    start = threading.Barrier(2)

    def switch() -> None:
        start.wait()
        for flag in (True, False) * 10 + (True,):
            service.update_service("svc", app_insights_enabled=flag)

    def rotate() -> None:
        start.wait()
        for _ in range(20):
            service.regenerate_service_key("svc", "Primary")

    threads = [threading.Thread(target=switch), threading.Thread(target=rotate)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert service.get_service("svc").app_insights_enabled is True
    assert service.get_service_keys("svc").primary != before.primary


def test_a_runtime_file_that_does_not_parse_keeps_the_last_good_settings(tmp_path):
    """A runtime.json edited by hand into invalid JSON: the scoring process keeps serving with the settings
    it last read (every request used to fail with a 500, health checks too) until the file parses again."""
    from opml.files import write_private_file
    from opml.serving.app import RuntimeConfig

    path = tmp_path / "runtime.json"
    write_private_file(path, b'{"primary_key": "a", "auth_enabled": true}')
    runtime = RuntimeConfig(path)
    assert runtime.current() == {"primary_key": "a", "auth_enabled": True}
    for broken in (b'{"primary_key": "b", "auth_en', b"", b"[1, 2]"):
        write_private_file(path, broken)
        assert runtime.current() == {"primary_key": "a", "auth_enabled": True}
    write_private_file(path, b'{"primary_key": "c", "auth_enabled": false}')
    assert runtime.current() == {"primary_key": "c", "auth_enabled": False}
