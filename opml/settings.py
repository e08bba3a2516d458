"""Settings from the environment, read lazily and validated.

Every value has an offline default; nothing is read at import time.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from opml.errors import InvalidInput


@dataclass(frozen=True)
class Settings:
    workspace: Path
    bind_address: str
    dashboard_port: int
    gateway_port: int
    max_dataset_mb: int
    url_timeout_seconds: float
    telemetry_retention_days: int = 30
    log_max_mb: int = 20
    azure_environment: str = "AzureML-sklearn-1.5"  # curated environment of Azure pipeline steps


def _int_env(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, got {value}")
    return value


def current_user() -> str:
    """Who is acting, for records such as alias history: the operating-system user."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (some containers)
        return f"uid {os.getuid()}"


AZURE_CONFIG_VARIABLE = "OPML_AZURE_CONFIG"


def azure_config_from_environment() -> str | None:
    """The Azure ML ``config.json`` named by ``$OPML_AZURE_CONFIG`` (``opml up --config`` sets it), if any."""
    return os.environ.get(AZURE_CONFIG_VARIABLE) or None


AZURE_SDK_VARIABLE = "OPML_AZURE_SDK"


def azure_sdk_from_environment() -> str | None:
    """The Azure ML SDK to open Azure workspaces with (``v1`` or ``v2``) named by ``$OPML_AZURE_SDK``
    (``opml up --sdk`` sets it), if any."""
    return os.environ.get(AZURE_SDK_VARIABLE) or None


def autostart_agent() -> bool:
    """Whether the dashboard starts the local workspace's agent when none runs (``OPML_AUTOSTART_AGENT=0``: no)."""
    return os.environ.get("OPML_AUTOSTART_AGENT", "1") != "0"


ALLOWED_USERS_VARIABLE = "OPML_ALLOWED_USERS"
ALLOW_UNAUTHENTICATED_VARIABLE = "OPML_ALLOW_UNAUTHENTICATED"


def allowed_users() -> frozenset[str]:
    """The emails that may use a dashboard with sign-in (``OPML_ALLOWED_USERS``, separated by commas or
    spaces). Raises InvalidInput for an entry that is not an email address."""
    from opml.access import parse_allowed_users

    return parse_allowed_users(os.environ.get(ALLOWED_USERS_VARIABLE))


def allow_unauthenticated() -> bool:
    """Whether the dashboard runs without sign-in off loopback (``OPML_ALLOW_UNAUTHENTICATED=1``, which
    ``opml up --allow-unauthenticated`` sets): it then reveals no keys or tokens and reads no local paths."""
    return os.environ.get(ALLOW_UNAUTHENTICATED_VARIABLE, "0") not in ("", "0")


def appinsights_connection_string() -> str | None:
    """Azure Monitor's connection string: services with telemetry on also export their requests there."""
    return os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or None


ALERT_EVALUATE_SECONDS_VARIABLE = "OPML_ALERT_EVALUATE_SECONDS"


def alert_evaluate_seconds() -> float:
    """How often the agent evaluates the alert rules, in seconds (``OPML_ALERT_EVALUATE_SECONDS``, a whole
    number from 1 to 3,600; default 60). Benchmarks and demos shorten it; each evaluation of a drift rule reads
    the window's collected files, so a short period costs CPU. Raises InvalidInput for another value."""
    return float(_int_env(ALERT_EVALUATE_SECONDS_VARIABLE, 60, 1, 3600))


def default_workspace() -> Path:
    return Path(os.environ.get("OPML_WORKSPACE") or Path.home() / ".opml" / "workspace").expanduser()


@functools.cache
def get_settings() -> Settings:
    """The process's settings (cached; call ``get_settings.cache_clear()`` after changing the environment)."""
    return Settings(
        workspace=default_workspace(),
        bind_address=os.environ.get("OPML_BIND_ADDRESS", "127.0.0.1"),
        dashboard_port=_int_env("OPML_DASHBOARD_PORT", 8501, 1, 65535),
        gateway_port=_int_env("OPML_GATEWAY_PORT", 8790, 1, 65535),
        max_dataset_mb=_int_env("OPML_MAX_DATASET_MB", 512, 1, 100_000),
        url_timeout_seconds=float(_int_env("OPML_URL_TIMEOUT_SECONDS", 30, 1, 3600)),
        telemetry_retention_days=_int_env("OPML_TELEMETRY_RETENTION_DAYS", 30, 1, 3650),
        log_max_mb=_int_env("OPML_LOG_MAX_MB", 20, 1, 10_000),
        azure_environment=os.environ.get("OPML_AZURE_ENVIRONMENT") or "AzureML-sklearn-1.5",
    )
