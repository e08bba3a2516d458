"""Property-based fuzzing of a live scoring service from its own swagger.json (schemathesis).

schemathesis's pytest plugin does not work with pytest 9 ('Function' has no '_nodeid'), so the test
drives its Hypothesis strategies directly: every operation of the document, schemathesis's checks.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings


def test_no_server_errors_and_responses_match_the_schema(deployed):
    backend, name = deployed
    service = backend.get_service(name)
    schema = schemathesis.openapi.from_url(service.swagger_uri)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == {("GET", "/"), ("POST", "/score")}
    calls = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            key = backend.get_service_keys(name).primary
            response = case.call_and_validate(base_url=service.base_uri, headers={"Authorization": f"Bearer {key}"})
            calls.append((case.method.upper(), response.status_code))

        fuzz()
    assert len(calls) >= 60 and all(status < 500 for _, status in calls)
    scored = [status for method, status in calls if method == "POST"]
    assert scored.count(200) >= len(scored) // 2, scored  # schema-valid bodies are accepted
