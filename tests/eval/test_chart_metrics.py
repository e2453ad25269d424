"""Chart metrics (cfasim.eval.charts): slanted-edge MTF50 against the Gaussian theory, per-patch
CIEDE2000 against colour-science, and both in ``cfasim evaluate`` on chart datasets (the issue's
acceptance test: a noise-free ColorChecker pipeline is within 0.5 dE00)."""

import json
import math

import colour
import numpy as np
import pytest
from scipy import ndimage, optimize
from scipy.special import ndtr

from cfasim.data.reader import open_dataset
from cfasim.eval import charts as E
from cfasim.eval import engine
from cfasim.eval.rendering import render_baseline
from cfasim.isp.color import srgb_encode
from cfasim.source import charts as C
from cfasim.testing.fixtures import build_store, run_cli

SIDE = 128


def gaussian_edge(sigma: float, side: int = SIDE, flip: bool = False) -> np.ndarray:
    """Linear luminance of the chart's slanted edge blurred by a Gaussian of ``sigma`` pixels,
    point-sampled at pixel centres: ``dark + (light - dark) Phi(d / sigma)`` with ``d`` the
    signed distance from the edge (its MTF is exactly exp(-2 pi^2 sigma^2 f^2))."""
    y = np.arange(side)[:, None] - (side - 1) / 2
    x = np.arange(side)[None, :] - (side - 1) / 2
    angle = math.radians(C.EDGE_ANGLE_DEG)
    d = (x - y * math.tan(angle)) * math.cos(angle)
    lum = C.EDGE_DARK + (C.EDGE_LIGHT - C.EDGE_DARK) * ndtr(d / sigma)
    return lum[:, ::-1] if flip else lum


def gaussian_mtf50(sigma: float) -> float:
    """exp(-2 pi^2 sigma^2 f^2) = 1/2 at f = sqrt(ln 2 / (2 pi^2)) / sigma."""
    return math.sqrt(math.log(2) / (2 * math.pi**2)) / sigma


@pytest.mark.parametrize("sigma", [0.8, 1.2, 2.0])
def test_mtf50_of_a_gaussian_edge_is_the_theory(sigma):
    lum = gaussian_edge(sigma)
    measured = E.edge_mtf50(lum)
    assert measured == pytest.approx(gaussian_mtf50(sigma), rel=0.05)
    assert E.edge_mtf50(gaussian_edge(sigma, flip=True)) == pytest.approx(measured, rel=0.01)
    # the whole curve up to Nyquist: binning (sinc f/4) and the window cost a few percent
    freq, mtf = E.edge_mtf(lum[E.edge_region(SIDE, SIDE)])
    band = freq <= 0.5
    theory = np.exp(-2 * math.pi**2 * sigma**2 * freq[band] ** 2)
    np.testing.assert_allclose(mtf[band], theory, atol=0.03)
    assert mtf[0] == 1.0


def test_mtf50_of_the_sharp_edge_is_the_pixel_aperture():
    sharp = E.edge_mtf50(C.slanted_edge(SIDE, SIDE))  # display sRGB: linearised first
    blurred = [E.edge_mtf50(gaussian_edge(s)) for s in (0.8, 1.2, 2.0)]
    assert sharp > max(blurred) and blurred == sorted(blurred, reverse=True)
    # area sampling: MTF |sinc f|, 1/2 at 0.6034 cycles / pixel (less a little aliasing)
    aperture = optimize.brentq(lambda f: np.sinc(f) - 0.5, 0.1, 0.9)
    assert aperture == pytest.approx(0.6034, abs=1e-4)
    assert sharp == pytest.approx(aperture, rel=0.05)


def test_mtf50_of_a_blurred_chart_in_display_srgb():
    """The chart blurred in linear light, then sRGB-encoded: the edge's MTF is the pixel
    aperture times the Gaussian's, |sinc f| exp(-2 pi^2 sigma^2 f^2)."""
    sigma = 1.2
    cover = ndimage.gaussian_filter(C.edge_coverage(SIDE, SIDE), sigma, mode="nearest")
    lin = C.EDGE_DARK + (C.EDGE_LIGHT - C.EDGE_DARK) * cover
    image = np.repeat(srgb_encode(lin)[..., None], 3, axis=2)
    theory = optimize.brentq(
        lambda f: np.sinc(f) * math.exp(-2 * math.pi**2 * sigma**2 * f**2) - 0.5, 0.01, 0.5
    )
    assert E.edge_mtf50(image) == pytest.approx(theory, rel=0.05)


def test_mtf50_interpolation_and_failures():
    freq = np.linspace(0, 1, 11)
    assert E.mtf50(freq, 1 - freq) == pytest.approx(0.5)
    assert E.mtf50(freq, 1 - 0.8 * freq) == pytest.approx(0.625)
    assert math.isnan(E.mtf50(freq, np.ones(11)))
    assert math.isnan(E.edge_mtf50(np.full((64, 64, 3), 0.5)))  # no edge: NaN, not an error
    assert math.isnan(E.edge_mtf50(np.zeros((40, 40)), chart_shape=(64, 64)))  # too small
    assert E.whole_phase_rows(100, math.tan(math.radians(5))) == 91  # 8 cycles of 11.43 rows


def lab(srgb):
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    return colour.XYZ_to_Lab(colour.sRGB_to_XYZ(srgb, illuminant=d65), illuminant=d65)


def test_patch_delta_e_against_colour_science():
    chart = C.colorchecker(96, 96)
    assert np.abs(E.colorchecker_delta_e(chart)).max() < 1e-9
    shifted = np.clip(chart * 0.9 + 0.05, 0, 1)  # every patch off by a known amount
    _, reference = C.colorchecker_reference()
    expected = colour.delta_E(
        lab(np.clip(reference * 0.9 + 0.05, 0, 1)), lab(reference), "CIE 2000"
    )
    np.testing.assert_allclose(E.colorchecker_delta_e(shifted), expected, rtol=1e-9)
    assert expected.mean() > 1.0  # a visible shift
    # centre boxes only: a one-pixel rim of another colour round each patch changes nothing
    rimmed = chart.copy()
    for y, x, h, w in C.colorchecker_boxes(96, 96):
        rimmed[y : y + h, x] = rimmed[y : y + h, x + w - 1] = 0.0
    assert np.abs(E.colorchecker_delta_e(rimmed)).max() < 1e-9
    # an output smaller than the chart has NaN for the patches it lacks
    cut = E.colorchecker_delta_e(chart[:60], chart_shape=(96, 96))
    assert np.isnan(cut).sum() > 0 and np.nanmax(cut) < 1e-9


class ChartModel:
    """A model that ignores its input and returns a fixed image (the chart, or a blurred one)."""

    def __init__(self, label, image):
        self.label, self.image = label, image

    def __call__(self, raw, black, white):
        return self.image


@pytest.fixture(scope="module")
def colorchecker_store(tmp_path_factory):
    """Noise-free ColorChecker on Nona (patches of 12 pixels: 6-pixel centre boxes)."""
    out = tmp_path_factory.mktemp("charts") / "cc.zarr"
    return build_store(out, source="chart:colorchecker", pattern="nona", patch=96, count=2,
                       splits=(1, 0, 0), noise="none", seed=2)  # fmt: skip


def test_noise_free_colorchecker_is_within_half_a_de00(colorchecker_store):
    model = ChartModel("exact", C.colorchecker(96, 96))
    report = engine.evaluate(
        colorchecker_store, split="train", baselines="remosaic_menon", models=[model],
        figure_crops=0,
    )  # fmt: skip
    means = report.means()
    assert means["remosaic_menon"]["all"]["chart_de00"] < 0.5  # the acceptance test
    assert means["exact"]["all"]["chart_de00"] < 1e-9
    # the per-sample value is the mean over the patches of the baseline's output
    ds = open_dataset(colorchecker_store)
    sp = ds["train"]
    item = sp[0]
    levels = float(item["black_level"]), float(item["white_level"])
    out = render_baseline("remosaic_menon", np.asarray(item["raw"]), ds.pattern, sp.params(0),
                          *levels, 1, True)  # fmt: skip
    de = E.colorchecker_delta_e(out)
    per_sample = report.methods["remosaic_menon"]["per_sample"]["chart_de00"]
    assert per_sample[0] == pytest.approx(de.mean(), rel=1e-12)
    summary = report.charts
    assert summary["chart"] == "colorchecker" and len(summary["patches"]) == 24
    assert set(summary["methods"]) == {"remosaic_menon", "exact"}
    patch = summary["methods"]["remosaic_menon"]["patch_de00"]
    assert np.mean(patch) == pytest.approx(means["remosaic_menon"]["all"]["chart_de00"])
    assert summary["target"]["chart_de00"] < 0.5  # the stored 8-bit target
    md = report.to_markdown()
    assert "## ColorChecker: CIEDE2000 per patch" in md and "| 18. cyan |" in md
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["charts"]["methods"]["exact"]["patch_de00"] == pytest.approx([0.0] * 24, abs=1e-9)
    back = type(report).from_dict(doc)
    assert back.to_markdown() == md


def test_evaluate_cli_reports_mtf50_on_a_slanted_edge(tmp_path):
    store = build_store(tmp_path / "edge.zarr", source="chart:slanted-edge", pattern="bayer",
                        patch=96, count=2, splits=(1, 0, 0), noise="none", seed=4)  # fmt: skip
    result = run_cli("evaluate", store, "--split", "train", "--baselines", "bilinear,menon",
                     "--crops", 0, "--out", tmp_path / "eval")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert doc["charts"]["chart"] == "slanted-edge"
    mtf = {m: doc["methods"][m]["means"]["all"]["mtf50"] for m in ("bilinear", "menon")}
    target = doc["charts"]["target"]["mtf50"]
    assert target == pytest.approx(0.6034, rel=0.05)  # the chart through 8 bits
    assert 0.1 < mtf["bilinear"] < mtf["menon"] < target * 1.05  # bilinear blurs most
    md = (tmp_path / "eval" / "evaluation.md").read_text()
    assert "## Slanted edge: MTF50" in md and f"| menon | {mtf['menon']:.3f} |" in md
    # a model that returns a known blur is measured at its MTF50 (no charts on plain data)
    blurred = np.repeat(srgb_encode(gaussian_edge(1.2, side=96))[..., None], 3, axis=2)
    report = engine.evaluate(store, split="train", baselines=[], figure_crops=0,
                             models=[ChartModel("blur", blurred)])  # fmt: skip
    assert report.means()["blur"]["all"]["mtf50"] == pytest.approx(gaussian_mtf50(1.2), rel=0.05)


def test_other_datasets_get_no_chart_section(tiny_store):
    report = engine.evaluate(tiny_store, baselines="tent", figure_crops=0)
    assert report.charts == {} and "charts" not in report.to_dict()
    assert E.chart_scorer("builtin") is None and E.chart_scorer("chart:zoneplate") is None
    assert E.chart_scorer("chart:nope") is None
