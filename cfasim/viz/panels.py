"""The pictures of one sample, as arrays in [0, 1]: pure functions, no plotting.

A stored RAW mosaic is shown twice: in *false colour* (each pixel in the colour of its CFA
filter, so the filter layout is visible) and as *grey RAW* (the level-normalised codes). The
noise-free ``clean`` array is rendered for display with the sample's own ISP, as the target was
rendered (:func:`cfasim.isp.steps.process`). A nearest-neighbour zoom of a few CFA tiles makes
Nona's 3x3 and QxQ's 4x4 same-colour blocks visible at preview size.
"""

from __future__ import annotations

import numpy as np

from cfasim.cfa import CFAPattern
from cfasim.isp.render import false_color_mosaic, normalize_raw
from cfasim.isp.steps import UnprocessParams, linear_to_display, process

ZOOM_MIN_PIXELS = 8
"""The zoom shows whole CFA tiles, at least 2 and at least this many pixels across."""


def grey_raw(raw: np.ndarray, black: float, white: float) -> np.ndarray:
    """(H, W) RAW codes -> the level-normalised mosaic ``(raw - black) / (white - black)`` in
    [0, 1] (:func:`cfasim.isp.render.normalize_raw`), shown in grey."""
    return normalize_raw(raw, black, white)


def false_colour(raw: np.ndarray, pattern: CFAPattern, black: float, white: float) -> np.ndarray:
    """(H, W) RAW codes -> (H, W, 3) false-colour mosaic in [0, 1]: each pixel's normalised
    value (:func:`grey_raw`) times the colour of its filter (a red site is ``(v, 0, 0)``, a
    white site ``(v, v, v)``), linear: :func:`cfasim.isp.render.false_color_mosaic` unencoded.

    Parameters
    ----------
    raw : numpy.ndarray
        (H, W) RAW codes of a sample.
    pattern : CFAPattern
        The dataset's colour filter array.
    black, white : float
        The sample's black and white levels (DN).

    Returns
    -------
    numpy.ndarray
        (H, W, 3) float64.
    """
    return false_color_mosaic(raw, pattern, black, white, encode=False)


def zoom_tiles(pattern: CFAPattern) -> int:
    """How many CFA tiles the zoom spans in each direction: 2, or more for a small tile, so that
    the crop is at least :data:`ZOOM_MIN_PIXELS` pixels across (Bayer 4, Quad 2, Nona 2)."""
    period = max(pattern.period)
    return max(2, -(-ZOOM_MIN_PIXELS // period))


def zoom_crop(image: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """A square crop of :func:`zoom_tiles` whole CFA tiles at the centre of ``image``, on the
    tile grid (its top-left pixel is a tile origin, so the crop starts with the tile's first
    row and column); :func:`fit_square` enlarges it by repeating pixels.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W) or (H, W, C) array on the CFA grid (e.g. :func:`false_colour`).
    pattern : CFAPattern
        The CFA whose tiles are cut.

    Returns
    -------
    numpy.ndarray
        (n * py, n * px, ...) with n = :func:`zoom_tiles`, cut to the image where it is
        smaller.
    """
    py, px = pattern.period
    n = zoom_tiles(pattern)
    h, w = image.shape[:2]
    y0 = max(0, (h // 2 - n * py // 2) // py * py)
    x0 = max(0, (w // 2 - n * px // 2) // px * px)
    return image[y0 : y0 + n * py, x0 : x0 + n * px]


def fit_square(picture: np.ndarray, size: int) -> np.ndarray:
    """An (H, W, 3) uint8 picture on a white ``size`` x ``size`` square, centred, at an integer
    scale so every pixel stays sharp: enlarged ``k = size // max(H, W)`` times by repeating
    pixels (nearest neighbour) when it fits, else shrunk by the mean of ``f x f`` blocks,
    ``f = ceil(max(H, W) / size)`` (rows and columns past a multiple of f are dropped).

    Parameters
    ----------
    picture : numpy.ndarray
        (H, W, 3) uint8.
    size : int
        Side of the square, in pixels.

    Returns
    -------
    numpy.ndarray
        (size, size, 3) uint8.
    """
    picture = np.asarray(picture)
    side = max(picture.shape[:2])
    if side <= size:
        k = size // side
        scaled = np.repeat(np.repeat(picture, k, axis=0), k, axis=1)
    else:
        f = -(-side // size)
        h, w = picture.shape[0] // f * f, picture.shape[1] // f * f
        blocks = picture[:h, :w].reshape(h // f, f, w // f, f, -1).astype(np.float64)
        scaled = np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)
    out = np.full((size, size, 3), 255, dtype=np.uint8)
    y0, x0 = (size - scaled.shape[0]) // 2, (size - scaled.shape[1]) // 2
    out[y0 : y0 + scaled.shape[0], x0 : x0 + scaled.shape[1]] = scaled
    return out


def clean_display(clean: np.ndarray, params: UnprocessParams | None) -> np.ndarray:
    """(H, W, 3) noise-free linear camera RGB -> display sRGB in [0, 1]: the sample's forward
    ISP (:func:`cfasim.isp.steps.process`, as the target was rendered), or without parameters
    (a captured pair: no camera ISP known) only the sRGB transfer curve, no white balance."""
    cam = np.asarray(clean, dtype=np.float64)
    if params is None:
        return linear_to_display(np.clip(cam, 0.0, 1.0), "srgb", tone=False)
    return process(cam, params)


def target_display(target: np.ndarray) -> np.ndarray:
    """Stored 8-bit sRGB target -> [0, 1] float."""
    return np.asarray(target, dtype=np.float64) / 255.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An image in [0, 1] -> uint8 ``round(255 * clip(x, 0, 1))``: what the PNG shows, so the
    figure never resamples floats (fixed bytes for fixed inputs)."""
    return np.round(np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
