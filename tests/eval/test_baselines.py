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
    assert B.applicable(pattern) == ("tent", "nlm+tent")
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
    assert {"binning", "remosaic_malvar", "remosaic_menon", "remosaic_ed_menon", "bilinear",
            "malvar", "menon"} == B.BASELINES  # fmt: skip


# -- the stronger classical pipelines -------------------------------------------------------------


@pytest.fixture(scope="module")
def natural():
    """A 192x192 noise-free linear crop of the astronaut (face, suit edges, flag)."""
    return srgb_decode(skimage.data.astronaut()[100:292, 150:342] / 255.0)


def loop_line_interpolate(values, present):
    """Reference of the horizontal estimate: per pixel, walk left and right to the nearest
    present pixels and interpolate linearly between them (None where a side is missing)."""
    h, w = values.shape
    out = np.full((h, w), np.nan)
    for y in range(h):
        for x in range(w):
            lefts = [i for i in range(x, -1, -1) if present[y, i]]
            rights = [i for i in range(x, w) if present[y, i]]
            if lefts and rights:
                left, right = lefts[0], rights[0]
                t = 0.0 if right == left else (x - left) / (right - left)
                out[y, x] = values[y, left] + t * (values[y, right] - values[y, left])
    return out


def test_line_interpolation_equals_a_loop():
    rng = np.random.default_rng(0)
    values, present = rng.random((7, 19)), rng.random((7, 19)) < 0.3
    est, ok = B._line_interpolate(values, present)
    want = loop_line_interpolate(values, present)
    np.testing.assert_array_equal(ok, np.isfinite(want))
    np.testing.assert_allclose(est[ok], want[ok], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["quad", "nona", "qxq"])
def test_edge_directed_remosaic_keeps_samples_and_is_exact_on_ramps(name):
    pattern = get_pattern(name)
    n = 48 if name != "nona" else 54
    yy, xx = np.mgrid[0:n, 0:n] / n
    ramp = np.stack([0.2 + 0.3 * xx + 0.2 * yy, 0.5 - 0.2 * xx + 0.1 * yy, 0.1 + 0.4 * yy], -1)
    mosaic = pattern.mosaic(ramp)
    out, bayer = B.remosaic_edge_directed(mosaic, pattern)
    truth = bayer.mosaic(ramp)
    same = pattern.color_index(n, n) == bayer.color_index(n, n)
    np.testing.assert_array_equal(out[same], mosaic[same])  # own-colour sites are copied
    inner = (slice(8, -8), slice(8, -8))  # away from the border's extrapolation
    np.testing.assert_allclose(out[inner], truth[inner], atol=1e-12)
    nearest = B.remosaic(mosaic, pattern)[0]
    assert np.abs(nearest[inner] - truth[inner]).max() > 1e-3  # the naive remosaic is not


@pytest.mark.parametrize("name", ["quad", "nona", "qxq"])
def test_remosaic_ranking_on_a_noise_free_natural_crop(natural, name):
    """Measured (192x192 astronaut crop; quad / nona / qxq): remosaic_malvar 27.26 / 25.16 /
    24.52 dB <= remosaic_menon 27.34 / 25.45 / 24.88 < remosaic_ed_menon 29.23 / 27.72 / 26.41;
    the edge-directed Bayer itself is 2.0-2.6 dB closer to the true Bayer than the nearest one."""
    pattern = get_pattern(name)
    side = natural.shape[0] // 24 * 24
    image = natural[:side, :side]
    mosaic = pattern.mosaic(image)
    scores = {
        n: psnr(np.clip(B.demosaic(n, mosaic, pattern), 0, 1), image)
        for n in ("remosaic_malvar", "remosaic_menon", "remosaic_ed_menon")
    }
    assert scores["remosaic_menon"] >= scores["remosaic_malvar"], scores
    assert scores["remosaic_ed_menon"] > scores["remosaic_menon"] + 0.5, scores
    truth = B.remosaic(mosaic, pattern)[1].mosaic(image)
    gain = psnr(B.remosaic_edge_directed(mosaic, pattern)[0], truth) - psnr(
        B.remosaic(mosaic, pattern)[0], truth
    )
    assert gain > 1.5


PIPELINES = [("bayer", "menon"), ("nona", "remosaic_ed_menon"), ("qxq", "remosaic_ed_menon"),
             ("quad", "tent")]  # fmt: skip


@pytest.mark.parametrize(("name", "inner"), PIPELINES)
def test_denoising_first_beats_demosaicing_alone_at_high_noise(natural, name, inner):
    """Noise sigma 0.044 at level 0.18 (shot 0.01, read 1e-4). Measured: bayer menon 25.06 ->
    30.17 dB; nona remosaic_ed_menon 24.18 -> 26.12; qxq 23.64 -> 25.20; quad tent 25.08 ->
    26.14."""
    pattern = get_pattern(name)
    side = natural.shape[0] // 24 * 24
    image = natural[:side, :side]
    clean = pattern.mosaic(image)
    shot, read = 0.01, 1e-4
    noisy = clean + np.random.default_rng(0).normal(size=clean.shape) * np.sqrt(shot * clean + read)
    alone = psnr(np.clip(B.demosaic(inner, noisy, pattern), 0, 1), image)
    denoised = psnr(np.clip(B.demosaic(f"nlm+{inner}", noisy, pattern, (shot, read)), 0, 1), image)
    assert denoised > alone + 0.5, (alone, denoised)


def test_the_variance_stabilised_denoiser_sees_unit_noise_and_keeps_clean_data():
    """On a flat patch the generalised Anscombe transform gives noise of standard deviation
    ~1 (what the denoiser's sigma = 1 assumes): to first order (delta method) exactly 1, the
    second-order excess growing as the level falls (measured 1.035 at 0.1, 1.003 at 0.5, for
    shot 0.01); no noise: the mosaic unchanged."""
    rng = np.random.default_rng(1)
    a, b = 0.01, 1e-4
    for level, tol in ((0.1, 0.05), (0.5, 0.01)):
        x = level + rng.normal(size=200_000) * np.sqrt(a * level + b)
        f = 2 / a * np.sqrt(np.maximum(a * x + 0.375 * a * a + b, 0))
        assert f.std() == pytest.approx(1.0, rel=tol)
    pattern = get_pattern("nona")
    mosaic = rng.random((36, 36))
    np.testing.assert_array_equal(B.denoise_nlm(mosaic, pattern, 0.0, 0.0), mosaic)
    with pytest.raises(ValueError, match="needs the noise level"):
        B.demosaic("nlm+tent", mosaic, pattern)
    with pytest.raises(ValueError, match="unknown baseline"):
        B.demosaic("nlm+ahd", mosaic, pattern)


def test_denoised_pipelines_of_a_sample_denoise_it_once(tmp_path, monkeypatch):
    """evaluate's nlm+ pipelines share one denoised mosaic per sample, with the same outputs
    as each pipeline rendered on its own."""
    from cfasim.data.reader import open_dataset
    from cfasim.eval import engine as E
    from cfasim.eval.rendering import render_baseline
    from cfasim.testing.fixtures import build_store

    store = build_store(tmp_path / "q.zarr", pattern="quad", count=3, patch=32,
                        noise="shot=1e-2,read=1e-4", splits=(0, 0, 1))  # fmt: skip
    names = ["nlm+binning", "nlm+remosaic_ed_menon"]
    calls = []
    real = B.denoise_nlm
    monkeypatch.setattr(B, "denoise_nlm", lambda *a: calls.append(1) or real(*a))
    report = E.evaluate(store, baselines=names, figure_crops=0)
    assert len(calls) == 3  # once per sample, not once per pipeline
    ds = open_dataset(store)
    split = ds["test"]
    for i in range(3):
        item, p = split[i], split.params(i)
        noise = (item["shot_noise"], item["read_noise"])
        for name in names:
            alone = render_baseline(name, item["raw"], ds.pattern, p, item["black_level"],
                                    item["white_level"], noise=noise)  # fmt: skip
            want = psnr(alone, item["target"] / 255.0)
            assert report.methods[name]["per_sample"]["psnr"][i] == pytest.approx(want, rel=1e-9)
