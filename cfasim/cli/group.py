"""The ``cfasim`` command group: one-line errors, logging (``-v`` / ``-q``), shared parameter
types."""

from __future__ import annotations

import importlib.util
import logging
import sys
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


class _BarSafeHandler(logging.Handler):
    """Log records to the current stderr through ``tqdm.write``, so a progress bar on stderr
    is redrawn below the message instead of being broken by it."""

    def emit(self, record):
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never crash a command
            self.handleError(record)


def configure_logging(verbose: int = 0, quiet: bool = False) -> logging.Logger:
    """Set up the ``cfasim`` logger for a command: INFO to stderr by default, DEBUG with
    ``verbose`` (and the logger names), WARNING with ``quiet`` (which also hides progress
    bars, :mod:`cfasim.progress`). Replaces the handler a previous call installed."""
    logger = logging.getLogger("cfasim")
    for handler in [h for h in logger.handlers if isinstance(h, _BarSafeHandler)]:
        logger.removeHandler(handler)
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = _BarSafeHandler()
    pattern = "%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s"
    handler.setFormatter(logging.Formatter(pattern))
    logger.addHandler(handler)
    logger.setLevel(level)
    return logger


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cfasim")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log messages on stderr (debug details, e.g. per-sample scores).",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Only warnings and errors on stderr; no progress bars.",
)
def main(verbose, quiet):
    """cfasim: simulated camera RAW for Bayer, Quad, Nona and QxQ colour filter arrays.

    Log messages and progress bars go to stderr; results and --json to stdout.
    """
    if verbose and quiet:
        raise click.UsageError("-v/--verbose and -q/--quiet exclude each other")
    configure_logging(verbose, quiet)


def require_torch(command: str):
    """A one-line error unless PyTorch is installed (the ``train`` extra)."""
    if importlib.util.find_spec("torch") is None:  # looked up, not imported
        raise click.ClickException(
            f"cfasim {command} needs PyTorch: pip install '{DISTRIBUTION}[train]' (on a CPU-only "
            "machine first: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        )
