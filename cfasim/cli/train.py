"""``cfasim train``, ``export`` and ``process-raw``: the commands that need PyTorch (imported
when they run, never when the CLI starts)."""

from __future__ import annotations

from pathlib import Path

import click

from cfasim.cli.group import main, require_torch


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML config: a path, or the name of a shipped config (lwisp_nona_tiny, ...; "
    "`cfasim train --list-configs`).",
)
@click.option("--dataset", help="cfasim dataset (overrides data.dataset).")
@click.option("--teacher", help="Teacher checkpoint for distillation (overrides distill.teacher).")
@click.option(
    "--distill",
    type=click.Choice(["none", "output", "progressive", "heterogeneous"]),
    help="Distillation mode (overrides distill.mode).",
)
@click.option("--out", help="Run folder (overrides train.out).")
@click.option("--steps", type=click.IntRange(min=1), help="Training steps (train.steps).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed (train.seed).")
@click.option(
    "--seeds",
    help="Comma-separated seeds: one run per seed in OUT/seed-S and their spread in "
    "OUT/seeds.json (mean, sd, range, t-interval).",
)
@click.option("--device", help="auto | cpu | cuda (train.device).")
@click.option("--amp/--no-amp", default=None, help="Mixed precision (bf16 on CPU, fp16 on GPU).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt exactly.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override any config value, e.g. --set data.crop=96 (repeatable).",
)
@click.option(
    "--print-config",
    is_flag=True,
    help="Print the merged, validated config as TOML and exit without training "
    "(no dataset needed).",
)
@click.option("--list-configs", is_flag=True, help="Print the names of the shipped configs.")
def train(
    config_path,
    dataset,
    teacher,
    distill,
    out,
    steps,
    seed,
    seeds,
    device,
    amp,
    resume,
    overrides,
    print_config,
    list_configs,
):
    """Train a model (teacher or student, with optional distillation) on a cfasim dataset.

    Runs on CPU, one GPU, or several processes under torchrun (DDP).
    """
    from cfasim.train.config import load_train_config, shipped_configs, to_toml

    if list_configs:
        for name in shipped_configs():
            click.echo(name)
        return
    flags = {
        "data__dataset": dataset,
        "distill__teacher": teacher,
        "distill__mode": distill,
        "train__out": out,
        "train__steps": steps,
        "train__seed": seed,
        "train__device": device,
        "train__amp": amp,
    }
    if print_config:  # ConfigError: one line (the command group)
        config = load_train_config(config_path, overrides, partial=True, **flags)
        click.echo(to_toml(config), nl=False)
        return
    require_torch("train")
    from cfasim.train.schedule import run_training

    try:
        config = load_train_config(config_path, overrides, **flags)
        if seeds is not None:
            from cfasim.train.seeds import run_seeds

            if seed is not None:
                raise click.UsageError("give --seed or --seeds, not both")
            run_seeds(config, _seed_list(seeds), resume=resume)  # logs: cfasim.train
        else:
            run_training(config, resume=resume)
    except (ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: expected comma-separated integers", param_hint="--seeds"
        ) from None
    if not seeds or min(seeds) < 0:
        raise click.BadParameter(f"{text!r}: expected seeds >= 0", param_hint="--seeds")
    return seeds


@main.command("process-raw")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--split", default="test", show_default=True, help="Split of a dataset INPUT.")
@click.option(
    "--index",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Sample of a dataset INPUT.",
)
@click.option(
    "--out",
    "out_png",
    type=click.Path(path_type=Path),
    help="Output PNG (default: INPUT's name, with the split and index for a dataset).",
)
def process_raw_command(checkpoint, input_path, split, index, out_png):
    """Run a trained model on a dataset sample or a Bayer RAW file; write a PNG."""
    require_torch("process-raw")
    import imagecodecs

    from cfasim.train.export import load_raw_input, process_raw

    if out_png is not None and not out_png.parent.is_dir():  # refuse before running the model
        raise click.ClickException(f"--out {out_png}: the folder {out_png.parent} does not exist")
    try:
        raw = load_raw_input(checkpoint, input_path, split, index)
        rgb = process_raw(checkpoint, raw)
    except (ValueError, FileNotFoundError, KeyError, IndexError) as err:
        raise click.ClickException(str(err)) from None
    if out_png is None:
        if input_path.is_dir():
            out_png = Path(f"{input_path.name.removesuffix('.zarr')}-{split}-{index}.png")
        else:
            out_png = Path(f"{input_path.stem}.png")
    try:
        out_png.write_bytes(imagecodecs.png_encode(rgb))
    except OSError as err:  # a folder of that name, no permission, disk full
        raise click.ClickException(f"cannot write {out_png}: {err.strerror or err}") from None
    click.echo(f"wrote {out_png} ({rgb.shape[1]}x{rgb.shape[0]})")


@main.command("export")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["torchscript", "onnx"]),
    default="torchscript",
    show_default=True,
    help="TorchScript (.pt) or ONNX (.onnx).",
)
@click.option("--side", default=96, show_default=True, help="Example mosaic side for tracing.")
def export_command(checkpoint, out_dir, fmt, side):
    """Export a trained model (with its CFA adapter) to TorchScript or ONNX."""
    require_torch("export")
    from cfasim.train.export import export_model

    try:
        path = export_model(checkpoint, out_dir, fmt, side)
    except (ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"wrote {path}")
