"""What the dataset card says, read from the store: attributes, arrays, splits, bytes on disk.

Everything is derived from the store itself (root attributes, array metadata, file sizes), with
no timestamps and no folder name, so identical stores get byte-identical cards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import zarr

from cfasim.store import schema as dataset
from cfasim.store.checksums import scan_store
from cfasim.store.fs import StoreFS
from cfasim.store.status import open_store

CHART_PREFIX = "chart:"  # cfasim.source.charts.CHART_PREFIX, kept here: cards read configs

DATA_DESCRIPTIONS = {
    "raw": "RAW codes on the CFA (noisy, quantised, black level added)",
    "target": "sRGB target of the same scene (8 bit)",
    "clean": "noise-free linear camera RGB in [0, 1] (before mosaicking)",
}


def array_meaning(name: str) -> str:
    """What an array of a split holds, in one phrase (data arrays and metadata arrays)."""
    return DATA_DESCRIPTIONS.get(name) or dataset.META_ARRAYS[name][3]


@dataclass
class ArrayInfo:
    """One array of one split, as stored."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    dims: tuple[str, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    files: int
    nbytes: int


@dataclass
class SplitInfo:
    """One split: sample count, arrays, bytes on disk."""

    name: str
    count: int
    arrays: dict[str, ArrayInfo] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


@dataclass
class StoreInfo:
    """Everything the card is written from."""

    name: str
    attrs: dict
    splits: list[SplitInfo]

    @property
    def config(self) -> dict:
        return self.attrs["config"]

    @property
    def builtin(self) -> bool:
        return self.config.get("source") == "builtin"

    @property
    def chart(self) -> str | None:
        """The test chart of a ``--source chart:NAME`` store (:mod:`cfasim.source.charts`)."""
        source = self.config.get("source")
        if isinstance(source, str) and source.startswith(CHART_PREFIX):
            return source[len(CHART_PREFIX) :]
        return None

    @property
    def synthetic(self) -> bool:
        """Scenes drawn by cfasim (dead leaves or a test chart): no third-party image."""
        return self.builtin or self.chart is not None

    @property
    def real_pairs(self) -> bool:
        """Real captured pairs: nothing simulated, no ISP or noise parameters."""
        return not dataset.has_isp_params(self.config)

    @property
    def total(self) -> int:
        return sum(s.count for s in self.splits)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.splits)


def read_store(path) -> StoreInfo:
    """Read attributes, array shapes and file sizes of a complete (or finalizing) store.

    Parameters
    ----------
    path : str or os.PathLike
        Store root.

    Returns
    -------
    StoreInfo

    Raises
    ------
    cfasim.errors.DatasetError
        If ``path`` is not a cfasim store or its build did not get to ``finalizing``.
    """
    fs = StoreFS(path)
    root, attrs = open_store(path, finalizing=True)  # the card is written before `complete`
    files = _chunk_files(fs)
    splits = []
    for name, count in attrs["splits"].items():
        info = SplitInfo(name, int(count))
        if count and name in root:
            info.arrays = _split_arrays(root[name], name, files, fs)
        splits.append(info)
    return StoreInfo(_dataset_name(attrs), attrs, splits)


def _chunk_files(fs: StoreFS) -> dict[str, list[str]]:
    """The chunk (or shard) files of every array, by the array's path in the store."""
    chunk_files: dict[str, list[str]] = {}
    for rel in scan_store(fs).chunks:
        array = rel.split("/c/")[0] if "/c/" in rel else rel.rsplit("/", 1)[0]
        chunk_files.setdefault(array, []).append(rel)
    return chunk_files


def _split_arrays(
    group: zarr.Group, split: str, chunk_files: dict[str, list[str]], fs: StoreFS
) -> dict[str, ArrayInfo]:
    """The data and metadata arrays of one split group, in the format's order."""
    arrays = {}
    for name in [*dataset.DATA_ARRAYS, *dataset.META_ARRAYS]:
        if name in group:
            files = chunk_files.get(f"{split}/{name}", [])
            arrays[name] = _array_info(name, group[name], files, fs)
    return arrays


def _array_info(name: str, arr: zarr.Array, files: list[str], fs: StoreFS) -> ArrayInfo:
    """Shape, dtype, dimensions, chunking and bytes on disk of one array."""
    return ArrayInfo(
        name,
        tuple(int(s) for s in arr.shape),
        str(arr.dtype),
        tuple(arr.metadata.dimension_names or ()),
        tuple(int(s) for s in arr.chunks),
        tuple(int(s) for s in arr.shards) if arr.shards else None,
        len(files),
        sum(fs.size(f) for f in files),
    )


def _dataset_name(attrs: dict) -> str:
    """A name from the content (pattern, count, seed), not the folder: identical settings give
    byte-identical cards wherever the store is written."""
    pattern = str(attrs["pattern"]["name"]).replace(":", "-").replace("/", "-")
    return f"cfasim-{pattern}-{sum(attrs['splits'].values())}-seed{attrs['seed']}"
