"""The ``cfasim`` command line: one module per command group, each command a thin call into the
library. A :class:`~cfasim.errors.CfasimError` from any command prints as one line."""

from cfasim.cli import datasets, evaluate, generate, publish, sensors, train, weights  # noqa: F401
from cfasim.cli.group import main

__all__ = ["main"]
