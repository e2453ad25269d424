"""ShardedArray: whole samples read from shard files equal zarr's reads; other layouts go
through zarr; damaged bytes fail loudly."""

import numpy as np
import pytest
import zarr
from zarr.codecs import Crc32cCodec, GzipCodec

from cfasim.data.reader import CheckedArray
from cfasim.errors import DatasetError
from cfasim.store.fs import StoreFS
from cfasim.store.shard_files import ShardedArray
from cfasim.testing.fixtures import build_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    # 12 train samples in shards of 5: the last shard is partial
    out = tmp_path_factory.mktemp("shards") / "n.zarr"
    return build_store(out, pattern="nona", count=14, patch=36, clean=True, shard_samples=5,
                       splits=(0.8, 0.1, 0.1))  # fmt: skip


@pytest.mark.parametrize("url", [False, True])
def test_every_sample_of_every_data_array_equals_zarrs_read(store, url):
    root = store.as_uri() if url else store
    fs = StoreFS(str(root))
    group = zarr.open_group(store, mode="r")["train"]
    assert group["raw"].shards[0] == 5 and group["raw"].shape[0] == 12
    for name in ("raw", "target", "clean"):
        array = group[name]
        reader = ShardedArray.for_array(array.metadata.to_dict(), fs, f"train/{name}")
        assert reader is not None, name
        for i in range(array.shape[0]):
            got = reader.sample(i)
            assert got.dtype == array.dtype and got.shape == array.shape[1:]
            np.testing.assert_array_equal(got, array[i])


def test_checked_array_crops_a_sample_like_zarr(store):
    group = zarr.open_group(store, mode="r")["train"]
    arr = CheckedArray(group["target"], str(store), "train/target", StoreFS(store))
    assert arr._reader is not None
    got = arr[-1, 6:30, 12:, 1]
    np.testing.assert_array_equal(got, group["target"][-1, 6:30, 12:, 1])
    assert got.flags.writeable  # a copy, safe for torch.from_numpy
    np.testing.assert_array_equal(arr[2:5], group["target"][2:5])  # slices: zarr's read


def test_other_layouts_are_read_by_zarr(tmp_path):
    # gzip is not a compressor cfasim writes; an unsharded array has no index
    fs = StoreFS(tmp_path)
    g = zarr.open_group(tmp_path, mode="w")
    values = np.arange(4 * 6 * 6, dtype="uint16").reshape(4, 6, 6)
    gz = g.create_array("gz", shape=values.shape, dtype="uint16", chunks=(1, 6, 6),
                        shards=(2, 6, 6), compressors=(GzipCodec(), Crc32cCodec()))  # fmt: skip
    flat = g.create_array("flat", shape=values.shape, dtype="uint16", chunks=(1, 6, 6))
    for arr in (gz, flat):
        arr[...] = values
        assert ShardedArray.for_array(arr.metadata.to_dict(), fs, arr.path) is None
        checked = CheckedArray(arr, str(tmp_path), arr.path, fs)
        np.testing.assert_array_equal(checked[3, 1:], values[3, 1:])


def test_a_chunk_the_shard_does_not_hold_reads_as_the_fill_value(tmp_path):
    from zarr.codecs import BloscCodec

    g = zarr.open_group(tmp_path, mode="w")
    arr = g.create_array("raw", shape=(4, 6, 6), dtype="uint16", chunks=(1, 6, 6),
                         shards=(4, 6, 6), fill_value=7,
                         compressors=(BloscCodec(cname="zstd"), Crc32cCodec()))  # fmt: skip
    arr[1] = np.arange(36, dtype="uint16").reshape(6, 6)  # the others stay unwritten
    reader = ShardedArray.for_array(arr.metadata.to_dict(), StoreFS(tmp_path), "raw")
    for i in range(4):
        np.testing.assert_array_equal(reader.sample(i), arr[i])
    assert reader.sample(0).min() == reader.sample(0).max() == 7


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["chunk", "index"])
def test_a_flipped_byte_fails_loudly_naming_the_sample(tmp_path, where):
    out = build_store(tmp_path / "q.zarr", pattern="quad", count=8, patch=16, shard_samples=4,
                      splits=(1.0, 0.0, 0.0))  # fmt: skip
    shard = out / "train" / "raw" / "c" / "1" / "0" / "0"  # samples 4..7
    reader = ShardedArray.for_array(
        zarr.open_group(out, mode="r")["train"]["raw"].metadata.to_dict(), StoreFS(out),
        "train/raw")  # fmt: skip
    offset = int(reader._index(1)[2, 0]) + 5 if where == "chunk" else shard.stat().st_size - 20
    _flip(shard, offset)
    arr = CheckedArray(zarr.open_group(out, mode="r")["train"]["raw"], str(out), "train/raw",
                       StoreFS(out))  # fmt: skip
    np.testing.assert_array_equal(arr[1].shape, (16, 16))  # shard 0 is intact
    with pytest.raises(DatasetError, match=r"train/raw sample 6 is damaged.*crc32c checksum"):
        arr[6]


def test_written_shards_are_the_bytes_zarr_writes(tmp_path):
    # every data array of cfasim's schema, a full and a partial shard (5 samples in shards of 3)
    from cfasim.store import schema

    rng = np.random.default_rng(0)
    arrays = schema.DataArrays(5, 12, 12, scale=2, shard_samples=3, clean=True)
    meta = {name: np.zeros((5, *tail), dtype) for name, (tail, dtype, *_) in
            schema.META_ARRAYS.items()}  # fmt: skip
    for where in ("zarr", "direct"):
        root = zarr.open_group(tmp_path / where, mode="w")
        schema.create_split(root, "train", arrays, meta)
    values = {
        "raw": rng.integers(0, 1024, (5, 12, 12)).astype("uint16"),
        "target": rng.integers(0, 256, (5, 24, 24, 3)).astype("uint8"),
        "clean": rng.random((5, 12, 12, 3)).astype("float16"),
    }
    fs = StoreFS(tmp_path / "direct")
    for name, v in values.items():
        zarr.open_group(tmp_path / "zarr", mode="r+")["train"][name][...] = v
        meta = zarr.open_group(tmp_path / "direct", mode="r")["train"][name].metadata.to_dict()
        files = ShardedArray.for_array(meta, fs, f"train/{name}")
        files.write_shard(0, v[:3])
        files.write_shard(1, v[3:])
        for shard in (0, 1):
            rel = files.shard_file(shard)
            assert (tmp_path / "direct" / rel).read_bytes() == (
                tmp_path / "zarr" / rel
            ).read_bytes()
            assert not list((tmp_path / "direct").rglob("*.partial"))
        with pytest.raises(ValueError, match="holds 2 samples"):
            files.encode_shard(1, v[:3])
