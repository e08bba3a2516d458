"""A model on disk: ``model.pkl`` (joblib) beside ``manifest.json``; the sha256 is checked on every load."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import joblib

from opml.errors import InvalidInput, NotFound
from opml.files import write_private_file

MODEL_FILE = "model.pkl"
MANIFEST_FILE = "manifest.json"


class TamperedModel(InvalidInput):
    """The model file's bytes differ from the hash recorded at registration."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: Any, folder: Path, manifest: dict[str, Any]) -> tuple[str, int]:
    """Write the model and its manifest (with the model's sha256) into ``folder``; returns (sha256, size)."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    data = buffer.getvalue()
    write_private_file(folder / MODEL_FILE, data)
    sha256 = hashlib.sha256(data).hexdigest()
    manifest = {**manifest, "sha256": sha256, "size_bytes": len(data)}
    write_private_file(folder / MANIFEST_FILE, json.dumps(manifest, indent=2, default=str).encode())
    return sha256, len(data)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_FILE
    if not path.exists():
        raise NotFound(f"no model manifest in {folder}")
    return json.loads(path.read_text())


def load_model(path: Path, expected_sha256: str) -> Any:
    """Load a model file after checking its sha256. Raises TamperedModel or NotFound."""
    try:
        data = path.read_bytes()  # the bytes checked are the bytes unpickled: no window to swap the file
    except FileNotFoundError:
        raise NotFound(f"model file {path} is missing") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise TamperedModel(
            f"model file {path} does not match its registered sha256 (expected {expected_sha256[:12]}…, "
            f"found {actual[:12]}…): it was modified after registration; refusing to load it"
        )
    return joblib.load(io.BytesIO(data))
