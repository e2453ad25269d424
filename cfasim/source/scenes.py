"""Built-in procedural scenes: scale-invariant dead leaves, the default image source.

A dead-leaves image is a stack of opaque disks; it has natural-image-like statistics (power-law
spectrum, occlusions, sharp edges at all scales) and costs nothing to store. All random numbers
come from ``np.random.default_rng(seed)`` (uniforms drawn in NumPy, turned into disk parameters
by small Numba loops); the drawing is a serial ``nogil`` Numba kernel, safe to call from several
Dask threads at once, so the output depends only on the arguments, never on the thread count.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from numba import njit

T_COVERED = 1e-3
"""A pixel whose remaining transmittance is below this is covered: later disks skip it."""
TEXTURE_PROB = 0.3
"""Fraction of disks given a sine-like grating texture (when ``texture=True``)."""
GRADIENT_PROB = 0.3
"""Fraction of disks given a linear shading ramp (when ``gradients=True``)."""
GREY_PROB = 0.1
"""Fraction of near-neutral colours (saturation below 0.05)."""
MAX_BATCHES = 128
"""Cap on the number of batches of disks (see :func:`batch_size`), about 8 times the need."""
TILE = 3
"""log2 of the side of the coverage tiles that let the kernel skip covered areas whole."""

# Columns of the per-disk parameter array made by :func:`sample_disks`.
CX, CY, R, RED, GREEN, BLUE, AMP, FX, FY, PHASE, GX, GY = range(12)
N_PARAMS = 12
N_UNIFORMS = 16
"""Uniforms per disk (:func:`sample_disks`), from N_UNIFORMS / 2 raw 64-bit words."""


@njit(inline="always")
def _radius(u, r_min, r_max):
    """Inverse CDF of p(r) ∝ r^-3 on [r_min, r_max] at u."""
    a = 1.0 / (r_min * r_min)
    r = 1.0 / math.sqrt(a - u * (a - 1.0 / (r_max * r_max)))
    return min(max(r, r_min), r_max)  # guard the last ulp


@njit(inline="always")
def _u(raw, i, j):
    """Uniform number j of row i, in (0, 1): a 32-bit half of the word ``raw[i, j // 2]``."""
    w = raw[i, j >> 1]
    w = w >> np.uint64(32) if (j & 1) == 0 else w & np.uint64(0xFFFFFFFF)
    return (np.int64(w) + 0.5) * 2.0**-32


@njit(inline="always")
def _colour(raw, i, j, out, o):
    """Colour from uniforms j..j+5 of row i into ``out[i, o:o + 3]`` (:func:`sample_colours`).

    (Scalar indexing, not array views: views cost reference counting in the loop.)
    """
    h, s = _u(raw, i, j), _u(raw, i, j + 1) * _u(raw, i, j + 2)
    grey, v = _u(raw, i, j + 3), 0.05 + 0.45 * (_u(raw, i, j + 4) + _u(raw, i, j + 5))
    if grey < GREY_PROB:
        s = grey * (0.05 / GREY_PROB)
    for ch in range(3):  # HSV -> RGB in continuous form
        k = 5.0 - 2.0 * ch + 6.0 * h  # in [1, 11): wrap to [0, 6)
        if k >= 6.0:
            k -= 6.0
        out[i, o + ch] = v - v * s * min(max(min(k, 4.0 - k), 0.0), 1.0)


@njit(inline="always")
def wave(q):
    """Sine-like wave of period 1: 4 p (|p| - 1) with p = 2 frac(q) - 1 (piecewise parabolic).

    Within 0.06 of sin(2 pi q), C1-smooth and several times cheaper than ``sin``.
    """
    p = 2.0 * (q - math.floor(q)) - 1.0
    return 4.0 * p * (abs(p) - 1.0)


@njit(nogil=True, cache=True)
def _radii(u, r_min, r_max):
    out = np.empty(u.size)
    for i in range(u.size):
        out[i] = _radius(u[i], r_min, r_max)
    return out


@njit(nogil=True, cache=True)
def _colours(raw):
    out = np.empty((raw.shape[0], 3))
    for i in range(raw.shape[0]):
        _colour(raw, i, 0, out, 0)
    return out


@njit(nogil=True, cache=True)
def _disks(raw, height, width, r_min, r_max, texture, gradients):
    """Disk parameters from (n, :data:`N_UNIFORMS` / 2) raw words (:func:`sample_disks`)."""
    out = np.zeros((raw.shape[0], N_PARAMS))
    for i in range(raw.shape[0]):
        r = out[i, R] = _radius(_u(raw, i, 0), r_min, r_max)
        out[i, CX] = -r + _u(raw, i, 1) * (width - 1 + 2.0 * r)
        out[i, CY] = -r + _u(raw, i, 2) * (height - 1 + 2.0 * r)
        _colour(raw, i, 3, out, RED)
        pick = _u(raw, i, 9)
        if texture and pick < TEXTURE_PROB:
            freq = math.exp(math.log(1.0 / 32.0) + math.log(32.0 / 3.0) * _u(raw, i, 10))
            theta = np.pi * _u(raw, i, 11)
            out[i, AMP] = 0.03 + 0.12 * pick / TEXTURE_PROB
            out[i, FX] = freq * math.cos(theta)
            out[i, FY] = freq * math.sin(theta)
            out[i, PHASE] = _u(raw, i, 12)
        pick = _u(raw, i, 13)
        if gradients and pick < GRADIENT_PROB:
            g = 0.3 * _u(raw, i, 14) / r
            psi = 2.0 * np.pi * _u(raw, i, 15)
            out[i, GX] = g * math.cos(psi)
            out[i, GY] = g * math.sin(psi)
    return out


def sample_radii(rng: np.random.Generator, n: int, r_min: float, r_max: float) -> np.ndarray:
    """Radii with density p(r) ∝ r^-3 on [r_min, r_max] (inverse-CDF sampling).

    The CDF is F(r) = (r_min^-2 - r^-2) / (r_min^-2 - r_max^-2), so
    r = (r_min^-2 - u (r_min^-2 - r_max^-2))^(-1/2) for u ~ U[0, 1).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of radii.
    r_min, r_max : float
        Support, 0 < r_min <= r_max.

    Returns
    -------
    (n,) float64 array
    """
    return _radii(rng.random(n), float(r_min), float(r_max))


def sample_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Natural-looking sRGB colours: an HSV draw skewed towards muted, mid-bright tones.

    From six uniforms U0..U5 per colour: hue = U0; saturation = U1 * U2 (density -ln s, mean
    1/4, against 2/3 for a uniform RGB cube), replaced by U3 / 2 (below 0.05, near-neutral
    grey) when U3 < :data:`GREY_PROB`; value = 0.05 + 0.9 (U4 + U5) / 2 (triangular, mean 0.5,
    no pure black or white). Products and sums of uniforms stand in for Beta laws: much cheaper.

    Returns
    -------
    (n, 3) float64 array of encoded sRGB values in [0, 0.95], the largest one (the value)
    at least 0.05
    """
    return _colours(rng.bit_generator.random_raw((n, 3)))


def sample_disks(
    rng: np.random.Generator,
    n: int,
    height: int,
    width: int,
    r_min: float,
    r_max: float,
    texture: bool = True,
    gradients: bool = True,
) -> np.ndarray:
    """Parameters of ``n`` disks, front to back, as an (n, :data:`N_PARAMS`) float64 array.

    One (n, :data:`N_UNIFORMS`) block of uniforms (32-bit, from the raw 64-bit output of the
    generator: half the cost of ``rng.random``) gives, per disk (columns ``CX ... GY``):
    radius ``r`` (law of :func:`sample_radii`), centre ``cx, cy`` uniform on
    [-r, width - 1 + r] x [-r, height - 1 + r] (pixel centres at integers; the margin lets
    disks cover the borders), colour ``red, green, blue`` (law of :func:`sample_colours`),
    texture ``amp, fx, fy, phase`` and gradient ``gx, gy``. A pixel at (x, y) takes the colour
    times the factors

    - texture: 1 + amp * wave(fx * x + fy * y + phase), a grating with the sine-like
      :func:`wave`, amp ~ U[0.03, 0.15), frequency log-uniform in [1/32, 1/3] cycles per
      pixel, orientation U[0, pi), phase U[0, 1) cycles;
    - gradient: 1 + gx * (x - cx) + gy * (y - cy), a ramp of +-g (g ~ U[0, 0.3)) from centre to
      rim in a direction U[0, 2 pi).

    A disk has a texture with probability :data:`TEXTURE_PROB` and a gradient with probability
    :data:`GRADIENT_PROB`; the others (all of them when the flag is False) have all-zero
    texture or gradient columns, i.e. factors of exactly 1. The same uniforms are drawn
    whatever the flags, so turning them off keeps the geometry and base colours.
    """
    raw = rng.bit_generator.random_raw((n, N_UNIFORMS // 2))
    return _disks(
        raw, int(height), int(width), float(r_min), float(r_max), bool(texture), bool(gradients)
    )


@njit(nogil=True, cache=True)
def draw_disks(disks, acc, trans, tiles, uncovered):  # noqa: C901 (fused kernel)
    """Composite disks front to back into ``acc`` (H, W, 3) and ``trans`` (H, W), in place.

    Disk k adds ``colour * coverage * T`` and multiplies T by ``1 - coverage``, with the
    anti-aliased coverage ``clip(r - distance + 0.5, 0, 1)`` and the shaded colour clipped to
    [0, 1]. Pixels with T < :data:`T_COVERED` are skipped; ``tiles`` counts the other pixels
    per 2^TILE square (fully covered squares are skipped whole) and ``uncovered`` all of them;
    the loop stops when it reaches 0. Returns ``(uncovered, number of disks used)``.
    """
    height, width = trans.shape
    for k in range(disks.shape[0]):
        if uncovered == 0:
            return uncovered, k
        cx, cy, r = disks[k, CX], disks[k, CY], disks[k, R]
        amp, fx, fy, phase = disks[k, AMP], disks[k, FX], disks[k, FY], disks[k, PHASE]
        gx, gy = disks[k, GX], disks[k, GY]
        reach2 = (r + 0.5) ** 2  # coverage > 0 iff distance < r + 0.5
        x0 = max(math.ceil(cx - r - 0.5), 0)
        x1 = min(math.floor(cx + r + 0.5), width - 1)
        y0 = max(math.ceil(cy - r - 0.5), 0)
        y1 = min(math.floor(cy + r + 0.5), height - 1)
        for ty in range(y0 >> TILE, (y1 >> TILE) + 1):
            for tx in range(x0 >> TILE, (x1 >> TILE) + 1):
                if tiles[ty, tx] == 0:
                    continue
                for y in range(max(y0, ty << TILE), min(y1, ((ty + 1) << TILE) - 1) + 1):
                    dy = y - cy
                    if dy * dy >= reach2:
                        continue
                    half = math.sqrt(reach2 - dy * dy)  # row span of the disk
                    xa = max(math.ceil(cx - half), x0, tx << TILE)
                    xb = min(math.floor(cx + half), x1, ((tx + 1) << TILE) - 1)
                    for x in range(xa, xb + 1):
                        t = trans[y, x]
                        if t < T_COVERED:
                            continue
                        dx = x - cx
                        c = r - math.sqrt(dx * dx + dy * dy) + 0.5
                        if c <= 0.0:
                            continue
                        c = min(c, 1.0)
                        f = 1.0
                        if amp != 0.0:
                            f = 1.0 + amp * wave(fx * x + fy * y + phase)
                        f *= 1.0 + gx * dx + gy * dy
                        w = c * t
                        for ch in range(3):
                            acc[y, x, ch] += w * min(max(disks[k, RED + ch] * f, 0.0), 1.0)
                        t *= 1.0 - c
                        trans[y, x] = t
                        if t < T_COVERED:
                            tiles[ty, tx] -= 1
                            uncovered -= 1
    return uncovered, disks.shape[0]


@njit(nogil=True, cache=True)
def finish(acc, trans, background):
    """Composite ``background`` (3,) behind the disks; round to uint8 (clipped to [0, 1])."""
    height, width = trans.shape
    out = np.empty((height, width, 3), np.uint8)
    for y in range(height):
        for x in range(width):
            for ch in range(3):
                v = min(max(acc[y, x, ch] + background[ch] * trans[y, x], 0.0), 1.0)
                out[y, x, ch] = np.uint8(math.floor(v * 255.0 + 0.5))
    return out


def new_tiles(height: int, width: int) -> np.ndarray:
    """Per-tile pixel counts, the initial ``tiles`` argument of :func:`draw_disks`."""
    ty, tx = np.arange(height) >> TILE, np.arange(width) >> TILE
    return np.bincount(ty, minlength=ty[-1] + 1)[:, None] * np.bincount(tx)[None, :]


def batch_size(height: int, width: int, r_min: float, r_max: float) -> int:
    """Disks per batch: 1/16 of the number that covers the image with high probability.

    A disk hits a given pixel with probability a / A (a = pi E[r^2], E[r^2] =
    k ln(r_max / r_min) with k = 2 / (r_min^-2 - r_max^-2); A the area of the centre domain),
    so the last of the n = height * width pixels is hit after about (A / a) (ln n + 0.58) disks
    (coupon collector). Anti-aliased rims cover only partly, so we aim at
    N = 1.3 (ln n + 3) A / a and draw batches of N / 16 (at least 64) until every pixel is
    covered, at most :data:`MAX_BATCHES` of them. Small batches waste few disks and keep the
    temporary arrays small (large ones cost page faults on every batch).
    """
    if r_max > r_min:
        k = 2.0 / (r_min**-2 - r_max**-2)
        mean_r2, mean_r = k * math.log(r_max / r_min), k * (1.0 / r_min - 1.0 / r_max)
    else:
        mean_r2, mean_r = r_min**2, r_min
    domain = (width - 1 + 2 * mean_r) * (height - 1 + 2 * mean_r)
    n = 1.3 * (math.log(height * width) + 3.0) * domain / (math.pi * mean_r2)
    return max(64, math.ceil(n / 16))


def _check_args(height, width, r_min, r_max):
    """Validated ``(height, width, r_min, r_max)``, with the default r_max filled in."""
    for name, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, Integral) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if not (isinstance(r_min, Real) and math.isfinite(r_min) and r_min > 0):
        raise ValueError(f"r_min must be a finite number > 0, got {r_min!r}")
    if r_max is None:
        r_max = max(max(height, width) / 4.0, r_min)
    if not (isinstance(r_max, Real) and math.isfinite(r_max) and r_max >= r_min):
        raise ValueError(f"r_max must be a finite number >= r_min = {r_min!r}, got {r_max!r}")
    return int(height), int(width), float(r_min), float(r_max)


def render(
    height: int,
    width: int,
    seed: int,
    *,
    r_min: float = 1.5,
    r_max: float | None = None,
    texture: bool = True,
    gradients: bool = True,
):
    """:func:`dead_leaves` with diagnostics: returns ``(image, trans, n_disks)``.

    ``trans`` is the (H, W) transmittance left for the background and ``n_disks`` the number
    of disks drawn before every pixel was covered (or the cap was reached).
    """
    height, width, r_min, r_max = _check_args(height, width, r_min, r_max)
    rng = np.random.default_rng(seed)
    background = sample_colours(rng, 1)[0]
    acc = np.zeros((height, width, 3))
    trans = np.ones((height, width))
    tiles = new_tiles(height, width)
    uncovered, n_disks = height * width, 0
    n = batch_size(height, width, r_min, r_max)
    for _ in range(MAX_BATCHES):
        disks = sample_disks(rng, n, height, width, r_min, r_max, texture, gradients)
        uncovered, used = draw_disks(disks, acc, trans, tiles, uncovered)
        n_disks += used
        if uncovered == 0:
            break
    return finish(acc, trans, background), trans, n_disks


def dead_leaves(
    height: int,
    width: int,
    seed: int,
    *,
    r_min: float = 1.5,
    r_max: float | None = None,
    texture: bool = True,
    gradients: bool = True,
) -> np.ndarray:
    """Scale-invariant dead-leaves image: occluding disks with radii distributed as r^-3.

    Disks are drawn front to back (the first disk is in front) with anti-aliased rims until
    every pixel is covered; any transmittance left shows a background colour drawn like the
    disk colours. Colours are composited in encoded sRGB.

    Parameters
    ----------
    height, width : int
        Image size, >= 1.
    seed : int
        Seed of ``np.random.default_rng``; the output is bit-identical for given arguments,
        whatever the number of threads.
    r_min, r_max : float
        Radius range in pixels, 0 < r_min <= r_max; r_max defaults to max(height, width) / 4
        (at least r_min). Radii follow p(r) ∝ r^-3 (:func:`sample_radii`).
    texture, gradients : bool
        Give some disks a faint sine-like grating / a linear shading ramp
        (:func:`sample_disks`). With both False every disk is flat.

    Returns
    -------
    (height, width, 3) uint8 sRGB image

    Raises
    ------
    ValueError
        If height or width < 1, r_min <= 0 or r_max < r_min.

    Notes
    -----
    Colours (:func:`sample_colours`): hue uniform; saturation the product of two uniforms
    (mean 1/4), near-neutral grey for 10 % of colours; value 0.05 + 0.9 x triangular on [0, 1].
    Disk parameters are drawn in batches sized to cover the image with high probability (a
    further batch only if one falls short, at most :data:`MAX_BATCHES`), each before it is
    drawn by the serial ``nogil`` Numba kernel :func:`draw_disks`.
    """
    return render(
        height, width, seed, r_min=r_min, r_max=r_max, texture=texture, gradients=gradients
    )[0]
