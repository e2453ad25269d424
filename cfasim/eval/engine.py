"""The evaluation engine behind ``cfasim evaluate``: baselines and trained models on a dataset.

For every sample of a split, every method turns the stored RAW mosaic into display sRGB, which
is compared with the stored target:

- a classical **baseline** (:mod:`cfasim.eval.baselines`) demosaics the RAW, normalised with the
  sample's black / white levels and clipped to [0, 1], to linear camera RGB (by default on the
  white-balanced mosaic, as camera pipelines do, the gains undone afterwards: see
  :func:`render_baseline`); then cfasim's reference forward ISP (:func:`cfasim.isp.steps.process`)
  with the sample's **true** ISP parameters (:func:`cfasim.isp.render.sample_params`) gives sRGB,
  so only the demosaic differs from the target's rendering; for DSLR-style datasets (split
  attribute ``scale`` s > 1) the result is upscaled bilinearly by s, exactly as
  :func:`cfasim.isp.render.render_reference` does;
- a **model** checkpoint (``training``; torch is imported only then) runs on the RAW codes,
  rescaled to the checkpoint's black / white levels when they differ, on CPU, as
  :func:`cfasim.train.export.process_raw` does but in float (no 8-bit rounding) and loading the
  checkpoint once; a RAW whose side is not a multiple of the model's size multiple is cropped
  to the largest one that is (top-left), and the metrics use the matching target region.

Metrics (:mod:`cfasim.eval.metrics`): PSNR, SSIM, MS-SSIM and mean CIEDE2000 of the sRGB output
against ``target / 255``. Methods whose pipeline contains a full-resolution Bayer remosaic
(``remosaic_malvar`` on Quad / Nona / QxQ: :func:`cfasim.eval.baselines.remosaic` of the RAW codes)
are also scored on that Bayer mosaic: the MIPI 2022 KLD (:func:`cfasim.eval.metrics.kld_bayer`,
``2**bits`` levels) against the same-phase Bayer mosaic of the stored noise-free ``clean``
signal quantised like the RAW, ``round(black + v (white - black))`` clipped to [0, white], and
``m4_no_lpips`` = PSNR * SSIM * 2^(1 - KLD), the MIPI M4 score **without its LPIPS term**
(LPIPS weights are not available to cfasim; never compare it with published M4). Datasets
without ``clean`` get no KLD (a note says so).

Samples are grouped by noise level: the noise standard deviation at linear level 0.18,
``sqrt(shot * 0.18 + read)`` from the stored ``shot_noise`` / ``read_noise``, split into
``noise_bins`` groups of (nearly) equal size by rank (quantile bins); all samples share one bin
when every level is the same (noise ``none`` or fixed levels).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfasim.cfa import CFAPattern
from cfasim.errors import CheckpointError
from cfasim.eval import baselines as B
from cfasim.eval import metrics as M
from cfasim.isp.color import srgb_encode
from cfasim.isp.render import normalize_raw, upscale
from cfasim.isp.steps import UnprocessParams, process

SCHEMA = "cfasim.evaluation/1"
"""Value of the ``schema`` key of :meth:`EvaluationReport.to_json`."""
METRICS = ("psnr", "ssim", "ms_ssim", "ciede2000", "kld", "m4_no_lpips")
"""Metric keys, in report order (``kld`` and ``m4_no_lpips`` only for remosaic methods)."""
METRIC_LABELS = {
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "ms_ssim": "MS-SSIM",
    "ciede2000": "CIEDE2000",
    "kld": "KLD",
    "m4_no_lpips": "M4 (no LPIPS)",
}
METRIC_FORMATS = {
    "psnr": "{:.2f}",
    "ssim": "{:.4f}",
    "ms_ssim": "{:.4f}",
    "ciede2000": "{:.3f}",
    "kld": "{:.4f}",
    "m4_no_lpips": "{:.2f}",
}
NOISE_REFERENCE_LEVEL = 0.18
"""Linear level at which the noise standard deviation that bins samples is taken."""
REMOSAIC_BASELINES = ("remosaic_malvar",)
"""Baselines whose pipeline has a full-resolution Bayer remosaic (scored with KLD)."""
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


# -- per-sample rendering -------------------------------------------------------------------------


def render_baseline(
    name: str,
    raw: np.ndarray,
    pattern: CFAPattern,
    params: UnprocessParams,
    black: float,
    white: float,
    scale: int = 1,
    white_balance: bool = True,
) -> np.ndarray:
    """(H, W) RAW codes -> (s*H, s*W, 3) display sRGB in [0, 1] with baseline ``name``.

    The RAW is normalised (:func:`normalize_raw`), demosaiced by
    :func:`cfasim.eval.baselines.demosaic` to linear camera RGB and processed by
    :func:`cfasim.isp.steps.process` with ``params``; for
    ``scale`` s > 1 a bilinear upscale follows (as :func:`cfasim.isp.render.render_reference`,
    which this equals for ``tent``, a per-channel linear interpolation).

    With ``white_balance`` (default) the demosaicer sees a white-balanced mosaic, as in camera
    pipelines and raw converters (dcraw / LibRaw scale the colours before interpolating): each
    R / B site is multiplied by the sample's red / blue gain before the demosaic and the result
    divided by the gains after it, so ``process`` still receives camera RGB. Methods that use
    colour differences (Malvar, Menon) lose several dB on unbalanced camera RGB.
    """
    lin = normalize_raw(raw, black, white)
    if white_balance:
        gains = np.array([params.red_gain, 1.0, params.blue_gain])
        idx = pattern.color_index(*lin.shape)
        site = np.where(idx < 3, gains[np.minimum(idx, 2)], 1.0)  # W sites keep their value
        cam = B.demosaic(name, lin * site, pattern) / gains
    else:
        cam = B.demosaic(name, lin, pattern)
    return upscale(process(cam, params), scale)


def clean_bayer_dn(clean: np.ndarray, bayer: CFAPattern, black: float, white: float) -> np.ndarray:
    """Noise-free linear camera RGB (H, W, 3) -> its ``bayer`` mosaic in RAW codes:
    ``round(black + v * (white - black))`` clipped to [0, white]."""
    v = bayer.mosaic(np.asarray(clean, dtype=np.float64))
    return np.clip(np.round(black + v * (float(white) - float(black))), 0.0, float(white))


def false_color_mosaic(
    raw: np.ndarray,
    pattern: CFAPattern,
    black: float,
    white: float,
    gains: Sequence[float] = (1.0, 1.0, 1.0),
) -> np.ndarray:
    """(H, W) RAW codes -> (H, W, 3) display image of the mosaic: each pixel's normalised linear
    value in its own CFA colour (R, G or B channel; W sites grey), times that colour's entry of
    ``gains`` (e.g. the sample's white-balance and digital gains), clipped, sRGB-encoded."""
    lin = normalize_raw(raw, black, white)
    idx = pattern.color_index(*lin.shape)
    out = np.zeros((*lin.shape, 3))
    for c in range(3):
        out[..., c] = np.where((idx == c) | (idx == 3), lin * float(gains[c]), 0.0)
    return srgb_encode(np.clip(out, 0.0, 1.0))


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


def _bin_label(lo: float, hi: float) -> str:
    if hi == 0.0:
        return "noise none"
    if lo == hi:
        return f"sigma {lo:.4g}"
    return f"sigma {lo:.4g}-{hi:.4g}"


# -- checkpoints ----------------------------------------------------------------------------------


def _checkpoint_specs(checkpoints: Iterable, taken: set[str]) -> list[tuple[str, Path]]:
    """(label, path) of each checkpoint: ``LABEL=PATH`` or a path, labelled by its file stem
    (its folder name for ``model.pt`` / ``checkpoint.pt``); labels are made unique."""
    out = []
    for spec in checkpoints:
        text = str(spec)
        label = None
        if "=" in text and not Path(text).exists():
            label, text = text.split("=", 1)
        path = Path(text)
        if label is None:
            stem = path.stem
            generic = stem in ("model", "checkpoint") and path.parent.name
            label = path.parent.name if generic else stem
        base, k = label, 2
        while label in taken:
            label, k = f"{base}#{k}", k + 1
        taken.add(label)
        out.append((label, path))
    return out


class _CheckpointRunner:
    """A trained model loaded once, run on CPU on (H, W) RAW codes (torch imported lazily)."""

    def __init__(self, path: Path, pattern: CFAPattern):
        import torch

        from cfasim.train.trainer import load_checkpoint, model_from_checkpoint

        self.torch = torch
        self.path = path
        ckpt = load_checkpoint(path, map_location="cpu")  # weights_only; CheckpointError
        if ckpt["adapter"].get("input", "mosaic") != "mosaic":
            raise CheckpointError(f"{path} is a clean-image teacher; it cannot process RAW mosaics")
        self.model, self.adapter = model_from_checkpoint(ckpt, path)
        if self.adapter.pattern != pattern:
            raise ValueError(
                f"{path} was trained on {self.adapter.pattern.name}; the dataset is {pattern.name}"
            )
        self.architecture = ckpt["model_spec"]["name"]
        self.multiple = self.adapter.required_multiple(getattr(self.model, "input_multiple", 1))

    def _input(self, raw: np.ndarray, black: float, white: float):
        my, mx = self.multiple
        h, w = raw.shape
        hh, ww = h - h % my, w - w % mx
        if hh == 0 or ww == 0:
            raise ValueError(
                f"RAW of {h}x{w} is smaller than the size multiple {my}x{mx} of {self.path}"
            )
        x = np.asarray(raw[:hh, :ww], dtype=np.float64)
        lo, hi = self.adapter.normalize
        if (lo, hi) != (black, white):  # to the checkpoint's RAW format
            x = lo + (x - black) / (white - black) * (hi - lo)
        return self.torch.from_numpy(x.astype(np.float32))[None]

    def _forward(self, x):
        inp = self.adapter(x)
        return self.model(inp["packed"], inp["mosaic"])

    def __call__(self, raw: np.ndarray, black: float, white: float) -> np.ndarray:
        """(H, W) RAW codes with levels black / white -> (H', W', 3) float64 sRGB in [0, 1]."""
        with self.torch.inference_mode():
            out = self._forward(self._input(raw, black, white))
        return out[0].clamp(0, 1).permute(1, 2, 0).double().numpy()

    def cost(self, raw: np.ndarray, black: float, white: float, repeats: int) -> dict:
        """Parameters, MACs (FLOPs / 2, torch.utils.flop_counter) and median CPU latency."""
        from torch.utils.flop_counter import FlopCounterMode

        from cfasim.train.models import count_parameters

        x = self._input(raw, black, white)
        with self.torch.inference_mode():
            with FlopCounterMode(display=False) as counter:
                out = self._forward(x)
            times = []
            for _ in range(max(1, int(repeats))):
                t0 = time.perf_counter()
                self._forward(x)
                times.append(time.perf_counter() - t0)
        macs = counter.get_total_flops() / 2
        mpx = out.shape[-2] * out.shape[-1] / 1e6
        return {
            "checkpoint": str(self.path),
            "architecture": self.architecture,
            "params": int(count_parameters(self.model)),
            "input": [int(x.shape[-2]), int(x.shape[-1])],
            "output": [int(out.shape[-2]), int(out.shape[-1])],
            "macs": int(macs),
            "gmac_per_mpx": float(macs / 1e9 / mpx),
            "latency_s_per_mpx": float(statistics.median(times) / mpx),
            "latency_repeats": max(1, int(repeats)),
            "threads": int(self.torch.get_num_threads()),
        }


# -- the report -----------------------------------------------------------------------------------


@dataclass
class EvaluationReport:
    """Results of :func:`evaluate`.

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
        ``{name: {"kind": "baseline" | "model", "source": baseline name or checkpoint path,
        "per_sample": {metric: [float, ...]}}}``, in evaluation order (baselines first).
    models
        ``{name: cost}`` for model methods: ``checkpoint``, ``architecture``, ``params``,
        ``input`` / ``output`` ([h, w] of the measured forward), ``macs`` (per forward),
        ``gmac_per_mpx``, ``latency_s_per_mpx`` (median CPU forward time per output megapixel),
        ``latency_repeats``, ``threads``.
    notes
        Free-text notes (skipped metrics, the LPIPS caveat).
    options
        The :func:`evaluate` settings: ``baselines``, ``checkpoints``, ``limit``,
        ``noise_bins``, ``crop_size``, ``white_balance``.
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
    crops: list[dict] = field(default_factory=list, repr=False, compare=False)

    # -- summaries --

    def means(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{method: {group: {metric: mean}}}`` with group ``"all"`` and every noise-bin label;
        only the metrics a method has."""
        pos = {s: i for i, s in enumerate(self.samples)}
        groups = {"all": list(range(len(self.samples)))}
        for b in self.noise_bins:
            groups[b["label"]] = [pos[s] for s in b["samples"]]
        out = {}
        for name, m in self.methods.items():
            out[name] = {
                g: {k: float(np.mean([v[i] for i in idx])) for k, v in m["per_sample"].items()}
                for g, idx in groups.items()
            }
        return out

    def to_dict(self) -> dict:
        """The JSON document of :meth:`to_json`."""
        means = self.means()
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
                    "per_sample": {k: list(v) for k, v in m["per_sample"].items()},
                }
                for name, m in self.methods.items()
            },
            "models": {k: dict(v) for k, v in self.models.items()},
            "notes": list(self.notes),
            "options": dict(self.options),
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
              "metrics": ["psnr", "ssim", "ms_ssim", "ciede2000", "kld", "m4_no_lpips"],
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
                          "noise_bins": int, "crop_size": int, "white_balance": bool}
            }

        A method lists only the metrics it has (``kld`` and ``m4_no_lpips`` only for methods
        with a Bayer remosaic on datasets storing ``clean``). ``m4_no_lpips`` is M4 without its
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
        )

    @classmethod
    def from_json(cls, path) -> EvaluationReport:
        """Read a report written by :meth:`to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_markdown(self) -> str:
        """Markdown: one table of method x metric means per noise group (all samples first, then
        each noise bin when there are several), the model-cost table, and the notes."""
        means = self.means()
        metrics = [k for k in METRICS if any(k in m["per_sample"] for m in self.methods.values())]
        lines = [
            f"# Evaluation: {self.dataset} ({self.split}, {self.pattern}, "
            f"{len(self.samples)} samples)",
            "",
        ]
        if "white_balance" in self.options:
            how = "white-balanced" if self.options["white_balance"] else "camera-RGB (unbalanced)"
            lines += [f"Baselines demosaic the {how} mosaic, then cfasim's reference ISP.", ""]
        n = len(self.samples)
        groups = [("all", f"All samples (n = {n})")]
        if len(self.noise_bins) > 1:
            groups += [
                (b["label"], f"{b['label']} (n = {len(b['samples'])})") for b in self.noise_bins
            ]
        elif self.noise_bins:
            groups = [("all", f"All samples, {self.noise_bins[0]['label']} (n = {n})")]
        for key, title in groups:
            lines += [f"## {title}", ""]
            lines.append("| method | " + " | ".join(METRIC_LABELS[k] for k in metrics) + " |")
            lines.append("|---|" + "---|" * len(metrics))
            for name in self.methods:
                row = means[name][key]
                cells = [METRIC_FORMATS[k].format(row[k]) if k in row else "-" for k in metrics]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            lines.append("")
        if self.models:
            lines += [
                "## Model cost",
                "",
                "| model | architecture | parameters | GMAC / Mpx | CPU s / Mpx | threads |",
                "|---|---|---|---|---|---|",
            ]
            for name, c in self.models.items():
                lines.append(
                    f"| {name} | {c['architecture']} | {c['params']:,} | "
                    f"{c['gmac_per_mpx']:.2f} | {c['latency_s_per_mpx']:.3f} | {c['threads']} |"
                )
            lines.append("")
        notes = [*self.notes]
        if any("m4_no_lpips" in m["per_sample"] for m in self.methods.values()):
            notes.append(LPIPS_NOTE)
        if notes:
            lines += ["## Notes", ""] + [f"- {n}" for n in dict.fromkeys(notes)] + [""]
        return "\n".join(lines)

    # -- figure --

    def _panel_geometry(self) -> tuple[int, int, int]:
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
        :func:`evaluate`): the mosaic in false colour (:func:`false_color_mosaic`), each method
        labelled with its name and crop PSNR, and the target. Pixel size: :meth:`figure_size`.
        """
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        panel = self._panel_geometry()[0]
        width, height = self.figure_size()
        cell_w = panel + 2 * FIGURE_MARGIN_PX
        cell_h = panel + FIGURE_LABEL_PX + 2 * FIGURE_MARGIN_PX
        fig = Figure(
            figsize=((width + 0.5) / FIGURE_DPI, (height + 0.5) / FIGURE_DPI),
            dpi=FIGURE_DPI,
            facecolor="white",
        )
        for r, crop in enumerate(self.crops):
            where = f"sample {crop['sample']} y{crop['y']} x{crop['x']}"
            panels = [
                (f"mosaic (false colour)\n{where}", crop["mosaic"]),
                *[
                    (f"{name}\n{crop['psnr'][name]:.2f} dB", img)
                    for name, img in crop["images"].items()
                ],
                ("target", crop["target"]),
            ]
            for c, (label, img) in enumerate(panels):
                x0 = c * cell_w + FIGURE_MARGIN_PX
                y0 = r * cell_h + FIGURE_MARGIN_PX + FIGURE_LABEL_PX
                ax = fig.add_axes(
                    (x0 / width, 1 - (y0 + panel) / height, panel / width, panel / height)
                )
                ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
                ax.set_axis_off()
                fig.text(
                    (x0 + panel / 2) / width,
                    1 - (y0 - 2) / height,
                    label,
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    linespacing=1.1,
                )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=FIGURE_DPI, format="png")
        return path


# -- crop selection -------------------------------------------------------------------------------


def _box_means(err: np.ndarray, size: int) -> np.ndarray:
    """Mean of ``err`` over every size x size box: (H - size + 1, W - size + 1), by top-left."""
    s = np.pad(np.cumsum(np.cumsum(err, axis=0), axis=1), ((1, 0), (1, 0)))
    return (s[size:, size:] - s[:-size, size:] - s[size:, :-size] + s[:-size, :-size]) / size**2


def best_crop(outputs: dict[str, np.ndarray], target: np.ndarray, size: int, step: int = 1):
    """Top-left (y, x) and score of the size x size crop where the methods differ most.

    The score of a crop is the variance across methods of their local RMSE against the target
    (with a single method: its local RMSE); top-left corners are multiples of ``step``. Only the
    region every output covers is considered.
    """
    h = min(o.shape[0] for o in outputs.values())
    w = min(o.shape[1] for o in outputs.values())
    rmse = np.stack(
        [
            np.sqrt(np.maximum(_box_means(np.mean((o[:h, :w] - target[:h, :w]) ** 2, -1), size), 0))
            for o in outputs.values()
        ]
    )[:, ::step, ::step]
    score = rmse.var(axis=0) if len(outputs) > 1 else rmse[0]
    iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(iy * step), int(ix * step), float(score[iy, ix])


# -- the engine -----------------------------------------------------------------------------------


def _baseline_names(baselines, pattern: CFAPattern) -> list[str]:
    ok = B.applicable(pattern)
    if baselines is None or (isinstance(baselines, str) and baselines.strip() in ("", "all")):
        return list(ok)
    if isinstance(baselines, str):
        baselines = [b for b in baselines.split(",") if b.strip()]
    names = [str(b).strip() for b in baselines]
    for name in names:
        if name not in ok:
            raise ValueError(
                f"baseline {name!r} does not apply to {pattern.name}; choose from {', '.join(ok)}"
            )
    return list(dict.fromkeys(names))


def evaluate(
    dataset_path,
    *,
    split: str = "test",
    baselines=None,
    checkpoints: Iterable = (),
    limit: int | None = None,
    noise_bins: int = 3,
    crop_size: int = 64,
    figure_crops: int = 3,
    latency_repeats: int = 3,
    white_balance: bool = True,
    log: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Evaluate classical baselines and trained checkpoints on a cfasim dataset split.

    Parameters
    ----------
    dataset_path
        A cfasim dataset (path or URL, :func:`cfasim.open_dataset`).
    split
        ``"train"``, ``"val"`` or ``"test"``.
    baselines
        Baseline names (a sequence or one comma-separated string); ``None``, ``""`` or
        ``"all"``: every baseline applicable to the dataset's pattern
        (:func:`cfasim.eval.baselines.applicable`); an empty sequence: none.
    checkpoints
        Training checkpoints (paths, or ``LABEL=PATH``); each is labelled by its file stem, or
        its folder name for ``model.pt`` / ``checkpoint.pt``. Needs torch (imported only here).
    limit
        Evaluate only the first ``limit`` samples of the split.
    noise_bins
        Number of noise-level groups (quantile bins, see the module docstring).
    crop_size
        Side (target pixels) of the figure crops; clipped to the image size and rounded down
        to a multiple of the split's scale.
    figure_crops
        Number of figure rows: the samples whose best crop has the highest across-method
        variance of local RMSE (:func:`best_crop`), one crop per sample.
    latency_repeats
        Timed forward passes per model (the median is reported).
    white_balance
        Baselines demosaic a white-balanced mosaic (see :func:`render_baseline`); False:
        the camera-RGB mosaic as stored.
    log
        Optional progress callback (one line per sample).

    Returns
    -------
    EvaluationReport
    """
    from cfasim.data.reader import open_dataset

    ds = open_dataset(dataset_path)
    if split not in ds.splits:
        raise ValueError(f"no split {split!r} in {dataset_path}; splits: {', '.join(ds.splits)}")
    sp = ds[split]
    n = len(sp) if limit is None else min(len(sp), int(limit))
    if n < 1:
        raise ValueError(f"split {split!r} of {dataset_path} has no samples to evaluate")
    pattern, fmt, scale = ds.pattern, ds.raw_format, sp.scale
    if int(noise_bins) < 1 or int(crop_size) < 1:
        raise ValueError(f"noise_bins and crop_size must be >= 1, got {noise_bins}, {crop_size}")
    names = _baseline_names(baselines, pattern)
    models = _checkpoint_specs(checkpoints, set(names))
    if not names and not models:
        raise ValueError("nothing to evaluate: no baselines and no checkpoints")
    has_clean = "clean" in sp.arrays
    levels_count = 1 << int(fmt.bits)
    notes = []
    remosaic_names = [b for b in names if b in REMOSAIC_BASELINES]
    if remosaic_names and not has_clean:
        notes.append(
            f"KLD skipped for {', '.join(remosaic_names)}: the dataset stores no clean signal "
            "(generate it with --clean)"
        )
    runners = {label: _CheckpointRunner(path, pattern) for label, path in models}
    methods = {b: {"kind": "baseline", "source": b, "per_sample": {}} for b in names}
    methods.update(
        {label: {"kind": "model", "source": str(path), "per_sample": {}} for label, path in models}
    )
    costs: dict[str, dict] = {}
    levels: list[float] = []
    crops: list[dict] = []

    for i in range(n):
        item = sp[i]
        params = sp.params(i)
        raw = np.asarray(item["raw"])
        black = float(item.get("black_level", fmt.black))
        white = float(item.get("white_level", fmt.white))
        target = np.asarray(item["target"], dtype=np.float64) / 255.0
        levels.append(noise_level(float(item["shot_noise"]), float(item["read_noise"])))
        outputs = {
            b: render_baseline(b, raw, pattern, params, black, white, scale, white_balance)
            for b in names
        }
        for label, runner in runners.items():
            outputs[label] = runner(raw, black, white)
            if label not in costs:
                costs[label] = runner.cost(raw, black, white, latency_repeats)
        for name, out in outputs.items():
            h, w = out.shape[:2]
            if h > target.shape[0] or w > target.shape[1]:
                raise ValueError(
                    f"{name} outputs {h}x{w} for a {target.shape[0]}x{target.shape[1]} target"
                )
            tgt = target[:h, :w]
            values = {
                "psnr": M.psnr(out, tgt),
                "ssim": M.ssim(out, tgt),
                "ms_ssim": M.ms_ssim(out, tgt),
                "ciede2000": M.ciede2000(out, tgt),
            }
            if name in REMOSAIC_BASELINES and has_clean:
                bayer_dn, bayer = B.remosaic(raw, pattern)
                ref = clean_bayer_dn(item["clean"], bayer, black, white)
                values["kld"] = M.kld_bayer(bayer_dn, ref, levels_count)
                values["m4_no_lpips"] = M.m4_no_lpips(values["psnr"], values["ssim"], values["kld"])
            for k, v in values.items():
                methods[name]["per_sample"].setdefault(k, []).append(float(v))
        if figure_crops > 0:
            gains = params.digital_gain * np.array([params.red_gain, 1.0, params.blue_gain])
            crops = _keep_crop(crops, outputs, target, raw, pattern, (black, white, gains), scale,
                               crop_size, figure_crops, i)  # fmt: skip
        if log is not None:
            log(
                f"{split}[{i}] "
                + " ".join(f"{k} {methods[k]['per_sample']['psnr'][-1]:.2f}" for k in outputs)
            )

    groups = noise_groups(levels, noise_bins)
    bins = []
    for g in groups:
        lo, hi = float(min(levels[j] for j in g)), float(max(levels[j] for j in g))
        members = [int(j) for j in g]
        bins.append({"label": _bin_label(lo, hi), "low": lo, "high": hi, "samples": members})
    labels = [b["label"] for b in bins]
    if len(set(labels)) != len(labels):  # equal rounded labels: number them
        for k, b in enumerate(bins):
            b["label"] = f"bin {k + 1}: {b['label']}"
    if not remosaic_names:
        notes.append(
            "KLD and m4_no_lpips: no evaluated method has a full-resolution Bayer remosaic "
            f"output ({', '.join(REMOSAIC_BASELINES)} on Quad / Nona / QxQ data)"
        )
    return EvaluationReport(
        dataset=str(dataset_path),
        split=split,
        pattern=pattern.name,
        scale=int(scale),
        samples=list(range(n)),
        noise_levels=levels,
        noise_bins=bins,
        methods=methods,
        models=costs,
        notes=notes,
        options={
            "baselines": names,
            "checkpoints": [str(path) for _, path in models],
            "limit": limit,
            "noise_bins": int(noise_bins),
            "crop_size": int(crop_size),
            "white_balance": bool(white_balance),
        },
        crops=crops,
    )


def _keep_crop(crops, outputs, target, raw, pattern, levels, scale, crop_size, keep, index):
    """Add sample ``index``'s best crop to ``crops`` if it ranks among the ``keep`` best."""
    h = min(min(o.shape[0] for o in outputs.values()), target.shape[0])
    w = min(min(o.shape[1] for o in outputs.values()), target.shape[1])
    size = max(scale, (min(crop_size, h, w) // scale) * scale)
    y, x, score = best_crop(outputs, target, size, step=scale * max(pattern.period))
    if len(crops) >= keep and score <= crops[-1]["score"]:
        return crops
    box = (slice(y, y + size), slice(x, x + size))
    ry, rx, rs = y // scale, x // scale, size // scale
    mosaic = false_color_mosaic(raw, pattern, *levels)[ry : ry + rs, rx : rx + rs]
    if scale != 1:
        mosaic = np.repeat(np.repeat(mosaic, scale, axis=0), scale, axis=1)
    images = {k: np.clip(o[box], 0, 1) for k, o in outputs.items()}
    crop = {
        "sample": int(index),
        "y": y,
        "x": x,
        "size": size,
        "score": score,
        "mosaic": mosaic,
        "target": target[box],
        "images": images,
        "psnr": {k: M.psnr(img, target[box]) for k, img in images.items()},
    }
    return sorted([*crops, crop], key=lambda c: -c["score"])[:keep]
