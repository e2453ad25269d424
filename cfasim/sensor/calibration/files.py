"""Calibration from RAW files: :func:`calibrate_files` reads, groups and checks the frames.

The files are read and grouped into levels by exposure time
(:func:`~cfasim.sensor.calibration.frames.group_by_exposure_time`), checked to come from one
camera at one ISO (one frame size, one white level), brought to one black map, and handed to
:func:`~cfasim.sensor.calibration.fit.calibrate`.
"""

from __future__ import annotations

import numpy as np

from cfasim.errors import CalibrationError
from cfasim.sensor.calibration.fit import calibrate
from cfasim.sensor.calibration.frames import CalibrationFrame, group_by_exposure_time
from cfasim.sensor.calibration.result import Calibration
from cfasim.sensor.calibration.stats import DEFAULT_LINEAR_FRACTION


def calibrate_files(
    flat_paths,
    dark_paths,
    *,
    name: str = "calibrated",
    pixel_pitch_um: float | None = None,
    quantum_efficiency: float | None = None,
    bits: int | None = None,
    sites: tuple[int, int] | None = None,
    linear_fraction: float = DEFAULT_LINEAR_FRACTION,
    adc_step_dn: float = 1.0,
) -> Calibration:
    """:func:`~cfasim.sensor.calibration.fit.calibrate` on RAW files read with rawpy.

    Flats and darks are grouped into levels by exposure time: the file's EXIF ExposureTime
    (exact with tifffile for TIFF-based files, LibRaw's value otherwise), else a time in the file
    name (:func:`~cfasim.sensor.calibration.frames.exposure_time_from_name`, e.g. ``_t0.01s`` or
    ``_10ms``); times are compared to 6 significant digits. The metadata wins when both exist.
    Each level needs >= 2 files. Frames are ``raw_image_visible``; black levels are rawpy's
    per-colour levels placed on every pixel; the white level is the file's. Files whose black
    maps differ (cameras that measure black from masked pixels) are shifted to the mean black
    map.

    Parameters
    ----------
    flat_paths, dark_paths
        RAW files (any format LibRaw reads), all from one camera at one ISO.
    bits
        ADC bit depth; None: the bit length of the white level (4095 -> 12).
    sites
        CFA site period; None: the shape of rawpy's ``raw_pattern`` ((2, 2) for Bayer).
    name, pixel_pitch_um, quantum_efficiency, linear_fraction, adc_step_dn
        As for :func:`~cfasim.sensor.calibration.fit.calibrate`.

    Returns
    -------
    Calibration
        Its ``sources`` maps each path to where its exposure time came from.

    Raises
    ------
    CalibrationError
        Naming the file: unreadable, no exposure time, a size or white level different from
        the first flat, or the only frame of its level.
    """
    flat_groups, flat_sources = group_by_exposure_time(flat_paths, "flat")
    dark_groups, dark_sources = group_by_exposure_time(dark_paths, "dark")
    first = flat_groups[0][1][0]
    frames = [f for _, fs in flat_groups + dark_groups for f in fs]
    _check_one_camera(frames, first)
    black, shift = _common_black(frames, first)
    result = calibrate(
        _levels(flat_groups, black, shift),
        _levels(dark_groups, black, shift),
        black_level=black,
        white_level=first.white,
        bits=int(bits) if bits is not None else max(1, int(first.white).bit_length()),
        name=name,
        pixel_pitch_um=pixel_pitch_um,
        quantum_efficiency=quantum_efficiency,
        sites=sites if sites is not None else first.sites,
        linear_fraction=linear_fraction,
        adc_step_dn=adc_step_dn,
    )
    result.sources.update(flat_sources)
    result.sources.update(dark_sources)
    return result


def _check_one_camera(frames: list[CalibrationFrame], first: CalibrationFrame) -> None:
    """Every frame has the size and white level of the first flat."""
    for f in frames:
        if f.mosaic.shape != first.mosaic.shape:
            raise CalibrationError(
                f"{f.path}: frame size {f.mosaic.shape[0]}x{f.mosaic.shape[1]} differs from "
                f"{first.path} ({first.mosaic.shape[0]}x{first.mosaic.shape[1]})"
            )
        if f.white != first.white:
            raise CalibrationError(
                f"{f.path}: white level {f.white} differs from {first.path} ({first.white}); "
                "all frames must be taken at one ISO"
            )


def _common_black(
    frames: list[CalibrationFrame], first: CalibrationFrame
) -> tuple[np.ndarray, bool]:
    """The frames' black map and whether they must be shifted to it: the one map they share,
    or the mean of their maps where they differ."""
    if all(np.array_equal(f.black, first.black) for f in frames):
        return first.black, False
    return np.mean([f.black for f in frames], axis=0), True


def _levels(groups, black: np.ndarray, shift: bool) -> list[tuple[float, list[np.ndarray]]]:
    """``[(t, mosaics)]`` for :func:`~cfasim.sensor.calibration.fit.calibrate`; with ``shift``
    each frame is moved from its own black map to ``black``."""
    if not shift:
        return [(t, [f.mosaic for f in fs]) for t, fs in groups]
    return [(t, [f.mosaic - f.black + black for f in fs]) for t, fs in groups]
