"""A sample rendered by a classical baseline: demosaic, then the reference ISP with the true
parameters, so that only the demosaic differs from the target's rendering."""

from __future__ import annotations

import numpy as np

from cfasim.cfa import CFAPattern
from cfasim.eval import baselines as B
from cfasim.isp.render import balanced_linear, normalize_raw, upscale
from cfasim.isp.steps import UnprocessParams, process


def render_baseline(
    name: str,
    raw: np.ndarray,
    pattern: CFAPattern,
    params: UnprocessParams,
    black: float,
    white: float,
    scale: int = 1,
    white_balance: bool = True,
    noise: tuple[float, float] | None = None,
    task: str = "srgb",
    denoised: dict | None = None,
) -> np.ndarray:
    """(H, W) RAW codes -> (s*H, s*W, 3) display sRGB in [0, 1] with baseline ``name``.

    The RAW is normalised (:func:`cfasim.isp.render.normalize_raw`), demosaiced by
    :func:`cfasim.eval.baselines.demosaic` to linear camera RGB and processed by
    :func:`cfasim.isp.steps.process` with ``params``; for
    ``scale`` s > 1 a bilinear upscale follows (as :func:`cfasim.isp.render.render_reference`,
    which this equals for ``tent``, a per-channel linear interpolation).

    With ``white_balance`` (default) the demosaicer sees a white-balanced mosaic, as in camera
    pipelines and raw converters (dcraw / LibRaw scale the colours before interpolating): each
    R / B site is multiplied by the sample's red / blue gain before the demosaic and the result
    divided by the gains after it, so ``process`` still receives camera RGB. Methods that use
    colour differences (Malvar, Menon) lose several dB on unbalanced camera RGB.

    ``nlm+NAME`` denoises the normalised mosaic first (before any white balance, where its
    noise variance is ``shot * x + read``) with ``noise`` = (shot, read), the true levels
    (:func:`cfasim.eval.baselines.denoise_nlm`). ``denoised``: a dict kept for one sample, so
    that several ``nlm+`` pipelines of the sample denoise it once.

    ``task="linear"``: the output is the white-balanced linear camera RGB
    (:func:`cfasim.isp.render.balanced_linear` with the true gains) instead of sRGB.
    """
    lin = normalize_raw(raw, black, white)
    if name.startswith(B.DENOISE_PREFIX):
        B.check_baseline(name, pattern)
        if noise is None or not all(np.isfinite(noise)):
            raise ValueError(f"{name} needs the sample's noise level, which this data lacks")
        cache = {} if denoised is None else denoised
        if "nlm" not in cache:
            cache["nlm"] = B.denoise_nlm(lin, pattern, *noise)
        lin, name = cache["nlm"], name.removeprefix(B.DENOISE_PREFIX)
    if params is None:  # a captured pair: no camera ISP to render with
        return upscale(render_without_isp(B.demosaic(name, lin, pattern)), scale)
    if white_balance:
        gains = np.array([params.red_gain, 1.0, params.blue_gain])
        idx = pattern.color_index(*lin.shape)
        site = np.where(idx < 3, gains[np.minimum(idx, 2)], 1.0)  # W sites keep their value
        cam = B.demosaic(name, lin * site, pattern) / gains
    else:
        cam = B.demosaic(name, lin, pattern)
    if task == "linear":
        return upscale(balanced_linear(cam, params.channel_gains), scale)
    return upscale(process(cam, params), scale)


def render_without_isp(cam: np.ndarray) -> np.ndarray:
    """A camera-agnostic rendering of demosaiced linear camera RGB (for captured pairs, whose
    ISP is unknown): grey-world white balance, exposure scaled so the 99th percentile of the
    green channel maps to 0.9, the sRGB transfer curve; no colour matrix. A classical floor,
    not the camera's look: learned models, which learn the camera's rendering, should beat it
    widely."""
    from cfasim.isp.color import srgb_encode

    means = cam.reshape(-1, 3).mean(axis=0)
    balanced = cam * (means[1] / np.maximum(means, 1e-6))
    top = float(np.percentile(balanced[..., 1], 99))
    return srgb_encode(np.clip(balanced * (0.9 / max(top, 1e-6)), 0.0, 1.0))
