"""Safe rollout: deployments behind one endpoint, traffic split, mirror traffic, promote, rollback, compare.

Where a backend cannot hold several deployments (``Capabilities.endpoints_hold_deployments``), a test
asserts that each operation it would use is refused with BackendUnavailable naming what the cloud offers,
and that the endpoint is unchanged. Most checks need no agent: a split, a promote or a rollback is a change
of the stored endpoint (its deployments' shares and ``Service.model``), followed by its scoring process on
its next request (``tests/test_rollout.py`` checks that through real processes).
"""

from __future__ import annotations

import time

import pytest

from opml.entities import HEALTHY
from opml.errors import AlreadyExists, BackendUnavailable, Conflict, InvalidInput, NotFound
from opml.rollout import MAX_DEPLOYMENTS
from tests.contract.fixtures import ContractFixtures

AZURE_OFFERS = "managed online endpoints"  # what a backend without deployments points to


def split(backend, service: str = "bank-svc") -> list[tuple[str, str, int, int]]:
    """(name, model, traffic, mirror) of the endpoint's deployments, oldest first."""
    return [(d.name, d.model, d.traffic, d.mirror) for d in backend.list_deployments(service)]


def refused(operation) -> None:
    with pytest.raises(BackendUnavailable, match=AZURE_OFFERS):
        operation()


class DeploymentContract(ContractFixtures):
    @pytest.fixture
    def endpoint(self, model_runs):
        """The workspace of ``model_runs`` with bank-model:1 (the AutoML run's best model) and bank-model:2
        (another of its children: a different model, the same input schema), and endpoint "bank-svc" serving
        version 1 as its one deployment, "blue"."""
        backend, automl_run, other_run = model_runs
        assert backend.register_model(name="bank-model", run_id=automl_run).version == 1
        assert backend.register_model(name="bank-model", run_id=other_run).version == 2
        backend.deploy_model(name="bank-svc", model_name="bank-model", model_version=1)
        return backend

    def test_a_deployed_service_is_an_endpoint_with_one_deployment(self, registered_model):
        backend = registered_model
        service = backend.deploy_model(name="bank-svc", model_name="bank-model", deployment_name="green")
        assert [(d.service, d.name, d.model, d.traffic, d.mirror) for d in service.deployments] == [
            ("bank-svc", "green", "bank-model:1", 100, 0)
        ]
        assert (service.traffic, service.mirror_traffic) == ({"green": 100}, {"green": 0})
        assert split(backend) == [("green", "bank-model:1", 100, 0)]
        assert backend.list_deployments("bank-svc") == list(backend.get_service("bank-svc").deployments)
        assert split(backend, backend.deploy_model(name="other-svc", model_name="bank-model").name) == [
            ("blue", "bank-model:1", 100, 0)  # the default name
        ]
        for bad in ("Blue", "b", "-blue", "blue-", "x" * 33, "", 7):
            with pytest.raises(InvalidInput, match="deployment name"):
                backend.deploy_model(name="third-svc", model_name="bank-model", deployment_name=bad)
        assert sorted(s.name for s in backend.list_services()) == ["bank-svc", "other-svc"]

    def test_bad_rollout_arguments_are_refused_before_the_backend_is_asked(self, registered_model):
        """The same words on every backend: the arguments are checked by the Backend interface itself."""
        backend = registered_model
        backend.deploy_model(name="bank-svc", model_name="bank-model")
        before = split(backend)
        for bad, fragment in (
            ({"name": "Green"}, "deployment name"),
            ({"name": "green", "traffic": 101}, "whole percent"),
            ({"name": "green", "traffic": 10.5}, "whole percent"),
            ({"name": "green", "mirror": -1}, "whole percent"),
            ({"name": "green", "mirror": True}, "whole percent"),
            ({"name": "green", "traffic": 10, "mirror": 10}, "not both"),
            ({"name": "green", "model_version": 0}, "version"),
            ({"name": "green", "allow_schema_change": "yes"}, "allow_schema_change"),
        ):
            with pytest.raises(InvalidInput, match=fragment):
                backend.create_deployment("bank-svc", **{"model_name": "bank-model", **bad})
        with pytest.raises(InvalidInput, match="model_name is required"):
            backend.create_deployment("bank-svc", name="green", model_name=" ")
        with pytest.raises(InvalidInput, match="must map deployment names"):
            backend.set_traffic("bank-svc", [("blue", 100)])
        with pytest.raises(InvalidInput, match="must map a deployment name"):
            backend.set_mirror_traffic("bank-svc", "green=10")
        for operation in (backend.delete_deployment, backend.promote_deployment):
            with pytest.raises(InvalidInput, match="deployment name"):
                operation("bank-svc", "../blue")
        for window, fragment in (
            ({"since": float("nan")}, "since must be a time"),
            ({"since": 10.0, "until": 10.0}, "must be before until"),
        ):
            with pytest.raises(InvalidInput, match=fragment):
                backend.compare_deployments("bank-svc", **window)
        assert split(backend) == before

    def test_an_unknown_endpoint_is_not_found(self, backend):
        for operation in (
            lambda: backend.list_deployments("nope"),
            lambda: backend.create_deployment("nope", name="green", model_name="bank-model"),
            lambda: backend.delete_deployment("nope", "green"),
            lambda: backend.set_traffic("nope", {"blue": 100}),
            lambda: backend.set_mirror_traffic("nope", {}),
            lambda: backend.promote_deployment("nope", "blue"),
            lambda: backend.rollback_traffic("nope"),
            lambda: backend.compare_deployments("nope", since=0),
            lambda: backend.wait_for_deployment("nope", "blue", timeout=1),
        ):
            with pytest.raises(NotFound):
                operation()

    def test_traffic_split_promote_and_rollback(self, endpoint, capabilities):
        backend = endpoint
        if not capabilities.endpoints_hold_deployments:
            before = backend.get_service("bank-svc")
            refused(lambda: backend.create_deployment("bank-svc", name="green", model_name="bank-model", traffic=10))
            refused(lambda: backend.set_traffic("bank-svc", {"blue": 100}))
            refused(lambda: backend.promote_deployment("bank-svc", "blue"))
            refused(lambda: backend.rollback_traffic("bank-svc"))
            after = backend.get_service("bank-svc")
            assert (after.model, after.traffic) == (before.model, before.traffic) == ("bank-model:1", {"blue": 100})
            return
        with pytest.raises(Conflict, match="no earlier traffic split"):
            backend.rollback_traffic("bank-svc")  # nothing changed since it was deployed
        green = backend.create_deployment("bank-svc", name="green", model_name="bank-model", traffic=10)
        assert (green.service, green.name, green.model, green.traffic, green.mirror) == (
            "bank-svc",
            "green",
            "bank-model:2",  # the latest version, as none was given
            10,
            0,
        )
        assert split(backend) == [("blue", "bank-model:1", 90, 0), ("green", "bank-model:2", 10, 0)]
        assert backend.get_service("bank-svc").model == "bank-model:1"  # the endpoint's model: the most traffic
        moved = backend.set_traffic("bank-svc", {"blue": 30, "green": 70})
        assert (moved.traffic, moved.model) == ({"blue": 30, "green": 70}, "bank-model:2")
        back = backend.rollback_traffic("bank-svc")
        assert (back.traffic, back.model) == ({"blue": 90, "green": 10}, "bank-model:1")
        forth = backend.rollback_traffic("bank-svc")  # rolling back twice goes forth again
        assert (forth.traffic, forth.model) == ({"blue": 30, "green": 70}, "bank-model:2")
        promoted = backend.promote_deployment("bank-svc", "blue")
        assert (promoted.traffic, promoted.model) == ({"blue": 100, "green": 0}, "bank-model:1")
        assert backend.get_service("bank-svc") == promoted
        assert backend.rollback_traffic("bank-svc").traffic == {"blue": 30, "green": 70}
        only_green = backend.set_traffic("bank-svc", {"green": 100})  # left out: 0
        assert (only_green.traffic, only_green.model) == ({"blue": 0, "green": 100}, "bank-model:2")

    def test_refused_changes_change_nothing(self, endpoint, capabilities):
        backend = endpoint
        if not capabilities.endpoints_hold_deployments:
            refused(lambda: backend.create_deployment("bank-svc", name="blue", model_name="bank-model"))
            refused(lambda: backend.set_traffic("bank-svc", {"blue": 90}))
            refused(lambda: backend.delete_deployment("bank-svc", "blue"))
            refused(lambda: backend.promote_deployment("bank-svc", "green"))
            assert split(backend) == [("blue", "bank-model:1", 100, 0)]
            return
        backend.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=2)
        before = backend.get_service("bank-svc")
        assert before.traffic == {"blue": 100, "green": 0}  # idle: reachable by its name in the header only
        for split_, fragment in (
            ({"blue": 90}, "add up to 100"),
            ({"blue": 50, "green": 60}, "add up to 100"),
            ({"blue": 90, "red": 10}, "unknown deployment"),
            ({"blue": 100.5}, "whole percent"),
            ({}, "add up to 100"),
        ):
            with pytest.raises(InvalidInput, match=fragment):
                backend.set_traffic("bank-svc", split_)
        with pytest.raises(AlreadyExists, match="green"):
            backend.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=1)
        with pytest.raises(NotFound):
            backend.create_deployment("bank-svc", name="red", model_name="bank-model", model_version=9)
        with pytest.raises(NotFound):
            backend.create_deployment("bank-svc", name="red", model_name="nope")
        with pytest.raises(Conflict, match="move its traffic"):
            backend.delete_deployment("bank-svc", "blue")  # the only one taking traffic
        with pytest.raises(NotFound, match="no deployment named 'red'"):
            backend.promote_deployment("bank-svc", "red")
        with pytest.raises(NotFound, match="no deployment named 'red'"):
            backend.delete_deployment("bank-svc", "red")
        assert backend.get_service("bank-svc") == before
        for number in range(3, MAX_DEPLOYMENTS + 1):
            backend.create_deployment("bank-svc", name=f"version-{number}", model_name="bank-model", model_version=1)
        with pytest.raises(Conflict, match=f"has {MAX_DEPLOYMENTS} deployments"):
            backend.create_deployment("bank-svc", name="one-more", model_name="bank-model", model_version=1)
        assert len(backend.list_deployments("bank-svc")) == MAX_DEPLOYMENTS
        assert backend.get_service("bank-svc").traffic == {"blue": 100} | {
            name: 0 for name in ["green", *(f"version-{n}" for n in range(3, MAX_DEPLOYMENTS + 1))]
        }

    def test_mirror_traffic_and_deleting_an_idle_deployment(self, endpoint, capabilities):
        backend = endpoint
        if not capabilities.endpoints_hold_deployments:
            refused(lambda: backend.create_deployment("bank-svc", name="green", model_name="bank-model", mirror=20))
            refused(lambda: backend.set_mirror_traffic("bank-svc", {"blue": 0}))
            refused(lambda: backend.delete_deployment("bank-svc", "green"))
            assert split(backend) == [("blue", "bank-model:1", 100, 0)]
            return
        shadow = backend.create_deployment("bank-svc", name="green", model_name="bank-model", mirror=20)
        assert (shadow.traffic, shadow.mirror) == (0, 20)
        service = backend.get_service("bank-svc")
        assert (service.traffic, service.mirror_traffic) == ({"blue": 100, "green": 0}, {"blue": 0, "green": 20})
        assert service.model == "bank-model:1"  # a shadow's answers are never returned
        with pytest.raises(Conflict, match="mirror traffic"):
            backend.delete_deployment("bank-svc", "green")
        with pytest.raises(InvalidInput, match="receives mirror traffic"):
            backend.set_traffic("bank-svc", {"blue": 50, "green": 50})
        with pytest.raises(InvalidInput, match="at most 50"):
            backend.set_mirror_traffic("bank-svc", {"green": 60})
        with pytest.raises(InvalidInput, match="takes 100 % of live traffic"):
            backend.set_mirror_traffic("bank-svc", {"blue": 10, "green": 0})
        with pytest.raises(InvalidInput, match="one deployment at a time"):
            backend.create_deployment("bank-svc", name="red", model_name="bank-model", mirror=5)
        assert backend.get_service("bank-svc") == service
        assert backend.set_mirror_traffic("bank-svc", {"green": 50}).mirror_traffic == {"blue": 0, "green": 50}
        stopped = backend.set_mirror_traffic("bank-svc", {})
        assert stopped.mirror_traffic == {"blue": 0, "green": 0} and stopped.traffic == {"blue": 100, "green": 0}
        backend.set_mirror_traffic("bank-svc", {"green": 10})
        promoted = backend.promote_deployment("bank-svc", "green")  # its mirror traffic stops
        assert (promoted.traffic, promoted.mirror_traffic) == ({"blue": 0, "green": 100}, {"blue": 0, "green": 0})
        backend.delete_deployment("bank-svc", "blue")  # idle now
        assert split(backend) == [("green", "bank-model:2", 100, 0)]
        assert backend.get_service("bank-svc").model == "bank-model:2"
        with pytest.raises(Conflict, match="no earlier traffic split"):
            backend.rollback_traffic("bank-svc")  # the split it would restore gave traffic to the deleted blue

    def test_comparing_the_deployments_of_a_fresh_endpoint(self, endpoint, capabilities):
        backend = endpoint
        since = time.time() - 3600
        if not capabilities.endpoints_hold_deployments:
            refused(lambda: backend.compare_deployments("bank-svc", since=since))
            return
        backend.create_deployment("bank-svc", name="green", model_name="bank-model", mirror=10)
        if not capabilities.deployments_compared_by_opml:
            with pytest.raises(BackendUnavailable, match="Azure Monitor"):
                backend.compare_deployments("bank-svc", since=since)
            return
        comparison = backend.compare_deployments("bank-svc", since=since)
        assert (comparison.service, comparison.since) == ("bank-svc", since) and comparison.until > since
        assert [(s.name, s.model, s.traffic, s.mirror) for s in comparison.deployments] == [
            ("blue", "bank-model:1", 100, 0),
            ("green", "bank-model:2", 0, 10),
        ]
        for stats in comparison.deployments:
            assert (stats.requests, stats.failed, stats.mirrored, stats.p50, stats.agreement) == (0, 0, 0, None, None)
            assert (stats.labelled, stats.accuracy, stats.predictions) == (0, None, {})
            version = int(stats.model.rsplit(":", 1)[1])
            assert stats.cv_accuracy == pytest.approx(backend.get_model("bank-model", version).metrics["accuracy"])
        assert "telemetry is off" in comparison.note and "no labels" in comparison.note
        with pytest.raises(KeyError):
            comparison.stats("red")

    def test_a_deployment_becomes_healthy(self, endpoint, executor, capabilities):
        backend = endpoint
        blue = backend.wait_for_deployment("bank-svc", "blue", timeout=120)
        assert (blue.name, blue.model, blue.state) == ("blue", "bank-model:1", HEALTHY), blue.error
        with pytest.raises(NotFound, match="no deployment named 'green'"):
            backend.wait_for_deployment("bank-svc", "green", timeout=1)
        if not capabilities.endpoints_hold_deployments:
            refused(lambda: backend.create_deployment("bank-svc", name="green", model_name="bank-model"))
            return
        backend.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=2)
        green = backend.wait_for_deployment("bank-svc", "green", timeout=120)
        assert (green.model, green.state, green.traffic) == ("bank-model:2", HEALTHY, 0), green.error
        assert [d.state for d in backend.list_deployments("bank-svc")] == [HEALTHY, HEALTHY]
