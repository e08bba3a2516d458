"""The audit trail: who did what to what, appended and read back newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opml.errors import InvalidInput
from tests.contract.fixtures import ContractFixtures


class AuditContract(ContractFixtures):
    def test_audit_events_are_listed_newest_first(self, backend):
        assert backend.list_audit_events() == []
        first = backend.record_audit_event("ada@example.com", "deploy_service", "service bank-svc")
        backend.record_audit_event("alice (CLI)", "reveal_service_key", "service bank-svc")
        backend.record_audit_event("token ci-robot (REST)", "trigger_pipeline", "run 42 of Bankmarketing Train")
        events = backend.list_audit_events()
        assert [(e.actor, e.action, e.target) for e in events] == [
            ("token ci-robot (REST)", "trigger_pipeline", "run 42 of Bankmarketing Train"),
            ("alice (CLI)", "reveal_service_key", "service bank-svc"),
            ("ada@example.com", "deploy_service", "service bank-svc"),
        ]
        assert events[-1] == first
        assert events[0].description == "triggered a published pipeline"
        assert all(datetime.now(UTC) - e.at < timedelta(minutes=1) for e in events)
        assert [e.action for e in backend.list_audit_events(limit=2)] == ["trigger_pipeline", "reveal_service_key"]

    @pytest.mark.parametrize(
        ("actor", "action", "target"),
        [
            ("ada@example.com", "drop_tables", "workspace"),  # not an action opml records
            ("", "deploy_service", "service s"),
            ("ada@example.com", "deploy_service", " "),
            ("ada\n@example.com", "deploy_service", "service s"),  # would forge a line of a log or table
            ("ada@example.com", "deploy_service", "x" * 301),
            (None, "deploy_service", "service s"),
        ],
    )
    def test_a_malformed_audit_event_is_refused_and_not_recorded(self, backend, actor, action, target):
        with pytest.raises(InvalidInput):
            backend.record_audit_event(actor, action, target)
        assert backend.list_audit_events() == []

    @pytest.mark.parametrize("limit", [0, -1, 10_001, 2.5, True, "10"])
    def test_listing_audit_events_takes_a_bounded_whole_number(self, backend, limit):
        with pytest.raises(InvalidInput):
            backend.list_audit_events(limit=limit)
