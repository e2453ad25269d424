"""Measure a dataset's noise from its stored RAW against its stored clean signal, and compare it
with what the noise model predicts (``cfasim noise-check``).

For every pixel, ``v`` is the stored clean camera value of the pixel's CFA colour (W: the mean
of the three), the residual is ``raw - predicted mean DN(v)``, and the prediction is the
variance of that residual: the sensor profile's photon-transfer variance
(:func:`cfasim.physics_noise.predicted_variance_dn`) for ``--sensor`` datasets, or
``(shot * v + read) * (white - black)^2 + 1/12`` for the normalised Poisson-Gaussian model.
Pixels are grouped in bins of ``v`` (bins with fewer than ``min_pixels`` are not listed);
pixels that may clip (``v > max_value``, or a mean within 3 predicted standard deviations of 0
or of the white level) are left out.
The overall figure is the mean of ``residual^2 / predicted variance`` over all kept pixels
(1 for a correct model; its standard error is about ``sqrt(2 / n)`` for Gaussian-like noise).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from cfasim.reader import open_dataset


@dataclass
class NoiseCheck:
    """Measured vs predicted noise of one split."""

    path: str
    split: str
    model: str
    samples: int
    pixels: int
    ratio: float
    rows: list[dict] = field(default_factory=list)

    def format(self) -> str:
        lines = [
            f"{self.path} [{self.split}]: {self.samples} samples, {self.pixels} pixels, "
            f"noise model {self.model}",
            f"{'clean v':>15} {'pixels':>9} {'measured DN^2':>14} {'predicted DN^2':>15} "
            f"{'ratio':>7}",
        ]
        for r in self.rows:
            lines.append(
                f"{r['v_lo']:>7.3f}-{r['v_hi']:<7.3f} {r['pixels']:>9} {r['measured']:>14.3f} "
                f"{r['predicted']:>15.3f} {r['ratio']:>7.4f}"
            )
        lines.append(
            f"overall mean(residual^2 / predicted) = {self.ratio:.4f} "
            f"(standard error about {np.sqrt(2.0 / max(self.pixels, 1)):.4f})"
        )
        return "\n".join(lines)


def pixel_values(clean: np.ndarray, tile: np.ndarray) -> np.ndarray:
    """(N, H, W) clean value of each pixel's CFA colour from (N, H, W, 3) clean camera RGB."""
    _, h, w, _ = clean.shape
    py, px = tile.shape
    colours = np.tile(tile, (h // py + 1, w // px + 1))[:h, :w].astype(np.intp)
    rgb = np.take_along_axis(clean, np.minimum(colours, 2)[None, :, :, None], axis=3)[..., 0]
    return np.where(colours[None] == 3, clean.mean(axis=3), rgb)


def noise_check(
    path,
    split: str = "train",
    *,
    bins: int = 8,
    max_value: float = 0.9,
    limit: int | None = None,
    min_pixels: int = 100,
) -> NoiseCheck:
    """Compare the measured and predicted noise of ``split`` (the dataset must store ``clean``).

    Raises
    ------
    ValueError
        If the dataset has no ``clean`` array, the split is empty, or the noise model is not
        one whose variance is known (real captured pairs).
    """
    ds = open_dataset(path)
    cfg = ds.config
    sp = ds[split]
    if "clean" not in sp.arrays:
        raise ValueError(f"{path} stores no clean signal: generate it with --clean")
    n = len(sp) if limit is None else min(limit, len(sp))
    if n == 0:
        raise ValueError(f"split {split!r} of {path} is empty")
    fmt = ds.attrs["raw_format"]
    black, white = float(fmt["black"]), float(fmt["white"])
    raw = np.asarray(sp.arrays["raw"][:n], dtype=np.float64)
    clean = np.asarray(sp.arrays["clean"][:n], dtype=np.float64)
    v = pixel_values(clean, ds.pattern.tile)
    if cfg.get("noise") == "sensor":
        from cfasim.physics_noise import predicted_mean_dn, predicted_variance_dn
        from cfasim.sensor_profile import SensorProfile

        profile = SensorProfile.from_dict(ds.attrs["sensor_profile"])
        iso, t = float(cfg["iso"]), cfg.get("exposure_time_s")
        mean = predicted_mean_dn(v, profile, iso, t)
        var = predicted_variance_dn(v, profile, iso, t)
        model = f"sensor {profile.name} at ISO {iso:g}"
    else:
        shot = np.asarray(sp.arrays["shot_noise"][:n], dtype=np.float64)[:, None, None]
        read = np.asarray(sp.arrays["read_noise"][:n], dtype=np.float64)[:, None, None]
        if not (np.isfinite(shot).all() and np.isfinite(read).all()):
            raise ValueError(f"{path}: the noise of real captured pairs is not known")
        mean = black + v * (white - black)
        var = (shot * v + read) * (white - black) ** 2 + 1.0 / 12.0
        model = f"Poisson-Gaussian ({cfg.get('noise')})"
    sigma = np.sqrt(var)
    keep = (v <= max_value) & (mean - 3.0 * sigma > 0.0) & (mean + 3.0 * sigma < white)
    resid2 = (raw - mean) ** 2
    edges = np.linspace(0.0, max_value, bins + 1)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        sel = keep & (v >= lo) & (v < hi if hi < max_value else v <= hi)
        k = int(sel.sum())
        if k < min_pixels:
            continue
        measured, predicted = float(resid2[sel].mean()), float(var[sel].mean())
        rows.append(
            {
                "v_lo": float(lo),
                "v_hi": float(hi),
                "pixels": k,
                "measured": measured,
                "predicted": predicted,
                "ratio": measured / predicted,
            }
        )
    kept = int(keep.sum())
    ratio = float((resid2[keep] / var[keep]).mean()) if kept else float("nan")
    return NoiseCheck(str(path), split, model, n, kept, ratio, rows)
