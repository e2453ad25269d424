"""Noise model: variance against mean on a flat-field ramp, Brooks sampling, parsing."""

import math

import numpy as np
import pytest

from cfasim.cfa import get_pattern
from cfasim.isp import color
from cfasim.isp.steps import UnprocessParams
from cfasim.sim.noise import NoiseLevels, NoiseModel
from cfasim.sim.simulate import RawFormat, simulate_raw

IDENTITY = UnprocessParams(np.linalg.inv(color.RGB2XYZ), 1.0, 1.0, 1.0, "srgb", tone=False)


def test_identity_params_are_identity():
    np.testing.assert_allclose(IDENTITY.rgb2cam, np.eye(3), atol=1e-12)
    np.testing.assert_array_equal(IDENTITY.inverse_gains, 1.0)


@pytest.mark.parametrize("shot, read", [(1e-2, 1e-4), (1e-3, 2e-6)])
def test_variance_follows_mean_on_flat_field_ramp(shot, read):
    fmt = RawFormat(16, 4096)  # black far below the darkest level: no clipping at 0 DN
    side = 256  # 65536 pixels per level: SE of a variance estimate = sqrt(2/N) = 0.55 %
    codes = np.linspace(5000, 50000, 8).astype(np.uint16)  # linear 0.006 .. 0.56, away from clips
    image = np.repeat(codes, side)[None, :, None].repeat(side, 0).repeat(3, 2)
    raw, _ = simulate_raw(
        image, get_pattern("quad"), IDENTITY, NoiseLevels(shot, read), fmt, seed=11, sample=0
    )
    v = fmt.to_linear(raw)
    step = 1.0 / (fmt.white - fmt.black)
    for k, code in enumerate(codes):
        block = v[:, k * side : (k + 1) * side]
        mean = color.srgb_decode(code / 65535)
        predicted = shot * mean + read + step**2 / 12  # + uniform quantisation noise
        assert block.mean() == pytest.approx(mean, abs=4 * math.sqrt(predicted / block.size))
        assert block.var() == pytest.approx(predicted, rel=0.02)


def test_brooks_sampling_statistics():
    rng = np.random.default_rng(0)
    model = NoiseModel("brooks")
    levels = [model.sample(rng) for _ in range(20000)]
    log_shot = np.log([lv.shot for lv in levels])
    log_read = np.log([lv.read for lv in levels])
    assert log_shot.min() >= math.log(1e-4) and log_shot.max() <= math.log(1.2e-2)
    # uniform in log: mean at the midpoint (SE = range / sqrt(12 N) = 0.01)
    assert log_shot.mean() == pytest.approx(0.5 * (math.log(1e-4) + math.log(1.2e-2)), abs=0.04)
    slope, intercept = np.polyfit(log_shot, log_read, 1)
    assert slope == pytest.approx(2.18, abs=0.01) and intercept == pytest.approx(1.20, abs=0.07)
    residual = log_read - (2.18 * log_shot + 1.20)
    assert residual.std() == pytest.approx(0.26, rel=0.03)


def test_fixed_and_none_modes_and_parsing():
    rng = np.random.default_rng(0)
    assert NoiseModel.parse("none").sample(rng) == NoiseLevels(0.0, 0.0)
    fixed = NoiseModel.parse("shot=1e-3, read=2e-5")
    assert fixed.sample(rng) == NoiseLevels(1e-3, 2e-5)
    assert NoiseModel.parse(fixed.spec()) == fixed
    assert NoiseModel.parse("Brooks").mode == "brooks"
    np.testing.assert_allclose(NoiseLevels(0.01, 0.001).variance([0.0, 0.5]), [0.001, 0.006])
    for bad, msg in [
        ("gauss", "bad noise spec"),
        ("shot=abc", "bad number"),
        ("shot=-1", "must be >= 0"),
    ]:
        with pytest.raises(ValueError, match=msg):
            NoiseModel.parse(bad)
