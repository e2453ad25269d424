"""Calibration recovers a sensor simulated by cfasim's own physics kernels (issue 5 done-when:
every parameter within 5 %), complementing the independent synthesiser of test_calibrate.py."""

from __future__ import annotations

import numpy as np
import pytest

from cfasim.cfa import get_pattern
from cfasim.sensor.calibration import calibrate
from cfasim.sensor.physics import simulate_sensor
from cfasim.sensor.profile import SensorProfile

TRUE = SensorProfile(
    name="known",
    description="a known 12-bit sensor",
    pixel_pitch_um=1.0,
    quantum_efficiency=0.6,
    full_well_e=4000.0,
    bits=12,
    black_level_dn=256,
    white_level_dn=4095,
    read_noise_e=2.5,
    row_noise_e=1.2,
    dark_current_e_per_s=20.0,
    exposure_time_s=0.1,
    prnu=0.01,
    dsnu_e=3.0,
)
SHAPE = (1024, 64)  # tall frames: row noise is estimated from 1024 row means per frame
LEVELS = (0.0125, 0.0375, 0.075, 0.15, 0.25, 0.375, 0.5, 0.625, 0.75, 0.9, 1.125, 1.5)
DARK_TIMES = (0.05, 0.2, 0.5)


def frames(level: float, t: float, first_sample: int, n: int) -> np.ndarray:
    clean = np.full((*SHAPE, 3), level, dtype=np.float32)
    iso = TRUE.base_iso
    return np.stack(
        [
            simulate_sensor(
                clean, get_pattern("bayer"), TRUE, iso, seed=3, sample=s, exposure_time_s=t
            )
            for s in range(first_sample, first_sample + n)
        ]
    )


@pytest.fixture(scope="module")
def calibration():
    flats = [(0.1, frames(v, 0.1, 2 * i, 2)) for i, v in enumerate(LEVELS)]
    darks = [(t, frames(0.0, t, 100 + 4 * i, 4)) for i, t in enumerate(DARK_TIMES)]
    return calibrate(flats, darks, black_level=256, white_level=4095, bits=12)


def test_calibration_recovers_the_simulated_sensor(calibration):
    c = calibration
    k = TRUE.conversion_gain(TRUE.base_iso)
    got = {
        "conversion_gain": (c.conversion_gain, k),
        "read_noise_e": (c.read_noise_e, TRUE.read_noise_e),
        "full_well_e": (c.full_well_e, TRUE.full_well_e),
        "dark_current_e_per_s": (c.dark_current_e_per_s, TRUE.dark_current_e_per_s),
        "prnu": (c.prnu, TRUE.prnu),
        "dsnu_e": (c.dsnu_e, TRUE.dsnu_e),
        "row_noise_e": (c.row_noise_e, TRUE.row_noise_e),
    }
    errors = {name: got_ / true - 1 for name, (got_, true) in got.items()}
    assert all(abs(e) < 0.05 for e in errors.values()), errors
    profile = c.profile()
    assert profile.conversion_gain(profile.base_iso) == pytest.approx(k, rel=0.05)
