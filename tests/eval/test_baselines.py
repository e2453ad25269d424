"""Tests of the classical demosaicing baselines."""

import numpy as np
import pytest
import skimage.data

from cfasim.cfa import CFAPattern, get_pattern
from cfasim.eval import baselines as B
from cfasim.eval.metrics import psnr
from cfasim.isp.color import srgb_decode


@pytest.fixture(scope="module")
def image():
    """Deterministic 96x96 linear crop of skimage's astronaut."""
    return srgb_decode(skimage.data.astronaut()[160:256, 160:256] / 255.0)


def test_bayer_ranking(image):
    # measured (astronaut crop, rggb): bilinear 30.69 dB < malvar 35.78 dB < menon 39.79 dB
    pattern = get_pattern("bayer")
    mosaic = pattern.mosaic(image)
    scores = [
        psnr(np.clip(B.demosaic(name, mosaic, pattern), 0, 1), image)
        for name in ("bilinear", "malvar", "menon")
    ]
    assert scores[0] < scores[1] < scores[2], scores
    assert scores[0] > 28


@pytest.mark.parametrize("phase", ["rggb", "gbrg"])
def test_bayer_phase_is_used(image, phase):
    pattern = get_pattern(f"bayer:{phase}")
    out = B.demosaic("malvar", pattern.mosaic(image), pattern)
    assert out.shape == (96, 96, 3)
    assert psnr(np.clip(out, 0, 1), image) > 33


@pytest.mark.parametrize("name", ["quad", "nona", "qxq"])
def test_remosaic_flat_is_exact(name):
    pattern = get_pattern(name)
    n = 4 * pattern.period[0]
    flat = np.broadcast_to(np.array([0.2, 0.5, 0.7]), (n, n, 3))
    bayer_mosaic, bayer = B.remosaic(pattern.mosaic(flat), pattern)
    assert bayer == CFAPattern.block_bayer(1, pattern.phase)
    np.testing.assert_array_equal(bayer_mosaic, bayer.mosaic(flat))
    np.testing.assert_allclose(B.demosaic("remosaic_malvar", pattern.mosaic(flat), pattern), flat)


@pytest.mark.parametrize("spec", ["quad", "nona:grbg", "qxq:bggr"])
def test_remosaic_follows_bayer_phase(spec):
    pattern = get_pattern(spec)
    n = 4 * pattern.period[0]
    index, bayer = B.remosaic_index(pattern, n, n)
    src = pattern.color_index(n, n).ravel()
    np.testing.assert_array_equal(src[index], bayer.color_index(n, n))
    # the source is a nearby pixel (within one block)
    iy, ix = np.divmod(index, n)
    yy, xx = np.mgrid[:n, :n]
    assert max(np.abs(iy - yy).max(), np.abs(ix - xx).max()) <= pattern.block


@pytest.mark.parametrize("name", ["quad", "nona", "qxq"])
def test_block_baselines(image, name):
    pattern = get_pattern(name)
    n = (96 // pattern.period[0]) * pattern.period[0]
    img = image[:n, :n]
    for baseline in ("binning", "remosaic_malvar"):
        out = B.demosaic(baseline, pattern.mosaic(img), pattern)
        assert out.shape == (n, n, 3) and np.isfinite(out).all()
        assert psnr(np.clip(out, 0, 1), img) > 22
    flat = np.broadcast_to(np.array([0.2, 0.5, 0.7]), (n, n, 3))
    np.testing.assert_allclose(B.demosaic("binning", pattern.mosaic(flat), pattern), flat)


def test_tent_any_pattern(image):
    pattern = get_pattern("RGBW/GBWR/BWRG/WRGB")
    assert B.applicable(pattern) == ("tent",)
    out = B.demosaic("tent", pattern.mosaic(image), pattern)
    assert out.shape == (96, 96, 3)


def test_dispatch_errors():
    with pytest.raises(ValueError, match=r"does not apply.*bilinear, malvar, menon"):
        B.demosaic("binning", np.zeros((8, 8)), get_pattern("bayer"))
    with pytest.raises(ValueError, match=r"does not apply.*binning, remosaic_malvar"):
        B.demosaic("menon", np.zeros((12, 12)), get_pattern("nona"))
    with pytest.raises(ValueError, match="unknown baseline"):
        B.demosaic("ahd", np.zeros((8, 8)), get_pattern("bayer"))
    with pytest.raises(ValueError, match="block size > 1"):
        B.binning(np.zeros((8, 8)), get_pattern("bayer"))
    assert {"binning", "remosaic_malvar", "bilinear", "malvar", "menon"} == B.BASELINES
