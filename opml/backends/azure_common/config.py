"""A workspace's coordinates, as the portal's ``config.json`` gives them (both SDKs read the same file)."""

from __future__ import annotations

import json
from pathlib import Path

from opml.errors import InvalidInput

CONFIG_KEYS = ("subscription_id", "resource_group", "workspace_name")


def read_config(path: Path) -> dict[str, str]:
    """The workspace coordinates of a portal ``config.json``; InvalidInput names what is wrong."""
    if not path.is_file():
        raise InvalidInput(f"Azure ML config file {path} does not exist (download config.json from the portal)")
    try:
        config = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not a JSON config file: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidInput(f"{path} must hold a JSON object with {', '.join(CONFIG_KEYS)}")
    missing = [key for key in CONFIG_KEYS if not isinstance(config.get(key), str) or not config[key].strip()]
    if missing:
        raise InvalidInput(f"{path} is missing {', '.join(missing)}")
    return {key: config[key] for key in CONFIG_KEYS}
