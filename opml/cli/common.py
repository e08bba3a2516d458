"""Shared pieces of the ``opml`` command: output, argument helpers, the workspace."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from opml.entities import as_dict
from opml.errors import InvalidInput

EPILOG = (
    "The workspace is an Azure ML one with --config FILE (or $OPML_AZURE_CONFIG), else the local folder "
    "--workspace DIR, else $OPML_WORKSPACE, else ~/.opml/workspace."
)


# -- output helpers -------------------------------------------------------------------


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def print_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[("" if row.get(col) is None else str(row.get(col))) for col in columns] for row in rows]
    widths = [max(len(col), *(len(cell[i]) for cell in cells)) for i, col in enumerate(columns)]
    print("  ".join(col.upper().ljust(width) for col, width in zip(columns, widths, strict=True)))
    for cell in cells:
        print("  ".join(value.ljust(width) for value, width in zip(cell, widths, strict=True)))


def emit(args: argparse.Namespace, entities: list[Any] | Any, columns: Sequence[str]) -> None:
    many = isinstance(entities, list)
    dicts = [as_dict(entity) for entity in (entities if many else [entities])]
    if args.json:
        print_json(dicts if many else dicts[0])
    elif many:
        print_table(dicts, columns)
    else:
        for key, value in dicts[0].items():
            print(f"{key}: {json.dumps(value, default=str) if isinstance(value, (dict, list)) else value}")


def since_hours(hours: float) -> float:
    """The moment ``hours`` (--hours) ago, after checking it."""
    if not 0 < hours <= 24 * 3650:  # NaN fails this too
        raise InvalidInput(f"--hours must be a number of hours above 0 and at most 87,600, got {hours}")
    return time.time() - hours * 3600


def metric_text(value: float | None, digits: int = 4) -> str:
    """A metric as tables and CSV print it: ``digits`` decimals, empty when it was not measured (None or NaN: the
    metrics of a canceled or failed trial), never the text "None" or "nan"."""
    if value is None or value != value:  # NaN is the one value unequal to itself
        return ""
    return f"{value:.{digits}f}"


def three_decimals(value: float | None) -> str:
    """A fraction (accuracy, AUC, PSI, agreement) as the commands print it: 3 decimals, empty for None."""
    return "" if value is None else f"{value:.3f}"


def parse_tags(pairs: Sequence[str] | None) -> dict[str, str]:
    tags = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"tag {pair!r} must look like key=value")
        tags[key] = value
    return tags


def model_reference(name: str, version: int | None) -> str:
    """NAME, NAME:VERSION or NAME@ALIAS from a model argument and an optional --version."""
    if version is None:
        return name
    if "@" in name or ":" in name:
        raise InvalidInput(f"give {name!r} or --version, not both")
    return f"{name}:{version}"


def cli_actor() -> str:
    """Who acts from the command line, for records such as alias history."""
    from opml.settings import current_user

    return f"{current_user()} (CLI)"


def audit(backend, action: str, target: str) -> None:
    """Record in the workspace's audit trail that the CLI's user did ``action`` to ``target``."""
    backend.record_audit_event(cli_actor(), action, target)


def local_backend_of(args: argparse.Namespace):
    """The local workspace (the agent and the dashboard's own state live there, whatever the backend)."""
    from opml.workspace import open_workspace

    return open_workspace(args.workspace)


def backend_of(args: argparse.Namespace):
    from opml.workspace import open_chosen_workspace

    return open_chosen_workspace(args.workspace, config=getattr(args, "config", None), sdk=getattr(args, "sdk", None))


def group(subparsers: Any, name: str, help_text: str) -> Any:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    return parser.add_subparsers(dest="action", metavar="ACTION", required=True)


def command(subparsers: Any, name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
    parser.set_defaults(handler=handler)
    return parser


def add_instance_options(parser: argparse.ArgumentParser) -> None:
    """``--instance-type``/``--instance-count``: the size of an Azure ML managed online deployment (SDK v2)."""
    parser.add_argument(
        "--instance-type",
        metavar="VM_SIZE",
        help="Azure ML SDK v2 only: the VM size of the deployment, e.g. Standard_DS3_v2 (the default there)",
    )
    parser.add_argument(
        "--instance-count", type=int, metavar="N", help="Azure ML SDK v2 only: how many instances serve it (default 1)"
    )
