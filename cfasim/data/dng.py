"""DNG files (Adobe DNG 1.4, written with tifffile): :func:`write_dng` saves any uint16 mosaic on
any CFA tile up to 8 x 8 (public API, ``cfasim.write_dng``); :func:`export_dng` exports dataset
samples with it.

One DNG per mosaic: the stored RAW codes as a 16-bit CFA image (PhotometricInterpretation 32803)
with the tags a raw converter needs to render it::

    DNGVersion / DNGBackwardVersion   1.4.0.0
    UniqueCameraModel                 ``model`` ("cfasim")
    CFARepeatPatternDim, CFAPattern   the full cfasim tile (up to 8 x 8), row-major colour codes
    CFAPlaneColor, CFALayout          (R, G, B[, W]) planes, rectangular layout
    BlackLevelRepeatDim, BlackLevel   one black level for every pixel
    WhiteLevel                        the RAW white level
    ColorMatrix1                      the sample's XYZ -> camera matrix (SRATIONAL, /10000)
    CalibrationIlluminant1            21 (D65)
    AsShotNeutral                     1 / white-balance gains (RATIONAL, /1000000)
    BaselineExposure                  log2(digital gain) in EV (optional)

Colour codes follow TIFF/EP: 0 R, 1 G, 2 B, 6 W. A tile with W pixels is written as a
four-plane CFA (CFAPlaneColor 0, 1, 2, 6), as the DNG SDK requires every CFAPattern code to be
one of the planes; since cfasim's W pixel is the mean of the camera R, G and B values
(:meth:`cfasim.cfa.CFAPattern.mosaic`), its ColorMatrix1 row is the mean of the R, G, B rows and
its AsShotNeutral entry the mean of theirs, so the file is self-consistent. Tiles larger than
8 x 8 are refused: the DNG SDK's ``kMaxCFAPattern`` is 8.

Relation to cfasim's per-sample parameters. cfasim's forward ISP multiplies camera RGB by
``digital_gain * (red_gain, 1, blue_gain)`` (the stored ``wb_gains`` and ``digital_gain``).
The white-balance part is the inverse of the camera response to a neutral (white) object, so
``AsShotNeutral = 1 / (red_gain, 1, blue_gain)`` (:func:`as_shot_neutral`). The digital gain is
a brightening applied to every channel alike; it is not colour information and is not part of
the neutral. :func:`export_dng` stores it as ``BaselineExposure = log2(digital_gain)`` EV, which
DNG-SDK renderers apply and LibRaw ignores (pass ``bright=digital_gain`` to rawpy's
``postprocess`` to reproduce it).

What LibRaw / rawpy make of these files (measured with rawpy 0.28.0, LibRaw 0.22.2,
see tests/data/test_dng.py, which asserts all of this so that a LibRaw change is noticed):

* Bayer (2 x 2, all four phases): read correctly. ``raw_pattern`` maps through ``color_desc``
  (``b"RGBG"``, index 3 = second green) to the written phase; ``raw_image_visible`` equals the
  written codes; ``black_level_per_channel`` and ``white_level`` are the written levels;
  ``camera_whitebalance[:3]`` is ``1 / AsShotNeutral`` (= the stored ``wb_gains``) and
  ``daylight_whitebalance[:3]`` is ``1 / (xyz2cam @ RGB2XYZ).sum(axis=1)`` (the gains that make
  D65 white neutral). ``rgb_xyz_matrix`` is all zeros (LibRaw does not copy ColorMatrix1 into
  its ``cam_xyz`` for these files); the ColorMatrix1 shows up instead as
  ``color_matrix[:, :3]``, LibRaw's camera -> linear sRGB matrix, which equals
  ``inv(rgb2cam_from_xyz2cam(xyz2cam))`` to float32 precision.
  ``postprocess(use_camera_wb=True, no_auto_bright=True, adjust_maximum_thr=0,
  bright=digital_gain, gamma=(2.4, 12.92), output_color=sRGB)`` then follows cfasim's forward
  ISP without its tone curve: with ``demosaic_algorithm=LINEAR`` it equals
  :func:`cfasim.isp.render.render_reference` of a ``tone=False`` store to 84-89 dB PSNR (~43 dB
  where highlights clip differently); with the default AHD it is 24.9-26.0 dB from the target
  on 48 px dead-leaves patches (tent: 20.8-22.5 dB). Without ``adjust_maximum_thr=0`` LibRaw
  lowers the white level to the data maximum when that is above 75 % of it, which brightens
  some samples.
* Quad (4 x 4): no error, wrong pattern. LibRaw packs the first 16 CFAPattern bytes into its
  32-bit ``filters`` word, which only describes (row mod 8, column mod 2); rawpy then reports a
  2 x 2 ``raw_pattern`` ``[[R, R], [G, G]]`` for ``quad:rggb`` (``[[G, G], [R, R]]`` for
  ``quad:grbg``): one colour missing. ``raw_image`` is still exactly the written data;
  ``postprocess`` runs and returns a wrongly coloured image (10-13 dB from the target).
* Nona (6 x 6): LibRaw's X-Trans path (a 6 x 6 CFARepeatPatternDim sets ``filters = 9``), so
  ``raw_pattern`` comes back as the correct 6 x 6 tile and ``raw_image`` is exact.
  ``postprocess`` with the default demosaic (X-Trans 3-pass) raises ``LibRawIOError`` for
  images smaller than about 512 px (504 px fails, 516 px works, consistent with LibRaw's 512 px
  X-Trans tiles); ``demosaic_algorithm=LINEAR`` runs at any size. Either output is unusable
  (LINEAR 12-13 dB, X-Trans 9.5-10.5 dB from the target at 528 px; cfasim's tent 16-18 dB):
  LibRaw's interpolators look for other colours within one or two pixels, which 3 x 3 blocks
  do not have.
* QxQ (8 x 8): no error, wrong pattern: only the first two tile rows reach ``filters``, so
  rawpy reports the 4 x 4 ``raw_pattern`` ``[[R, R, R, R], [R, R, R, R], [G, G, G, G],
  [G, G, G, G]]`` for ``qxq:rggb`` (no blue). ``raw_image`` is exact; ``postprocess`` runs and
  returns a wrongly coloured image (about 10 dB from the target).
* Other user tiles (e.g. 3 x 3, 2 x 4): no error, wrong pattern by the same ``filters``
  packing (a 3 x 3 tile comes back as a 4 x 4 ``raw_pattern``); ``raw_image``, the levels and
  ``camera_whitebalance`` are exact (tests/data/test_write_dng.py).
* Tiles with W (written as four planes): LibRaw reads four colours (``num_colors`` 4,
  ``camera_whitebalance`` = 1 / the four neutrals) but has no letter for code 6 and reports
  ``color_desc`` ``b"GMCY"``; a 4 x 4 or larger RGBW tile suffers the ``filters`` packing above.

Recommendation: for anything but Bayer, read ``raw_image`` (or ``raw_image_visible``) with rawpy
and take the CFA layout from cfasim's own pattern metadata (the dataset's ``pattern``
attribute, or the DNG's CFARepeatPatternDim / CFAPattern tags read with tifffile), never from
rawpy's ``raw_pattern``, ``raw_colors`` or ``postprocess``. The files carry the full tile, as
the DNG specification defines it, for readers that implement it (not tested here: the Adobe DNG
SDK is not installed).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import tifffile

from cfasim.cfa import CFAPattern, get_pattern
from cfasim.errors import ConfigError, DatasetError
from cfasim.isp.color import RGB2XYZ, inv3
from cfasim.store.schema import has_isp_params

# -- tag numbers (TIFF/EP and DNG 1.4) ----------------------------------------------------------
PHOTOMETRIC_CFA = 32803
TAG_CFA_REPEAT_PATTERN_DIM = 33421
TAG_CFA_PATTERN = 33422
TAG_DNG_VERSION = 50706
TAG_DNG_BACKWARD_VERSION = 50707
TAG_UNIQUE_CAMERA_MODEL = 50708
TAG_CFA_PLANE_COLOR = 50710
TAG_CFA_LAYOUT = 50711
TAG_BLACK_LEVEL_REPEAT_DIM = 50713
TAG_BLACK_LEVEL = 50714
TAG_WHITE_LEVEL = 50717
TAG_COLOR_MATRIX1 = 50721
TAG_AS_SHOT_NEUTRAL = 50728
TAG_BASELINE_EXPOSURE = 50730
TAG_CALIBRATION_ILLUMINANT1 = 50778

DNG_VERSION = (1, 4, 0, 0)
ILLUMINANT_D65 = 21
MAX_CFA_PATTERN = 8
"""Largest CFA repeat (rows or columns) a DNG may carry: the DNG SDK's ``kMaxCFAPattern``."""

DNG_COLOR_CODES = (0, 1, 2, 6)
"""TIFF/EP CFA colour code of each cfasim colour index (R, G, B, W)."""

MATRIX_DENOMINATOR = 10_000
"""Denominator of the SRATIONAL ColorMatrix1 entries (and of BaselineExposure)."""

NEUTRAL_DENOMINATOR = 1_000_000
"""Denominator of the RATIONAL AsShotNeutral entries."""

_INT32_MAX = 2**31 - 1
_XYZ2SRGB = inv3(RGB2XYZ)
"""XYZ -> linear sRGB: the default ``xyz2cam`` of :func:`write_dng`."""
_INDEX_TEXT = re.compile(r"^\s*(\d*)\s*(?::\s*(\d*)\s*(?::\s*(\d*)\s*)?)?$")


# -- writing ------------------------------------------------------------------------------------


def as_shot_neutral(wb_gains) -> np.ndarray:
    """Camera-space neutral of a sample: ``1 / (red_gain, 1, blue_gain)``.

    Parameters
    ----------
    wb_gains
        The sample's white-balance gains ``(red_gain, 1, blue_gain)`` (the dataset's
        ``wb_gains`` array). The forward ISP multiplies camera RGB by these gains times the
        sample's ``digital_gain``.

    Returns
    -------
    numpy.ndarray
        (3,) float64: the camera RGB of a white object, the inverse of the white-balance gains
        (DNG's AsShotNeutral). The digital gain is a brightening of all channels, not part of
        the neutral; :func:`export_dng` writes it as BaselineExposure instead.

    Raises
    ------
    cfasim.errors.ConfigError
        (a ``ValueError``) if the gains are not three finite positive numbers.
    """
    gains = np.asarray(wb_gains, dtype=np.float64)
    if gains.shape != (3,) or not np.all(np.isfinite(gains)) or np.any(gains <= 0):
        raise ConfigError(f"wb_gains must be three finite positive gains, got {wb_gains!r}")
    return 1.0 / gains


def write_dng(
    path,
    raw: np.ndarray,
    pattern: CFAPattern | str | np.ndarray,
    black: int = 0,
    white: int = 65535,
    xyz2cam=None,
    as_shot_neutral=None,
    model: str = "cfasim",
    baseline_exposure: float | None = None,
) -> Path:
    """Write any CFA mosaic (a 2-D uint16 NumPy array) as a DNG 1.4 file.

    Public API (``cfasim.write_dng``): the mosaic need not come from a cfasim dataset. Any
    tile up to 8 x 8 is written in full (CFARepeatPatternDim, CFAPattern): 2 x 2 Bayer, 4 x 4
    Quad, 6 x 6 Nona, 8 x 8 QxQ or a user tile such as 3 x 3. How LibRaw / rawpy read the
    non-Bayer files is in the module docstring (``raw_image`` is always exact; the pattern it
    reports is only right for Bayer and 6 x 6).

    Parameters
    ----------
    path : str or os.PathLike
        Output file (overwritten if it exists).
    raw : numpy.ndarray
        (H, W) uint16 RAW codes; pixel (0, 0) has the colour of the tile's top-left entry. H
        and W need not be multiples of the tile.
    pattern : CFAPattern, str or array-like
        The CFA: a :class:`cfasim.cfa.CFAPattern`, a name or tile text that
        :func:`cfasim.cfa.get_pattern` accepts (``"bayer"``, ``"nona:grbg"``,
        ``"RGB/GBR/BRG"``), or a 2-D integer tile of colour indices (0 R, 1 G, 2 B, 3 W) with
        at most 8 rows and 8 columns.
    black, white : int
        Black and white level in DN, ``0 <= black < white <= 65535`` (default 0 and 65535).
    xyz2cam : array-like, optional
        (3, 3) XYZ -> camera RGB matrix (rows: camera R, G, B), written as ColorMatrix1 with
        D65 as calibration illuminant, entries rounded to 1/10000. Default: the XYZ -> linear
        sRGB matrix (a "camera" whose RGB is linear sRGB).
    as_shot_neutral : array-like, optional
        (3,) camera RGB of a white object (see :func:`as_shot_neutral`), rounded to 1e-6.
        Default ``(1, 1, 1)``.
    model : str
        UniqueCameraModel text.
    baseline_exposure : float, optional
        BaselineExposure in EV (cfasim: ``log2(digital_gain)``).

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    cfasim.errors.ConfigError
        (a ``ValueError``) for a tile larger than 8 x 8 or not a valid CFA, a raw that is not a
        non-empty 2-D uint16 array, bad levels, or a matrix / neutral of the wrong shape or out
        of the rational range.

    Examples
    --------
    A 3 x 3 user tile, read back with tifffile (and rawpy, whose ``raw_image`` is the mosaic):

    >>> import pathlib, tempfile
    >>> import numpy as np, tifffile
    >>> from cfasim import write_dng
    >>> tile = np.array([[0, 1, 2], [1, 2, 0], [2, 0, 1]])
    >>> mosaic = np.random.default_rng(0).integers(64, 1023, (48, 48), dtype=np.uint16)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "mosaic.dng"
    >>> path = write_dng(out, mosaic, tile, black=64, white=1023)
    >>> with tifffile.TiffFile(path) as tif:
    ...     page = tif.pages[0]
    ...     same = bool((page.asarray() == mosaic).all())
    ...     dim = page.tags["CFARepeatPatternDim"].value
    >>> same, dim
    (True, (3, 3))
    """
    raw = np.asarray(raw)
    if raw.ndim != 2 or raw.size == 0 or raw.dtype != np.uint16:
        raise ConfigError(
            f"raw must be a non-empty (H, W) uint16 array, got {raw.dtype} {raw.shape} "
            "(convert codes with raw.astype(np.uint16) after checking their range)"
        )
    pattern = dng_pattern(pattern)
    tile = np.asarray(pattern.tile)
    py, px = tile.shape
    black, white = int(black), int(white)
    if not 0 <= black < white <= 65535:
        raise ConfigError(f"need 0 <= black < white <= 65535, got black {black}, white {white}")
    m = np.asarray(_XYZ2SRGB if xyz2cam is None else xyz2cam, dtype=np.float64)
    if m.shape != (3, 3):
        raise ConfigError(f"xyz2cam must be a (3, 3) matrix, got shape {m.shape}")
    neutral = np.asarray((1.0, 1.0, 1.0) if as_shot_neutral is None else as_shot_neutral)
    neutral = neutral.astype(np.float64)
    if neutral.shape != (3,) or not np.all(np.isfinite(neutral)) or np.any(neutral <= 0):
        raise ConfigError(f"as_shot_neutral must be three finite positive values, got {neutral}")

    planes = sorted(set(tile.ravel().tolist()))  # cfasim colour indices present (R, G, B[, W])
    if 3 in planes:  # W = mean of camera R, G, B (CFAPattern.mosaic)
        m = np.vstack([m, m.mean(axis=0)])
        neutral = np.append(neutral, neutral.mean())
    plane_codes = [DNG_COLOR_CODES[c] for c in planes]
    tags = [
        (TAG_DNG_VERSION, "B", 4, DNG_VERSION, True),
        (TAG_DNG_BACKWARD_VERSION, "B", 4, DNG_VERSION, True),
        (TAG_UNIQUE_CAMERA_MODEL, "s", 0, str(model), True),
        (TAG_CFA_REPEAT_PATTERN_DIM, "H", 2, (py, px), True),
        (TAG_CFA_PATTERN, "B", py * px, [DNG_COLOR_CODES[c] for c in tile.ravel()], True),
        (TAG_CFA_PLANE_COLOR, "B", len(plane_codes), plane_codes, True),
        (TAG_CFA_LAYOUT, "H", 1, 1, True),
        (TAG_BLACK_LEVEL_REPEAT_DIM, "H", 2, (1, 1), True),
        (TAG_BLACK_LEVEL, "I", 1, black, True),
        (TAG_WHITE_LEVEL, "I", 1, white, True),
        (TAG_COLOR_MATRIX1, "2i", m.size, _rationals(m, MATRIX_DENOMINATOR, "xyz2cam"), True),
        (TAG_CALIBRATION_ILLUMINANT1, "H", 1, ILLUMINANT_D65, True),
        (
            TAG_AS_SHOT_NEUTRAL,
            "2I",
            neutral.size,
            _rationals(neutral, NEUTRAL_DENOMINATOR, "as_shot_neutral"),
            True,
        ),
    ]
    if baseline_exposure is not None:
        ev = _rationals([baseline_exposure], MATRIX_DENOMINATOR, "baseline_exposure")
        tags.append((TAG_BASELINE_EXPOSURE, "2i", 1, ev, True))
    path = Path(path)
    tifffile.imwrite(
        path,
        raw,
        photometric=PHOTOMETRIC_CFA,
        subfiletype=0,
        software="cfasim",
        metadata=None,
        extratags=tags,
    )
    return path


def dng_pattern(pattern: CFAPattern | str | np.ndarray) -> CFAPattern:
    """The :class:`~cfasim.cfa.CFAPattern` of a :func:`write_dng` ``pattern`` argument (a
    pattern, a name or tile text, or a 2-D tile of colour indices), checked to fit a DNG.

    Raises
    ------
    cfasim.errors.ConfigError
        If it is not a valid CFA or its tile is larger than 8 x 8.
    """
    if not isinstance(pattern, CFAPattern):
        try:
            if isinstance(pattern, str):
                pattern = get_pattern(pattern)
            else:
                pattern = CFAPattern.from_tile(np.asarray(pattern))
        except ConfigError:
            raise
        except ValueError as err:
            raise ConfigError(f"not a CFA pattern for write_dng: {err}") from None
    check_dng_tile(pattern)
    return pattern


def check_dng_tile(pattern: CFAPattern) -> None:
    """Raise :class:`cfasim.errors.ConfigError` (one line) for a tile DNG cannot carry: more
    than :data:`MAX_CFA_PATTERN` rows or columns. A limit of DNG export only; cfasim itself takes
    tiles up to :data:`cfasim.cfa.MAX_PERIOD`."""
    py, px = pattern.period
    if py > MAX_CFA_PATTERN or px > MAX_CFA_PATTERN:
        raise ConfigError(
            f"CFA tile {py}x{px} of {pattern.label!r} is larger than DNG allows "
            f"({MAX_CFA_PATTERN}x{MAX_CFA_PATTERN}, the DNG SDK's kMaxCFAPattern): export-dng "
            "cannot write this dataset (the dataset itself is fine)"
        )


def _rationals(values, denominator: int, what: str) -> list[int]:
    """Flattened (numerator, denominator) pairs of ``values`` rounded to ``1 / denominator``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    num = np.round(v * denominator)
    if not np.all(np.isfinite(num)) or np.any(np.abs(num) > _INT32_MAX):
        raise ConfigError(
            f"{what} has values that do not fit a DNG rational with denominator {denominator}: "
            f"{v.tolist()}"
        )
    out: list[int] = []
    for n in num:
        out += [int(n), denominator]
    return out


# -- export from a dataset ----------------------------------------------------------------------


def parse_indices(text: str, count: int, name: str = "the split") -> range:
    """Parse a slice-like index text into a range of sample indices.

    Parameters
    ----------
    text
        ``"3"`` (one sample), ``"0:10"``, ``"0:10:2"``, ``"5:"`` (to the end), ``":4"``, ``":"``.
        Indices are non-negative; the stop is exclusive, as in Python.
    count
        Number of samples available (an open stop means ``count``).
    name
        What holds the samples, for error messages (e.g. ``"split 'train'"``).

    Returns
    -------
    range
        The selected indices (never empty).

    Raises
    ------
    ConfigError
        For text that is not of that form, a zero step, an empty selection, or indices outside
        ``[0, count)``; the message names ``name`` and its size.
    """
    match = _INDEX_TEXT.match(text) if isinstance(text, str) else None
    if match is None or (":" not in text and not match.group(1)):
        raise ConfigError(
            f"bad index text {text!r}: use N, START:STOP or START:STOP:STEP with non-negative "
            "integers (e.g. '3', '0:10', '0:10:2', '5:')"
        )
    start_s, stop_s, step_s = match.groups()
    size = f"{name} has {count} sample{'s' if count != 1 else ''}"
    start = int(start_s) if start_s else 0
    if ":" not in text:
        if start >= count:
            raise ConfigError(f"index {start} is out of range: {size} (valid 0..{count - 1})")
        return range(start, start + 1)
    stop = int(stop_s) if stop_s else count
    step = int(step_s) if step_s else 1
    if step == 0:
        raise ConfigError(f"bad index text {text!r}: the step must be positive")
    if stop > count or start >= count:
        raise ConfigError(
            f"indices {text!r} are out of range: {size} (valid 0..{count - 1}, stop <= {count})"
        )
    selected = range(start, stop, step)
    if len(selected) == 0:
        raise ConfigError(f"indices {text!r} select no samples ({size})")
    return selected


def export_dng(dataset_path, split: str, indices, out_dir, overwrite: bool = False) -> list[Path]:
    """Write samples of a cfasim dataset as DNG files ``{split}-{index:06d}.dng``.

    Parameters
    ----------
    dataset_path
        A complete cfasim Zarr store (see docs/dataset-format.md); read with plain zarr.
    split
        ``"train"``, ``"val"`` or ``"test"``.
    indices
        Index text for :func:`parse_indices` (``"0:10"``), one ``int``, or an iterable of ints.
    out_dir
        Output folder, created if missing.
    overwrite
        Replace existing files of the same names (otherwise they are refused, untouched).

    Returns
    -------
    list of pathlib.Path
        The written files, in index order.

    Raises
    ------
    cfasim.errors.DatasetError
        If it is not a complete cfasim store, holds real pairs, or the split is unknown.
    cfasim.errors.ConfigError
        If the indices are bad or out of range, the tile is larger than 8 x 8, ``out_dir`` is
        a file, or a file to write exists and ``overwrite`` is not set.

    Notes
    -----
    Each file holds the stored ``raw`` codes, the store's ``raw_format`` black and white levels,
    the sample's ``xyz2cam`` as ColorMatrix1, ``1 / wb_gains`` as AsShotNeutral and
    ``log2(digital_gain)`` as BaselineExposure (see the module docstring for what LibRaw reads).
    """
    from cfasim.data.reader import open_dataset

    ds = open_dataset(dataset_path)  # refuses foreign, unfinished and newer stores
    if not has_isp_params(ds.config):
        raise DatasetError(
            f"dataset {dataset_path} holds real captured pairs: their camera's colour matrix and "
            "white balance (required DNG tags ColorMatrix1, AsShotNeutral) are unknown"
        )
    sp = ds[split]
    count = len(sp)
    name = f"split {split!r}"
    if isinstance(indices, str):
        selected = list(parse_indices(indices, count, name))
    else:
        selected = [indices] if isinstance(indices, int | np.integer) else list(indices)
        if not selected:
            raise ConfigError(f"no indices given ({name} has {count} samples)")
        for i in selected:
            if not isinstance(i, int | np.integer) or not 0 <= i < count:
                raise ConfigError(
                    f"index {i!r} is out of range: {name} has {count} samples "
                    f"(valid 0..{count - 1})"
                )
    check_dng_tile(ds.pattern)  # before making the output folder
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; export-dng writes into a folder")
    names = [out / f"{split}-{int(i):06d}.dng" for i in selected]
    existing = [p for p in names if p.exists()]
    if existing and not overwrite:
        raise ConfigError(
            f"{existing[0]} already exists ({len(existing)} of the {len(names)} files); pass "
            f"--overwrite to replace them"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, name in zip(selected, names, strict=True):
        sample = sp[int(i)]
        digital = float(sample["digital_gain"])
        written.append(
            write_dng(
                name,
                sample["raw"],
                ds.pattern,
                ds.raw_format.black,
                ds.raw_format.white,
                sample["xyz2cam"],
                as_shot_neutral(sample["wb_gains"]),
                baseline_exposure=math.log2(digital) if digital > 0 else None,
            )
        )
    return written
