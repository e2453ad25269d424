"""The photon-transfer plot of a calibration (matplotlib, imported only when a plot is drawn).

Left: temporal variance against mean signal (log-log, every flat level and CFA site; filled
markers are the linear points of the fit), the fitted line ``K * mean + intercept``, the
signal-independent (read + row + quantisation) floor and the full well. Right: spatial
(fixed-pattern) noise against mean with the fitted ``sqrt(K^2 DSNU^2 + PRNU^2 mean^2)`` (the
mean standing in for the photo-signal), and the temporal noise for comparison.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def plot_photon_transfer(cal, path: str | os.PathLike[str]) -> Path:
    """Write the photon-transfer plot of ``cal`` (matplotlib's Agg canvas) as PNG, or as PDF /
    SVG when ``path`` ends so (:func:`cfasim.figures.save_figure`: fixed metadata, embedded
    fonts, at the text width of a two-column paper).

    Parameters
    ----------
    cal
        A :class:`~cfasim.sensor.calibration.result.Calibration`.
    path
        The file to write (``.png``, ``.pdf`` or ``.svg``; another suffix writes PNG).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from matplotlib.figure import Figure

    path = Path(path)
    mean = cal.ptc_mean.ravel()
    pos = mean > 0
    lo = max(float(mean[pos].min()) if pos.any() else 1.0, 1e-3) / 2
    hi = max(float(mean.max()), cal.saturation_dn) * 1.5
    xs = np.geomspace(lo, hi, 200)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "svg"):  # the screen PNG, as before
        fig = Figure(figsize=(11, 4.5), dpi=100, layout="constrained")
        ax, ax2 = fig.subplots(1, 2)
        _draw_ptc(ax, cal, xs)
        _draw_spatial(ax2, cal, xs)
        fig.savefig(path, format="png", metadata={"Software": None})
        return path
    from cfasim.figures import TEXT_WIDTH_IN, paper_style, save_figure

    with paper_style():
        fig = Figure(figsize=(TEXT_WIDTH_IN, 3.6), layout="constrained")
        ax, ax2 = fig.subplots(1, 2)
        _draw_ptc(ax, cal, xs)
        _draw_spatial(ax2, cal, xs)
        for a in (ax, ax2):  # at column size the legends go below the data, not over it
            a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
        (written,) = save_figure(fig, path, (fmt,))
    return written


def _draw_ptc(ax, cal, xs: np.ndarray) -> None:
    """Left panel: the photon-transfer curve, its fitted line, the read floor and full well."""
    k = cal.conversion_gain
    floor = k**2 * (cal.read_noise_e**2 + cal.row_noise_e**2) + cal.adc_step_dn**2 / 12
    mean = cal.ptc_mean.ravel()
    temporal = cal.ptc_temporal_var.ravel()
    linear = cal.ptc_linear.ravel()
    pos = mean > 0
    ax.loglog(
        mean[pos & linear],
        np.maximum(temporal[pos & linear], 1e-3),
        "o",
        color="C0",
        ms=5,
        label="flat points (linear range)",
    )
    ax.loglog(
        mean[pos & ~linear],
        np.maximum(temporal[pos & ~linear], 1e-3),
        "o",
        mfc="none",
        mec="C0",
        ms=5,
        label="flat points (not fitted)",
    )
    ax.loglog(
        xs,
        k * xs + cal.ptc_intercept_dn2,
        "C1-",
        label=f"fit: K = {k:.4g} DN/e-, intercept {cal.ptc_intercept_dn2:.3g} DN^2",
    )
    ax.axhline(
        floor,
        color="C2",
        ls="--",
        label=f"read floor: {cal.read_noise_e:.3g} e- read, {cal.row_noise_e:.3g} e- row, q^2/12",
    )
    ax.axvline(
        cal.saturation_dn,
        color="C3",
        ls=":",
        label=f"full well {cal.full_well_e:.5g} e- ({cal.saturation_dn:.4g} DN)",
    )
    ax.set_xlabel("mean signal above black (DN)")
    ax.set_ylabel("temporal variance (DN^2)")
    ax.set_title("photon transfer curve (filled: linear range used for K)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, which="both", alpha=0.3)


def _draw_spatial(ax, cal, xs: np.ndarray) -> None:
    """Right panel: spatial and temporal noise against mean, with the DSNU / PRNU model."""
    k = cal.conversion_gain
    mean = cal.ptc_mean.ravel()
    temporal = cal.ptc_temporal_var.ravel()
    spatial = cal.ptc_spatial_var.ravel()
    pos = mean > 0
    ax.loglog(
        mean[pos],
        np.sqrt(np.maximum(spatial[pos], 1e-6)),
        "o",
        mfc="none",
        mec="C0",
        ms=5,
        label="spatial (fixed-pattern) noise",
    )
    ax.loglog(
        mean[pos],
        np.sqrt(np.maximum(temporal[pos], 1e-6)),
        "x",
        color="C7",
        ms=4,
        label="temporal noise",
    )
    model = np.sqrt(k**2 * cal.dsnu_e**2 + cal.prnu**2 * np.maximum(xs, 0) ** 2)
    ax.loglog(xs, model, "C1-", label=f"fit: PRNU {100 * cal.prnu:.3g} %, DSNU {cal.dsnu_e:.3g} e-")
    ax.axvline(cal.saturation_dn, color="C3", ls=":")
    ax.set_xlabel("mean signal above black (DN)")
    ax.set_ylabel("noise std (DN)")
    ax.set_title("spatial noise (DSNU, PRNU)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
