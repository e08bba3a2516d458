"""Tokens for REST clients, and the header a client of this workspace sends."""

from __future__ import annotations

import pytest

from opml.errors import AlreadyExists, InvalidInput, NotFound
from tests.contract.fixtures import ContractFixtures


class TokenContract(ContractFixtures):
    def test_workspace_tokens_are_created_listed_and_revoked(self, backend, capabilities):
        if capabilities.workspace_tokens:
            token = backend.create_token("ci")
            assert isinstance(token, str) and len(token) >= 32
            assert [(t.name, t.revoked, t.owner) for t in backend.list_tokens()] == [("ci", False, False)]
            assert token not in repr(backend.list_tokens())
            with pytest.raises(AlreadyExists):
                backend.create_token("ci")
            with pytest.raises(InvalidInput):
                backend.create_token("../ci")
            backend.revoke_token("ci")
            assert [(t.name, t.revoked) for t in backend.list_tokens()] == [("ci", True)]
        else:
            with pytest.raises(InvalidInput):
                backend.create_token("ci")
            assert backend.list_tokens() == []

    def test_revoking_an_unknown_token_is_not_found(self, backend):
        with pytest.raises(NotFound):
            backend.revoke_token("nope")

    def test_auth_header_is_a_bearer_header(self, backend, capabilities):
        header = backend.auth_header()
        assert list(header) == ["Authorization"]
        scheme, _, credential = header["Authorization"].partition(" ")
        assert scheme == "Bearer" and credential
        assert backend.auth_header() == header
        if capabilities.workspace_tokens:
            assert [(t.name, t.owner) for t in backend.list_tokens()] == [("owner", True)]
        else:
            assert backend.list_tokens() == []
