"""Classical demosaicing baselines for every CFA pattern (NumPy / SciPy only, no torch).

All baselines map a linear (H, W) float mosaic in [0, 1] to linear camera RGB (H, W, 3) float;
the caller applies cfasim's processing. Which baselines apply depends on the pattern:

- Bayer (block 1): ``bilinear``, ``malvar``, ``menon`` (via ``colour_demosaicing``).
- Block patterns with b > 1 (Quad, Nona, QxQ and ``blockN`` of any size): ``binning`` (b x b
  mean-binning to a small Bayer, Malvar, bilinear upscale by b), ``remosaic_malvar`` and
  ``remosaic_menon`` (naive nearest-same-colour remosaic to a full-resolution Bayer of the same
  phase, then Malvar or Menon) and ``remosaic_ed_menon`` (edge-directed remosaic,
  :func:`remosaic_edge_directed`, then Menon).
- Any pattern, block or user tile: ``tent`` (:func:`cfasim.isp.demosaic.demosaic_tent`).
- ``nlm+NAME``: any of the above after a classical denoiser given the true noise level
  (:func:`denoise_nlm`: variance-stabilised non-local means on the colour planes). It needs the
  sample's noise parameters, so :func:`demosaic` takes them as ``noise``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from colour_demosaicing import (
    demosaicing_CFA_Bayer_bilinear,
    demosaicing_CFA_Bayer_Malvar2004,
    demosaicing_CFA_Bayer_Menon2007,
)
from scipy.ndimage import distance_transform_edt, uniform_filter, zoom

from cfasim.cfa import CFAPattern
from cfasim.isp.demosaic import demosaic_tent

BAYER_BASELINES = ("bilinear", "malvar", "menon")
"""Baselines for Bayer (block size 1)."""
BLOCK_BASELINES = ("binning", "remosaic_malvar", "remosaic_menon", "remosaic_ed_menon")
"""Baselines for block patterns with block size b > 1 (Quad, Nona, QxQ, blockN)."""
DENOISED = {
    1: ("nlm+menon",),
    "block": ("nlm+binning", "nlm+remosaic_ed_menon"),
    None: ("nlm+tent",),
}
"""The denoised pipelines that ``all`` includes, per pattern kind (any ``nlm+NAME`` may be
asked for)."""
DENOISE_PREFIX = "nlm+"
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


def remosaic_edge_directed(
    mosaic: np.ndarray, pattern: CFAPattern
) -> tuple[np.ndarray, CFAPattern]:
    """Edge-directed remosaic of a block mosaic to a same-phase Bayer mosaic.

    A Bayer site whose colour the block pattern has there keeps its value. Every other site
    interpolates its colour linearly between the nearest pixels of that colour to its left and
    right in its row (horizontal estimate) and above and below in its column (vertical
    estimate), and blends the two with weights inversely proportional to the squared
    luminance gradient across each direction, so that it interpolates along edges rather than
    across them: the direction test of Hamilton & Adams (US patent 5,629,734, 1997) with the
    threshold-free gradient weights of Pekkucuksen & Altunbasak ("Gradient based threshold
    free color filter array interpolation", ICIP 2010), applied to remosaicing. The luminance
    guide is the tent demosaic's channel sum, its gradients taken over one block and box-
    averaged over 3x3. A site with only one direction available uses it; a colour on neither
    its row nor its column (Quad's diagonal blocks) is interpolated bilinearly on that colour's
    sampling grid; where nothing brackets the site (an image border), the nearest same-colour
    pixel (:func:`remosaic`). Exact, away from the border, on images linear in x and y.
    Returns (bayer_mosaic, bayer).
    """
    mosaic = _check_mosaic(mosaic)
    b = _require_big_block(pattern, "remosaic")
    h, w = mosaic.shape
    nearest, bayer = remosaic(mosaic, pattern)
    src, dst = pattern.color_index(h, w), bayer.color_index(h, w)
    guide = np.pad(demosaic_tent(mosaic, pattern).sum(axis=2), b, mode="edge")
    grad_h = np.abs(guide[b:-b, 2 * b :] - guide[b:-b, : -2 * b])
    grad_v = np.abs(guide[2 * b :, b:-b] - guide[: -2 * b, b:-b])
    eps = 1e-6 + 1e-3 * float(np.mean(grad_h) + np.mean(grad_v))
    w_h = 1.0 / (uniform_filter(grad_h, 3) + eps) ** 2
    w_v = 1.0 / (uniform_filter(grad_v, 3) + eps) ** 2
    out = nearest.copy()
    for c in range(3):
        present = src == c
        est_h, ok_h = _line_interpolate(mosaic, present)
        est_v, ok_v = _transposed(_line_interpolate, mosaic, present)
        wh, wv = np.where(ok_h, w_h, 0.0), np.where(ok_v, w_v, 0.0)
        total = wh + wv
        blend = (wh * est_h + wv * est_v) / np.where(total > 0, total, 1.0)
        # a colour on neither the site's row nor its column: bilinear on the colour's grid,
        # rows then columns and columns then rows, averaged
        hv, ok_hv = _transposed(_line_interpolate, np.where(ok_h, est_h, 0.0), ok_h)
        vh, ok_vh = _line_interpolate(np.where(ok_v, est_v, 0.0), ok_v)
        both = ok_hv.astype(float) + ok_vh
        grid = (np.where(ok_hv, hv, 0.0) + np.where(ok_vh, vh, 0.0)) / np.maximum(both, 1.0)
        blend = np.where(total > 0, blend, grid)
        todo = (dst == c) & ~present & ((total > 0) | (both > 0))
        out[todo] = blend[todo]
    return out, bayer


def _transposed(f, values: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``f`` along columns instead of rows."""
    est, ok = f(values.T, present.T)
    return est.T, ok.T


def _line_interpolate(values: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: linear interpolation of ``values`` between the nearest ``present`` pixels to
    the left and right of each pixel, and where both exist (a pixel that is present: itself)."""
    h, w = values.shape
    cols = np.broadcast_to(np.arange(w), (h, w))
    left = np.maximum.accumulate(np.where(present, cols, -1), axis=1)
    right = np.minimum.accumulate(np.where(present, cols, w)[:, ::-1], axis=1)[:, ::-1]
    ok = (left >= 0) & (right < w)
    li, ri = np.clip(left, 0, w - 1), np.clip(right, 0, w - 1)
    rows = np.arange(h)[:, None]
    vl, vr = values[rows, li], values[rows, ri]
    span = np.where(ri > li, ri - li, 1)
    return vl + (vr - vl) * (cols - li) / span, ok


def remosaic_malvar(mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """Naive nearest-same-colour remosaic (:func:`remosaic`) followed by Malvar (2004).

    Returns
    -------
    numpy.ndarray
        (H, W, 3) float64 linear camera RGB.
    """
    bayer_mosaic, bayer = remosaic(mosaic, pattern)
    return malvar(bayer_mosaic, bayer)


def remosaic_menon(mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """Naive nearest-same-colour remosaic (:func:`remosaic`) followed by Menon (2007)."""
    bayer_mosaic, bayer = remosaic(mosaic, pattern)
    return menon(bayer_mosaic, bayer)


def remosaic_ed_menon(mosaic: np.ndarray, pattern: CFAPattern) -> np.ndarray:
    """Edge-directed remosaic (:func:`remosaic_edge_directed`) followed by Menon (2007)."""
    bayer_mosaic, bayer = remosaic_edge_directed(mosaic, pattern)
    return menon(bayer_mosaic, bayer)


REMOSAICS = {
    "remosaic_malvar": remosaic,
    "remosaic_menon": remosaic,
    "remosaic_ed_menon": remosaic_edge_directed,
}
"""Baselines whose pipeline has a full-resolution Bayer remosaic -> that remosaic."""


def denoise_nlm(mosaic: np.ndarray, pattern: CFAPattern, shot: float, read: float) -> np.ndarray:
    """Denoise a linear mosaic with noise variance ``shot * x + read`` (the true levels).

    The mosaic is split into single-colour planes (4 block-wise planes, :meth:`CFAPattern.
    pack_planes`, for Bayer and block patterns; space-to-depth by the period for other tiles),
    the generalised Anscombe transform ``f = 2 / a * sqrt(a x + 3/8 a^2 + b)`` (Starck, Murtagh
    & Bijaoui 1998; Makitalo & Foi 2013) makes the Poisson-Gaussian noise nearly Gaussian of
    unit variance, scikit-image's non-local means (Buades, Coll & Morel 2005; fast mode, 5x5
    patches, 13x13 search, ``h = 0.8``, ``sigma = 1``, the planes as channels) denoises it, and
    the algebraic inverse maps back (biased low at very low counts: a classical floor, not a
    tuned denoiser). No noise (``shot = read = 0``): the mosaic unchanged.
    """
    from skimage.restoration import denoise_nl_means

    mosaic = _check_mosaic(mosaic)
    a, b = float(shot), float(read)
    if a <= 0 and b <= 0:
        return mosaic
    block = pattern.block is not None
    planes = pattern.pack_planes(mosaic) if block else pattern.space_to_depth(mosaic)
    if a > 0:
        f = 2.0 / a * np.sqrt(np.maximum(a * planes + 0.375 * a * a + b, 0.0))
    else:
        f = planes / np.sqrt(b)
    d = denoise_nl_means(f, patch_size=5, patch_distance=6, h=0.8, sigma=1.0,
                         fast_mode=True, channel_axis=-1)  # fmt: skip
    if a > 0:
        back = ((a * d / 2.0) ** 2 - 0.375 * a * a - b) / a
    else:
        back = d * np.sqrt(b)
    return pattern.unpack_planes(back) if block else pattern.depth_to_space(back)


def applicable(pattern: CFAPattern) -> tuple[str, ...]:
    """Names of the baselines ``all`` means for ``pattern`` (``tent`` always applies)."""
    if pattern.block == 1:
        return (*BAYER_BASELINES, "tent", *DENOISED[1])
    if pattern.block is not None:
        return (*BLOCK_BASELINES, "tent", *DENOISED["block"])
    return ("tent", *DENOISED[None])


def check_baseline(name: str, pattern: CFAPattern) -> None:
    """ValueError unless ``name`` (a baseline, or ``nlm+`` one) applies to ``pattern``."""
    inner = name.removeprefix(DENOISE_PREFIX)
    if inner not in _FUNCS:
        raise ValueError(
            f"unknown baseline {name!r}; choose one of {', '.join(sorted(_FUNCS))}, or "
            f"{DENOISE_PREFIX}NAME for any of them after a denoiser"
        )
    ok = [n for n in applicable(pattern) if not n.startswith(DENOISE_PREFIX)]
    if inner not in ok:
        raise ValueError(
            f"baseline {name!r} does not apply to {pattern.label!r}; use one of {', '.join(ok)} "
            "(Bayer: bilinear, malvar, menon; Quad/Nona/QxQ/blockN: binning, remosaic_malvar, "
            "remosaic_menon, remosaic_ed_menon; any pattern: tent; nlm+NAME: denoised first)"
        )


_FUNCS = {
    "bilinear": bilinear,
    "malvar": malvar,
    "menon": menon,
    "binning": binning,
    "remosaic_malvar": remosaic_malvar,
    "remosaic_menon": remosaic_menon,
    "remosaic_ed_menon": remosaic_ed_menon,
    "tent": demosaic_tent,
}


def demosaic(
    name: str, mosaic: np.ndarray, pattern: CFAPattern, noise: tuple[float, float] | None = None
) -> np.ndarray:
    """Run baseline ``name`` on a linear (H, W) mosaic of ``pattern``: (H, W, 3) float64.

    ``nlm+NAME`` denoises first (:func:`denoise_nlm`) with ``noise`` = (shot, read), the
    sample's true noise parameters on the linear mosaic.

    Raises
    ------
    ValueError
        For an unknown name, a baseline that does not apply to the pattern (Bayer: bilinear,
        malvar, menon; block patterns with b > 1, e.g. Quad or block5: binning,
        remosaic_malvar, remosaic_menon, remosaic_ed_menon; ``tent``: any), or ``nlm+`` without
        ``noise``.
    """
    check_baseline(name, pattern)
    if name.startswith(DENOISE_PREFIX):
        if noise is None:
            raise ValueError(f"{name} needs the noise level: noise=(shot, read)")
        mosaic = denoise_nlm(mosaic, pattern, *noise)
    inner = name.removeprefix(DENOISE_PREFIX)
    return np.asarray(_FUNCS[inner](mosaic, pattern), dtype=np.float64)
