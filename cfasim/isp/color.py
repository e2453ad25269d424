"""Colour maths of the unprocessing chain: transfer curves, tone curve, camera matrices, gains.

All functions are pure NumPy and work on arrays of any shape (colour on the last axis where a
colour axis exists). References: IEC 61966-2-1 (sRGB); Brooks et al., "Unprocessing Images for
Learned Raw Denoising", CVPR 2019 (tone curve, camera matrices, gain sampling).
"""

from __future__ import annotations

import numpy as np

TRANSFERS = ("srgb", "gamma2.2")
"""Display transfer curves: the exact piecewise sRGB curve, or Brooks' plain 2.2 power."""

RGB2XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
"""Linear sRGB (D65) -> CIE XYZ."""

CAMERA_XYZ2CAM = np.array(
    [
        # Brooks et al. 2019 bank (xyz -> camera, rows = camera R, G, B). Provenance in
        # docs/unprocessing.md: Nexus 6P (presumed), Sony A7R, Olympus E-M10, Sony RX100 IV.
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
    ]
)
"""Real XYZ -> camera matrices (one per camera)."""
CAMERA_NAMES = ("nexus6p", "sony-a7r", "olympus-em10", "sony-rx100iv")
"""Names of the :data:`CAMERA_XYZ2CAM` matrices, in order (``cfasim generate --camera``)."""


def camera_xyz2cam(name: str) -> np.ndarray:
    """The XYZ -> camera matrix of the bank's camera ``name`` (:data:`CAMERA_NAMES`)."""
    if name not in CAMERA_NAMES:
        raise ValueError(f"unknown camera {name!r}; choose one of {', '.join(CAMERA_NAMES)}")
    return CAMERA_XYZ2CAM[CAMERA_NAMES.index(name)].copy()


# sRGB transfer (IEC 61966-2-1)
_SRGB_A = 0.055
_SRGB_GAMMA = 2.4
_SRGB_LINEAR_SLOPE = 12.92
_SRGB_ENCODED_KNEE = 0.04045
_SRGB_LINEAR_KNEE = 0.0031308

HIGHLIGHT_THRESHOLD = 0.9
"""Grey level above which gain inversion fades out (Brooks' safe_invert_gains)."""


def srgb_decode(v: np.ndarray) -> np.ndarray:
    """sRGB EOTF: encoded value V in [0, 1] -> linear L."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(
        v <= _SRGB_ENCODED_KNEE,
        v / _SRGB_LINEAR_SLOPE,
        ((np.maximum(v, _SRGB_ENCODED_KNEE) + _SRGB_A) / (1 + _SRGB_A)) ** _SRGB_GAMMA,
    )


def srgb_encode(lin: np.ndarray) -> np.ndarray:
    """Inverse sRGB EOTF: linear L in [0, 1] -> encoded V."""
    lin = np.asarray(lin, dtype=np.float64)
    return np.where(
        lin <= _SRGB_LINEAR_KNEE,
        lin * _SRGB_LINEAR_SLOPE,
        (1 + _SRGB_A) * np.maximum(lin, _SRGB_LINEAR_KNEE) ** (1 / _SRGB_GAMMA) - _SRGB_A,
    )


def gamma_decode(v: np.ndarray, gamma: float = 2.2) -> np.ndarray:
    """Plain power-law decode ``max(v, 1e-8) ** gamma`` (Brooks' gamma expansion)."""
    return np.maximum(np.asarray(v, dtype=np.float64), 1e-8) ** gamma


def gamma_encode(lin: np.ndarray, gamma: float = 2.2) -> np.ndarray:
    """Plain power-law encode ``max(lin, 1e-8) ** (1 / gamma)``."""
    return np.maximum(np.asarray(lin, dtype=np.float64), 1e-8) ** (1 / gamma)


def decode(v: np.ndarray, transfer: str) -> np.ndarray:
    """Encoded display value -> linear, with the named transfer (see :data:`TRANSFERS`)."""
    if transfer == "srgb":
        return srgb_decode(v)
    if transfer == "gamma2.2":
        return gamma_decode(v)
    raise ValueError(f"unknown transfer {transfer!r}; choose one of {', '.join(TRANSFERS)}")


def encode(lin: np.ndarray, transfer: str) -> np.ndarray:
    """Linear -> encoded display value, with the named transfer."""
    if transfer == "srgb":
        return srgb_encode(lin)
    if transfer == "gamma2.2":
        return gamma_encode(lin)
    raise ValueError(f"unknown transfer {transfer!r}; choose one of {', '.join(TRANSFERS)}")


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Global tone curve S(x) = 3x^2 - 2x^3 on [0, 1]."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def inverse_smoothstep(y: np.ndarray) -> np.ndarray:
    """Exact inverse of :func:`smoothstep` on [0, 1]: ``0.5 - sin(asin(1 - 2y) / 3)``."""
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, 1.0)
    return 0.5 - np.sin(np.arcsin(1.0 - 2.0 * y) / 3.0)


def random_xyz2cam(rng: np.random.Generator) -> np.ndarray:
    """Random convex combination of :data:`CAMERA_XYZ2CAM` (weights uniform in [1e-8, 1e8])."""
    weights = rng.uniform(1e-8, 1e8, size=len(CAMERA_XYZ2CAM))
    weights /= weights.sum()
    total = np.zeros((3, 3))
    for w, m in zip(weights, CAMERA_XYZ2CAM, strict=True):  # fixed order: no BLAS (see below)
        total = total + w * m
    return total


def rgb2cam_from_xyz2cam(xyz2cam: np.ndarray) -> np.ndarray:
    """Linear sRGB -> camera matrix ``xyz2cam @ RGB2XYZ`` with rows normalised to sum 1
    (so sRGB white maps to camera (1, 1, 1) before white balance)."""
    m = matmul3(np.asarray(xyz2cam, dtype=np.float64), RGB2XYZ)
    return m / (m[..., 0:1] + m[..., 1:2] + m[..., 2:3])


def inv3(m: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 matrix by its adjugate (fixed arithmetic, the same bits on every
    machine, unlike LAPACK's); ``numpy.linalg.LinAlgError`` if it is singular."""
    m = np.asarray(m, dtype=np.float64)
    (a, b, c), (d, e, f), (g, h, i) = m
    adj = np.array(
        [
            [e * i - f * h, c * h - b * i, b * f - c * e],
            [f * g - d * i, a * i - c * g, c * d - a * f],
            [d * h - e * g, b * g - a * h, a * e - b * d],
        ]
    )
    det = a * adj[0, 0] + b * adj[1, 0] + c * adj[2, 0]
    if det == 0 or not np.isfinite(det):
        raise np.linalg.LinAlgError("singular 3x3 matrix")
    return adj / det


def matmul3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for (..., 3, 3) matrices with the three products summed left to right, so
    the result is the same bits on every machine: BLAS (which ``@`` calls) picks kernels by CPU
    (FMA, AVX-512) and rounds differently, and these matrices are stored in datasets."""
    return a[..., :, 0:1] * b[0] + a[..., :, 1:2] * b[1] + a[..., :, 2:3] * b[2]


def sample_gains(rng: np.random.Generator) -> tuple[float, float, float]:
    """Brooks' gain sampling: (red_gain ~ U(1.9, 2.4), blue_gain ~ U(1.5, 1.9),
    digital_gain = 1 / N(0.8, 0.1)). The forward ISP multiplies camera R, G, B by
    ``digital_gain * (red_gain, 1, blue_gain)``; unprocessing divides by it."""
    digital = 1.0 / rng.normal(0.8, 0.1)
    red = rng.uniform(1.9, 2.4)
    blue = rng.uniform(1.5, 1.9)
    return float(red), float(blue), float(digital)


def inverse_gains(red_gain: float, blue_gain: float, digital_gain: float) -> np.ndarray:
    """Per-channel factors that unprocessing applies: 1 / (digital * (red, 1, blue))."""
    return np.array([1.0 / red_gain, 1.0, 1.0 / blue_gain]) / digital_gain


def highlight_mask(gray: np.ndarray) -> np.ndarray:
    """Weight in [0, 1] that fades gain inversion out for grey levels above 0.9."""
    t = HIGHLIGHT_THRESHOLD
    return (np.maximum(np.asarray(gray, dtype=np.float64) - t, 0.0) / (1.0 - t)) ** 2


def safe_gain_factors(gray: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Highlight-preserving per-channel factors: ``max(m + (1 - m) g, g)`` with m the
    :func:`highlight_mask` of the pixel's grey level. Shape (..., 3)."""
    m = highlight_mask(gray)[..., None]
    g = np.asarray(gains, dtype=np.float64)
    return np.maximum(m + (1.0 - m) * g, g)


def apply_safe_gains(cam: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Multiply camera RGB (..., 3) by the highlight-safe inverse gains."""
    return cam * safe_gain_factors(cam.mean(axis=-1), gains)


def invert_safe_gains(out: np.ndarray, gains: np.ndarray, iterations: int = 60) -> np.ndarray:
    """Exact inverse of :func:`apply_safe_gains`.

    Given ``y = x * s(mean(x))`` the grey level t = mean(x) solves ``mean(y / s(t)) = t``; the
    left side does not increase with t, so the root is unique. Pixels whose root lies below the
    highlight threshold are plain divisions; the others are found by bisection on (0.9, t_max].
    """
    y = np.asarray(out, dtype=np.float64)
    g = np.asarray(gains, dtype=np.float64)
    x = y / g
    t = x.mean(axis=-1)
    hi_mask = t > HIGHLIGHT_THRESHOLD
    if hi_mask.any():
        yh = y[hi_mask]
        lo = np.full(yh.shape[:-1], HIGHLIGHT_THRESHOLD)
        hi = t[hi_mask]  # at t, s = g at most... so f(hi) <= 0; f(0.9) >= 0
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            f = (yh / safe_gain_factors(mid, g)).mean(axis=-1) - mid
            lo = np.where(f > 0, mid, lo)
            hi = np.where(f > 0, hi, mid)
        tm = 0.5 * (lo + hi)
        x[hi_mask] = yh / safe_gain_factors(tm, g)
    return x
