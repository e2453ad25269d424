"""Datasets simulated with a sensor profile: physics noise in the pipeline, CLI and card."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from cfasim import open_dataset
from cfasim.cli import main
from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.sensor.noise_check import noise_check
from cfasim.sensor.profile import SensorProfile
from cfasim.store.info import describe
from cfasim.store.validate import validate

PROFILE = SensorProfile(
    name="tiny-pixel",
    description="a 0.6 um test sensor",
    pixel_pitch_um=0.6,
    quantum_efficiency=0.5,
    full_well_e=1200.0,
    bits=10,
    black_level_dn=64,
    white_level_dn=1023,
    read_noise_e=1.6,
    adc_noise_dn=0.4,
    row_noise_e=0.3,
    dark_current_e_per_s=5.0,
    exposure_time_s=0.02,
    prnu=0.01,
    dsnu_e=0.5,
    notes={"full_well_e": "test value"},
)


@pytest.fixture
def profile_path(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(PROFILE.to_toml())
    return path


def config(profile_path, **kw):
    base = {
        "pattern": "qxq",
        "count": 6,
        "patch": 64,
        "splits": (1, 0, 0),
        "sensor": str(profile_path),
        "iso": 200.0,
        "clean": True,
        "seed": 11,
    }
    return GenerateConfig(**{**base, **kw})


def test_sensor_dataset_noise_matches_the_profile(profile_path, tmp_path):
    out = tmp_path / "s.zarr"
    p = plan(config(profile_path))
    assert (p.config.noise, p.config.bits, p.config.black_level) == ("sensor", 10, 64)
    build(p, out, progress=False)
    ds = open_dataset(out)
    assert ds.attrs["sensor_profile"]["full_well_e"] == 1200.0
    # per-sample equivalent Poisson-Gaussian coefficients: shot = 1 / e_white
    e_white = PROFILE.electrons_at_white(200.0)
    np.testing.assert_allclose(ds["train"].arrays["shot_noise"][:], 1.0 / e_white)
    check = noise_check(ds)
    # n kept pixels >= 15k: standard error of the mean ratio about sqrt(2 / n) < 1.2 %
    assert check.pixels > 15_000
    assert abs(check.ratio - 1.0) < 0.035, check.format()
    assert validate(out).ok
    card = (out / "README.md").read_text()
    assert "Physics-based noise in electrons" in card and "tiny-pixel" in card


def test_sensor_dataset_is_identical_for_any_worker_count(profile_path, tmp_path):
    cfg = config(profile_path, shard_samples=2, optics="psf=0.8,crosstalk=0.02,blooming")
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    build(plan(cfg), a, workers=1, progress=False)
    build(plan(cfg), b, workers=2, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_other_sensor_seed_changes_only_the_fixed_pattern(profile_path, tmp_path):
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    build(plan(config(profile_path, count=2)), a, progress=False)
    build(plan(config(profile_path, count=2, sensor_seed=7)), b, progress=False)
    ra, rb = open_dataset(a)["train"][0], open_dataset(b)["train"][0]
    np.testing.assert_array_equal(ra["clean"], rb["clean"])
    assert not np.array_equal(ra["raw"], rb["raw"])


def test_higher_iso_is_noisier(profile_path, tmp_path):
    from cfasim.sensor.noise_check import pixel_values

    stds = []
    for iso in (200.0, 1600.0):
        out = tmp_path / f"iso{iso:g}.zarr"
        build(plan(config(profile_path, iso=iso, count=2)), out, progress=False)
        ds = open_dataset(out)
        item = ds["train"][0]
        v = pixel_values(item["clean"][None].astype(float), ds.pattern.tile)[0]
        mid = np.abs(v - 0.5) < 0.1
        stds.append((item["raw"].astype(float) - (64 + v * 959))[mid].std())
    # normalised noise at v = 0.5: sqrt(0.5 e_white) / e_white, e_white = 287 vs 36 e-:
    # 0.042 vs 0.12 (x 959 DN) -> a ratio near 2.8
    assert 2.3 < stds[1] / stds[0] < 3.3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise": "brooks"}, "exclude each other"),
        ({"bits": 12}, "fixes the ADC format"),
        ({"iso": 1.0}, "below the base ISO"),
        ({"optics": "nonsense=1"}, "nonsense"),
        ({"sensor": None, "iso": 100.0}, "need --sensor"),
    ],
)
def test_sensor_config_errors(profile_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        config(profile_path, **kwargs).validated()


def test_cli_generate_with_sensor_and_regeneration(profile_path, tmp_path):
    from cfasim.store.card import config_from_command, generate_command

    out = tmp_path / "cli.zarr"
    args = ["generate", "--pattern", "nona", "--count", "3", "--patch", "36", "--out", str(out)]
    args += ["--sensor", str(profile_path), "--iso", "400", "--optics", "shading=200", "--clean"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    ds = open_dataset(out)
    command, missing = generate_command(ds.config, str(out))
    assert missing == {} and "--sensor" in command and "--optics" in command
    assert config_from_command(command) == ds.config
    check = CliRunner().invoke(main, ["noise-check", str(out)])
    assert check.exit_code == 0 and "sensor tiny-pixel at ISO 400" in check.output
    nope = CliRunner().invoke(main, [*args[:-5], "--sensor", "no-such-sensor", "--overwrite"])
    assert nope.exit_code != 0 and "unknown sensor 'no-such-sensor'" in nope.output


def test_info_names_the_sensor(profile_path, tmp_path):

    out = tmp_path / "i.zarr"
    build(plan(config(profile_path, count=1, optics="crosstalk=0.01")), out, progress=False)
    assert "sensor (physics: tiny-pixel at ISO 200, sensor seed 0, optics crosstalk=0.01)" in (
        describe(out)
    )
