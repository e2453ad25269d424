"""Reference rendering of stored RAW samples: simple demosaic + cfasim's forward ISP.

This is the classical baseline a learned ISP must beat: the same ``process`` that defines the
targets, applied after :func:`cfasim.isp.demosaic.demosaic_tent` (bilinear on Bayer).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import zoom

from cfasim.cfa import CFAPattern
from cfasim.isp.color import srgb_encode
from cfasim.isp.demosaic import demosaic_tent
from cfasim.isp.steps import UnprocessParams, process


def render_reference(
    raw: np.ndarray,
    pattern: CFAPattern,
    params: UnprocessParams,
    black: float,
    white: float,
    scale: int = 1,
) -> np.ndarray:
    """(H, W) RAW codes -> (s*H, s*W, 3) sRGB in [0, 1]: tent demosaic, the forward ISP, and
    for ``scale`` s > 1 a bilinear upscale (the classical answer to DSLR-style targets)."""
    return upscale(process(demosaic_tent(normalize_raw(raw, black, white), pattern), params), scale)


TASKS = ("srgb", "linear")
"""What a model is trained and scored to output: ``srgb``, the stored display target (a random
camera per sample, or one fixed camera for a ``--camera`` dataset: the 'camera' task), or
``linear``, :func:`balanced_linear` of the stored noise-free signal."""


def balanced_linear(cam: np.ndarray, gains) -> np.ndarray:
    """Linear camera RGB -> white-balanced linear camera RGB in [0, 1]: each channel times its
    gain (:attr:`~cfasim.isp.steps.UnprocessParams.channel_gains`: white balance times digital
    gain), clipped: the forward ISP before its colour matrix and transfer curve. The target of
    the ``linear`` task (demosaicing / denoising / remosaicing against the noise-free signal)."""
    return np.clip(np.asarray(cam, dtype=np.float64) * np.asarray(gains, dtype=np.float64), 0, 1)


def render_reference_linear(
    raw: np.ndarray, pattern: CFAPattern, gains, black: float, white: float
) -> np.ndarray:
    """(H, W) RAW codes -> the ``linear`` task's classical answer: tent demosaic, then
    :func:`balanced_linear` with the channel ``gains``."""
    return balanced_linear(demosaic_tent(normalize_raw(raw, black, white), pattern), gains)


def normalize_raw(raw: np.ndarray, black: float, white: float) -> np.ndarray:
    """RAW codes -> linear values ``(raw - black) / (white - black)`` clipped to [0, 1]."""
    lin = (np.asarray(raw, dtype=np.float64) - black) / (float(white) - float(black))
    return np.clip(lin, 0.0, 1.0)


def false_color_mosaic(
    raw: np.ndarray,
    pattern: CFAPattern,
    black: float,
    white: float,
    gains=(1.0, 1.0, 1.0),
    encode: bool = True,
) -> np.ndarray:
    """(H, W) RAW codes -> (H, W, 3) display image of the mosaic: each pixel's normalised
    linear value (:func:`normalize_raw`) in its own CFA colour (R, G or B channel; W sites
    grey), times that colour's entry of ``gains`` (e.g. the sample's white-balance and digital
    gains), clipped to [0, 1] and, with ``encode``, sRGB-encoded (else linear)."""
    lin = normalize_raw(raw, black, white)
    idx = pattern.color_index(*lin.shape)
    out = np.zeros((*lin.shape, 3))
    for c in range(3):
        out[..., c] = np.where((idx == c) | (idx == 3), lin * float(gains[c]), 0.0)
    out = np.clip(out, 0.0, 1.0)
    return srgb_encode(out) if encode else out


def upscale(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Bilinear upscale of an (H, W, 3) image in [0, 1] by an integer ``scale`` (identity at 1):
    the classical answer to DSLR-style targets at ``scale`` times the RAW resolution."""
    if scale == 1:
        return rgb
    return np.clip(zoom(rgb, (scale, scale, 1), order=1, mode="nearest", grid_mode=True), 0, 1)
