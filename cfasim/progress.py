"""Progress bars: tqdm on stderr, shown on a terminal, hidden by ``cfasim -q``.

A bar never writes to stdout, so machine-readable output (``--json``, tables) stays clean.
Whether a bar shows when nobody asked (``enabled=None``): stderr is a terminal and the
``cfasim`` logger is not set above INFO (``cfasim -q`` sets it to WARNING).
"""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "cfasim"


def bars_wanted(file=None) -> bool:
    """True when a progress bar should show by default: ``file`` (stderr) is a terminal and
    the ``cfasim`` logger has not been quieted above INFO (``cfasim -q``)."""
    level = logging.getLogger(LOGGER_NAME).level  # 0: not set (the Python API default)
    quiet = level > logging.INFO
    stream = sys.stderr if file is None else file
    return not quiet and bool(getattr(stream, "isatty", lambda: False)())


def progress_bar(iterable=None, *, desc: str, total=None, unit="it", enabled=None, file=None):
    """A tqdm bar on stderr (ETA, rate; set its postfix for the current loss or PSNR).

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over (else call ``update``).
    desc : str
        Label at the start of the bar, e.g. ``"train"``.
    total : int, optional
        Number of steps (default: ``len(iterable)`` where it has one).
    unit : str
        Name of one step.
    enabled : bool, optional
        Force the bar on or off; None: :func:`bars_wanted`.
    file : file-like, optional
        Where the bar goes (default: stderr, looked up now).

    Returns
    -------
    tqdm.tqdm
    """
    from tqdm import tqdm

    stream = sys.stderr if file is None else file
    show = bars_wanted(stream) if enabled is None else enabled
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        unit=unit,
        disable=not show,
        file=stream,
        dynamic_ncols=True,
        leave=False,
    )
