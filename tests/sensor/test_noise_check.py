"""cfasim noise-check on Poisson-Gaussian datasets (the sensor case: test_sensor_datasets)."""

from __future__ import annotations

import pytest

from cfasim.data.reader import open_dataset
from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.sensor.noise_check import CHUNK_SAMPLES, noise_check


def test_fixed_noise_dataset_matches_its_levels_across_chunks(tmp_path):
    out = tmp_path / "fixed.zarr"
    count = CHUNK_SAMPLES + 4  # two reads: the bins accumulate over chunks
    cfg = GenerateConfig(pattern="quad", count=count, patch=64, splits=(1, 0, 0), clean=True,
                         noise="shot=2e-3,read=1e-4", seed=2)  # fmt: skip
    build(plan(cfg), out, progress=False)
    check = noise_check(open_dataset(out), bins=4)
    assert check.samples == count and check.model == "Poisson-Gaussian (shot=2e-3,read=1e-4)"
    # >= 50k kept pixels: the standard error of the mean ratio is about sqrt(2 / n) < 0.7 %
    assert check.pixels > 50_000 and abs(check.ratio - 1) < 0.03, check.format()
    assert sum(r["pixels"] for r in check.rows) <= check.pixels
    for r in check.rows:
        assert abs(r["ratio"] - 1) < 0.06 and r["v_lo"] < r["v_hi"]
    assert noise_check(open_dataset(out), limit=3).samples == 3


def test_noise_check_refuses_what_it_cannot_measure(tmp_path):
    out = tmp_path / "noclean.zarr"
    build(plan(GenerateConfig(pattern="bayer", count=2, patch=16, splits=(1, 0, 0))), out,
          progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="stores no clean signal"):
        noise_check(open_dataset(out))
    with pytest.raises(ValueError, match=r"split 'val' .* is empty"):
        clean = tmp_path / "clean.zarr"
        cfg = GenerateConfig(pattern="bayer", count=2, patch=16, splits=(1, 0, 0), clean=True)
        build(plan(cfg), clean, progress=False)
        noise_check(open_dataset(clean), "val")


def test_noise_check_takes_an_opened_dataset(tmp_path):
    """The sensor layer does not open stores: a path is refused with the way to open it."""
    with pytest.raises(TypeError, match=r"noise_check\(open_dataset\(path\)\)"):
        noise_check(tmp_path / "any.zarr")
