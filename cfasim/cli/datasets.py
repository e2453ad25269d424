"""``cfasim info``, ``validate``, ``export-dng`` and ``patterns``: looking at datasets and CFAs."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click

from cfasim.cli.group import PATH_OR_URL, main
from cfasim.errors import DatasetError
from cfasim.store.info import describe, info_record

JSON_HELP = "Print the result as one JSON object on stdout (keys: docs/cli.md)."


def echo_json(data: dict) -> None:
    """``data`` as indented JSON on stdout (NaN written as null: valid JSON)."""
    click.echo(json.dumps(_finite(data), indent=2, sort_keys=False, allow_nan=False))


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@main.command()
@click.argument("path", type=PATH_OR_URL)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def info(path, as_json):
    """Print pattern, splits, shapes, noise and sizes on disk of a dataset."""

    try:
        if as_json:
            echo_json(info_record(path))
        else:
            click.echo(describe(path))
    except DatasetError as err:
        raise click.ClickException(str(err)) from None


@main.command()
@click.argument("path", type=PATH_OR_URL)
@click.option("--no-decode", is_flag=True, help="Skip decoding every shard (faster).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP + " Exit status 1 when not ok.")
def validate(path, no_decode, as_json):
    """Check a dataset: format, every shard present and readable, checksums, metadata."""
    from cfasim.store.validate import validate as run_validation

    report = run_validation(path, decode=not no_decode)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.format())
    if not report.ok:
        sys.exit(1)


@main.command("export-dng")
@click.argument("dataset_path", metavar="DATASET", type=click.Path(path_type=Path))
@click.argument("out_dir", metavar="OUTDIR", type=click.Path(path_type=Path))
@click.option("--split", default="test", show_default=True, help="Split to export from.")
@click.option("--indices", default=":", show_default=True, help="Python slice, e.g. 0:10 or 3.")
@click.option("--overwrite", is_flag=True, help="Replace DNG files of the same names in OUTDIR.")
def export_dng_command(dataset_path, out_dir, split, indices, overwrite):
    """Write samples of a dataset as DNG files (CFA pattern, levels, colour matrix, neutral)."""
    from cfasim.data.dng import export_dng

    paths = export_dng(dataset_path, split, indices, out_dir, overwrite=overwrite)
    click.echo(f"wrote {len(paths)} DNG file(s) to {out_dir}")


@main.command()
def patterns():
    """List the built-in CFA patterns."""
    from cfasim.cfa import BLOCK_SIZES, PHASES, CFAPattern

    for name, b in BLOCK_SIZES.items():
        p = CFAPattern.block_bayer(b)
        click.echo(
            f"{name:<6} {2 * b}x{2 * b} tile, {b}x{b} blocks, phases {', '.join(PHASES)}: "
            f"{p.to_dict()['tile_text']}"
        )
