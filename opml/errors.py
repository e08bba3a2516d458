"""The one exception family of opml.

Every error a user can act on is an ``OpmlError``; its message is written for
the user (what is wrong and what to do), never a stack trace.
"""

from __future__ import annotations


class OpmlError(Exception):
    """Base class of every error opml raises on purpose."""

    http_status = 500


class InvalidInput(OpmlError):
    """The caller's input is wrong; the message names the field and the fix."""

    http_status = 400


class NotFound(OpmlError):
    """The named object does not exist in this workspace."""

    http_status = 404


class AlreadyExists(OpmlError):
    """An object with that name already exists."""

    http_status = 409


class Conflict(OpmlError):
    """The object exists but its state does not allow the operation."""

    http_status = 409


class SchemaChange(Conflict):
    """A model's input schema differs from the endpoint's: refused until the caller confirms the change
    (``create_deployment(..., allow_schema_change=True)``), which changes the endpoint's swagger.json."""


class Unauthorized(OpmlError):
    """Missing or wrong credentials."""

    http_status = 401


class OperationTimeout(OpmlError):
    """A wait ran out of time; the operation itself may still finish later."""

    http_status = 504


class BackendUnavailable(OpmlError):
    """The backend (SDK, service, workspace) cannot be reached or loaded."""

    http_status = 503
