"""Workspace tokens for REST triggers: random, stored as sha256 hashes, compared in constant time.

The local owner's token lives in ``secrets/owner.token`` (0600), so ``auth_header()`` works without
asking anyone; other tokens are shown once, at creation.
"""

from __future__ import annotations

import hashlib
import sqlite3

from opml.backends.local.layout import WorkspaceLayout, write_private_file
from opml.backends.local.store import Store, from_text, to_text, utcnow
from opml.entities import Token
from opml.errors import AlreadyExists, InvalidInput, NotFound
from opml.keys import matching_name, new_key
from opml.naming import check_name

OWNER = "owner"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _to_token(row: sqlite3.Row) -> Token:
    return Token(
        name=row["name"],
        created_at=from_text(row["created_at"]),
        revoked=row["revoked_at"] is not None,
        owner=row["name"] == OWNER,
    )


class TokenRepository:
    def __init__(self, store: Store, layout: WorkspaceLayout):
        self._store = store
        self._owner_file = layout.root / "secrets" / "owner.token"

    def create(self, name: str) -> str:
        """A new token (returned once; only its hash is kept)."""
        name = check_name(name, "token")
        if name == OWNER:
            raise InvalidInput(f"the token name {OWNER!r} is reserved for the workspace owner's token")
        token = new_key()
        with self._store.transaction() as connection:
            if connection.execute("SELECT 1 FROM tokens WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"a token named {name!r} already exists")
            connection.execute(
                "INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, ?)", (name, _hash(token), to_text(utcnow()))
            )
        return token

    def owner_token(self) -> str:
        """The local owner's token, created on first use and again after it was revoked."""
        if self._owner_file.exists():
            return self._owner_file.read_text().strip()
        # No file: any stored owner token was revoked (or its file lost), so it is replaced.
        token = new_key()
        with self._store.transaction() as connection:
            connection.execute("DELETE FROM tokens WHERE name = ?", (OWNER,))
            connection.execute(
                "INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, ?)", (OWNER, _hash(token), to_text(utcnow()))
            )
        write_private_file(self._owner_file, token.encode())
        return token

    def list(self) -> list[Token]:
        return [_to_token(row) for row in self._store.query("SELECT * FROM tokens ORDER BY created_at")]

    def revoke(self, name: str) -> None:
        changed = self._store.execute(
            "UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (to_text(utcnow()), name)
        )
        if not changed and not self._store.query_one("SELECT 1 FROM tokens WHERE name = ?", (name,)):
            raise NotFound(f"no token named {name!r}")
        if name == OWNER:
            self._owner_file.unlink(missing_ok=True)

    def verify(self, token: str | None) -> bool:
        """True when ``token`` is a live token; every stored hash is compared, in constant time."""
        return self.identify(token) is not None

    def identify(self, token: str | None) -> str | None:
        """The name of the live token ``token`` is (for the audit trail), or None; every stored hash is
        compared, in constant time."""
        if not token:
            return None
        rows = self._store.query("SELECT name, hash FROM tokens WHERE revoked_at IS NULL")
        return matching_name(_hash(token), ((row["name"], row["hash"]) for row in rows))
