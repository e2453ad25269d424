"""Real camera RAW ingest with rawpy (LibRaw): read Bayer RAW files, bin them to linear RGB, scan.

:func:`read_raw` opens one RAW file (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF, SRW...) and
returns a :class:`RawFrame`: the visible CFA codes, the 2 x 2 Bayer pattern as a cfasim
:class:`~cfasim.cfa.CFAPattern`, black and white levels, the as-shot white balance and the
camera's XYZ -> camera matrix. Only 2 x 2 Bayer RGB sensors are accepted; anything else raises
:class:`RawFormatError` with a short reason. :func:`bin_to_linear_rgb` turns a frame into a
half-size linear camera-RGB image (no interpolation), and :func:`scan_raw_folder` checks a folder
of RAW files up front, in the style of :func:`cfasim.source.images.scan_folder`.

What rawpy 0.28 / LibRaw 0.22 report, and how it is used here (measured on DNG files written by
:func:`cfasim.data.dng.write_dng` and tifffile, see tests/source/test_rawio.py):

* ``raw_pattern`` is the colour-index tile of ``raw_image`` (full sensor, margins included),
  indices into ``color_desc`` (``b"RGBG"``: 0 R, 1 G, 2 B, 3 second G). It is rolled by the
  ``top_margin`` / ``left_margin`` so that :attr:`RawFrame.pattern` describes
  ``raw_image_visible``. A Bayer DNG gives the written 2 x 2 phase.
* Non-Bayer CFAs: a 6 x 6 CFA tile (Fujifilm X-Trans, cfasim's Nona) takes LibRaw's X-Trans path
  and comes back as a 6 x 6 ``raw_pattern``; a 4 x 4 Quad or 8 x 8 QxQ DNG tile is squeezed into
  LibRaw's 32-bit ``filters`` word and comes back as a wrong pattern without error (``RR/GG``
  for ``quad:rggb``: no blue). Both are refused ("non-Bayer CFA (...)"). For TIFF-based files
  the DNG's own CFARepeatPatternDim / CFAPattern tags are read with tifffile as well, so a
  non-2 x 2 DNG tile is refused even where LibRaw's reading of it happens to look like Bayer.
* Linear (demosaiced) DNG, PhotometricInterpretation 34892: ``raw_type`` is ``Stack``,
  ``raw_pattern`` is ``None`` and ``raw_image`` is (H, W, 4). Refused ("linear DNG (already
  demosaiced)").
* Monochrome data (a one-sample LinearRaw DNG): ``num_colors`` 1, 1 x 1 ``raw_pattern``
  ``[[6]]``. A plain grayscale TIFF without DNG or maker tags renamed ``.dng`` is read by LibRaw
  as an RGGB mosaic with zero colour matrices and ``camera_whitebalance`` ``[0, 1, 0, 0]``. Both
  are refused ("no CFA (...)"), the latter from its TIFF tags.
* Random bytes, and any image under 22 px in height or width (dcraw's ``is_raw`` check):
  ``LibRawFileUnsupportedError`` at open. A truncated DNG: ``LibRawIOError`` at
  open (header cut) or at unpack (data cut; LibRaw also prints "Unexpected end of file" on
  stderr from C, not silenced here). All are refused ("unreadable: ...").
* ``black_level_per_channel`` is indexed by colour index (R, G, B, G2), with a 2 x 2
  BlackLevelRepeatDim folded in; :attr:`RawFrame.black` re-orders it to the four tile sites.
  A black pattern larger than 2 x 2 (LibRaw's ``cblack[6:]``) is not exposed by rawpy.
* ``camera_whitebalance`` (LibRaw ``cam_mul``) is ``1 / AsShotNeutral`` for DNG.
* ``rgb_xyz_matrix`` (LibRaw ``cam_xyz``, XYZ -> camera) is filled from LibRaw's camera table for
  known cameras, but is all zero for DNGs whose ColorMatrix LibRaw only folds into
  ``color_matrix`` (its camera -> linear sRGB matrix): cfasim's DNGs, and DNGs of cameras not in
  the table. There ``color_matrix[:, :3] == inv(rgb2cam)`` with ``rgb2cam =
  rgb2cam_from_xyz2cam(xyz2cam)`` (rows normalised to sum 1), so only the row-normalised matrix is
  recoverable: :func:`read_raw` returns ``xyz2cam = rgb2cam @ inv(RGB2XYZ)`` (rows scaled so
  that D65 white maps to camera (1, 1, 1)), which satisfies
  ``rgb2cam_from_xyz2cam(frame.xyz2cam) == rgb2cam`` but not the original row scale.
* rawpy exposes no make / model; :attr:`RawFrame.camera` comes from the TIFF tags
  (UniqueCameraModel, else Make + Model) and is empty for non-TIFF formats (CR3, RAF).
* The mosaic is in sensor orientation: LibRaw's ``flip`` (EXIF orientation) is not applied.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from cfasim.cfa import COLOR_LETTERS, CFAPattern
from cfasim.errors import RawFormatError
from cfasim.isp.color import RGB2XYZ, inv3, matmul3
from cfasim.source.images import scan_files

RAW_SUFFIXES = (".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw")
"""File suffixes :func:`scan_raw_folder` considers (compared case-insensitively)."""

WB_SOURCES = ("as_shot", "daylight", "none")
"""Where :attr:`RawFrame.wb` came from (see :func:`read_raw`)."""

MATRIX_SOURCES = ("rgb_xyz_matrix", "color_matrix", "none")
"""Where :attr:`RawFrame.xyz2cam` came from (see :func:`read_raw`)."""

_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_TIFF_EP_LETTERS = "RGBCMYW"  # TIFF/EP CFAPattern colour codes 0..6
_PHOTOMETRIC_CFA = 32803
_PHOTOMETRIC_LINEAR_RAW = 34892
_TAG_NEW_SUBFILE_TYPE = 254
_TAG_MAKE = 271
_TAG_MODEL = 272
_TAG_CFA_REPEAT_PATTERN_DIM = 33421
_TAG_CFA_PATTERN = 33422
_TAG_DNG_VERSION = 50706
_TAG_UNIQUE_CAMERA_MODEL = 50708
_MAX_REASON_CHARS = 200
_XYZ2RGB = inv3(RGB2XYZ)


@dataclass(frozen=True, eq=False)
class RawFrame:
    """One Bayer RAW frame as read by :func:`read_raw`.

    Parameters
    ----------
    mosaic
        (H, W) uint16 CFA codes of the visible area (rawpy's ``raw_image_visible``), read-only.
    pattern
        The 2 x 2 Bayer pattern of ``mosaic`` (``pattern.tile[0, 0]`` is the colour of pixel
        (0, 0)), e.g. ``bayer:rggb``.
    black
        Black levels in DN, read-only float64: either (4,), one per tile site in raster order
        (``black[2 * dy + dx]`` is the level of the pixels at ``(y % 2, x % 2) == (dy, dx)``,
        whose colour is ``pattern.tile[dy, dx]``), or an (H, W) per-pixel map.
    white
        White (saturation) level in DN; every black level is below it.
    wb
        (3,) float64 white-balance gains for camera (R, G, B), normalised so that G = 1: the
        as-shot gains (``1 / AsShotNeutral`` for DNG) where the file has them.
    xyz2cam
        (3, 3) float64 XYZ (D65) -> camera RGB matrix (rows camera R, G, B), or ``None`` when
        the file has none. Its row scale is only meaningful when ``matrix_source`` is
        ``"rgb_xyz_matrix"`` (see the module docstring).
    path
        The file read.
    camera
        Camera name from the file's TIFF tags, ``""`` when unknown.
    wb_source
        ``"as_shot"`` (rawpy ``camera_whitebalance``), ``"daylight"`` (``daylight_whitebalance``,
        used when the file has no as-shot gains) or ``"none"`` (``wb`` is (1, 1, 1)).
    matrix_source
        ``"rgb_xyz_matrix"``, ``"color_matrix"`` (row-normalised only) or ``"none"``.
    """

    mosaic: np.ndarray
    pattern: CFAPattern
    black: np.ndarray
    white: int
    wb: np.ndarray
    xyz2cam: np.ndarray | None
    path: Path
    camera: str = ""
    wb_source: str = "as_shot"
    matrix_source: str = "rgb_xyz_matrix"

    def __post_init__(self) -> None:
        mosaic = np.asarray(self.mosaic)
        if mosaic.ndim != 2 or mosaic.dtype != np.uint16 or min(mosaic.shape) < 2:
            raise ValueError(
                f"mosaic must be an (H, W) uint16 array of at least 2 x 2, got {mosaic.dtype} "
                f"{mosaic.shape}"
            )
        if self.pattern.period != (2, 2) or self.pattern.block != 1:
            raise ValueError(f"pattern must be a 2x2 Bayer pattern, got {self.pattern.name!r}")
        black = np.array(self.black, dtype=np.float64)
        if black.shape not in ((4,), mosaic.shape):
            raise ValueError(
                f"black must have shape (4,) or the mosaic's {mosaic.shape}, got {black.shape}"
            )
        white = int(self.white)
        if not np.all(np.isfinite(black)) or black.max() >= white:
            raise ValueError(f"black levels must be finite and below white {white}")
        wb = np.array(self.wb, dtype=np.float64)
        if wb.shape != (3,) or not np.all(np.isfinite(wb)) or np.any(wb <= 0):
            raise ValueError(f"wb must be three finite positive gains, got {self.wb!r}")
        xyz2cam = None
        if self.xyz2cam is not None:
            xyz2cam = np.array(self.xyz2cam, dtype=np.float64)
            if xyz2cam.shape != (3, 3):
                raise ValueError(f"xyz2cam must be (3, 3) or None, got shape {xyz2cam.shape}")
        if self.wb_source not in WB_SOURCES:
            raise ValueError(f"wb_source must be one of {WB_SOURCES}, got {self.wb_source!r}")
        if self.matrix_source not in MATRIX_SOURCES:
            raise ValueError(
                f"matrix_source must be one of {MATRIX_SOURCES}, got {self.matrix_source!r}"
            )
        for name, value in (("mosaic", mosaic), ("black", black), ("wb", wb), ("xyz2cam", xyz2cam)):
            if value is not None:
                value = value.view()  # a read-only view; the caller's array stays writeable
                value.flags.writeable = False
            object.__setattr__(self, name, value)
        object.__setattr__(self, "white", white)
        object.__setattr__(self, "path", Path(self.path))

    @property
    def height(self) -> int:
        """Mosaic height in pixels."""
        return self.mosaic.shape[0]

    @property
    def width(self) -> int:
        """Mosaic width in pixels."""
        return self.mosaic.shape[1]

    @property
    def binned_shape(self) -> tuple[int, int]:
        """(H // 2, W // 2): the size of :func:`bin_to_linear_rgb`'s output."""
        return self.height // 2, self.width // 2

    def black_map(self) -> np.ndarray:
        """(H, W) float64 black level of every mosaic pixel."""
        if self.black.shape == self.mosaic.shape:
            return self.black.copy()
        reps = (-(-self.height // 2), -(-self.width // 2))
        return np.tile(self.black.reshape(2, 2), reps)[: self.height, : self.width]


@dataclass(frozen=True)
class RawSource:
    """A usable RAW file found by :func:`scan_raw_folder`.

    Parameters
    ----------
    path
        POSIX path relative to the scanned folder, e.g. ``"day1/IMG_0001.CR2"``.
    height, width
        Mosaic size (visible area) in pixels.
    pattern
        Name of the Bayer pattern, e.g. ``"bayer:rggb"``.
    camera
        Camera name (:attr:`RawFrame.camera`), ``""`` when unknown.
    wb, xyz2cam
        :attr:`RawFrame.wb` and :attr:`RawFrame.xyz2cam` as tuples (``xyz2cam`` None when the
        file has no matrix), so a caller needs no second decode.
    """

    path: str
    height: int
    width: int
    pattern: str
    camera: str
    wb: tuple[float, ...] = (1.0, 1.0, 1.0)
    xyz2cam: tuple[tuple[float, ...], ...] | None = None

    @property
    def binned_shape(self) -> tuple[int, int]:
        """(height // 2, width // 2): the linear RGB size after :func:`bin_to_linear_rgb`."""
        return self.height // 2, self.width // 2


@dataclass(frozen=True)
class RawScanResult:
    """Outcome of :func:`scan_raw_folder`.

    Parameters
    ----------
    images
        Usable RAW files, sorted by path.
    skipped
        ``(relative path, reason)`` for every candidate file that was not usable, sorted.
    """

    images: tuple[RawSource, ...]
    skipped: tuple[tuple[str, str], ...]


# ---------------------------------------------------------------------------------------------
# reading


@dataclass(frozen=True, eq=False)
class RawMosaic:
    """The visible mosaic of any RAW file LibRaw decodes, whatever its CFA (:func:`read_mosaic`).

    Attributes
    ----------
    path : the file.
    mosaic : (H, W) uint16 visible RAW codes (rawpy ``raw_image_visible``, a copy).
    black : (H, W) float64 black level of every pixel (``black_level_per_channel`` mapped
        through ``raw_colors_visible``).
    white : white level (rawpy ``white_level``).
    sites : shape of rawpy's ``raw_pattern`` ((1, 1) when there is none).
    shutter_s : LibRaw's shutter value in seconds (0 when the file has none).
    """

    path: Path
    mosaic: np.ndarray
    black: np.ndarray
    white: int
    sites: tuple[int, int]
    shutter_s: float


def read_mosaic(path: str | os.PathLike[str]) -> RawMosaic:
    """Read the visible mosaic of a RAW file with rawpy, any CFA (X-Trans, Quad...) accepted:
    what photon-transfer calibration needs. :func:`read_raw` adds the Bayer checks, white
    balance and matrix a dataset source needs.

    Raises
    ------
    RawFormatError
        ``"unreadable: ..."`` (LibRaw cannot open or decode it) or ``"no CFA mosaic ..."``.
    """
    rawpy = _rawpy()
    path = Path(path)
    try:
        with rawpy.imread(str(path)) as rp:
            mosaic = np.array(rp.raw_image_visible, dtype=np.uint16, copy=True)
            if mosaic.ndim != 2:
                raise RawFormatError(path, "no CFA mosaic (linear / demosaiced RAW)")
            per_colour = np.asarray(rp.black_level_per_channel, dtype=np.float64)
            colours = np.asarray(rp.raw_colors_visible)
            black = per_colour[np.clip(colours, 0, per_colour.size - 1)]
            pattern = rp.raw_pattern
            sites = (1, 1) if pattern is None else tuple(int(v) for v in np.shape(pattern))
            white = int(rp.white_level)
            shutter = float(getattr(rp.other, "shutter_speed", 0.0) or 0.0)
    except RawFormatError:
        raise
    except Exception as exc:  # LibRaw errors, unsupported files, truncated data
        raise RawFormatError(path, f"unreadable: {_libraw_message(exc)}") from exc
    if black.shape != mosaic.shape:
        black = np.full(mosaic.shape, float(per_colour[0]))
    return RawMosaic(path, mosaic, black, white, sites, shutter)


def _rawpy():
    try:
        import rawpy
    except ImportError as exc:  # pragma: no cover - rawpy is installed where this is tested
        raise ImportError(f"reading RAW files needs rawpy (pip install rawpy): {exc}") from exc
    return rawpy


def read_raw(path: str | os.PathLike[str]) -> RawFrame:
    """Read a Bayer RAW file with rawpy (LibRaw).

    Parameters
    ----------
    path
        A camera RAW or DNG file.

    Returns
    -------
    RawFrame
        The visible mosaic (a copy), its Bayer pattern, levels, white balance and matrix.
        White balance: rawpy's ``camera_whitebalance[:3]`` divided by its G entry; if the file
        has none (an entry <= 0), ``daylight_whitebalance``; if neither, (1, 1, 1)
        (``wb_source`` says which). Matrix: ``rgb_xyz_matrix[:3]`` when non-zero, else derived
        from ``color_matrix`` as ``inv(color_matrix[:, :3]) @ inv(RGB2XYZ)`` with the rows of
        ``inv(color_matrix[:, :3])`` normalised to sum 1 (only the row-normalised ``rgb2cam``
        is recoverable, see the module docstring), else ``None`` (``matrix_source`` says which).

    Raises
    ------
    RawFormatError
        Naming the file, with a short :attr:`~RawFormatError.reason`: ``"unreadable: ..."``
        (LibRaw cannot open or decode it: not a RAW file, corrupt, truncated),
        ``"linear DNG (already demosaiced)"`` (``"linear RAW ..."`` for other formats),
        ``"no CFA (...)"`` (monochrome, or a plain TIFF), ``"non-Bayer CFA (...)"`` (X-Trans,
        Nona, Quad, QxQ, non-RGB colours, or any pattern that is not a 2 x 2 arrangement of R, G,
        B, G with the greens on a diagonal), or ``"bad levels: ..."``.
    FileNotFoundError, OSError
        If the file does not exist or is not a regular file.
    ImportError
        If rawpy is not installed.
    """
    path = Path(path)
    rawpy = _rawpy()
    if not stat.S_ISREG(os.stat(path).st_mode):  # FileNotFoundError for a missing file
        raise OSError(f"not a regular file: {path}")
    info = _tiff_info(path)
    if info is not None and not info["dng"] and not info["make"]:
        raise RawFormatError(
            path,
            "no CFA (a plain TIFF image: no DNG or camera maker tags; LibRaw would invent an "
            "RGGB pattern for it)",
        )
    if info is not None and info["dng"] and info["photometric"] == _PHOTOMETRIC_LINEAR_RAW:
        # decided from the DNG tags, whatever LibRaw's version makes of the file
        if info["samples"] == 1:
            raise RawFormatError(path, "no CFA (monochrome linear DNG)")
        raise RawFormatError(path, "linear DNG (already demosaiced)")
    try:
        with rawpy.imread(str(path)) as rp:
            return _frame_from_rawpy(rp, path, info)
    except rawpy.LibRawError as exc:
        raise RawFormatError(path, f"unreadable: {_libraw_message(exc)}") from exc


def _frame_from_rawpy(rp, path: Path, info: dict | None) -> RawFrame:
    """Build a :class:`RawFrame` from an open rawpy object (anything with its attributes)."""
    is_dng = bool(info and info["dng"])
    try:
        raw_pattern = rp.raw_pattern
        raw_image = rp.raw_image
    except NotImplementedError as exc:  # rawpy: LibRaw ``filters`` code it has no tile for
        raise RawFormatError(path, f"non-Bayer CFA (LibRaw {exc})") from exc
    except RuntimeError as exc:  # rawpy: 'unsupported raw data'
        raise RawFormatError(path, f"unreadable: {exc}") from exc
    if raw_pattern is None or raw_image.ndim != 2:
        kind = "DNG" if is_dng else "RAW"
        raise RawFormatError(path, f"linear {kind} (already demosaiced)")
    raw_pattern = np.asarray(raw_pattern)
    if rp.num_colors == 1 or raw_pattern.shape == (1, 1):
        raise RawFormatError(path, "no CFA (monochrome: LibRaw reports one colour)")
    sizes = rp.sizes
    n_y, n_x = raw_pattern.shape
    # raw_pattern is the tile of raw_image; roll it to the visible area's origin
    tile = np.roll(raw_pattern, (-sizes.top_margin % n_y, -sizes.left_margin % n_x), axis=(0, 1))
    desc = bytes(rp.color_desc).decode("ascii", "replace")
    letters = np.array([[desc[v] if v < len(desc) else "?" for v in row] for row in tile])
    libraw_text = "/".join("".join(row) for row in letters)

    dng_tile = info["cfa_tile"] if info else None
    if dng_tile is not None and dng_tile.shape != (2, 2):
        dims = "x".join(map(str, dng_tile.shape))
        libraw_view = (
            "6x6 X-Trans" if tile.shape == (6, 6) else f"{n_y}x{n_x} pattern {libraw_text}"
        )
        raise RawFormatError(
            path,
            f"non-Bayer CFA ({dims} DNG CFA tile {_tiff_ep_text(dng_tile)}; "
            f"LibRaw reads it as {libraw_view})",
        )
    if tile.shape == (6, 6):
        raise RawFormatError(path, "non-Bayer CFA (6x6 X-Trans)")
    if tile.shape != (2, 2):
        raise RawFormatError(path, f"non-Bayer CFA ({n_y}x{n_x} pattern {libraw_text})")
    bad = sorted(set(letters.ravel()) - set("RGB"))
    if bad:
        raise RawFormatError(
            path, f"non-Bayer CFA (2x2 pattern {libraw_text}: colour {''.join(bad)} is not R, G, B)"
        )
    indices = np.vectorize(COLOR_LETTERS.index)(letters).astype(np.int8)
    missing = [c for c in "RGB" if c not in letters]
    if missing or sorted(letters.ravel()) != ["B", "G", "G", "R"]:
        why = f"has no {', '.join(missing)}" if missing else "is not R, G, B, G"
        raise RawFormatError(path, f"non-Bayer CFA (2x2 pattern {libraw_text} {why})")
    pattern = CFAPattern.from_tile(indices)
    if pattern.block != 1:
        raise RawFormatError(
            path, f"non-Bayer CFA (2x2 pattern {libraw_text}: the greens are not on a diagonal)"
        )

    mosaic = np.array(rp.raw_image_visible, dtype=np.uint16, copy=True)
    per_colour = np.asarray(rp.black_level_per_channel, dtype=np.float64)
    black = per_colour[tile.ravel()]
    white = int(rp.white_level)
    if white <= 0 or black.max() >= white:
        raise RawFormatError(
            path, f"bad levels: black {black.tolist()} is not below white level {white}"
        )
    wb, wb_source = _white_balance(rp)
    xyz2cam, matrix_source = _xyz2cam(rp)
    return RawFrame(
        mosaic=mosaic,
        pattern=pattern,
        black=black,
        white=white,
        wb=wb,
        xyz2cam=xyz2cam,
        path=path,
        camera=info["camera"] if info else "",
        wb_source=wb_source,
        matrix_source=matrix_source,
    )


def _white_balance(rp) -> tuple[np.ndarray, str]:
    """(R, G, B) gains normalised to G = 1 and their source."""
    for gains, source in (
        (rp.camera_whitebalance, "as_shot"),
        (rp.daylight_whitebalance, "daylight"),
    ):
        g = np.asarray(gains, dtype=np.float64)[:3]
        if g.shape == (3,) and np.all(np.isfinite(g)) and np.all(g > 0):
            return g / g[1], source
    return np.ones(3), "none"


def _xyz2cam(rp) -> tuple[np.ndarray | None, str]:
    """XYZ -> camera matrix and its source (see :func:`read_raw`)."""
    cam_xyz = np.asarray(rp.rgb_xyz_matrix, dtype=np.float64)[:3, :3]
    if np.all(np.isfinite(cam_xyz)) and cam_xyz.any():
        return cam_xyz, "rgb_xyz_matrix"
    cam2rgb = np.asarray(rp.color_matrix, dtype=np.float64)[:3, :3]
    if np.all(np.isfinite(cam2rgb)) and cam2rgb.any():
        try:
            rgb2cam = inv3(cam2rgb)
        except np.linalg.LinAlgError:
            return None, "none"
        sums = rgb2cam[:, 0:1] + rgb2cam[:, 1:2] + rgb2cam[:, 2:3]
        if np.all(np.isfinite(rgb2cam)) and np.all(np.abs(sums) > 1e-6):
            return matmul3(rgb2cam / sums, _XYZ2RGB), "color_matrix"
    return None, "none"


def _libraw_message(exc: BaseException) -> str:
    """LibRaw's error text (rawpy passes bytes) plus the exception type."""
    arg = exc.args[0] if exc.args else ""
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return f"{text or 'error'} (LibRaw {type(exc).__name__})"


def _tiff_info(path: Path) -> dict | None:
    """For a TIFF-based file (DNG, NEF, CR2, ARW, PEF...): DNG flag, maker tag, camera name and
    the CFA tile of the main (full-resolution) image; ``None`` for other files or if tifffile
    cannot parse it (LibRaw then has the last word)."""
    with open(path, "rb") as f:
        if f.read(4) not in _TIFF_MAGICS:
            return None
    try:
        with tifffile.TiffFile(path) as tif:
            first = tif.pages.first
            tags = first.tags
            unique = tags.valueof(_TAG_UNIQUE_CAMERA_MODEL)
            make = _text(tags.valueof(_TAG_MAKE))
            model = _text(tags.valueof(_TAG_MODEL))
            is_dng = _TAG_DNG_VERSION in tags
            main = None
            for page in [first, *(first.pages or [])]:
                if page.tags.valueof(_TAG_NEW_SUBFILE_TYPE, 0) == 0:
                    main = page
                    break
            cfa_tile = None
            photometric = None if main is None else int(main.photometric)
            samples = None if main is None else int(main.samplesperpixel)
            if main is not None and main.photometric == _PHOTOMETRIC_CFA:
                dims = main.tags.valueof(_TAG_CFA_REPEAT_PATTERN_DIM)
                codes = main.tags.valueof(_TAG_CFA_PATTERN)
                if dims is not None and codes is not None and len(codes) == dims[0] * dims[1]:
                    cfa_tile = np.frombuffer(bytes(codes), np.uint8).reshape(dims[0], dims[1])
    except Exception:
        return None
    if unique:
        camera = _text(unique)
    elif model.lower().startswith(make.lower()):
        camera = model
    else:
        camera = f"{make} {model}".strip()
    return {
        "dng": is_dng,
        "make": make,
        "camera": camera,
        "cfa_tile": cfa_tile,
        "photometric": photometric,
        "samples": samples,
    }


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).replace("\x00", " ").split())


def _tiff_ep_text(tile: np.ndarray) -> str:
    """Rows of TIFF/EP colour letters, e.g. ``"RRGG/RRGG/GGBB/GGBB"``."""
    return "/".join(
        "".join(_TIFF_EP_LETTERS[v] if v < len(_TIFF_EP_LETTERS) else "?" for v in row)
        for row in tile
    )


# ---------------------------------------------------------------------------------------------
# binning


def bin_to_linear_rgb(frame: RawFrame, *, clip: bool = True) -> np.ndarray:
    """Bin each 2 x 2 Bayer cell of a frame to one linear camera-RGB pixel.

    Every site is black-subtracted and scaled by its own range, ``(code - black) / (white -
    black)``; then each 2 x 2 cell gives R = its R site, G = the mean of its two G sites and
    B = its B site. No interpolation, no white balance or colour matrix; a trailing odd row or
    column is dropped.

    Parameters
    ----------
    frame
        A :class:`RawFrame` (per-site (4,) black levels or an (H, W) black map).
    clip
        Clip the result to [0, 1] (default). Codes below black (read noise around a black level)
        give slightly negative values and are clipped to 0 after the greens are averaged, so the
        noise of the two greens is averaged first; codes above white (none in well-formed files)
        are clipped to 1. With ``clip=False`` the values are returned as computed.

    Returns
    -------
    numpy.ndarray
        (H // 2, W // 2, 3) float32 camera R, G, B, 1.0 = white level.
    """
    h2, w2 = frame.binned_shape
    mosaic = frame.mosaic[: 2 * h2, : 2 * w2]
    black = frame.black
    span = float(frame.white)
    out = np.zeros((h2, w2, 3), dtype=np.float64)
    for dy in (0, 1):
        for dx in (0, 1):
            site = mosaic[dy::2, dx::2].astype(np.float64)
            if black.shape == (4,):
                b = black[2 * dy + dx]
            else:
                b = black[: 2 * h2, : 2 * w2][dy::2, dx::2]
            colour = int(frame.pattern.tile[dy, dx])
            weight = 0.5 if colour == 1 else 1.0
            out[..., colour] += weight * (site - b) / (span - b)
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# scanning


def scan_raw_folder(
    root: str | os.PathLike[str], *, min_height: int, min_width: int, workers: int = 1
) -> RawScanResult:
    """Find the usable Bayer RAW files under a folder.

    Walks ``root`` recursively (following symlinked folders once each), ignoring hidden files
    and folders and files whose suffix is not in :data:`RAW_SUFFIXES`. Every candidate is read
    once with :func:`read_raw` (full decode, so corrupt files are found up front); unusable ones
    are skipped with :attr:`RawFormatError.reason` (``"unreadable: ..."``, ``"non-Bayer CFA
    (6x6 X-Trans)"``, ``"linear DNG (already demosaiced: ...)"``, ``"no CFA (...)"``) or
    ``"too small: hxw < HxW (binned from HxW)"``, where the size compared is the binned size
    (H // 2) x (W // 2) of :func:`bin_to_linear_rgb`. Nothing is printed (LibRaw itself may
    print decoder warnings on stderr).

    Parameters
    ----------
    root
        Folder to scan.
    min_height, min_width
        Smallest usable binned (linear RGB) size, e.g. the patch size.
    workers
        Threads reading in parallel (LibRaw releases the GIL). Peak memory is about
        ``workers`` decoded mosaics.

    Returns
    -------
    RawScanResult
        Usable files and skipped files, both sorted by relative path; independent of
        ``workers``.

    Raises
    ------
    SourceError
        If ``root`` does not exist, is not a directory or cannot be listed, holds no RAW files,
        or none is usable (the message gives the counts and the first few reasons).
    ValueError
        If ``workers`` < 1 or a minimum size is negative.
    """
    listing = ", ".join(s.lstrip(".").upper() for s in RAW_SUFFIXES)
    images, skipped = scan_files(
        root,
        RAW_SUFFIXES,
        _check_raw,
        min_height=min_height,
        min_width=min_width,
        workers=workers,
        what="RAW",
        files=f"RAW files ({listing})",
        usable="RAW files",
    )
    return RawScanResult(images=images, skipped=skipped)


def _check_raw(
    root: Path, rel: str, min_height: int, min_width: int
) -> RawSource | tuple[str, str]:
    """Read one candidate: a :class:`RawSource`, or ``(rel, reason)`` if it is skipped."""
    try:
        frame = read_raw(root / rel)
    except RawFormatError as exc:
        return rel, _short(exc.reason)
    except Exception as exc:  # OS errors, decoder surprises: skip this file
        return rel, f"unreadable: {_short(' '.join(str(exc).split()) or type(exc).__name__)}"
    h2, w2 = frame.binned_shape
    if h2 < min_height or w2 < min_width:
        return rel, (
            f"too small: {h2}x{w2} < {min_height}x{min_width} "
            f"(binned from {frame.height}x{frame.width})"
        )
    return RawSource(
        path=rel,
        height=frame.height,
        width=frame.width,
        pattern=frame.pattern.name,
        camera=frame.camera,
        wb=tuple(float(v) for v in frame.wb),
        xyz2cam=None if frame.xyz2cam is None else tuple(map(tuple, frame.xyz2cam.tolist())),
    )


def _short(text: str) -> str:
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 3] + "..."
