"""The scores of one method on one sample: image metrics of its sRGB, and KLD / M4 (no LPIPS)
of a full-resolution Bayer remosaic against the noise-free signal.

Image metrics (:mod:`cfasim.eval.metrics`): PSNR, SSIM, MS-SSIM and mean CIEDE2000 of the sRGB
output against the target region of its size. Methods whose pipeline contains a
full-resolution Bayer remosaic (:data:`REMOSAIC_BASELINES`: :func:`cfasim.eval.baselines.remosaic`
of the RAW codes) are also scored on that Bayer mosaic: the MIPI 2022 KLD
(:func:`cfasim.eval.metrics.kld_bayer`, ``2**bits`` levels) against the same-phase Bayer mosaic
of the stored noise-free ``clean`` signal quantised like the RAW (:func:`clean_bayer_dn`), and
``m4_no_lpips`` = PSNR * SSIM * 2^(1 - KLD), the MIPI M4 score **without its LPIPS term**, or,
when LPIPS weights are given (``lpips`` among the image scores), the real
``m4`` = PSNR * SSIM * 2^(1 - LPIPS - KLD).
"""

from __future__ import annotations

import numpy as np

from cfasim.cfa import CFAPattern
from cfasim.eval import baselines as B
from cfasim.eval import metrics as M

REMOSAIC_BASELINES = tuple(B.REMOSAICS)
"""Baselines whose pipeline has a full-resolution Bayer remosaic (scored with KLD)."""


def clean_bayer_dn(clean: np.ndarray, bayer: CFAPattern, black: float, white: float) -> np.ndarray:
    """Noise-free linear camera RGB (H, W, 3) -> its ``bayer`` mosaic in RAW codes:
    ``round(black + v * (white - black))`` clipped to [0, white]."""
    v = bayer.mosaic(np.asarray(clean, dtype=np.float64))
    return np.clip(np.round(black + v * (float(white) - float(black))), 0.0, float(white))


def target_region(name: str, out: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The top-left region of ``target`` that method ``name``'s (H', W', 3) output covers;
    an output of another shape, or larger than the target, is refused."""
    if out.ndim != 3 or out.shape[2] != 3:
        raise ValueError(f"{name} outputs an array of shape {out.shape}, not (H, W, 3)")
    h, w = out.shape[:2]
    if h > target.shape[0] or w > target.shape[1]:
        raise ValueError(f"{name} outputs {h}x{w} for a {target.shape[0]}x{target.shape[1]} target")
    return target[:h, :w]


def image_scores(out: np.ndarray, target: np.ndarray, colour: bool = True) -> dict[str, float]:
    """``psnr``, ``ssim``, ``ms_ssim`` and (``colour``: sRGB images) ``ciede2000`` of ``out``
    against ``target``."""
    scores = {
        "psnr": M.psnr(out, target),
        "ssim": M.ssim(out, target),
        "ms_ssim": M.ms_ssim(out, target),
    }
    if colour:
        scores["ciede2000"] = M.ciede2000(out, target)
    return scores


def remosaic_scores(
    raw: np.ndarray,
    pattern: CFAPattern,
    clean: np.ndarray,
    black: float,
    white: float,
    bits: int,
    image: dict[str, float],
    name: str = "remosaic_malvar",
) -> dict[str, float]:
    """``kld`` of the Bayer remosaic of ``raw`` against the clean Bayer mosaic in RAW codes
    (``2**bits`` levels), and from it and ``image``'s PSNR and SSIM ``m4`` (when ``image``
    has ``lpips``) or else ``m4_no_lpips``."""
    bayer_dn, bayer = B.REMOSAICS[name](np.asarray(raw, dtype=np.float64), pattern)
    ref = clean_bayer_dn(clean, bayer, black, white)
    kld = M.kld_bayer(bayer_dn, ref, 1 << int(bits))
    if "lpips" in image:  # the challenge's score, with LPIPS given by weights
        return {"kld": kld, "m4": M.m4(image["psnr"], image["ssim"], image["lpips"], kld)}
    return {"kld": kld, "m4_no_lpips": M.m4_no_lpips(image["psnr"], image["ssim"], kld)}
