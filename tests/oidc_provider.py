"""A small OpenID Connect provider on loopback, for the sign-in tests: Authlib's authorization server does
the protocol (authorization code flow with PKCE, client authentication, the id_token signed RS256 with the
``nonce``); this module gives it clients, users, codes and an HTTP front (stdlib ``http.server`` in a
thread) with a discovery document, a JWKS and a login form.

    with OidcProvider(users={"ada@example.com": "pw"}) as provider:
        provider.add_client("opml", "secret", "http://127.0.0.1:8501/oauth2callback")
        provider.metadata_url  # http://127.0.0.1:PORT/.well-known/openid-configuration
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Error,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from joserfc.jwk import RSAKey


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uri: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    email: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class Request(OAuth2Request):
    """An HTTP request as Authlib reads it: the query's or the form's parameters as its payload."""

    def __init__(self, method: str, uri: str, headers: dict[str, str], params: dict[str, str]):
        super().__init__(method, uri, headers=headers)
        self.payload = BasicOAuth2Payload(params)
        self._params = params

    @property
    def args(self) -> dict[str, str]:
        return self._params

    @property
    def form(self) -> dict[str, str]:
        return self._params


class OidcProvider:
    """The provider: ``users`` maps emails to passwords; everything is kept in memory."""

    def __init__(self, users: dict[str, str]):
        self.users = dict(users)
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.server = self._authorization_server()
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="oidc-provider", daemon=True)

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def add_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.clients[client_id] = Client(client_id, client_secret, redirect_uri)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def check_password(self, email: str, password: str) -> bool:
        expected = self.users.get(email, "")
        return bool(expected) and hmac.compare_digest(password.encode(), expected.encode())

    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):
            def query_client(self, client_id: str) -> Client | None:
                return provider.clients.get(client_id)

            def save_token(self, token: dict, request: OAuth2Request) -> None:
                pass  # the access token is not used: the client reads the id_token

            def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
                return request

            def handle_response(self, status: int, body: Any, headers: list) -> tuple[int, Any, list]:
                return status, body, headers

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

        class CodeGrant(AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                data = request.payload.data
                provider.codes[code] = Code(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=data.get("redirect_uri", ""),
                    scope=request.client.get_allowed_scope(data.get("scope", "")),
                    email=request.user,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    auth_time=int(time.time()),
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                item = provider.codes.get(code)
                return item if item and item.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> str | None:
                return authorization_code.email if authorization_code.email in provider.users else None

        class OpenID(OpenIDCode):
            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.key

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": provider.key.kid}

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.client_id]}

            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return any(code.nonce == nonce for code in provider.codes.values())

            def generate_user_info(self, user: str, scope: str) -> UserInfo:
                return UserInfo(sub=user, email=user, email_verified=True, name=user.split("@")[0].title())

        server = Server(scopes_supported=["openid", "email", "profile"])
        server.register_grant(CodeGrant, [OpenID(require_nonce=True), CodeChallenge(required=True)])
        server.register_token_generator(
            "default", BearerTokenGenerator(access_token_generator=lambda *args, **kwargs: secrets.token_urlsafe(24))
        )
        return server

    def __enter__(self) -> OidcProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


LOGIN_FORM = """<!doctype html><title>Test identity provider</title>
<h1>Sign in to the test identity provider</h1>{error}
<form method="post" action="/authorize">
<input type="hidden" name="query" value="{query}">
<label>Email <input name="email" autocomplete="off"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Continue</button>
</form>"""


def _handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/.well-known/openid-configuration":
                self._json(200, provider.metadata())
            elif path == "/jwks":
                self._json(200, provider.jwks())
            elif path == "/authorize":
                try:  # a request the server would refuse is refused before the form is shown
                    provider.server.get_consent_grant(self._request("GET", query))
                except OAuth2Error as exc:
                    self._send(400, f"invalid authorization request: {exc.error}", "text/plain")
                    return
                self._send(200, LOGIN_FORM.format(error="", query=html.escape(query)), "text/html")
            else:
                self._send(404, "not found", "text/plain")

        def do_POST(self) -> None:
            form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()))
            if self.path == "/authorize":
                query = form.get("query", "")
                email = form.get("email", "").strip()
                if not provider.check_password(email, form.get("password", "")):
                    error = "<p role='alert'>Wrong email or password.</p>"
                    self._send(200, LOGIN_FORM.format(error=error, query=html.escape(query)), "text/html")
                    return
                request = self._request("GET", query)
                grant = provider.server.get_consent_grant(request, end_user=email)
                self._answer(*provider.server.create_authorization_response(request, grant_user=email, grant=grant))
            elif self.path == "/token":
                request = self._request("POST", urlencode(form))
                self._answer(*provider.server.create_token_response(request))
            else:
                self._send(404, "not found", "text/plain")

        def _request(self, method: str, query: str) -> Request:
            uri = f"{provider.issuer}{urlsplit(self.path).path}?{query}"
            return Request(method, uri, dict(self.headers.items()), dict(parse_qsl(query)))

        def _answer(self, status: int, body: Any, headers: list) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            data = json.dumps(body).encode() if isinstance(body, dict) else str(body or "").encode()
            if not any(name.lower() == "content-type" for name, _ in headers):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body), "application/json")

        def _send(self, status: int, text: str, content_type: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
