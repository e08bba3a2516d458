"""Alert rules: the kinds, what a threshold of each means, and the checks of a rule's settings.

Pure (no backend, no I/O): ``Backend.create_alert_rule`` checks with these, the agent's evaluator judges
and words its readings with them, and forms can check as the user types.

=============  =======================================================  ==================
kind           fires when                                               threshold
=============  =======================================================  ==================
drift          the most drifted feature's PSI is above the threshold     PSI, above 0
accuracy       live accuracy is below the threshold                      a fraction, 0 to 1
failure_rate   the share of failed requests (status >= 400) in the       percent, 0 to 100
               window is above the threshold (with at least
               ``MIN_REQUESTS`` requests, so one failure is not 100 %)
latency_p99    the window's p99 latency (nearest rank) is above it       milliseconds
unhealthy      the service has not been Healthy for longer than it       minutes
=============  =======================================================  ==================

An ``accuracy`` rule judges a classifier (the share of its predicted classes that were right): it is refused
for a service whose model is a regression model (``check_kind_for_task``), whose errors have no threshold
that means the same for every target; drift (of the inputs), failure rate, latency and health rules apply to
both.
"""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass
from urllib.parse import urlparse

from opml.errors import InvalidInput

MIN_REQUESTS = 20  # requests in the window below which a failure rate is not judged
MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_FOR_MINUTES = 24 * 60
MAX_URL_LENGTH = 2000
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class Kind:
    name: str
    measure: str  # what the value is, in words
    unit: str  # appended to numbers ("" for a PSI or a fraction)
    above: bool  # fires when the value is above the threshold (else below)
    low: float  # the threshold's range: low < threshold <= high (low <= threshold when low_inclusive)
    high: float
    low_inclusive: bool
    example: str

    @property
    def article(self) -> str:
        return "an" if self.name[0] in "aeiou" else "a"

    def breached(self, value: float, threshold: float) -> bool:
        return value > threshold if self.above else value < threshold

    def words(self, value: float) -> str:
        return f"{value:.3f}" if self.unit == "" else f"{value:,.1f} {self.unit}"

    def condition(self, threshold: float) -> str:
        """The rule in words: "failure rate above 5 %"."""
        limit = f"{threshold:g}" if self.unit == "" else f"{threshold:g} {self.unit}"
        return f"{self.measure} {'above' if self.above else 'below'} {limit}"


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("drift", "feature drift (PSI)", "", True, 0.0, 100.0, False, "0.2 (a PSI above 0.2 is a large shift)"),
        Kind("accuracy", "live accuracy", "", False, 0.0, 1.0, False, "0.85 for 85 %"),
        Kind("failure_rate", "failure rate", "%", True, 0.0, 100.0, True, "5 for 5 % of requests"),
        Kind("latency_p99", "p99 latency", "ms", True, 0.0, 3_600_000.0, False, "250 for 250 ms"),
        Kind("unhealthy", "time not Healthy", "min", True, 0.0, 30 * 24 * 60.0, True, "10 for 10 minutes"),
    )
}


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a number, got {value!r}")
    return float(value)


def check_kind(kind: object) -> Kind:
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidInput(f"alert kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return KINDS[kind]


TASK_KINDS = {"accuracy": "classification"}  # kinds that only apply to one task's models


def kinds_for_task(task: str) -> list[str]:
    """The kinds of rule a service whose model has ``task`` can have."""
    return [name for name in KINDS if TASK_KINDS.get(name, task) == task]


def check_kind_for_task(kind: Kind, task: str, service: str) -> None:
    """InvalidInput when a ``kind`` rule cannot judge a model of ``task`` (an accuracy rule on a regression
    model), saying what to watch instead."""
    if TASK_KINDS.get(kind.name, task) == task:
        return
    raise InvalidInput(
        f"{service} serves a regression model: an {kind.name} rule judges a classifier's share of right "
        "predictions, which a regression model has no equivalent of. Use a drift rule (the most drifted input's "
        "PSI); the drift of its predicted values and its live MAE, RMSE and R² are on the Monitoring page"
    )


def check_threshold(kind: Kind, threshold: object) -> float:
    value = _number(threshold, f"the threshold of {kind.article} {kind.name} rule")
    low_ok = value >= kind.low if kind.low_inclusive else value > kind.low
    if not (low_ok and value <= kind.high):
        bound = "from" if kind.low_inclusive else "above"
        raise InvalidInput(
            f"the threshold of {kind.article} {kind.name} rule is the {kind.measure}: a number {bound} {kind.low:g} "
            f"up to {kind.high:,g}{' ' + kind.unit if kind.unit else ''}, e.g. {kind.example}; got {value:g}"
        )
    return value


def check_minutes(value: object, what: str, *, low: float, high: float) -> float:
    minutes = _number(value, what)
    if not low <= minutes <= high:
        raise InvalidInput(f"{what} must be from {low:g} to {high:,g} minutes, got {minutes:g}")
    return minutes


# Names of cloud metadata services (their addresses are refused after DNS too, when a webhook is sent).
METADATA_NAMES = {"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"}


def check_webhook_url(url: object) -> str | None:
    """An http(s) URL with a host (None stays None). A host given as an IP address is judged at once by the
    rules of dataset downloads (no link-local or cloud metadata address); a name is judged after DNS
    resolution, each time it is posted to."""
    if url is None:
        return None
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(f"the webhook must be an http(s) URL, got {url!r}")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH or not url.isprintable() or " " in url:
        raise InvalidInput(f"the webhook URL must be at most {MAX_URL_LENGTH:,} printable characters without spaces")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInput(
            f"the webhook must be an http(s) URL with a host, e.g. https://hooks.example.com/x; got {url!r}"
        )
    try:
        parsed.port  # noqa: B018 (raises for a port out of range or not a number)
    except ValueError:
        raise InvalidInput(f"the webhook URL has an invalid port: {shown_url(url)}") from None
    from opml.data.download import refused_address

    host = parsed.hostname
    reason = refused_address(host)
    if reason == "not an IP address":
        try:  # IPv4 in the other spellings resolvers accept: 2852039166, 0xa9fea9fe, 0251.0376.0251.0376
            reason = refused_address(socket.inet_ntoa(socket.inet_aton(host)))
        except OSError:
            reason = "a cloud metadata name" if host.rstrip(".") in METADATA_NAMES else None
    if reason:
        raise InvalidInput(f"the webhook may not go to {host}: it is {reason}")
    return url


def shown_url(url: str | None) -> str:
    """A webhook URL as shown and logged: scheme and host only (its path often carries a secret token)."""
    if not url:
        return ""
    parsed = urlparse(url)
    host = parsed.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{host}{port}/…"


def check_rule_name(name: object, kind: Kind, threshold: float) -> str:
    """The given name, or one saying the condition ("failure rate above 5 %")."""
    if name is None or (isinstance(name, str) and not name.strip()):
        return kind.condition(threshold)
    if not isinstance(name, str) or len(name.strip()) > MAX_NAME_LENGTH or not name.strip().isprintable():
        raise InvalidInput(f"an alert rule's name must be printable text of at most {MAX_NAME_LENGTH} characters")
    return name.strip()
