"""The ``cfasim`` command group: one-line errors, shared parameter types."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from cfasim import DISTRIBUTION, __version__
from cfasim.errors import CfasimError
from cfasim.store.fs import is_url


class PathOrURL(click.ParamType):
    """A local path (as a Path) or an fsspec URL such as s3://bucket/x.zarr (kept as text)."""

    name = "PATH|URL"

    def convert(self, value, param, ctx):
        if isinstance(value, Path) or is_url(value):
            return value
        return Path(value)


PATH_OR_URL = PathOrURL()


class _Commands(click.Group):
    """The command group: a :class:`~cfasim.errors.CfasimError` from any command is a user
    error, printed as one line (exit 1); anything else is a bug and keeps its traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CfasimError as err:
            raise click.ClickException(str(err)) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cfasim")
def main():
    """cfasim: simulated camera RAW for Bayer, Quad, Nona and QxQ colour filter arrays."""


def require_torch(command: str):
    """A one-line error unless PyTorch is installed (the ``train`` extra)."""
    if importlib.util.find_spec("torch") is None:  # looked up, not imported
        raise click.ClickException(
            f"cfasim {command} needs PyTorch: pip install '{DISTRIBUTION}[train]' (on a CPU-only "
            "machine first: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        )
