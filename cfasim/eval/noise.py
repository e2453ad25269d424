"""Grouping of evaluated samples by noise level: quantile bins of the noise sigma at level 0.18.

A sample's noise level is the noise standard deviation at linear level
:data:`NOISE_REFERENCE_LEVEL`, ``sqrt(shot * 0.18 + read)`` from its stored ``shot_noise`` /
``read_noise``; the samples are split into ``bins`` groups of (nearly) equal size by rank, and
all share one group when every level is the same (noise ``none`` or fixed levels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

NOISE_REFERENCE_LEVEL = 0.18
"""Linear level at which the noise standard deviation that bins samples is taken."""


def noise_level(shot: float, read: float) -> float:
    """Noise standard deviation at linear level :data:`NOISE_REFERENCE_LEVEL`."""
    return float(math.sqrt(max(shot * NOISE_REFERENCE_LEVEL + read, 0.0)))


def noise_groups(levels: Sequence[float], bins: int) -> list[np.ndarray]:
    """Positions of samples per noise bin, lowest noise first.

    Quantile bins by rank: the samples sorted by level (stable) are split into
    ``min(bins, number of distinct levels)`` groups of nearly equal size
    (``numpy.array_split``); one group when all levels are equal.
    """
    levels = np.asarray(levels, dtype=np.float64)
    if bins < 1:
        raise ValueError(f"noise_bins must be >= 1, got {bins}")
    k = min(bins, len(np.unique(levels)))
    order = np.argsort(levels, kind="stable")
    return [np.sort(g) for g in np.array_split(order, max(k, 1)) if len(g)]


def bin_label(lo: float, hi: float) -> str:
    """Label of a noise bin from its lowest and highest level: ``noise none`` (all 0),
    ``sigma LO`` or ``sigma LO-HI``."""
    if hi == 0.0:
        return "noise none"
    if lo == hi:
        return f"sigma {lo:.4g}"
    return f"sigma {lo:.4g}-{hi:.4g}"


def noise_bins(levels: Sequence[float], bins: int) -> list[dict]:
    """The report's noise bins: ``[{"label", "low", "high", "samples"}]``, lowest noise first
    (:func:`noise_groups`); equal rounded labels are numbered ``bin K: ...``."""
    if len(levels) and all(math.isnan(v) for v in levels):  # captured pairs: camera noise
        return [{"label": "camera noise", "low": None, "high": None,
                 "samples": list(range(len(levels)))}]  # fmt: skip
    out = []
    for g in noise_groups(levels, bins):
        lo, hi = float(min(levels[j] for j in g)), float(max(levels[j] for j in g))
        members = [int(j) for j in g]
        out.append({"label": bin_label(lo, hi), "low": lo, "high": hi, "samples": members})
    labels = [b["label"] for b in out]
    if len(set(labels)) != len(labels):
        for k, b in enumerate(out):
            b["label"] = f"bin {k + 1}: {b['label']}"
    return out
