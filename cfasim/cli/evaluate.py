"""``cfasim evaluate``: baselines and trained models scored on a dataset."""

from __future__ import annotations

from pathlib import Path

import click

from cfasim.cli.group import PATH_OR_URL, main, require_torch
from cfasim.errors import DatasetError
from cfasim.isp.render import TASKS


@main.command()
@click.argument("dataset", type=PATH_OR_URL)
@click.option("--split", default="test", show_default=True)
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
@click.option("--noise-bins", default=3, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--out",
    "out_dir",
    default="evaluation",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for evaluation.md, evaluation.json and evaluation.png.",
)
@click.option("--crops", default=3, show_default=True, type=click.IntRange(min=0))
@click.option("--crop-size", default=64, show_default=True, type=click.IntRange(min=8))
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
):
    """Score classical baselines and trained models on a dataset: PSNR, SSIM, MS-SSIM,
    CIEDE2000, KLD/M4 for remosaics, model costs; writes a table, JSON and a figure."""
    from cfasim.eval.engine import evaluate as run_evaluation

    if checkpoints:
        require_torch("evaluate --checkpoint")
    metrics = {}
    if vgg_weights is not None:
        require_torch("evaluate --vgg-weights")
        from cfasim.train.predict import vgg_distance

        metrics["vgg"] = vgg_distance(vgg_weights)
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
            log=lambda m: click.echo(m, err=True),
        )
    except (ValueError, KeyError, FileNotFoundError, DatasetError) as err:
        raise click.ClickException(str(err)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    table = report.to_markdown()
    (out_dir / "evaluation.md").write_text(table)
    report.to_json(out_dir / "evaluation.json")
    click.echo(table)
    written = [out_dir / "evaluation.md", out_dir / "evaluation.json"]
    if crops:
        written.append(report.figure(out_dir / "evaluation.png"))
    click.echo("wrote " + ", ".join(str(p) for p in written))


def _checkpoint_models(checkpoints) -> list:
    """The models of the ``--checkpoint [LABEL=]PATH`` options (torch is imported only when
    there are some): :func:`cfasim.train.predict.checkpoint_models`."""
    if not checkpoints:
        return []
    from cfasim.train.predict import checkpoint_models

    return checkpoint_models(checkpoints)
