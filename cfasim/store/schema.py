"""The on-disk dataset format (Zarr v3): arrays, their shapes, dtypes and codecs, split creation.

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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec

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
