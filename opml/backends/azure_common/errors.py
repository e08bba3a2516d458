"""Azure's exceptions as opml errors, keeping Azure's message (both SDKs).

SDK v2 raises azure-core's ``HttpResponseError`` family (``ResourceNotFoundError``, ``ResourceExistsError``,
``ClientAuthenticationError``: a ``status_code`` and a parsed ``error`` with Azure's code and message) and
``azure.ai.ml``'s ``ValidationException``; SDK v1 as follows.

The SDK raises a handful of exception classes (``UserErrorException``,
``WebserviceException``, ``ComputeTargetException``, ``ProjectSystemException``,
``AuthenticationException``, ...) whose meaning is in the HTTP status of the failed
request (``ServiceException.status_code``, an msrest ``HttpOperationError``'s
``response``), in Azure's error codes (an ``AzureMLException``'s ``UserError >
BadArgument > ArgumentInvalid``), in the class's name or in the message; the dashboard
needs to know which of opml's errors it is.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from opml.errors import AlreadyExists, BackendUnavailable, Conflict, InvalidInput, NotFound, OpmlError, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class _Rule:
    error: type[OpmlError]
    advice: str  # what the user can do, shown after Azure's message
    statuses: tuple[int, ...] = ()  # HTTP statuses of a request Azure refused
    kinds: str = ""  # pattern in the exception's class names and Azure's error codes
    words: str = ""  # pattern in the message

    def matches(self, kinds: str, message: str) -> bool:
        return any(
            pattern and re.search(pattern, text, re.I) for pattern, text in ((self.kinds, kinds), (self.words, message))
        )


SIGN_IN = "sign in again (az login), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"

# A quota refusal is a Conflict whatever its HTTP status: Azure Resource Manager answers one with 400
# (OperationNotAllowed, QuotaExceeded) or 409, which would otherwise read as a bad argument or an existing name.
_QUOTA = _Rule(
    Conflict,
    "request a quota increase in the Azure portal or use a smaller VM size / fewer nodes",
    kinds=r"QuotaExceeded",
    words=r"\bquota\b",
)

# A change refused because the resource is busy with an earlier one (a managed online endpoint still Updating:
# "... cannot be updated while it is in provisioning state Updating") is a Conflict to retry later, not a
# name that already exists (409) nor a bad argument (400).
_BUSY = _Rule(
    Conflict,
    "Azure is still applying an earlier change to it: try again once it shows Succeeded",
    statuses=(400, 409),
    words=r"provisioning state|operation (is )?(already )?in progress",
)


# SDK v2's DefaultAzureCredential found no sign-in: its message lists every credential it tried (some with
# network words, which would read as a connection problem); what the user needs is to sign in.
_NO_SIGN_IN = _Rule(
    Unauthorized,
    "sign in with az login, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal",
    words=r"failed to retrieve a token from the included credentials",
)
_TRIED_CREDENTIAL = re.compile(r"^\s*(\w+Credential): (.*)$")
_SHOWN_CREDENTIALS = ("EnvironmentCredential", "AzureCliCredential", "InteractiveBrowserCredential")


def _credential_chain_summary(message: str) -> str:
    """DefaultAzureCredential's report in a few lines: its first line and what the credentials a user sets up
    (a service principal's variables, az login, a browser sign-in) said."""
    lines = message.splitlines()
    tried = [m for line in lines if (m := _TRIED_CREDENTIAL.match(line)) and m.group(1) in _SHOWN_CREDENTIALS]
    return "; ".join([lines[0].rstrip("."), *(f"{m.group(1)}: {m.group(2)}" for m in tried)])


def _overriding_rule(status: int | None, kinds: str, message: str) -> _Rule | None:
    """The rules whose words decide over the HTTP status: a quota refusal (not a refused sign-in or role, nor
    throttling: 429 is "try again", whatever its message says), and a busy resource."""
    if _NO_SIGN_IN.matches(kinds, message):
        return _NO_SIGN_IN
    if status not in (401, 403, 429) and _QUOTA.matches(kinds, message):
        return _QUOTA
    if status in _BUSY.statuses and _BUSY.matches(kinds, message):
        return _BUSY
    return None


# An HTTP status, when the exception carries one, decides alone (the first rule listing it). Otherwise the
# first rule whose kinds or words match decides, so the order matters: the narrower rules come first.
_RULES: tuple[_Rule, ...] = (
    _Rule(  # AzureCliAuthentication without azure-cli in this Python environment: `az login` would not help
        BackendUnavailable,
        "install azure-cli 2.30 or later in the Python environment opml runs in, or sign in with a service "
        "principal (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)",
        words=r"azure-cli package is not installed|requires azure-cli",
    ),
    _Rule(  # a request that never reached Azure (a token request included) is not an expired sign-in
        BackendUnavailable,
        "check this machine's connection to Azure (network, proxy, firewall) and try again",
        kinds=r"ClientRequestError|ConnectionError|ConnectTimeout|ReadTimeout|\bTimeoutError",
        words=r"Max retries exceeded|Failed to establish a new connection|Name or service not known|"
        r"Temporary failure in name resolution|getaddrinfo failed|Connection (aborted|refused|reset)",
    ),
    _Rule(
        BackendUnavailable,
        "Azure ML is busy or failing; try again in a few minutes",
        statuses=(429, 500, 502, 503, 504),
    ),
    _Rule(  # before not-found: "column 'y' not found in the training data" is about the user's input
        InvalidInput,
        "",
        statuses=(400,),
        kinds=r"ConfigException|ValidationException|ArgumentException|RunConfigurationException|BadArgument|"
        r"ValidationError|ArgumentInvalid|BlankOrEmpty|OutOfRange|Malformed|ConflictingSettings",
        words=r"Invalid (value|argument)|is not a valid",
    ),
    _Rule(
        Unauthorized,
        SIGN_IN,
        statuses=(401,),
        kinds=r"Authentication|TokenExpired",
        words=r"AADSTS|expired|InvalidAuthenticationToken|az login|\b401\b|Unauthorized",
    ),
    _Rule(
        Unauthorized,
        "ask the workspace owner for a role that allows this (e.g. AzureML Data Scientist)",
        statuses=(403,),
        kinds=r"Authorization",
        words=r"AuthorizationFailed|Forbidden|\b403\b|does not have authorization|permission|"
        r"(don't|do not) have access",
    ),
    _Rule(  # before quota: "Your total snapshot size exceeds the limit of 300.0 MB" is not about the subscription
        InvalidInput,
        "a run uploads its working folder (cwd) as its snapshot: choose a smaller folder, or list what to leave "
        "out in an .amlignore file there",
        kinds=r"SnapshotException",
    ),
    _Rule(
        Conflict,
        "request a quota increase in the Azure portal or use a smaller VM size / fewer nodes",
        words=r"quota|exceeds the limit|OperationNotAllowed",
    ),
    _Rule(AlreadyExists, "", statuses=(409,), words=r"already exists|Conflict|\b409\b"),
    _Rule(
        NotFound,
        "",
        statuses=(404,),
        kinds=r"NotFound",
        words=r"not ?found|does not exist|No such|\b404\b|could not be found|Cannot find",
    ),
)


_RESPONSE_CODE = re.compile(r"^Response Code: (\d{3})\s*$", re.M)  # the model management service's report
_HEADERS = re.compile(r"^Headers: .*$\n?", re.M)  # ... which also lists the response's headers, values and all


def _status(exc: Exception, message: str) -> int | None:
    """The HTTP status of the failed request: ``ServiceException``/``WebserviceException.status_code``, an
    msrest ``HttpOperationError``'s or a requests ``HTTPError``'s ``response.status_code``, or the "Response
    Code" line of the message the SDK writes for the model management service's refusals."""
    for value in (getattr(exc, "status_code", None), getattr(getattr(exc, "response", None), "status_code", None)):
        try:
            return int(value)
        except (TypeError, ValueError):
            continue
    found = _RESPONSE_CODE.search(message)
    return int(found.group(1)) if found else None


def _kinds(exc: Exception) -> str:
    """The exception's class names and, for an ``AzureMLException``, Azure's error codes (outermost first)."""
    names = [cls.__name__ for cls in type(exc).__mro__ if cls not in (Exception, BaseException, object)]
    serialize = getattr(exc, "_serialize_json", None)
    try:
        error = json.loads(serialize())["error"] if callable(serialize) else None
    except Exception:  # an exception class that only looks like AzureMLException
        error = None
    while isinstance(error, dict):
        names.append(str(error.get("code") or ""))
        error = error.get("inner_error")
    code = getattr(getattr(exc, "error", None), "code", None)  # azure-core's parsed error (SDK v2)
    if isinstance(code, str):
        names.append(code)
    return " ".join(names)


def _message(exc: Exception) -> str:
    """Azure's message. ``message`` first: some SDK classes' ``str()`` is a multi-line report (and a
    ``ServiceException`` without details even fails to print)."""
    message = getattr(getattr(exc, "error", None), "message", None)  # azure-core's parsed error (SDK v2)
    if not isinstance(message, str) or not message.strip():
        message = getattr(exc, "message", None)
    if not isinstance(message, str) or not message.strip():
        try:
            message = str(exc)
        except Exception:
            message = ""
    message = _HEADERS.sub("", message)  # a header's value ("Content-Length: 403") must not decide the error
    lines = [line.rstrip() for line in message.splitlines() if line.strip("= \t")]  # the SDK frames some in ====
    return "\n".join(lines).strip() or type(exc).__name__


def translate(exc: Exception) -> OpmlError:
    """The opml error for an exception the SDK raised; BackendUnavailable when nothing more specific fits."""
    if isinstance(exc, OpmlError):
        return exc
    message, kinds = _message(exc), _kinds(exc)
    status = _status(exc, message)
    rule = (
        _overriding_rule(status, kinds, message)
        or next((r for r in _RULES if status in r.statuses), None)
        or next((r for r in _RULES if r.matches(kinds, message)), None)
    )
    if rule is None:
        return BackendUnavailable(f"Azure ML: {message}")
    if rule is _NO_SIGN_IN:
        message = _credential_chain_summary(message)
    return rule.error(f"Azure ML: {message}" + (f" ({rule.advice})" if rule.advice else ""))


def lookup_failed(exc: Exception, what: str) -> OpmlError:
    """The error of a failed lookup of ``what`` ("no run X"): NotFound only when Azure says so; an expired
    sign-in, a missing role, a network failure or a bad argument stay what they are."""
    error = translate(exc)
    if isinstance(error, NotFound):
        return NotFound(f"{what} ({error})")
    return error


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
