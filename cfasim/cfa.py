"""Colour filter array (CFA) patterns: Bayer, Quad, Nona, QxQ and user tiles.

A pattern is a small integer tile of colour indices (0 = R, 1 = G, 2 = B, 3 = W) repeated over
the sensor. Block patterns are a 2x2 Bayer arrangement of b x b blocks of one colour (period 2b):
the built-ins Bayer, Quad, Nona, QxQ are b = 1, 2, 3, 4, and any other block size is named
``blockN`` (``block5:rggb``). Their *phase* names the colours of the four blocks in raster order
(``rggb``, ``grbg``, ``gbrg``, ``bggr``).

Every tile must fit :data:`MAX_PERIOD` rows and columns (block sizes up to :data:`MAX_BLOCK`);
larger ones raise :class:`cfasim.errors.ConfigError` when the pattern is made. DNG export has
its own, lower limit (:data:`cfasim.data.dng.MAX_CFA_PATTERN`).

Mosaics are NumPy arrays whose last two axes are (y, x); leading axes (batch) are allowed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cfasim.errors import ConfigError

COLOR_LETTERS = "RGBW"
"""Colour letters a tile may use, in colour-index order (R=0, G=1, B=2, W=3)."""

PHASES = ("rggb", "grbg", "gbrg", "bggr")
BLOCK_SIZES = {"bayer": 1, "quad": 2, "nona": 3, "qxq": 4}
"""Built-in block patterns: name -> block size b (period 2b)."""
BLOCK_NAME = re.compile(r"block(\d+)")
"""Name of a block pattern of any size b: ``blockN`` (``block5``); the built-in sizes 1-4 keep
their own names (``block2`` is accepted and is ``quad``)."""

MAX_PERIOD = 32
"""Largest tile period, in rows and in columns. Why 32: every kernel indexes the tile modulo its
period and has no limit of its own, but the cost grows with it: ``s2d`` packing makes py*px input
channels (1024 at 32x32, 4096 with masks), the ``tent`` baseline's filter spans 2 periods, and
image sizes must be multiples of the period (the default patch, 288, is a multiple of 32).
Block patterns therefore go up to b = 16 (:data:`MAX_BLOCK`)."""
MAX_BLOCK = MAX_PERIOD // 2
"""Largest block size of a block pattern (period 2b <= :data:`MAX_PERIOD`)."""
_LABEL_LENGTH = 48
"""Longest :attr:`CFAPattern.label` kept as the full name."""
_NAMES_HELP = f"{', '.join(BLOCK_SIZES)}, blockN (N = 1..{MAX_BLOCK})"
"""The pattern names, for error messages."""

PLANE_ORDERS = ("raster", "pynet")
"""Channel orders of :meth:`CFAPattern.pack_planes`: block positions in raster order
(top-left, top-right, bottom-left, bottom-right), or PyNET's (B, G1, R, G2) order."""


@dataclass(frozen=True, eq=False)
class CFAPattern:
    """A periodic colour filter array.

    Parameters
    ----------
    tile_rows
        The tile as a tuple of rows of colour indices (0=R, 1=G, 2=B, 3=W).
    name
        Canonical name: ``"nona:rggb"`` for built-ins, the tile text for user tiles.
    block
        Block size b for block-Bayer patterns (Bayer, Quad, Nona, QxQ), else ``None``.
    """

    tile_rows: tuple[tuple[int, ...], ...]
    name: str
    block: int | None = None

    def __post_init__(self) -> None:
        check_period(len(self.tile_rows), len(self.tile_rows[0]) if self.tile_rows else 0)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_tile(cls, tile, name: str | None = None) -> CFAPattern:
        """Pattern from a 2-D integer array of colour indices; checks it, detects block layout."""
        arr = np.asarray(tile)
        if arr.ndim != 2 or arr.size == 0:
            raise ValueError(f"a CFA tile must be a non-empty 2-D array, got shape {arr.shape}")
        check_period(*arr.shape)
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError("a CFA tile must hold integer colour indices (0=R, 1=G, 2=B, 3=W)")
        bad = sorted(set(arr.ravel().tolist()) - set(range(len(COLOR_LETTERS))))
        if bad:
            raise ValueError(f"unknown colour indices {bad} in CFA tile (use 0=R, 1=G, 2=B, 3=W)")
        missing = [COLOR_LETTERS[c] for c in range(3) if not (arr == c).any()]
        if missing:
            raise ValueError(f"CFA tile {_short_text(arr)} has no {', '.join(missing)} pixel")
        rows = tuple(tuple(int(v) for v in row) for row in arr)
        block = _block_size(arr)
        if name is None and block is not None:
            return cls.block_bayer(block, _block_phase(arr, block))
        return cls(rows, name or tile_text(arr), block)

    @classmethod
    def block_bayer(cls, block: int, phase: str = "rggb") -> CFAPattern:
        """Bayer arrangement of ``block`` x ``block`` same-colour blocks in the given phase."""
        phase = phase.lower()
        if phase not in PHASES:
            raise ValueError(f"unknown Bayer phase {phase!r}; choose one of {', '.join(PHASES)}")
        if block < 1:
            raise ValueError(f"block size must be >= 1, got {block}")
        if block > MAX_BLOCK:
            raise ConfigError(
                f"block size {block} (period {2 * block}x{2 * block}) is over the limit: "
                f"block sizes go up to {MAX_BLOCK} (tile period <= {MAX_PERIOD}x{MAX_PERIOD})"
            )
        quad = np.array([COLOR_LETTERS.index(c.upper()) for c in phase]).reshape(2, 2)
        tile = np.kron(quad, np.ones((block, block), dtype=int))
        rows = tuple(tuple(int(v) for v in row) for row in tile)
        return cls(rows, f"{block_pattern_name(block)}:{phase}", block)

    # -- geometry ------------------------------------------------------------------------------

    @cached_property
    def tile(self) -> np.ndarray:
        """The tile as a read-only (period_y, period_x) int8 array."""
        arr = np.array(self.tile_rows, dtype=np.int8)
        arr.flags.writeable = False
        return arr

    @property
    def period(self) -> tuple[int, int]:
        """Tile shape (rows, columns)."""
        return self.tile.shape

    @property
    def label(self) -> str:
        """The name, shortened for messages: a long tile text (a large user tile) becomes its
        size and first rows, e.g. ``"10x10 tile RGBGRBBGRG/GRBRGBBGRG/RG..."``."""
        if len(self.name) <= _LABEL_LENGTH:
            return self.name
        py, px = self.period
        return f"{py}x{px} tile {self.name[:24]}..."

    @property
    def colors(self) -> str:
        """Letters of the colours present, in index order, e.g. ``"RGB"``."""
        return "".join(COLOR_LETTERS[c] for c in sorted(set(self.tile.ravel().tolist())))

    @property
    def phase(self) -> str | None:
        """Block-level Bayer phase of a block pattern (``"rggb"``...), else ``None``."""
        if self.block is None:
            return None
        return _block_phase(self.tile, self.block)

    def color_index(self, height: int, width: int) -> np.ndarray:
        """(height, width) int8 map of the colour index at each pixel."""
        py, px = self.period
        reps = (-(-height // py), -(-width // px))
        return np.tile(self.tile, reps)[:height, :width]

    def masks(self, height: int, width: int) -> np.ndarray:
        """(height, width, 3) boolean masks of the R, G and B sites."""
        idx = self.color_index(height, width)
        return np.stack([idx == c for c in range(3)], axis=-1)

    def check_shape(self, height: int, width: int) -> None:
        """Raise ValueError unless height and width are positive multiples of the period."""
        py, px = self.period
        if height <= 0 or width <= 0 or height % py or width % px:
            raise ValueError(
                f"image size {height}x{width} is not a multiple of the {self.label} period "
                f"{py}x{px}"
            )

    # -- mosaic ---------------------------------------------------------------------------------

    def mosaic(self, rgb: np.ndarray) -> np.ndarray:
        """Sample an (..., H, W, 3) image onto the CFA: (..., H, W).

        W sites (if any) take the mean of the three channels.
        """
        rgb = np.asarray(rgb)
        if rgb.ndim < 3 or rgb.shape[-1] != 3:
            raise ValueError(f"expected an (..., H, W, 3) image, got shape {rgb.shape}")
        idx = self.color_index(*rgb.shape[-3:-1])
        pick = np.broadcast_to(np.minimum(idx, 2)[..., None], (*rgb.shape[:-1], 1))
        out = np.take_along_axis(rgb, pick.astype(np.intp), axis=-1)[..., 0]
        if (idx == 3).any():
            white = rgb.mean(axis=-1).astype(rgb.dtype)
            out = np.where(idx == 3, white, out)
        return out

    # -- packing --------------------------------------------------------------------------------

    def space_to_depth(self, mosaic: np.ndarray) -> np.ndarray:
        """Full space-to-depth by period: (..., H, W) -> (..., H/py, W/px, py*px).

        Channel ``k = dy * px + dx`` holds the pixels at offset (dy, dx) inside each tile.
        """
        *lead, h, w = mosaic.shape
        self.check_shape(h, w)
        py, px = self.period
        x = mosaic.reshape(*lead, h // py, py, w // px, px)
        x = np.moveaxis(x, -3, -2)  # (..., H/py, W/px, py, px)
        return x.reshape(*lead, h // py, w // px, py * px)

    def depth_to_space(self, packed: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`space_to_depth`."""
        py, px = self.period
        *lead, hp, wp, c = packed.shape
        if c != py * px:
            raise ValueError(f"expected {py * px} channels for {self.label}, got {c}")
        x = packed.reshape(*lead, hp, wp, py, px)
        x = np.moveaxis(x, -2, -3)
        return x.reshape(*lead, hp * py, wp * px)

    def plane_order(self, order: str = "raster") -> tuple[int, int, int, int]:
        """Block positions (0=top-left, 1=top-right, 2=bottom-left, 3=bottom-right) per plane."""
        self._require_block("pack into 4 planes")
        if order == "raster":
            return (0, 1, 2, 3)
        if order == "pynet":
            letters = self.phase.upper()
            greens = [i for i, c in enumerate(letters) if c == "G"]
            return (letters.index("B"), greens[0], letters.index("R"), greens[1])
        raise ValueError(f"unknown plane order {order!r}; choose one of {', '.join(PLANE_ORDERS)}")

    def plane_colors(self, order: str = "raster") -> str:
        """Colour letters of the planes of :meth:`pack_planes`, e.g. ``"RGGB"``."""
        return "".join(self.phase.upper()[p] for p in self.plane_order(order))

    def pack_planes(self, mosaic: np.ndarray, order: str = "raster") -> np.ndarray:
        """Block-wise packing into 4 planes: (..., H, W) -> (..., H/2, W/2, 4).

        Each plane gathers one of the four colour-block classes in raster order, so every b x b
        block stays contiguous (PyNET-QxQ's packing; plain 2x2 packing for Bayer).
        """
        b = self._require_block("pack into 4 planes")
        *lead, h, w = mosaic.shape
        self.check_shape(h, w)
        x = mosaic.reshape(*lead, h // (2 * b), 2, b, w // (2 * b), 2, b)
        # -> (..., by, b, bx, b, 2, 2): block row, in-block row, block col, in-block col, pos
        x = np.moveaxis(x, (-5, -2), (-2, -1))
        x = x.reshape(*lead, h // 2, w // 2, 4)
        return x[..., list(self.plane_order(order))]

    def unpack_planes(self, planes: np.ndarray, order: str = "raster") -> np.ndarray:
        """Inverse of :meth:`pack_planes`."""
        b = self._require_block("unpack 4 planes")
        *lead, hh, wh, c = planes.shape
        if c != 4 or hh % b or wh % b:
            raise ValueError(
                f"expected (..., H/2, W/2, 4) planes for {self.label}, got {planes.shape}"
            )
        inv = np.argsort(self.plane_order(order))
        x = planes[..., inv].reshape(*lead, hh // b, b, wh // b, b, 2, 2)
        x = np.moveaxis(x, (-2, -1), (-5, -2))
        return x.reshape(*lead, hh * 2, wh * 2)

    def bin_to_bayer(self, mosaic: np.ndarray, mode: str = "mean") -> tuple[np.ndarray, CFAPattern]:
        """Bin each b x b block to one pixel: (..., H, W) -> (..., H/b, W/b) Bayer mosaic.

        ``mode`` is ``"mean"`` (digital binning, float64 result) or ``"sum"`` (charge binning).
        Returns the binned mosaic and its Bayer pattern (same phase).
        """
        b = self._require_block("bin to Bayer")
        *lead, h, w = mosaic.shape
        self.check_shape(h, w)
        if mode not in ("mean", "sum"):
            raise ValueError(f"unknown binning mode {mode!r}; choose 'mean' or 'sum'")
        x = np.asarray(mosaic, dtype=np.float64).reshape(*lead, h // b, b, w // b, b)
        out = x.sum(axis=(-3, -1)) if mode == "sum" else x.mean(axis=(-3, -1))
        return out, CFAPattern.block_bayer(1, self.phase)

    def _require_block(self, what: str) -> int:
        if self.block is None:
            raise ValueError(f"cannot {what}: {self.label!r} is not a block-Bayer pattern")
        return self.block

    # -- serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """JSON-ready description (stored in every dataset)."""
        return {
            "name": self.name,
            "tile": [list(r) for r in self.tile_rows],
            "tile_text": tile_text(self.tile),
            "period": list(self.period),
            "block": self.block,
            "phase": self.phase,
            "color_letters": COLOR_LETTERS,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> CFAPattern:
        pattern = cls.from_tile(np.array(d["tile"]), name=d.get("name"))
        if d.get("block") is not None and pattern.block != d["block"]:
            raise ValueError(
                f"pattern JSON says block {d['block']} but the tile has {pattern.block}"
            )
        return pattern

    @classmethod
    def from_json(cls, text: str) -> CFAPattern:
        return cls.from_dict(json.loads(text))

    def __eq__(self, other) -> bool:
        return isinstance(other, CFAPattern) and self.tile_rows == other.tile_rows

    def __hash__(self) -> int:
        return hash(self.tile_rows)

    def __repr__(self) -> str:
        return f"CFAPattern({self.name!r}, period={self.period})"


def tile_text(tile) -> str:
    """Text form of a tile: rows of letters separated by '/', e.g. ``"RG/GB"``. A one-row tile
    ends with '/' (``"RGBG/"``), so that :func:`parse_tile` does not read it as a square."""
    rows = ["".join(COLOR_LETTERS[int(v)] for v in row) for row in np.asarray(tile)]
    return "/".join(rows) + ("/" if len(rows) == 1 else "")


def parse_tile(text: str) -> np.ndarray:
    """Parse tile text: rows separated by '/' (``"RRGG/RRGG/GGBB/GGBB"``), or one square row
    (``"RGGB"`` is 2x2). A trailing '/' ends the rows: ``"RGBG/"`` is one row, 1x4. Raises
    ValueError for ragged rows or unknown letters."""
    text = text.strip().upper()
    if not text:
        raise ValueError("empty CFA tile text")
    rows = text.split("/")
    if len(rows) > 1 and rows[-1] == "":
        rows = rows[:-1]
    elif len(rows) == 1:
        n = round(len(text) ** 0.5)
        if n * n != len(text):
            raise ValueError(
                f"CFA tile {_short(text)!r} has {len(text)} letters, not a square; separate rows "
                "with '/' (end a one-row tile with '/': 'RGB/')"
            )
        rows = [text[i * n : (i + 1) * n] for i in range(n)]
    lengths = {len(r) for r in rows}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            f"CFA tile {_short(text)!r} has ragged rows (lengths {[len(r) for r in rows]})"
        )
    unknown = sorted({c for r in rows for c in r} - set(COLOR_LETTERS))
    if unknown:
        raise ValueError(
            f"CFA tile {_short(text)!r} has unknown letters {unknown}; use "
            f"{', '.join(COLOR_LETTERS)}"
        )
    return np.array([[COLOR_LETTERS.index(c) for c in r] for r in rows], dtype=np.int8)


def get_pattern(spec: str | CFAPattern) -> CFAPattern:
    """Pattern from a name or tile text.

    Accepted: ``bayer``, ``quad``, ``nona``, ``qxq`` and ``blockN`` (any block size N, e.g.
    ``block5``), each with phase ``rggb`` or as ``NAME:PHASE`` (``qxq:grbg``, ``block5:bggr``); a
    bare Bayer phase (``rggb``); or tile text (``"RRGG/RRGG/GGBB/GGBB"``). Every
    :attr:`CFAPattern.name` is accepted and gives the same pattern back.

    Raises
    ------
    ValueError
        For an unknown name or phase, or bad tile text.
    cfasim.errors.ConfigError
        For a tile larger than :data:`MAX_PERIOD` (a ValueError too).
    """
    if isinstance(spec, CFAPattern):
        return spec
    s = spec.strip()
    low = s.lower()
    name, _, phase = low.partition(":")
    block = named_block_size(name)
    if block is not None:
        return CFAPattern.block_bayer(block, phase or "rggb")
    if low in PHASES:
        return CFAPattern.block_bayer(1, low)
    if ":" in s:
        raise ValueError(f"unknown CFA pattern {name!r}; choose one of {_NAMES_HELP}")
    try:
        tile = parse_tile(s)
    except ValueError as err:
        raise ValueError(
            f"unknown CFA pattern {_short(s)!r}: not one of {_NAMES_HELP} and not valid tile "
            f"text ({err})"
        ) from None
    return CFAPattern.from_tile(tile)


def named_block_size(name: str) -> int | None:
    """Block size of a block-pattern name without phase (``"nona"`` -> 3, ``"block5"`` -> 5),
    or ``None`` if ``name`` is not one."""
    name = name.strip().lower()
    if name in BLOCK_SIZES:
        return BLOCK_SIZES[name]
    match = BLOCK_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def block_pattern_name(block: int) -> str:
    """Name of the block pattern of block size ``block``, without phase: the built-in name
    (``bayer``, ``quad``, ``nona``, ``qxq``) or ``blockN``."""
    return {v: k for k, v in BLOCK_SIZES.items()}.get(block, f"block{block}")


def check_period(rows: int, cols: int) -> None:
    """Raise :class:`cfasim.errors.ConfigError` unless a rows x cols tile fits
    :data:`MAX_PERIOD` in both directions."""
    if rows > MAX_PERIOD or cols > MAX_PERIOD:
        raise ConfigError(
            f"CFA tile {rows}x{cols} is over the limit: a tile has at most {MAX_PERIOD} rows and "
            f"{MAX_PERIOD} columns (block sizes up to {MAX_BLOCK})"
        )


def _short(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters for one-line error messages."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_text(tile: np.ndarray) -> str:
    """A tile for an error message: its quoted text, or its size when the text is long."""
    text = tile_text(tile)
    return repr(text) if len(text) <= 60 else f"{tile.shape[0]}x{tile.shape[1]}"


def _block_size(tile: np.ndarray) -> int | None:
    """Block size b if the tile is a 2x2 Bayer arrangement of uniform b x b blocks, else None."""
    py, px = tile.shape
    if py != px or py % 2:
        return None
    b = py // 2
    blocks = tile.reshape(2, b, 2, b)
    if not (blocks == blocks[:, :1, :, :1]).all():
        return None
    return b if _block_phase(tile, b) in PHASES else None


def _block_phase(tile: np.ndarray, b: int) -> str:
    return "".join(COLOR_LETTERS[tile[i * b, j * b]] for i in (0, 1) for j in (0, 1)).lower()
