"""cfasim.eval.metrics against independent implementations (scikit-image, scipy, colour-science,
second implementations written here, published CIEDE2000 test data)."""

import numpy as np
import pytest
import skimage.data
from scipy.signal import convolve2d
from scipy.special import rel_entr
from scipy.stats import entropy
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cfasim.eval import metrics as M


@pytest.fixture(scope="module")
def pair():
    """A natural 120x136 RGB crop in [0, 1] and a noisy, blurred, colour-shifted version."""
    a = skimage.data.astronaut()[100:220, 180:316] / 255.0
    rng = np.random.default_rng(3)
    b = 0.8 * a + 0.2 * np.roll(a, 1, axis=1) + rng.normal(0, 0.03, a.shape)
    b[..., 2] += 0.02
    return a, np.clip(b, 0, 1)


def sk_ssim(a, b, data_range=1.0):
    return structural_similarity(
        a,
        b,
        channel_axis=-1 if a.ndim == 3 else None,
        data_range=data_range,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )


# -- PSNR / SSIM ---------------------------------------------------------------------------------


def test_psnr_matches_skimage(pair):
    a, b = pair
    assert M.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1), abs=1e-9)
    a8, b8 = np.round(a * 255), np.round(b * 255)
    assert M.psnr(a8, b8, data_range=255) == pytest.approx(
        peak_signal_noise_ratio(a8, b8, data_range=255), abs=1e-9
    )
    assert M.psnr(a, a) == float("inf")
    with pytest.raises(ValueError, match="shape"):
        M.psnr(a, b[:-1])


@pytest.mark.parametrize("kind", ["rgb", "gray", "range255", "small"])
def test_ssim_matches_skimage(pair, kind):
    a, b = pair
    data_range = 1.0
    if kind == "gray":
        a, b = a[..., 1], b[..., 1]
    elif kind == "range255":
        a, b, data_range = a * 255, b * 255, 255.0
    elif kind == "small":
        a, b = a[:11, :13], b[:11, :13]
    assert M.ssim(a, b, data_range) == pytest.approx(sk_ssim(a, b, data_range), abs=1e-9)


def test_ssim_identity_and_too_small(pair):
    a, _ = pair
    assert M.ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="smaller than the 11x11"):
        M.ssim(a[:10], a[:10])


# -- MS-SSIM -------------------------------------------------------------------------------------


def window_11():
    """The 11x11 Gaussian window (sigma 1.5), built from its definition."""
    d = np.arange(-5, 6)
    g = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * 1.5**2))
    return g / g.sum()


def ssim_cs_valid(x, y, data_range=1.0):
    """Second SSIM implementation: explicit 2D window, 'valid' convolution (every window inside
    the image: the same pixels as reflect-filtering and dropping a 5-pixel border)."""
    w = window_11()

    def f(v):
        return convolve2d(v, w, mode="valid")

    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    return (lum * cs).mean(), cs.mean()


def ms_ssim_reference(a, b, weights=(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)):
    """Second MS-SSIM: Wang 2003 per channel with 2x2 block-mean downsampling, fewer scales (and
    renormalised weights) while the coarsest side stays >= 11."""
    scales, side = 0, min(a.shape[:2])
    while scales < len(weights) and side >= 11:
        scales, side = scales + 1, side // 2
    w = np.array(weights[:scales]) / np.sum(weights[:scales])
    out = []
    for c in range(a.shape[2]):
        x, y = a[..., c], b[..., c]
        value = 1.0
        for j in range(scales):
            s, cs = ssim_cs_valid(x, y)
            value *= max(s if j == scales - 1 else cs, 0.0) ** w[j]
            h, wd = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
            x = (x[0:h:2, 0:wd:2] + x[1:h:2, 0:wd:2] + x[0:h:2, 1:wd:2] + x[1:h:2, 1:wd:2]) / 4
            y = (y[0:h:2, 0:wd:2] + y[1:h:2, 0:wd:2] + y[0:h:2, 1:wd:2] + y[1:h:2, 1:wd:2]) / 4
        out.append(value)
    return float(np.mean(out))


def test_ssim_valid_convolution_equals_skimage(pair):
    # the second implementation used as the MS-SSIM oracle agrees with scikit-image
    a, b = pair
    ref = np.mean([ssim_cs_valid(a[..., c], b[..., c])[0] for c in range(3)])
    assert ref == pytest.approx(sk_ssim(a, b), abs=1e-9)


def test_ms_ssim_five_scales_matches_second_implementation():
    a = skimage.data.astronaut()[40:240, 200:393] / 255.0  # 200x193: 5 scales (>= 176)
    rng = np.random.default_rng(0)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    assert M.ms_ssim_scales(*a.shape[:2]) == 5
    value = M.ms_ssim(a, b)
    assert value == pytest.approx(ms_ssim_reference(a, b), abs=1e-9)
    assert 0 < value < 1 and value > M.ssim(a, b)  # coarse scales forgive pixel noise
    assert M.ms_ssim(a, a) == pytest.approx(1.0, abs=1e-12)


def test_ms_ssim_fewer_scales(pair):
    a, b = pair  # 120x136: 120, 60, 30, 15 -> 4 scales
    assert M.ms_ssim_scales(120, 136) == 4
    assert M.ms_ssim_scales(175, 300) == 4 and M.ms_ssim_scales(176, 300) == 5
    assert M.ms_ssim_scales(21, 21) == 1 and M.ms_ssim_scales(22, 40) == 2
    assert M.ms_ssim(a, b) == pytest.approx(ms_ssim_reference(a, b), abs=1e-9)
    # one scale: MS-SSIM is SSIM
    assert M.ms_ssim(a[:16, :20], b[:16, :20]) == pytest.approx(
        sk_ssim(a[:16, :20], b[:16, :20]), abs=1e-9
    )
    with pytest.raises(ValueError, match="smaller than"):
        M.ms_ssim(a[:8], b[:8])


def test_ms_ssim_decreases_with_noise(pair):
    a, _ = pair
    rng = np.random.default_rng(1)
    values = [M.ms_ssim(a, np.clip(a + rng.normal(0, s, a.shape), 0, 1)) for s in (0.01, 0.05, 0.2)]
    assert values[0] > values[1] > values[2]


# -- CIEDE2000 -----------------------------------------------------------------------------------

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Table 1 (pairs 1, 2, 3, 7, 17, 18,
# 25, 26, 34): Lab 1, Lab 2, Delta E 2000.
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
]


def ciede2000_reference(lab1, lab2):
    """CIEDE2000 written from Sharma et al. 2005, eqs. (1)-(22), kL = kC = kH = 1."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, float), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, float), -1, 0)
    cbar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(cbar**7 / (cbar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    h1p = np.where((b1 == 0) & (a1p == 0), 0, h1p)
    h2p = np.where((b2 == 0) & (a2p == 0), 0, h2p)
    dL, dC = L2 - L1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0, dh)
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    Lbar, cpbar = (L1 + L2) / 2, (c1p + c2p) / 2
    hsum = h1p + h2p
    hbar = np.where(
        np.abs(h1p - h2p) <= 180, hsum / 2, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2)
    )
    hbar = np.where(c1p * c2p == 0, hsum, hbar)
    t = (
        1
        - 0.17 * np.cos(np.radians(hbar - 30))
        + 0.24 * np.cos(np.radians(2 * hbar))
        + 0.32 * np.cos(np.radians(3 * hbar + 6))
        - 0.20 * np.cos(np.radians(4 * hbar - 63))
    )
    dtheta = 30 * np.exp(-(((hbar - 275) / 25) ** 2))
    rc = 2 * np.sqrt(cpbar**7 / (cpbar**7 + 25.0**7))
    sl = 1 + 0.015 * (Lbar - 50) ** 2 / np.sqrt(20 + (Lbar - 50) ** 2)
    sc = 1 + 0.045 * cpbar
    sh = 1 + 0.015 * cpbar * t
    rt = -np.sin(np.radians(2 * dtheta)) * rc
    return np.sqrt((dL / sl) ** 2 + (dC / sc) ** 2 + (dH / sh) ** 2 + rt * (dC / sc) * (dH / sh))


def test_delta_e_2000_sharma_pairs():
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    published = np.array([p[2] for p in SHARMA])
    np.testing.assert_allclose(M.delta_e_2000(lab1, lab2), published, atol=1e-4)
    np.testing.assert_allclose(ciede2000_reference(lab1, lab2), published, atol=1e-4)


def test_delta_e_2000_matches_written_formula():
    rng = np.random.default_rng(5)
    lab1 = np.stack([rng.uniform(0, 100, 500), *rng.uniform(-80, 80, (2, 500))], axis=-1)
    lab2 = lab1 + rng.normal(0, 8, lab1.shape)
    np.testing.assert_allclose(
        M.delta_e_2000(lab1, lab2), ciede2000_reference(lab1, lab2), rtol=1e-9, atol=1e-9
    )


def srgb_to_lab_reference(rgb):
    """sRGB -> Lab written out: IEC 61966-2-1 decoding and its (4-decimal) RGB -> XYZ matrix,
    CIE 1976 L*a*b* with the white of the D65 chromaticity (0.3127, 0.3290), Y = 1."""
    v = np.asarray(rgb, float)
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    white = np.array([0.3127 / 0.3290, 1.0, (1 - 0.3127 - 0.3290) / 0.3290])
    xyz = lin @ m.T / white
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def test_srgb_to_lab_matches_written_conversion(pair):
    a, _ = pair
    np.testing.assert_allclose(M.srgb_to_lab(a), srgb_to_lab_reference(a), atol=1e-6)
    lab_white = M.srgb_to_lab(np.ones(3))
    np.testing.assert_allclose(lab_white, [100, 0, 0], atol=1e-2)  # 4-decimal matrix


def test_ciede2000_of_images(pair):
    a, b = pair
    expected = ciede2000_reference(srgb_to_lab_reference(a), srgb_to_lab_reference(b)).mean()
    assert M.ciede2000(a, b) == pytest.approx(expected, abs=1e-6)
    assert M.ciede2000(a, a) == 0.0


# -- KLD / M4 ------------------------------------------------------------------------------------


def kld_reference(x, y, levels):
    """MIPI 2022 KLD written with np.bincount and scipy.special.rel_entr."""
    values = []
    for i in (0, 1):
        for j in (0, 1):
            p, q = x[i::2, j::2].astype(int), y[i::2, j::2].astype(int)
            n = p.size
            hp = np.bincount(p.ravel(), minlength=levels) / n
            hq = np.bincount(q.ravel(), minlength=levels) / n
            hp[hp == 0], hq[hq == 0] = 1 / n, 1 / n
            values.append((rel_entr(hp, hq).sum() + rel_entr(hq, hp).sum()) / 2)
    return float(np.mean(values))


def test_kld_bayer_matches_rel_entr():
    rng = np.random.default_rng(2)
    gt = np.clip(np.round(rng.normal(400, 120, (64, 80))), 0, 1023)
    out = np.clip(gt + np.round(rng.normal(0, 20, gt.shape)), 0, 1023)
    value = M.kld_bayer(out, gt)
    assert value > 0
    assert value == pytest.approx(kld_reference(out, gt, 1024), rel=1e-12)
    assert M.kld_bayer(gt, out) == pytest.approx(value, rel=1e-12)  # symmetric
    assert M.kld_bayer(gt, gt) == 0.0
    assert M.kld_bayer(gt, gt[::-1, ::-1].copy()) == pytest.approx(  # phases swap, KLD > 0
        kld_reference(gt, gt[::-1, ::-1], 1024), rel=1e-12
    )
    small = gt // 4  # 8-bit codes with levels=256
    assert M.kld_bayer(small, out // 4, levels=256) == pytest.approx(
        kld_reference(small, out // 4, 256), rel=1e-12
    )
    with pytest.raises(ValueError, match="even"):
        M.kld_bayer(gt[:-1], out[:-1])


def test_kld_bayer_without_empty_bins_is_scipy_entropy():
    # every code present in both: no floors, the histograms are distributions
    rng = np.random.default_rng(4)
    codes = np.tile(np.arange(16), 64)
    a = rng.permutation(np.concatenate([codes, rng.integers(0, 16, 1024)])).reshape(32, 64)
    b = rng.permutation(np.concatenate([codes, rng.integers(0, 16, 1024)])).reshape(32, 64)
    expected = []
    for i in (0, 1):
        for j in (0, 1):
            p = np.bincount(a[i::2, j::2].ravel(), minlength=16)
            q = np.bincount(b[i::2, j::2].ravel(), minlength=16)
            expected.append((entropy(p, q) + entropy(q, p)) / 2)
    assert M.kld_bayer(a, b, levels=16) == pytest.approx(np.mean(expected), rel=1e-12)


def test_m4_no_lpips():
    assert M.m4_no_lpips(30.0, 0.9, 0.0) == pytest.approx(54.0)
    assert M.m4_no_lpips(30.0, 0.9, 1.0) == pytest.approx(27.0)
    # the MIPI formula with LPIPS = 0
    psnr, ssim, kld, lpips = 35.2, 0.93, 0.12, 0.0
    assert M.m4_no_lpips(psnr, ssim, kld) == pytest.approx(
        psnr * ssim * 2 ** (1 - lpips - kld), rel=1e-15
    )
    np.testing.assert_allclose(
        M.m4_no_lpips(np.array([30.0, 20.0]), 0.5, np.array([0.0, 1.0])), [30.0, 10.0]
    )
