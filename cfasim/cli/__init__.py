"""The ``cfasim`` command line: one module per command group, each command a thin call into the
library. A :class:`~cfasim.errors.CfasimError` from any command prints as one line."""

from cfasim.cli import (  # noqa: F401
    datasets,
    evaluate,
    generate,
    publish,
    sensors,
    train,
    view,
    weights,
)
from cfasim.cli.group import main

__all__ = ["main"]
