"""Who may use the dashboard, decided before it starts: the access policy (opml.access), how ``opml up`` plans the
dashboard (opml.cli.dashboard: refusal, secrets, the generated cookie secret), and the audit trail the CLI writes."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from opml.access import Access, AccessRefused, decide_access, is_allowed, is_loopback, parse_allowed_users
from opml.backends.local import LocalBackend
from opml.cli import main
from opml.cli.dashboard import check_auth_section, plan_dashboard, to_toml
from opml.errors import InvalidInput
from opml.settings import current_user

REPO = Path(__file__).resolve().parent.parent
AUTH = """[auth]
redirect_uri = "https://opml.example.com/oauth2callback"
client_id = "opml-dashboard"
client_secret = "very-secret-client-secret"
server_metadata_url = "https://login.example.com/.well-known/openid-configuration"
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder of the test's own: ~/.streamlit/secrets.toml of the machine never decides a test."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("OPML_ALLOWED_USERS", raising=False)
    monkeypatch.delenv("OPML_ALLOW_UNAUTHENTICATED", raising=False)
    return folder


def plan(workspace: Path, *, address: str = "127.0.0.1", secrets: Path | None = None, unauthenticated=False):
    return plan_dashboard(
        app_file=REPO / "app.py",
        workspace=workspace,
        address=address,
        port=8599,
        secrets_file=str(secrets) if secrets else None,
        allow_unauthenticated_flag=unauthenticated,
        azure_config=None,
    )


# -- the policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_addresses(address):
    assert is_loopback(address)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "", None, "10.0.0.4", "192.168.1.2", "opml.example.com",
                                     "unix:///tmp/opml.sock", "127.0.0.1.nip.io"])  # fmt: skip
def test_addresses_others_can_reach(address):
    assert not is_loopback(address)


@pytest.mark.parametrize(
    ("address", "auth", "users", "unauthenticated", "expected"),
    [
        ("127.0.0.1", False, "", False, Access.LOCAL),
        ("127.0.0.1", True, "ada@example.com", False, Access.LOGIN),  # [auth] turns sign-in on, on loopback too
        ("0.0.0.0", True, "ada@example.com", False, Access.LOGIN),
        ("0.0.0.0", False, "", True, Access.OPEN),
        ("127.0.0.1", False, "", True, Access.OPEN),
        ("0.0.0.0", False, "ada@example.com", False, "without sign-in"),
        ("", False, "", False, "every interface"),
        ("0.0.0.0", True, "", False, "OPML_ALLOWED_USERS is empty"),
        ("0.0.0.0", True, "ada@example.com", True, "contradicts"),
    ],
)
def test_access_decisions(address, auth, users, unauthenticated, expected):
    arguments = dict(
        address=address,
        auth_configured=auth,
        allowed_users=parse_allowed_users(users),
        allow_unauthenticated=unauthenticated,
    )
    if isinstance(expected, Access):
        assert decide_access(**arguments) is expected
    else:
        with pytest.raises(AccessRefused, match=expected):
            decide_access(**arguments)


def test_the_allow_list_is_emails_compared_without_case():
    allowed = parse_allowed_users(" Ada@Example.com,grace@example.com;linus@example.org\n")
    assert allowed == {"ada@example.com", "grace@example.com", "linus@example.org"}
    assert is_allowed({"is_logged_in": True, "email": "ADA@example.COM"}, allowed)
    assert is_allowed({"is_logged_in": True, "email": "grace@example.com", "email_verified": True}, allowed)
    assert not is_allowed({"is_logged_in": False, "email": "ada@example.com"}, allowed)
    assert not is_allowed({"is_logged_in": True, "email": "ada@example.com", "email_verified": False}, allowed)
    assert not is_allowed({"is_logged_in": True, "email": "eve@example.com"}, allowed)
    assert not is_allowed({"is_logged_in": True}, allowed)
    for bad in ("ada", "@example.com", "ada@localhost", "ada@example.com,eve"):
        with pytest.raises(InvalidInput, match="not an email address"):
            parse_allowed_users(bad)


# -- opml up --------------------------------------------------------------------------------------


def test_opml_up_on_every_interface_without_sign_in_refuses_before_starting_anything(
    home, tmp_path, capsys, monkeypatch
):
    workspace = tmp_path / "ws"
    assert main(["--workspace", str(workspace), "up", "--address", "0.0.0.0", "--port", "8599"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: the dashboard would listen on 0.0.0.0 without sign-in")
    assert "--allow-unauthenticated" in error and "OPML_ALLOWED_USERS" in error and len(error.splitlines()) == 1
    backend = LocalBackend(workspace)
    assert not backend.agent_status().running and backend.agent_status().started_at is None  # no agent ever ran
    monkeypatch.setenv("OPML_ALLOWED_USERS", "ada@example.com")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(AUTH)
    argv = ["--workspace", str(workspace), "up", "--address", "0.0.0.0", "--secrets", str(secrets)]
    assert main([*argv, "--allow-unauthenticated"]) == 2
    assert "contradicts" in capsys.readouterr().err
    assert main(["--workspace", str(workspace), "up", "--secrets", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml does not exist" in capsys.readouterr().err
    assert not backend.agent_status().running


def test_allow_unauthenticated_is_accepted_and_reaches_the_dashboard(home, tmp_path):
    from opml.cli import build_parser

    args = build_parser().parse_args(["up", "--address", "0.0.0.0", "--allow-unauthenticated"])
    assert args.allow_unauthenticated and args.address == "0.0.0.0"
    planned = plan(tmp_path / "ws", address="0.0.0.0", unauthenticated=True)
    assert planned.access is Access.OPEN
    assert planned.env["OPML_ALLOW_UNAUTHENTICATED"] == "1"
    assert planned.command[planned.command.index("--server.address") + 1] == "0.0.0.0"
    local = plan(tmp_path / "ws")  # an OPML_ALLOW_UNAUTHENTICATED left in the caller's environment is not passed on
    assert local.access is Access.LOCAL and "OPML_ALLOW_UNAUTHENTICATED" not in local.env
    assert "--secrets.files" not in local.command


def test_sign_in_gets_a_generated_cookie_secret_kept_owner_only(home, tmp_path, monkeypatch):
    monkeypatch.setenv("OPML_ALLOWED_USERS", "ada@example.com")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('title = "x"\n' + AUTH + '\n[auth.google]\nclient_id = "g"\nclient_secret = "gs"\n'
                       'server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"\n'
                       'client_kwargs = { prompt = "select_account", hd = "example.com" }\n')  # fmt: skip
    workspace = tmp_path / "ws"
    first = plan(workspace, address="0.0.0.0", secrets=secrets)
    assert first.access is Access.LOGIN and first.allowed == 1
    copy = Path(first.command[first.command.index("--secrets.files") + 1])
    assert copy == workspace / "secrets" / "dashboard-secrets.toml"
    cookie = workspace / "secrets" / "dashboard-cookie.secret"
    for path in (copy, cookie, copy.parent):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600)
    given, used = tomllib.loads(secrets.read_text()), tomllib.loads(copy.read_text())
    assert used["auth"].pop("cookie_secret") == cookie.read_text().strip() and len(cookie.read_text()) >= 43
    assert used == given  # the user's secrets, unchanged but for the cookie secret
    assert all(cookie.read_text().strip() not in part for part in first.command)  # never on a command line
    again = plan(workspace, address="0.0.0.0", secrets=secrets)
    assert tomllib.loads(copy.read_text())["auth"]["cookie_secret"] == cookie.read_text().strip()  # kept
    assert again.command == first.command


def test_a_cookie_secret_the_user_gives_is_used_as_given(home, tmp_path, monkeypatch):
    monkeypatch.setenv("OPML_ALLOWED_USERS", "ada@example.com")
    secrets = home / ".streamlit" / "secrets.toml"  # found where Streamlit looks by default
    secrets.parent.mkdir()
    secrets.write_text(AUTH + 'cookie_secret = "given"\n')
    planned = plan(tmp_path / "ws")
    assert planned.access is Access.LOGIN and "--secrets.files" not in planned.command
    assert not (tmp_path / "ws" / "secrets" / "dashboard-secrets.toml").exists()


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"client_id": "c", "client_secret": "s", "server_metadata_url": "u"}, "redirect_uri"),
        ({"redirect_uri": "https://x/", "client_id": "c"}, "redirect_uri"),
        ({"redirect_uri": "https://x/oauth2callback"}, "names no OpenID Connect provider"),
        ({"redirect_uri": "https://x/oauth2callback", "client_id": "c"}, "[auth] is missing client_secret"),
        ({"redirect_uri": "https://x/oauth2callback", "okta": {"client_id": "c", "client_secret": "hunter2"}},
         "[auth.okta] is missing server_metadata_url"),
    ],
)  # fmt: skip
def test_an_incomplete_auth_section_is_named_without_its_values(auth, message):
    with pytest.raises(InvalidInput) as raised:
        check_auth_section(auth)
    assert message in str(raised.value) and "hunter2" not in str(raised.value)


def test_secrets_are_copied_faithfully_or_not_at_all():
    data = {"a": 'quote " and \\ backslash and é', "n": 3, "f": 0.5, "b": True, "l": [1, "x"],
            "auth": {"k": "v", "p": {"client_kwargs": {"x": ["y"]}, "z": 1}}}  # fmt: skip
    assert tomllib.loads(to_toml(data)) == data
    import datetime

    with pytest.raises(InvalidInput, match="dates"):
        to_toml({"when": datetime.date(2026, 1, 1)})


# -- the CLI's audit trail ------------------------------------------------------------------------


def test_the_cli_records_what_it_does_and_opml_audit_lists_it(local_backend: LocalBackend, capsys):
    workspace = ["--workspace", str(local_backend.path)]
    assert main([*workspace, "tokens", "create", "ci-robot"]) == 0
    assert main([*workspace, "tokens", "revoke", "ci-robot"]) == 0
    assert main([*workspace, "runs", "submit", "--", "true"]) == 0
    run_id = local_backend.list_runs()[0].id
    capsys.readouterr()
    assert main([*workspace, "--json", "audit", "--limit", "2"]) == 0
    import json

    events = json.loads(capsys.readouterr().out)
    actor = f"{current_user()} (CLI)"
    assert [(e["actor"], e["action"], e["target"]) for e in events] == [
        (actor, "submit_run", f"run {run_id} (command, experiment default)"),
        (actor, "revoke_token", "token ci-robot"),
    ]
    assert main([*workspace, "audit"]) == 0
    table = capsys.readouterr().out
    assert "created a token" in table and "token ci-robot" in table and actor in table
