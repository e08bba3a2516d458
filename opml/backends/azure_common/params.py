"""A run's parameters as opml shows them, from what Azure keeps of it (both SDKs)."""

from __future__ import annotations

import json
from typing import Any

PARAMS_TAG = "opml_params"  # the settings opml submitted a run with (JSON; env values masked)


def params_from(tags: dict[str, str] | None, properties: dict[str, Any] | None) -> dict[str, Any]:
    """The settings opml submitted (its tag), or, for a run Azure made (an AutoML trial), the algorithm,
    featurization and pipeline Azure recorded in its properties."""
    tags, properties = tags or {}, properties or {}
    if PARAMS_TAG in tags:
        try:
            return json.loads(tags[PARAMS_TAG])
        except ValueError:
            pass
    params: dict[str, Any] = {}
    if "run_algorithm" in properties:
        params["algorithm"] = properties["run_algorithm"]
    if "run_preprocessor" in properties:
        params["featurization"] = properties["run_preprocessor"]
    if "pipeline_spec" in properties:
        params["hyperparameters"] = {"pipeline_spec": properties["pipeline_spec"]}
    return params
