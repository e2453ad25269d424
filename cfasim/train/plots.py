"""Figures of a run: loss / PSNR curves (PNG and PDF at a paper's text width,
:mod:`cfasim.figures`) and a PNG grid of validation samples."""

from __future__ import annotations

import json

import numpy as np

from cfasim.isp.render import false_color_mosaic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_run(trainer, samples: int = 4) -> None:
    """Write ``curves.png`` and ``samples.png`` into the run folder."""
    plot_curves(trainer.out)
    plot_samples(trainer, samples)


def plot_curves(out, formats=("png", "pdf")) -> None:
    """``curves.png`` / ``curves.pdf``: training loss and validation PSNR (with the
    reference's) from ``metrics.jsonl``, at a two-column paper's text width with 8-point text."""
    from matplotlib.figure import Figure

    from cfasim.figures import TEXT_WIDTH_IN, paper_style, save_figure

    records = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_psnr" in r]
    with paper_style():
        fig = Figure(figsize=(TEXT_WIDTH_IN, 2.4), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        ax1.plot([r["step"] for r in train], [r["loss"] for r in train])
        ax1.set(xlabel="step", ylabel="training loss", yscale="log", title="loss")
        if val:
            ax2.plot([r["step"] for r in val], [r["val_psnr"] for r in val], "o-", label="model")
            ax2.axhline(val[-1]["baseline_psnr"], color="gray", ls="--", label="demosaic + process")
            ax2.legend(frameon=False)
        ax2.set(xlabel="step", ylabel="PSNR (dB)", title="validation PSNR")
        save_figure(fig, out / "curves", formats)


def plot_samples(trainer, samples: int = 4) -> None:
    """``samples.png``: for the first validation samples, the false-colour mosaic, the
    reference (tent demosaic + process with the sample's ISP parameters; blank for captured
    pairs, which have none), the model's output and the target."""
    from cfasim.data.reader import open_dataset
    from cfasim.isp.render import render_reference
    from cfasim.store.schema import has_isp_params

    n = min(samples, len(trainer.val_set))
    if n == 0:
        return
    plt = _pyplot()
    dataset = open_dataset(trainer.config.data.dataset)
    split = dataset[trainer.config.data.val_split]
    rendered = has_isp_params(dataset.config)
    pattern, (black, white) = trainer.adapter.pattern, trainer.adapter.normalize
    fig, axes = plt.subplots(n, 4, figsize=(12, 3 * n), squeeze=False)
    for i in range(n):
        item = trainer.val_set[i]
        raw = item["raw"].numpy()
        batch = {k: v[None] if hasattr(v, "shape") else v for k, v in item.items()}
        pred = trainer.predict(batch)[0].permute(1, 2, 0).cpu().numpy()
        target = item["target"].permute(1, 2, 0).numpy()
        gains, ref = (1.0, 1.0, 1.0), np.zeros_like(target)
        if rendered:
            params = split.params(i)
            ref = render_reference(raw, pattern, params, black, white, trainer.val_set.scale)
            gains = params.channel_gains
        mosaic = false_color_mosaic(raw, pattern, black, white, gains)
        panels = [mosaic, ref, pred, target]
        titles = ["mosaic (false colour)", "demosaic + process", "model", "target"]
        for ax, img, title in zip(axes[i], panels, titles, strict=True):
            ax.imshow(np.clip(img, 0, 1))
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(trainer.out / "samples.png", dpi=80)
    plt.close(fig)


def plot_levels(out, formats=("png", "pdf")) -> None:
    """``levels.png`` / ``levels.pdf`` of a level schedule: training loss and validation PSNR
    over the whole run, one curve per level (steps counted across levels), from
    ``OUT/metrics.jsonl``, at a two-column paper's text width."""
    from matplotlib.figure import Figure

    from cfasim.figures import TEXT_WIDTH_IN, paper_style, save_figure

    records = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    with paper_style():
        fig = Figure(figsize=(TEXT_WIDTH_IN, 2.4), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        offset = 0
        for level in dict.fromkeys(r["level"] for r in records if "level" in r):
            rows = [r for r in records if r.get("level") == level]
            train = [r for r in rows if "loss" in r]
            val = [r for r in rows if "val_psnr" in r]
            steps = [offset + r["step"] for r in train]
            ax1.plot(steps, [r["loss"] for r in train], label=f"level {level}")
            if val:
                ax2.plot([offset + r["step"] for r in val], [r["val_psnr"] for r in val], "o-",
                         label=f"level {level}")  # fmt: skip
            offset += max([r["step"] for r in rows] + [0])
        ax1.set(xlabel="step (all levels)", ylabel="training loss", yscale="log", title="loss")
        ax2.set(xlabel="step (all levels)", ylabel="PSNR (dB)", title="validation PSNR")
        for ax in (ax1, ax2):
            ax.legend(frameon=False)
        save_figure(fig, out / "levels", formats)
