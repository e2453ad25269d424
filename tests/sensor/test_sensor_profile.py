"""Sensor profiles: built-in TOML files, derived quantities, pitch rules, loading errors."""

import dataclasses
import math

import numpy as np
import pytest

from cfasim.sensor.physics import predicted_variance_dn
from cfasim.sensor.profile import (
    FULL_WELL_DENSITY_BSI_E_PER_UM2,
    ISO_SATURATION_CONSTANT,
    PHOTONS_PER_LUX_S_UM2,
    READ_NOISE_E_PER_UM,
    SensorProfile,
    builtin_profiles,
    load_profile,
    scale_to_pitch,
)

REQUIRED = {"phone-quad-1p0um", "phone-nona-0p7um", "phone-qxq-0p56um", "dslr-fullframe"}
PHONES = ("phone-quad-1p0um", "phone-nona-0p7um", "phone-qxq-0p56um")
NUMERIC = [
    f.name
    for f in dataclasses.fields(SensorProfile)
    if f.name not in ("name", "description", "read_noise_distribution", "notes")
]


def test_builtin_profiles_load_under_their_file_names():
    names = builtin_profiles()
    assert REQUIRED <= set(names)
    for name in names:
        p = load_profile(name)
        assert p.name == name
        assert p.description


@pytest.mark.parametrize("name", sorted(REQUIRED | {"imx363-1p4um"}))
def test_every_numeric_field_has_a_note(name):
    p = load_profile(name)
    missing = [f for f in NUMERIC if len(p.notes.get(f, "").strip()) < 10]
    assert not missing, f"{name}: no note for {missing}"


def test_base_iso_follows_the_saturation_formula_and_is_plausible():
    for name in builtin_profiles():
        p = load_profile(name)
        eta = p.quantum_efficiency * p.pixel_pitch_um**2 * PHOTONS_PER_LUX_S_UM2
        assert p.base_iso == pytest.approx(ISO_SATURATION_CONSTANT * eta / p.full_well_e)
    for name in PHONES:
        assert 40 <= load_profile(name).base_iso <= 60
    assert 80 <= load_profile("dslr-fullframe").base_iso <= 125
    # ISETCam: IMX363 is at analog gain 1 at ISO 55 ("for Pixel 4: ISO55")
    assert load_profile("imx363-1p4um").base_iso == pytest.approx(55.0, abs=0.1)


def test_derived_quantities_at_an_iso():
    p = load_profile("phone-quad-1p0um")
    base = p.base_iso
    assert p.analog_gain(base) == 1.0
    assert p.analog_gain(4 * base) == pytest.approx(4.0)
    # K maps the full well to the DN range at base ISO; e_white * K = white - black at any ISO
    assert p.conversion_gain(base) == pytest.approx(p.dn_range / p.full_well_e)
    for iso in (base, 200.0, 3200.0):
        assert p.electrons_at_white(iso) * p.conversion_gain(iso) == pytest.approx(p.dn_range)
    assert p.electrons_at_white(8 * base) == pytest.approx(p.full_well_e / 8)
    with pytest.raises(ValueError, match="below the base ISO"):
        p.analog_gain(base / 2)
    for bad in (0.0, -100.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="ISO must be a positive"):
            p.analog_gain(bad)


def test_phone_profiles_follow_the_pitch_rules():
    for name in PHONES:
        p = load_profile(name)
        # full well ~ pitch^2 (3300 e-/um^2), read noise ~ pitch (5 e- at 1.4 um), to rounding
        density = p.full_well_e / p.pixel_pitch_um**2
        assert density == pytest.approx(FULL_WELL_DENSITY_BSI_E_PER_UM2, rel=0.005)
        assert p.read_noise_e / p.pixel_pitch_um == pytest.approx(READ_NOISE_E_PER_UM, rel=0.01)
    quad = load_profile("phone-quad-1p0um")
    for name in PHONES[1:]:
        target = load_profile(name)
        scaled = scale_to_pitch(quad, target.pixel_pitch_um, name=name)
        for f in ("full_well_e", "read_noise_e", "row_noise_e", "dark_current_e_per_s"):
            assert getattr(scaled, f) == pytest.approx(getattr(target, f), rel=0.02), f
        assert scaled.base_iso == pytest.approx(quad.base_iso)
        assert "scaled from phone-quad-1p0um" in scaled.notes["full_well_e"]
    with pytest.raises(ValueError, match="pitch"):
        scale_to_pitch(quad, 0.0)


@pytest.mark.parametrize("iso", [200.0, 800.0])
@pytest.mark.parametrize("v", [0.02, 0.18, 0.5])
def test_smaller_pixels_are_noisier_at_the_same_iso(iso, v):
    """Relative noise sqrt(var) / signal per pixel, from the photon-transfer prediction."""

    def rel_noise(name):
        p = load_profile(name)
        return math.sqrt(predicted_variance_dn(v, p, iso)) / (v * p.dn_range)

    qxq, nona, quad, dslr = (
        rel_noise(n) for n in ("phone-qxq-0p56um", "phone-nona-0p7um", "phone-quad-1p0um",
                               "dslr-fullframe")
    )  # fmt: skip
    assert qxq > nona > quad > dslr
    # shot-noise dominated: SNR ~ sqrt(electrons) ~ pitch, so qxq / quad ~ 1 / 0.56 = 1.79
    assert qxq / quad > 1.5


def test_toml_round_trip(tmp_path):
    p = load_profile("dslr-fullframe")
    path = tmp_path / "copy.toml"
    path.write_text(p.to_toml())
    q = load_profile(path)
    assert q == p and q.notes == p.notes
    # notes with quotes, backslashes and newlines survive
    r = dataclasses.replace(p, notes={"prnu": 'a "quoted" \\ note\nsecond line'})
    path.write_text(r.to_toml())
    assert load_profile(path).notes == r.notes


def _write(tmp_path, text, name="bad.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = (
    '[sensor]\nname = "x"\ndescription = "d"\npixel_pitch_um = 1.0\nquantum_efficiency = 0.5\n'
    "full_well_e = 3000.0\nbits = 10\nblack_level_dn = 64\nwhite_level_dn = 1023\n"
    "read_noise_e = 2.0\n"
)


def test_loading_errors_are_clear_value_errors(tmp_path):
    assert load_profile(_write(tmp_path, GOOD, "ok.toml")).full_well_e == 3000.0
    cases = [
        (GOOD + "bogus = 1\n", "unknown sensor profile keys \\['bogus'\\]"),
        (GOOD.replace("read_noise_e = 2.0\n", ""), "missing sensor profile keys \\['read_noise_e'"),
        (GOOD + "prnu = \n", "not valid TOML"),
        (GOOD.replace("bits = 10", "bits = 10.0"), "bits must be an integer"),
        (GOOD + "prnu = true\n", "prnu must be a number"),
        (GOOD + "prnu = nan\n", "prnu must be finite"),
        (GOOD + "dsnu_e = -1.0\n", "dsnu_e must be >= 0"),
        (GOOD.replace("0.5\n", "1.5\n"), "quantum_efficiency must be in"),
        (GOOD.replace("1023", "1024"), "white_level_dn"),
        (GOOD + 'read_noise_distribution = "cauchy"\n', "read_noise_distribution must be one"),
        (GOOD + "tukey_lambda = -0.6\n", "tukey_lambda must be in"),
        ('sensor = 3\nname = "x"\n', "'sensor' must be a table"),
        (GOOD + "[notes]\n", None),  # an empty notes table is fine
        (GOOD.replace("[sensor]\n", "") + "[notes]\nprnu = 1\n" + '[sensor]\nname = "y"\n', "both"),
    ]
    for text, message in cases:
        path = _write(tmp_path, text)
        if message is None:
            load_profile(path)
            continue
        with pytest.raises(ValueError, match=message):
            load_profile(path)
    with pytest.raises(ValueError, match="does not exist"):
        load_profile(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match=r"unknown sensor 'no-such-sensor'.*phone-quad-1p0um"):
        load_profile("no-such-sensor")


def test_numpy_scalars_are_accepted():
    p = load_profile("phone-quad-1p0um")
    q = dataclasses.replace(p, bits=np.int64(10), full_well_e=np.float32(3300.0))
    assert q == p  # stored as Python int / float
    assert type(q.bits) is int and type(q.full_well_e) is float
