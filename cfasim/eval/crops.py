"""Figure crops of the evaluation: where the methods differ most, and the mosaic shown beside.

Every sample's best crop (:func:`best_crop`: the largest across-method variance of local RMSE,
aligned to the CFA period) competes for the figure's rows; :func:`keep_crop` keeps the best few.
"""

from __future__ import annotations

import numpy as np

from cfasim.eval import metrics as M
from cfasim.isp.render import false_color_mosaic


def _box_means(err: np.ndarray, size: int) -> np.ndarray:
    """Mean of ``err`` over every size x size box: (H - size + 1, W - size + 1), by top-left."""
    s = np.pad(np.cumsum(np.cumsum(err, axis=0), axis=1), ((1, 0), (1, 0)))
    return (s[size:, size:] - s[:-size, size:] - s[size:, :-size] + s[:-size, :-size]) / size**2


def best_crop(outputs: dict[str, np.ndarray], target: np.ndarray, size: int, step: int = 1):
    """Top-left (y, x) and score of the size x size crop where the methods differ most.

    The score of a crop is the variance across methods of their local RMSE against the target
    (with a single method: its local RMSE); top-left corners are multiples of ``step``. Only the
    region every output covers is considered.
    """
    h = min(o.shape[0] for o in outputs.values())
    w = min(o.shape[1] for o in outputs.values())
    rmse = np.stack(
        [
            np.sqrt(np.maximum(_box_means(np.mean((o[:h, :w] - target[:h, :w]) ** 2, -1), size), 0))
            for o in outputs.values()
        ]
    )[:, ::step, ::step]
    score = rmse.var(axis=0) if len(outputs) > 1 else rmse[0]
    iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(iy * step), int(ix * step), float(score[iy, ix])


def keep_crop(crops, outputs, target, raw, pattern, levels, scale, crop_size, keep, index):
    """``crops`` with sample ``index``'s best crop added if it ranks among the ``keep`` best.

    ``outputs`` are the methods' sRGB images of the sample, ``target`` its target in [0, 1],
    ``raw`` its RAW codes with ``levels`` = (black, white, gains) for
    :func:`false_color_mosaic`; the crop side is ``crop_size`` clipped to the image and rounded
    down to a multiple of ``scale``, its corner aligned to ``scale`` times the CFA period. A
    crop is ``{"sample", "y", "x", "size", "score", "mosaic", "target", "images", "psnr"}``;
    the list is sorted by score, highest first.
    """
    h = min(min(o.shape[0] for o in outputs.values()), target.shape[0])
    w = min(min(o.shape[1] for o in outputs.values()), target.shape[1])
    size = max(scale, (min(crop_size, h, w) // scale) * scale)
    y, x, score = best_crop(outputs, target, size, step=scale * max(pattern.period))
    if len(crops) >= keep and score <= crops[-1]["score"]:
        return crops
    box = (slice(y, y + size), slice(x, x + size))
    ry, rx, rs = y // scale, x // scale, size // scale
    mosaic = false_color_mosaic(raw, pattern, *levels)[ry : ry + rs, rx : rx + rs]
    if scale != 1:
        mosaic = np.repeat(np.repeat(mosaic, scale, axis=0), scale, axis=1)
    images = {k: np.clip(o[box], 0, 1) for k, o in outputs.items()}
    crop = {
        "sample": int(index),
        "y": y,
        "x": x,
        "size": size,
        "score": score,
        "mosaic": mosaic,
        "target": target[box],
        "images": images,
        "psnr": {k: M.psnr(img, target[box]) for k, img in images.items()},
    }
    return sorted([*crops, crop], key=lambda c: -c["score"])[:keep]
