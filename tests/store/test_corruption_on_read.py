"""Damaged data fails loudly on read: a crc32c on every chunk makes plain zarr, xarray and
cfasim raise on a flipped byte; cfasim names the array, the sample and the shard file, and
also refuses empty, truncated and missing shard files (which zarr reads as zeros)."""

import json
import shutil

import numpy as np
import pytest
import xarray as xr
import zarr

from cfasim import open_dataset
from cfasim.errors import DatasetError
from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.store import schema as dataset

CFG = GenerateConfig(pattern="nona", count=12, patch=24, seed=2, shard_samples=4, clean=True)
SHARD = "train/raw/c/1/0/0"  # samples 4..7 of train


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    out = tmp_path_factory.mktemp("crc") / "d.zarr"
    build(plan(CFG), out, progress=False)
    return out


@pytest.fixture
def store(pristine, tmp_path):
    copy = tmp_path / "d.zarr"
    shutil.copytree(pristine, copy)
    return copy


def flip_byte_of_sample(store, sample_in_shard=1):
    """Flip one byte inside the compressed chunk of one sample of SHARD (located through the
    shard index, so the flip lands in that sample's bytes)."""
    path = store / SHARD
    data = bytearray(path.read_bytes())
    n = 4  # inner chunks per shard
    index = np.frombuffer(bytes(data[-(16 * n + 4) : -4]), dtype="<u8").reshape(n, 2)
    offset, length = (int(v) for v in index[sample_in_shard])
    data[offset + length // 2] ^= 0x40
    path.write_bytes(bytes(data))
    return 4 + sample_in_shard


def test_every_chunk_carries_a_crc32c(pristine):
    for name in ("raw", "target", "clean", "wb_gains"):
        meta = json.loads((pristine / "train" / name / "zarr.json").read_text())
        codecs = meta["codecs"]
        inner = codecs[0]["configuration"]["codecs"] if name != "wb_gains" else codecs
        assert inner[-1] == {"name": "crc32c"}, name


def test_a_flipped_byte_raises_in_cfasim_zarr_and_xarray_and_names_the_sample(store):
    sample = flip_byte_of_sample(store)
    ds = open_dataset(store)
    with pytest.raises(DatasetError) as err:
        ds["train"][sample]
    message = str(err.value)
    assert f"train/raw sample {sample} is damaged" in message and SHARD in message
    assert "\n" not in message
    assert ds["train"][sample - 1]["raw"].shape == (24, 24)  # its neighbours still read
    with pytest.raises(ValueError, match="checksum"):
        zarr.open_group(str(store), mode="r")["train"]["raw"][sample]
    with pytest.raises(ValueError, match="checksum"):
        _ = xr.open_zarr(store, group="train").raw[sample].values


def test_a_truncated_shard_names_its_file(store):
    path = store / SHARD
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"train/raw samples 4\.\.7 are damaged") as err:
        open_dataset(store)["train"][4:8]
    assert SHARD in str(err.value)


@pytest.mark.parametrize("damage", ["empty", "missing"])
def test_empty_or_missing_shards_are_refused_not_read_as_zeros(store, damage):
    path = store / SHARD
    if damage == "empty":
        path.write_bytes(b"")  # zarr reads it as zeros or raises, depending on its version
    else:
        path.unlink()
    with pytest.raises(DatasetError, match=f"shard file {SHARD} is (missing|truncated)"):
        open_dataset(store)["train"][5]


def test_stores_written_without_checksums_still_open(tmp_path, monkeypatch):
    real = dataset._compressors
    monkeypatch.setattr(dataset, "_compressors", lambda kind: real(kind)[:1])
    old = tmp_path / "old.zarr"
    build(plan(CFG), old, progress=False)
    monkeypatch.undo()
    meta = json.loads((old / "train" / "raw" / "zarr.json").read_text())
    assert "crc32c" not in json.dumps(meta["codecs"][0]["configuration"]["codecs"])
    new = tmp_path / "new.zarr"
    build(plan(CFG), new, progress=False)
    a, b = open_dataset(old)["train"][3], open_dataset(new)["train"][3]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_the_training_loader_names_a_damaged_sample(store):
    pytest.importorskip("torch")
    from cfasim.train.data import CFADataset

    sample = flip_byte_of_sample(store)
    ds = CFADataset(store, split="train", crop=12)
    assert ds[sample - 1]["raw"].shape == (12, 12)
    with pytest.raises(DatasetError, match=f"train/raw sample {sample} is damaged .*{SHARD}"):
        ds[sample]
    (store / "train" / "raw" / "c" / "2" / "0" / "0").write_bytes(b"")
    with pytest.raises(DatasetError, match="truncated"):
        CFADataset(store, split="train", crop=12)[9]
