"""The ``opml`` command: run the product and operate a workspace from a terminal."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from opml.cli import automl, models, pipelines, services, workspace
from opml.cli.common import EPILOG
from opml.errors import OpmlError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opml",
        description="opml: register data, train with AutoML, deploy and score models, run pipelines.",
        epilog=EPILOG,
    )
    parser.add_argument("--workspace", metavar="DIR", help="local workspace folder")
    parser.add_argument("--config", metavar="FILE", help="an Azure ML workspace's config.json (Azure backend)")
    parser.add_argument(
        "--sdk",
        choices=("v2", "v1"),
        help="the Azure ML SDK to open --config with: v2 (azure-ai-ml, the default for a workspace opml has not "
        "opened with v1) or v1 (azureml-core, past end of support); also $OPML_AZURE_SDK",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    workspace.add_commands(commands)
    automl.add_commands(commands)
    models.add_commands(commands)
    services.add_commands(commands)
    pipelines.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # What opml's processes create is owner-only; the agent, the dashboard, runs and services inherit this.
    os.umask(0o077)
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except OpmlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except UnicodeEncodeError:  # an argument that is not valid text (undecodable bytes on the command line)
        print("error: an argument is not valid text in this locale", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
