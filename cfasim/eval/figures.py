"""Paper figures of an evaluation: PSNR with its 95 % interval per method and noise group at
column width, and every figure crop exported as image files for subfigures.

The grid of aligned crops itself is :meth:`cfasim.eval.report.EvaluationReport.figure`. These
use :mod:`cfasim.figures` (column sizes, fonts, PNG / PDF / SVG); matplotlib is imported only
when a figure is drawn.
"""

from __future__ import annotations

import math
from pathlib import Path

import imagecodecs
import numpy as np

from cfasim.eval.report import EvaluationReport
from cfasim.figures import COLUMN_WIDTH_IN, paper_style, save_figure
from cfasim.isp.color import srgb_encode

ZOOM_MIN_PX = 192
"""Exported crops are also written enlarged (nearest neighbour) to at least this side."""
MOSAIC_ZOOM_PERIODS = 2
"""The mosaic zoom shows this many CFA periods square, so Nona's 3x3 and QxQ's 4x4 same-colour
blocks are visible pixel by pixel."""


def psnr_points(report: EvaluationReport, metric: str = "psnr") -> dict[str, list[tuple]]:
    """``{method: [(group, mean, low, high), ...]}`` of the metric over the noise groups
    (``"all"`` first; low / high NaN where a group is too small for an interval)."""
    means, intervals = report.means(), report.intervals()
    out = {}
    for name in report.methods:
        rows = []
        for group in report.groups():
            if metric not in means[name][group]:
                continue
            ci = intervals[name][group].get(metric) or [math.nan, math.nan]
            rows.append((group, means[name][group][metric], *ci))
        if rows:
            out[name] = rows
    return out


def summary_figure(report: EvaluationReport, stem, formats=("png", "pdf"), metric="psnr"):
    """Mean ``metric`` (default PSNR) with its percentile-bootstrap 95 % interval, per method
    (one marker colour each) and noise group (x axis: all samples, then each noise bin), at
    one column's width (:data:`cfasim.figures.COLUMN_WIDTH_IN`). Returns the paths written."""
    from matplotlib.figure import Figure

    points = psnr_points(report, metric)
    if not points:
        raise ValueError(f"no method of the report has the metric {metric!r}")
    groups = list(report.groups())
    with paper_style():
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 2.3), layout="constrained")
        ax = fig.add_subplot()
        width = 0.7 / max(1, len(points))
        for k, (name, rows) in enumerate(points.items()):
            x = np.array([groups.index(g) for g, *_ in rows]) + (k - (len(points) - 1) / 2) * width
            mean = np.array([r[1] for r in rows])
            err = np.array([[m - r[2], r[3] - m] for m, r in zip(mean, rows, strict=True)]).T
            ax.errorbar(x, mean, yerr=np.nan_to_num(err), fmt="o", capsize=1.5, label=name)
        ax.set_xticks(range(len(groups)), [_group_label(report, g) for g in groups])
        ax.set_ylabel("PSNR (dB)" if metric == "psnr" else metric)
        if len(groups) > 1:
            ax.set_xlabel("noise group (\u03c3: noise std at linear level 0.18)")
        ax.grid(axis="y", lw=0.3, alpha=0.5)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
        return save_figure(fig, stem, formats)


def _group_label(report: EvaluationReport, group: str) -> str:
    """Tick label of a noise group: its noise range (sigma at linear 0.18, two significant
    digits) and sample count."""
    n = len(report.groups()[group])
    bins = {b["label"]: b for b in report.noise_bins}
    if group not in bins or bins[group].get("low") is None or bins[group].get("high") is None:
        return f"{group}\n(n={n})"  # "all", or no noise levels (captured pairs)
    b = bins[group]
    return f"\u03c3 {b['low']:.2g}\u2013{b['high']:.2g}\n(n={n})"  # sigma, en dash


def to_uint8(img: np.ndarray) -> np.ndarray:
    """A display image in [0, 1] -> 8-bit (rounded, clipped)."""
    return np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)


def zoom(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of an (H, W[, C]) image by an integer ``factor``."""
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def export_crops(report: EvaluationReport, folder, period: int | None = None) -> list[Path]:
    """Write every figure crop of ``report`` as 8-bit sRGB PNG files for subfigures.

    For crop ``k`` (``crop{k}_sample{s}_y{y}_x{x}/``): ``mosaic.png`` (false colour),
    ``target.png`` and ``METHOD.png`` at native resolution, each also as ``*_zoom.png``
    enlarged by nearest neighbour to at least :data:`ZOOM_MIN_PX`, and, given the CFA
    ``period``, ``mosaic_blocks.png``: the crop's top-left :data:`MOSAIC_ZOOM_PERIODS` periods
    enlarged so one RAW pixel is at least 16 pixels. Linear-task images are sRGB-encoded for
    display, as in the figure. Returns the paths written.
    """
    if not report.crops:
        raise ValueError("no crops to export: run evaluate() with figure_crops > 0")
    linear = report.options.get("task") == "linear"
    paths = []
    for k, crop in enumerate(report.crops):
        where = Path(folder) / f"crop{k}_sample{crop['sample']}_y{crop['y']}_x{crop['x']}"
        where.mkdir(parents=True, exist_ok=True)
        images = {"mosaic": crop["mosaic"], "target": crop["target"], **crop["images"]}
        factor = max(1, math.ceil(ZOOM_MIN_PX / crop["size"]))
        for name, img in images.items():
            if linear and name != "mosaic":
                img = srgb_encode(np.clip(img, 0, 1))
            pixels = to_uint8(img)
            paths.append(_write_png(where / f"{_file_name(name)}.png", pixels))
            paths.append(_write_png(where / f"{_file_name(name)}_zoom.png", zoom(pixels, factor)))
        if period:
            side = min(MOSAIC_ZOOM_PERIODS * period, crop["mosaic"].shape[0])
            blocks = to_uint8(crop["mosaic"][:side, :side])
            paths.append(
                _write_png(where / "mosaic_blocks.png", zoom(blocks, max(16, 256 // side)))
            )
    return paths


def _file_name(method: str) -> str:
    """A method name as a file name (``nlm+menon`` -> ``nlm+menon``; path separators and
    spaces replaced)."""
    return "".join(c if c.isalnum() or c in "+-_." else "_" for c in method)


def _write_png(path: Path, pixels: np.ndarray) -> Path:
    path.write_bytes(imagecodecs.png_encode(pixels))
    return path
