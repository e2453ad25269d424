"""Photon-transfer calibration (cfasim.sensor.calibration): parameters from synthetic frames.

The frames come from a small NumPy synthesiser written here, independent of cfasim's noise code,
following the model of the package docstring: electrons ``min(Poisson(mu * (1 + prnu * n_p) +
dark * t), full_well) + dsnu * n_d + read * N(0, 1) + row * N_row(0, 1)``, DN ``round(black +
K * e)`` clipped to [0, white], ``n_p``, ``n_d`` fixed per pixel, one ``N_row`` per row and frame.

Why 1024 x 64 frames make the 5 % bound safe. A variance estimated with m degrees of freedom has
a relative standard error sqrt(2 / m); a standard deviation half that. With n = 65536 pixels
(16384 per Bayer site), 12 flat levels x 2 frames and 3 dark times x 4 frames:

* K: one PTC point (level, site) has m = 16384, 1.1 %; 8 linear levels x 4 sites in a weighted
  fit give about 0.25 %. Full well is the saturation plateau / K: the plateau mean itself is known
  to ~1e-5, so it carries K's 0.25 %.
* read noise: m = 3 * 65536 per dark time (0.3 % on the variance, 0.16 % on sigma), plus the
  1 / K dependence: ~0.4 %.
* dark current: dark means known to ~row / sqrt(H * N) = 0.02 e- per time over a 0.45 s span,
  ~0.3 %, plus K: ~0.4 %.
* row noise: m = H * (N - 1) = 3072 row draws per dark time, 9216 in all: 1.5 % on the variance,
  0.74 % on sigma -- the tallest frame for the pixel count, since rows are the limit.
* DSNU: spatial variance of the mean dark frame (9 + 2 e-^2) from 65536 pixels, 0.3 % on sigma.
* PRNU: at 2500 e- the fixed part (625 e-^2) is left after subtracting the temporal part
  (1250 e-^2) from the mean-frame variance; SE ~ sqrt(2 / 65536) * (1875 + 1250) -> 2 % on
  PRNU^2 per level, ~0.7 % on PRNU over the levels.

Over seeds 0..199 the standard deviations measured were K 0.24 %, read 0.39 %, full well 0.24 %,
dark 0.39 %, PRNU 0.68 %, DSNU 0.40 %, row 0.78 % (all means within 0.13 %), the largest
errors 0.7, 1.2, 0.7, 0.9, 2.1, 1.2, 2.5 %: 5 % is at least 6 standard deviations.
"""

import math
import tomllib
from importlib import resources

import numpy as np
import pytest
import tifffile

from cfasim.sensor import profile as sensor_profile
from cfasim.sensor.calibration import (
    Calibration,
    CalibrationError,
    calibrate,
    calibrate_files,
    exposure_time_from_name,
    level_statistics,
)
from cfasim.sensor.profile import SensorProfile, load_profile

pytest.importorskip("rawpy")

TRUE = {
    "conversion_gain": 0.5,  # DN / e-
    "read_noise_e": 2.5,
    "full_well_e": 4000.0,
    "dark_current_e_per_s": 20.0,
    "prnu": 0.01,
    "dsnu_e": 3.0,
    "row_noise_e": 1.2,
}
BLACK, WHITE, BITS = 256, 4095, 12
RATE = 10_000.0  # photo-electrons per second at colour gain 1
FLAT_E = (50, 150, 300, 600, 1000, 1500, 2000, 2500, 3000, 3600, 4500, 6000)
DARK_T = (0.05, 0.2, 0.5)
SHAPE = (1024, 64)


class Sensor:
    """A synthetic sensor with fixed-pattern maps drawn once."""

    def __init__(self, rng, shape, colour=None, black=BLACK, **overrides):
        self.p = {**TRUE, **overrides}
        self.rng = rng
        self.shape = shape
        self.n_p = rng.standard_normal(shape)
        self.n_d = rng.standard_normal(shape)
        self.colour = np.ones(shape) if colour is None else colour
        self.black = black

    def frames(self, mu_e, t, n):
        """n frames, uint16: mean photo-electrons mu_e * colour, exposure t seconds."""
        p, rng = self.p, self.rng
        h, w = self.shape
        lam = mu_e * self.colour * (1 + p["prnu"] * self.n_p) + p["dark_current_e_per_s"] * t
        e = np.minimum(rng.poisson(lam, size=(n, h, w)), p["full_well_e"]).astype(np.float64)
        e += p["dsnu_e"] * self.n_d + p["read_noise_e"] * rng.standard_normal((n, h, w))
        e += p["row_noise_e"] * rng.standard_normal((n, h, 1))
        codes = np.round(self.black + p["conversion_gain"] * e)
        return np.clip(codes, 0, WHITE).astype(np.uint16)


def synthesise(sensor, flat_e=FLAT_E, dark_t=DARK_T, n_flat=2, n_dark=4):
    flats = [(mu / RATE, sensor.frames(mu, mu / RATE, n_flat)) for mu in flat_e]
    darks = [(t, sensor.frames(0.0, t, n_dark)) for t in dark_t]
    return flats, darks


@pytest.fixture(scope="module")
def frames():
    return synthesise(Sensor(np.random.default_rng(1288), SHAPE))


@pytest.fixture(scope="module")
def result(frames):
    flats, darks = frames
    return calibrate(
        flats, darks, black_level=BLACK, white_level=WHITE, bits=BITS, name="synthetic"
    )


def measured(cal: Calibration) -> dict:
    return {key: getattr(cal, key) for key in TRUE}


# ---------------------------------------------------------------------------------------------
# recovery of every parameter


def test_every_parameter_within_5_percent(result):
    got = measured(result)
    errors = {key: got[key] / TRUE[key] - 1 for key in TRUE}
    assert all(abs(e) < 0.05 for e in errors.values()), errors
    # the numbers this seed gives (documented in the report), to 0.1 % of the true value
    expected = {
        "conversion_gain": 0.49907,
        "read_noise_e": 2.5151,
        "full_well_e": 4007.5,
        "dark_current_e_per_s": 19.979,
        "prnu": 0.0098626,
        "dsnu_e": 3.0106,
        "row_noise_e": 1.1983,
    }
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-3 * TRUE[key]), key


def test_ptc_points_and_ranges(result):
    k = TRUE["conversion_gain"]
    assert result.ptc_mean.shape == result.ptc_temporal_var.shape == (len(FLAT_E), 4)
    assert result.full_well_method == "plateau"
    # linear range: means up to 70 % of the variance peak (3600 e-): 50 .. 2500 e-, all sites
    assert result.ptc_linear.sum(axis=0).tolist() == [8, 8, 8, 8]
    # saturated plateau: the 4500 and 6000 e- levels
    assert result.ptc_saturated[-2:].all() and not result.ptc_saturated[:-2].any()
    # EMVA 1288 saturation point (mean at the variance peak) is the 3600 e- level
    assert result.ptc_peak_e == pytest.approx(3600 + 20 * 0.36, rel=0.01)
    # means: K * (mu + dark * t) below saturation
    signal = np.array(FLAT_E) + TRUE["dark_current_e_per_s"] * np.array(FLAT_E) / RATE
    np.testing.assert_allclose(result.ptc_mean[:10].mean(axis=1), k * signal[:10], rtol=0.01)
    # temporal variance on the line K * mean + intercept over the linear range
    line = result.conversion_gain * result.ptc_mean + result.ptc_intercept_dn2
    lin = result.ptc_linear
    np.testing.assert_allclose(result.ptc_temporal_var[lin], line[lin], rtol=0.05)
    # the intercept: K^2 (read^2 + row^2) + 1/12 DN^2 (+ K^2 dark t, tiny)
    floor = k**2 * (TRUE["read_noise_e"] ** 2 + TRUE["row_noise_e"] ** 2) + 1 / 12
    assert result.ptc_intercept_dn2 == pytest.approx(floor, rel=0.1)
    # dark offset ~ 0 (black level exact)
    assert abs(result.dark_offset_dn) < 0.05


def test_profile_reproduces_the_measurement(result):
    profile = result.profile()
    assert isinstance(profile, SensorProfile)
    assert profile.name == "synthetic"
    for key in TRUE:
        if key != "conversion_gain":
            assert getattr(profile, key) == pytest.approx(getattr(result, key))
    assert (profile.bits, profile.black_level_dn) == (BITS, BLACK)
    # white level = saturation level of the frames, so K at base ISO is the measured K
    assert profile.white_level_dn == BLACK + round(result.conversion_gain * result.full_well_e)
    k_profile = profile.conversion_gain(profile.base_iso)
    assert k_profile == pytest.approx(result.conversion_gain, rel=1e-3)
    assert k_profile == pytest.approx(TRUE["conversion_gain"], rel=0.05)
    assert profile.exposure_time_s == pytest.approx(np.median(np.array(FLAT_E) / RATE))
    assert profile.adc_noise_dn == 0.0
    # placeholders and measurement notes
    assert "PLACEHOLDER" in profile.notes["pixel_pitch_um"]
    assert "PLACEHOLDER" in profile.notes["quantum_efficiency"]
    assert "24 flat frames at 12 levels" in profile.notes["conversion_gain"]
    assert "12 dark frames at 3 exposure times" in profile.notes["read_noise_e"]
    for key in ("full_well_e", "row_noise_e", "dark_current_e_per_s", "dsnu_e", "prnu"):
        assert "frames" in profile.notes[key], key
    given = calibrate(
        *synthesise(Sensor(np.random.default_rng(3), (64, 64)), n_dark=2),
        black_level=BLACK,
        white_level=WHITE,
        bits=BITS,
        pixel_pitch_um=1.4,
        quantum_efficiency=0.7,
    ).profile()
    assert (given.pixel_pitch_um, given.quantum_efficiency) == (1.4, 0.7)
    assert given.notes["pixel_pitch_um"] == "given (not measured)"


def test_profile_toml_round_trip(result, tmp_path, monkeypatch):
    if not (resources.files("cfasim") / "sensors").is_dir():
        # load_profile lists the built-in profiles first, which fails while the package has no
        # cfasim/sensors folder yet; a path never names a built-in profile anyway
        monkeypatch.setattr(sensor_profile, "builtin_profiles", lambda: [])
    profile = result.profile()
    path = tmp_path / "calibrated.toml"
    path.write_text(profile.to_toml())
    tomllib.loads(path.read_text())  # valid TOML
    loaded = load_profile(path)
    assert loaded == profile
    assert loaded.notes == profile.notes


def test_plot_writes_png(result, tmp_path):
    path = result.plot(tmp_path / "ptc.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_plot_writes_a_paper_pdf_at_text_width(result, tmp_path):
    import re

    from cfasim.figures import TEXT_WIDTH_IN

    path = result.plot(tmp_path / "ptc.pdf")
    data = path.read_bytes()
    assert data[:5] == b"%PDF-" and b"/FontFile2" in data and b"/CreationDate" not in data
    width_pt = float(re.search(rb"/MediaBox \[ *0 0 ([0-9.]+)", data).group(1))
    assert width_pt == TEXT_WIDTH_IN * 72


def test_summary_lists_values(result):
    text = result.summary()
    assert "conversion gain K" in text and "DN/e-" in text and "plateau" in text


# ---------------------------------------------------------------------------------------------
# statistics building blocks and special cases


def test_level_statistics_two_frames_is_half_difference_variance():
    rng = np.random.default_rng(0)
    a = rng.normal(100, 3, (32, 16))
    b = rng.normal(100, 3, (32, 16))
    stats = level_statistics(np.stack([a, b]), np.zeros((32, 16)), (1, 1))
    d = (a - a.mean()) - (b - b.mean())
    assert stats.temporal_var[0] == pytest.approx(np.sum(d**2) / 2 / (a.size - 1))
    assert stats.mean[0] == pytest.approx((a.mean() + b.mean()) / 2)


def test_adc_limited_saturation():
    """K = 1.2 DN/e-: the ADC clips at 4095 before the 4000 e- well fills (at 3199 e-)."""
    sensor = Sensor(np.random.default_rng(7), (256, 64), conversion_gain=1.2)
    flats, darks = synthesise(sensor, flat_e=(100, 400, 800, 1200, 1600, 2000, 2800, 5000))
    cal = calibrate(flats, darks, black_level=BLACK, white_level=WHITE, bits=BITS)
    assert cal.full_well_method == "plateau (ADC white level)"
    assert cal.conversion_gain == pytest.approx(1.2, rel=0.05)
    assert cal.full_well_e == pytest.approx((WHITE - BLACK) / 1.2, rel=0.05)
    assert cal.profile().white_level_dn == WHITE


def test_no_plateau_falls_back_to_variance_peak():
    sensor = Sensor(np.random.default_rng(8), (256, 64))
    flats, darks = synthesise(sensor, flat_e=(100, 500, 1000, 1500, 2000, 2500, 3000))
    cal = calibrate(flats, darks, black_level=BLACK, white_level=WHITE, bits=BITS)
    assert cal.full_well_method == "variance peak (lower bound)"
    assert cal.full_well_e == pytest.approx(3000 + 20 * 0.3, rel=0.02)
    assert "lower bound" in cal.profile().notes["full_well_e"]


def test_per_site_black_and_colour_light():
    """Coloured light and per-site black levels: the per-site statistics keep K and PRNU."""
    h, w = 512, 64
    colour = np.tile(np.array([[0.5, 1.0], [1.0, 0.7]]), (h // 2, w // 2))
    black = np.tile(np.array([[250, 256], [258, 262]]), (h // 2, w // 2))
    sensor = Sensor(np.random.default_rng(9), (h, w), colour=colour, black=black)
    flats, darks = synthesise(sensor)
    cal = calibrate(
        flats, darks, black_level=[[250, 256], [258, 262]], white_level=WHITE, bits=BITS
    )
    for key in TRUE:
        assert getattr(cal, key) == pytest.approx(TRUE[key], rel=0.05), key
    # the four sites saturate at different levels but at the same electron count
    assert cal.full_well_method == "plateau"
    assert cal.profile().black_level_dn == round((250 + 256 + 258 + 262) / 4)


# ---------------------------------------------------------------------------------------------
# errors (arrays)


def test_one_frame_per_level_is_refused(frames):
    flats, darks = frames
    bad = [*flats[:3], (0.5, flats[3][1][:1]), *flats[4:]]
    with pytest.raises(CalibrationError, match=r"flat level 3 \(t = 0.5 s\) has 1 frame"):
        calibrate(bad, darks, black_level=BLACK, white_level=WHITE, bits=BITS)


def test_size_mismatch_is_refused(frames):
    flats, darks = frames
    bad = [*darks[:1], (0.2, [darks[1][1][0], darks[1][1][1][:, :32]])]
    with pytest.raises(CalibrationError, match=r"dark level 1 .* frame 1 is 1024x32"):
        calibrate(flats, bad, black_level=BLACK, white_level=WHITE, bits=BITS)


def test_one_dark_time_is_refused(frames):
    flats, darks = frames
    with pytest.raises(CalibrationError, match="2 distinct exposure times"):
        calibrate(flats, darks[:1], black_level=BLACK, white_level=WHITE, bits=BITS)


def test_flats_without_linear_range_are_refused(frames):
    flats, darks = frames
    with pytest.raises(CalibrationError, match="fewer than 2 flat points"):
        calibrate(flats[-3:], darks, black_level=BLACK, white_level=WHITE, bits=BITS)


# ---------------------------------------------------------------------------------------------
# files


def write_bayer_dng(path, raw, black_tile, exposure_time=None):
    """A Bayer RGGB DNG as cfasim.data.dng.write_dng writes it, plus a 2 x 2 BlackLevel and an
    optional ExposureTime (33434) in IFD0, which write_dng cannot take."""
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 4, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "cfasim-test", True),  # UniqueCameraModel
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern RGGB
        (50710, "B", 3, (0, 1, 2), True),  # CFAPlaneColor
        (50711, "H", 1, 1, True),  # CFALayout
        (50713, "H", 2, (2, 2), True),  # BlackLevelRepeatDim
        (50714, "I", 4, tuple(int(v) for v in np.ravel(black_tile)), True),  # BlackLevel
        (50717, "I", 1, WHITE, True),  # WhiteLevel
        (50721, "2i", 9, [1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1], True),
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1 D65
        (50728, "2I", 3, [1, 1, 1, 1, 1, 1], True),  # AsShotNeutral
    ]
    if exposure_time is not None:
        tags.append((33434, "2I", 1, exposure_time, True))  # ExposureTime (num, den)
    tifffile.imwrite(
        path,
        np.ascontiguousarray(raw, dtype=np.uint16),
        photometric=32803,
        subfiletype=0,
        metadata=None,
        extratags=tags,
    )
    return path


SMALL = (64, 64)
BLACK_TILE = np.array([[254, 256], [257, 259]])
FLAT_RATIONALS = ((1, 40), (1, 10), (1, 5), (3, 10), (3, 5))  # 250 .. 6000 e- at RATE


@pytest.fixture(scope="module")
def dng_set(tmp_path_factory):
    """Flats with EXIF ExposureTime, darks with the time only in the name; and the arrays."""
    folder = tmp_path_factory.mktemp("calibration-dng")
    sensor = Sensor(
        np.random.default_rng(5),
        SMALL,
        black=np.tile(BLACK_TILE, (SMALL[0] // 2, SMALL[1] // 2)),
    )
    flats, darks, flat_paths, dark_paths = [], [], [], []
    for num, den in FLAT_RATIONALS:
        t = num / den
        stack = sensor.frames(RATE * t, t, 2)
        flats.append((t, stack))
        for i, raw in enumerate(stack):
            flat_paths.append(
                write_bayer_dng(folder / f"flat{num}-{den}_{i}.dng", raw, BLACK_TILE, (num, den))
            )
    for t, name in ((0.05, "t0.05s"), (0.5, "500ms")):
        stack = sensor.frames(0.0, t, 2)
        darks.append((t, stack))
        for i, raw in enumerate(stack):
            dark_paths.append(write_bayer_dng(folder / f"dark_{name}_{i}.dng", raw, BLACK_TILE))
    return folder, flats, darks, flat_paths, dark_paths


def test_files_match_arrays(dng_set):
    _, flats, darks, flat_paths, dark_paths = dng_set
    # shuffled order: grouping is by exposure time
    from_files = calibrate_files(flat_paths[::-1], dark_paths, name="files")
    from_arrays = calibrate(
        flats, darks, black_level=BLACK_TILE, white_level=WHITE, bits=BITS, name="files"
    )
    for key in (*TRUE, "ptc_intercept_dn2", "dark_offset_dn", "ptc_peak_e"):
        assert getattr(from_files, key) == pytest.approx(getattr(from_arrays, key), rel=1e-12)
    np.testing.assert_array_equal(from_files.flat_times, from_arrays.flat_times)
    np.testing.assert_array_equal(from_files.dark_times, from_arrays.dark_times)
    np.testing.assert_allclose(from_files.ptc_mean, from_arrays.ptc_mean, rtol=1e-12)
    np.testing.assert_array_equal(from_files.black_level, from_arrays.black_level)
    assert from_files.bits == BITS and from_files.sites == (2, 2)
    assert from_files.full_well_method == "plateau"
    assert {from_files.sources[str(p)] for p in flat_paths} == {"exif"}
    assert {from_files.sources[str(p)] for p in dark_paths} == {"file name"}
    assert from_files.profile().to_toml() == from_arrays.profile().to_toml()


def test_files_with_different_black_levels(dng_set, tmp_path):
    """A frame whose file reports a black level 4 DN higher (and codes 4 DN higher) is shifted
    to the mean black map: the statistics are those of the arrays."""
    _, flats, darks, flat_paths, dark_paths = dng_set
    raw = darks[1][1][0].astype(np.int64) + 4
    shifted = write_bayer_dng(tmp_path / "dark_500ms_0.dng", raw, BLACK_TILE + 4)
    cal = calibrate_files(flat_paths, [*dark_paths[:2], shifted, dark_paths[3]])
    ref = calibrate(flats, darks, black_level=BLACK_TILE, white_level=WHITE, bits=BITS)
    for key in TRUE:
        assert getattr(cal, key) == pytest.approx(getattr(ref, key), rel=1e-9), key
    np.testing.assert_allclose(cal.black_level, ref.black_level + 4 / 14)


def test_single_array_is_one_frame(frames):
    flats, darks = frames
    bad = [*flats[:2], (0.2, flats[2][1][0]), *flats[3:]]
    with pytest.raises(CalibrationError, match=r"flat level 2 \(t = 0.2 s\) has 1 frame"):
        calibrate(bad, darks, black_level=BLACK, white_level=WHITE, bits=BITS)


def test_file_with_one_frame_per_level(dng_set):
    _, _, _, flat_paths, dark_paths = dng_set
    with pytest.raises(CalibrationError, match=r"t = 0.025 s has only one frame .*flat1-40_0"):
        calibrate_files([flat_paths[0], *flat_paths[2:]], dark_paths)


def test_file_size_mismatch(dng_set, tmp_path):
    _, _, _, flat_paths, dark_paths = dng_set
    odd = write_bayer_dng(
        tmp_path / "dark_t0.5s_odd.dng", np.full((64, 66), 260, np.uint16), BLACK_TILE
    )
    with pytest.raises(CalibrationError, match=r"dark_t0.5s_odd.dng: frame size 64x66 differs"):
        calibrate_files(flat_paths, [*dark_paths, odd])


def test_file_without_exposure_time(dng_set, tmp_path):
    _, _, _, flat_paths, dark_paths = dng_set
    nameless = write_bayer_dng(tmp_path / "dark_a.dng", np.full(SMALL, 260, np.uint16), BLACK_TILE)
    with pytest.raises(CalibrationError, match=r"dark_a.dng: no exposure time"):
        calibrate_files(flat_paths, [*dark_paths, nameless])


def test_unreadable_file(dng_set, tmp_path):
    _, _, _, flat_paths, dark_paths = dng_set
    junk = tmp_path / "flat_t0.1s_junk.dng"
    junk.write_bytes(b"not a raw file at all" * 100)
    with pytest.raises(CalibrationError, match=r"junk.dng: unusable RAW file \(unreadable"):
        calibrate_files([*flat_paths, junk], dark_paths)
    with pytest.raises(CalibrationError, match=r"missing.dng: no such file"):
        calibrate_files([*flat_paths, tmp_path / "missing.dng"], dark_paths)


@pytest.mark.parametrize(
    ("name", "seconds"),
    [
        ("flat_t0.01s_3.dng", 0.01),
        ("dark-10ms-1.NEF", 0.01),
        ("f_500us.dng", 5e-4),
        ("x_2s", 2.0),
        ("IMG_0001.CR2", None),
        ("flat_10msx.dng", None),
        ("frames_12.dng", None),
    ],
)
def test_exposure_time_from_name(name, seconds):
    got = exposure_time_from_name(name)
    if seconds is None:
        assert got is None
    else:
        assert math.isclose(got, seconds, rel_tol=1e-12)


def test_exposure_time_from_name_ambiguous():
    with pytest.raises(CalibrationError, match="several exposure times"):
        exposure_time_from_name("flat_10ms_20ms.dng")


def test_cli_calibrate_writes_profile_and_plot(dng_set, tmp_path):
    import shutil

    from click.testing import CliRunner

    from cfasim.cli import main

    _, _, _, flat_paths, dark_paths = dng_set
    flat_dir = tmp_path / "flats"
    flat_dir.mkdir()
    for p in flat_paths:
        shutil.copy(p, flat_dir / p.name)
    out, plot = tmp_path / "mine.toml", tmp_path / "ptc.png"
    args = ["calibrate", "--name", "mine", "--pixel-pitch", "1.4", "--out", str(out)]
    args += ["--plot", str(plot), "--flats", str(flat_dir)]  # a folder: all its RAW files
    args += [w for p in dark_paths for w in ("--darks", str(p))]  # or the files themselves
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    loaded = load_profile(out)
    expected = calibrate_files(flat_paths, dark_paths, name="mine", pixel_pitch_um=1.4).profile()
    assert loaded == expected and loaded.pixel_pitch_um == 1.4
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = ["calibrate", "--flats", "nope", "--darks", "x", "--out", "o"]
    missing = CliRunner().invoke(main, bad)
    assert missing.exit_code != 0 and "flat nope does not exist" in missing.output
