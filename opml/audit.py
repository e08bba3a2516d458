"""The audit trail: who did something that matters for security, what, to what, and when.

Recorded by the dashboard (the signed-in email; on loopback the OS user), the CLI (the OS user) and the
pipeline REST gateway (the name of the token that was sent), through ``Backend.record_audit_event``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opml.errors import InvalidInput

# What is recorded: action name -> how the Overview page and ``opml audit`` say it.
ACTIONS = {
    "sign_in_refused": "was refused (not on the allow-list)",
    "deploy_service": "deployed a service",
    "change_traffic": "changed an endpoint's traffic",
    "reveal_service_key": "revealed a service key",
    "regenerate_service_key": "regenerated a service key",
    "create_token": "created a token",
    "revoke_token": "revoked a token",
    "reveal_token": "revealed the owner's REST token",
    "submit_run": "submitted a run",
    "run_pipeline": "ran a pipeline",
    "trigger_pipeline": "triggered a published pipeline",
}
MAX_TEXT = 300


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    actor: str  # "ada@example.com", "alice (CLI)", "token ci-robot (REST)", ...
    action: str  # a key of ACTIONS
    target: str  # what it was done to: "service bank-svc", "run 3f2a… (automl)", ...

    @property
    def description(self) -> str:
        return ACTIONS.get(self.action, self.action)


def check_event(actor: object, action: object, target: object) -> tuple[str, str, str]:
    """The three texts of an event, checked: a known action, and short printable actor and target."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown audit action {action!r}; known: {', '.join(ACTIONS)}")
    texts = []
    for what, value in (("actor", actor), ("target", target)):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT or not value.isprintable():
            raise InvalidInput(f"the audit event's {what} must be printable text of 1 to {MAX_TEXT} characters")
        texts.append(value.strip())
    return texts[0], str(action), texts[1]
