"""The on-disk dataset format (Zarr v3): schema, store creation, completion marker, summary.

Layout (see docs/dataset-format.md)::

    NAME.zarr/            root attrs["cfasim"]: format_version, version, status, pattern,
                          config, seed, raw_format, sources, source_digest, splits
      train/ val/ test/   one group per split; data arrays sharded along "sample"
        raw      (sample, y, x)                       uint16
        target   (sample, target_y, target_x, channel) uint8   sRGB
        clean    (sample, y, x, channel)              float16 (optional) linear camera RGB
        per-sample metadata arrays (one chunk each), see META_ARRAYS
"""

from __future__ import annotations

import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec

from cfasim.errors import DatasetError
from cfasim.store.fs import StoreFS, is_url, zarr_store

FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
ATTRS_KEY = "cfasim"

META_ARRAYS = {
    # name: (trailing shape, dtype, trailing dimension names, description)
    "sample_index": ((), "uint32", (), "global sample index (noise counter word)"),
    "seed": ((), "uint64", (), "per-sample seed of the parameter generator"),
    "source_id": ((), "int32", (), "index into attrs.cfasim.sources"),
    "crop_box": ((4,), "int32", ("box",), "y0, x0, height, width in source pixels"),
    "xyz2cam": ((3, 3), "float64", ("cam", "xyz"), "sampled XYZ -> camera matrix"),
    "rgb2cam": ((3, 3), "float64", ("cam", "rgb"), "applied linear sRGB -> camera matrix"),
    "wb_gains": ((3,), "float64", ("channel",), "white-balance gains (red, 1, blue)"),
    "digital_gain": ((), "float64", (), "brightening gain applied with the WB gains"),
    "shot_noise": ((), "float64", (), "shot variance coefficient (normalised units)"),
    "read_noise": ((), "float64", (), "read variance (normalised units)"),
    "black_level": ((), "uint16", (), "black level (DN)"),
    "white_level": ((), "uint16", (), "white level (DN)"),
}


REAL_PAIR_KINDS = ("zurich", "pairs")
"""Source kinds whose samples are captured pairs: the RAW is stored as captured."""

UNKNOWN_FOR_REAL_PAIRS = (
    "xyz2cam",
    "rgb2cam",
    "wb_gains",
    "digital_gain",
    "shot_noise",
    "read_noise",
)
"""Metadata arrays that are NaN in datasets of real pairs (their camera ISP is not known)."""


def has_isp_params(config: dict) -> bool:
    """Whether a dataset's samples carry ISP and noise parameters (every synthetic dataset)."""
    return config.get("source_kind", "images") not in REAL_PAIR_KINDS


@dataclass(frozen=True)
class DataArrays:
    """Shapes of the data arrays of one split."""

    count: int
    height: int
    width: int
    scale: int = 1
    shard_samples: int = 1
    clean: bool = False


def shard_samples_for(
    sample_bytes: int, target_bytes: int = 4 << 20, max_samples: int = 256
) -> int:
    """Samples per shard so that a raw shard holds about ``target_bytes`` (at least 1)."""
    return int(max(1, min(max_samples, target_bytes // max(sample_bytes, 1))))


def _compressors(kind: str) -> tuple:
    """The bytes-to-bytes codecs of a chunk: a compressor, then a crc32c checksum, so plain
    zarr, xarray and cfasim all raise on a damaged chunk instead of returning wrong values."""
    # Measured on 288x288 nona samples (docs/benchmarks.md): bit-shuffled Blosc-zstd packs
    # noisy 10-bit RAW to 53 % at ~0.7 ms/sample; sRGB targets gain nothing from shuffling.
    if kind == "bitshuffle":
        compressor = BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")
    elif kind == "shuffle":
        compressor = BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")
    else:
        compressor = ZstdCodec(level=1)
    return (compressor, Crc32cCodec())


DATA_ARRAYS = {
    # name: (dtype, dimension names, compressor); sample shape (y, x) or (y*s, x*s, 3)
    "raw": ("uint16", ("sample", "y", "x"), "bitshuffle"),
    "target": ("uint8", ("sample", "target_y", "target_x", "channel"), "zstd"),
    "clean": ("float16", ("sample", "y", "x", "channel"), "shuffle"),
}


def _create(group: zarr.Group, name, shape, dtype, dims, chunks, shards=None, compressor="zstd"):
    return group.create_array(
        name,
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        shards=shards,
        compressors=_compressors(compressor),
        fill_value=0,
        dimension_names=dims,
        config={"write_empty_chunks": True},
    )


def create_split(root: zarr.Group, split: str, arrays: DataArrays, meta: dict[str, np.ndarray]):
    """Create one split group: sharded data arrays (empty) and metadata arrays (written now)."""
    g = root.create_group(split, attributes={"count": arrays.count, "scale": arrays.scale})
    n, h, w, s = arrays.count, arrays.height, arrays.width, arrays.scale
    if n == 0:
        return g
    k = min(arrays.shard_samples, n)
    sample_shapes = {"raw": (h, w), "target": (h * s, w * s, 3), "clean": (h, w, 3)}
    jobs = []
    for name, (dtype, dims, compressor) in DATA_ARRAYS.items():
        if name == "clean" and not arrays.clean:
            continue
        shape = sample_shapes[name]
        args = (g, name, (n, *shape), dtype, dims, (1, *shape), (k, *shape), compressor)
        jobs.append((args, None))
    for name, (tail, dtype, dims, _) in META_ARRAYS.items():
        values = np.asarray(meta[name], dtype=dtype)
        if values.shape != (n, *tail):
            raise ValueError(f"metadata {name!r} has shape {values.shape}, expected {(n, *tail)}")
        jobs.append(((g, name, values.shape, dtype, ("sample", *dims), values.shape), values))

    def run(job):
        arr = _create(*job[0])
        if job[1] is not None:
            arr[...] = job[1]

    # independent keys: created concurrently (each is a round trip to zarr's I/O loop)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(run, jobs))
    return g


def shard_ranges(count: int, shard_samples: int) -> list[tuple[int, int]]:
    """[start, stop) sample ranges of the shards of a split: one writer task each."""
    k = max(1, min(shard_samples, count))
    return [(i, min(i + k, count)) for i in range(0, count, k)]


def is_cfasim_store(path) -> bool:
    """True if ``path`` (a folder or an fsspec URL) holds a Zarr group written by cfasim."""
    try:
        doc = json.loads(StoreFS(path).read_text("zarr.json"))
    except (OSError, ValueError):
        return False
    return doc.get("node_type") == "group" and ATTRS_KEY in doc.get("attributes", {})


STATUSES = ("creating", "building", "finalizing", "complete")
"""A store's life: arrays being created -> shards being written -> card and checksums being
written -> complete. Only ``complete`` stores are read; ``complete`` is written last."""


def unfinished_message(path, status) -> str:
    """The one piece of advice every command gives for a store that is not complete."""
    return (
        f"{path} is an unfinished build (status {status!r}): continue it by running the same "
        f"cfasim generate command with --resume, or start again with --overwrite"
    )


def set_status(root: zarr.Group, status: str) -> None:
    attrs = dict(root.attrs[ATTRS_KEY])
    attrs["status"] = status
    root.update_attributes({ATTRS_KEY: attrs})


def consolidate(path, splits) -> bytes:
    """Mark a built store ``finalizing`` and consolidate its metadata (root and each split, so
    ``xarray.open_zarr(path, group=split)`` opens it with one read); return the bytes its root
    ``zarr.json`` will have once complete (see :func:`complete_root_json`)."""
    store = zarr_store(path)
    root = zarr.open_group(store, mode="r+")
    set_status(root, "finalizing")
    with warnings.catch_warnings():  # consolidated metadata is not yet in the v3 spec
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata")
        warnings.filterwarnings("ignore", message="Object at .* is not recognized")  # the card
        for split in splits:
            zarr.consolidate_metadata(store, path=split)
        zarr.consolidate_metadata(store)
    return complete_root_json(StoreFS(path).read_bytes("zarr.json"))


def complete_root_json(finalizing: bytes) -> bytes:
    """The root ``zarr.json`` of a ``finalizing`` store with its status set to ``complete``:
    the same bytes as zarr wrote but for that one value (checked by parsing both)."""
    old, new = b'"status": "finalizing"', b'"status": "complete"'
    text = finalizing.replace(old, new)
    want = json.loads(finalizing)
    want["attributes"][ATTRS_KEY]["status"] = "complete"
    if finalizing.count(old) != 1 or json.loads(text) != want:
        raise DatasetError("cannot set the status of the root zarr.json (unexpected layout)")
    return text


def open_root(path) -> zarr.Group:
    """Open a dataset's root group read-only; DatasetError if it is not a cfasim dataset."""
    try:
        root = zarr.open_group(zarr_store(path), mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError) as err:
        raise DatasetError(f"{path} is not a Zarr group: {err}") from None
    if ATTRS_KEY not in root.attrs:
        raise DatasetError(f"{path} is a Zarr group but not a cfasim dataset")
    return root


def _describe_split(root: zarr.Group, path, split: str, expected: int | None) -> str | None:
    """One line of :func:`describe`: samples, data arrays and size of one split."""
    if split not in root:
        if expected:
            raise DatasetError(f"the split group is missing ({expected} samples expected)")
        return None
    g = root[split]
    count = g.attrs.get("count")
    if count is None or (expected is not None and count != expected):
        raise DatasetError(f"its count is {count!r}, the root attributes say {expected}")
    parts = []
    for name in ("raw", "target", "clean"):
        if name in g:
            arr = g[name]
            parts.append(f"{name} {tuple(arr.shape)} {arr.dtype}")
    local = not is_url(path) and Path(path, split).is_dir()
    size = directory_size(Path(path) / split) if local else 0
    return f"{split:<12} {count} samples  {'; '.join(parts) or '-'}  {size / 2**20:.1f} MiB"


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def describe(path) -> str:
    """Human summary of a dataset: pattern, splits, shapes, noise, sizes on disk."""
    root = open_root(path)
    a = root.attrs[ATTRS_KEY]
    cfg = a["config"]
    pat = a["pattern"]
    lines = [
        f"dataset      {path}",
        f"status       {a['status']}"
        + (
            ""
            if a["status"] == "complete"
            else f"  (INCOMPLETE: {unfinished_message(path, a['status'])})"
        ),
        f"format       cfasim format {a['format_version']} (written by cfasim {a['version']})",
        f"pattern      {pat['name']}  tile {pat['tile_text']}  period "
        f"{pat['period'][0]}x{pat['period'][1]}",
        f"source       {cfg['source']}  ({len(a['sources'])} source entries)",
        f"noise        {cfg['noise']}"
        + (
            f" (physics: {a['sensor_profile']['name']} at ISO {cfg['iso']:g}, sensor seed "
            f"{cfg.get('sensor_seed', 0)}, optics {cfg.get('optics') or 'none'})"
            if cfg["noise"] == "sensor"
            else ""
        ),
        f"raw format   {a['raw_format']['bits']}-bit, black {a['raw_format']['black']}, "
        f"white {a['raw_format']['white']}",
        f"isp          transfer {cfg['transfer']}, tone curve {'on' if cfg['tone'] else 'off'}",
        f"seed         {a['seed']}",
    ]
    for split in SPLITS:
        try:
            line = _describe_split(root, path, split, a.get("splits", {}).get(split))
        except Exception as err:  # a damaged split is reported, not a crash
            line = f"{split:<12} DAMAGED ({type(err).__name__}: {err}); run cfasim validate {path}"
        if line:
            lines.append(line)
    if not is_url(path) and Path(path).is_dir():
        lines.append(f"total        {directory_size(Path(path)) / 2**20:.1f} MiB on disk")
    return "\n".join(lines)
