"""Reading cfasim datasets without the training code: ``cfasim.open_dataset``.

>>> ds = cfasim.open_dataset("nona.zarr")            # or "s3://bucket/nona.zarr", fsspec URLs
>>> ds.pattern, ds.splits                            # CFAPattern, ("train", "val", "test")
>>> sample = ds["train"][0]                          # dict of NumPy arrays
>>> sample["raw"].shape, sample["target"].dtype      # (288, 288), uint8
>>> ds["train"].to_xarray()                          # xarray.Dataset with named dimensions
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import zarr

from cfasim.cfa import CFAPattern
from cfasim.dataset import ATTRS_KEY, FORMAT_VERSION, META_ARRAYS, SPLITS, DatasetError
from cfasim.isp import UnprocessParams
from cfasim.render import sample_params

DATA_ARRAY_NAMES = ("raw", "target", "clean")


@dataclass(frozen=True)
class RawFormat:
    bits: int
    black: int
    white: int


class Split:
    """One split: ``len()``, integer indexing (a dict of NumPy arrays per sample), slicing."""

    def __init__(self, dataset: Dataset, name: str, group: zarr.Group):
        self.dataset, self.name, self.group = dataset, name, group
        self.count = int(group.attrs.get("count", 0))
        self.scale = int(group.attrs.get("scale", 1))
        self.arrays = {k: group[k] for k in sorted(group.array_keys())}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        """``split[i]`` -> dict of arrays for sample i; ``split[a:b]`` -> dict of stacked arrays."""
        if isinstance(index, slice):
            return {k: np.asarray(a[index]) for k, a in self.arrays.items()}
        i = int(index)
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(f"split {self.name!r} has {self.count} samples; no index {index}")
        return {k: np.asarray(a[i]) for k, a in self.arrays.items()}

    def __iter__(self):
        for i in range(self.count):
            yield self[i]

    def meta(self, index: int) -> dict:
        """The per-sample metadata of one sample (every array of META_ARRAYS)."""
        return {k: np.asarray(self.arrays[k][index]) for k in META_ARRAYS if k in self.arrays}

    def params(self, index: int) -> UnprocessParams:
        """The ISP parameters of one sample, for cfasim.isp.process / unprocess."""
        return sample_params(self.group, index, self.dataset.config)

    def to_xarray(self):
        """This split as an ``xarray.Dataset`` (lazy, dask-backed)."""
        import xarray as xr

        return xr.open_zarr(
            self.dataset.url,
            group=self.name,
            storage_options=self.dataset.storage_options,
        )

    def __repr__(self) -> str:
        shapes = ", ".join(
            f"{k} {a.shape}" for k, a in self.arrays.items() if k in DATA_ARRAY_NAMES
        )
        return f"<cfasim split {self.name!r}: {self.count} samples; {shapes}>"


class Dataset:
    """A cfasim dataset opened read-only (see :func:`open_dataset`)."""

    def __init__(self, url: str, storage_options: dict | None = None):
        self.url = url
        self.storage_options = storage_options
        kwargs = {} if storage_options is None else {"storage_options": storage_options}
        try:
            self.root = zarr.open_group(url, mode="r", **kwargs)
        except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError) as err:
            raise DatasetError(f"{url} is not a Zarr group: {err}") from None
        attrs = self.root.attrs.get(ATTRS_KEY)
        if attrs is None:
            raise DatasetError(f"{url} is a Zarr group but not a cfasim dataset")
        if attrs.get("format_version") != FORMAT_VERSION:
            raise DatasetError(
                f"{url} has cfasim format_version {attrs.get('format_version')!r}; this reader "
                f"knows {FORMAT_VERSION} (see docs/dataset-format.md, compatibility policy)"
            )
        if attrs.get("status") != "complete":
            raise DatasetError(
                f"{url} has status {attrs.get('status')!r}: the build did not finish "
                f"(continue it with cfasim generate ... --resume)"
            )
        self.attrs = dict(attrs)
        self.pattern = CFAPattern.from_dict(attrs["pattern"])
        self.config = dict(attrs["config"])
        self.raw_format = RawFormat(**attrs["raw_format"])
        self.splits = tuple(s for s in SPLITS if s in self.root)
        self._splits = {s: Split(self, s, self.root[s]) for s in self.splits}

    def __getitem__(self, split: str) -> Split:
        if split not in self._splits:
            raise KeyError(f"no split {split!r}; splits: {', '.join(self.splits)}")
        return self._splits[split]

    def __len__(self) -> int:
        return sum(len(s) for s in self._splits.values())

    def to_xarray(self, split: str = "train"):
        return self[split].to_xarray()

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {len(self[s])}" for s in self.splits)
        return f"<cfasim dataset {self.url}: {self.pattern.name}; {counts}>"


def open_dataset(path_or_url, storage_options: dict | None = None) -> Dataset:
    """Open a cfasim dataset read-only: a local path or any fsspec URL zarr can open.

    Raises :class:`cfasim.dataset.DatasetError` for anything that is not a complete cfasim
    dataset of a known format version.
    """
    return Dataset(str(path_or_url), storage_options)
