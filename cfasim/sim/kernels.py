"""Numba kernels: the counter-based random generator and the fused per-pixel RAW chain.

Nothing here allocates per pixel or holds the GIL. Each kernel exists twice: a ``parallel=True``
version for single calls and a serial ``nogil`` one for use inside Dask worker threads (Numba's
default threading layer must not be entered from several threads at once). Both compute every
pixel the same way, so the output does not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Philox4x32-10 constants (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011)
PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint32(0x9E3779B9)
PHILOX_W1 = np.uint32(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_TWO_PI = np.float32(2.0 * np.pi)
_U24_SCALE = np.float32(1.0 / 16777216.0)

NOISE_STREAM_GAUSSIAN = 0
"""Counter word 3 of the Gaussian read/shot noise draws (other streams reserved)."""

# Counter word 3 of the physics-based sensor model (cfasim.sensor.physics_kernels). Every stream
# has its own word, so no two draws share a counter even when the sensor seed equals the dataset
# seed.
NOISE_STREAM_FIXED_PATTERN = 1
"""PRNU/DSNU, key = sensor seed, counter (x // 2, y, 0, 1): words 0-1 -> PRNU, 2-3 -> DSNU."""
NOISE_STREAM_READOUT = 2
"""Read + ADC noise, key = dataset seed, counter (x // 2, y, sample, 2)."""
NOISE_STREAM_ROW = 3
"""Row noise, key = dataset seed, counter (0, y, sample, 3)."""
NOISE_STREAM_BINNED_READOUT = 4
"""Read + ADC noise of charge-binned pixels, counter (X // 2, Y, sample, 4) in binned pixels."""
NOISE_STREAM_BINNED_ROW = 5
"""Row noise of charge-binned rows, counter (0, Y, sample, 5)."""
NOISE_STREAM_POISSON = 0x100
"""Poisson photo/dark electrons: attempt a of pixel (y, x) uses counter (x, y, sample, 0x100 + a).
Words 6..0xFF are free for new streams; 0x100 and above belong to the Poisson attempts."""


@njit(inline="always")
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 block: counter (c0..c3) and key (k0, k1), all uint32 -> 4 uint32 words."""
    c0 = np.uint64(c0)
    c1 = np.uint64(c1)
    c2 = np.uint64(c2)
    c3 = np.uint64(c3)
    k0 = np.uint64(k0)
    k1 = np.uint64(k1)
    for r in range(10):
        if r > 0:
            k0 = (k0 + np.uint64(PHILOX_W0)) & _MASK32
            k1 = (k1 + np.uint64(PHILOX_W1)) & _MASK32
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        n0 = (p1 >> _SHIFT32) ^ c1 ^ k0
        n2 = (p0 >> _SHIFT32) ^ c3 ^ k1
        c0 = n0
        c1 = p1 & _MASK32
        c2 = n2
        c3 = p0 & _MASK32
    return np.uint32(c0), np.uint32(c1), np.uint32(c2), np.uint32(c3)


@njit(inline="always")
def normal_pair(w0, w1):
    """Two independent N(0, 1) draws from two uint32 words (Box-Muller in float32).

    ``u1 = ((w0 >> 8) + 1) / 2^24`` in (0, 1], ``u2 = (w1 >> 8) / 2^24``; float32 is 3.6x
    faster than float64 here and its 24-bit uniforms bound |z| at sqrt(48 ln 2) = 5.77
    (a tail mass of 8e-9, irrelevant for sensor noise).
    """
    u1 = (np.float32(w0 >> np.uint32(8)) + np.float32(1.0)) * _U24_SCALE
    u2 = np.float32(w1 >> np.uint32(8)) * _U24_SCALE
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    t = _TWO_PI * u2
    return r * np.cos(t), r * np.sin(t)


@njit(inline="always")
def _linear_camera(c, r, g, b, ccm, gray_row, gains, cam):
    """Camera value of colour c (0..2, or 3 = W) at one pixel, with highlight-safe gains.

    Fills ``cam[0:3]`` with all three channels when c == 3; returns the value of colour c.
    """
    gray = gray_row[0] * r + gray_row[1] * g + gray_row[2] * b
    m = gray - 0.9
    m = (m / 0.1) ** 2 if m > 0.0 else 0.0
    if c < 3:
        v = ccm[c, 0] * r + ccm[c, 1] * g + ccm[c, 2] * b
        s = m + (1.0 - m) * gains[c]
        return v * max(s, gains[c])
    total = 0.0
    for k in range(3):
        v = ccm[k, 0] * r + ccm[k, 1] * g + ccm[k, 2] * b
        s = m + (1.0 - m) * gains[k]
        cam[k] = v * max(s, gains[k])
        total += min(max(cam[k], 0.0), 1.0)
    return total / 3.0


@njit(inline="always")
def _fill_normals(z, y, sample, key0, key1):
    """Row y's standard normals: pixel pair x // 2 uses Philox counter (x // 2, y, sample, 0)."""
    for pair in range((z.shape[0] + 1) // 2):
        w0, w1, _, _ = philox4x32(pair, y, sample, NOISE_STREAM_GAUSSIAN, key0, key1)
        z[2 * pair], z[2 * pair + 1] = normal_pair(w0, w1)


@njit(nogil=True, cache=True)
def philox_normals(key0, key1, sample, height, width):
    """(height, width) standard normals exactly as the RAW kernel draws them (for tests/tools)."""
    out = np.empty((height, width + 1))
    for y in range(height):
        _fill_normals(out[y], y, sample, key0, key1)
    return out[:, :width]


@njit(inline="always")
def _raw_row(
    y,
    src,
    lut,
    tile,
    ccm,
    gray_row,
    gains,
    shot,
    read,
    black,
    span,
    white,
    key0,
    key1,
    sample,
    raw,
    clean,
):
    """One output row of :func:`raw_chain_parallel` (see there)."""
    width = src.shape[1]
    py, px = tile.shape
    want_clean = clean.shape[0] > 0
    noisy = shot > 0.0 or read > 0.0
    cam = np.empty(3)
    z = np.zeros(width + 1, dtype=np.float32)
    if noisy:
        _fill_normals(z, y, sample, key0, key1)
    trow = y % py
    for x in range(width):
        r = lut[src[y, x, 0]]
        g = lut[src[y, x, 1]]
        b = lut[src[y, x, 2]]
        c = tile[trow, x % px]
        if want_clean:
            white_value = _linear_camera(3, r, g, b, ccm, gray_row, gains, cam)
            for k in range(3):
                clean[y, x, k] = min(max(cam[k], 0.0), 1.0)
            v = min(max(cam[c], 0.0), 1.0) if c < 3 else white_value
        else:
            v = min(max(_linear_camera(c, r, g, b, ccm, gray_row, gains, cam), 0.0), 1.0)
        v += np.sqrt(shot * v + read) * z[x]
        dn = np.floor(black + v * span + 0.5)
        raw[y, x] = np.uint16(min(max(dn, 0.0), white))


@njit(parallel=True, nogil=True, cache=True)
def raw_chain_parallel(
    src, lut, tile, ccm, gray_row, gains, shot, read, black, white, key0, key1, sample, raw, clean
):
    """Fused per-pixel chain from display-referred pixels to a noisy RAW mosaic.

    Parameters
    ----------
    src : (H, W, 3) uint8 or uint16
        Display-referred image; ``lut[src]`` is its linear value (inverse tone + transfer).
    lut : (256,) or (65536,) float64
    tile : (py, px) int8 colour indices (0..2, 3 = W)
    ccm : (3, 3) float64 linear sRGB -> camera (rows = camera R, G, B)
    gray_row : (3,) float64, the column means of ``ccm`` (grey level of camera RGB)
    gains : (3,) float64 inverse white-balance/brightening gains (highlight-safe)
    shot, read : float, noise variance = shot * v + read (normalised units)
    black, white : float, black level and white level in DN (white is the clip code)
    key0, key1, sample : uint32 Philox key (dataset seed) and counter word (sample index)
    raw : (H, W) uint16 output
    clean : (H, W, 3) float32 output of noise-free camera RGB, or a (0, 0, 3) array to skip it
    """
    span = white - black
    for y in prange(src.shape[0]):
        _raw_row(
            y,
            src,
            lut,
            tile,
            ccm,
            gray_row,
            gains,
            shot,
            read,
            black,
            span,
            white,
            key0,
            key1,
            sample,
            raw,
            clean,
        )


@njit(nogil=True, cache=True)
def raw_chain_serial(
    src, lut, tile, ccm, gray_row, gains, shot, read, black, white, key0, key1, sample, raw, clean
):
    """Single-threaded twin of :func:`raw_chain_parallel` (same arguments and output)."""
    span = white - black
    for y in range(src.shape[0]):
        _raw_row(
            y,
            src,
            lut,
            tile,
            ccm,
            gray_row,
            gains,
            shot,
            read,
            black,
            span,
            white,
            key0,
            key1,
            sample,
            raw,
            clean,
        )
