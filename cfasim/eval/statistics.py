"""Confidence intervals of evaluation means and of paired differences between methods.

Percentile bootstrap (Efron & Tibshirani 1993, ch. 13): the samples of a split are resampled
with replacement :data:`RESAMPLES` times (numpy ``default_rng(SEED)``), the statistic is the
mean of each resample, and the 95 % interval is the 2.5th and 97.5th percentile of those
means. For two methods scored on the same samples the resampled quantity is the per-sample
difference (a paired comparison: the variation between scenes, which both methods share,
cancels). "A beats B" is claimed only where the interval of A - B excludes 0.

The intervals are over the test samples only: they do not include the spread between
training seeds, which a claim about a training recipe needs as well (repeat it over seeds).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 10_000
"""Bootstrap resamples per interval."""
SEED = 0
"""Seed of the resampling generator (fixed: the same report gives the same intervals)."""
LEVEL = 0.95
"""Coverage of the intervals."""
MIN_SAMPLES = 8
"""Fewest samples an interval is given for: the percentile bootstrap of a handful of values
covers far less than its nominal 95 % (a noise bin of 2 samples gets no interval)."""


def bootstrap_means(values: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED):
    """The means of ``resamples`` resamples (with replacement, ``n`` of ``n``) of ``values``."""
    v = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(resamples, len(v)))
    return v[idx].mean(axis=1)


def mean_ci(
    values: Sequence[float], level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, float]:
    """Percentile-bootstrap ``level`` interval of the mean of ``values``; (nan, nan) for fewer
    than :data:`MIN_SAMPLES` values or non-finite ones (e.g. an infinite PSNR)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < MIN_SAMPLES or not np.all(np.isfinite(v)):
        return float("nan"), float("nan")
    means = bootstrap_means(v, resamples, seed)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def paired_difference(
    a: Sequence[float], b: Sequence[float], level: float = LEVEL, **kw
) -> dict[str, float | int | list[float] | str]:
    """``{"mean", "ci", "n", "verdict"}`` of the per-sample differences ``a - b``; ``verdict``
    is ``"higher"`` / ``"lower"`` when the interval excludes 0 (on that side), else
    ``"not resolved"``, or ``"too few samples"`` with ``ci`` None."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in number: {a.shape} vs {b.shape}")
    d = a - b
    lo, hi = mean_ci(d, level, **kw)
    verdict = "higher" if lo > 0 else "lower" if hi < 0 else "not resolved"
    ci = [lo, hi]
    if np.isnan(lo):
        verdict, ci = "too few samples", None
    return {"mean": float(np.mean(d)), "ci": ci, "n": len(d), "verdict": verdict}
