"""The recipes of docs/datasets-guide.md "Using a dataset without cfasim", run as written
against a small store: each must return what cfasim's reader returns, without importing
cfasim."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import cfasim
from cfasim.testing.fixtures import build_store

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "datasets-guide.md"
RECIPE = re.compile(r"<!-- recipe: (\w+) -->\n```python\n(.*?)```", re.S)


def recipes() -> dict[str, str]:
    return dict(RECIPE.findall(GUIDE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_store(
        tmp_path_factory.mktemp("recipes") / "qxq.zarr",
        pattern="qxq:grbg",
        count=8,
        patch=16,
        seed=3,
    )


@pytest.fixture
def run(store, tmp_path, monkeypatch):
    """Run a recipe in a folder holding ``qxq.zarr``; return its variables."""
    shutil.copytree(store, tmp_path / "qxq.zarr")
    monkeypatch.chdir(tmp_path)

    def run_recipe(name: str) -> dict:
        code = recipes()[name]
        assert not re.search(r"^\s*(import|from)\s+cfasim", code, re.M), name
        namespace = {"__name__": f"recipe_{name}"}
        exec(compile(code, f"{GUIDE.name}:{name}", "exec"), namespace)
        return namespace

    return run_recipe


@pytest.fixture(scope="module")
def reader(store):
    return cfasim.open_dataset(store)


def test_every_recipe_is_found():
    assert {"zarr", "torch", "xarray", "huggingface", "fsspec"} <= set(recipes())


def test_plain_zarr_recipe(run, reader):
    ns = run("zarr")
    want = reader["test"][0]
    assert ns["raw"].dtype == np.uint16 and np.array_equal(ns["raw"], want["raw"])
    assert ns["target"].dtype == np.uint8 and np.array_equal(ns["target"], want["target"])
    assert np.array_equal(ns["tile"], reader.pattern.tile)
    fmt = reader.raw_format
    expected = (want["raw"].astype(np.float32) - fmt.black) / (fmt.white - fmt.black)
    np.testing.assert_array_equal(ns["linear"], expected)
    assert ns["colours"].shape == want["raw"].shape == (16, 16)
    np.testing.assert_array_equal(ns["colours"][8:16, 8:16], reader.pattern.tile)


def test_torch_dataset_recipe(run, reader):
    pytest.importorskip("torch")
    ns = run("torch")
    raw, target = ns["raw_batch"], ns["target_batch"]
    assert tuple(raw.shape) == (2, 1, 16, 16) and tuple(target.shape) == (2, 3, 16, 16)
    fmt = reader.raw_format
    for i in range(2):
        want = reader["train"][i]
        lin = (want["raw"].astype(np.float32) - fmt.black) / (fmt.white - fmt.black)
        np.testing.assert_array_equal(raw[i, 0].numpy(), lin)
        rgb = want["target"].astype(np.float32) / 255.0
        np.testing.assert_array_equal(target[i].permute(1, 2, 0).numpy(), rgb)
    assert len(ns["loader"].dataset) == len(reader["train"])


def test_xarray_recipe(run, reader):
    pytest.importorskip("xarray")
    ns = run("xarray")
    want = reader["test"][0]
    assert ns["raw"].dtype == np.uint16 and np.array_equal(ns["raw"], want["raw"])
    np.testing.assert_array_equal(ns["wb"], want["wb_gains"])
    assert ns["dims"] == ("sample", "y", "x")


def test_huggingface_recipe(run, reader):
    pytest.importorskip("datasets")
    ns = run("huggingface")
    assert ns["raw"].dtype == np.uint16 and np.array_equal(ns["raw"], reader["test"][0]["raw"])
    hf = ns["hf"]
    assert len(hf) == len(reader["test"])
    last = len(hf) - 1
    assert np.array_equal(hf[last]["target"], reader["test"][last]["target"])
    assert hf[last]["target"].dtype == np.uint8 and int(hf[last]["index"]) == last


def test_fsspec_url_recipe(run, reader, store):
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    memory.put(str(store), "/qxq.zarr", recursive=True)
    try:
        ns = run("fsspec")
    finally:
        memory.rm("/qxq.zarr", recursive=True)
    assert ns["raw"].dtype == np.uint16 and np.array_equal(ns["raw"], reader["test"][0]["raw"])
    assert ns["pattern"] == "qxq:grbg"
