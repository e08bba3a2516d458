"""A dataset's table as both Azure backends register it: fetched, parsed and validated here before anything
reaches Azure, and uploaded as the table opml parsed (plain CSV: comma, decimal point, quoted), because Azure's
readers know no decimal comma and split quoted line breaks into rows unless told."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from opml.backends.azure_common.state import AzureState
from opml.backends.base import DatasetSource
from opml.entities import Dataset, DatasetProfile
from opml.settings import get_settings

if TYPE_CHECKING:
    import pandas as pd


PROFILE_SAMPLE_ROWS = 10_000  # what a dataset registered outside opml is profiled on


@dataclass(frozen=True)
class CheckedTable:
    frame: pd.DataFrame
    label: str  # where it came from: the URL or the file's path
    sha256: str  # of the bytes given (the same bytes register as the same version)
    plain_csv: bytes  # what is uploaded
    multi_line: bool  # a text value holds a line break: the reader must be told
    tags: dict[str, str]  # opml's bookkeeping on the registered dataset (opml_*)


def check_table(source: DatasetSource, *, filename: str | None, lineage: str | None) -> CheckedTable:
    """Fetch (a URL, a path or bytes), parse and validate a CSV. Raises InvalidInput as the local backend does."""
    from opml.data.csv_format import parse_csv
    from opml.data.sources import fetch_source

    settings = get_settings()
    content, label = fetch_source(source, max_bytes=settings.max_dataset_mb << 20, timeout=settings.url_timeout_seconds)
    frame, fmt = parse_csv(content)
    sha256 = hashlib.sha256(content).hexdigest()
    text = frame.select_dtypes(include=["object", "string"])
    multi_line = bool(text.apply(lambda column: column.astype(str).str.contains("[\r\n]").any()).any())
    tags = {
        "opml_sha256": sha256,
        "opml_rows": str(len(frame)),
        "opml_source": (lineage or f"upload:{filename}") if isinstance(source, bytes) else label,
        "opml_size_bytes": str(len(content)),
        "opml_created_at": datetime.now(UTC).isoformat(),
        "opml_delimiter": fmt.delimiter,
    }
    return CheckedTable(frame, str(label), sha256, frame.to_csv(index=False).encode(), multi_line, tags)


def kept_profile(state: AzureState, dataset: Dataset, load: Callable[[int], pd.DataFrame]) -> DatasetProfile:
    """The profile opml kept when it registered ``dataset``; for one registered outside opml, the profile of
    its first ``PROFILE_SAMPLE_ROWS`` rows (``load(nrows)``), made once and kept."""
    from opml.data.profile import profile_frame

    profile = state.profile(dataset.name, dataset.version)
    if profile is None:
        profile = profile_frame(load(PROFILE_SAMPLE_ROWS))
        state.save_profile(dataset.name, dataset.version, profile)
    return profile
