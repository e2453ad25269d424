"""Whole samples of a sharded cfasim array, read from and written to its shard files directly.

A cfasim data array (docs/dataset-format.md) is sharded along ``sample`` with one inner chunk
per sample: ``sharding_indexed`` with inner codecs ``bytes`` (little-endian) -> ``blosc`` or
``zstd`` -> ``crc32c``, and the shard index (``bytes`` -> ``crc32c``) at the end of the file.
Reading sample ``i`` through zarr costs about 2 ms of event-loop and indexing overhead around
about 0.4 ms of decoding (docs/benchmarks.md, loader); :class:`ShardedArray` does the same read
with the codecs called directly: the shard's index read once (its crc32c checked), then one
ranged read of the chunk, its crc32c checked, decompressed and viewed as an array.

Only arrays whose metadata is exactly that layout are read this way
(:func:`ShardedArray.for_array` returns ``None`` otherwise, and callers use zarr); the values
are those zarr returns, which the tests check on every data array of a store. A wrong checksum,
an index or chunk that does not fit its file, or a chunk that does not decompress to one sample
raises :class:`ValueError` with "checksum" or the reason in its message.

:func:`write_shard` is the other direction, for the build's writers: a whole shard encoded in
the calling thread with the codecs zarr itself calls (numcodecs' Blosc and Zstd with the
array's codec configuration), chunks in order, the index at the end, and one file write; the
bytes are those zarr writes for the same values (checked by the tests), so stores stay
byte-identical while the encoding runs in the worker instead of zarr's I/O loop.
"""

from __future__ import annotations

import os

import numpy as np

try:  # zarr's own crc32c implementation (zarr 3.1); the `crc32c` package otherwise
    from google_crc32c import value as _crc32c
except ImportError:  # pragma: no cover - depends on the installed zarr
    from crc32c import crc32c as _crc32c

_EMPTY = 2**64 - 1  # offset and length of a chunk the shard does not hold


def _name(codec: dict) -> str:
    return codec.get("name", "")


def _little_endian_bytes(codec: dict, itemsize: int) -> bool:
    endian = (codec.get("configuration") or {}).get("endian")
    return _name(codec) == "bytes" and (endian == "little" or (endian is None and itemsize == 1))


def _codec(codec: dict):
    """The numcodecs codec zarr uses for a compressor cfasim writes (None: another one)."""
    import numcodecs

    conf = codec.get("configuration") or {}
    if _name(codec) == "zstd":
        return numcodecs.Zstd(level=conf.get("level", 0), checksum=conf.get("checksum", False))
    if _name(codec) == "blosc":
        shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[conf.get("shuffle", "noshuffle")]
        return numcodecs.Blosc.from_config(
            {"cname": conf["cname"], "clevel": conf["clevel"], "shuffle": shuffle,
             "blocksize": conf.get("blocksize", 0), "typesize": conf.get("typesize", 1)}
        )  # fmt: skip
    return None


def _checked(data: bytes, what: str) -> bytes:
    """``data`` without its trailing little-endian crc32c, which must match."""
    if len(data) < 4 or _crc32c(data[:-4]) != int.from_bytes(data[-4:], "little"):
        raise ValueError(f"crc32c checksum mismatch in {what}")
    return data[:-4]


class ShardedArray:
    """The shard files of one array: whole samples read, whole shards written (see the module
    docstring).

    Parameters
    ----------
    meta : dict
        The array's ``zarr.json``.
    fs : cfasim.store.fs.StoreFS
        File access to the store.
    rel : str
        The array's path in the store, e.g. ``"train/raw"``.
    codec : numcodecs codec
        The chunks' compressor; use :meth:`for_array`, which checks the layout and makes it.
    """

    def __init__(self, meta: dict, fs, rel: str, codec):
        self.fs, self.rel, self.codec = fs, rel, codec
        self.dtype = np.dtype(meta["data_type"]).newbyteorder("<")
        self.shape = tuple(int(v) for v in meta["shape"])
        self.per_shard = int(meta["chunk_grid"]["configuration"]["chunk_shape"][0])
        self.sample_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        self.fill = np.zeros(self.shape[1:], self.dtype)
        self.fill[...] = meta.get("fill_value", 0)
        self.separator = meta["chunk_key_encoding"].get("configuration", {}).get("separator", "/")
        self._indexes: dict[int, np.ndarray] = {}

    @classmethod
    def for_array(cls, meta: dict, fs, rel: str) -> ShardedArray | None:
        """The shard files of the array of metadata ``meta``, or None when its layout is not
        cfasim's one-sample-per-inner-chunk sharding (read those through zarr)."""
        try:
            shape = [int(v) for v in meta["shape"]]
            itemsize = np.dtype(meta["data_type"]).itemsize
            grid = meta["chunk_grid"]["configuration"]["chunk_shape"]
            (codec,) = meta["codecs"]
            conf = codec["configuration"]
            inner, index = conf["chunk_shape"], conf["index_codecs"]
            by, compressor, crc = conf["codecs"]
        except (KeyError, TypeError, ValueError):
            return None
        layout = (
            fs is not None
            and meta.get("chunk_key_encoding", {}).get("name") == "default"
            and _name(codec) == "sharding_indexed"
            and conf.get("index_location", "end") == "end"
            and list(inner) == [1, *shape[1:]]
            and list(grid[1:]) == shape[1:]
            and _little_endian_bytes(by, itemsize)
            and _name(crc) == "crc32c"
            and len(index) == 2
            and _little_endian_bytes(index[0], 8)
            and _name(index[1]) == "crc32c"
        )
        codec = _codec(compressor) if layout else None
        return None if codec is None else cls(meta, fs, rel, codec)

    def shard_file(self, shard: int) -> str:
        """The store-relative file of a shard along ``sample``."""
        key = self.separator.join(["c", str(shard)] + ["0"] * (len(self.shape) - 1))
        return f"{self.rel}/{key}"

    def _read(self, rel: str, start: int, length: int) -> bytes:
        if self.fs.url:
            return self.fs.fs.cat_file(self.fs._full(rel), start, start + length)
        fd = os.open(self.fs.local / rel, os.O_RDONLY)
        try:
            return os.pread(fd, length, start)
        finally:
            os.close(fd)

    def _index(self, shard: int) -> np.ndarray:
        """(per_shard, 2) offsets and lengths of the chunks of a shard (cached)."""
        if shard not in self._indexes:
            rel = self.shard_file(shard)
            n = min(self.per_shard, self.shape[0] - shard * self.per_shard)
            size = self.fs.size(rel)
            nbytes = 16 * self.per_shard + 4
            if n <= 0 or size < nbytes:
                raise ValueError(f"shard {rel} is too short for its index ({size} bytes)")
            data = _checked(self._read(rel, size - nbytes, nbytes), f"the index of {rel}")
            index = np.frombuffer(data, "<u8").reshape(self.per_shard, 2)
            held = index[:, 0] != _EMPTY
            if np.any(index[held, 0] + index[held, 1] > size - nbytes):
                raise ValueError(f"the index of {rel} points past the end of the file")
            self._indexes[shard] = index
        return self._indexes[shard]

    def sample(self, i: int) -> np.ndarray:
        """Sample ``i`` (``0 <= i < shape[0]``) as a read-only array of the sample's shape."""
        shard, j = divmod(int(i), self.per_shard)
        offset, length = (int(v) for v in self._index(shard)[j])
        if offset == _EMPTY:
            return self.fill
        rel = self.shard_file(shard)
        data = _checked(self._read(rel, offset, length), f"sample {i} of {rel}")
        raw = self.codec.decode(data)
        if len(raw) != self.sample_bytes:
            raise ValueError(
                f"sample {i} of {rel} decompressed to {len(raw)} bytes, not {self.sample_bytes}"
            )
        return np.frombuffer(raw, self.dtype).reshape(self.shape[1:])

    def encode_shard(self, shard: int, values: np.ndarray) -> bytes:
        """The bytes of shard ``shard`` holding ``values`` (its samples, in order)."""
        held = min(self.per_shard, self.shape[0] - shard * self.per_shard)
        if values.shape != (held, *self.shape[1:]):
            raise ValueError(f"shard {shard} holds {held} samples, got {values.shape}")
        values = np.ascontiguousarray(values, dtype=self.dtype)
        index = np.full((self.per_shard, 2), _EMPTY, dtype="<u8")
        parts, offset = [], 0
        for j in range(held):
            chunk = bytes(self.codec.encode(values[j].reshape(-1).view(np.uint8)))
            chunk += _crc32c(chunk).to_bytes(4, "little")
            parts.append(chunk)
            index[j] = offset, len(chunk)
            offset += len(chunk)
        index_bytes = index.tobytes()
        parts.append(index_bytes + _crc32c(index_bytes).to_bytes(4, "little"))
        return b"".join(parts)

    def write_shard(self, shard: int, values: np.ndarray) -> None:
        """Write shard ``shard`` as one file (locally through a temporary file and a rename)."""
        self.fs.write_bytes(self.shard_file(shard), self.encode_shard(shard, values))
        self._indexes.pop(shard, None)
