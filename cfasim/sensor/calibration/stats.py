"""Photon-transfer statistics of one exposure level and the weighted fits of the PTC and PRNU.

The formulas are those of the package docstring (:mod:`cfasim.sensor.calibration`): per CFA
site the mean, the temporal variance (with and without row noise), the fixed-pattern variance of
the mean frame and the row variance; :func:`fit_ptc` is the weighted PTC line that gives the
conversion gain, :func:`fit_prnu` the weighted fit through the origin that gives PRNU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_LINEAR_FRACTION = 0.7
"""Upper end of the PTC fit range as a fraction of the mean at the variance peak (EMVA 1288)."""

COLLAPSE_FRACTION = 0.1
"""A flat level beyond the variance peak is saturated when its temporal variance is below this
fraction of the PTC line's prediction at its mean."""


@dataclass(frozen=True)
class LevelStats:
    """Statistics of one exposure level (``N`` frames), per CFA site, in DN.

    Attributes
    ----------
    mean : (S,) mean of ``frame - black`` per site.
    temporal_var : (S,) temporal variance per site (row noise included).
    pixel_var : (S,) temporal variance per site with row means removed (row noise excluded).
    fixed_var : (S,) fixed-pattern variance of the mean frame, temporal part and row structure
        removed.
    row_var : variance of full-width row means over frames minus the pixel part (row noise).
    n_frames : N.
    dof_temporal, dof_fixed : degrees of freedom of ``pixel_var`` and of the mean-frame spatial
        variance, per site.
    """

    mean: np.ndarray
    temporal_var: np.ndarray
    pixel_var: np.ndarray
    fixed_var: np.ndarray
    row_var: float
    n_frames: int
    dof_temporal: int
    dof_fixed: int


def level_statistics(frames: np.ndarray, black: np.ndarray, sites: tuple[int, int]) -> LevelStats:
    """Photon-transfer statistics of ``N >= 2`` frames of one level.

    Parameters
    ----------
    frames
        (N, H, W) frames in DN; H and W multiples of the site period.
    black
        (H, W) black level map in DN.
    sites
        (py, px) period of the CFA sites; (1, 1) treats the mosaic as one plane.

    Returns
    -------
    LevelStats
        See the package docstring (:mod:`cfasim.sensor.calibration`) for the formulas.
    """
    x = np.asarray(frames, dtype=np.float64) - black
    n, h, w = x.shape
    py, px = sites
    hs, ws = h // py, w // px
    planes = x.reshape(n, hs, py, ws, px).transpose(0, 2, 4, 1, 3).reshape(n, py * px, hs, ws)
    npix = hs * ws
    frame_means = planes.mean(axis=(2, 3))  # (N, S)
    mean = frame_means.mean(axis=0)
    dev = planes - frame_means[..., None, None]
    dev -= dev.mean(axis=0)
    temporal = np.einsum("nshw,nshw->s", dev, dev) / ((n - 1) * (npix - 1))
    res = planes - planes.mean(axis=3, keepdims=True)  # row means removed per frame and site
    res_mean = res.mean(axis=0)
    res -= res_mean
    dof_fixed = hs * (ws - 1)
    pixel = np.einsum("nshw,nshw->s", res, res) / ((n - 1) * dof_fixed)
    fixed = np.einsum("shw,shw->s", res_mean, res_mean) / dof_fixed - pixel / n
    rows = x.mean(axis=2)  # (N, H) full-width row means
    rows -= rows.mean(axis=1, keepdims=True)
    rows -= rows.mean(axis=0)
    row_var = float(np.sum(rows * rows) / ((n - 1) * (h - 1)) - pixel.mean() / w)
    return LevelStats(
        mean=mean,
        temporal_var=temporal,
        pixel_var=pixel,
        fixed_var=fixed,
        row_var=row_var,
        n_frames=n,
        dof_temporal=(n - 1) * dof_fixed,
        dof_fixed=dof_fixed,
    )


def fit_ptc(mean: np.ndarray, var: np.ndarray, dof: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares line ``var = slope * mean + intercept``.

    Parameters
    ----------
    mean, var
        PTC points (DN, DN^2).
    dof
        Degrees of freedom of each variance: weights ``dof / (2 * var**2)`` = 1 / Var(var).

    Returns
    -------
    tuple of float
        (slope, intercept).
    """
    mean = np.asarray(mean, dtype=np.float64)
    var = np.maximum(np.asarray(var, dtype=np.float64), 1e-12)
    sw = np.sqrt(np.asarray(dof, dtype=np.float64) / (2.0 * var**2))
    design = np.stack([mean, np.ones_like(mean)], axis=1) * sw[:, None]
    (slope, intercept), *_ = np.linalg.lstsq(design, var * sw, rcond=None)
    return float(slope), float(intercept)


def fit_prnu(
    photo: np.ndarray,
    fixed_photo: np.ndarray,
    fixed_total: np.ndarray,
    pixel_var: np.ndarray,
    n_frames: np.ndarray,
    dof_fixed: np.ndarray,
) -> float:
    """PRNU from ``fixed_photo = prnu**2 * photo**2`` (weighted, through the origin).

    Parameters
    ----------
    photo
        Photo-signal of each point (DN above the dark signal).
    fixed_photo
        Fixed-pattern variance minus the DSNU variance (DN^2).
    fixed_total, pixel_var, n_frames, dof_fixed
        The point's fixed-pattern variance, pixel temporal variance, frame count and degrees of
        freedom, for the weights: ``Var(y) = 2 (s + v/N)^2 / dof + 2 (v/N)^2 / (dof (N - 1))``.

    Returns
    -------
    float
        PRNU (relative standard deviation of the pixel gain), >= 0.
    """
    photo = np.asarray(photo, dtype=np.float64)
    temporal = np.asarray(pixel_var, dtype=np.float64) / n_frames
    spatial = np.maximum(np.asarray(fixed_total, dtype=np.float64), 0.0) + temporal
    var_y = 2.0 * spatial**2 / dof_fixed + 2.0 * temporal**2 / (dof_fixed * (n_frames - 1))
    w = 1.0 / np.maximum(var_y, 1e-300)
    p2 = np.sum(w * fixed_photo * photo**2) / np.sum(w * photo**4)
    return math.sqrt(max(float(p2), 0.0))
