"""The calibration driver on arrays: :func:`calibrate` checks the frames and fits every value.

The fit runs in the order of the package docstring (:mod:`cfasim.sensor.calibration`), one
function per step: the frames are checked and cropped to whole CFA site periods
(:func:`_prepare`), each level's statistics become photon-transfer points
(:func:`_flat_points`), the conversion gain comes from the linear part of the PTC
(:func:`_conversion_gain`), the full well from the saturation plateau (:func:`_full_well`), dark
current, read, row noise and DSNU from the darks (:func:`_fit_darks`), PRNU from the linear
flat points (:func:`_prnu`); :func:`_result` gathers them into a :class:`Calibration`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cfasim.errors import CalibrationError
from cfasim.sensor.calibration.result import Calibration
from cfasim.sensor.calibration.stats import (
    COLLAPSE_FRACTION,
    DEFAULT_LINEAR_FRACTION,
    LevelStats,
    fit_prnu,
    fit_ptc,
    level_statistics,
)

Levels = list[tuple[float, list[np.ndarray]]]
"""Checked levels: ``[(exposure_time_s, [N >= 2 (H, W) arrays]), ...]``."""


def calibrate(
    flats,
    darks,
    *,
    black_level,
    white_level: int,
    bits: int,
    name: str = "calibrated",
    pixel_pitch_um: float | None = None,
    quantum_efficiency: float | None = None,
    sites: tuple[int, int] = (2, 2),
    linear_fraction: float = DEFAULT_LINEAR_FRACTION,
    adc_step_dn: float = 1.0,
) -> Calibration:
    """Fit conversion gain, read/row noise, full well, dark current, PRNU and DSNU.

    Parameters
    ----------
    flats
        Flat-field levels, ``[(exposure_time_s, frames), ...]``: ``frames`` a list of >= 2 (H, W)
        arrays or an (N, H, W) array of RAW codes, uniformly lit, one level per entry (two
        levels may share a time if the illumination differs), from dark to past saturation.
    darks
        Dark levels in the same form, at >= 2 distinct exposure times, >= 2 frames each.
    black_level
        Black level in DN: a number, a 2-D tile repeated over the frame (e.g. the 2 x 2
        per-site levels; a 4-vector is read as a 2 x 2 tile in raster order), or an (H, W) map.
    white_level, bits
        White (clip) level in DN and ADC bit depth.
    name
        Profile name.
    pixel_pitch_um, quantum_efficiency
        Not measurable from these frames; ``None`` puts placeholders into the profile.
    sites
        (py, px) period of the CFA sites statistics are computed on (2 x 2 for Bayer; (1, 1)
        for a uniform monochrome sensor). Frames are cropped to whole periods.
    linear_fraction
        PTC fit range: means up to this fraction of the mean at the variance peak.
    adc_step_dn
        Quantisation step of the codes (variance ``step**2 / 12`` is removed from read noise).

    Returns
    -------
    Calibration

    Raises
    ------
    CalibrationError
        For a level with fewer than 2 frames, frames of different sizes, fewer than 2 distinct
        dark times, fewer than 2 flat points in the linear range, or a non-positive PTC slope.
    """
    frames = _prepare(flats, darks, black_level, sites)
    points = _flat_points(frames)
    gain = _conversion_gain(points, linear_fraction)
    well = _full_well(points, gain, frames.white_site(white_level))
    dark = _fit_darks(frames, gain.slope, adc_step_dn)
    prnu = _prnu(points, gain, dark)
    return _result(
        frames,
        points,
        gain,
        well,
        dark,
        prnu,
        white_level=int(white_level),
        bits=int(bits),
        name=name,
        pixel_pitch_um=pixel_pitch_um,
        quantum_efficiency=quantum_efficiency,
        adc_step_dn=float(adc_step_dn),
    )


# ---------------------------------------------------------------------------------------------
# the frames


@dataclass(frozen=True, eq=False)
class _Frames:
    """Checked input: the levels, the black map cropped to whole site periods, the period."""

    flats: Levels
    darks: Levels
    black: np.ndarray  # (h, w)
    sites: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int]:
        """(h, w): the frame size used, whole site periods."""
        h, w = self.black.shape
        return int(h), int(w)

    def statistics(self, levels: Levels) -> list[LevelStats]:
        """:func:`level_statistics` of every level, on the cropped frames."""
        h, w = self.shape
        return [level_statistics(np.stack(s)[:, :h, :w], self.black, self.sites) for _, s in levels]

    def white_site(self, white_level) -> np.ndarray:
        """(py, px) white level above the mean black level of each site (DN)."""
        (h, w), (py, px) = self.shape, self.sites
        return float(white_level) - self.black.reshape(h // py, py, w // px, px).mean(axis=(0, 2))


def _prepare(flats, darks, black_level, sites) -> _Frames:
    """Check the levels, their sizes and dark times; crop the black map to whole periods."""
    flat_levels = _levels(flats, "flat")
    dark_levels = _levels(darks, "dark")
    shape = _common_shape(flat_levels, dark_levels)
    if len({t for t, _ in dark_levels}) < 2:
        raise CalibrationError(
            "darks need at least 2 distinct exposure times (dark current is the slope of the "
            "dark mean against time)"
        )
    py, px = (int(v) for v in sites)
    h, w = shape[0] - shape[0] % py, shape[1] - shape[1] % px
    if h < 2 * py or w < 2 * px:
        raise CalibrationError(f"frames of {shape[0]}x{shape[1]} are too small for sites {sites}")
    black = _black_map(black_level, shape)[:h, :w]
    return _Frames(flat_levels, dark_levels, black, (py, px))


def _levels(groups, what: str) -> Levels:
    """Validate ``[(t, frames), ...]`` into ``[(t, [N (H, W) arrays])]``."""
    if isinstance(groups, np.ndarray) or not isinstance(groups, Sequence) or not groups:
        raise CalibrationError(
            f"{what} must be a non-empty list of (exposure_time_s, frames) pairs"
        )
    return [_level(item, f"{what} level {i}") for i, item in enumerate(groups)]


def _level(item, where: str) -> tuple[float, list[np.ndarray]]:
    """One ``(t, frames)`` level (``where`` names it in errors, e.g. ``"flat level 3"``)."""
    try:
        t, frames = item
    except (TypeError, ValueError):
        raise CalibrationError(f"{where}: expected an (exposure_time_s, frames) pair") from None
    t = float(t)
    if not math.isfinite(t) or t < 0:
        raise CalibrationError(f"{where}: bad exposure time {t}")
    if isinstance(frames, np.ndarray):
        stack = [frames] if frames.ndim == 2 else list(frames)
    else:
        stack = [np.asarray(f) for f in frames]
    if len(stack) < 2:
        raise CalibrationError(
            f"{where} (t = {t:g} s) has {len(stack)} frame; at least 2 per level "
            "are needed (temporal noise is the variance over frames)"
        )
    for j, f in enumerate(stack):
        if f.ndim != 2:
            raise CalibrationError(
                f"{where} (t = {t:g} s) frame {j} is not a 2-D array ({f.shape})"
            )
    return t, stack


def _common_shape(flat_levels: Levels, dark_levels: Levels) -> tuple[int, ...]:
    """The size of the first flat frame, which every frame must have."""
    shape = flat_levels[0][1][0].shape
    for what, levels in (("flat", flat_levels), ("dark", dark_levels)):
        for i, (t, stack) in enumerate(levels):
            for j, f in enumerate(stack):
                if f.shape != shape:
                    raise CalibrationError(
                        f"{what} level {i} (t = {t:g} s) frame {j} is {f.shape[0]}x{f.shape[1]}, "
                        f"the first flat frame is {shape[0]}x{shape[1]}"
                    )
    return shape


def _black_map(black_level, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) black map from a number, a 2-D tile (a 4-vector is a 2 x 2 tile) or a map."""
    b = np.asarray(black_level, dtype=np.float64)
    if b.ndim == 1 and b.size == 4:
        b = b.reshape(2, 2)
    if b.ndim == 0:
        return np.full(shape, float(b))
    if b.ndim != 2 or b.shape[0] > shape[0] or b.shape[1] > shape[1]:
        raise CalibrationError(
            f"black_level must be a number, a 2-D tile or an (H, W) map, got shape {b.shape}"
        )
    reps = (-(-shape[0] // b.shape[0]), -(-shape[1] // b.shape[1]))
    return np.tile(b, reps)[: shape[0], : shape[1]]


# ---------------------------------------------------------------------------------------------
# the fits


@dataclass(frozen=True, eq=False)
class _FlatPoints:
    """The photon-transfer points: per flat level (L) and CFA site (S), ``(L, S)`` arrays."""

    times: np.ndarray  # (L,)
    mean: np.ndarray
    temporal: np.ndarray
    pixel: np.ndarray
    fixed: np.ndarray
    n_frames: np.ndarray
    dof_temporal: np.ndarray
    dof_fixed: np.ndarray


def _flat_points(frames: _Frames) -> _FlatPoints:
    """The statistics of the flat levels as (L, S) arrays."""
    stats = frames.statistics(frames.flats)
    per_site = np.ones((1, frames.sites[0] * frames.sites[1]))
    return _FlatPoints(
        times=np.array([t for t, _ in frames.flats]),
        mean=np.array([s.mean for s in stats]),
        temporal=np.array([s.temporal_var for s in stats]),
        pixel=np.array([s.pixel_var for s in stats]),
        fixed=np.array([s.fixed_var for s in stats]),
        n_frames=np.array([s.n_frames for s in stats])[:, None] * per_site,
        dof_temporal=np.array([s.dof_temporal for s in stats])[:, None] * per_site,
        dof_fixed=np.array([s.dof_fixed for s in stats])[:, None] * per_site,
    )


@dataclass(frozen=True, eq=False)
class _Gain:
    """The PTC line over its linear part and the variance peak it was bounded by."""

    slope: float  # K, DN per electron
    intercept: float  # DN^2
    linear: np.ndarray  # (L, S) points of the fit
    peak_idx: np.ndarray  # (S,) level of the variance peak per site
    peak_mean: np.ndarray  # (S,) mean at the variance peak


def _conversion_gain(points: _FlatPoints, linear_fraction: float) -> _Gain:
    """K: the weighted PTC slope over the points below ``linear_fraction`` of the peak mean."""
    mean, temporal = points.mean, points.temporal
    peak_idx = np.argmax(temporal, axis=0)  # (S,)
    peak_mean = mean[peak_idx, np.arange(mean.shape[1])]
    linear = mean <= linear_fraction * peak_mean[None, :]
    if int(linear.sum()) < 2 or np.ptp(mean[linear]) <= 0:
        raise CalibrationError(
            f"fewer than 2 flat points below {linear_fraction:.0%} of the PTC variance peak "
            f"(peak means per site {np.round(peak_mean, 1).tolist()} DN): add darker flat levels"
        )
    k, intercept = fit_ptc(mean[linear], temporal[linear], points.dof_temporal[linear])
    if not k > 0:
        raise CalibrationError(f"the PTC slope is not positive ({k:.4g}); check the flats")
    return _Gain(k, intercept, linear, peak_idx, peak_mean)


@dataclass(frozen=True, eq=False)
class _FullWell:
    """The full well, how it was found, the EMVA 1288 point and the saturated points."""

    electrons: float
    method: str
    ptc_peak_e: float
    saturated: np.ndarray  # (L, S)


def _full_well(points: _FlatPoints, gain: _Gain, white_site: np.ndarray) -> _FullWell:
    """Full well from the saturation plateau, else the variance peak (a lower bound)."""
    k, mean = gain.slope, points.mean
    line = k * mean + gain.intercept
    after_peak = np.arange(len(points.times))[:, None] > gain.peak_idx[None, :]
    saturated = after_peak & (points.temporal < COLLAPSE_FRACTION * np.maximum(line, 1e-12))
    ptc_peak_e = float(np.median(gain.peak_mean)) / k
    plateau = [
        (float(mean[saturated[:, s], s].max()), float(white_site.ravel()[s]))
        for s in range(mean.shape[1])
        if saturated[:, s].any()
    ]
    if not plateau:
        return _FullWell(ptc_peak_e, "variance peak (lower bound)", ptc_peak_e, saturated)
    full_well = float(np.median([m for m, _ in plateau])) / k
    adc = all(m >= wsite - 1.0 for m, wsite in plateau)
    method = "plateau (ADC white level)" if adc else "plateau"
    return _FullWell(full_well, method, ptc_peak_e, saturated)


@dataclass(frozen=True, eq=False)
class _DarkFit:
    """Per dark time (M) the statistics averaged over sites, and the values fitted from them."""

    times: np.ndarray  # (M,)
    mean: np.ndarray
    temporal: np.ndarray
    pixel: np.ndarray
    fixed: np.ndarray
    row: np.ndarray
    slope_dn: float  # dark mean against time, DN/s
    offset_dn: float  # its intercept, DN
    current: float  # e-/s
    read2: float  # variances in e-^2
    row2: float
    dsnu2: float


def _fit_darks(frames: _Frames, k: float, adc_step_dn: float) -> _DarkFit:
    """Dark current, read noise, row noise and DSNU (as variances) from the darks."""
    stats = frames.statistics(frames.darks)
    times = np.array([t for t, _ in frames.darks])
    mean = np.array([s.mean.mean() for s in stats])
    pixel = np.array([s.pixel_var.mean() for s in stats])
    fixed = np.array([s.fixed_var.mean() for s in stats])
    row = np.array([s.row_var for s in stats])
    slope_dn, offset_dn = np.polyfit(times, mean, 1)
    current = float(slope_dn) / k
    q = adc_step_dn**2 / 12.0
    return _DarkFit(
        times=times,
        mean=mean,
        temporal=np.array([s.temporal_var.mean() for s in stats]),
        pixel=pixel,
        fixed=fixed,
        row=row,
        slope_dn=slope_dn,
        offset_dn=offset_dn,
        current=current,
        read2=np.mean((pixel - q) / k**2 - current * times),
        row2=np.mean(row) / k**2,
        dsnu2=np.mean(fixed) / k**2,
    )


def _prnu(points: _FlatPoints, gain: _Gain, dark: _DarkFit) -> float:
    """PRNU from the linear flat points with a positive photo-signal (0 if there are none)."""
    k = gain.slope
    dark_signal = dark.offset_dn + dark.slope_dn * points.times  # (L,)
    photo = points.mean - dark_signal[:, None]
    use = gain.linear & (photo > 0)
    if not use.any():
        return 0.0
    return fit_prnu(
        photo[use],
        points.fixed[use] - k**2 * max(dark.dsnu2, 0.0),
        points.fixed[use],
        points.pixel[use],
        points.n_frames[use],
        points.dof_fixed[use],
    )


def _sigma(variance) -> float:
    """Standard deviation of a fitted variance, clamped at 0."""
    return math.sqrt(max(float(variance), 0.0))


def _result(frames, points, gain, well, dark, prnu, **given) -> Calibration:
    """The :class:`Calibration` of the fitted steps (``given``: the values passed through)."""
    return Calibration(
        conversion_gain=gain.slope,
        ptc_intercept_dn2=gain.intercept,
        read_noise_e=_sigma(dark.read2),
        row_noise_e=_sigma(dark.row2),
        dsnu_e=_sigma(dark.dsnu2),
        full_well_e=well.electrons,
        full_well_method=well.method,
        ptc_peak_e=well.ptc_peak_e,
        dark_current_e_per_s=dark.current,
        dark_offset_dn=float(dark.offset_dn),
        prnu=prnu,
        flat_times=points.times,
        dark_times=dark.times,
        ptc_mean=points.mean,
        ptc_temporal_var=points.temporal,
        ptc_spatial_var=points.fixed,
        ptc_linear=gain.linear,
        ptc_saturated=well.saturated,
        dark_mean=dark.mean,
        dark_temporal_var=dark.temporal,
        dark_pixel_var=dark.pixel,
        dark_spatial_var=dark.fixed,
        dark_row_var=dark.row,
        black_level=frames.black,
        frame_shape=frames.shape,
        sites=frames.sites,
        flat_frames=tuple(len(s) for _, s in frames.flats),
        dark_frames=tuple(len(s) for _, s in frames.darks),
        **given,
    )
