"""Built-in procedural scenes: scale-invariant dead leaves, the default image source.

A dead-leaves image is a stack of opaque disks; it has natural-image-like statistics (power-law
spectrum, occlusions, sharp edges at all scales) and costs nothing to store. All random
parameters come from ``np.random.default_rng(seed)`` in NumPy; the drawing itself is a serial
``nogil`` Numba kernel, safe to call from several Dask threads at once, so the output depends
only on the arguments (never on the thread count).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

T_COVERED = 1e-3
"""A pixel whose remaining transmittance is below this is covered: later disks skip it."""

TEXTURE_PROB = 0.3
"""Fraction of disks given a sinusoidal texture (when ``texture=True``)."""
GRADIENT_PROB = 0.3
"""Fraction of disks given a linear shading ramp (when ``gradients=True``)."""
GREY_PROB = 0.1
"""Fraction of near-neutral (saturation below 0.05) colours."""

MAX_BATCHES = 32
"""Cap on the number of batches of disks (see :func:`batch_size`), about 8 times the need."""

# Columns of the per-disk parameter array built by :func:`sample_disks`.
CX, CY, R, RED, GREEN, BLUE, AMP, KX, KY, PHASE, GX, GY = range(12)
N_PARAMS = 12


def _radii(u, r_min, r_max):
    a, b = r_min**-2.0, r_max**-2.0
    return np.clip((a - u * (a - b)) ** -0.5, r_min, r_max)  # clip: guard the last ulp


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
    return _radii(rng.random(n), r_min, r_max)


def _colours(u):
    """Colours from a (6, n) block of uniforms (see :func:`sample_colours`) -> (n, 3)."""
    h, s1, s2, g, v1, v2 = u
    s = np.where(g < GREY_PROB, g * (0.05 / GREY_PROB), s1 * s2)
    v = 0.05 + 0.45 * (v1 + v2)
    out = np.empty((h.size, 3))
    for ch, m in enumerate((5.0, 3.0, 1.0)):  # HSV -> RGB, continuous form
        k = (m + 6.0 * h) % 6.0
        out[:, ch] = v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return out


def sample_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Natural-looking sRGB colours in [0, 1]: an HSV draw skewed towards muted tones.

    Hue ~ U[0, 1); saturation = U1 * U2 (density -ln s, mean 1/4, against 2/3 for the uniform
    RGB cube), replaced with probability :data:`GREY_PROB` by U[0, 0.05) (near-neutral grey);
    value = 0.05 + 0.9 * (U3 + U4) / 2 (triangular, mid-weighted, mean 0.5, no pure black or
    white). Products and sums of uniforms stand in for Beta laws: they are much cheaper.

    Returns
    -------
    (n, 3) float64 array of encoded sRGB values
    """
    return _colours(rng.random((6, n)))


def sample_disks(rng: np.random.Generator, n: int, height: int, width: int, r_min: float,
                 r_max: float, texture: bool = True, gradients: bool = True) -> np.ndarray:
    """Parameters of ``n`` disks, front to back, as an (n, :data:`N_PARAMS`) float64 array.

    Columns (see the ``CX ... GY`` constants): centre ``cx, cy`` uniform on
    [-r, width - 1 + r] x [-r, height - 1 + r] (pixel centres at integers; the margin of r lets
    disks cover the borders), radius ``r`` (law of :func:`sample_radii`), colour
    ``red, green, blue`` (law of :func:`sample_colours`), texture ``amp, kx, ky, phase`` and
    gradient ``gx, gy``. A pixel at (x, y) takes the colour times the factors

    - texture: 1 + amp * sin(kx * x + ky * y + phase), amp ~ U[0.03, 0.15), frequency
      log-uniform in [1/32, 1/3] cycles per pixel, orientation U[0, pi), phase U[0, 2 pi);
    - gradient: 1 + gx * (x - cx) + gy * (y - cy), a ramp of +-g (g ~ U[0, 0.3)) across the
      radius in a direction U[0, 2 pi).

    Each disk gets a texture with probability :data:`TEXTURE_PROB` and a gradient with
    probability :data:`GRADIENT_PROB`; the others (all of them when the flag is False) have
    amp = 0 or gx = gy = 0, i.e. factors of exactly 1. The same uniforms are drawn whatever the
    flags, so turning them off leaves the geometry and base colours unchanged.
    """
    u = rng.random((16, n))
    out = np.zeros((n, N_PARAMS))
    r = out[:, R] = _radii(u[0], r_min, r_max)
    out[:, CX] = -r + u[1] * (width - 1 + 2.0 * r)
    out[:, CY] = -r + u[2] * (height - 1 + 2.0 * r)
    out[:, RED:BLUE + 1] = _colours(u[3:9])
    # texture: u[9] < p picks the disk and sets the amplitude; frequency, angle, phase
    tex = np.flatnonzero(u[9] < TEXTURE_PROB) if texture else np.empty(0, np.int64)
    k = 2.0 * np.pi * (1 / 32) * (32 / 3) ** u[10, tex]
    theta = np.pi * u[11, tex]
    out[tex, AMP] = 0.03 + 0.12 * (u[9, tex] / TEXTURE_PROB)
    out[tex, KX] = k * np.cos(theta)
    out[tex, KY] = k * np.sin(theta)
    out[tex, PHASE] = 2.0 * np.pi * u[12, tex]
    # gradient: u[13] < p picks the disk; amplitude, direction
    grad = np.flatnonzero(u[13] < GRADIENT_PROB) if gradients else np.empty(0, np.int64)
    g = 0.3 * u[14, grad] / r[grad]
    psi = 2.0 * np.pi * u[15, grad]
    out[grad, GX] = g * np.cos(psi)
    out[grad, GY] = g * np.sin(psi)
    return out


TILE = 3
"""log2 of the side of the coverage tiles that let the kernel skip covered areas."""


@njit(nogil=True, cache=True)
def draw_disks(disks, acc, trans, tiles, uncovered):
    """Composite disks front to back into ``acc`` (H, W, 3) and ``trans`` (H, W), in place.

    Disk k adds ``colour * coverage * T`` and multiplies T by ``1 - coverage``, with the
    anti-aliased coverage ``clip(r - distance + 0.5, 0, 1)`` and the shaded colour clipped to
    [0, 1]. Pixels with T < :data:`T_COVERED` are skipped; ``tiles`` counts the other pixels
    per 2^TILE square (so fully covered squares are skipped whole) and ``uncovered`` in all;
    the loop stops when it reaches 0. Returns ``(uncovered, number of disks used)``.
    """
    height, width = trans.shape
    for k in range(disks.shape[0]):
        if uncovered == 0:
            return uncovered, k
        cx, cy, r = disks[k, CX], disks[k, CY], disks[k, R]
        amp, kx, ky, phase = disks[k, AMP], disks[k, KX], disks[k, KY], disks[k, PHASE]
        gx, gy = disks[k, GX], disks[k, GY]
        # coverage > 0 iff distance < r + 0.5
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
                    for x in range(max(x0, tx << TILE), min(x1, ((tx + 1) << TILE) - 1) + 1):
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
                            f = 1.0 + amp * math.sin(kx * x + ky * y + phase)
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
    """Composite ``background`` (3,) behind the disks and round to uint8 (clip to [0, 1])."""
    height, width = trans.shape
    out = np.empty((height, width, 3), np.uint8)
    for y in range(height):
        for x in range(width):
            for ch in range(3):
                v = acc[y, x, ch] + background[ch] * trans[y, x]
                out[y, x, ch] = np.uint8(math.floor(min(max(v, 0.0), 1.0) * 255.0 + 0.5))
    return out


def batch_size(height: int, width: int, r_min: float, r_max: float) -> int:
    """Disks per batch: a quarter of the number that covers the image with high probability.

    A pixel is hit by a disk with probability a / A (a = pi E[r^2] with E[r^2] =
    k ln(r_max / r_min), k = 2 / (r_min^-2 - r_max^-2), A the area of the centre domain), so
    the last of the n = height * width pixels is hit after about (A / a) (ln n + 0.58) disks
    (coupon collector). Anti-aliased edges cover only partly, so we aim at
    N = 1.3 (ln n + 3) A / a and draw batches of N / 4 (at least 64) until every pixel is
    covered, at most :data:`MAX_BATCHES` of them.
    """
    if r_max > r_min:
        k = 2.0 / (r_min**-2 - r_max**-2)
        mean_r2, mean_r = k * math.log(r_max / r_min), k * (1.0 / r_min - 1.0 / r_max)
    else:
        mean_r2, mean_r = r_min**2, r_min
    domain = (width - 1 + 2 * mean_r) * (height - 1 + 2 * mean_r)
    n = 1.3 * (math.log(height * width) + 3.0) * domain / (math.pi * mean_r2)
    return max(64, math.ceil(n / 4))


def _check(height, width, r_min, r_max):
    for name, v in (("height", height), ("width", width)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if not (math.isfinite(r_min) and r_min > 0):
        raise ValueError(f"r_min must be a finite number > 0, got {r_min!r}")
    if not (math.isfinite(r_max) and r_max >= r_min):
        raise ValueError(f"r_max must be finite and >= r_min ({r_min!r}), got {r_max!r}")


def render(height: int, width: int, seed: int, *, r_min: float = 1.5, r_max: float | None = None,
           texture: bool = True, gradients: bool = True):
    """:func:`dead_leaves` with diagnostics: returns ``(image, trans, n_disks)``.

    ``trans`` is the (H, W) transmittance left for the background and ``n_disks`` the number
    of disks drawn before every pixel was covered (or the cap was reached).
    """
    if r_max is None:
        r_max = max(max(height, width) / 4.0, r_min)
    _check(height, width, r_min, r_max)
    height, width = int(height), int(width)
    rng = np.random.default_rng(seed)
    background = sample_colours(rng, 1)[0]
    acc = np.zeros((height, width, 3))
    trans = np.ones((height, width))
    tiles = np.zeros(((height - 1 >> TILE) + 1, (width - 1 >> TILE) + 1), np.int64)
    np.add.at(tiles, (np.arange(height)[:, None] >> TILE, np.arange(width) >> TILE), 1)
    uncovered, n_disks = height * width, 0
    n = batch_size(height, width, r_min, r_max)
    for _ in range(MAX_BATCHES):
        disks = sample_disks(rng, n, height, width, r_min, r_max, texture, gradients)
        uncovered, used = draw_disks(disks, acc, trans, tiles, uncovered)
        n_disks += used
        if uncovered == 0:
            break
    return finish(acc, trans, background), trans, n_disks


def dead_leaves(height: int, width: int, seed: int, *, r_min: float = 1.5,
                r_max: float | None = None, texture: bool = True,
                gradients: bool = True) -> np.ndarray:
    """Scale-invariant dead-leaves image (occluding disks with a r^-3 radius law).

    Disks are drawn front to back (the first disk is in front) with anti-aliased edges until
    every pixel is covered; whatever transmittance remains shows a background colour drawn
    like the disk colours. Colours are composited in encoded sRGB.

    Parameters
    ----------
    height, width : int
        Image size, >= 1.
    seed : int
        Seed of ``np.random.default_rng``; the output is bit-identical for a given seed and
        arguments, whatever the number of threads.
    r_min, r_max : float
        Radius range in pixels, 0 < r_min <= r_max; r_max defaults to max(height, width) / 4
        (at least r_min). Radii follow p(r) ∝ r^-3 (:func:`sample_radii`).
    texture, gradients : bool
        Give some disks a faint sinusoidal grating / a linear shading ramp
        (:func:`sample_disks`). With both False every disk is flat.

    Returns
    -------
    (height, width, 3) uint8 sRGB image

    Notes
    -----
    Colours (:func:`sample_colours`): hue uniform, saturation ~ Beta(1.5, 4) with 10 % near-
    neutral greys, value ~ 0.05 + 0.9 Beta(3, 2.5). Random parameters are drawn in NumPy in
    batches sized to cover the image with high probability (a further batch only if one falls
    short, at most :data:`MAX_BATCHES`); drawing is the serial ``nogil`` Numba kernel :func:`draw_disks`.
    """
    return render(height, width, seed, r_min=r_min, r_max=r_max, texture=texture,
                  gradients=gradients)[0]
