"""Model versions as the dashboard shows and picks them."""

from __future__ import annotations

from opml.backends.base import Backend
from opml.errors import OpmlError


def actor() -> str:
    """Who acts from this dashboard, for records such as alias history: the signed-in email, else the OS user
    (``opml.ui.policy.actor``)."""
    from opml.ui.policy import actor as session_actor

    return session_actor()


def version_label(model) -> str:
    """A model version for pickers: its number, aliases and primary metric."""
    aliases = f" · {', '.join(model.aliases)}" if model.aliases else ""
    value = model.metrics.get(model.primary_metric)
    metric = f" · {model.primary_metric} {value:.4f}" if value is not None else ""
    return f"v{model.version}{aliases}{metric}"


PRODUCTION_ALIAS = "champion"  # the alias that marks the version meant for production


def production_version(versions: list) -> int:
    """The version a deploy form starts with: the one aliased ``champion``, else the newest."""
    for model in versions:
        if PRODUCTION_ALIAS in model.aliases:
            return model.version
    return max(model.version for model in versions)


def registered_versions(backend: Backend, name: str) -> set[int]:
    """Versions of a model name registered so far (none when the name is new): after a registration, a
    version already in this set means the content was identical and nothing new was registered."""
    try:
        return {model.version for model in backend.list_models(name)}
    except OpmlError:
        return set()
