"""The report of an evaluation: per-sample scores and their means, as Markdown, JSON and a figure.

:class:`EvaluationReport` is what :func:`cfasim.eval.engine.evaluate` returns; its JSON document
(schema :data:`SCHEMA`) reads back with :meth:`EvaluationReport.from_json` (without the crops);
the figure of aligned crops is drawn with matplotlib, imported only by
:meth:`EvaluationReport.figure`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfasim.eval.noise import NOISE_REFERENCE_LEVEL
from cfasim.eval.statistics import RESAMPLES, SEED, mean_ci, paired_difference
from cfasim.isp.color import srgb_encode

SCHEMA = "cfasim.evaluation/1"
"""Value of the ``schema`` key of :meth:`EvaluationReport.to_json`."""
METRICS = (
    "psnr", "ssim", "ms_ssim", "ciede2000", "vgg", "lpips", "kld", "m4", "m4_no_lpips",
    "chart_de00", "mtf50",
)  # fmt: skip
"""Metric keys, in report order (``vgg`` / ``lpips`` only with their weights given; ``kld`` and
``m4`` (with LPIPS) or ``m4_no_lpips`` (without) only for remosaic methods; ``chart_de00`` /
``mtf50`` only on ColorChecker / slanted-edge datasets, :mod:`cfasim.eval.charts`)."""
METRIC_LABELS = {
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "ms_ssim": "MS-SSIM",
    "ciede2000": "CIEDE2000",
    "vgg": "VGG dist.",
    "lpips": "LPIPS",
    "kld": "KLD",
    "m4": "M4",
    "m4_no_lpips": "M4 (no LPIPS)",
    "chart_de00": "chart dE00",
    "mtf50": "MTF50 (cy/px)",
}
"""Column heading of each metric in the Markdown tables."""
METRIC_FORMATS = {
    "psnr": "{:.2f}",
    "ssim": "{:.4f}",
    "ms_ssim": "{:.4f}",
    "ciede2000": "{:.3f}",
    "vgg": "{:.4f}",
    "lpips": "{:.4f}",
    "kld": "{:.4f}",
    "m4": "{:.2f}",
    "m4_no_lpips": "{:.2f}",
    "chart_de00": "{:.3f}",
    "mtf50": "{:.3f}",
}
"""Format of each metric's means in the Markdown tables."""
LPIPS_NOTE = (
    "m4_no_lpips is the MIPI 2022 score M4 = PSNR * SSIM * 2^(1 - LPIPS - KLD) with the LPIPS "
    "term set to 0 (no LPIPS weights available): an upper bound, not comparable with published M4."
)
FIGURE_MIN_PANEL = 160
"""Crops are enlarged by an integer factor to at least this many pixels in the figure."""
FIGURE_LABEL_PX = 30
"""Height of the label band above each figure panel (pixels)."""
FIGURE_MARGIN_PX = 4
"""Margin around each figure panel (pixels)."""
FIGURE_DPI = 100
"""Resolution of the figure (pixels per inch): the figure is drawn pixel-exact."""
FIGURE_FONT_PT = 7
"""Font size of the figure's labels (points)."""


@dataclass
class EvaluationReport:
    """Results of :func:`cfasim.eval.engine.evaluate`.

    Attributes
    ----------
    dataset, split, pattern, scale
        Dataset path, split name, CFA pattern name and target scale.
    samples
        Evaluated sample indices within the split; every per-sample list is aligned with it.
    noise_levels
        Per-sample noise standard deviation at linear level 0.18.
    noise_bins
        ``[{"label", "low", "high", "samples"}]``: the noise groups (sample indices), lowest
        noise first.
    methods
        ``{name: {"kind": "baseline" | "model", "source": baseline name or model source,
        "per_sample": {metric: [float, ...]}}}``, in evaluation order (baselines first).
    models
        ``{name: cost}`` for model methods with a ``cost`` (:mod:`cfasim.eval.models`); a
        checkpoint (:class:`cfasim.train.predict.CheckpointModel`) gives ``checkpoint``,
        ``architecture``, ``params``, ``input`` / ``output`` ([h, w] of the measured forward),
        ``macs`` (per forward), ``gmac_per_mpx``, ``latency_s_per_mpx`` (median CPU forward time
        per output megapixel), ``latency_repeats``, ``threads``.
    notes
        Free-text notes (skipped metrics, the LPIPS caveat).
    options
        The :func:`~cfasim.eval.engine.evaluate` settings: ``baselines``, ``checkpoints`` (the
        models' sources, :func:`cfasim.eval.models.model_source`), ``limit``, ``noise_bins``,
        ``crop_size``, ``white_balance``.
    charts
        On a chart dataset (``--source chart:colorchecker`` / ``chart:slanted-edge``): the
        chart metrics' summary (:meth:`cfasim.eval.charts.ChartScorer.summary`); their
        per-sample values (``chart_de00``, ``mtf50``) are in ``methods``. Empty otherwise.
    crops
        Figure crops (not serialised): ``[{"sample", "y", "x", "size", "score", "mosaic",
        "target", "images": {method: array}, "psnr": {method: float}}]``, highest score first.
    """

    dataset: str
    split: str
    pattern: str
    scale: int
    samples: list[int]
    noise_levels: list[float]
    noise_bins: list[dict]
    methods: dict[str, dict]
    models: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    charts: dict = field(default_factory=dict)
    crops: list[dict] = field(default_factory=list, repr=False, compare=False)

    # -- summaries --

    def groups(self) -> dict[str, list[int]]:
        """``{group: positions in samples}``: ``"all"`` and every noise-bin label."""
        pos = {s: i for i, s in enumerate(self.samples)}
        groups = {"all": list(range(len(self.samples)))}
        for b in self.noise_bins:
            groups[b["label"]] = [pos[s] for s in b["samples"]]
        return groups

    def means(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{method: {group: {metric: mean}}}`` with group ``"all"`` and every noise-bin label;
        only the metrics a method has."""
        return {
            name: {
                g: {k: float(np.mean([v[i] for i in idx])) for k, v in m["per_sample"].items()}
                for g, idx in self.groups().items()
            }
            for name, m in self.methods.items()
        }

    def intervals(self) -> dict[str, dict[str, dict[str, list[float]]]]:
        """``{method: {group: {metric: [low, high] or None}}}``: bootstrap 95 % intervals of the
        means (:func:`cfasim.eval.statistics.mean_ci`; None for groups too small)."""
        return {
            name: {
                g: {k: _interval([v[i] for i in idx]) for k, v in m["per_sample"].items()}
                for g, idx in self.groups().items()
            }
            for name, m in self.methods.items()
        }

    def best_baseline(self, group: str = "all", metric: str = "psnr") -> str | None:
        """The classical baseline with the highest mean ``metric`` in ``group``, the first in
        evaluation order on a tie (e.g. ``menon`` over ``nlm+menon`` without noise, where the
        denoiser leaves the mosaic unchanged); None without baselines."""
        means, best, top = self.means(), None, -math.inf
        for name, m in self.methods.items():
            value = means[name][group].get(metric)
            if m["kind"] == "baseline" and value is not None and value > top:
                best, top = name, value
        return best

    def paired(self, a: str, b: str, metric: str = "psnr", group: str = "all") -> dict:
        """Per-sample difference ``a - b`` of ``metric`` over ``group``: mean, bootstrap 95 %
        interval and verdict (:func:`cfasim.eval.statistics.paired_difference`)."""
        idx = self.groups()[group]
        va, vb = (self.methods[n]["per_sample"][metric] for n in (a, b))
        return paired_difference([va[i] for i in idx], [vb[i] for i in idx])

    def comparisons(self, metric: str = "psnr") -> dict[str, dict[str, dict]]:
        """``{group: {"best_baseline": name, "vs_best": {method: paired difference}}}``: every
        other method against the best classical baseline of the group."""
        out = {}
        for g in self.groups():
            best = self.best_baseline(g, metric)
            if best is None:
                continue
            others = [n for n, m in self.methods.items() if n != best and metric in m["per_sample"]]
            out[g] = {
                "best_baseline": best,
                "metric": metric,
                "vs_best": {n: self.paired(n, best, metric, g) for n in others},
            }
        return out

    def to_dict(self) -> dict:
        """The JSON document of :meth:`to_json`."""
        means, intervals = self.means(), self.intervals()
        return {
            "schema": SCHEMA,
            "dataset": self.dataset,
            "split": self.split,
            "pattern": self.pattern,
            "scale": self.scale,
            "samples": list(self.samples),
            "noise": {
                "measure": f"noise standard deviation at linear level {NOISE_REFERENCE_LEVEL}: "
                f"sqrt(shot_noise * {NOISE_REFERENCE_LEVEL} + read_noise)",
                "levels": list(self.noise_levels),
                "bins": [dict(b) for b in self.noise_bins],
            },
            "metrics": list(METRICS),
            "methods": {
                name: {
                    "kind": m["kind"],
                    "source": m["source"],
                    "means": means[name],
                    "ci95": intervals[name],
                    "per_sample": {k: list(v) for k, v in m["per_sample"].items()},
                }
                for name, m in self.methods.items()
            },
            "statistics": {
                "method": f"percentile bootstrap of the mean, {RESAMPLES} resamples, seed {SEED}",
                "comparisons": self.comparisons(),
            },
            "models": {k: dict(v) for k, v in self.models.items()},
            "notes": list(self.notes),
            "options": dict(self.options),
            **({"charts": json.loads(json.dumps(self.charts))} if self.charts else {}),
        }

    def to_json(self, path) -> Path:
        """Write the report as JSON and return the path.

        Schema (``"schema": "cfasim.evaluation/1"``)::

            {
              "schema": "cfasim.evaluation/1",
              "dataset": str, "split": str, "pattern": str, "scale": int,
              "samples": [int],                  # sample indices in the split
              "noise": {"measure": str,          # how samples are binned by noise
                        "levels": [float],       # per sample, aligned with "samples"
                        "bins": [{"label": str, "low": float, "high": float,
                                  "samples": [int]}]},
              "metrics": ["psnr", "ssim", "ms_ssim", "ciede2000", "vgg", "lpips", "kld", "m4",
                          "m4_no_lpips"],
              "methods": {NAME: {"kind": "baseline" | "model",
                                 "source": str,  # baseline name or checkpoint path
                                 "means": {"all" | BIN_LABEL: {METRIC: float}},
                                 "per_sample": {METRIC: [float]}}},  # aligned with "samples"
              "models": {NAME: {"checkpoint": str, "architecture": str, "params": int,
                                "input": [h, w], "output": [h, w], "macs": int,
                                "gmac_per_mpx": float, "latency_s_per_mpx": float,
                                "latency_repeats": int, "threads": int}},
              "notes": [str],
              "options": {"baselines": [str], "checkpoints": [str], "limit": int | null,
                          "noise_bins": int, "crop_size": int, "white_balance": bool},
              "charts": {"chart": "colorchecker" | "slanted-edge",  # chart datasets only
                         "metric": "chart_de00" | "mtf50",
                         "patches": [str],       # the 24 ColorChecker patch names
                         "methods": {NAME: {"patch_de00": [float]}},  # 24, mean over samples
                         "target": {...}}        # the same metrics of the stored target
            }

        A method lists only the metrics it has (``vgg`` / ``lpips`` only when their weights
        were given, ``kld`` and ``m4`` (with LPIPS) or ``m4_no_lpips`` (without) only for
        methods with a Bayer remosaic on datasets storing ``clean``). ``m4_no_lpips`` is M4
        without its
        LPIPS term. PSNR of a perfect reconstruction is written as ``Infinity`` (Python's json).
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def from_dict(cls, d: dict) -> EvaluationReport:
        """Inverse of :meth:`to_dict` (the means are recomputed, the crops are lost)."""
        if d.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document (schema {d.get('schema')!r})")
        return cls(
            dataset=d["dataset"],
            split=d["split"],
            pattern=d["pattern"],
            scale=int(d["scale"]),
            samples=[int(s) for s in d["samples"]],
            noise_levels=[float(v) for v in d["noise"]["levels"]],
            noise_bins=[dict(b) for b in d["noise"]["bins"]],
            methods={
                name: {
                    "kind": m["kind"],
                    "source": m["source"],
                    "per_sample": {k: [float(x) for x in v] for k, v in m["per_sample"].items()},
                }
                for name, m in d["methods"].items()
            },
            models={k: dict(v) for k, v in d.get("models", {}).items()},
            notes=list(d.get("notes", [])),
            options=dict(d.get("options", {})),
            charts=dict(d.get("charts", {})),
        )

    @classmethod
    def from_json(cls, path) -> EvaluationReport:
        """Read a report written by :meth:`to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_markdown(self) -> str:
        """Markdown: one table of method x metric means per noise group (all samples first, then
        each noise bin when there are several), the model-cost table, and the notes."""
        lines = [
            f"# Evaluation: {self.dataset} ({self.split}, {self.pattern}, "
            f"{len(self.samples)} samples)",
            "",
        ]
        if "white_balance" in self.options:
            how = "white-balanced" if self.options["white_balance"] else "camera-RGB (unbalanced)"
            then = (
                "then the true white balance: the linear task, scored against the white-balanced "
                "noise-free signal in linear camera RGB"
                if self.options.get("task") == "linear"
                else "then cfasim's reference ISP"
            )
            lines += [f"Baselines demosaic the {how} mosaic, {then}.", ""]
        means, intervals, comparisons = self.means(), self.intervals(), self.comparisons()
        for key, title in self._markdown_groups():
            lines += [f"## {title}", "", *self._means_table(means, intervals, key), ""]
            if key in comparisons and len(comparisons[key]["vs_best"]):
                lines += [*self._paired_table(comparisons[key]), ""]
        lines += [
            f"Intervals: 95 % percentile bootstrap over the samples ({RESAMPLES} resamples, "
            f"seed {SEED}); they do not include the spread between training seeds.",
            "",
        ]
        if self.models:
            lines += ["## Model cost", "", *self._cost_table(), ""]
        if self.charts:
            from cfasim.eval.charts import chart_markdown

            lines += [*chart_markdown(self.charts, means), ""]
        notes = [*self.notes]
        if any("m4_no_lpips" in m["per_sample"] for m in self.methods.values()):
            notes.append(LPIPS_NOTE)
        if notes:
            lines += ["## Notes", ""] + [f"- {n}" for n in dict.fromkeys(notes)] + [""]
        return "\n".join(lines)

    def _markdown_groups(self) -> list[tuple[str, str]]:
        """(group key of :meth:`means`, section title) of each Markdown means table."""
        n = len(self.samples)
        if len(self.noise_bins) > 1:
            bins = [
                (b["label"], f"{b['label']} (n = {len(b['samples'])})") for b in self.noise_bins
            ]
            return [("all", f"All samples (n = {n})"), *bins]
        if self.noise_bins:
            return [("all", f"All samples, {self.noise_bins[0]['label']} (n = {n})")]
        return [("all", f"All samples (n = {n})")]

    def _means_table(self, means: dict, intervals: dict, key: str) -> list[str]:
        """Markdown lines of the method x metric table of group ``key`` (``-``: no value), with
        the PSNR interval and the best classical baseline marked."""
        metrics = [k for k in METRICS if any(k in m["per_sample"] for m in self.methods.values())]
        heads = [METRIC_LABELS[k] for k in metrics]
        heads.insert(1, "PSNR 95 % CI")
        lines = ["| method | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
        best = self.best_baseline(key)
        for name in self.methods:
            row = means[name][key]
            cells = [METRIC_FORMATS[k].format(row[k]) if k in row else "-" for k in metrics]
            ci = intervals[name][key].get("psnr")
            cells.insert(1, "-" if ci is None else f"{ci[0]:.2f} .. {ci[1]:.2f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        if best is not None:
            lines += ["", f"Best classical pipeline (mean PSNR): **{best}**."]
        return lines

    @staticmethod
    def _paired_table(comparison: dict) -> list[str]:
        """Markdown lines of the paired differences against the group's best baseline."""
        best = comparison["best_baseline"]
        lines = [
            f"Paired PSNR difference against {best} (per sample, method - {best}):",
            "",
            "| method | mean (dB) | 95 % CI (dB) | verdict |",
            "|---|---|---|---|",
        ]
        for name, d in comparison["vs_best"].items():
            ci = "-" if d["ci"] is None else f"{d['ci'][0]:+.2f} .. {d['ci'][1]:+.2f}"
            lines.append(f"| {name} | {d['mean']:+.2f} | {ci} | {d['verdict']} |")
        return lines

    def _cost_table(self) -> list[str]:
        """Markdown lines of the model-cost table."""
        lines = [
            "| model | architecture | parameters | GMAC / Mpx | CPU s / Mpx | threads |",
            "|---|---|---|---|---|---|",
        ]
        for name, c in self.models.items():
            lines.append(
                f"| {name} | {c['architecture']} | {c['params']:,} | "
                f"{c['gmac_per_mpx']:.2f} | {c['latency_s_per_mpx']:.3f} | {c['threads']} |"
            )
        return lines

    # -- figure --

    def _panel_geometry(self) -> tuple[int, int, int]:
        """(panel side in pixels, columns, rows) of the figure; no crops: a ValueError."""
        if not self.crops:
            raise ValueError(
                "no crops to draw: the figure needs an evaluate() run (a report read from JSON "
                "has no images)"
            )
        size = self.crops[0]["size"]
        panel = size * max(1, math.ceil(FIGURE_MIN_PANEL / size))
        cols = 2 + len(self.crops[0]["images"])
        return panel, cols, len(self.crops)

    def figure_size(self) -> tuple[int, int]:
        """(width, height) in pixels of :meth:`figure`: with panel side P = crop size times
        ``ceil(160 / crop size)``, each cell is ``P + 8`` wide and ``P + 38`` high (30-pixel
        label band, 4-pixel margins); columns: mosaic, every method, target; rows: crops."""
        panel, cols, rows = self._panel_geometry()
        cell_w = panel + 2 * FIGURE_MARGIN_PX
        cell_h = panel + FIGURE_LABEL_PX + 2 * FIGURE_MARGIN_PX
        return cols * cell_w, rows * cell_h

    def figure(self, path) -> Path:
        """Write a PNG of aligned crops (matplotlib Agg, imported lazily) and return the path.

        One row per crop (the samples and places where the methods differ most, see
        :func:`cfasim.eval.crops.keep_crop`): the mosaic in false colour
        (:func:`cfasim.eval.crops.false_color_mosaic`), each method labelled with its name and
        crop PSNR, and the target. Pixel size: :meth:`figure_size`.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._grid_figure(FIGURE_DPI, FIGURE_FONT_PT).savefig(
            path, dpi=FIGURE_DPI, format="png", metadata={"Software": None}
        )
        return path

    def paper_figure(self, stem, formats=("pdf",)) -> list[Path]:
        """The figure of :meth:`figure` for a paper: the same grid printed at the text width of
        a two-column page (:data:`cfasim.figures.TEXT_WIDTH_IN`) with
        :data:`FIGURE_FONT_PT`-point labels, each label shrunk only as far as it must to fit its
        panel (choose a few methods for a paper: with many columns the labels get small).
        Raster panels keep their pixels (nearest neighbour); text stays text in PDF / SVG.
        Returns the paths written (``stem.pdf`` etc., :func:`cfasim.figures.save_figure`)."""
        from cfasim.figures import TEXT_WIDTH_IN, paper_style, save_figure

        dpi = self.figure_size()[0] / TEXT_WIDTH_IN
        with paper_style():
            fig = self._grid_figure(dpi, FIGURE_FONT_PT, fit_labels=True)
            return save_figure(fig, stem, formats, dpi=max(dpi, 150))

    def _grid_figure(self, dpi: float, font_pt: float, fit_labels: bool = False):
        """The matplotlib Figure of the crops grid at ``dpi`` pixels per inch."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        width, height = self.figure_size()
        fig = Figure(figsize=((width + 0.5) / dpi, (height + 0.5) / dpi), dpi=dpi,
                     facecolor="white")  # fmt: skip
        FigureCanvasAgg(fig)
        linear = self.options.get("task") == "linear"
        texts = []
        for r, crop in enumerate(self.crops):
            for c, (label, img) in enumerate(_crop_panels(crop)):
                if linear and c > 0:  # linear RGB, sRGB-encoded for display only
                    img = srgb_encode(np.clip(img, 0, 1))
                texts.append(self._draw_panel(fig, r, c, label, img, font_pt))
        if fit_labels:
            _fit_texts(fig, texts, self._panel_geometry()[0] / width)
        return fig

    def _draw_panel(self, fig, row: int, col: int, label: str, img: np.ndarray, font_pt=7.0):
        """Draw one labelled image at (``row``, ``col``) of the figure's grid of cells; return
        the label's Text."""
        panel = self._panel_geometry()[0]
        width, height = self.figure_size()
        x0 = col * (panel + 2 * FIGURE_MARGIN_PX) + FIGURE_MARGIN_PX
        y0 = row * (panel + FIGURE_LABEL_PX + 2 * FIGURE_MARGIN_PX)
        y0 += FIGURE_MARGIN_PX + FIGURE_LABEL_PX
        ax = fig.add_axes((x0 / width, 1 - (y0 + panel) / height, panel / width, panel / height))
        ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
        ax.set_axis_off()
        return fig.text(
            (x0 + panel / 2) / width,
            1 - (y0 - 2) / height,
            label,
            ha="center",
            va="bottom",
            fontsize=font_pt,
            linespacing=1.1,
        )


def _fit_texts(fig, texts, max_width: float) -> None:
    """Give every label the largest common font size (at most its own) at which each is at
    most ``max_width`` (a fraction of the figure's width) wide and fits the label band
    (:data:`FIGURE_LABEL_PX`) in height."""
    renderer = fig.canvas.get_renderer()
    band = (FIGURE_LABEL_PX - 3) / (fig.get_size_inches()[1] * fig.dpi)
    to_figure = fig.transFigure.inverted()
    for _ in range(8):
        boxes = [t.get_window_extent(renderer).transformed(to_figure) for t in texts]
        ratio = min(min(max_width / b.width, band / b.height) for b in boxes)
        if ratio >= 1:
            return
        for t in texts:
            t.set_fontsize(t.get_fontsize() * ratio * 0.98)


def _interval(values) -> list[float] | None:
    lo, hi = mean_ci(values)
    return None if math.isnan(lo) else [lo, hi]


def _crop_panels(crop: dict) -> list[tuple[str, np.ndarray]]:
    """(label, image) of each panel of a crop's figure row: mosaic, methods, target."""
    where = f"sample {crop['sample']} y{crop['y']} x{crop['x']}"
    return [
        (f"mosaic (false colour)\n{where}", crop["mosaic"]),
        *[(f"{name}\n{crop['psnr'][name]:.2f} dB", img) for name, img in crop["images"].items()],
        ("target", crop["target"]),
    ]
