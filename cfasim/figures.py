"""Paper-ready matplotlib output: sizes of a journal column, fonts readable there, and the same
figure written as PNG, PDF and SVG.

A figure drawn at :data:`COLUMN_WIDTH_IN` (one column of a two-column IEEE / CVPR page) or
:data:`TEXT_WIDTH_IN` (both columns) with :func:`paper_style` prints its text at
:data:`FONT_PT` points when included at that width (``\\includegraphics[width=\\columnwidth]``),
so nothing has to be scaled down. :func:`save_figure` writes every format with fixed metadata
(no dates, no software string, a fixed SVG hash salt): the same figure gives the same bytes.
PDF embeds TrueType fonts (``pdf.fonttype`` 42, editable text); SVG keeps text as text.

matplotlib is imported only inside these functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

COLUMN_WIDTH_IN = 3.5
"""Width of one column of a two-column paper (IEEE 3.5 in, CVPR 3.25 in), in inches."""
TEXT_WIDTH_IN = 7.0
"""Width of the text block of a two-column paper (IEEE 7.16 in, CVPR 6.875 in), in inches."""
FONT_PT = 8
"""Font size of labels and ticks, in points at the printed size (captions are 9-10 pt)."""
FORMATS = ("png", "pdf", "svg")
"""Formats :func:`save_figure` can write."""
PNG_DPI = 300
"""Resolution of PNG output of vector-style figures (plots)."""
_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
    "svg": {"Creator": None, "Date": None},
}


def paper_rc() -> dict:
    """The matplotlib rcParams of :func:`paper_style`."""
    return {
        "font.size": FONT_PT,
        "axes.titlesize": FONT_PT,
        "axes.labelsize": FONT_PT,
        "xtick.labelsize": FONT_PT - 1,
        "ytick.labelsize": FONT_PT - 1,
        "legend.fontsize": FONT_PT - 1,
        "axes.linewidth": 0.6,
        "lines.linewidth": 1.0,
        "lines.markersize": 3.5,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "svg.fonttype": "none",
        "svg.hashsalt": "cfasim",
        "savefig.bbox": None,  # the figure's own size: what was designed is what is printed
    }


@contextmanager
def paper_style():
    """Context in which new figures use :func:`paper_rc` (matplotlib's Agg backend)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    with matplotlib.rc_context(paper_rc()):
        yield


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"png,pdf"`` (or a list) -> ``("png", "pdf")``; an unknown format is a ValueError that
    names the known ones."""
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = tuple(dict.fromkeys(f.strip().lower().lstrip(".") for f in items if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"unknown figure format(s) {', '.join(unknown) or '(none given)'}: choose from "
            f"{', '.join(FORMATS)}"
        )
    return formats


def save_figure(fig, stem, formats: Iterable[str] = ("png",), dpi: float = PNG_DPI) -> list[Path]:
    """Write ``fig`` as ``stem.png``, ``stem.pdf``, ``stem.svg`` (those of ``formats``) with
    fixed metadata; return the paths written.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, at its printed size.
    stem : str or os.PathLike
        Path without suffix (a suffix given is replaced).
    formats : iterable of str
        Some of :data:`FORMATS`.
    dpi : float
        Resolution of the PNG (and of raster images inside PDF/SVG).
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in parse_formats(formats):
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
        paths.append(path)
    return paths
