"""A simple demosaic for any CFA: separable-tent normalised convolution.

Each colour plane is interpolated from its own sites with a separable tent of half-width equal
to the CFA period (so it always reaches the next same-colour block); measured sites keep their
value. For Bayer this is exactly classical bilinear demosaicing away from the borders. It is
the reference baseline of the round-trip tests, not a competitive demosaicer.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

from cfasim.cfa import CFAPattern


def tent_weights(radius: int) -> np.ndarray:
    """Symmetric tent ``1 - |d| / radius`` for d in (-radius, radius)."""
    d = np.arange(-radius + 1, radius)
    return 1.0 - np.abs(d) / radius


def demosaic_tent(mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """(H, W) mosaic (float) -> (H, W, 3) image, interpolating R, G and B sites of ``pattern``."""
    mosaic = np.asarray(mosaic, dtype=np.float64)
    if mosaic.ndim != 2:
        raise ValueError(f"expected an (H, W) mosaic, got shape {mosaic.shape}")
    masks = pattern.masks(*mosaic.shape).astype(np.float64)
    weights = tent_weights(max(pattern.period))
    out = np.empty((*mosaic.shape, 3))
    for c in range(3):
        num = mosaic * masks[..., c]
        den = masks[..., c]
        for axis in (0, 1):
            num = correlate1d(num, weights, axis=axis, mode="constant")
            den = correlate1d(den, weights, axis=axis, mode="constant")
        interp = num / np.maximum(den, 1e-12)
        out[..., c] = np.where(masks[..., c] > 0, mosaic, interp)
    return out
