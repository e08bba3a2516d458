"""Scoring services: deployed from registered models, with keys, switches, logs, telemetry and deletion."""

from __future__ import annotations

import socket
import time

import pytest

from opml.entities import DELETING, HEALTHY, TRANSITIONING
from opml.errors import AlreadyExists, BackendUnavailable, Conflict, InvalidInput, NotFound
from tests.contract.fixtures import ContractFixtures
from tests.helpers import free_port, wait_until

REQUEST_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
OTHER_REQUEST_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def is_gone(backend, name: str) -> bool:
    try:
        backend.get_service(name)
    except NotFound:
        return True
    return False


class ServiceContract(ContractFixtures):
    def test_deploy_returns_at_once_and_lists_the_service(self, registered_model):
        backend = registered_model
        before = backend.describe().counts["services"]
        service = backend.deploy_model(name="bank-svc", model_name="bank-model", model_version=1, description="d")
        assert service.state == TRANSITIONING
        assert (service.name, service.model, service.description) == ("bank-svc", "bank-model:1", "d")
        assert service.auth_enabled and not service.app_insights_enabled
        assert service.scoring_uri.endswith("/score") and service.swagger_uri.endswith("/swagger.json")
        assert backend.get_service("bank-svc").model == "bank-model:1"
        assert [s.name for s in backend.list_services()] == ["bank-svc"]
        assert backend.describe().counts["services"] == before + 1

    def test_refused_deployments_deploy_nothing(self, registered_model):
        backend = registered_model
        backend.deploy_model(name="bank-svc", model_name="bank-model")
        with pytest.raises(AlreadyExists):
            backend.deploy_model(name="bank-svc", model_name="bank-model")
        with pytest.raises(NotFound):
            backend.deploy_model(name="other-svc", model_name="nope")
        with pytest.raises(NotFound):
            backend.deploy_model(name="other-svc", model_name="bank-model", model_version=9)
        with pytest.raises(InvalidInput):
            backend.deploy_model(name="../svc", model_name="bank-model")
        with pytest.raises(InvalidInput, match="port"):
            backend.deploy_model(name="other-svc", model_name="bank-model", port=80)
        assert [s.name for s in backend.list_services()] == ["bank-svc"]

    def test_deployments_are_sized_only_where_the_backend_sizes_them(self, registered_model, capabilities):
        backend = registered_model
        assert backend.sizes_deployments == capabilities.deployments_sized
        for bad in ({"instance_count": 0}, {"instance_count": True}, {"instance_type": "a b"}):
            with pytest.raises(InvalidInput, match="instance"):
                backend.deploy_model(name="bank-svc", model_name="bank-model", **bad)
        if capabilities.deployments_sized:
            service = backend.deploy_model(
                name="bank-svc", model_name="bank-model", instance_type="Standard_F4s_v2", instance_count=2
            )
            [deployment] = service.deployments
            assert (deployment.instance_type, deployment.instance_count) == ("Standard_F4s_v2", 2)
            with pytest.raises(InvalidInput, match="instance type"):
                backend.create_deployment("bank-svc", name="green", model_name="bank-model", instance_type="large")
            assert [d.name for d in backend.list_deployments("bank-svc")] == ["blue"]
        else:
            with pytest.raises(InvalidInput, match="instance type and count"):
                backend.deploy_model(name="bank-svc", model_name="bank-model", instance_type="Standard_F4s_v2")
            assert backend.list_services() == []

    def test_deploying_on_a_chosen_port(self, registered_model, capabilities):
        backend, port = registered_model, free_port()
        if capabilities.services_take_a_port:
            service = backend.deploy_model(name="bank-svc", model_name="bank-model", port=port)
            assert f":{port}/" in service.scoring_uri
            with pytest.raises(AlreadyExists, match="port"):
                backend.deploy_model(name="other-svc", model_name="bank-model", port=port)
            with socket.socket() as taken:  # a port another program listens on
                taken.bind(("127.0.0.1", 0))
                taken.listen()
                with pytest.raises(AlreadyExists, match=r"is in use on 127\.0\.0\.1"):
                    backend.deploy_model(name="other-svc", model_name="bank-model", port=taken.getsockname()[1])
            assert [s.name for s in backend.list_services()] == ["bank-svc"]
        else:
            with pytest.raises(InvalidInput, match="port"):
                backend.deploy_model(name="bank-svc", model_name="bank-model", port=port)
            assert backend.list_services() == []

    def test_service_keys_are_replaced_one_at_a_time(self, registered_model):
        backend = registered_model
        backend.deploy_model(name="bank-svc", model_name="bank-model")
        before = backend.get_service_keys("bank-svc")
        assert before.primary and before.secondary and before.primary != before.secondary
        after = backend.regenerate_service_key("bank-svc", "Primary")
        assert after.primary != before.primary and after.secondary == before.secondary
        assert backend.get_service_keys("bank-svc") == after
        last = backend.regenerate_service_key("bank-svc", "Secondary")
        assert last.primary == after.primary and last.secondary != after.secondary
        with pytest.raises(InvalidInput, match="Primary"):
            backend.regenerate_service_key("bank-svc", "Tertiary")
        assert backend.get_service_keys("bank-svc") == last

    def test_update_switches_telemetry_and_auth(self, registered_model, capabilities):
        backend = registered_model
        backend.deploy_model(name="bank-svc", model_name="bank-model")
        if not capabilities.services_auth_optional:
            before = backend.get_service("bank-svc")
            with pytest.raises(InvalidInput, match="always authenticate"):
                backend.update_service("bank-svc", app_insights_enabled=True, auth_enabled=False)
            assert backend.get_service("bank-svc") == before
            updated = backend.update_service("bank-svc", app_insights_enabled=True, auth_enabled=True)
            assert updated.app_insights_enabled and updated.auth_enabled
            assert backend.update_service("bank-svc") == updated == backend.get_service("bank-svc")
            with pytest.raises(InvalidInput):
                backend.update_service("bank-svc", auth_enabled="yes")
            return
        updated = backend.update_service("bank-svc", app_insights_enabled=True, auth_enabled=False)
        assert updated.app_insights_enabled and not updated.auth_enabled
        unchanged = backend.update_service("bank-svc")
        assert unchanged.app_insights_enabled and not unchanged.auth_enabled
        assert not backend.get_service("bank-svc").auth_enabled
        with pytest.raises(InvalidInput):
            backend.update_service("bank-svc", auth_enabled="yes")

    def test_data_collection_settings(self, registered_model, capabilities):
        backend = registered_model
        bad_settings = [
            {"collection_sampling_rate": 0},
            {"collection_sampling_rate": 1.5},
            {"collection_sampling_rate": "1"},
            {"collection_sampling_rate": float("nan")},
            {"collection_retention_days": 0},
            {"collection_retention_days": 3651},
            {"collection_retention_days": 1.5},
            {"data_collection": "on"},
        ]
        for bad in bad_settings:
            with pytest.raises(InvalidInput, match=r"sampling rate|retention|data_collection"):
                backend.deploy_model(name="bank-svc", model_name="bank-model", **bad)
        assert backend.list_services() == []
        if not capabilities.service_data_collected:
            with pytest.raises(BackendUnavailable, match="Application Insights"):
                backend.deploy_model(name="bank-svc", model_name="bank-model", data_collection=True)
            assert backend.list_services() == []
            service = backend.deploy_model(name="bank-svc", model_name="bank-model")
            assert not service.data_collection
            for change in ({"data_collection": True}, {"collection_sampling_rate": 0.5}):
                with pytest.raises(BackendUnavailable, match="ModelDataCollector"):
                    backend.update_service("bank-svc", **change)
            assert not backend.get_service("bank-svc").data_collection
            return
        service = backend.deploy_model(
            name="bank-svc",
            model_name="bank-model",
            data_collection=True,
            collection_sampling_rate=0.25,
            collection_retention_days=7,
        )
        assert (service.data_collection, service.collection_sampling_rate, service.collection_retention_days) == (
            True,
            0.25,
            7,
        )
        assert (service.collection_rows, service.collection_dropped, service.collection_error) == (0, 0, None)
        updated = backend.update_service("bank-svc", collection_sampling_rate=1, collection_retention_days=90)
        assert (updated.data_collection, updated.collection_sampling_rate, updated.collection_retention_days) == (
            True,
            1.0,
            90,
        )
        off = backend.update_service("bank-svc", data_collection=False)
        assert not off.data_collection and off.collection_retention_days == 90
        with pytest.raises(InvalidInput, match="sampling rate"):
            backend.update_service("bank-svc", collection_sampling_rate=-1)
        assert backend.get_service("bank-svc") == off
        default = backend.deploy_model(name="other-svc", model_name="bank-model")
        assert (default.data_collection, default.collection_sampling_rate, default.collection_retention_days) == (
            False,
            1.0,
            30,
        )

    def test_labels_collected_data_and_live_accuracy(self, registered_model, capabilities):
        backend = registered_model
        backend.deploy_model(name="bank-svc", model_name="bank-model")
        since = time.time() - 3600
        labels = [
            {"request_id": REQUEST_ID, "label": "yes"},
            {"request_id": REQUEST_ID, "label": "no", "record": 3},
            {"request_id": OTHER_REQUEST_ID.upper(), "label": "no"},
        ]
        if not capabilities.service_data_collected:
            for operation in (
                lambda: backend.add_service_labels("bank-svc", labels),
                lambda: backend.list_service_labels("bank-svc"),
                lambda: backend.get_collected_data("bank-svc"),
                lambda: backend.get_live_accuracy("bank-svc", since=since),
            ):
                with pytest.raises(BackendUnavailable, match="Application Insights"):
                    operation()
            return
        assert backend.add_service_labels("bank-svc", labels) == 3
        stored = backend.list_service_labels("bank-svc")
        assert sorted((row["request_id"], row["record"], row["label"]) for row in stored) == [
            (REQUEST_ID, 0, "yes"),
            (REQUEST_ID, 3, "no"),
            (OTHER_REQUEST_ID, 0, "no"),  # request ids are kept in lower case, as the service issues them
        ]
        assert backend.add_service_labels("bank-svc", [{"request_id": REQUEST_ID, "label": "no"}]) == 1
        relabelled = backend.list_service_labels("bank-svc", limit=1)
        assert [(row["request_id"], row["record"], row["label"]) for row in relabelled] == [(REQUEST_ID, 0, "no")]
        assert len(backend.list_service_labels("bank-svc")) == 3  # replaced, not added
        for bad, fragment in (
            ([{"request_id": REQUEST_ID, "label": "no"}, {"request_id": REQUEST_ID, "label": "maybe"}], "label 2"),
            ([{"request_id": "r-1", "label": "no"}], "request_id"),
            ([{"request_id": REQUEST_ID, "label": "no", "record": -1}], "record"),
            ([{"request_id": REQUEST_ID, "label": "no", "extra": 1}], "extra"),
            ([], "no labels"),
            ("labels", "must be a list"),
        ):
            with pytest.raises(InvalidInput, match=fragment):
                backend.add_service_labels("bank-svc", bad)
        assert len(backend.list_service_labels("bank-svc")) == 3
        for limit in (0, 100_001, "10"):
            with pytest.raises(InvalidInput, match="limit"):
                backend.list_service_labels("bank-svc", limit=limit)
        assert backend.get_collected_data("bank-svc") == []
        with pytest.raises(InvalidInput, match="limit"):
            backend.get_collected_data("bank-svc", limit=0)
        accuracy = backend.get_live_accuracy("bank-svc", since=since, bucket_seconds=600)
        assert (accuracy.labelled, accuracy.unmatched, accuracy.buckets) == (0, 3, [])  # nothing was collected
        metrics = backend.get_model("bank-model").manifest["metrics"]
        assert accuracy.cv_accuracy == pytest.approx(metrics["accuracy"])
        assert accuracy.cv_auc_weighted == pytest.approx(metrics["AUC_weighted"])
        assert accuracy.positive_class == "yes"
        for bucket in (0, 59, 604_801, 1.5):
            with pytest.raises(InvalidInput, match="bucket_seconds"):
                backend.get_live_accuracy("bank-svc", since=since, bucket_seconds=bucket)
        with pytest.raises(InvalidInput, match="since"):
            backend.get_live_accuracy("bank-svc", since=float("inf"))

    def test_drift_against_the_training_data(self, registered_model, capabilities):
        backend = registered_model
        backend.deploy_model(name="bank-svc", model_name="bank-model")
        since = time.time() - 3600
        if not capabilities.service_data_collected:
            for operation in (
                lambda: backend.get_service_drift("bank-svc", since=since),
                lambda: backend.get_service_drift_over_time("bank-svc", since=since),
            ):
                with pytest.raises(BackendUnavailable, match="Application Insights"):
                    operation()
            return
        report = backend.get_service_drift("bank-svc", since=since)
        manifest = backend.get_model("bank-model").manifest
        assert report.rows == 0 and report.since == since and report.until > since
        assert sorted(f.name for f in report.features) == sorted(c["name"] for c in manifest["input_schema"])
        assert {f.verdict for f in report.features} == {"no rows"}  # nothing collected: nothing to judge
        assert report.prediction_source == "prediction_distribution"
        expected = dict(zip(report.prediction.labels, report.prediction.expected, strict=True))
        assert {c: expected[c] for c in ("no", "yes")} == pytest.approx(manifest["prediction_distribution"])
        over_time = backend.get_service_drift_over_time("bank-svc", since=since, bucket="hour")
        assert over_time.seconds == 3600 and set(over_time.rows) == {0} and over_time.records() == []
        for bad, fragment in (
            ({"since": float("nan")}, "since must be a time"),
            ({"since": since, "until": since}, "must be before until"),
            ({"since": since, "until": "now"}, "until must be a time"),
        ):
            with pytest.raises(InvalidInput, match=fragment):
                backend.get_service_drift("bank-svc", **bad)
        with pytest.raises(InvalidInput, match="bucket"):
            backend.get_service_drift_over_time("bank-svc", since=since, bucket="week")
        with pytest.raises(InvalidInput, match="too many"):
            backend.get_service_drift_over_time("bank-svc", since=0, bucket="hour")  # 56 years of hours

    def test_service_logs_and_telemetry(self, registered_model, capabilities):
        backend = registered_model
        backend.deploy_model(name="bank-svc", model_name="bank-model")
        logs = backend.get_service_logs("bank-svc", tail=1)
        assert isinstance(logs, str) and len(logs.splitlines()) <= 1
        for tail in (0, -1, "x", 1.5, True):
            with pytest.raises(InvalidInput, match="tail must be a whole number"):
                backend.get_service_logs("bank-svc", tail=tail)
        for since in (float("nan"), "x"):
            with pytest.raises(InvalidInput, match="since must be a time"):
                backend.get_service_telemetry("bank-svc", since=since)
        if capabilities.service_telemetry_recorded:
            assert backend.get_service_telemetry("bank-svc") == []
        else:
            with pytest.raises(BackendUnavailable):
                backend.get_service_telemetry("bank-svc")

    @staticmethod
    def _score_and_summarise(backend, service, since: float) -> None:
        """Three requests (one refused) show in the summary as they show in the raw telemetry."""
        from opml import client
        from opml.backends.base import summarize_telemetry

        key = backend.get_service_keys("bank-svc").primary
        record = backend.get_model("bank-model").manifest["example"][:1]
        client.score(service.scoring_uri, record, key=key)
        client.score(service.scoring_uri, record * 2, key=key)
        with pytest.raises(client.ScoringError, match="HTTP 400"):
            client.score(service.scoring_uri, [{"nope": 1}], key=key)
        wait_until(lambda: len(backend.get_service_telemetry("bank-svc")) == 3, timeout=15, what="telemetry")
        summary = backend.get_service_telemetry_summary("bank-svc", since=since, bucket_seconds=3600, recent=2)
        assert (summary.requests, summary.failed) == (3, 1)
        assert sum(sum(bucket["predictions"].values()) for bucket in summary.buckets) == 3
        assert [event["records"] for event in summary.recent] == [0, 2]
        reference = summarize_telemetry(
            backend.get_service_telemetry("bank-svc"), since=since, bucket_seconds=3600, recent=2
        )
        assert summary == reference
        with pytest.raises(InvalidInput):
            backend.get_service_telemetry_summary("bank-svc", since=since, bucket_seconds=0)

    def test_only_a_failed_service_is_restarted(self, registered_model, capabilities):
        backend = registered_model
        backend.deploy_model(name="bank-svc", model_name="bank-model")
        if capabilities.services_restart_in_place:
            with pytest.raises(Conflict, match="only a Failed service"):
                backend.restart_service("bank-svc")
        else:
            with pytest.raises(BackendUnavailable, match="deploy"):
                backend.restart_service("bank-svc")
        with pytest.raises(NotFound):
            backend.restart_service("nope")

    def test_unknown_service_is_not_found(self, backend):
        for operation in (
            backend.get_service,
            backend.delete_service,
            backend.get_service_keys,
            backend.update_service,
            backend.get_service_logs,
            backend.get_service_telemetry,
            lambda name: backend.get_service_telemetry_summary(name, since=0),
            backend.get_collected_data,
            backend.list_service_labels,
            lambda name: backend.add_service_labels(name, [{"request_id": REQUEST_ID, "label": "yes"}]),
            lambda name: backend.get_live_accuracy(name, since=0),
            lambda name: backend.get_service_drift(name, since=0),
            lambda name: backend.get_service_drift_over_time(name, since=0, bucket="day"),
            lambda name: backend.update_service(name, data_collection=True),
        ):
            with pytest.raises(NotFound):
                operation("nope")
        with pytest.raises(NotFound):
            backend.regenerate_service_key("nope", "Primary")

    def test_deleting_a_service(self, registered_model, capabilities):
        backend = registered_model
        backend.deploy_model(name="bank-svc", model_name="bank-model")
        backend.delete_service("bank-svc")
        if capabilities.service_delete_is_asynchronous:
            assert backend.get_service("bank-svc").state == DELETING
            assert [s.state for s in backend.list_services()] == [DELETING]
        else:
            assert is_gone(backend, "bank-svc")
            assert backend.list_services() == []

    def test_service_becomes_healthy_and_holds_its_model_until_deleted(self, registered_model, executor, capabilities):
        backend = registered_model
        backend.deploy_model(name="bank-svc", model_name="bank-model", app_insights_enabled=True)
        healthy = backend.wait_for_service("bank-svc", timeout=120)
        assert healthy.state == HEALTHY, healthy.error
        since = time.time() - 60
        if capabilities.service_telemetry_recorded:
            self._score_and_summarise(backend, healthy, since)
        else:
            with pytest.raises(BackendUnavailable):
                backend.get_service_telemetry_summary("bank-svc", since=since)
        with pytest.raises(Conflict, match="bank-svc"):
            backend.delete_model("bank-model", 1)
        backend.delete_service("bank-svc")
        wait_until(lambda: is_gone(backend, "bank-svc"), timeout=30, what="the service to be deleted")
        backend.delete_model("bank-model", 1)
        assert backend.list_models() == []
