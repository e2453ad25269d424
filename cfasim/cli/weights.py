"""``cfasim import-weights``: public PyNET / PyNET-QxQ weights as a cfasim checkpoint (PyTorch
imported when the command runs)."""

from __future__ import annotations

from pathlib import Path

import click

from cfasim.cli.group import main, require_torch


@main.command("import-weights")
@click.argument("family", type=click.Choice(["pynet", "pynet_qxq"]))
@click.argument("weights", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
def import_weights_command(family, weights, out):
    """Map a public checkpoint (aiff22/PyNET-PyTorch or Minhyeok01/PyNET-QxQ) onto cfasim's
    model and write OUT, an ordinary checkpoint for evaluate, process-raw, export or --teacher.
    The file is read with weights_only=True: it can never run code."""
    require_torch("import-weights")
    from cfasim.train.import_weights import import_weights

    if out.exists():
        raise click.ClickException(f"{out} already exists; choose another OUT")
    if not out.absolute().parent.is_dir():
        raise click.UsageError(f"OUT {out}: the folder {out.parent} does not exist")
    path = import_weights(family, weights, out)
    click.echo(f"wrote {path} ({family}, public input convention recorded)")
