"""Classical demosaicing baselines for every CFA pattern (NumPy / SciPy only, no torch).

All baselines map a linear (H, W) float mosaic in [0, 1] to linear camera RGB (H, W, 3) float;
the caller applies cfasim's processing. Which baselines apply depends on the pattern:

- Bayer (block 1): ``bilinear``, ``malvar``, ``menon`` (via ``colour_demosaicing``).
- Block patterns with b > 1 (Quad, Nona, QxQ and ``blockN`` of any size): ``binning`` (b x b
  mean-binning to a small Bayer, Malvar, bilinear upscale by b) and ``remosaic_malvar`` (naive
  nearest-same-colour remosaic to a full-resolution Bayer of the same phase, then Malvar).
- Any pattern, block or user tile: ``tent`` (:func:`cfasim.isp.demosaic.demosaic_tent`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from colour_demosaicing import (
    demosaicing_CFA_Bayer_bilinear,
    demosaicing_CFA_Bayer_Malvar2004,
    demosaicing_CFA_Bayer_Menon2007,
)
from scipy.ndimage import distance_transform_edt, zoom

from cfasim.cfa import CFAPattern
from cfasim.isp.demosaic import demosaic_tent

BAYER_BASELINES = ("bilinear", "malvar", "menon")
"""Baselines for Bayer (block size 1)."""
BLOCK_BASELINES = ("binning", "remosaic_malvar")
"""Baselines for block patterns with block size b > 1 (Quad, Nona, QxQ, blockN)."""
BASELINES = {*BAYER_BASELINES, *BLOCK_BASELINES}
"""Names of the pattern-specific classical baselines (``tent`` applies to every pattern too)."""

_BAYER_FUNCS = {
    "bilinear": demosaicing_CFA_Bayer_bilinear,
    "malvar": demosaicing_CFA_Bayer_Malvar2004,
    "menon": demosaicing_CFA_Bayer_Menon2007,
}
_BAYER_PAD = 4
"""Even border pad (pixels) before ``colour_demosaicing`` (covers the 5x5 Malvar kernels)."""


def _check_mosaic(mosaic: np.ndarray) -> np.ndarray:
    mosaic = np.asarray(mosaic, dtype=np.float64)
    if mosaic.ndim != 2:
        raise ValueError(f"expected an (H, W) mosaic, got shape {mosaic.shape}")
    return mosaic


def _bayer_phase(pattern: CFAPattern) -> str:
    if pattern.block != 1:
        raise ValueError(f"{pattern.label!r} is not a Bayer pattern")
    return pattern.phase.upper()


def bayer_demosaic(name: str, mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """Demosaic a Bayer mosaic with a ``colour_demosaicing`` method.

    Parameters
    ----------
    name
        ``"bilinear"``, ``"malvar"`` (Malvar et al. 2004) or ``"menon"`` (Menon et al. 2007).
    mosaic
        (H, W) linear mosaic.
    pattern
        A Bayer pattern (block size 1); its phase sets the ``colour_demosaicing`` pattern string.

    Returns
    -------
    numpy.ndarray
        (H, W, 3) float64 linear camera RGB.
    """
    mosaic = _check_mosaic(mosaic)
    phase = _bayer_phase(pattern)
    # colour_demosaicing convolves with scipy's default "reflect" border, which breaks the CFA
    # parity at the image edge; an even-width NumPy "reflect" pad keeps the parity, so pad first.
    pad = _BAYER_PAD if min(mosaic.shape) > _BAYER_PAD else 0
    padded = np.pad(mosaic, pad, mode="reflect")
    rgb = np.asarray(_BAYER_FUNCS[name](padded, phase), dtype=np.float64)
    return rgb[pad : pad + mosaic.shape[0], pad : pad + mosaic.shape[1]]


def bilinear(mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """Bilinear Bayer demosaic (see :func:`bayer_demosaic`)."""
    return bayer_demosaic("bilinear", mosaic, pattern)


def malvar(mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """Malvar-He-Cutler (2004) Bayer demosaic (see :func:`bayer_demosaic`)."""
    return bayer_demosaic("malvar", mosaic, pattern)


def menon(mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """Menon (2007) DDFAPD Bayer demosaic (see :func:`bayer_demosaic`)."""
    return bayer_demosaic("menon", mosaic, pattern)


def _require_big_block(pattern: CFAPattern, what: str) -> int:
    if pattern.block is None or pattern.block < 2:
        raise ValueError(f"{what} needs a block pattern with block size > 1, got {pattern.label!r}")
    return pattern.block


def binning(mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """Bin b x b blocks to a Bayer mosaic, Malvar-demosaic it, upscale by b to full size.

    Parameters
    ----------
    mosaic
        (H, W) linear block mosaic (Quad, Nona, QxQ, blockN).
    pattern
        Block pattern with block size b > 1.

    Returns
    -------
    numpy.ndarray
        (H, W, 3) float64; the upscale is ``scipy.ndimage.zoom(order=1, grid_mode=True,
        mode="nearest")``.
    """
    b = _require_big_block(pattern, "binning")
    mosaic = _check_mosaic(mosaic)
    small, bayer = pattern.bin_to_bayer(mosaic, "mean")
    rgb = malvar(small, bayer)
    return zoom(rgb, (b, b, 1), order=1, grid_mode=True, mode="nearest")


@lru_cache(maxsize=32)
def remosaic_index(pattern: CFAPattern, height: int, width: int) -> tuple[np.ndarray, CFAPattern]:
    """Flat source indices of the naive nearest-same-colour remosaic.

    For every site of the full-resolution Bayer of the same phase, with colour c, the index of
    the nearest (Euclidean, ties broken by ``distance_transform_edt``) pixel of colour c in the
    block pattern. Returns the read-only (height, width) index map and the Bayer pattern.
    """
    _require_big_block(pattern, "remosaic")
    pattern.check_shape(height, width)
    bayer = CFAPattern.block_bayer(1, pattern.phase)
    src = pattern.color_index(height, width)
    dst = bayer.color_index(height, width)
    index = np.empty((height, width), dtype=np.intp)
    for c in range(3):
        _, (iy, ix) = distance_transform_edt(src != c, return_indices=True)
        sel = dst == c
        index[sel] = (iy * width + ix)[sel]
    index.flags.writeable = False
    return index, bayer


def remosaic(mosaic: np.ndarray, pattern: CFAPattern) -> tuple[np.ndarray, CFAPattern]:
    """Naive nearest-same-colour remosaic of a block mosaic to a same-phase Bayer mosaic.

    Each output Bayer site copies the nearest input pixel of its own colour (no interpolation);
    for Quad this is close to the classical pixel-swap remosaic. Returns (bayer_mosaic, bayer).
    """
    mosaic = _check_mosaic(mosaic)
    index, bayer = remosaic_index(pattern, *mosaic.shape)
    return mosaic.ravel()[index], bayer


def remosaic_malvar(mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """Naive nearest-same-colour remosaic (:func:`remosaic`) followed by Malvar (2004).

    Returns
    -------
    numpy.ndarray
        (H, W, 3) float64 linear camera RGB.
    """
    bayer_mosaic, bayer = remosaic(mosaic, pattern)
    return malvar(bayer_mosaic, bayer)


def applicable(pattern: CFAPattern) -> tuple[str, ...]:
    """Names of the baselines that apply to ``pattern`` (``tent`` always does)."""
    if pattern.block == 1:
        return (*BAYER_BASELINES, "tent")
    if pattern.block is not None:
        return (*BLOCK_BASELINES, "tent")
    return ("tent",)


_FUNCS = {
    "bilinear": bilinear,
    "malvar": malvar,
    "menon": menon,
    "binning": binning,
    "remosaic_malvar": remosaic_malvar,
    "tent": demosaic_tent,
}


def demosaic(name: str, mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """Run baseline ``name`` on a linear (H, W) mosaic of ``pattern``: (H, W, 3) float64.

    Raises
    ------
    ValueError
        For an unknown name, or a baseline that does not apply to the pattern (Bayer: bilinear,
        malvar, menon; block patterns with b > 1, e.g. Quad or block5: binning,
        remosaic_malvar; ``tent``: any).
    """
    if name not in _FUNCS:
        raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(sorted(_FUNCS))}")
    ok = applicable(pattern)
    if name not in ok:
        raise ValueError(
            f"baseline {name!r} does not apply to {pattern.label!r}; use one of {', '.join(ok)} "
            "(Bayer: bilinear, malvar, menon; Quad/Nona/QxQ/blockN: binning, remosaic_malvar; "
            "any pattern: tent)"
        )
    return np.asarray(_FUNCS[name](mosaic, pattern), dtype=np.float64)
