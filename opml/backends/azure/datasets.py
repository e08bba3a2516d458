"""Datasets as Azure ML tabular datasets; profiles and column lists kept in opml's state folder."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opml.backends.azure.workspace import AzurePart
from opml.backends.azure_common.errors import lookup_failed, translate_methods
from opml.backends.azure_common.tables import check_table, kept_profile
from opml.backends.azure_common.times import EPOCH, parse_time
from opml.backends.base import DatasetSource
from opml.entities import Dataset, DatasetProfile
from opml.errors import NotFound, Unauthorized
from opml.naming import check_name

if TYPE_CHECKING:
    import pandas as pd


@translate_methods
class AzureDatasets(AzurePart):
    def to_dataset(self, tabular: Any) -> Dataset:
        tags = dict(tabular.tags or {})
        meta = self.state.dataset_meta(tabular.name, int(tabular.version))
        columns = tuple(meta.get("columns") or ())
        return Dataset(
            name=tabular.name,
            version=int(tabular.version),
            description=tabular.description or "",
            tags={k: v for k, v in tags.items() if not k.startswith("opml_")},
            sha256=tags.get("opml_sha256", ""),
            rows=int(tags.get("opml_rows", meta.get("rows", 0))),
            columns=columns,
            source=tags.get("opml_source", "Azure ML"),
            size_bytes=int(tags.get("opml_size_bytes", 0)),
            created_at=parse_time(tags.get("opml_created_at")) or EPOCH,
            delimiter=tags.get("opml_delimiter", ","),
        )

    def tabular(self, name: str, version: int | None = None) -> Any:
        """The SDK's TabularDataset of one version (the latest when None). Raises NotFound when Azure has no
        such dataset, or only a file dataset of that name (other failures as ``translate`` says)."""
        check_name(name, "dataset")
        what = f"no dataset {name}" + (f" version {version}" if version else "")
        try:
            found = self.sdk.Dataset.get_by_name(self.ws, name, version="latest" if version is None else version)
        except Exception as exc:
            raise lookup_failed(exc, what) from exc
        if not isinstance(found, self.sdk.TabularDataset):
            raise NotFound(f"{what}: {name} is a {type(found).__name__} in Azure ML, and opml's datasets are tables")
        return found

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
        from opml.data.sources import is_url

        table = check_table(source, filename=filename, lineage=lineage)
        for existing in self._versions_if_any(name):
            if existing.sha256 == table.sha256:
                return existing  # the same bytes as a version already registered: that version
        datastore = self.sdk.Datastore.get_default(self.ws)
        target = f"opml/datasets/{name}/{table.sha256[:16]}"
        with tempfile.TemporaryDirectory() as folder:  # a folder holding just this file, uploaded whole
            local = Path(folder) / ("data.csv" if is_url(source) else Path(filename or table.label).name or "data.csv")
            local.write_bytes(table.plain_csv)
            # Datastore.upload_files is deprecated: Dataset.File.upload_directory uploads, then the table is
            # read from the uploaded path (what it returns is an unregistered FileDataset of the folder).
            self.sdk.Dataset.File.upload_directory(
                src_dir=folder, target=(datastore, target), overwrite=True, show_progress=False
            )
        tabular = self.sdk.Dataset.Tabular.from_delimited_files(
            path=[(datastore, f"{target}/{local.name}")], separator=",", support_multi_line=table.multi_line
        )
        registered = tabular.register(
            workspace=self.ws,
            name=name,
            description=description,
            tags={**tags, **table.tags},
            create_new_version=True,
        )
        version = int(registered.version)
        frame = table.frame
        self.state.save_dataset_meta(name, version, {"columns": list(frame.columns), "rows": len(frame)})
        self.state.save_profile(name, version, profile_frame(frame))
        return self.to_dataset(registered)

    def latest_tabular(self) -> dict[str, Any]:
        """The latest version of every registered tabular dataset, by name.

        Dataset.get_all answers a lazy mapping (the SDK's _DatasetDict) of every registered dataset, file
        datasets included, each loaded when read; one whose lookup failed, for whatever reason, is None to it,
        and reading it raises KeyError (so does ``.values()``). Its keys are read with ``for``: ``list()`` and
        ``sorted()`` ask its length first, which lists everything and leaves the key iterator empty. A None is
        asked again, to tell a dataset that does not load (left out) from a refused sign-in (raised: datasets
        must not silently vanish from the list because a token expired).
        """
        registered = self.sdk.Dataset.get_all(self.ws)
        found = {}
        for name in registered:
            dataset = registered.get(name)
            if dataset is None:
                dataset = self._reason_it_does_not_load(name)
            if isinstance(dataset, self.sdk.TabularDataset):
                found[name] = dataset
        return found

    def _reason_it_does_not_load(self, name: str) -> None:
        """Raise Unauthorized when looking ``name`` up is refused for the caller's sign-in or role."""
        try:
            self.sdk.Dataset.get_by_name(self.ws, name)
        except Exception as exc:
            error = lookup_failed(exc, f"no dataset {name}")
            if isinstance(error, Unauthorized):
                raise error from exc

    def list_latest(self) -> list[Dataset]:
        datasets = [self.to_dataset(d) for d in self.latest_tabular().values()]
        return sorted(datasets, key=lambda d: d.created_at, reverse=True)

    def _versions_if_any(self, name: str) -> list[Dataset]:
        """The versions of ``name``, none when Azure has no tabular dataset of that name (a refused lookup raises:
        taken for "none", it would register the same bytes again as a new version)."""
        try:
            self.tabular(name)
        except NotFound:
            return []
        return self.list_versions(name)

    def list_versions(self, name: str) -> list[Dataset]:
        latest = self.tabular(name)
        return [self.to_dataset(self.tabular(name, v)) for v in range(int(latest.version), 0, -1)]

    def get(self, name: str, version: int | None = None) -> Dataset:
        dataset = self.to_dataset(self.tabular(name, version))
        if not dataset.columns:  # registered outside opml: read the header once
            header = self.load(name, dataset.version, nrows=1)
            self.state.save_dataset_meta(name, dataset.version, {"columns": list(header.columns)})
            dataset = dataclasses.replace(dataset, columns=tuple(header.columns))
        return dataset

    def load(self, name: str, version: int | None = None, *, nrows: int | None = None) -> pd.DataFrame:
        tabular = self.tabular(name, version)
        if nrows is not None:
            tabular = tabular.take(nrows)
        return tabular.to_pandas_dataframe()

    def profile(self, name: str, version: int | None = None) -> DatasetProfile:
        dataset = self.to_dataset(self.tabular(name, version))
        return kept_profile(self.state, dataset, lambda rows: self.load(name, dataset.version, nrows=rows))
