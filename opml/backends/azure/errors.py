"""Azure's exceptions as opml errors, keeping Azure's message.

The SDK raises a handful of exception classes (``UserErrorException``,
``WebserviceException``, ``ComputeTargetException``, ``ProjectSystemException``,
``AuthenticationException``, ...) whose meaning is in the message or the HTTP
status inside it; the dashboard needs to know which of opml's errors it is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

from opml.errors import AlreadyExists, BackendUnavailable, Conflict, NotFound, OpmlError, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

# (pattern in the class name or message, opml error, what the user can do)
_RULES: tuple[tuple[re.Pattern, type[OpmlError], str], ...] = (
    (
        re.compile(r"Authentication|AADSTS|expired|InvalidAuthenticationToken|az login|credential", re.I),
        Unauthorized,
        "sign in again (az login), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
    ),
    (
        re.compile(r"AuthorizationFailed|Forbidden|\b403\b|does not have authorization|permission", re.I),
        Unauthorized,
        "ask the workspace owner for a role that allows this (e.g. AzureML Data Scientist)",
    ),
    (
        re.compile(r"quota|QuotaExceeded|exceeds the limit|OperationNotAllowed", re.I),
        Conflict,
        "request a quota increase in the Azure portal or use a smaller VM size / fewer nodes",
    ),
    (re.compile(r"already exists|Conflict|\b409\b", re.I), AlreadyExists, ""),
    (re.compile(r"not ?found|does not exist|No such|\b404\b|ResourceNotFound|could not be found", re.I), NotFound, ""),
)


def translate(exc: Exception) -> OpmlError:
    """The opml error for an exception the SDK raised; BackendUnavailable when nothing more specific fits."""
    if isinstance(exc, OpmlError):
        return exc
    message = str(getattr(exc, "message", "") or exc).strip() or type(exc).__name__
    text = f"{type(exc).__name__}: {message}"
    for pattern, error, advice in _RULES:
        if pattern.search(text):
            return error(f"Azure ML: {message}" + (f" ({advice})" if advice else ""))
    return BackendUnavailable(f"Azure ML: {message}")


def azure_errors(method: F) -> F:
    """Decorate a backend method so that every SDK exception leaves it as an opml error."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except OpmlError:
            raise
        except Exception as exc:  # the SDK's own exception classes have no common base besides Exception
            raise translate(exc) from exc

    return wrapper  # type: ignore[return-value]


def translate_methods(cls: type) -> type:
    """Class decorator: ``azure_errors`` on every method the class defines (the interface's checked ``_impl``
    methods included), dunders aside."""
    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("__"):
            setattr(cls, name, azure_errors(value))
    return cls
