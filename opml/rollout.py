"""Safe rollout rules shared by every backend: deployment names, traffic splits, mirror traffic, schema checks.

An endpoint (a service) holds deployments, each one registered model version. Live
traffic is split over them in whole percents summing to 100; mirror (shadow)
traffic copies a share of requests to one deployment that takes no live traffic,
whose answers are recorded and never returned. The rules are Azure ML managed
online endpoints' (deployment names of 3-32 characters, mirror to one deployment,
at most 50 %), so a split set here means the same there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from opml.errors import InvalidInput

DEFAULT_DEPLOYMENT = "blue"
DEPLOYMENT_HEADER = "azureml-model-deployment"  # request: pick a deployment; response: which one answered
MAX_MIRROR_PERCENT = 50
MAX_DEPLOYMENTS = 8

_DEPLOYMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


def check_deployment_name(name: object) -> str:
    """A deployment name: 3-32 lowercase letters, digits and '-', starting with a letter, not ending in '-'."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("deployment name is required")
    name = name.strip()
    if not _DEPLOYMENT_NAME.match(name):
        shown = repr(name) if len(name) <= 40 else f"{name[:30]!r}... ({len(name)} characters)"
        raise InvalidInput(
            f"deployment name {shown} is not valid: use 3-32 lowercase letters, digits or '-', starting with a "
            "letter and not ending with '-' (e.g. 'blue', 'green', 'v12', 'version-2')"
        )
    return name


def _percent(value: object, what: str) -> int:
    # NaN and infinities fail the range test before int() (which raises on them) is reached
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise InvalidInput(f"{what} must be a whole percent from 0 to 100, got {value!r}")
    if value != int(value):
        raise InvalidInput(f"{what} must be a whole percent from 0 to 100, got {value!r}")
    return int(value)


def check_percent(value: object, what: str) -> int:
    """A whole percent 0..100 (InvalidInput naming ``what`` otherwise)."""
    return _percent(value, what)


def _split(split: object, what: str, deployments: Sequence[str]) -> dict[str, int]:
    if not isinstance(split, Mapping):
        raise InvalidInput(f"{what} must map deployment names to percents, e.g. {{'blue': 90, 'green': 10}}")
    unknown = [str(name) for name in split if name not in deployments]
    if unknown:
        raise InvalidInput(
            f"{what} names unknown deployment(s) {', '.join(map(repr, unknown))}; this endpoint's deployments: "
            f"{', '.join(deployments)}"
        )
    return {name: _percent(value, f"{what} of {name!r}") for name, value in split.items()}


def check_traffic(split: object, deployments: Sequence[str], mirror: Mapping[str, int]) -> dict[str, int]:
    """The complete live split (every deployment, 0 for those left out) of a requested one: known names,
    whole percents summing to 100, none to the deployment that receives mirror traffic."""
    given = _split(split, "traffic", deployments)
    total = sum(given.values())
    if total != 100:
        shown = ", ".join(f"{name}={value}" for name, value in given.items()) or "nothing"
        raise InvalidInput(f"traffic must add up to 100 %, got {total} % ({shown})")
    mirrored = [name for name, value in given.items() if value and mirror.get(name)]
    if mirrored:
        raise InvalidInput(
            f"deployment {mirrored[0]!r} receives mirror traffic and cannot also take live traffic; set its mirror "
            "traffic to 0 first (or promote it, which does both)"
        )
    return {name: given.get(name, 0) for name in deployments}


def check_mirror(split: object, deployments: Sequence[str], traffic: Mapping[str, int]) -> dict[str, int]:
    """The complete mirror split of a requested one: at most one deployment above 0, at most 50 %, and only
    a deployment that takes no live traffic."""
    given = _split(split, "mirror traffic", deployments)
    shadows = {name: value for name, value in given.items() if value}
    if len(shadows) > 1:
        raise InvalidInput(f"mirror traffic goes to one deployment at a time, got {', '.join(shadows)}")
    for name, value in shadows.items():
        if value > MAX_MIRROR_PERCENT:
            raise InvalidInput(f"mirror traffic is at most {MAX_MIRROR_PERCENT} % of requests, got {value} %")
        if traffic.get(name):
            raise InvalidInput(
                f"deployment {name!r} takes {traffic[name]} % of live traffic; mirror traffic goes to a deployment "
                "that takes none (its answers are compared, never returned)"
            )
    return {name: shadows.get(name, 0) for name in deployments}


def with_newcomer(traffic: Mapping[str, int], name: str, share: int) -> dict[str, int]:
    """The split after adding deployment ``name`` with ``share`` percent: the others keep their proportions
    of the rest (whole percents by largest remainder, summing to 100)."""
    rest = 100 - share
    total = sum(traffic.values())
    if not total:  # no deployment yet: the first takes everything
        return {**dict.fromkeys(traffic, 0), name: 100}
    exact = {key: value * rest / total for key, value in traffic.items()}
    result = {key: int(value) for key, value in exact.items()}
    leftover = rest - sum(result.values())
    for key in sorted(exact, key=lambda key: exact[key] - result[key], reverse=True)[:leftover]:
        result[key] += 1
    return {**result, name: share}


def live_deployment(traffic: Mapping[str, int], order: Sequence[str]) -> str | None:
    """The deployment that takes the most live traffic (ties: the first in ``order``, the oldest)."""
    best = None
    for name in order:
        if traffic.get(name, 0) > 0 and (best is None or traffic[name] > traffic[best]):
            best = name
    return best


def schema_differences(endpoint: Sequence[Mapping[str, Any]], candidate: Sequence[Mapping[str, Any]]) -> list[str]:
    """How a candidate model's input schema differs from the endpoint's, in words (empty: same columns, same
    kinds). Category lists and ranges may differ: a request valid for one is valid for the other."""
    before = {str(column["name"]): str(column.get("type")) for column in endpoint}
    after = {str(column["name"]): str(column.get("type")) for column in candidate}
    differences = []
    added = [name for name in after if name not in before]
    removed = [name for name in before if name not in after]
    changed = [name for name in after if name in before and after[name] != before[name]]
    if added:
        differences.append(f"new column(s) {', '.join(added[:10])}{' ...' if len(added) > 10 else ''}")
    if removed:
        differences.append(f"no column(s) {', '.join(removed[:10])}{' ...' if len(removed) > 10 else ''}")
    for name in changed[:10]:
        differences.append(f"column {name} is {after[name]} (was {before[name]})")
    return differences
