"""Calibration frames from RAW files and their exposure times (EXIF, LibRaw or the file name).

:func:`read_calibration_frame` reads one file's visible mosaic, black map, white level and CFA
site period, and its exposure time: the EXIF ExposureTime (exact, with tifffile, for TIFF-based
files), else LibRaw's shutter value; :func:`exposure_time_from_name` reads a time written in a
file name; :func:`group_by_exposure_time` reads files into levels of one exposure time each.

The files are opened with rawpy here, not with the project's RAW reader
:func:`cfasim.source.raw.read_raw`, which cannot serve calibration: it accepts only 2 x 2 Bayer
RGB mosaics (a calibration takes any CFA mosaic LibRaw decodes, e.g. X-Trans, with the site
period of rawpy's ``raw_pattern``), its :class:`~cfasim.source.raw.RawFrame` has no exposure
time (LibRaw's shutter value is the fallback for CR3, RAF... files without TIFF tags), and it
raises :class:`~cfasim.errors.RawFormatError` where calibration reports a
:class:`~cfasim.errors.CalibrationError` naming the file. All rawpy access of this package is in
:func:`_read_mosaic`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cfasim.errors import CalibrationError, RawFormatError
from cfasim.source.raw import read_mosaic

_TIME_IN_NAME = re.compile(
    r"(?:^|[_\-\s.])t?(\d+(?:\.\d*)?|\.\d+)(s|ms|us|µs)(?=$|[_\-\s.])", re.IGNORECASE
)
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}
_TAG_EXPOSURE_TIME = 33434
_TAG_EXIF_IFD = 34665
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


@dataclass(frozen=True, eq=False)
class CalibrationFrame:
    """One RAW file read for calibration by :func:`read_calibration_frame`.

    Attributes
    ----------
    path : the file.
    mosaic : (H, W) uint16 visible RAW codes (rawpy ``raw_image_visible``).
    black : (H, W) float64 black level of every pixel (``black_level_per_channel`` mapped
        through ``raw_colors_visible``).
    white : white level (rawpy ``white_level``).
    sites : shape of rawpy's ``raw_pattern`` ((1, 1) when there is none).
    exposure_time_s : exposure time in seconds, or None when the file has none.
    time_source : ``"exif"`` (tifffile, exact rational), ``"libraw"`` (rawpy's shutter value)
        or ``"none"``.
    """

    path: Path
    mosaic: np.ndarray
    black: np.ndarray
    white: int
    sites: tuple[int, int]
    exposure_time_s: float | None
    time_source: str


def _round_time(t: float) -> float:
    """Exposure times to 6 significant digits, so 1/100 from a rational and from LibRaw's
    float32 agree."""
    return float(f"{t:.6g}")


def exposure_time_from_name(path: str | os.PathLike[str]) -> float | None:
    """Exposure time written in a file name, or None.

    A token of the file name delimited by ``_``, ``-``, ``.``, a space or the ends: an optional
    ``t``, a decimal number and a unit ``s``, ``ms``, ``us`` or ``µs`` (case-insensitive), e.g.
    ``flat_t0.01s_3.dng`` (0.01 s), ``dark-10ms-1.dng`` (0.01 s), ``f_500us.nef``.

    Raises
    ------
    CalibrationError
        If the name holds two different times (ambiguous).
    """
    found = {
        _round_time(float(m.group(1)) * _TIME_UNITS[m.group(2).lower()])
        for m in _TIME_IN_NAME.finditer(Path(path).name)
    }
    if len(found) > 1:
        raise CalibrationError(
            f"{path}: the file name holds several exposure times {sorted(found)}; rename it"
        )
    return found.pop() if found else None


def _exif_exposure_time(path: Path) -> float | None:
    """ExposureTime (33434) of a TIFF-based RAW (DNG, NEF, CR2, ARW...): IFD0, else EXIF IFD."""
    value = _exif_exposure_value(path)
    try:
        t = value[0] / value[1] if isinstance(value, tuple | list) else float(value)
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    return _round_time(t) if math.isfinite(t) and t > 0 else None


def _exif_exposure_value(path: Path):
    """The raw ExposureTime tag value (a rational pair or a number), None if there is none."""
    try:
        with open(path, "rb") as f:
            if f.read(4) not in _TIFF_MAGICS:
                return None
        import tifffile

        with tifffile.TiffFile(path) as tif:
            tags = tif.pages.first.tags
            value = tags.valueof(_TAG_EXPOSURE_TIME)
            if value is None:
                exif = tags.valueof(_TAG_EXIF_IFD)
                if isinstance(exif, dict):
                    value = exif.get("ExposureTime")
    except Exception:
        return None
    return value


def read_calibration_frame(path: str | os.PathLike[str]) -> CalibrationFrame:
    """Read one RAW file (any format LibRaw reads) for calibration.

    The exposure time comes from the file's EXIF ExposureTime, read exactly with tifffile for
    TIFF-based files (DNG, NEF, CR2, ARW, PEF...), else LibRaw's shutter value (CR3, RAF...);
    :attr:`CalibrationFrame.exposure_time_s` is None when the file has neither (the caller then
    tries the file name).

    Raises
    ------
    CalibrationError
        Naming the file, if it cannot be read or decoded or is not a CFA mosaic.
    """
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: no such file")
    mosaic, black, white, sites, shutter = _read_mosaic(path)
    t, source = _exposure_time(path, shutter)
    return CalibrationFrame(path, mosaic, black, white, sites, t, source)


def _read_mosaic(path: Path) -> tuple[np.ndarray, np.ndarray, int, tuple[int, ...], float]:
    """(mosaic, black map, white, site period, LibRaw shutter value) of one file, read by the
    project's one rawpy reader (:func:`cfasim.source.raw.read_mosaic`)."""
    try:
        m = read_mosaic(path)
    except RawFormatError as err:
        raise CalibrationError(f"{path}: unusable RAW file ({err.reason})") from err
    return m.mosaic, m.black, m.white, m.sites, m.shutter_s


def _exposure_time(path: Path, shutter: float) -> tuple[float | None, str]:
    """The exposure time and its source: EXIF, else LibRaw's shutter value, else none."""
    t = _exif_exposure_time(path)
    if t is not None:
        return t, "exif"
    if math.isfinite(shutter) and shutter > 0:
        return _round_time(shutter), "libraw"
    return None, "none"


def group_by_exposure_time(
    paths, what: str
) -> tuple[list[tuple[float, list[CalibrationFrame]]], dict[str, str]]:
    """Read files and group them into levels by exposure time.

    Parameters
    ----------
    paths
        The RAW files.
    what
        ``"flat"`` or ``"dark"``, for the messages.

    Returns
    -------
    tuple
        ``[(t, frames), ...]`` sorted by time, and each path's time source (``"exif"``,
        ``"libraw"`` or ``"file name"``).

    Raises
    ------
    CalibrationError
        For no files, an unreadable file, a file without exposure time, or a level of one file.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise CalibrationError(f"no {what} files given")
    groups: dict[float, list[CalibrationFrame]] = {}
    sources: dict[str, str] = {}
    for p in paths:
        frame = read_calibration_frame(p)
        t, source = frame.exposure_time_s, frame.time_source
        if t is None:
            t, source = exposure_time_from_name(p), "file name"
        if t is None:
            raise CalibrationError(
                f"{p}: no exposure time: the file has no EXIF ExposureTime and its name holds "
                "none (name it like flat_t0.01s_1.dng or dark_10ms_1.dng)"
            )
        sources[str(p)] = source
        groups.setdefault(t, []).append(frame)
    out = sorted(groups.items())
    for t, frames in out:
        if len(frames) < 2:
            raise CalibrationError(
                f"{what} level t = {t:g} s has only one frame ({frames[0].path}); at least 2 "
                "frames per exposure time are needed"
            )
    return out, sources
