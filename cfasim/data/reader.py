"""Reading cfasim datasets without the training code: ``cfasim.open_dataset``.

>>> import os, tempfile, cfasim
>>> out = os.path.join(tempfile.mkdtemp(), "nona.zarr")      # any path, or an fsspec URL
>>> config = cfasim.GenerateConfig(pattern="nona", count=10, patch=24)
>>> cfasim.build(cfasim.plan(config), out, progress=False)  # shards rendered
3
>>> ds = cfasim.open_dataset(out)
>>> ds.pattern, ds.splits
(CFAPattern('nona:rggb', period=(6, 6)), ('train', 'val', 'test'))
>>> sample = ds["train"][0]                                 # dict of NumPy arrays
>>> sample["raw"].shape, sample["target"].dtype
((24, 24), dtype('uint8'))
>>> sorted(ds["train"].to_xarray().data_vars)[:3]          # xarray.Dataset, named dimensions
['black_level', 'crop_box', 'digital_gain']
"""

from __future__ import annotations

import numpy as np
import zarr

from cfasim.cfa import CFAPattern
from cfasim.errors import DatasetError, UnknownSplitError
from cfasim.isp.steps import UnprocessParams
from cfasim.sim.simulate import RawFormat
from cfasim.store.fs import StoreFS
from cfasim.store.schema import META_ARRAYS, SPLITS, has_isp_params
from cfasim.store.shard_files import ShardedArray
from cfasim.store.status import open_store

DATA_ARRAY_NAMES = ("raw", "target", "clean")


def sample_params(split_group, index: int, config: dict) -> UnprocessParams:
    """The ISP parameters of one stored sample (see docs/dataset-format.md).

    Raises
    ------
    DatasetError
        For datasets of real captured pairs, whose camera processing is unknown (stored NaN).
    """
    if not has_isp_params(config):
        raise DatasetError(
            f"sample {index} comes from a real captured pair ({config.get('source_kind')}): "
            "its camera's white balance, colour matrix and noise are unknown (stored as NaN)"
        )
    g = split_group
    wb = g["wb_gains"][index]
    return UnprocessParams(
        np.asarray(g["xyz2cam"][index]),
        float(wb[0]),
        float(wb[2]),
        float(g["digital_gain"][index]),
        config["transfer"],
        bool(config["tone"]),
    )


class CheckedArray:
    """A stored array whose reads fail loudly: a shard file that is missing, empty or too short
    for its index (which zarr would read as zeros), or a chunk whose crc32c or compression
    does not decode, raises one :class:`DatasetError` naming the array, the samples and the
    shard file. Indexing is zarr's (the first axis is ``sample``); results are NumPy arrays.
    A key that starts with one sample index reads that sample straight from its shard file
    (:class:`~cfasim.store.shard_files.ShardedArray`, the same values without zarr's per-read
    overhead) when the array has cfasim's layout and ``fs`` is given.

    Parameters
    ----------
    array : zarr.Array
        The array (``split/name`` of a store).
    store : str
        The store's path or URL, for messages.
    rel : str
        The array's path in the store, e.g. ``"train/raw"``.
    fs : StoreFS, optional
        File access to the store; without it shard files are not checked before reads.
    """

    def __init__(self, array: zarr.Array, store: str, rel: str, fs: StoreFS | None = None):
        self.array, self.store, self.rel, self.fs = array, store, rel, fs
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim
        self.per_shard = int((array.shards or array.chunks)[0]) if array.ndim else 1
        inner = np.prod(np.array(array.shards) // np.array(array.chunks)) if array.shards else 0
        self._min_bytes = max(1, 16 * int(inner))  # the shard index: 16 bytes per inner chunk
        self._checked: set[int] = set()
        self._reader = ShardedArray.for_array(array.metadata.to_dict(), fs, rel)

    def __len__(self) -> int:
        return int(self.shape[0])

    def __iter__(self):
        yield from self[:]

    def shard_file(self, shard: int) -> str:
        """The store-relative file of shard (or chunk) ``shard`` along ``sample``."""
        key = self.array.metadata.encode_chunk_key((shard,) + (0,) * (self.ndim - 1))
        return f"{self.rel}/{key}"

    def _samples(self, key) -> range:
        first = key[0] if isinstance(key, tuple) else key
        n = int(self.shape[0]) if self.ndim else 1
        if isinstance(first, slice):
            return range(*first.indices(n))
        if first is Ellipsis:
            return range(n)
        i = int(first)
        i = i + n if i < 0 else i
        if not 0 <= i < n:
            raise IndexError(f"{self.rel} has {n} samples; no index {first}")
        return range(i, i + 1)

    def _check_shard(self, shard: int) -> None:
        if self.fs is None or shard in self._checked:
            return
        rel = self.shard_file(shard)
        try:
            size = self.fs.size(rel)
        except (OSError, ValueError):
            size = None
        if size is None or size < self._min_bytes:
            what = "is missing" if size is None else f"is truncated ({size} bytes)"
            raise DatasetError(
                f"{self.store}: {self.rel} shard file {rel} {what}: samples "
                f"{shard * self.per_shard}..{(shard + 1) * self.per_shard - 1} cannot be read; "
                f"run cfasim validate {self.store}"
            )
        self._checked.add(shard)

    def __getitem__(self, key) -> np.ndarray:
        samples = self._samples(key) if self.ndim else range(1)
        shards = sorted({i // self.per_shard for i in samples})
        for shard in shards:
            self._check_shard(shard)
        try:
            return self._read(key, samples)
        except Exception as err:  # a crc32c mismatch or an undecodable chunk
            first = samples[0] if len(samples) else 0
            where = (
                f"sample {first} is" if len(samples) == 1 else f"samples {first}..{samples[-1]} are"
            )
            files = ", ".join(self.shard_file(s) for s in shards[:3])
            reason = "crc32c checksum mismatch" if "checksum" in str(err) else f"{err}"
            raise DatasetError(
                f"{self.store}: {self.rel} {where} damaged (shard file {files}: "
                f"{reason}); run cfasim validate {self.store}"
            ) from None

    def _read(self, key, samples: range) -> np.ndarray:
        """``array[key]``: one sample's key from its shard file directly, others by zarr."""
        first = key[0] if isinstance(key, tuple) else key
        if self._reader is None or not isinstance(first, int | np.integer):
            return np.asarray(self.array[key])
        rest = key[1:] if isinstance(key, tuple) else ()
        out = self._reader.sample(samples[0])[rest]
        return out if out.flags.writeable else np.array(out)

    def __repr__(self) -> str:
        return f"<CheckedArray {self.store}/{self.rel} {self.shape} {self.dtype}>"


class Split:
    """One split: ``len()``, integer indexing (a dict of NumPy arrays per sample), slicing."""

    def __init__(self, dataset: Dataset, name: str, group: zarr.Group):
        self.dataset, self.name, self.group = dataset, name, group
        self.count = int(group.attrs.get("count", 0))
        self.scale = int(group.attrs.get("scale", 1))
        fs = dataset.fs
        self.arrays = {
            k: CheckedArray(group[k], dataset.url, f"{name}/{k}", fs)
            for k in sorted(group.array_keys())
        }

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        """``split[i]`` -> dict of arrays for sample i; ``split[a:b]`` -> dict of stacked arrays."""
        if isinstance(index, slice):
            return {k: a[index] for k, a in self.arrays.items()}
        i = int(index)
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(f"split {self.name!r} has {self.count} samples; no index {index}")
        return {k: a[i] for k, a in self.arrays.items()}

    def __iter__(self):
        for i in range(self.count):
            yield self[i]

    def meta(self, index: int) -> dict:
        """The per-sample metadata of one sample (every array of META_ARRAYS)."""
        return {k: self.arrays[k][index] for k in META_ARRAYS if k in self.arrays}

    def params(self, index: int) -> UnprocessParams:
        """The ISP parameters of one sample, for cfasim.isp.steps.process / unprocess."""
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
        self.root, attrs = open_store(url, storage_options)  # complete, known format
        self.fs = StoreFS(url) if storage_options is None else None
        self.attrs = attrs
        self.pattern = CFAPattern.from_dict(attrs["pattern"])
        self.config = dict(attrs["config"])
        self.raw_format = RawFormat(**attrs["raw_format"])
        self.splits = tuple(s for s in SPLITS if s in self.root)
        self._splits = {s: Split(self, s, self.root[s]) for s in self.splits}

    def __getitem__(self, split: str) -> Split:
        if split not in self._splits:
            raise UnknownSplitError(
                f"no split {split!r} in {self.url}; splits: {', '.join(self.splits)}"
            )
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

    Raises :class:`cfasim.store.schema.DatasetError` for anything that is not a complete cfasim
    dataset of a known format version.
    """
    return Dataset(str(path_or_url), storage_options)
