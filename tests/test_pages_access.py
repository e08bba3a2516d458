"""The dashboard's door through Streamlit's AppTest, against a real local workspace: sign-in required when the
secrets configure it, the allow-list, a configuration that must not run, the open mode's banner and the switches
and fields it turns off, and the audit trail the pages write."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.util import patch_config_options

from opml.backends.local import LocalBackend

REPO = Path(__file__).resolve().parent.parent
PAGES = re.findall(r'st\.Page\("([^"]+)"', (REPO / "app.py").read_text())
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret-of-some-length",
    "client_id": "opml",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
OFF = "runs without sign-in (--allow-unauthenticated)"


def app(*, auth: bool = False, user: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    if auth:
        at.secrets["auth"] = dict(AUTH)
    if user is not None:
        at.user = user
    return at


def page(path: str) -> AppTest:
    return AppTest.from_file(str(REPO / path), default_timeout=60)


def texts(elements) -> list[str]:
    return [element.value for element in elements]


@pytest.fixture
def allow_list(monkeypatch):
    monkeypatch.setenv("OPML_ALLOWED_USERS", "Ada@Example.com, grace@example.com")


@pytest.fixture
def open_mode(monkeypatch):
    monkeypatch.setenv("OPML_ALLOW_UNAUTHENTICATED", "1")


# -- local: loopback, no [auth] ------------------------------------------------------------------


def test_on_loopback_without_auth_every_page_opens_without_sign_in(local_backend: LocalBackend):
    at = app().run()
    assert not at.exception and texts(at.title) == ["Workspace overview"]
    assert "Sign in" not in [b.label for b in at.button] and "Log out" not in [b.label for b in at.button]
    assert not [e for e in at.error if "sign-in" in e.value.lower()]  # no banner


def test_a_dashboard_on_every_interface_without_auth_shows_nothing_but_why(local_backend: LocalBackend):
    for address in ("0.0.0.0", ""):  # "" is Streamlit's default: every interface
        with patch_config_options({"server.address": address}):
            at = app().run()
        assert not at.exception
        assert texts(at.title) == [] and not at.dataframe and not at.metric
        assert any("does not run" in e.value and "--allow-unauthenticated" in e.value for e in at.error)
    with patch_config_options({"server.address": "0.0.0.0"}):  # a page reached without app.py shows nothing
        assert not page("pages/overview.py").run().metric


# -- login: [auth] in the secrets ----------------------------------------------------------------


def test_with_auth_a_visitor_sees_only_the_sign_in_button(local_backend: LocalBackend, allow_list):
    at = app(auth=True, user={"is_logged_in": False}).run()
    assert not at.exception
    assert texts(at.title) == ["opml"] and [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.dataframe and not at.sidebar.selectbox  # no page, no workspace selector


def test_with_auth_named_providers_each_get_a_button(local_backend: LocalBackend, allow_list):
    at = app(user={"is_logged_in": False})
    shared = {key: AUTH[key] for key in ("redirect_uri", "cookie_secret")}
    provider = {key: AUTH[key] for key in ("client_id", "client_secret", "server_metadata_url")}
    at.secrets["auth"] = {**shared, "microsoft": dict(provider), "google": dict(provider)}
    at.run()
    assert [b.label for b in at.button] == ["Sign in with microsoft", "Sign in with google"]


def test_an_allowed_user_gets_the_dashboard_their_name_and_a_log_out(local_backend: LocalBackend, allow_list):
    at = app(auth=True, user={"is_logged_in": True, "email": "ada@example.com", "email_verified": True}).run()
    assert not at.exception and texts(at.title) == ["Workspace overview"]
    assert texts(at.sidebar.text) == ["ada@example.com"]
    assert "Log out" in [b.label for b in at.sidebar.button]
    at.sidebar.button(key="access_log_out").click().run()
    assert at.user == {"is_logged_in": False}  # st.logout ran
    assert texts(at.title) == ["opml"] and [b.label for b in at.button] == ["Sign in"]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"email": "eve@example.com"}, "not on the list of allowed users"),
        ({"email": "ada@example.com", "email_verified": False}, "has not verified the email address"),
        ({"email": "ada@example.com.evil.test"}, "not on the list of allowed users"),
        ({"name": "no email at all"}, "not on the list of allowed users"),
    ],
)
def test_a_user_not_on_the_allow_list_is_refused_and_recorded(local_backend: LocalBackend, allow_list, claims, reason):
    at = app(auth=True, user={"is_logged_in": True, **claims}).run()
    assert not at.exception and texts(at.title) == ["opml"]
    assert any("may not use this dashboard" in e.value and reason in e.value for e in at.error)
    assert not at.metric and not at.dataframe and not at.sidebar.selectbox
    assert [b.label for b in at.button] == ["Log out"]
    at.run()  # once per session
    assert [(e.actor, e.action) for e in local_backend.list_audit_events()] == [
        (claims.get("email", "This account"), "sign_in_refused")
    ]
    overview = page("pages/overview.py")
    overview.secrets["auth"], overview.user = dict(AUTH), {"is_logged_in": True, **claims}
    assert not overview.run().metric  # a page reached without app.py shows nothing either


def test_auth_without_an_allow_list_does_not_run(local_backend: LocalBackend, monkeypatch):
    monkeypatch.delenv("OPML_ALLOWED_USERS", raising=False)
    at = app(auth=True, user={"is_logged_in": True, "email": "ada@example.com"}).run()
    assert texts(at.title) == [] and not at.metric
    assert any("OPML_ALLOWED_USERS is empty" in e.value for e in at.error)


# -- open: --allow-unauthenticated ---------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_without_sign_in_every_page_has_the_red_banner(local_backend: LocalBackend, open_mode, path):
    at = app().run()
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "No sign-in" in at.error[0].value and "--allow-unauthenticated" in at.error[0].value


def test_without_sign_in_local_paths_are_off(local_backend: LocalBackend, open_mode):
    at = app().run()
    assert at.sidebar.text_input(key="workspace_config_path").disabled
    assert at.sidebar.button(key="workspace_config_open").disabled
    at.switch_page("pages/datasets.py").run()
    assert at.radio(key="ds_source_kind").options == ["Web URL", "Upload a file"]
    assert any(OFF in c.value for c in at.caption)


def test_without_sign_in_the_prep_script_path_is_off(local_backend: LocalBackend, bank_small_csv, open_mode):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    at = page("pages/pipelines.py").run()
    assert at.toggle(key="pl_prep").disabled
    assert at.text_input(key="pl_script").disabled


def test_without_sign_in_tokens_are_neither_revealed_nor_created(
    local_backend: LocalBackend, bank_small_csv, open_mode
):
    local_backend.register_dataset(name="bank", source=bank_small_csv)
    steps = [{"name": "train", "type": "automl", "settings": {"dataset": "bank", "label_column": "y"}}]
    pipeline = local_backend.create_pipeline(name="p", steps=steps)
    local_backend.publish_pipeline(pipeline.id, name="P", description="", version="1")
    owner = local_backend.auth_header()["Authorization"].removeprefix("Bearer ")
    at = page("pages/pipelines.py").run()
    assert at.toggle(key="pl_reveal").disabled
    assert at.button(key="pl_token_create").disabled
    at.session_state["pl_reveal"] = True  # as if a browser sent it anyway
    at.run()
    assert not any(owner in c.value for c in at.code)
    assert [t.name for t in local_backend.list_tokens()] == ["owner"]
    assert local_backend.list_audit_events() == []
    # revoking stays possible, and is recorded as an anonymous visitor's
    at.selectbox(key="pl_token_revoke_name").set_value("owner").run()
    at.checkbox(key="pl_token_revoke_confirm_owner").check().run()
    at.button(key="pl_token_revoke").click().run()
    [event] = local_backend.list_audit_events()
    assert (event.action, event.target) == ("revoke_token", "token owner")
    assert event.actor.startswith("anonymous from ") and event.actor.endswith("(no sign-in)")


def test_without_sign_in_service_keys_stay_masked(trained_backend: LocalBackend, automl_run_id, open_mode):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    keys = trained_backend.get_service_keys("svc")
    at = page("pages/endpoints.py").run()
    assert at.toggle(key="ep_reveal").disabled
    at.session_state["ep_reveal"] = True  # as if a browser sent it anyway
    at.run()
    shown = " ".join(c.value or "" for c in at.code)
    assert keys.primary not in shown and keys.secondary not in shown
    score = page("pages/score.py").run()
    assert score.toggle(key="score_reveal").disabled
    score.session_state["score_reveal"] = True
    score.run()
    assert not any(keys.primary in (c.value or "") for c in score.code)
    assert trained_backend.list_audit_events() == []


# -- the audit trail the pages write --------------------------------------------------------------


def test_revealing_keys_is_recorded_once_per_session_with_who(trained_backend: LocalBackend, automl_run_id):
    from opml.settings import current_user

    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    trained_backend.deploy_model(name="svc", model_name="bank-model")
    at = page("pages/endpoints.py").run()
    assert trained_backend.list_audit_events() == []  # masked keys are not a reveal
    at.toggle(key="ep_reveal").set_value(True).run()
    at.run()
    at.toggle(key="ep_reveal").set_value(False).run()
    at.toggle(key="ep_reveal").set_value(True).run()
    events = trained_backend.list_audit_events()
    assert [(e.actor, e.action, e.target) for e in events] == [
        (f"{current_user()} (dashboard)", "reveal_service_key", "service svc")
    ]
    overview = page("pages/overview.py").run()
    table = next(df.value for df in overview.dataframe if "Who" in df.value.columns)
    assert list(table["What"]) == ["revealed a service key"] and list(table["Target"]) == ["service svc"]


def test_a_signed_in_user_is_the_actor_of_what_they_do(local_backend: LocalBackend, allow_list):
    at = page("pages/pipelines.py")
    at.secrets["auth"] = dict(AUTH)
    at.user = {"is_logged_in": True, "email": "Grace@Example.com"}
    at.run()
    at.text_input(key="pl_token_name").input("ci-robot")
    at.button(key="pl_token_create").click().run()
    assert not at.exception and any("shown once" in w.value for w in at.warning)
    at.selectbox(key="pl_token_revoke_name").set_value("ci-robot").run()
    at.checkbox(key="pl_token_revoke_confirm_ci-robot").check().run()
    at.button(key="pl_token_revoke").click().run()
    events = [(e.actor, e.action, e.target) for e in local_backend.list_audit_events()]
    assert events == [
        ("grace@example.com", "revoke_token", "token ci-robot"),
        ("grace@example.com", "create_token", "token ci-robot"),
    ]


def test_an_alias_moved_by_a_signed_in_user_names_them_in_its_history(
    trained_backend: LocalBackend, automl_run_id, allow_list
):
    trained_backend.register_model(name="bank-model", run_id=automl_run_id)
    at = page("pages/models.py")
    at.secrets["auth"] = dict(AUTH)
    at.user = {"is_logged_in": True, "email": "ada@example.com"}
    at.run()
    at.text_input(key="models_alias").input("challenger")
    at.button(key="models_alias_set").click().run()
    assert [change.actor for change in trained_backend.list_model_alias_history("bank-model")] == ["ada@example.com"]
