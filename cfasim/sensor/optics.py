"""Optional optics and pixel effects of the sensor simulation (all off by default).

Each effect is a pure function on float arrays; the sensor chain applies them in this order:

1. :func:`apply_psf` -- lens blur of the clean (H, W, 3) linear image, before CFA sampling;
2. :func:`shading_map` -- relative illumination (vignetting): multiply the image by the map;
3. CFA sampling -> mean photo-electrons per pixel;
4. :func:`apply_crosstalk` -- optical/electrical leakage between neighbouring pixels on the
   (H, W) mean-electron mosaic, before noise;
5. shot noise -> :func:`bloom` -- full-well saturation whose excess charge spills along the
   column (CMOS/CCD blooming), before read noise.

:class:`Optics` bundles the settings; it is JSON-able (``to_dict``/``from_dict``) for the dataset
config and parses the CLI text ``psf=1.2,shading=1500,crosstalk=0.02,blooming``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

import numpy as np
from numba import njit
from scipy import ndimage

__all__ = [
    "Optics",
    "apply_crosstalk",
    "apply_psf",
    "bloom",
    "bloom_with_loss",
    "crosstalk_kernel",
    "gaussian_psf",
    "load_psf",
    "relative_illumination",
    "shading_map",
]

PSF_TRUNCATE = 4.0
"""Default Gaussian PSF radius in sigmas, ``ceil(4 sigma)`` (as ``scipy.ndimage.gaussian_filter``).

A 3-sigma cut-off drops 2.7 % of the variance of a wide Gaussian (variance 0.977 sigma^2 at
sigma = 10); at 4 sigma the sampled kernel's variance is within 0.1 % of sigma^2 for sigma >= 1."""

_KERNEL_TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".dat")


# -- point spread function -------------------------------------------------------------------


def gaussian_psf(sigma_px: float, radius: int | None = None) -> np.ndarray:
    """Normalised, point-sampled 2-D Gaussian PSF.

    Parameters
    ----------
    sigma_px
        Standard deviation in pixels (> 0).
    radius
        Half-width of the kernel; the kernel is (2 radius + 1) square. Default
        ``max(1, ceil(PSF_TRUNCATE * sigma_px))`` = ``ceil(4 sigma)``.

    Returns
    -------
    numpy.ndarray
        float64 kernel ``k[i, j] ~ exp(-((i - r)^2 + (j - r)^2) / (2 sigma^2))`` with sum 1. It is
        the outer product of two normalised 1-D Gaussians, so :func:`apply_psf` blurs separably.
    """
    sigma = float(sigma_px)
    if not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"PSF sigma must be a finite number > 0 pixels, got {sigma_px!r}")
    if radius is None:
        radius = max(1, math.ceil(PSF_TRUNCATE * sigma))
    if int(radius) != radius or radius < 0:
        raise ValueError(f"PSF radius must be an integer >= 0, got {radius!r}")
    x = np.arange(-int(radius), int(radius) + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g)


def _check_kernel(kernel, what: str) -> np.ndarray:
    """A validated, normalised float64 copy of a PSF kernel; ``what`` names it in errors."""
    k = np.array(kernel, dtype=np.float64)
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"{what}: a PSF kernel must be a non-empty 2-D array, got shape {k.shape}")
    if k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ValueError(f"{what}: PSF kernel sides must be odd (centred), got shape {k.shape}")
    if not np.isfinite(k).all():
        raise ValueError(f"{what}: PSF kernel holds NaN or infinite values")
    if (k < 0).any():
        raise ValueError(f"{what}: PSF kernel holds negative values (min {k.min():g})")
    total = k.sum()
    if total <= 0:
        raise ValueError(f"{what}: PSF kernel sums to 0")
    return k / total


def load_psf(path) -> np.ndarray:
    """User PSF kernel from a ``.npy`` file or a text/CSV file (one kernel row per line).

    Text files may separate values by commas, semicolons, tabs or spaces; ``#`` starts a
    comment. The kernel must be 2-D with odd sides, finite and non-negative; it is returned as
    float64 normalised to sum 1. Any problem raises ``ValueError`` naming the file.
    """
    path = os.fspath(path)
    try:
        if path.lower().endswith(".npy"):
            data = np.load(path, allow_pickle=False)
        else:
            with open(path, encoding="utf-8") as f:
                lines = [ln.split("#", 1)[0].strip() for ln in f]
            rows = [ln.replace(",", " ").replace(";", " ").split() for ln in lines if ln]
            if len({len(r) for r in rows}) > 1:
                raise ValueError("rows have different numbers of values")
            data = np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    except FileNotFoundError:
        raise ValueError(f"PSF file {path!r} does not exist") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read PSF kernel from {path!r}: {exc}") from None
    return _check_kernel(data, f"PSF file {path!r}")


def _separable_factors(k: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(column, row) factors with sum 1 each if ``k`` (sum 1) is an outer product, else None."""
    col = k.sum(axis=1)
    row = k.sum(axis=0)
    if np.allclose(np.outer(col, row), k, rtol=0.0, atol=1e-12 * k.max()):
        return col, row
    return None


def apply_psf(image, kernel) -> np.ndarray:
    """Blur a linear image with a PSF, channel by channel.

    Parameters
    ----------
    image
        (H, W, C) (or (H, W)) linear image, typically the clean float32 RGB before CFA sampling.
    kernel
        2-D PSF with odd sides (normalised here to sum 1): the image of a point source, so a
        point at p spreads to ``p + (dy, dx)`` with weight ``kernel[ry + dy, rx + dx]``.

    Returns
    -------
    numpy.ndarray
        float32 array of the image's shape: ``out(p) = sum_d kernel(d) * in(p - d)`` (a true
        convolution), summed in float64 with half-sample mirror edges (``d c b a | a b c d``).
        A flat field is preserved exactly; for a mirror-symmetric kernel the image sum is
        preserved up to rounding, for others approximately (edges only). Separable kernels
        (e.g. :func:`gaussian_psf`) run as two 1-D passes.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"apply_psf expects an (H, W) or (H, W, C) image, got shape {img.shape}")
    k = _check_kernel(kernel, "apply_psf")
    if k.shape == (1, 1):
        return img.astype(np.float32, copy=True)
    factors = _separable_factors(k)
    if factors is not None:
        col, row = factors
        # ndimage sums each line in float64 and rounds once to the float32 output per pass
        tmp = ndimage.convolve1d(img, col, axis=0, output=np.float32, mode="reflect")
        return ndimage.convolve1d(tmp, row, axis=1, output=np.float32, mode="reflect")
    k3 = k if img.ndim == 2 else k[:, :, None]
    return ndimage.convolve(img, k3, output=np.float32, mode="reflect")


# -- shading (relative illumination) ---------------------------------------------------------


def _check_shading_params(focal_length_px, poly) -> tuple[float | None, tuple[float, ...]]:
    if focal_length_px is not None:
        f = float(focal_length_px)
        if not math.isfinite(f) or f <= 0:
            raise ValueError(f"shading focal length must be > 0 pixels, got {focal_length_px!r}")
        focal_length_px = f
    coeffs = tuple(float(a) for a in poly)
    if not all(math.isfinite(a) for a in coeffs):
        raise ValueError(f"shading polynomial coefficients must be finite, got {poly!r}")
    return focal_length_px, coeffs


def relative_illumination(
    r_px, half_diagonal_px: float, focal_length_px: float | None = None, poly=()
) -> np.ndarray:
    """Relative illumination at distances ``r_px`` (pixels) from the optical centre.

    ``cos^4(atan(r / f)) * (1 + a1 rn^2 + a2 rn^4 + ...)`` with ``rn = r / half_diagonal_px``;
    ``cos^4(atan(t)) = 1 / (1 + t^2)^2``. Either factor is 1 when not given. float64, no range
    check (see :func:`shading_map`).
    """
    focal, coeffs = _check_shading_params(focal_length_px, poly)
    r = np.asarray(r_px, dtype=np.float64)
    out = np.ones_like(r)
    if focal is not None:
        out = out / (1.0 + (r / focal) ** 2) ** 2
    if coeffs:
        rn2 = (r / float(half_diagonal_px)) ** 2
        p = np.zeros_like(r)
        for a in reversed(coeffs):  # Horner in rn^2: (...(a_n rn2 + a_{n-1}) rn2 + ...) rn2
            p = (p + a) * rn2
        out = out * (1.0 + p)
    return out


def shading_map(
    height: int,
    width: int,
    *,
    focal_length_px: float | None = None,
    poly: tuple[float, ...] = (),
) -> np.ndarray:
    """(H, W) float32 relative-illumination map (vignetting), 1 at the optical centre.

    The optical centre is the image centre ``(H / 2, W / 2)``; pixel (i, j) has its centre at
    ``(i + 0.5, j + 0.5)``, radius ``r = hypot(i + 0.5 - H / 2, j + 0.5 - W / 2)``. The value is
    :func:`relative_illumination` with the half-diagonal ``hypot(H, W) / 2`` as the polynomial's
    unit radius: the natural cos^4 law ``cos^4(atan(r / f))`` (f = focal length in pixels) times
    ``1 + a1 rn^2 + a2 rn^4 + ...`` (``poly = (a1, a2, ...)``).

    Raises
    ------
    ValueError
        If a value falls outside (0, 1]: the polynomial must not reach zero (or below) nor
        brighten any pixel above the centre.
    """
    if int(height) != height or int(width) != width or height < 1 or width < 1:
        raise ValueError(f"shading map size must be positive integers, got {height}x{width}")
    y = np.arange(int(height), dtype=np.float64) + 0.5 - height / 2.0
    x = np.arange(int(width), dtype=np.float64) + 0.5 - width / 2.0
    r = np.hypot(y[:, None], x[None, :])
    half_diag = 0.5 * math.hypot(height, width)
    m = relative_illumination(r, half_diag, focal_length_px, poly)
    lo, hi = float(m.min()), float(m.max())
    if lo <= 0:
        raise ValueError(
            f"shading polynomial {tuple(poly)} makes the relative illumination <= 0 "
            f"(min {lo:.4g}) on a {height}x{width} image"
        )
    if hi > 1.0 + 1e-12:
        raise ValueError(
            f"shading polynomial {tuple(poly)} brightens pixels above the centre "
            f"(max {hi:.6g} > 1) on a {height}x{width} image"
        )
    return np.minimum(m, 1.0).astype(np.float32)


# -- crosstalk -------------------------------------------------------------------------------


def crosstalk_kernel(alpha: float, diagonal: float = 0.0) -> np.ndarray:
    """3x3 crosstalk kernel: ``[[d, a, d], [a, 1 - 4a - 4d, a], [d, a, d]]`` (float64).

    ``alpha`` is the fraction of a pixel's signal that leaks to each of its 4 edge neighbours,
    ``diagonal`` the fraction to each of its 4 diagonal neighbours; the pixel keeps the rest.
    """
    a, d = float(alpha), float(diagonal)
    if not (math.isfinite(a) and math.isfinite(d)) or a < 0 or d < 0:
        raise ValueError(
            f"crosstalk fractions must be finite and >= 0, got {alpha!r}, {diagonal!r}"
        )
    centre = 1.0 - 4.0 * a - 4.0 * d
    if centre < 0:
        raise ValueError(
            f"crosstalk too large: 1 - 4*{a:g} - 4*{d:g} = {centre:g} < 0 left in the pixel"
        )
    return np.array([[d, a, d], [a, centre, a], [d, a, d]], dtype=np.float64)


def apply_crosstalk(mosaic, kernel) -> np.ndarray:
    """Leak signal between neighbouring pixels of a mosaic.

    Parameters
    ----------
    mosaic
        (..., H, W) mean-electron mosaic (after CFA sampling, before noise).
    kernel
        Odd-sided 2-D kernel with non-negative entries summing to 1, usually
        :func:`crosstalk_kernel`; ``kernel[r + dy, r + dx]`` is the fraction a pixel receives
        from its neighbour at offset (dy, dx) (equal to what it sends there when the kernel is
        symmetric).

    Returns
    -------
    numpy.ndarray
        float32 ``out(p) = sum_d kernel(d) * in(p + d)``, summed in float64. Edges use the
        half-sample mirror (``d c b a | a b c d``): the signal a border pixel would leak off the
        sensor comes back to it, so with a mirror-symmetric kernel the total is conserved
        everywhere, not only in the interior.
    """
    m = np.asarray(mosaic)
    if m.ndim < 2:
        raise ValueError(f"apply_crosstalk expects an (..., H, W) mosaic, got shape {m.shape}")
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ValueError(f"crosstalk kernel must be 2-D with odd sides, got shape {k.shape}")
    if not np.isfinite(k).all() or (k < 0).any() or abs(k.sum() - 1.0) > 1e-9:
        raise ValueError("crosstalk kernel must be finite, non-negative and sum to 1")
    kk = k.reshape((1,) * (m.ndim - 2) + k.shape)
    return ndimage.correlate(m, kk, output=np.float32, mode="reflect")


# -- blooming --------------------------------------------------------------------------------


@njit(nogil=True, cache=True)
def _bloom_kernel(e, full_well, out, lost):  # pragma: no cover - compiled  # noqa: C901 (fused kernel)
    """Divisible-sandpile blooming of every column of ``e`` (N, H, W); see :func:`bloom`."""
    n_img, h, w = e.shape
    psi = np.empty(h + 2, dtype=np.float64)  # psi[x + 1], x = -1 .. h
    hull = np.empty(h + 2, dtype=np.int64)  # positions x of the upper hull vertices
    col = np.empty(h, dtype=np.float64)
    for n in range(n_img):
        for j in range(w):
            peak = -np.inf
            for i in range(h):
                v = np.float64(e[n, i, j])
                col[i] = v
                out[n, i, j] = e[n, i, j]
                if v > peak:
                    peak = v
            if peak <= full_well:
                continue
            # psi: second differences c(x) = v(x) / FW - 1 on 0..h-1, psi(-1) = psi(0) = 0
            psi[0] = 0.0
            psi[1] = 0.0
            cum = 0.0
            for x in range(h):
                cum += col[x] / full_well - 1.0
                psi[x + 2] = psi[x + 1] + cum
            # least concave majorant through (-1, psi(-1)) .. (h, psi(h)): monotone chain
            m = 0
            for x in range(-1, h + 1):
                y = psi[x + 1]
                while m >= 2:
                    x1 = hull[m - 2]
                    x2 = hull[m - 1]
                    y1 = psi[x1 + 1]
                    y2 = psi[x2 + 1]
                    if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) >= 0.0:
                        m -= 1  # x2 lies on or below the chord x1 -> x
                    else:
                        break
                hull[m] = x
                m += 1
            # every run strictly between two hull vertices topples: it ends at FW and its excess
            # leaves through its two ends with gambler's-ruin weights
            for k in range(m - 1):
                p = hull[k]
                q = hull[k + 1]
                if q - p < 2:
                    continue
                excess = 0.0
                moment = 0.0
                for x in range(p + 1, q):
                    ex = col[x] - full_well
                    excess += ex
                    moment += ex * (x - p)
                right = moment / (q - p)
                left = excess - right
                for x in range(p + 1, q):
                    col[x] = full_well
                if p < 0:
                    lost[n, 0, j] += left
                else:
                    col[p] += left
                if q >= h:
                    lost[n, 1, j] += right
                else:
                    col[q] += right
            for i in range(h):
                v = col[i]
                if v > full_well:  # rounding only
                    v = full_well
                out[n, i, j] = np.float32(v)


def bloom_with_loss(electrons, full_well: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`bloom` that also returns the charge that left the sensor.

    Returns
    -------
    out : numpy.ndarray
        float32 bloomed mosaic, the shape of ``electrons``.
    lost : numpy.ndarray
        float64 (..., 2, W): charge that left each column through the top (``[..., 0, :]``) and
        the bottom (``[..., 1, :]``) edge. ``out.sum() + lost.sum() == electrons.sum()`` up to
        rounding.
    """
    e = np.asarray(electrons)
    if e.ndim < 2:
        raise ValueError(f"bloom expects an (..., H, W) electron mosaic, got shape {e.shape}")
    fw = float(full_well)
    if not math.isfinite(fw) or fw <= 0:
        raise ValueError(f"full well must be a finite number > 0, got {full_well!r}")
    lead = e.shape[:-2]
    h, w = e.shape[-2:]
    e3 = np.ascontiguousarray(e, dtype=np.float32).reshape(-1, h, w)
    out = np.empty_like(e3)
    lost = np.zeros((e3.shape[0], 2, w), dtype=np.float64)
    if e3.size:
        _bloom_kernel(e3, fw, out, lost)
    return out.reshape(*lead, h, w), lost.reshape(*lead, 2, w)


def bloom(electrons, full_well: float) -> np.ndarray:
    """Full-well saturation with vertical blooming.

    Every pixel holding more than ``full_well`` electrons spills its excess half to the pixel
    above and half to the pixel below (along the column, as charge overflows in CMOS/CCD
    sensors), repeatedly until no pixel exceeds the full well; charge spilled past the top or
    bottom row leaves the sensor. This is the divisible sandpile (Levine & Peres 2009), whose
    final state does not depend on the order of spilling, so it is computed exactly rather than
    by iterating: the total charge ``u(x) >= 0`` a pixel spills is the least solution of
    ``e(x) + (u(x-1) + u(x+1)) / 2 - u(x) <= FW`` (u = 0 outside the sensor), which is
    ``u = 2 FW (L - psi)`` with ``psi`` the double cumulative sum of ``e / FW - 1`` (taken from
    row -1 to row H) and ``L`` its least concave majorant (upper convex hull). Pixels strictly
    below the majorant spill: each such run ``a..b`` ends at exactly FW and sends
    ``sum (e(x) - FW) (b + 1 - x) / (b - a + 2)`` to pixel ``a - 1`` and the rest of its excess
    to ``b + 1`` (gambler's-ruin weights).

    Cost: O(H) per column (one cumulative sum, one monotone-chain hull, one pass over the runs);
    columns at or below full well are only copied. Deterministic, serial, ``nogil`` Numba.

    Parameters
    ----------
    electrons
        (..., H, W) electron mosaic (float32 or convertible).
    full_well
        Full-well capacity in electrons (> 0).

    Returns
    -------
    numpy.ndarray
        float32 mosaic, no pixel above ``full_well``; total charge conserved except what left at
        the top/bottom edge (see :func:`bloom_with_loss`).
    """
    return bloom_with_loss(electrons, full_well)[0]


# -- settings --------------------------------------------------------------------------------

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_SPEC_KEYS = {
    "psf": "psf",
    "psf_sigma": "psf_sigma_px",
    "psf_sigma_px": "psf_sigma_px",
    "psf_path": "psf_path",
    "shading": "shading_focal_px",
    "shading_focal": "shading_focal_px",
    "shading_focal_px": "shading_focal_px",
    "shading_poly": "shading_poly",
    "crosstalk": "crosstalk",
    "crosstalk_diagonal": "crosstalk_diagonal",
    "blooming": "blooming",
}


@dataclass(frozen=True)
class Optics:
    """Optics and pixel-effect settings of the sensor simulation; everything off by default.

    Attributes
    ----------
    psf_sigma_px
        Gaussian PSF sigma in pixels (0 = no blur).
    psf_path
        User PSF kernel file (``.npy`` or text/CSV); excludes ``psf_sigma_px``.
    shading_focal_px
        Focal length in pixels for the cos^4 law (None = no cos^4 falloff).
    shading_poly
        Polynomial shading coefficients ``(a1, a2, ...)`` of ``1 + a1 rn^2 + a2 rn^4 + ...``.
    crosstalk
        Fraction leaking to each edge neighbour.
    crosstalk_diagonal
        Fraction leaking to each diagonal neighbour.
    blooming
        Spill charge above full well along columns (:func:`bloom`).
    """

    psf_sigma_px: float = 0.0
    psf_path: str | None = None
    shading_focal_px: float | None = None
    shading_poly: tuple = ()
    crosstalk: float = 0.0
    crosstalk_diagonal: float = 0.0
    blooming: bool = False

    def __post_init__(self):
        sigma = float(self.psf_sigma_px)
        if not math.isfinite(sigma) or sigma < 0:
            raise ValueError(f"psf_sigma_px must be >= 0, got {self.psf_sigma_px!r}")
        path = None if self.psf_path in (None, "") else os.fspath(self.psf_path)
        if path is not None and sigma > 0:
            raise ValueError("give either psf_sigma_px or psf_path, not both")
        if isinstance(self.shading_poly, str | bytes):
            raise ValueError(f"shading_poly must be a sequence of numbers: {self.shading_poly!r}")
        focal, poly = _check_shading_params(self.shading_focal_px, self.shading_poly)
        crosstalk_kernel(self.crosstalk, self.crosstalk_diagonal)  # validates
        if not isinstance(self.blooming, bool | np.bool_):
            raise ValueError(f"blooming must be a bool, got {self.blooming!r}")
        object.__setattr__(self, "psf_sigma_px", sigma)
        object.__setattr__(self, "psf_path", path)
        object.__setattr__(self, "shading_focal_px", focal)
        object.__setattr__(self, "shading_poly", poly)
        object.__setattr__(self, "crosstalk", float(self.crosstalk))
        object.__setattr__(self, "crosstalk_diagonal", float(self.crosstalk_diagonal))
        object.__setattr__(self, "blooming", bool(self.blooming))

    @property
    def enabled(self) -> bool:
        """Whether any effect is on."""
        return (
            self.psf_sigma_px > 0
            or self.psf_path is not None
            or self.shading_focal_px is not None
            or bool(self.shading_poly)
            or self.crosstalk > 0
            or self.crosstalk_diagonal > 0
            or self.blooming
        )

    def psf(self) -> np.ndarray | None:
        """The PSF kernel (Gaussian or loaded from ``psf_path``; the file is read on every call),
        or None."""
        if self.psf_path is not None:
            return load_psf(self.psf_path)
        if self.psf_sigma_px > 0:
            return gaussian_psf(self.psf_sigma_px)
        return None

    def shading(self, height: int, width: int) -> np.ndarray | None:
        """The (H, W) float32 shading map, or None when shading is off."""
        if self.shading_focal_px is None and not self.shading_poly:
            return None
        return shading_map(
            height, width, focal_length_px=self.shading_focal_px, poly=self.shading_poly
        )

    def crosstalk_kernel(self) -> np.ndarray | None:
        """The 3x3 crosstalk kernel, or None when crosstalk is off."""
        if self.crosstalk == 0 and self.crosstalk_diagonal == 0:
            return None
        return crosstalk_kernel(self.crosstalk, self.crosstalk_diagonal)

    def to_dict(self) -> dict:
        """JSON-able dict of all fields (``shading_poly`` as a list)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["shading_poly"] = list(self.shading_poly)
        return d

    @classmethod
    def from_dict(cls, data: dict | None) -> Optics:
        """Inverse of :meth:`to_dict`; missing keys take defaults, unknown keys raise."""
        if data is None:
            return cls()
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown optics keys {unknown}; known: {sorted(names)}")
        kw = dict(data)
        if "shading_poly" in kw and kw["shading_poly"] is not None:
            kw["shading_poly"] = tuple(kw["shading_poly"])
        elif "shading_poly" in kw:
            kw["shading_poly"] = ()
        return cls(**kw)

    @classmethod
    def parse(cls, spec: str | None) -> Optics:
        """Settings from CLI text: comma-separated ``key=value`` items.

        Keys: ``psf`` (a number = Gaussian sigma in pixels, otherwise a kernel file path),
        ``psf_sigma``, ``psf_path``, ``shading`` / ``shading_focal`` (cos^4 focal length in
        pixels), ``shading_poly`` (coefficients separated by ``:``, e.g. ``-0.2:0.05``),
        ``crosstalk``, ``crosstalk_diagonal`` and ``blooming`` (bare = on, or
        ``=true/false/1/0/yes/no/on/off``). Full field names are accepted too. An empty text,
        ``none`` or ``off`` gives all effects off. Example:
        ``psf=1.2,shading=1500,crosstalk=0.02,blooming``.
        """
        text = (spec or "").strip()
        if text.lower() in ("", "none", "off"):
            return cls()
        kw: dict = {}
        for item in text.split(","):
            key, sep, val = (s.strip() for s in item.partition("="))
            key = key.lower()
            if key not in _SPEC_KEYS:
                raise ValueError(
                    f"unknown optics key {key!r} in {spec!r}; known: {', '.join(_SPEC_KEYS)}"
                )
            field = _SPEC_KEYS[key]
            if key == "blooming":
                if sep and val.lower() not in _TRUE + _FALSE:
                    raise ValueError(f"blooming takes no value or true/false, got {val!r}")
                value = not sep or val.lower() in _TRUE
            elif not sep or not val:
                raise ValueError(f"optics key {key!r} needs a value ({key}=...) in {spec!r}")
            elif field == "psf":
                try:
                    field, value = "psf_sigma_px", float(val)
                except ValueError:
                    field, value = "psf_path", val
            elif field == "psf_path":
                value = val
            elif field == "shading_poly":
                value = tuple(_number(v, key, spec) for v in val.split(":"))
            else:
                value = _number(val, key, spec)
            if field in kw:
                raise ValueError(f"optics setting {field!r} given twice in {spec!r}")
            kw[field] = value
        return cls(**kw)

    def spec(self) -> str:
        """Inverse of :meth:`parse` (``"none"`` when everything is off)."""
        parts = []
        if self.psf_sigma_px > 0:
            parts.append(f"psf={self.psf_sigma_px!r}")
        if self.psf_path is not None:
            if "," in self.psf_path or "=" in self.psf_path:
                raise ValueError(f"PSF path {self.psf_path!r} cannot be written as an optics spec")
            parts.append(f"psf_path={self.psf_path}")
        if self.shading_focal_px is not None:
            parts.append(f"shading={self.shading_focal_px!r}")
        if self.shading_poly:
            parts.append("shading_poly=" + ":".join(repr(a) for a in self.shading_poly))
        if self.crosstalk > 0:
            parts.append(f"crosstalk={self.crosstalk!r}")
        if self.crosstalk_diagonal > 0:
            parts.append(f"crosstalk_diagonal={self.crosstalk_diagonal!r}")
        if self.blooming:
            parts.append("blooming")
        return ",".join(parts) or "none"


def _number(val: str, key: str, spec) -> float:
    try:
        x = float(val)
    except ValueError:
        raise ValueError(f"bad number {val!r} for optics key {key!r} in {spec!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"optics key {key!r} needs a finite number, got {val!r}")
    return x
