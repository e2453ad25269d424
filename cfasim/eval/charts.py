"""Chart metrics: CIEDE2000 of every ColorChecker patch and MTF50 of the slanted edge.

Both read a method's display sRGB output of a chart dataset (``cfasim generate --source
chart:NAME``, :mod:`cfasim.source.charts`) at the chart's size:

- :func:`colorchecker_delta_e`: the mean sRGB over the centre box of each patch
  (:func:`cfasim.source.charts.colorchecker_centres`, half the patch side), to CIE Lab
  (:func:`cfasim.eval.metrics.srgb_to_lab`), against the chart's reference values
  (:func:`cfasim.source.charts.colorchecker_reference`) with CIEDE2000
  (:func:`cfasim.eval.metrics.delta_e_2000`);
- :func:`edge_mtf`: ISO 12233:2017 slanted-edge SFR after Burns' ``sfrmat``: the edge located
  by the centroid of each row's derivative and a fitted line, the pixels projected on the
  edge normal into 4x oversampled ESF bins, derivative (LSF), Hamming window, ``|FFT|``
  normalised at DC; :func:`mtf50` interpolates where it falls to 0.5 (cycles per pixel).

:class:`ChartScorer` gathers them per method for :func:`cfasim.eval.engine.evaluate`, and
:func:`chart_markdown` writes the report's chart section. Method and formulas: docs/charts.md.
"""

from __future__ import annotations

import math

import numpy as np

from cfasim.eval.metrics import delta_e_2000, srgb_to_lab
from cfasim.isp.color import srgb_decode
from cfasim.source import charts

OVERSAMPLE = 4
"""ESF bins per pixel of distance from the edge (ISO 12233 / sfrmat: 4)."""
LUMINANCE = np.array([0.2126, 0.7152, 0.0722])
"""Linear sRGB -> relative luminance Y (ITU-R BT.709 primaries, D65)."""
ROI_MARGIN = 1 / 16
"""Fraction of each side left out of the slanted-edge region (image borders)."""
DERIVATIVE_CORRECTION_MAX = 10.0
"""Cap of the derivative-filter correction 1 / sinc(2 f / OVERSAMPLE), as sfrmat's."""


# -- ColorChecker -------------------------------------------------------------------------------


def patch_means(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Mean colour of ``image`` (H, W, C) over each ``(y0, x0, h, w)`` box: (n, C); NaN for a
    box not inside the image."""
    image = np.asarray(image, dtype=np.float64)
    out = np.full((len(boxes), image.shape[-1]), np.nan)
    for i, (y, x, h, w) in enumerate(np.asarray(boxes, dtype=np.int64)):
        if y >= 0 and x >= 0 and y + h <= image.shape[0] and x + w <= image.shape[1]:
            out[i] = image[y : y + h, x : x + w].reshape(-1, image.shape[-1]).mean(axis=0)
    return out


def colorchecker_delta_e(image: np.ndarray, chart_shape: tuple[int, int] | None = None):
    """CIEDE2000 of each of the 24 ColorChecker patches of a display sRGB ``image``.

    Parameters
    ----------
    image : (H, W, 3) array
        Display sRGB in [0, 1] (a method's output, or the chart itself).
    chart_shape : (int, int), optional
        Size of the chart the patch boxes are laid out for (default: the image's); an output
        smaller than the chart (a model's top-left region) gets NaN for the patches it lacks.

    Returns
    -------
    (24,) float64
        Delta E 2000 of the patch's mean sRGB (centre box, :func:`cfasim.source.charts.
        colorchecker_centres`) against the reference, row by row from dark skin to black.
    """
    image = np.asarray(image, dtype=np.float64)
    h, w = image.shape[:2] if chart_shape is None else chart_shape
    means = patch_means(image, charts.colorchecker_centres(h, w))
    _, reference = charts.colorchecker_reference()
    return delta_e_2000(srgb_to_lab(np.clip(means, 0.0, 1.0)), srgb_to_lab(reference))


# -- slanted edge -------------------------------------------------------------------------------


def edge_region(height: int, width: int) -> tuple[slice, slice]:
    """The slanted-edge region of interest of a chart of ``height`` x ``width``: all but a
    :data:`ROI_MARGIN` margin on each side (at least 2 pixels)."""
    my, mx = (max(2, math.ceil(ROI_MARGIN * n)) for n in (height, width))
    return slice(my, height - my), slice(mx, width - mx)


def luminance(image: np.ndarray) -> np.ndarray:
    """Relative luminance (H, W) of a display sRGB image (H, W, 3): sRGB-decoded
    (:func:`cfasim.isp.color.srgb_decode`, the inverse of the chart's encoding) then
    :data:`LUMINANCE`. A 2D image is taken as luminance already."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return image
    return srgb_decode(np.clip(image, 0.0, 1.0)) @ LUMINANCE


def _row_centroids(values: np.ndarray, centres: np.ndarray | None) -> np.ndarray:
    """Centroid (column) of each row's derivative, optionally inside a Hamming window of the
    row's width centred on ``centres`` (sfrmat's second pass)."""
    n_cols = values.shape[1]
    deriv = np.zeros_like(values)
    deriv[:, 1:-1] = 0.5 * (values[:, 2:] - values[:, :-2])
    deriv *= np.sign(deriv.sum()) or 1.0  # either edge polarity
    cols = np.arange(n_cols, dtype=np.float64)
    if centres is not None:
        deriv = deriv * hamming(n_cols, centres[:, None])
    weight = deriv.sum(axis=1)
    if np.any(weight <= 0):
        raise ValueError("no edge found in some row of the slanted-edge region")
    return (deriv * cols).sum(axis=1) / weight


def hamming(n: int, centre) -> np.ndarray:
    """Hamming window ``0.54 + 0.46 cos(pi (i - centre) / half)`` of ``n`` points centred on
    ``centre`` (may be an array), ``half = max(centre, n - 1 - centre)`` (sfrmat's
    ``ahamming``): 1 at the centre, 0.08 at the farther end."""
    centre = np.asarray(centre, dtype=np.float64)
    half = np.maximum(np.maximum(centre, n - 1 - centre), 1.0)
    i = np.arange(n, dtype=np.float64)
    return 0.54 + 0.46 * np.cos(np.pi * (i - centre) / half)


def fit_edge(values: np.ndarray) -> tuple[float, float]:
    """The edge of a near-vertical slanted-edge region: ``x = a + b y`` (columns, rows of
    ``values``), least squares through the derivative centroids of the rows, then again with
    each row's derivative windowed around the first line (sfrmat). Returns ``(a, b)``."""
    rows = np.arange(values.shape[0], dtype=np.float64)
    b, a = np.polyfit(rows, _row_centroids(values, None), 1)
    b, a = np.polyfit(rows, _row_centroids(values, a + b * rows), 1)
    return float(a), float(b)


def whole_phase_rows(n_rows: int, slope: float) -> int:
    """Rows to use: the largest count holding a whole number of edge-phase cycles (the edge
    moves one pixel every ``1 / |slope|`` rows), so every sub-pixel phase is sampled equally
    (sfrmat); all rows when they hold less than one cycle."""
    cycles = math.floor(n_rows * abs(slope))
    return n_rows if cycles < 1 else max(2, math.floor(cycles / abs(slope)))


def edge_spread(values: np.ndarray, oversample: int = OVERSAMPLE):
    """The oversampled edge spread function of a near-vertical slanted-edge region.

    Every pixel's signed distance from the fitted edge (:func:`fit_edge`) along its normal,
    ``d = (x - a - b y) cos(atan b)``, puts it in bin ``floor(d * oversample)``; the ESF is
    the mean value per bin over the distances every row reaches (empty bins interpolated).

    Returns
    -------
    esf : (n,) float64
    spacing : float
        Bin width in pixels (``1 / oversample``).
    """
    a, b = fit_edge(values)
    n = whole_phase_rows(values.shape[0], b)
    values = values[:n]
    rows = np.arange(n, dtype=np.float64)[:, None]
    cols = np.arange(values.shape[1], dtype=np.float64)[None, :]
    cos = 1.0 / math.sqrt(1.0 + b * b)
    dist = (cols - a - b * rows) * cos
    reach = min(-dist[:, 0].max(), dist[:, -1].min())  # both sides reached by every row
    if reach < 2.0:
        raise ValueError("the slanted edge is too close to the region's side")
    nb = math.floor(reach * oversample)
    idx = np.floor(dist * oversample).astype(np.int64) + nb
    keep = (idx >= 0) & (idx < 2 * nb)
    counts = np.bincount(idx[keep], minlength=2 * nb)
    sums = np.bincount(idx[keep], weights=values[keep], minlength=2 * nb)
    full = counts > 0
    centres = np.arange(2 * nb, dtype=np.float64)
    esf = np.interp(centres, centres[full], sums[full] / counts[full])
    return esf, 1.0 / oversample


def edge_mtf(image: np.ndarray, oversample: int = OVERSAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """Slanted-edge MTF (ISO 12233:2017 e-SFR, after Burns' sfrmat) of a near-vertical edge.

    ESF (:func:`edge_spread`) -> LSF by the central difference ``(e[i+1] - e[i-1]) / 2`` ->
    Hamming window centred on the LSF centroid (:func:`hamming`) -> ``|FFT|`` normalised at
    DC -> divided by the difference filter's response ``sinc(2 f / oversample)`` (at most
    :data:`DERIVATIVE_CORRECTION_MAX`, as sfrmat).

    Parameters
    ----------
    image : (H, W) or (H, W, 3) array
        Linear luminance, or display sRGB (made linear by :func:`luminance`).
    oversample : int
        ESF bins per pixel.

    Returns
    -------
    freq : (m,) float64
        Cycles per pixel along the edge normal, 0 to ``oversample / 2``.
    mtf : (m,) float64
        Modulation transfer, 1 at DC.
    """
    esf, spacing = edge_spread(luminance(image), oversample)
    lsf = np.zeros_like(esf)
    lsf[1:-1] = 0.5 * (esf[2:] - esf[:-2])
    lsf *= np.sign(lsf.sum()) or 1.0
    idx = np.arange(lsf.size, dtype=np.float64)
    centre = float((lsf * idx).sum() / lsf.sum())
    spectrum = np.abs(np.fft.rfft(lsf * hamming(lsf.size, centre)))
    freq = np.fft.rfftfreq(lsf.size, d=spacing)
    correction = np.minimum(1.0 / np.sinc(2.0 * freq * spacing), DERIVATIVE_CORRECTION_MAX)
    return freq, spectrum / spectrum[0] * correction


def mtf50(freq: np.ndarray, mtf: np.ndarray, level: float = 0.5) -> float:
    """The first frequency where ``mtf`` falls to ``level`` (linear interpolation between the
    two samples around it); NaN if it never does."""
    below = np.flatnonzero(np.asarray(mtf) < level)
    if below.size == 0 or below[0] == 0:
        return math.nan
    k = below[0]
    f0, f1, m0, m1 = freq[k - 1], freq[k], mtf[k - 1], mtf[k]
    return float(f0 + (m0 - level) * (f1 - f0) / (m0 - m1))


def edge_mtf50(image: np.ndarray, chart_shape: tuple[int, int] | None = None) -> float:
    """MTF50 (cycles per pixel) of a slanted-edge chart image (display sRGB or luminance)
    inside its region of interest (:func:`edge_region` of ``chart_shape``, default the
    image's size); NaN when the image is smaller than the region or shows no edge."""
    lum = luminance(image)
    ys, xs = edge_region(*(lum.shape[:2] if chart_shape is None else chart_shape))
    region = lum[ys, xs]
    if region.shape != (ys.stop - ys.start, xs.stop - xs.start):
        return math.nan  # a smaller output than the chart
    try:
        return mtf50(*edge_mtf(region))
    except ValueError:  # no edge in some row (e.g. a flat output)
        return math.nan


# -- in cfasim evaluate -------------------------------------------------------------------------


SCORED_CHARTS = ("colorchecker", "slanted-edge")
"""Charts with metrics (the others are for looking at)."""


class ChartScorer:
    """Chart metrics of every method of an evaluation (:func:`chart_scorer`).

    :meth:`score` returns the per-sample scalar (``chart_de00``, the mean over the 24 patches,
    or ``mtf50``) that the engine stores with the other metrics, and keeps the per-patch values;
    :meth:`summary` is the report's ``charts`` entry.
    """

    def __init__(self, chart: str):
        self.chart = chart
        self.patches: dict[str, list[np.ndarray]] = {}
        self.target: dict | None = None

    def _measure(self, image: np.ndarray, shape) -> dict:
        if self.chart == "colorchecker":
            de = colorchecker_delta_e(image, shape)
            return {"chart_de00": float(np.mean(de)), "patches": de}
        return {"mtf50": edge_mtf50(image, shape)}

    def score(self, method: str, output: np.ndarray, target: np.ndarray) -> dict[str, float]:
        """The chart metric of ``method``'s display sRGB ``output`` of one sample; ``target``
        (the stored target, in [0, 1]) gives the chart's size and, once, the target's own
        score (its 8-bit rounding of the chart)."""
        shape = tuple(target.shape[:2])
        if self.target is None:
            self.target = self._measure(target, shape)
        values = self._measure(output, shape)
        if "patches" in values:
            self.patches.setdefault(method, []).append(values.pop("patches"))
        return values

    def summary(self) -> dict:
        """``{"chart", "metric", "target": {...}, "patches": [names]?, "methods": {name:
        {"patch_de00": [24 means over the samples]}}}`` (ColorChecker), or ``{"chart",
        "metric", "target": {"mtf50"}}`` (slanted edge, the per-method MTF50 being in the
        methods' per-sample metrics)."""
        target = dict(self.target or {})
        metric = "chart_de00" if self.chart == "colorchecker" else "mtf50"
        out = {"chart": self.chart, "metric": metric}
        if "patches" in target:
            target["patch_de00"] = [float(v) for v in target.pop("patches")]
            out["patches"] = list(charts.colorchecker_reference()[0])
            out["methods"] = {
                name: {"patch_de00": [float(v) for v in np.mean(vals, axis=0)]}
                for name, vals in self.patches.items()
            }
        out["target"] = target
        return out


def chart_scorer(source: str | None) -> ChartScorer | None:
    """The :class:`ChartScorer` of a dataset made from ``--source`` ``source``, or None when
    it is not a scored chart (:data:`SCORED_CHARTS`)."""
    try:
        name = charts.chart_name(source)
    except ValueError:
        return None
    return ChartScorer(name) if name in SCORED_CHARTS else None


def chart_markdown(summary: dict, means: dict) -> list[str]:
    """Markdown lines of the report's chart section.

    Parameters
    ----------
    summary : dict
        :meth:`ChartScorer.summary`.
    means : dict
        ``EvaluationReport.means()``: ``{method: {"all": {metric: mean}}}``.
    """
    metric = summary["metric"]
    methods = [m for m in means if metric in means[m]["all"]]
    target = summary.get("target", {})
    if summary["chart"] == "colorchecker":
        return _colorchecker_table(summary, methods, means, target)
    lines = [
        "## Slanted edge: MTF50",
        "",
        "MTF50 in cycles per pixel (ISO 12233 slanted edge, luminance; docs/charts.md), mean over "
        f"the samples; the stored target's own: {target.get('mtf50', math.nan):.3f}.",
        "",
        "| method | MTF50 (cy/px) |",
        "|---|---|",
    ]
    lines += [f"| {m} | {means[m]['all']['mtf50']:.3f} |" for m in methods]
    return lines


def _colorchecker_table(summary: dict, methods: list[str], means: dict, target: dict):
    """Markdown lines of the patch x method CIEDE2000 table."""
    patch = {m: summary["methods"][m]["patch_de00"] for m in methods if m in summary["methods"]}
    methods = list(patch)
    lines = [
        "## ColorChecker: CIEDE2000 per patch",
        "",
        "CIEDE2000 of each patch's mean sRGB (centre half of the patch) against the chart's "
        "reference values, mean over the samples (docs/charts.md); `target`: the stored target's "
        "own (8-bit rounding).",
        "",
        "| patch | " + " | ".join([*methods, "target"]) + " |",
        "|---|" + "---|" * (len(methods) + 1),
    ]
    own = target.get("patch_de00", [math.nan] * len(summary["patches"]))
    for i, name in enumerate(summary["patches"]):
        cells = [f"{patch[m][i]:.2f}" for m in methods] + [f"{own[i]:.2f}"]
        lines.append(f"| {i + 1}. {name} | " + " | ".join(cells) + " |")
    cells = [f"**{means[m]['all']['chart_de00']:.2f}**" for m in methods]
    cells.append(f"**{target.get('chart_de00', math.nan):.2f}**")
    lines.append("| mean | " + " | ".join(cells) + " |")
    return lines
