"""Image-quality metrics of the evaluation (NumPy / SciPy / colour-science only, no torch).

All functions are pure and compute in float64.

- :func:`psnr`: peak signal-to-noise ratio in dB (``skimage.metrics.peak_signal_noise_ratio``).
- :func:`ssim`: SSIM of Wang et al. 2004 with an 11-tap Gaussian window (sigma 1.5, truncated at
  3.5 sigma, ``reflect`` borders, a 5-pixel border strip left out of the mean), K1 = 0.01,
  K2 = 0.03, population covariances, per channel and averaged: the numbers of
  ``skimage.metrics.structural_similarity(a, b, channel_axis=-1, data_range=1,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.
- :func:`ms_ssim`: multi-scale SSIM of Wang, Simoncelli & Bovik 2003 (5 scales, weights
  :data:`MS_SSIM_WEIGHTS`, 2x2 average-pool downsampling), per channel and averaged.
- :func:`ciede2000`: mean CIEDE2000 colour difference of two sRGB images (colour-science:
  sRGB -> XYZ -> CIE Lab under D65, ``colour.delta_E(..., method="CIE 2000")``).
- :func:`kld_bayer`: the symmetric Kullback-Leibler divergence of Bayer histograms of the MIPI
  2022 Quad-remosaic challenge.
- :func:`m4_no_lpips`: the MIPI 2022 score ``M4 = PSNR * SSIM * 2^(1 - LPIPS - KLD)`` **with the
  LPIPS term set to 0** (LPIPS needs network weights cfasim does not ship), i.e.
  ``PSNR * SSIM * 2^(1 - KLD)``. It is an upper bound of the real M4 (LPIPS >= 0) and not
  comparable with published M4 values.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

SSIM_SIGMA = 1.5
"""Standard deviation of the SSIM Gaussian window (Wang et al. 2004)."""
SSIM_TRUNCATE = 3.5
"""The Gaussian window is truncated at this many sigmas: radius 5, an 11x11 window."""
SSIM_K1, SSIM_K2 = 0.01, 0.03
"""SSIM stabilising constants: C1 = (K1 L)^2, C2 = (K2 L)^2 with L the data range."""
SSIM_RADIUS = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
SSIM_WINDOW = 2 * SSIM_RADIUS + 1
"""Window side (11): the smallest image side SSIM accepts, and the border left out (5 px)."""
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Exponents of the 5 MS-SSIM scales, finest first (Wang, Simoncelli & Bovik 2003)."""
D65 = np.array([0.3127, 0.3290])
"""CIE 1931 2-degree chromaticity of D65, the sRGB white and the Lab reference white."""


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a, b


def _channels(a: np.ndarray) -> list[np.ndarray]:
    """(H, W) -> [a]; (H, W, C) -> the C channel planes."""
    if a.ndim == 2:
        return [a]
    if a.ndim == 3:
        return [a[..., c] for c in range(a.shape[-1])]
    raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {a.shape}")


def psnr(a, b, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range^2 / MSE)``.

    The one NumPy PSNR of cfasim (the training loss module has its torch twin,
    ``cfasim.train.losses.psnr``, which floors the MSE at 1e-12).

    Parameters
    ----------
    a, b
        Images of the same shape (any number of channels).
    data_range
        Peak-to-peak range of the data (1 for images in [0, 1]).

    Returns
    -------
    float
        PSNR in dB; ``inf`` for identical images.
    """
    a, b = _pair(a, b)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def _ssim_cs(x: np.ndarray, y: np.ndarray, data_range: float) -> tuple[float, float]:
    """(SSIM, contrast-structure term) of two 2D planes: the means of the SSIM map and of the
    cs map ``(2 cov + C2) / (var_x + var_y + C2)`` over the image less a 5-pixel border."""
    if min(x.shape) < SSIM_WINDOW:
        raise ValueError(
            f"image of {x.shape[0]}x{x.shape[1]} is smaller than the {SSIM_WINDOW}x{SSIM_WINDOW} "
            "SSIM window"
        )

    def f(v):
        return gaussian_filter(v, sigma=SSIM_SIGMA, truncate=SSIM_TRUNCATE, mode="reflect")

    ux, uy = f(x), f(y)
    vx = f(x * x) - ux * ux
    vy = f(y * y) - uy * uy
    vxy = f(x * y) - ux * uy
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    cs = (2.0 * vxy + c2) / (vx + vy + c2)
    lum = (2.0 * ux * uy + c1) / (ux * ux + uy * uy + c1)
    r = SSIM_RADIUS
    inner = (slice(r, -r), slice(r, -r))
    return float(np.mean((lum * cs)[inner])), float(np.mean(cs[inner]))


def ssim(a, b, data_range: float = 1.0) -> float:
    """Structural similarity (Wang et al. 2004), mean over channels.

    Parameters
    ----------
    a, b
        (H, W) or (H, W, C) images of the same shape, H and W >= 11.
    data_range
        Peak-to-peak range of the data (1 for images in [0, 1]).

    Returns
    -------
    float
        Mean SSIM: Gaussian window sigma 1.5 (11 taps), K1 0.01, K2 0.03, population
        covariances, ``reflect`` borders, a 5-pixel border strip excluded from the mean; the
        per-channel values averaged. Equals ``skimage.metrics.structural_similarity(a, b,
        channel_axis=-1, data_range=data_range, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False)``.
    """
    a, b = _pair(a, b)
    return float(
        np.mean(
            [_ssim_cs(x, y, data_range)[0] for x, y in zip(_channels(a), _channels(b), strict=True)]
        )
    )


def _pool2(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling with stride 2 (an odd last row / column is dropped)."""
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    return x[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def ms_ssim_scales(height: int, width: int, max_scales: int = len(MS_SSIM_WEIGHTS)) -> int:
    """Number of MS-SSIM scales an image of height x width supports: the scales j = 0, 1, ...
    (at most ``max_scales``) whose side ``min(height, width) // 2**j`` is still >= 11 (the SSIM
    window). 5 scales need a shortest side of at least 176 pixels."""
    side, n = min(height, width), 0
    while n < max_scales and side >= SSIM_WINDOW:
        n += 1
        side //= 2
    return n


def ms_ssim(a, b, data_range: float = 1.0, weights=MS_SSIM_WEIGHTS) -> float:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), mean over channels.

    Per channel: ``prod_j cs_j ** w_j`` over the scales j = 1..M-1 times ``ssim_M ** w_M`` at the
    coarsest scale M, where ``cs_j`` is the mean contrast-structure term and ``ssim_M`` the mean
    SSIM of :func:`ssim` (same window and constants); each next scale is a 2x2 average pool of
    the previous one. Negative terms are clamped to 0 before the fractional powers (as in
    common implementations such as ``pytorch_msssim``), so the result is in [0, 1].

    Images too small for all scales (the coarsest side must be >= 11, i.e. a shortest side of
    176 for 5 scales, see :func:`ms_ssim_scales`) use the first M supported scales with the
    first M weights renormalised to sum to 1; with M = 1 this is :func:`ssim` (clamped at 0).

    Parameters
    ----------
    a, b
        (H, W) or (H, W, C) images of the same shape, H and W >= 11.
    data_range
        Peak-to-peak range of the data.
    weights
        Scale exponents, finest first; default :data:`MS_SSIM_WEIGHTS`.

    Returns
    -------
    float
        MS-SSIM in [0, 1].
    """
    a, b = _pair(a, b)
    n = ms_ssim_scales(a.shape[0], a.shape[1], len(weights))
    if n == 0:
        raise ValueError(
            f"image of {a.shape[0]}x{a.shape[1]} is smaller than the {SSIM_WINDOW}x{SSIM_WINDOW} "
            "SSIM window"
        )
    w = np.asarray(weights[:n], dtype=np.float64)
    w = w / w.sum()
    values = []
    for x, y in zip(_channels(a), _channels(b), strict=True):
        terms = []
        for j in range(n):
            s, cs = _ssim_cs(x, y, data_range)
            terms.append(max(cs if j < n - 1 else s, 0.0))
            x, y = _pool2(x), _pool2(y)
        values.append(float(np.prod(np.asarray(terms) ** w)))
    return float(np.mean(values))


def srgb_to_lab(rgb) -> np.ndarray:
    """(..., 3) display sRGB in [0, 1] -> CIE Lab (D65 white, L in [0, 100]) with
    colour-science: ``colour.sRGB_to_XYZ`` (decodes the sRGB transfer and applies the
    IEC 61966-2-1 4-decimal RGB -> XYZ matrix) then ``colour.XYZ_to_Lab`` with the white of the
    D65 chromaticity (0.3127, 0.3290). Because the matrix is rounded, sRGB white maps to
    Lab (100, 0.008, 0.004), not exactly (100, 0, 0)."""
    import colour

    xyz = colour.sRGB_to_XYZ(np.asarray(rgb, dtype=np.float64), illuminant=D65)
    return np.asarray(colour.XYZ_to_Lab(xyz, illuminant=D65), dtype=np.float64)


def delta_e_2000(lab1, lab2) -> np.ndarray:
    """Per-pixel CIEDE2000 difference of two (..., 3) Lab arrays (``colour.delta_E``,
    ``method="CIE 2000"``, kL = kC = kH = 1)."""
    import colour

    return np.asarray(
        colour.delta_E(np.asarray(lab1, np.float64), np.asarray(lab2, np.float64), "CIE 2000"),
        dtype=np.float64,
    )


def ciede2000(a_srgb, b_srgb) -> float:
    """Mean CIEDE2000 colour difference of two (H, W, 3) display sRGB images in [0, 1].

    Both are converted to CIE Lab under D65 (:func:`srgb_to_lab`) and compared pixel by pixel
    with :func:`delta_e_2000`; returns the mean over pixels (in Delta E 2000 units; about 1 is a
    just-noticeable difference).
    """
    a, b = _pair(a_srgb, b_srgb)
    if a.shape[-1] != 3:
        raise ValueError(f"expected (..., 3) sRGB images, got shape {a.shape}")
    return float(np.mean(delta_e_2000(srgb_to_lab(a), srgb_to_lab(b))))


def _phase_kld(a: np.ndarray, b: np.ndarray, levels: int) -> float:
    n = a.size
    ha = np.histogram(a, bins=levels, range=(0, levels - 1))[0] / n
    hb = np.histogram(b, bins=levels, range=(0, levels - 1))[0] / n
    floor = 1.0 / n
    ha = np.where(ha != 0, ha, floor)
    hb = np.where(hb != 0, hb, floor)
    log_ratio = np.log(ha) - np.log(hb)
    return float((np.sum(ha * log_ratio) - np.sum(hb * log_ratio)) / 2.0)


def kld_bayer(a_dn, b_dn, levels: int = 1024) -> float:
    """Symmetric KL divergence of the code histograms of two Bayer mosaics (MIPI 2022).

    As the MIPI 2022 Quad Joint Remosaic and Denoise scoring program: for each of the four
    2x2 phases (``x[i::2, j::2]``), histograms of ``levels`` bins over [0, levels - 1] (one bin
    per code for integer data; values outside are ignored) are divided by the phase's pixel
    count n, zero bins are replaced by 1/n (no renormalisation), and
    ``(KL(p || q) + KL(q || p)) / 2`` is computed with natural logs; the four phases are
    averaged. Symmetric in its arguments; 0 for identical histograms.

    Parameters
    ----------
    a_dn, b_dn
        (H, W) Bayer mosaics in digital numbers (e.g. 10-bit codes with their black level),
        H and W even.
    levels
        Number of codes (1024 for 10-bit data).

    Returns
    -------
    float
        The mean symmetric KLD over the four phases (nats).
    """
    a, b = _pair(a_dn, b_dn)
    if a.ndim != 2 or a.shape[0] % 2 or a.shape[1] % 2:
        raise ValueError(f"expected an (H, W) Bayer mosaic with even sides, got {a.shape}")
    return float(
        np.mean(
            [_phase_kld(a[i::2, j::2], b[i::2, j::2], int(levels)) for i in (0, 1) for j in (0, 1)]
        )
    )


def m4_no_lpips(psnr_db, ssim_value, kld):
    """MIPI 2022 score M4 = PSNR * SSIM * 2^(1 - LPIPS - KLD) **with LPIPS = 0**.

    Parameters
    ----------
    psnr_db
        PSNR in dB (of the rendered RGB).
    ssim_value
        SSIM (of the rendered RGB).
    kld
        :func:`kld_bayer` of the Bayer output.

    Returns
    -------
    float or numpy.ndarray
        ``psnr_db * ssim_value * 2 ** (1 - kld)``. Not the challenge's M4: LPIPS (>= 0) is left
        out, so this is an upper bound of it, and it must always be labelled as "no LPIPS".
    """
    out = np.asarray(psnr_db, np.float64) * np.asarray(ssim_value, np.float64)
    out = out * 2.0 ** (1.0 - np.asarray(kld, np.float64))
    return float(out) if out.ndim == 0 else out


def m4(psnr_db, ssim_value, lpips_value, kld):
    """The MIPI 2022 remosaic challenge score M4 = PSNR * SSIM * 2^(1 - LPIPS - KLD).

    Parameters
    ----------
    psnr_db, ssim_value
        PSNR in dB and SSIM of the rendered RGB.
    lpips_value
        LPIPS of the rendered RGB (:func:`cfasim.train.predict.lpips_distance`).
    kld
        :func:`kld_bayer` of the Bayer output.

    Returns
    -------
    float or numpy.ndarray
    """
    lp = np.asarray(lpips_value, np.float64)
    out = m4_no_lpips(psnr_db, ssim_value, kld) * 2.0 ** (-lp)
    return float(out) if np.ndim(out) == 0 else out
