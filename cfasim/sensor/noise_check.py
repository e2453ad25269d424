"""Measure a dataset's noise from its stored RAW against its stored clean signal, and compare it
with what the noise model predicts (``cfasim noise-check``).

For every pixel, ``v`` is the stored clean camera value of the pixel's CFA colour (W: the mean
of the three), the residual is ``raw - predicted mean DN(v)``, and the prediction is the
variance of that residual: the sensor profile's photon-transfer variance
(:func:`cfasim.sensor.physics.predicted_variance_dn`) for ``--sensor`` datasets, or
``(shot * v + read) * (white - black)^2 + 1/12`` for the normalised Poisson-Gaussian model.
Pixels are grouped in bins of ``v`` (bins with fewer than ``min_pixels`` are not listed);
pixels that may clip (``v > max_value``, or a mean within 3 predicted standard deviations of 0
or of the white level) are left out.
The overall figure is the mean of ``residual^2 / predicted variance`` over all kept pixels
(1 for a correct model; its standard error is about ``sqrt(2 / n)`` for Gaussian-like noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cfasim.data.reader import open_dataset

CHUNK_SAMPLES = 16
"""Samples read at a time."""


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
    n = len(sp) if limit is None else min(limit, len(sp))
    if n == 0:
        raise ValueError(f"split {split!r} of {path} is empty")
    if "clean" not in sp.arrays:
        raise ValueError(f"{path} stores no clean signal: generate it with --clean")
    fmt = ds.attrs["raw_format"]
    black, white = float(fmt["black"]), float(fmt["white"])
    if cfg.get("noise") == "sensor":
        from cfasim.sensor.physics import predicted_mean_dn, predicted_variance_dn
        from cfasim.sensor.profile import SensorProfile

        profile = SensorProfile.from_dict(ds.attrs["sensor_profile"])
        iso, t = float(cfg["iso"]), cfg.get("exposure_time_s")
        model = f"sensor {profile.name} at ISO {iso:g}"

        def predict(v, a, b):
            return predicted_mean_dn(v, profile, iso, t), predicted_variance_dn(v, profile, iso, t)
    else:
        shot_all = np.asarray(sp.arrays["shot_noise"][:n], dtype=np.float64)
        read_all = np.asarray(sp.arrays["read_noise"][:n], dtype=np.float64)
        if not (np.isfinite(shot_all).all() and np.isfinite(read_all).all()):
            raise ValueError(f"{path}: the noise of real captured pairs is not known")
        model = f"Poisson-Gaussian ({cfg.get('noise')})"

        def predict(v, a, b):
            shot, read = shot_all[a:b, None, None], read_all[a:b, None, None]
            return black + v * (white - black), (shot * v + read) * (white - black) ** 2 + 1 / 12

    edges = np.linspace(0.0, max_value, bins + 1)
    count, measured, predicted = (np.zeros(bins) for _ in range(3))
    ratio_sum = 0.0
    for a in range(0, n, CHUNK_SAMPLES):  # bounded memory on any split size
        b = min(a + CHUNK_SAMPLES, n)
        raw = np.asarray(sp.arrays["raw"][a:b], dtype=np.float64)
        v = pixel_values(np.asarray(sp.arrays["clean"][a:b], dtype=np.float64), ds.pattern.tile)
        mean, var = predict(v, a, b)
        sigma = np.sqrt(var)
        keep = (v <= max_value) & (mean - 3.0 * sigma > 0.0) & (mean + 3.0 * sigma < white)
        resid2 = ((raw - mean) ** 2)[keep]
        var, v = np.broadcast_to(var, keep.shape)[keep], v[keep]
        ratio_sum += float((resid2 / var).sum())
        which = np.minimum(np.searchsorted(edges, v, side="right") - 1, bins - 1)
        count += np.bincount(which, minlength=bins)
        measured += np.bincount(which, resid2, minlength=bins)
        predicted += np.bincount(which, var, minlength=bins)
    rows = [
        {
            "v_lo": float(edges[k]),
            "v_hi": float(edges[k + 1]),
            "pixels": int(count[k]),
            "measured": measured[k] / count[k],
            "predicted": predicted[k] / count[k],
            "ratio": measured[k] / predicted[k],
        }
        for k in range(bins)
        if count[k] >= min_pixels
    ]
    kept = int(count.sum())
    ratio = ratio_sum / kept if kept else float("nan")
    return NoiseCheck(str(path), split, model, n, kept, ratio, rows)
