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

:func:`noise_check` takes a dataset that is already open (the sensor layer does not read
stores): the CLI opens it with :func:`cfasim.data.reader.open_dataset`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cfasim.errors import DatasetError

CHUNK_SAMPLES = 16
"""Samples read at a time."""

Predictor = Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]
"""``predict(v, a, b) -> (mean DN, variance DN^2)`` of the pixels of samples ``a:b``."""


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
        """The report: a header, one line per clean-value bin, the overall ratio."""
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
    dataset,
    split: str = "train",
    *,
    bins: int = 8,
    max_value: float = 0.9,
    limit: int | None = None,
    min_pixels: int = 100,
) -> NoiseCheck:
    """Compare the measured and predicted noise of ``split`` (the dataset must store ``clean``).

    Parameters
    ----------
    dataset
        An opened dataset, e.g. ``cfasim.data.reader.open_dataset(path)``. Any object with:

        * ``url`` -- its path or URL (``str``), for the report and the messages;
        * ``config`` -- the generate configuration (``dict``): ``noise`` (``"sensor"`` for a
          sensor-profile dataset), and for those ``iso`` and ``exposure_time_s``;
        * ``attrs`` -- the store attributes (``dict``): ``raw_format`` with ``black`` and
          ``white``, and ``sensor_profile`` (a :class:`~cfasim.sensor.profile.SensorProfile`
          dict) for sensor-profile datasets;
        * ``pattern.tile`` -- the CFA colour-index tile (``numpy`` array);
        * ``dataset[split]`` -- the split: ``len()`` is its sample count, ``.arrays`` a mapping
          of array name (``raw``, ``clean``, ``shot_noise``, ``read_noise``) to arrays sliced by
          sample, ``arrays[name][a:b]``.
    split
        The split to measure.
    bins, max_value, min_pixels
        ``bins`` clean-value bins over ``[0, max_value]``; pixels above ``max_value`` are left
        out, bins with fewer than ``min_pixels`` are not listed.
    limit
        Use only the first ``limit`` samples.

    Raises
    ------
    DatasetError
        (a ``ValueError``) If the dataset has no ``clean`` array, the split is empty, or the
        noise model is not one whose variance is known (real captured pairs).
    TypeError
        If ``dataset`` is a path rather than an opened dataset.
    """
    if isinstance(dataset, str | os.PathLike):
        raise TypeError(
            "noise_check takes an opened dataset: noise_check(open_dataset(path)) with "
            "cfasim.data.reader.open_dataset"
        )
    sp = dataset[split]
    n = len(sp) if limit is None else min(limit, len(sp))
    if n == 0:
        raise DatasetError(f"split {split!r} of {dataset.url} is empty")
    if "clean" not in sp.arrays:
        raise DatasetError(f"{dataset.url} stores no clean signal: generate it with --clean")
    model, predict = _predictor(dataset, sp, n)
    edges = np.linspace(0.0, max_value, bins + 1)
    ratio_sum, count, measured, predicted = _accumulate(dataset, sp, n, predict, edges, max_value)
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
    return NoiseCheck(str(dataset.url), split, model, n, kept, ratio, rows)


def _predictor(dataset, sp, n: int) -> tuple[str, Predictor]:
    """The noise model's name and its prediction of the mean and variance of a pixel."""
    cfg = dataset.config
    fmt = dataset.attrs["raw_format"]
    black, white = float(fmt["black"]), float(fmt["white"])
    if cfg.get("noise") == "sensor":
        return _sensor_predictor(dataset)
    shot_all = np.asarray(sp.arrays["shot_noise"][:n], dtype=np.float64)
    read_all = np.asarray(sp.arrays["read_noise"][:n], dtype=np.float64)
    if not (np.isfinite(shot_all).all() and np.isfinite(read_all).all()):
        raise DatasetError(f"{dataset.url}: the noise of real captured pairs is not known")

    def predict(v, a, b):
        shot, read = shot_all[a:b, None, None], read_all[a:b, None, None]
        return black + v * (white - black), (shot * v + read) * (white - black) ** 2 + 1 / 12

    return f"Poisson-Gaussian ({cfg.get('noise')})", predict


def _sensor_predictor(dataset) -> tuple[str, Predictor]:
    """The sensor profile's photon-transfer mean and variance at the dataset's ISO."""
    from cfasim.sensor.physics import predicted_mean_dn, predicted_variance_dn
    from cfasim.sensor.profile import SensorProfile

    cfg = dataset.config
    profile = SensorProfile.from_dict(dataset.attrs["sensor_profile"])
    iso, t = float(cfg["iso"]), cfg.get("exposure_time_s")

    def predict(v, a, b):
        return predicted_mean_dn(v, profile, iso, t), predicted_variance_dn(v, profile, iso, t)

    return f"sensor {profile.name} at ISO {iso:g}", predict


def _accumulate(dataset, sp, n: int, predict: Predictor, edges: np.ndarray, max_value: float):
    """Sum ``residual^2 / variance`` over the kept pixels and, per bin, the pixel count, the
    squared residuals and the predicted variances, reading :data:`CHUNK_SAMPLES` at a time."""
    bins = len(edges) - 1
    white = float(dataset.attrs["raw_format"]["white"])
    count, measured, predicted = (np.zeros(bins) for _ in range(3))
    ratio_sum = 0.0
    for a in range(0, n, CHUNK_SAMPLES):  # bounded memory on any split size
        b = min(a + CHUNK_SAMPLES, n)
        raw = np.asarray(sp.arrays["raw"][a:b], dtype=np.float64)
        clean = np.asarray(sp.arrays["clean"][a:b], dtype=np.float64)
        v = pixel_values(clean, dataset.pattern.tile)
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
    return ratio_sum, count, measured, predicted
