"""Reference rendering of stored RAW samples: simple demosaic + cfasim's forward ISP.

This is the classical baseline a learned ISP must beat: the same ``process`` that defines the
targets, applied after :func:`cfasim.isp.demosaic.demosaic_tent` (bilinear on Bayer).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import zoom

from cfasim.cfa import CFAPattern
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


def normalize_raw(raw: np.ndarray, black: float, white: float) -> np.ndarray:
    """RAW codes -> linear values ``(raw - black) / (white - black)`` clipped to [0, 1]."""
    lin = (np.asarray(raw, dtype=np.float64) - black) / (float(white) - float(black))
    return np.clip(lin, 0.0, 1.0)


def upscale(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Bilinear upscale of an (H, W, 3) image in [0, 1] by an integer ``scale`` (identity at 1):
    the classical answer to DSLR-style targets at ``scale`` times the RAW resolution."""
    if scale == 1:
        return rgb
    return np.clip(zoom(rgb, (scale, scale, 1), order=1, mode="nearest", grid_mode=True), 0, 1)
