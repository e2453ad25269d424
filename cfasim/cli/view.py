"""``cfasim view``: a PNG grid of samples of a dataset (false-colour and grey mosaic, clean,
target, a zoom of the CFA tiles) with their pattern, noise and metadata."""

from __future__ import annotations

from pathlib import Path

import click

from cfasim.cli.group import PATH_OR_URL, main
from cfasim.errors import ConfigError


def parse_index_list(text: str) -> list[int]:
    """``"0,3,7"`` -> ``[0, 3, 7]``; ConfigError for anything but non-negative integers."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"bad --indices {text!r}: give sample numbers such as 0,3,7") from None
    if not values or any(v < 0 for v in values):
        raise ConfigError(f"bad --indices {text!r}: give sample numbers such as 0,3,7")
    return values


@main.command()
@click.argument("dataset", metavar="DATASET", type=PATH_OR_URL)
@click.option("--split", default="test", show_default=True, help="The split to show.")
@click.option("--indices", default=None, help="Samples to show, e.g. 0,3 (default: 3 spread).")
@click.option("--random", "random_count", type=int, default=None, metavar="N",
              help="Show N samples drawn at random (with --seed).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --random.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("preview.png"),
              show_default=True, help="The PNG file to write.")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def view(dataset, split, indices, random_count, seed, out, overwrite):
    """Draw samples of a dataset as a PNG grid: the mosaic in false colour and as grey RAW,
    the clean image, the target and a zoom of the CFA tiles, captioned with the pattern,
    the noise and each sample's metadata."""
    from cfasim.data.view import write_view

    chosen = parse_index_list(indices) if indices is not None else None
    written = write_view(dataset, out, split, chosen, random_count, seed, overwrite)
    click.echo(f"wrote {written}")
