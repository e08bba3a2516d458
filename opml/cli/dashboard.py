"""How ``opml up`` starts the dashboard: the access policy is decided before anything starts (a dashboard
that would be reachable from the network without sign-in is refused), then the Streamlit command and its
environment are planned.

Sign-in is Streamlit's OpenID Connect login (``st.login``), configured by an ``[auth]`` section in the
dashboard's ``secrets.toml``: ``opml up --secrets FILE``, else the files Streamlit reads by default
(``~/.streamlit/secrets.toml``, then ``.streamlit/secrets.toml`` beside ``app.py``). When that section has no
``cookie_secret`` (the key that signs the identity cookie), opml generates one, keeps it owner-only in the
workspace (``secrets/dashboard-cookie.secret``), and gives Streamlit an owner-only copy of the secrets with it
(``secrets/dashboard-secrets.toml``), so sessions survive a restart and no secret is ever on a command line.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opml.access import Access, AccessRefused, decide_access
from opml.errors import InvalidInput
from opml.files import write_private_file
from opml.keys import new_key
from opml.settings import (
    ALLOW_UNAUTHENTICATED_VARIABLE,
    AZURE_SDK_VARIABLE,
    allow_unauthenticated,
    allowed_users,
)

PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


@dataclass(frozen=True)
class DashboardPlan:
    """What ``opml up`` runs for the dashboard: the decided access mode, the command, its environment."""

    access: Access
    command: list[str]
    env: dict[str, str] = field(repr=False)
    allowed: int = 0  # how many emails may sign in (login mode)


def default_secret_files(app_dir: Path) -> list[Path]:
    """The secrets files Streamlit reads when it is given none, in its order (later ones win)."""
    return [Path.home() / ".streamlit" / "secrets.toml", app_dir / ".streamlit" / "secrets.toml"]


def read_secrets(files: list[Path], *, explicit: bool) -> dict[str, Any]:
    """The secrets of ``files`` merged as Streamlit merges them (a later file's top-level keys win). A missing
    file is skipped unless it was named explicitly; a file that is not TOML is InvalidInput."""
    merged: dict[str, Any] = {}
    for path in files:
        if not path.is_file():
            if explicit:
                raise InvalidInput(f"secrets file {path} does not exist")
            continue
        try:
            merged.update(tomllib.loads(path.read_text()))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"secrets file {path} is not valid TOML: {exc}") from None
    return merged


def check_auth_section(auth: Any) -> None:
    """The ``[auth]`` section names a ``redirect_uri`` ending in ``/oauth2callback`` and at least one
    provider with ``client_id``, ``client_secret`` and ``server_metadata_url`` (the section itself, or
    ``[auth.NAME]`` subsections). InvalidInput says what is missing, without quoting any value."""
    if not isinstance(auth, dict):
        raise InvalidInput("the [auth] entry of the secrets must be a table")
    redirect = auth.get("redirect_uri")
    if not isinstance(redirect, str) or not redirect.rstrip("/").endswith("/oauth2callback"):
        raise InvalidInput(
            "[auth] redirect_uri must be the dashboard's address followed by /oauth2callback, "
            "e.g. https://opml.example.com/oauth2callback"
        )
    providers = {"default": auth} if "client_id" in auth else {}
    providers.update({name: value for name, value in auth.items() if isinstance(value, dict)})
    if not providers:
        raise InvalidInput("[auth] names no OpenID Connect provider (client_id, client_secret, server_metadata_url)")
    for name, provider in providers.items():
        missing = [key for key in PROVIDER_KEYS if not isinstance(provider.get(key), str) or not provider[key]]
        if missing:
            where = "[auth]" if name == "default" else f"[auth.{name}]"
            raise InvalidInput(f"{where} is missing {', '.join(missing)}")


def cookie_secret(workspace: Path) -> str:
    """The key that signs the dashboard's identity cookie: generated once, kept owner-only in the workspace."""
    path = workspace / "secrets" / "dashboard-cookie.secret"
    if not path.is_file():
        write_private_file(path, new_key().encode())
    return path.read_text().strip()


def to_toml(data: dict[str, Any]) -> str:
    """TOML for the kinds of values a secrets file holds (text, numbers, booleans, arrays, tables). Strings
    and keys are written as JSON strings, which are TOML basic strings."""
    lines: list[str] = []

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, (int, float, str)):
            return json.dumps(item)
        if isinstance(item, list):
            return "[" + ", ".join(value(element) for element in item) + "]"
        if isinstance(item, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(v)}" for k, v in item.items()) + "}"
        raise InvalidInput(f"cannot copy a secrets value of type {type(item).__name__} (dates are not supported)")

    def table(path: list[str], items: dict[str, Any]) -> None:
        if path:
            lines.append(f"\n[{'.'.join(json.dumps(part) for part in path)}]")
        for key, item in items.items():
            if not isinstance(item, dict):
                lines.append(f"{json.dumps(key)} = {value(item)}")
        for key, item in items.items():
            if isinstance(item, dict):
                table([*path, key], item)

    table([], data)
    text = "\n".join(lines).lstrip("\n") + "\n"
    if tomllib.loads(text) != data:  # never hand Streamlit secrets that differ from the user's
        raise InvalidInput("the secrets could not be copied faithfully; add cookie_secret to [auth] yourself")
    return text


def plan_dashboard(
    *,
    app_file: Path,
    workspace: Path,
    address: str,
    port: int,
    secrets_file: str | None,
    allow_unauthenticated_flag: bool,
    azure_config: str | None,
    azure_sdk: str | None = None,
) -> DashboardPlan:
    """Decide the access mode (AccessRefused when the dashboard must not start) and plan its process."""
    files = [Path(secrets_file).expanduser().resolve()] if secrets_file else default_secret_files(app_file.parent)
    secrets = read_secrets(files, explicit=bool(secrets_file))
    auth_configured = "auth" in secrets
    allowed = allowed_users()
    access = decide_access(
        address=address,
        auth_configured=auth_configured,
        allowed_users=allowed,
        allow_unauthenticated=allow_unauthenticated_flag or allow_unauthenticated(),
    )
    env = {**os.environ, "OPML_WORKSPACE": str(workspace), "OPML_AUTOSTART_AGENT": "1"}
    env.pop(ALLOW_UNAUTHENTICATED_VARIABLE, None)
    if access is Access.OPEN:
        env[ALLOW_UNAUTHENTICATED_VARIABLE] = "1"
    if azure_config:  # the dashboard opens this Azure ML workspace first (the local one stays selectable)
        env["OPML_AZURE_CONFIG"] = str(Path(azure_config).expanduser().resolve())
    if azure_sdk:  # ... through this SDK (v1 or v2)
        env[AZURE_SDK_VARIABLE] = azure_sdk
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_file),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    given = files if secrets_file else None
    if access is Access.LOGIN:
        check_auth_section(secrets["auth"])
        if "cookie_secret" not in secrets["auth"]:
            secrets["auth"] = {**secrets["auth"], "cookie_secret": cookie_secret(workspace)}
            copy = workspace / "secrets" / "dashboard-secrets.toml"
            write_private_file(copy, to_toml(secrets).encode())
            given = [copy]
    if given:
        command += ["--secrets.files", str(given[0])]
    return DashboardPlan(access=access, command=command, env=env, allowed=len(allowed))


__all__ = ["AccessRefused", "DashboardPlan", "plan_dashboard"]
