"""The preview grid of a split: one row per sample, PNG bytes (``cfasim view``, the card's
``preview.png``).

Columns: the mosaic in false colour, the mosaic as grey RAW, the clean image rendered for
display (when the store has a ``clean`` array), the target, and a nearest-neighbour zoom of
whole CFA tiles of the false-colour mosaic (:mod:`cfasim.viz.panels`). A header names the
store, the split, the CFA, the noise and the RAW format; each row is captioned with its
sample's metadata (:mod:`cfasim.viz.captions`).

The layout is fixed (:data:`DPI`, sizes in 1/8 inch): a grid of ``n`` rows is always
:func:`figure_pixels` ``(n)`` pixels and the same samples give the same PNG bytes on one
machine (no ``Software`` tag). Glyphs come from matplotlib's own font, so other matplotlib or
FreeType versions may draw the text differently. matplotlib (the Agg canvas, never pyplot) is
imported only when a grid is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import imagecodecs
import numpy as np

from cfasim.cfa import CFAPattern
from cfasim.errors import ConfigError
from cfasim.isp.steps import UnprocessParams
from cfasim.store.fs import StoreFS
from cfasim.store.schema import DATA_ARRAYS, SPLITS, has_isp_params
from cfasim.store.shard_files import ShardedArray
from cfasim.store.status import open_store
from cfasim.viz import captions, panels

DPI = 96
"""Resolution of the PNG: 12 pixels per layout unit of 1/8 inch."""
UNIT_PX = DPI // 8
PANEL = 14
"""Side of one picture, in layout units (168 pixels)."""
GAP = 1
HEADER = 7
"""Header: store and split, CFA, noise, RAW format (four lines)."""
TITLES = 2
"""Column titles above the first row."""
CAPTION = 4
"""Two caption lines below each row."""
COLUMNS = (
    "mosaic, false colour",
    "mosaic, grey RAW",
    "clean, rendered",
    "target",
    "zoom (nearest)",
)
FONT_PT = {"header": 10.5, "title": 10.0, "caption": 9.0, "note": 9.0}
TEXT_COLOURS = {"header": "black", "title": "black", "caption": "0.15", "note": "0.35"}
MISSING_GREY = 235
"""Grey level of the panel of a missing picture (no clean array)."""
CARD_SAMPLES = 3
"""Samples in a dataset card's preview (and ``cfasim view`` without a choice)."""
MAX_SAMPLES = 16
"""Most rows of one grid."""


@dataclass
class PreviewSample:
    """What one row shows: the sample's arrays and its metadata.

    Attributes
    ----------
    index : int
        Index in the split.
    raw : numpy.ndarray
        (H, W) RAW codes.
    black, white : float
        The sample's black and white levels (DN).
    target : numpy.ndarray
        (sH, sW, 3) uint8 sRGB target.
    clean : numpy.ndarray or None
        (H, W, 3) noise-free linear camera RGB, when stored.
    params : UnprocessParams or None
        The sample's ISP (None for captured pairs).
    meta : dict
        Per-sample metadata arrays (name -> value), for the caption.
    """

    index: int
    raw: np.ndarray
    black: float
    white: float
    target: np.ndarray
    clean: np.ndarray | None = None
    params: object = None
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Which samples


def choose_indices(
    count: int,
    indices: list[int] | None = None,
    random: int | None = None,
    seed: int = 0,
    default: int = CARD_SAMPLES,
) -> list[int]:
    """The samples of a split to show.

    Parameters
    ----------
    count : int
        Samples in the split.
    indices : list of int, optional
        Chosen samples (kept in the given order); excludes ``random``.
    random : int, optional
        Draw this many distinct samples (sorted) with ``numpy.random.default_rng(seed)``.
    seed : int
        Seed of ``random``.
    default : int
        Without a choice: this many samples evenly spaced from the first to the last.

    Returns
    -------
    list of int

    Raises
    ------
    cfasim.errors.ConfigError
        Both choices given, an index out of range, too many or too few samples asked for.
    """
    if count < 1:
        raise ConfigError("the split has no samples to show")
    if indices is not None and random is not None:
        raise ConfigError("choose samples by indices or at random, not both")
    if indices is not None:
        bad = [i for i in indices if not 0 <= int(i) < count]
        if bad:
            raise ConfigError(
                f"index {bad[0]} is out of range: the split has {count} samples "
                f"(valid 0..{count - 1})"
            )
        chosen = [int(i) for i in indices]
    elif random is not None:
        if not 1 <= random <= count:
            raise ConfigError(f"cannot draw {random} samples from a split of {count}")
        rng = np.random.default_rng(seed)
        chosen = sorted(int(i) for i in rng.choice(count, size=random, replace=False))
    else:
        k = min(default, count)
        chosen = sorted({round(float(v)) for v in np.linspace(0, count - 1, k)})
    if not 1 <= len(chosen) <= MAX_SAMPLES:
        raise ConfigError(f"a preview shows 1 to {MAX_SAMPLES} samples, not {len(chosen)}")
    return chosen


def sample_params(arrays: dict, config: dict) -> UnprocessParams | None:
    """The ISP of one sample from its stored arrays (``xyz2cam``, ``wb_gains``,
    ``digital_gain``) and the store's config (transfer, tone); None for captured pairs."""
    if not has_isp_params(config):
        return None
    wb = arrays["wb_gains"]
    return UnprocessParams(
        np.asarray(arrays["xyz2cam"]),
        float(wb[0]),
        float(wb[2]),
        float(arrays["digital_gain"]),
        config["transfer"],
        bool(config["tone"]),
    )


def read_samples(split, indices: list[int], attrs: dict) -> list[PreviewSample]:
    """Read the samples to show.

    Parameters
    ----------
    split
        ``split[i]`` -> dict of the sample's arrays (a :class:`cfasim.data.reader.Split`, or
        :class:`GroupSplit` of a finalizing store).
    indices : list of int
        Samples to read.
    attrs : dict
        The store's root attributes (``attrs["cfasim"]``): ``config`` and ``raw_format``.
    """
    fmt, config = attrs["raw_format"], attrs["config"]
    out = []
    for i in indices:
        arrays = split[i]
        meta = {k: v for k, v in arrays.items() if k not in DATA_ARRAYS}
        out.append(
            PreviewSample(
                index=i,
                raw=arrays["raw"],
                black=float(meta.get("black_level", fmt["black"])),
                white=float(meta.get("white_level", fmt["white"])),
                target=arrays["target"],
                clean=arrays.get("clean"),
                params=sample_params(arrays, config),
                meta=meta,
            )
        )
    return out


class GroupSplit:
    """One split group of a store read without :func:`cfasim.open_dataset`: ``len()`` and
    ``split[i]`` -> dict of the sample's arrays (what :func:`read_samples` needs; the card's
    preview is drawn while the store is ``finalizing``, before ``open_dataset`` opens it).
    Data arrays are read from their shard files
    (:class:`~cfasim.store.shard_files.ShardedArray`) where the layout allows, metadata
    arrays whole, once: a few milliseconds per sample instead of one zarr read per array."""

    def __init__(self, group, fs: StoreFS, split: str):
        self.group = group
        self.count = int(group.attrs.get("count", 0))
        self._meta: dict[str, np.ndarray] = {}
        self._data = {}
        for name in sorted(group.array_keys()):
            arr = group[name]
            reader = None
            if name in DATA_ARRAYS:
                reader = ShardedArray.for_array(arr.metadata.to_dict(), fs, f"{split}/{name}")
            self._data[name] = reader or arr

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> dict:
        out = {}
        for name, source in self._data.items():
            if isinstance(source, ShardedArray):
                out[name] = np.array(source.sample(i))
            elif name in DATA_ARRAYS:
                out[name] = np.asarray(source[i])
            else:
                if name not in self._meta:
                    self._meta[name] = np.asarray(source[...])
                out[name] = self._meta[name][i]
        return out


# ---------------------------------------------------------------------------------------------
# The grid


def figure_units(rows: int) -> tuple[int, int]:
    """(width, height) of a grid of ``rows`` samples, in layout units of 1/8 inch."""
    width = len(COLUMNS) * PANEL + (len(COLUMNS) + 1) * GAP
    return width, HEADER + TITLES + rows * (PANEL + CAPTION + GAP)


def figure_pixels(rows: int) -> tuple[int, int]:
    """(width, height) in pixels of the PNG of a grid of ``rows`` samples."""
    w, h = figure_units(rows)
    return w * UNIT_PX, h * UNIT_PX


def panel_box(row: int, column: int, rows: int) -> tuple[int, int, int, int]:
    """Pixel box ``(top, left, height, width)`` of one picture in the PNG (row 0 at the top)."""
    top = (HEADER + TITLES + row * (PANEL + CAPTION + GAP)) * UNIT_PX
    left = (GAP + column * (PANEL + GAP)) * UNIT_PX
    return top, left, PANEL * UNIT_PX, PANEL * UNIT_PX


def row_pictures(sample: PreviewSample, pattern: CFAPattern) -> list[np.ndarray | None]:
    """The five uint8 RGB pictures of one row at their own size (None: no clean array)."""
    colour = panels.false_colour(sample.raw, pattern, sample.black, sample.white)
    grey = panels.grey_raw(sample.raw, sample.black, sample.white)
    clean = None
    if sample.clean is not None:
        clean = panels.to_uint8(panels.clean_display(sample.clean, sample.params))
    return [
        panels.to_uint8(colour),
        panels.to_uint8(np.repeat(grey[..., None], 3, axis=-1)),
        clean,
        np.asarray(sample.target, dtype=np.uint8),
        panels.to_uint8(panels.zoom_crop(colour, pattern)),
    ]


def compose_grid(rows: list[list[np.ndarray | None]], base: np.ndarray | None = None) -> np.ndarray:
    """The pictures of the grid placed pixel for pixel: every picture fitted into its
    :func:`panel_box` (:func:`cfasim.viz.panels.fit_square`) over ``base``, the (H, W, 3)
    uint8 text layer of :func:`figure_pixels` size (default: white); a missing picture leaves
    ``base`` as it is there (its note).

    Returns
    -------
    numpy.ndarray
        (H, W, 3) uint8, a new array.
    """
    w_px, h_px = figure_pixels(len(rows))
    if base is None:
        canvas = np.full((h_px, w_px, 3), 255, dtype=np.uint8)
    else:
        canvas = np.array(base[..., :3], dtype=np.uint8)
        if canvas.shape != (h_px, w_px, 3):
            raise ValueError(f"the text layer is {canvas.shape}, the grid {(h_px, w_px, 3)}")
    for r, pictures in enumerate(rows):
        for c, picture in enumerate(pictures):
            if picture is not None:
                top, left, h, w = panel_box(r, c, len(rows))
                canvas[top : top + h, left : left + w] = panels.fit_square(picture, h)
    return canvas


def text_items(samples: list[PreviewSample], pattern: CFAPattern, header: list[str]):
    """The texts of the grid: ``(x_px, y_px, text, kind, ha, va)`` each, in pixels from
    the top-left corner (header, column titles, the note of a missing clean array, captions)."""
    rows = len(samples)
    zoom = panels.zoom_tiles(pattern)
    py, px = pattern.period
    side = f"{zoom * py}" if py == px else f"{zoom * py}x{zoom * px}"
    titles = [*COLUMNS[:-1], f"zoom, {zoom}x{zoom} tiles ({side} px)"]
    items = [(GAP * UNIT_PX, UNIT_PX // 2, "\n".join(header), "header", "left", "top")]
    for c, title in enumerate(titles):
        top, left, _, size = panel_box(0, c, rows)
        items.append((left + size // 2, top - 8, title, "title", "center", "baseline"))
    for r, sample in enumerate(samples):
        if sample.clean is None:
            top, left, size, _ = panel_box(r, 2, rows)
            middle = (left + size // 2, top + size // 2)
            items.append((*middle, "no clean array", "note", "center", "center"))
        top, left, size, _ = panel_box(r, 0, rows)
        lines = captions.sample_caption(sample.index, sample.meta)
        items.append((left, top + size + 4, "\n".join(lines), "caption", "left", "top"))
    return items


def header_lines(title: str, attrs: dict, pattern: CFAPattern) -> list[str]:
    """The four header lines: ``title``, the CFA, the noise, the RAW format and ISP."""
    return [
        title,
        captions.pattern_caption(pattern),
        captions.noise_caption(attrs),
        captions.format_caption(attrs),
    ]


def draw_preview(samples: list[PreviewSample], pattern: CFAPattern, header: list[str]) -> bytes:
    """The grid of ``samples`` as PNG bytes (:func:`figure_pixels` in size, RGB).

    The pictures are placed pixel for pixel (:func:`compose_grid`); matplotlib's Agg canvas
    draws only the text over them.

    Parameters
    ----------
    samples : list of PreviewSample
        One row each (:func:`read_samples`).
    pattern : CFAPattern
        The dataset's CFA.
    header : list of str
        Lines above the grid (:func:`header_lines`).

    Returns
    -------
    bytes
        A PNG without time or software tags.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w_px, h_px = figure_pixels(len(samples))
    fig = Figure(figsize=(w_px / DPI, h_px / DPI), dpi=DPI, facecolor="white")
    agg = FigureCanvasAgg(fig)
    for x, top, text, kind, ha, va in text_items(samples, pattern, header):
        fig.text(x / w_px, 1 - top / h_px, text, ha=ha, va=va, fontsize=FONT_PT[kind],
                 linespacing=1.3, color=TEXT_COLOURS[kind])  # fmt: skip
    for r, sample in enumerate(samples):  # the grey panel behind "no clean array"
        if sample.clean is None:
            top, left, h, w = panel_box(r, 2, len(samples))
            fig.add_artist(_panel_patch(top, left, h, w, w_px, h_px))
    agg.draw()
    text_layer = np.asarray(agg.buffer_rgba())
    pictures = [row_pictures(s, pattern) for s in samples]
    canvas = compose_grid(pictures, text_layer)
    return imagecodecs.png_encode(canvas, level=3)  # the PNG encoder cfasim uses everywhere


def _panel_patch(top, left, h, w, w_px, h_px):
    from matplotlib.patches import Rectangle

    grey = MISSING_GREY / 255
    return Rectangle((left / w_px, 1 - (top + h) / h_px), w / w_px, h / h_px,
                     facecolor=(grey, grey, grey), edgecolor="none", zorder=-1)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# From a store


def preview_png(
    split,
    attrs: dict,
    *,
    name: str,
    split_name: str,
    indices: list[int] | None = None,
    random: int | None = None,
    seed: int = 0,
) -> bytes:
    """The preview grid of samples of one split, as PNG bytes.

    Parameters
    ----------
    split
        ``len(split)`` and ``split[i]`` -> dict of arrays (:func:`read_samples`).
    attrs : dict
        The store's root attributes (``attrs["cfasim"]``).
    name : str
        The store, for the first header line.
    split_name : str
        The split's name, for the header and messages.
    indices, random, seed
        Which samples (:func:`choose_indices`; default: 3 evenly spaced).

    Raises
    ------
    cfasim.errors.ConfigError
        Bad or out-of-range sample choices, an empty split.
    """
    count = len(split)
    try:
        chosen = choose_indices(count, indices, random, seed)
    except ConfigError as err:
        raise ConfigError(f"split {split_name!r} of {name}: {err}") from None
    plural = "s" if len(chosen) > 1 else ""
    heading = (
        f"{name}: split {split_name} ({count} samples), "
        f"sample{plural} {', '.join(str(i) for i in chosen)}"
    )
    pattern = CFAPattern.from_dict(attrs["pattern"])
    samples = read_samples(split, chosen, attrs)
    return draw_preview(samples, pattern, header_lines(heading, attrs, pattern))


def card_preview(path) -> bytes | None:
    """The dataset card's preview of a finalizing (or complete) store: :data:`CARD_SAMPLES`
    evenly spaced samples of the first split that has samples, titled by the store's content
    (not its folder), so identical stores get identical bytes; None for a store without
    samples."""
    root, attrs = open_store(path, finalizing=True)
    for split in SPLITS:
        if split in root and int(root[split].attrs.get("count", 0)):
            name = _content_name(attrs)
            group = GroupSplit(root[split], StoreFS(path), split)
            return preview_png(group, attrs, name=name, split_name=split)
    return None


def _content_name(attrs: dict) -> str:
    pattern = str(attrs["pattern"]["name"])
    return f"cfasim {pattern}, {sum(attrs['splits'].values())} samples, seed {attrs['seed']}"
