"""cfasim.open_dataset: splits, indexing, metadata, xarray, fsspec URLs, errors."""

import numpy as np
import pytest
import zarr

import cfasim
from cfasim.cfa import get_pattern
from cfasim.errors import DatasetError
from cfasim.isp.steps import process
from cfasim.pipeline import GenerateConfig, build, plan


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("reader") / "q.zarr"
    cfg = GenerateConfig(pattern="qxq:grbg", count=10, patch=64, clean=True, noise="none")
    build(plan(cfg.validated()), out, workers=1, progress=False)
    return out


def test_open_and_index(store):
    ds = cfasim.open_dataset(store)
    assert ds.pattern == get_pattern("qxq:grbg") and ds.splits == ("train", "val", "test")
    assert len(ds) == 10 and len(ds["train"]) == 8
    s = ds["train"][3]
    assert s["raw"].shape == (64, 64) and s["raw"].dtype == np.uint16
    assert s["target"].shape == (64, 64, 3) and s["clean"].dtype == np.float16
    np.testing.assert_array_equal(s["raw"], zarr.open_group(str(store))["train"]["raw"][3])
    np.testing.assert_array_equal(ds["train"][-1]["raw"], ds["train"][7]["raw"])
    batch = ds["train"][2:5]
    assert batch["raw"].shape == (3, 64, 64) and batch["rgb2cam"].shape == (3, 3, 3)
    assert [ds[s].meta(0)["sample_index"] for s in ("train", "val", "test")] == [0, 8, 9]
    assert ds.raw_format.white == 1023 and ds.config["noise"] == "none"
    with pytest.raises(IndexError, match="8 samples; no index 8"):
        ds["train"][8]
    with pytest.raises(KeyError, match="no split 'dev'"):
        ds["dev"]
    assert "qxq:grbg" in repr(ds) and "8 samples" in repr(ds["train"])


def test_params_reprocess_the_clean_image_to_the_target(store):
    split = cfasim.open_dataset(store)["test"]
    s = split[0]
    srgb = process(s["clean"].astype(np.float64), split.params(0))
    # float16 clean storage and uint8 targets: within 1.5 / 255 almost everywhere
    assert np.mean(np.abs(srgb * 255 - s["target"]) <= 1.5) > 0.99


def test_to_xarray_has_named_dimensions(store):
    x = cfasim.open_dataset(store).to_xarray("val")
    assert x["raw"].dims == ("sample", "y", "x") and x.sizes["sample"] == 1
    assert x["xyz2cam"].dims == ("sample", "cam", "xyz")


def test_fsspec_url(store):
    pytest.importorskip("fsspec")
    ds = cfasim.open_dataset(f"file://{store}")
    np.testing.assert_array_equal(ds["val"][0]["raw"], cfasim.open_dataset(store)["val"][0]["raw"])


def test_errors(tmp_path, store):
    with pytest.raises(DatasetError, match="not a Zarr group"):
        cfasim.open_dataset(tmp_path / "missing.zarr")
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    with pytest.raises(DatasetError, match="not a cfasim dataset"):
        cfasim.open_dataset(tmp_path / "plain.zarr")
    import shutil

    broken = tmp_path / "broken.zarr"
    shutil.copytree(store, broken)
    g = zarr.open_group(str(broken), mode="r+")
    attrs = dict(g.attrs["cfasim"])
    g.update_attributes({"cfasim": {**attrs, "status": "building"}})
    with pytest.raises(DatasetError, match="status 'building'"):
        cfasim.open_dataset(broken)
    g.update_attributes({"cfasim": {**attrs, "format_version": 99}})
    with pytest.raises(DatasetError, match="format_version 99"):
        cfasim.open_dataset(broken)
