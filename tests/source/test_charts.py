"""Test charts (cfasim.source.charts) and chart datasets (``--source chart:NAME``): the
ColorChecker against colour-science's reference converted independently, the zone plate's local
frequency, the star's spoke count, the edge's area coverage, and stores built from charts."""

import json
import math

import colour
import numpy as np
import pytest
import zarr
from scipy import ndimage

from cfasim.errors import ConfigError
from cfasim.isp.color import srgb_decode
from cfasim.pipeline import GenerateConfig, plan
from cfasim.pipeline.source_kinds import to_uint8
from cfasim.source import charts as C
from cfasim.store import card
from cfasim.testing.fixtures import build_store, run_cli


def reference_srgb():
    """colour-science's ColorChecker 2014 xyY (D50) -> XYZ -> Bradford von Kries adaptation to
    D65 -> sRGB (colour.XYZ_to_sRGB), clipped to [0, 1], encoded: written without the module."""
    checker = colour.CCS_COLOURCHECKERS["ColorChecker24 - After November 2014"]
    xyz = colour.xyY_to_XYZ(np.array(list(checker.data.values())))
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    adapted = colour.adaptation.chromatic_adaptation_VonKries(
        xyz, colour.xy_to_XYZ(checker.illuminant), colour.xy_to_XYZ(d65), transform="Bradford"
    )
    linear = colour.XYZ_to_sRGB(adapted, illuminant=d65, apply_cctf_encoding=False)
    return colour.cctf_encoding(np.clip(linear, 0, 1), function="sRGB"), linear


def lab(srgb):
    """colour-science's Lab (D65) of display sRGB, independently of cfasim.eval.metrics."""
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    return colour.XYZ_to_Lab(colour.sRGB_to_XYZ(srgb, illuminant=d65), illuminant=d65)


@pytest.mark.parametrize("side", [96, 288])
def test_colorchecker_patches_are_colour_sciences_reference(side):
    image = C.colorchecker(side, side)
    expected, linear = reference_srgb()
    for img in (image, C.to_uint16(image) / 65535.0):  # the float chart and its 16-bit codes
        means = np.array([img[y : y + h, x : x + w].mean(axis=(0, 1)) for y, x, h, w in
                          C.colorchecker_centres(side, side)])  # fmt: skip
        de = colour.delta_E(lab(means), lab(expected), method="CIE 2000")
        assert de.max() < 0.1
    np.testing.assert_allclose(C.colorchecker_reference()[1], expected, atol=1e-9)
    # only cyan (patch 18) leaves the sRGB gamut, and it is clipped
    assert np.flatnonzero((linear < 0).any(axis=1)).tolist() == [17]
    assert C.colorchecker_reference()[0][17] == "cyan"


def test_colorchecker_layout():
    boxes = C.colorchecker_boxes(288, 288)
    # pitch floor(288 / 6.4) = 45, patch round(0.8 * 45) = 36, grid centred
    assert boxes.shape == (24, 4) and set(boxes[:, 2]) == {36} and set(boxes[:, 3]) == {36}
    assert np.all(np.diff(boxes[:6, 1]) == 45) and np.all(np.diff(boxes[::6, 0]) == 45)
    left, right = boxes[:, 1].min(), 288 - (boxes[:, 1] + boxes[:, 3]).max()
    top, bottom = boxes[:, 0].min(), 288 - (boxes[:, 0] + boxes[:, 2]).max()
    assert abs(left - right) <= 1 and abs(top - bottom) <= 1
    image = C.colorchecker(288, 288)
    covered = np.zeros((288, 288), int)
    for y, x, h, w in boxes:
        covered[y : y + h, x : x + w] += 1
    assert covered.max() == 1  # disjoint
    frame = srgb_decode(image[covered == 0])
    np.testing.assert_allclose(frame, C.FRAME_LINEAR, rtol=1e-12)
    centres = C.colorchecker_centres(288, 288)
    assert set(centres[:, 2]) == {18}
    assert np.all(centres[:, :2] == boxes[:, :2] + 9)  # the middle half of each patch
    with pytest.raises(ConfigError, match="at least 64 pixels"):
        C.colorchecker_boxes(48, 48)


def crossings(signal: np.ndarray) -> np.ndarray:
    """Positions (samples) where ``signal`` changes sign, linearly interpolated."""
    i = np.flatnonzero(np.sign(signal[:-1]) != np.sign(signal[1:]))
    return i + signal[i] / (signal[i] - signal[i + 1])


def test_zone_plate_local_frequency_is_the_design():
    side = 201  # odd: the centre row and column go through the centre
    image = C.zone_plate(side, side)
    assert np.array_equal(image[..., 0], image[..., 2])
    k = C.zone_plate_rate(side, side)
    assert k == pytest.approx(0.5 / 100.5)  # Nyquist at the edge's middle
    row = srgb_decode(image[100, 100:, 0]) / C.MEAN_LINEAR - 1.0  # c cos(pi k x^2), x >= 0
    x = crossings(row)
    # interpolated crossings of cos(2 pi f x) are off by at most ~(2 pi f)^2 / 100 pixels
    # (cubic term): 0.006 at 0.1 cycles / pixel
    slow = x[k * x <= 0.1]
    np.testing.assert_allclose(slow, np.sqrt((np.arange(slow.size) + 0.5) / k), atol=0.01)
    # m half periods between crossings n and n + m span m / 2 cycles, k (x1^2 - x0^2) / 2 of a
    # chirp: their mean frequency m / (2 (x1 - x0)) is exactly k (x0 + x1) / 2; over m = 6 the
    # crossing errors (< 0.05 px up to 0.3 cy/px) move it by < 1 %
    m = 6
    mid, freq = 0.5 * (x[m:] + x[:-m]), m / (2 * (x[m:] - x[:-m]))
    for f in (0.05, 0.1, 0.2, 0.3):
        j = np.argmin(abs(k * mid - f))
        assert freq[j] == pytest.approx(k * mid[j], rel=0.01)
    corner = srgb_decode(image[0, 0, 0])
    assert corner == pytest.approx(C.MEAN_LINEAR, rel=1e-12)  # beyond Nyquist: flat


@pytest.mark.parametrize("cycles", [36, 72])
def test_siemens_star_spoke_count(cycles):
    side = 256
    image = C.siemens_star(side, side, cycles)
    lin = srgb_decode(image[..., 1]) - C.MEAN_LINEAR
    inner, outer = C.star_radii(side, side, cycles)
    assert inner == pytest.approx(cycles / math.pi) and outer == pytest.approx(0.45 * side)
    for r in (0.6 * outer, 0.9 * outer):
        theta = np.linspace(0, 2 * np.pi, 8192, endpoint=False)
        c = (side - 1) / 2
        ring = ndimage.map_coordinates(lin, [c - r * np.sin(theta), c + r * np.cos(theta)], order=1)
        changes = np.count_nonzero(np.sign(ring) != np.sign(np.roll(ring, 1)))
        assert changes == 2 * cycles
    # antialiased: light and dark areas balance on an annulus, and there are partial pixels
    y, x = np.mgrid[:side, :side] - (side - 1) / 2
    ring = (np.hypot(x, y) > 0.5 * outer) & (np.hypot(x, y) < 0.9 * outer)
    assert abs(lin[ring].mean()) < 0.01 * C.MEAN_LINEAR
    cover = C.star_coverage(side, side, cycles)[ring]
    assert 0.1 < np.mean((cover > 0) & (cover < 1)) < 0.9
    with pytest.raises(ConfigError):
        C.siemens_star(64, 64, 1)


def test_slanted_edge_is_area_antialiased():
    height, width = 40, 60
    cover = C.edge_coverage(height, width)
    slope = math.tan(math.radians(C.EDGE_ANGLE_DEG))
    # exact area by fine numerical integration over each pixel
    sub = (np.arange(400) + 0.5) / 400 - 0.5
    y = np.arange(height)[:, None, None] - (height - 1) / 2 + sub[None, None, :]
    x = np.arange(width)[None, :, None] - (width - 1) / 2
    exact = np.clip(x + 0.5 - y * slope, 0, 1).mean(axis=2)
    np.testing.assert_allclose(cover, exact, atol=2e-3)
    lin = srgb_decode(C.slanted_edge(height, width)[..., 0])
    assert lin[:, 0] == pytest.approx(C.EDGE_DARK) and lin[:, -1] == pytest.approx(C.EDGE_LIGHT)
    assert C.EDGE_LIGHT / C.EDGE_DARK == pytest.approx(4.0)
    # each row's mean coverage puts the edge where the line crosses it
    rows = np.arange(height) - (height - 1) / 2
    np.testing.assert_allclose(width - cover.sum(axis=1) - width / 2, rows * slope, atol=1e-9)


def test_chart_names():
    assert C.chart_name("builtin") is None and C.chart_name("/photos") is None
    assert C.chart_name("chart:siemens-star") == "siemens-star"
    with pytest.raises(ConfigError, match="chart:colorchecker, chart:zoneplate"):
        C.chart_name("chart:macbeth")
    for name in C.CHARTS:
        image = C.render_chart(name, 72, 72)
        assert image.shape == (72, 72, 3) and image.min() >= 0 and image.max() <= 1


def test_colorchecker_store_on_nona(tmp_path):
    out = tmp_path / "cc.zarr"
    result = run_cli("generate", "--source", "chart:colorchecker", "--pattern", "nona",
                     "--patch", 72, "--count", 3, "--splits", "1,0,0", "--noise", "none",
                     "--workers", 1, "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    root = zarr.open_group(out, mode="r")
    src = root.attrs["cfasim"]["sources"]
    assert src == [{"kind": "chart", "chart": "colorchecker", "height": 72, "width": 72}]
    chart = to_uint8(C.to_uint16(C.colorchecker(72, 72)))
    targets = root["train/target"][:]
    assert all(np.array_equal(t, chart) for t in targets)  # every sample is the chart
    raw = root["train/raw"][:]
    assert not np.array_equal(raw[0], raw[1])  # drawn cameras and gains differ
    config = root.attrs["cfasim"]["config"]
    assert config["source"] == "chart:colorchecker"
    command, missing = card.generate_command(config, "x.zarr")
    assert "--source chart:colorchecker" in command and missing == {}
    assert card.config_from_command(command) == config
    readme = (out / "README.md").read_text()  # a chart is synthetic, not a folder of photos
    assert readme.startswith("---\nlicense: cc0-1.0\n")
    assert "the built-in colorchecker test chart" in readme and "source images" not in readme
    assert "The source folder must hold" not in readme
    doc = json.loads((out / "croissant.json").read_text())
    assert doc["license"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert "colorchecker test chart" in doc["description"]


def test_chart_stores_are_deterministic(tmp_path):
    config = dict(source="chart:slanted-edge", pattern="bayer", patch=32, count=10, seed=5)
    a = build_store(tmp_path / "a.zarr", **config)
    b = build_store(tmp_path / "b.zarr", workers=2, **config)
    for name in ("raw", "target"):
        for split in ("train", "val", "test"):
            x, y = (
                zarr.open_group(a)[f"{split}/{name}"][:],
                zarr.open_group(b)[f"{split}/{name}"][:],
            )
            assert np.array_equal(x, y)


def test_unknown_or_misused_charts_are_errors(tmp_path):
    result = run_cli("generate", "--source", "chart:macbeth", "--out", tmp_path / "x.zarr")
    assert result.exit_code != 0
    assert "unknown chart 'macbeth'" in result.output and "chart:siemens-star" in result.output
    assert not (tmp_path / "x.zarr").exists()
    with pytest.raises(ConfigError, match="drop --source-kind raw"):
        plan(GenerateConfig(source="chart:zoneplate", source_kind="raw", pattern="bayer"))
    with pytest.raises(ConfigError, match="ColorChecker of 32x32"):
        plan(GenerateConfig(source="chart:colorchecker", pattern="bayer", patch=32))
