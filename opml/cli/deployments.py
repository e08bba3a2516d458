"""``opml services`` commands of safe rollout: the deployments behind an endpoint, their traffic split, mirror
traffic, promote and roll back, and their figures side by side.

Splits are given as ``DEPLOYMENT=PERCENT`` arguments (``blue=90 green=10``) and printed the same way, so a
printed split can be typed back. This module only turns arguments into calls: the rules (names, whole
percents summing to 100, one mirrored deployment, idle-only deletion) are the backend's (``opml.rollout``),
and a refused change changes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from opml.cli.common import (
    add_instance_options,
    audit,
    backend_of,
    command,
    model_reference,
    print_json,
    print_table,
    since_hours,
    three_decimals,
)
from opml.entities import as_dict
from opml.errors import InvalidInput, SchemaChange

_PERCENT = re.compile(r"[0-9]{1,3}%?")


def parse_split(pairs: Sequence[str], what: str) -> dict[str, int]:
    """``{deployment: percent}`` from ``DEPLOYMENT=PERCENT`` arguments; ``what`` ("traffic", "mirror traffic")
    names them in messages. Only the form is checked here: names and sums are the backend's to judge."""
    split: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not name:
            raise InvalidInput(f"{what} {pair!r} must look like DEPLOYMENT=PERCENT, e.g. blue=90")
        if name in split:
            raise InvalidInput(f"deployment {name!r} is given twice; give each deployment's {what} once")
        if not _PERCENT.fullmatch(value):
            raise InvalidInput(f"{what} of {name!r} must be a whole percent from 0 to 100, got {value!r}")
        split[name] = int(value.rstrip("%"))
    return split


def _shares(split: Mapping[str, int], *, all_of_them: bool) -> str:
    return " ".join(f"{name}={value}" for name, value in split.items() if value or all_of_them)


def _print_split(args: argparse.Namespace, service: Any, extra: Mapping[str, Any] | None = None) -> None:
    """The endpoint's split after a change: one line (``NAME: traffic blue=90 green=10, mirror off``) or JSON."""
    if args.json:
        endpoint = {"service": service.name, "model": service.model, "traffic": service.traffic}
        print_json({**endpoint, "mirror": service.mirror_traffic, **(extra or {})})
        return
    mirror = _shares(service.mirror_traffic, all_of_them=False) or "off"
    print(
        f"{service.name}: traffic {_shares(service.traffic, all_of_them=True)}, mirror {mirror} "
        f"(endpoint model {service.model})"
    )


def cmd_deployments(args: argparse.Namespace) -> int:
    service = backend_of(args).get_service(args.name)
    if args.json:
        print_json([as_dict(deployment) for deployment in service.deployments])
        return 0
    rows = [
        {
            "deployment": deployment.name,
            "model": deployment.model,
            "traffic %": deployment.traffic,
            "mirror %": deployment.mirror,
            "state": deployment.state,
            "error": deployment.error or "",
        }
        for deployment in service.deployments
    ]
    print_table(rows, ["deployment", "model", "traffic %", "mirror %", "state", "error"])
    print(f"(endpoint model {service.model}: its input schema is the one swagger.json describes)", file=sys.stderr)
    return 0


def cmd_deploy_version(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    model = backend.resolve_model(model_reference(args.model, args.version))
    try:
        deployment = backend.create_deployment(
            args.name,
            name=args.deployment,
            model_name=model.name,
            model_version=model.version,
            traffic=args.traffic,
            mirror=args.mirror,
            allow_schema_change=args.allow_schema_change,
            instance_type=args.instance_type,
            instance_count=args.instance_count,
        )
    except SchemaChange as exc:  # confirmed on the command line with a flag
        raise SchemaChange(f"{exc} (--allow-schema-change)") from None
    share = f"{deployment.mirror} % mirrored" if deployment.mirror else f"{deployment.traffic} % of traffic"
    audit(backend, "deploy_service", f"service {args.name}: deployment {deployment.name} ({deployment.model}, {share})")
    if args.wait:
        deployment = backend.wait_for_deployment(args.name, deployment.name, timeout=args.wait_seconds)
    if not args.json:
        print(f"deployment {deployment.name} ({deployment.model}) of {args.name}: {deployment.state}")
    _print_split(args, backend.get_service(args.name), {"deployment": as_dict(deployment)})
    if deployment.state == "Failed":
        print(f"error: deployment {deployment.name} failed: {deployment.error or 'no reason given'}", file=sys.stderr)
        return 1
    return 0


def _changed(backend, args: argparse.Namespace, what: str, service) -> None:
    """Record a change of the endpoint's traffic in the audit trail (who promoted what, and when) and print it."""
    live = " ".join(f"{name}={share}" for name, share in service.traffic.items())
    audit(backend, "change_traffic", f"service {args.name}: {what}; now {live}"[:300])
    _print_split(args, service)


def cmd_traffic(args: argparse.Namespace) -> int:
    split = parse_split(args.split, "traffic")
    backend = backend_of(args)
    _changed(backend, args, "traffic set", backend.set_traffic(args.name, split))
    return 0


def cmd_mirror(args: argparse.Namespace) -> int:
    if args.off == bool(args.split):
        raise InvalidInput("give the mirror traffic as DEPLOYMENT=PERCENT (e.g. green=10; green=0 stops it) or --off")
    split = {} if args.off else parse_split(args.split, "mirror traffic")
    backend = backend_of(args)
    service = backend.set_mirror_traffic(args.name, split)
    mirrored = " ".join(f"{name}={share}" for name, share in service.mirror_traffic.items() if share) or "off"
    _changed(backend, args, f"mirror {mirrored}", service)
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    _changed(backend, args, f"promoted {args.deployment}", backend.promote_deployment(args.name, args.deployment))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    _changed(backend, args, "rolled back", backend.rollback_traffic(args.name))
    return 0


def cmd_delete_deployment(args: argparse.Namespace) -> int:
    backend = backend_of(args)
    backend.delete_deployment(args.name, args.deployment)
    if not args.json:
        print(f"deleted deployment {args.deployment} of {args.name}")
    _changed(backend, args, f"deleted deployment {args.deployment}", backend.get_service(args.name))
    return 0


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _class_mix(predictions: Mapping[str, int]) -> str:
    total = sum(predictions.values())
    ranked = sorted(predictions.items(), key=lambda item: -item[1])
    return ", ".join(f"{label} {100 * count / total:.0f} %" for label, count in ranked) if total else ""


def _compared_row(stats: Any) -> dict[str, str]:
    mirrored = f"{stats.mirrored:,}" if stats.mirrored or stats.mirror else ""
    if stats.mirror_failed:
        mirrored += f", {stats.mirror_failed:,} failed"
    if stats.mirror_p50 is not None:
        mirrored += f", p50 {stats.mirror_p50:.1f} ms"
    agreement = three_decimals(stats.agreement)
    if stats.compared_records:
        agreement += f" ({stats.agreed_records:,}/{stats.compared_records:,})"
    accuracy = three_decimals(stats.accuracy)
    if stats.labelled:
        accuracy += f" ({stats.labelled:,})"
    return {
        "deployment": stats.name,
        "model": stats.model,
        "traffic": f"mirror {stats.mirror} %" if stats.mirror else f"{stats.traffic} %",
        "requests": f"{stats.requests:,}",
        "failed": f"{stats.failed:,}",
        "p50 ms": _ms(stats.p50),
        "p95 ms": _ms(stats.p95),
        "p99 ms": _ms(stats.p99),
        "mirrored": mirrored,
        "agreement": agreement,
        "class mix": _class_mix(stats.predictions),
        "live accuracy (labelled)": accuracy,
        "cv accuracy": three_decimals(stats.cv_accuracy),
    }


def cmd_compare(args: argparse.Namespace) -> int:
    since = since_hours(args.hours)
    comparison = backend_of(args).compare_deployments(args.name, since=since)
    if args.json:
        print_json(dataclasses.asdict(comparison))
        return 0
    rows = [_compared_row(stats) for stats in comparison.deployments]
    print_table(rows, list(rows[0]) if rows else ["deployment"])
    print(
        f"(deployments of {args.name} over the last {args.hours:g} h; agreement: with the live answer, on "
        "mirrored records)"
    )
    if comparison.note:
        print(f"note: {comparison.note}")
    return 0


def add_commands(services: Any) -> None:
    """The rollout commands, under ``opml services``."""
    listed = command(services, "deployments", cmd_deployments, "an endpoint's deployments, their traffic and state")
    listed.add_argument("name", help="service (endpoint) name")

    deploy = command(
        services,
        "deploy-version",
        cmd_deploy_version,
        "deploy a model version behind an existing endpoint as a new deployment (a challenger); the scoring URI "
        "and keys stay the same",
    )
    deploy.add_argument("name", help="service (endpoint) name")
    deploy.add_argument("--deployment", required=True, help="the new deployment's name, e.g. green (3-32 characters)")
    deploy.add_argument(
        "--model", required=True, help="registered model: NAME (latest version), NAME:VERSION or NAME@ALIAS"
    )
    deploy.add_argument("--version", type=int, help="model version (default: latest)")
    deploy.add_argument(
        "--traffic",
        type=int,
        default=0,
        help="percent of live requests it takes; the others keep their proportions of the rest (default 0: it "
        "answers only requests naming it in the azureml-model-deployment header)",
    )
    deploy.add_argument(
        "--mirror", type=int, default=0, help="percent of requests copied to it, answers recorded not returned (<= 50)"
    )
    deploy.add_argument(
        "--allow-schema-change",
        action="store_true",
        help="deploy a model whose input schema differs from the endpoint's; its swagger.json then changes",
    )
    add_instance_options(deploy)
    deploy.add_argument("--wait", action="store_true", help="wait until it is Healthy or Failed (exit 1 if Failed)")
    deploy.add_argument("--wait-seconds", type=float, default=120, help="how long --wait waits (default 120)")

    traffic = command(
        services, "traffic", cmd_traffic, "set the live traffic split (whole percents summing to 100), no restart"
    )
    traffic.add_argument("name", help="service (endpoint) name")
    traffic.add_argument("split", nargs="+", metavar="DEPLOYMENT=PERCENT", help="e.g. blue=90 green=10 (left out: 0)")

    mirror = command(
        services, "mirror", cmd_mirror, "copy a share of requests to an idle deployment; its answers are only recorded"
    )
    mirror.add_argument("name", help="service (endpoint) name")
    mirror.add_argument("split", nargs="*", metavar="DEPLOYMENT=PERCENT", help="e.g. green=10 (at most 50; 0 stops)")
    mirror.add_argument("--off", action="store_true", help="stop mirror traffic")

    promote = command(services, "promote", cmd_promote, "send all live traffic to one deployment")
    promote.add_argument("name", help="service (endpoint) name")
    promote.add_argument("deployment", help="the deployment to promote")

    rollback = command(services, "rollback", cmd_rollback, "put back the traffic split in force before the last change")
    rollback.add_argument("name", help="service (endpoint) name")

    delete = command(
        services, "delete-deployment", cmd_delete_deployment, "remove an idle deployment (no live or mirror traffic)"
    )
    delete.add_argument("name", help="service (endpoint) name")
    delete.add_argument("deployment", help="the deployment to remove")

    compare = command(
        services,
        "compare",
        cmd_compare,
        "an endpoint's deployments side by side: requests, failures, latency, agreement, class mix, live accuracy",
    )
    compare.add_argument("name", help="service (endpoint) name")
    compare.add_argument("--hours", type=float, default=24, help="how far back (default 24)")
