"""``opml models`` commands: register, list and show model versions; move their aliases."""

from __future__ import annotations

import argparse
import time
from typing import Any

from opml.cli.common import (
    backend_of,
    cli_actor,
    command,
    emit,
    group,
    metric_text,
    model_reference,
    parse_tags,
    print_json,
    print_table,
)


def cmd_models_register(args: argparse.Namespace) -> int:
    started = time.monotonic()
    backend = backend_of(args)
    known = {m.version for m in backend.list_models(args.name)}
    model = backend.register_model(
        name=args.name, run_id=args.run_id, description=args.description, tags=parse_tags(args.tag)
    )
    emit(args, model, ())
    if not args.json:
        if model.version in known:
            print(f"(identical to version {model.version}: nothing new registered)")
        else:
            print(f"(registered in {time.monotonic() - started:.1f} s)")
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    models = backend_of(args).list_models(args.name)
    rows = [
        {
            "name": m.name,
            "version": m.version,
            "aliases": ",".join(m.aliases),
            "algorithm": m.algorithm,
            m.primary_metric: metric_text(m.metrics.get(m.primary_metric)),
            "dataset": m.dataset,
            "run_id": m.run_id,
        }
        for m in models
    ]
    if args.json:
        print_json(rows)
    else:
        metrics = sorted({m.primary_metric for m in models})
        print_table(rows, ["name", "version", "aliases", "algorithm", *metrics, "dataset", "run_id"])
    return 0


def cmd_models_show(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    model = backend.resolve_model(model_reference(args.name, args.version))
    if args.json:
        emit(args, model, ())
        return 0
    print(f"model: {model.id}\nalgorithm: {model.algorithm}\nrun: {model.run_id}\ndataset: {model.dataset}")
    print(f"aliases: {', '.join(model.aliases) or 'none'}")
    print(f"sha256: {model.sha256}")
    if model.manifest.get("task") == "regression":
        summary = model.manifest.get("label_summary") or {}
        quantiles = summary.get("quantiles") or {}
        low, high = quantiles.get("0.0"), quantiles.get("1.0")
        spread = f" (training values {low:.6g} to {high:.6g})" if low is not None and high is not None else ""
        print(f"task: regression, predicts {model.manifest.get('label_column')}{spread}")
    else:
        print(f"task: classification\nclasses: {model.manifest.get('classes')}")
        print(f"threshold: {model.manifest.get('threshold')}")
    for name, value in model.metrics.items():
        print(f"  {name}: {metric_text(value)}")
    print("inputs: " + ", ".join(f"{c['name']} ({c['type']})" for c in model.manifest.get("input_schema", [])))
    return 0


def cmd_models_alias(args: argparse.Namespace) -> int:
    model = backend_of(args).set_model_alias(args.name, args.alias, args.version, actor=cli_actor())
    print(f"alias {args.alias} -> {model.id}")
    return 0


def cmd_models_unalias(args: argparse.Namespace) -> int:
    backend_of(args).delete_model_alias(args.name, args.alias, actor=cli_actor())
    print(f"removed alias {args.alias} of {args.name}")
    return 0


def cmd_models_aliases(args: argparse.Namespace) -> int:
    history = backend_of(args).list_model_alias_history(args.name)
    emit(args, history, ("at", "alias", "version", "previous_version", "actor"))
    return 0


def add_commands(commands: Any) -> None:
    models = group(commands, "models", "register and inspect models; move their aliases")
    register = command(models, "register", cmd_models_register, "register the model of a run (parent = best child)")
    register.add_argument("run_id", help="AutoML run id (its best model) or child run id")
    register.add_argument("--name", required=True, help="model name")
    register.add_argument("--description", default="", help="free text")
    register.add_argument("--tag", action="append", metavar="KEY=VALUE", help="a tag (repeatable)")
    listing = command(models, "list", cmd_models_list, "list registered model versions with their aliases")
    listing.add_argument("--name", help="only this model")
    show_model = command(models, "show", cmd_models_show, "show one model version (NAME, NAME:VERSION or NAME@ALIAS)")
    show_model.add_argument("name", help="NAME, NAME:VERSION or NAME@ALIAS")
    show_model.add_argument("--version", type=int, help="version (default: latest)")
    alias = command(models, "alias", cmd_models_alias, "point an alias (e.g. champion) at a version")
    alias.add_argument("name", help="model name")
    alias.add_argument("alias", help="alias name, e.g. champion or challenger")
    alias.add_argument("version", type=int, help="the version it points at from now on")
    unalias = command(models, "unalias", cmd_models_unalias, "remove an alias")
    unalias.add_argument("name", help="model name")
    unalias.add_argument("alias", help="alias name")
    aliases = command(models, "aliases", cmd_models_aliases, "the history of a model's aliases: who moved what, when")
    aliases.add_argument("name", help="model name")
