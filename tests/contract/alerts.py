"""Alert rules on services and the alerts they fire (evaluated by opml's agent where the backend can)."""

from __future__ import annotations

import pytest

from opml.entities import FIRING
from opml.errors import BackendUnavailable, InvalidInput, NotFound
from tests.contract.fixtures import ContractFixtures


class AlertContract(ContractFixtures):
    @pytest.fixture
    def service(self, registered_model):
        registered_model.deploy_model(name="bank-svc", model_name="bank-model")
        return registered_model

    def test_alert_rules_are_created_listed_switched_and_deleted(self, service, capabilities):
        backend = service
        if not capabilities.alert_rules_evaluated_by_opml:
            with pytest.raises(BackendUnavailable, match="Azure Monitor"):
                backend.create_alert_rule("bank-svc", kind="failure_rate", threshold=5)
            assert backend.list_alert_rules() == [] and backend.list_alert_rules("bank-svc") == []
            assert backend.list_alerts() == [] and backend.list_alerts("bank-svc", state=FIRING, limit=5) == []
            with pytest.raises(NotFound, match="Azure Monitor"):
                backend.delete_alert_rule("r1")
            with pytest.raises(NotFound, match="Azure Monitor"):
                backend.set_alert_rule_enabled("r1", False)
            return
        rule = backend.create_alert_rule(
            "bank-svc", kind="latency_p99", threshold=250, window_minutes=15, for_minutes=5, webhook_url="http://h/x"
        )
        assert (rule.service, rule.kind, rule.threshold, rule.window_minutes, rule.for_minutes) == (
            "bank-svc",
            "latency_p99",
            250.0,
            15.0,
            5.0,
        )
        assert rule.enabled and rule.name == "p99 latency above 250 ms" and rule.webhook_url == "http://h/x"
        other = backend.create_alert_rule("bank-svc", kind="unhealthy", threshold=10, name="down for 10 min")
        assert [r.id for r in backend.list_alert_rules("bank-svc")] == [other.id, rule.id]
        assert backend.list_alert_rules("other-svc") == []
        assert backend.set_alert_rule_enabled(rule.id, False).enabled is False
        assert backend.set_alert_rule_enabled(rule.id, True).enabled is True
        backend.delete_alert_rule(rule.id)
        assert [r.id for r in backend.list_alert_rules()] == [other.id]
        with pytest.raises(NotFound):
            backend.delete_alert_rule(rule.id)
        with pytest.raises(NotFound):
            backend.set_alert_rule_enabled(rule.id, True)
        assert backend.list_alerts("bank-svc") == [] and backend.list_alerts(state=FIRING) == []

    @pytest.mark.parametrize(
        ("settings", "message"),
        [
            ({"kind": "cpu", "threshold": 1}, "alert kind must be one of drift, accuracy"),
            ({"kind": "accuracy", "threshold": 85}, "a fraction|0.85 for 85 %"),
            ({"kind": "failure_rate", "threshold": 101}, "percent|5 %"),
            ({"kind": "failure_rate", "threshold": float("nan")}, "must be a number"),
            ({"kind": "drift", "threshold": 0}, "above 0"),
            ({"kind": "latency_p99", "threshold": "fast"}, "must be a number"),
            ({"kind": "unhealthy", "threshold": 5, "window_minutes": 0}, "window_minutes must be from 1"),
            ({"kind": "unhealthy", "threshold": 5, "for_minutes": -1}, "for_minutes must be from 0"),
            ({"kind": "unhealthy", "threshold": 5, "webhook_url": "ftp://host/x"}, "http\\(s\\) URL with a host"),
            ({"kind": "unhealthy", "threshold": 5, "webhook_url": "http:///x"}, "http\\(s\\) URL with a host"),
            ({"kind": "unhealthy", "threshold": 5, "webhook_url": "http://169.254.169.254/x"}, "cloud metadata"),
            ({"kind": "unhealthy", "threshold": 5, "webhook_url": "http://2852039166/x"}, "cloud metadata"),
            ({"kind": "unhealthy", "threshold": 5, "webhook_url": "http://0xa9fea9fe/x"}, "cloud metadata"),
            ({"kind": "unhealthy", "threshold": 5, "webhook_url": "http://metadata.google.internal/"}, "metadata"),
            ({"kind": "unhealthy", "threshold": 5, "pipeline_parameters": [1]}, "must be a mapping"),
            ({"kind": "unhealthy", "threshold": 5, "experiment": "e"}, "names a published pipeline"),
            ({"kind": "unhealthy", "threshold": 5, "name": "x" * 101}, "at most 100 characters"),
        ],
    )
    def test_bad_alert_rules_create_nothing(self, backend, settings, message):
        with pytest.raises(InvalidInput, match=message):
            backend.create_alert_rule("bank-svc", **settings)
        assert backend.list_alert_rules() == []

    def test_alert_rules_need_a_service_and_a_published_pipeline(self, service, capabilities):
        backend = service
        with pytest.raises(NotFound, match="nope"):
            backend.create_alert_rule("nope", kind="failure_rate", threshold=5)
        with pytest.raises(NotFound):
            backend.create_alert_rule("bank-svc", kind="failure_rate", threshold=5, pipeline="no-such-pipeline")
        assert backend.list_alert_rules() == []

    def test_bad_alert_listings(self, backend):
        for limit in (0, 10_001, 1.5, True):
            with pytest.raises(InvalidInput, match="limit must be a whole number"):
                backend.list_alerts(limit=limit)
        with pytest.raises(InvalidInput, match="state must be one of Firing, Resolved"):
            backend.list_alerts(state="Open")
        with pytest.raises(InvalidInput, match="enabled must be true or false"):
            backend.set_alert_rule_enabled("r1", "yes")
