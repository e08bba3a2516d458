"""Datasets as data assets (SDK v2).

opml registers a CSV as an ``mltable`` data asset (what AutoML v2 takes as training data): a folder holding the
table opml parsed and profiled, written as plain CSV (comma, decimal point, quoted), and an ``MLTable`` file that
reads it (``read_delimited``). opml's bookkeeping (content hash, rows, source, ...) is kept in the version's tags,
as with SDK v1; the columns, the profile and a copy of the CSV uploaded are kept in the owner-only state folder,
so that preview, profile and load work without a round trip to Azure. Assets registered outside opml are listed
when they are tables (``mltable``, or a ``uri_file`` CSV) and read with the ``mltable`` package.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.backends.azure_common.errors import lookup_failed, translate_methods
from opml.backends.azure_common.tables import check_table, kept_profile
from opml.backends.azure_common.times import EPOCH, parse_time
from opml.backends.azure_v2.convert import created_at
from opml.backends.azure_v2.workspace import AzureV2Part
from opml.backends.base import DatasetSource
from opml.entities import Dataset, DatasetProfile
from opml.errors import BackendUnavailable, NotFound
from opml.files import write_private_file
from opml.naming import check_name

if TYPE_CHECKING:
    import pandas as pd

CSV_NAME = "data.csv"
TABULAR_TYPES = ("mltable", "uri_file")  # data asset types opml lists as datasets (uri_folder is not a table)


def mltable_yaml(csv_name: str, *, multi_line: bool) -> str:
    """The ``MLTable`` file of a folder holding one CSV (Azure's MLTable YAML schema: paths + read_delimited)."""
    return (
        "$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json\n"
        "type: mltable\n"
        "paths:\n"
        f"  - file: ./{csv_name}\n"
        "transformations:\n"
        "  - read_delimited:\n"
        "      delimiter: ','\n"
        "      encoding: utf8\n"
        "      header: all_files_same_headers\n"
        f"      support_multi_line: {'true' if multi_line else 'false'}\n"
    )


def int_version(data: Any) -> int | None:
    """The asset's version as opml's whole number, None for versions opml cannot number ("2024-01", "v1")."""
    try:
        return int(str(data.version))
    except (TypeError, ValueError):
        return None


@translate_methods
class AzureV2Datasets(AzureV2Part):
    """register(*, name, source, description, tags, filename, lineage) -> Dataset; list_latest(); list_versions(name);
    get(name, version); load(name, version, *, nrows); profile(name, version); training_input(name, version) -> the
    SDK's Input an AutoML job or a pipeline takes."""

    # -- Azure's data assets -----------------------------------------------------------

    def asset(self, name: str, version: int | None = None) -> Any:
        """The SDK's Data of one version (the latest when None). Raises NotFound when Azure has none, or only an
        asset that is not a table (other failures as ``translate`` says)."""
        check_name(name, "dataset")
        what = f"no dataset {name}" + (f" version {version}" if version else "")
        try:
            if version is None:
                found = self.client.data.get(name, label="latest")
            else:
                found = self.client.data.get(name, version=str(version))
        except Exception as exc:
            raise lookup_failed(exc, what) from exc
        if found.type not in TABULAR_TYPES:
            raise NotFound(f"{what}: {name} is a {found.type} data asset in Azure ML, and opml's datasets are tables")
        if int_version(found) is None:
            raise NotFound(f"{what}: its version {found.version!r} is not a whole number, which opml needs")
        return found

    def to_dataset(self, data: Any) -> Dataset:
        tags = dict(data.tags or {})
        version = int(data.version)
        meta = self.state.dataset_meta(data.name, version)
        return Dataset(
            name=data.name,
            version=version,
            description=data.description or "",
            tags={k: str(v) for k, v in tags.items() if not str(k).startswith("opml_")},
            sha256=tags.get("opml_sha256", ""),
            rows=int(tags.get("opml_rows", meta.get("rows", 0))),
            columns=tuple(meta.get("columns") or ()),
            source=tags.get("opml_source", f"Azure ML ({data.type})"),
            size_bytes=int(tags.get("opml_size_bytes", 0)),
            created_at=parse_time(tags.get("opml_created_at")) or created_at(data) or EPOCH,
            delimiter=tags.get("opml_delimiter", ","),
        )

    def training_input(self, name: str, version: int | None = None) -> Any:
        """The ``Input`` an AutoML job (or a pipeline's AutoML node) takes: the mltable asset ``name:version``.
        AutoML v2 reads training data only as MLTable; a ``uri_file`` asset made outside opml is refused."""
        data = self.asset(name, version)
        if data.type != "mltable":
            raise NotFound(
                f"dataset {name}:{data.version} is a {data.type} asset: AutoML in Azure ML (SDK v2) trains on mltable "
                "assets; register the CSV with opml (it makes one)"
            )
        return self.sdk.Input(type=self.sdk.AssetTypes.MLTABLE, path=f"azureml:{data.name}:{data.version}")

    # -- registering -------------------------------------------------------------------

    def register(
        self,
        *,
        name: str,
        source: DatasetSource,
        description: str,
        tags: dict[str, str],
        filename: str | None,
        lineage: str | None,
    ) -> Dataset:
        from opml.data.profile import profile_frame

        table = check_table(source, filename=filename, lineage=lineage)  # before anything reaches Azure
        for existing in self._versions_if_any(name):
            if existing.sha256 == table.sha256:
                return existing  # the same bytes as a version already registered: that version
        frame, plain = table.frame, table.plain_csv
        with tempfile.TemporaryDirectory() as folder:  # the asset's folder, uploaded whole by the SDK
            table_folder = Path(folder) / name
            table_folder.mkdir()
            (table_folder / CSV_NAME).write_bytes(plain)
            (table_folder / "MLTable").write_text(mltable_yaml(CSV_NAME, multi_line=table.multi_line))
            data = self.sdk.Data(
                name=name,
                type=self.sdk.AssetTypes.MLTABLE,
                path=str(table_folder),
                description=description,
                tags={**tags, **table.tags},
            )  # no version: Azure numbers it (the next whole number)
            registered = self.client.data.create_or_update(data)
        version = int(registered.version)
        write_private_file(self._local_copy(name, version), plain)
        self.state.save_dataset_meta(name, version, {"columns": [str(c) for c in frame.columns], "rows": len(frame)})
        self.state.save_profile(name, version, profile_frame(frame))
        return self.to_dataset(registered)

    def _local_copy(self, name: str, version: int) -> Path:
        return self.state.folder / "datasets" / name / str(version) / CSV_NAME

    # -- listing -----------------------------------------------------------------------

    def list_latest(self) -> list[Dataset]:
        datasets = []
        for container in self.client.data.list():
            if container.type not in TABULAR_TYPES:
                continue
            try:
                datasets.append(self.to_dataset(self.asset(container.name)))
            except NotFound:  # its latest version is not one opml can number
                continue
        return sorted(datasets, key=lambda d: d.created_at, reverse=True)

    def _versions_if_any(self, name: str) -> list[Dataset]:
        """The versions of ``name``, none when Azure has no such table (a refused lookup raises: taken for "none",
        the same bytes would be registered again as a new version)."""
        try:
            self.asset(name)
        except NotFound:
            return []
        return self.list_versions(name)

    def list_versions(self, name: str) -> list[Dataset]:
        self.asset(name)  # NotFound when there is none
        versions = [data for data in self.client.data.list(name=name) if data.type in TABULAR_TYPES]
        numbered = [data for data in versions if int_version(data) is not None]
        return [self.to_dataset(data) for data in sorted(numbered, key=int_version, reverse=True)]

    def get(self, name: str, version: int | None = None) -> Dataset:
        dataset = self.to_dataset(self.asset(name, version))
        if not dataset.columns:  # registered outside opml: read the header once
            try:
                header = self.load(name, dataset.version, nrows=1)
            except BackendUnavailable:  # no mltable package here: its columns stay unknown, the rest is shown
                return dataset
            self.state.save_dataset_meta(name, dataset.version, {"columns": [str(c) for c in header.columns]})
            dataset = dataclasses.replace(dataset, columns=tuple(str(c) for c in header.columns))
        return dataset

    # -- reading -----------------------------------------------------------------------

    def load(self, name: str, version: int | None = None, *, nrows: int | None = None) -> pd.DataFrame:
        import pandas as pd

        data = self.asset(name, version)
        local = self._local_copy(data.name, int(data.version))
        if local.exists():  # the table opml uploaded (plain CSV)
            return pd.read_csv(local, nrows=nrows)
        return self._load_from_azure(data, nrows)

    def _load_from_azure(self, data: Any, nrows: int | None) -> pd.DataFrame:
        """An asset registered outside opml, read with Azure's ``mltable`` package (it reads azureml:// paths)."""
        try:
            import mltable
        except ImportError:
            raise BackendUnavailable(
                f"dataset {data.name}:{data.version} was registered outside opml: reading it needs Azure's mltable "
                "package (pip install mltable azureml-fsspec)"
            ) from None
        if data.type == "mltable":
            c = self.client
            table = mltable.load(
                f"azureml://subscriptions/{c.subscription_id}/resourcegroups/{c.resource_group_name}/workspaces/"
                f"{c.workspace_name}/data/{data.name}/versions/{data.version}"
            )
        else:
            table = mltable.from_delimited_files(paths=[{"file": str(data.path)}])
        if nrows is not None:
            table = table.take(nrows)
        return table.to_pandas_dataframe()

    def profile(self, name: str, version: int | None = None) -> DatasetProfile:
        dataset = self.to_dataset(self.asset(name, version))
        return kept_profile(self.state, dataset, lambda rows: self.load(name, dataset.version, nrows=rows))
