"""``cfasim evaluate``: baselines and trained models scored on a dataset."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from cfasim.cfa import get_pattern
from cfasim.cli.group import PATH_OR_URL, main, require_torch
from cfasim.errors import DatasetError
from cfasim.isp.render import TASKS


@main.command()
@click.argument("dataset", type=PATH_OR_URL)
@click.option("--split", default="test", show_default=True, help="Split to score.")
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    metavar="[LABEL=]PATH",
    help="A trained model checkpoint (repeatable; needs PyTorch).",
)
@click.option(
    "--baselines",
    default="all",
    show_default=True,
    help="Comma-separated classical baselines (bilinear, malvar, menon, tent, binning, "
    "remosaic_malvar, remosaic_menon, remosaic_ed_menon; nlm+NAME denoises first), 'all' "
    "applicable to the pattern, or 'none'.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N samples.")
@click.option(
    "--noise-bins",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of noise-level groups the metrics are also reported for.",
)
@click.option(
    "--out",
    "out_dir",
    default="evaluation",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for evaluation.md, evaluation.json and evaluation.png.",
)
@click.option(
    "--crops",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Rows of the crops figure (samples where the methods differ most); 0: no figure.",
)
@click.option(
    "--crop-size",
    default=64,
    show_default=True,
    type=click.IntRange(min=8),
    help="Side of each figure crop in target pixels.",
)
@click.option(
    "--white-balance/--no-white-balance",
    default=True,
    show_default=True,
    help="Baselines demosaic the white-balanced mosaic (as raw converters do), then unbalance.",
)
@click.option(
    "--task",
    type=click.Choice(list(TASKS)),
    default="srgb",
    show_default=True,
    help="srgb: display targets (baselines use the true ISP); linear: white-balanced linear "
    "camera RGB of the stored clean signal (datasets built with --clean).",
)
@click.option(
    "--vgg-weights",
    type=click.Path(path_type=Path),
    help="VGG-19 weights (a local torchvision-style .pth): adds the VGG distance of the public "
    "PyNET code (relu5_4 features, MSE; needs PyTorch).",
)
@click.option(
    "--lpips-weights",
    type=click.Path(path_type=Path),
    help="LPIPS v0.1 linear weights (the lpips package's alex.pth / vgg.pth, or a full LPIPS "
    "state dict): adds LPIPS and turns M4 (no LPIPS) into the MIPI M4 (needs PyTorch).",
)
@click.option(
    "--lpips-backbone",
    type=click.Path(path_type=Path),
    help="The torchvision alexnet / vgg16 state dict that --lpips-weights sits on.",
)
@click.option(
    "--formats",
    "figure_formats",
    default="png",
    show_default=True,
    help="Figure formats, comma-separated from png, pdf, svg: pdf / svg add the crops grid "
    "and the PSNR summary at a paper's column / text width (docs/evaluation.md).",
)
@click.option(
    "--export-crops",
    is_flag=True,
    help="Also write every figure crop of every method as PNG files (native and enlarged) "
    "under OUT/crops/, for subfigures.",
)
def evaluate(
    dataset,
    split,
    checkpoints,
    baselines,
    limit,
    noise_bins,
    out_dir,
    crops,
    crop_size,
    white_balance,
    task,
    vgg_weights,
    lpips_weights,
    lpips_backbone,
    figure_formats,
    export_crops,
):
    """Score classical baselines and trained models on a dataset: PSNR, SSIM, MS-SSIM,
    CIEDE2000, KLD/M4 for remosaics, model costs; writes a table, JSON and a figure."""
    from cfasim.eval.engine import evaluate as run_evaluation
    from cfasim.figures import parse_formats

    try:
        figure_formats = parse_formats(figure_formats)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--formats") from None
    if export_crops and not crops:
        raise click.BadParameter("--export-crops needs --crops of at least 1", param_hint="--crops")
    if checkpoints:
        require_torch("evaluate --checkpoint")
    metrics = {}
    if vgg_weights is not None:
        require_torch("evaluate --vgg-weights")
        from cfasim.train.predict import vgg_distance

        metrics["vgg"] = vgg_distance(vgg_weights)
    if lpips_backbone is not None and lpips_weights is None:
        raise click.BadParameter("--lpips-backbone needs --lpips-weights", param_hint="--lpips")
    if lpips_weights is not None:
        require_torch("evaluate --lpips-weights")
        from cfasim.train.predict import lpips_distance

        metrics["lpips"] = lpips_distance(lpips_weights, lpips_backbone)
    chosen = [] if baselines.strip().lower() == "none" else baselines
    try:
        report = run_evaluation(
            dataset,
            split=split,
            baselines=chosen,
            models=_checkpoint_models(checkpoints),
            limit=limit,
            noise_bins=noise_bins,
            crop_size=crop_size,
            figure_crops=crops,
            white_balance=white_balance,
            task=task,
            metrics=metrics,
            log=logging.getLogger("cfasim.eval").debug,  # per sample: -v
        )
    except (ValueError, KeyError, FileNotFoundError, DatasetError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(report.to_markdown())
    written = write_report(report, out_dir, figure_formats, export_crops)
    click.echo("wrote " + ", ".join(str(p) for p in written))


def write_report(report, out_dir: Path, figure_formats, export_crops: bool) -> list[Path]:
    """Write the report's files into ``out_dir``: ``evaluation.md``, ``.json``, ``.csv`` and
    ``.tex`` (:mod:`cfasim.eval.tables`); with crops the pixel-exact ``evaluation.png`` (and
    ``evaluation.pdf`` / ``.svg`` at text width for those formats); ``evaluation-summary.*``
    (PSNR with its interval per method and noise group, at column width); with
    ``export_crops`` the crops as PNG files under ``crops/``. Returns the paths written."""
    from cfasim.eval import figures, tables

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "evaluation.md").write_text(report.to_markdown())
    (out_dir / "evaluation.csv").write_text(tables.to_csv(report))
    (out_dir / "evaluation.tex").write_text(tables.to_latex(report))
    report.to_json(out_dir / "evaluation.json")
    written = [out_dir / f"evaluation.{ext}" for ext in ("md", "json", "csv", "tex")]
    if report.crops:
        written.append(report.figure(out_dir / "evaluation.png"))
        vector = [f for f in figure_formats if f != "png"]
        if vector:
            written += report.paper_figure(out_dir / "evaluation", vector)
    if any("psnr" in m["per_sample"] for m in report.methods.values()):
        written += figures.summary_figure(report, out_dir / "evaluation-summary", figure_formats)
    if export_crops:
        period = max(get_pattern(report.pattern).period)
        crops_dir = out_dir / "crops"
        figures.export_crops(report, crops_dir, period=period)
        written.append(crops_dir)
    return written


def _checkpoint_models(checkpoints) -> list:
    """The models of the ``--checkpoint [LABEL=]PATH`` options (torch is imported only when
    there are some): :func:`cfasim.train.predict.checkpoint_models`."""
    if not checkpoints:
        return []
    from cfasim.train.predict import checkpoint_models

    return checkpoint_models(checkpoints)
