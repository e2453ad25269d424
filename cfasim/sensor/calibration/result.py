"""The result of a photon-transfer calibration: :class:`Calibration`, its profile and summary.

:meth:`Calibration.profile` turns the fitted values into a
:class:`~cfasim.sensor.profile.SensorProfile` whose notes say how each number was measured (or
that it is a placeholder); :meth:`Calibration.summary` is a short text table;
:meth:`Calibration.plot` draws the photon-transfer plot (:mod:`cfasim.sensor.calibration.plot`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfasim.sensor.calibration.plot import plot_photon_transfer
from cfasim.sensor.calibration.stats import COLLAPSE_FRACTION
from cfasim.sensor.profile import SensorProfile

PLACEHOLDER_PITCH_UM = 1.0
"""Pixel pitch (um) put into a profile when none is given (not measurable from the frames)."""

PLACEHOLDER_QE = 0.5
"""Quantum efficiency put into a profile when none is given (needs a calibrated light source)."""


@dataclass(frozen=True, eq=False)
class Calibration:
    """Result of a calibration: fitted sensor values and the photon-transfer points.

    Made by :func:`~cfasim.sensor.calibration.fit.calibrate`.

    Attributes
    ----------
    conversion_gain : K in DN per electron (PTC slope).
    ptc_intercept_dn2 : PTC intercept (signal-independent variance at zero signal), DN^2.
    read_noise_e, row_noise_e, dsnu_e : standard deviations in electrons.
    full_well_e : full-well (saturation) capacity in electrons, see ``full_well_method``.
    full_well_method : ``"plateau"``, ``"plateau (ADC white level)"`` or ``"variance peak
        (lower bound)"``.
    ptc_peak_e : EMVA 1288 saturation point: the mean at the PTC variance peak / K (median over
        sites).
    dark_current_e_per_s : dark current in electrons per second.
    dark_offset_dn : intercept of the dark mean against exposure time (black-level error), DN.
    prnu : relative standard deviation of the pixel response (0.01 = 1 %).
    flat_times, dark_times : (L,), (M,) exposure times in seconds.
    ptc_mean, ptc_temporal_var, ptc_spatial_var : (L, S) per flat level and CFA site: mean
        signal above black (DN), temporal variance (DN^2), fixed-pattern variance (DN^2).
    ptc_linear, ptc_saturated : (L, S) bool: points used for the K and PRNU fits; points on the
        saturation plateau.
    dark_mean, dark_temporal_var, dark_pixel_var, dark_spatial_var, dark_row_var : (M,) per
        dark time, averaged over sites (DN, DN^2).
    black_level : (H, W) black map used; white_level, bits : ADC levels.
    frame_shape, sites : frame size used (cropped to whole site periods) and site period.
    flat_frames, dark_frames : frames per level.
    name, pixel_pitch_um, quantum_efficiency : for :meth:`profile` (None: placeholder).
    adc_step_dn : quantisation step (1 DN).
    sources : file path -> where its exposure time came from (files only, see
        :func:`~cfasim.sensor.calibration.files.calibrate_files`).
    """

    conversion_gain: float
    ptc_intercept_dn2: float
    read_noise_e: float
    row_noise_e: float
    dsnu_e: float
    full_well_e: float
    full_well_method: str
    ptc_peak_e: float
    dark_current_e_per_s: float
    dark_offset_dn: float
    prnu: float
    flat_times: np.ndarray
    dark_times: np.ndarray
    ptc_mean: np.ndarray
    ptc_temporal_var: np.ndarray
    ptc_spatial_var: np.ndarray
    ptc_linear: np.ndarray
    ptc_saturated: np.ndarray
    dark_mean: np.ndarray
    dark_temporal_var: np.ndarray
    dark_pixel_var: np.ndarray
    dark_spatial_var: np.ndarray
    dark_row_var: np.ndarray
    black_level: np.ndarray
    white_level: int
    bits: int
    frame_shape: tuple[int, int]
    sites: tuple[int, int]
    flat_frames: tuple[int, ...]
    dark_frames: tuple[int, ...]
    name: str = "calibrated"
    pixel_pitch_um: float | None = None
    quantum_efficiency: float | None = None
    adc_step_dn: float = 1.0
    sources: dict = field(default_factory=dict)

    @property
    def saturation_dn(self) -> float:
        """Mean signal above black at saturation, ``K * full_well_e`` (DN)."""
        return self.conversion_gain * self.full_well_e

    @property
    def black_level_dn(self) -> int:
        """The black level as one integer (rounded mean of the black map)."""
        return round(float(np.mean(self.black_level)))

    def _where(self) -> str:
        """The frame size used, e.g. ``"1024x64 px"``."""
        h, w = self.frame_shape
        return f"{h}x{w} px"

    def _flats_text(self) -> str:
        """The flat frames, for the notes: count, levels, size."""
        n_flat = sum(self.flat_frames)
        return f"{n_flat} flat frames at {len(self.flat_frames)} levels ({self._where()})"

    def _darks_text(self) -> str:
        """The dark frames, for the notes: count, exposure times, size."""
        n_dark = sum(self.dark_frames)
        return f"{n_dark} dark frames at {len(self.dark_frames)} exposure times " + (
            f"{', '.join(f'{t:g}' for t in self.dark_times)} s ({self._where()})"
        )

    def profile(self, description: str | None = None) -> SensorProfile:
        """The fitted values as a :class:`~cfasim.sensor.profile.SensorProfile`.

        The profile's white level is the saturation level of the frames, ``black + round(K *
        full_well)`` (at most the file's white level), so that the profile's conversion gain at
        its base ISO, ``(white - black) / full_well``, equals the measured K: cfasim maps the
        full well to the white level at base ISO, and the profile describes the camera at the
        gain the frames were taken at. Pixel pitch and QE come from the arguments of
        :func:`~cfasim.sensor.calibration.fit.calibrate` or are placeholders (see the notes);
        ``adc_noise_dn`` is 0 (all signal-independent noise is in ``read_noise_e``); the read
        noise is Gaussian.
        """
        black = self.black_level_dn
        white = min(int(self.white_level), black + max(1, round(self.saturation_dn)))
        notes = {**self._gain_notes(), **self._noise_notes(), **self._format_notes()}
        notes.update(self._given_notes())
        if description is None:
            description = (
                f"photon-transfer calibration (EMVA 1288 style) from {sum(self.flat_frames)} flat "
                f"and {sum(self.dark_frames)} dark frames ({self._where()}); base ISO = the gain "
                "the frames were taken at"
            )
        return SensorProfile(
            name=self.name,
            description=description,
            pixel_pitch_um=float(self.pixel_pitch_um or PLACEHOLDER_PITCH_UM),
            quantum_efficiency=float(self.quantum_efficiency or PLACEHOLDER_QE),
            full_well_e=float(self.full_well_e),
            bits=int(self.bits),
            black_level_dn=black,
            white_level_dn=white,
            read_noise_e=float(self.read_noise_e),
            adc_noise_dn=0.0,
            read_noise_distribution="gaussian",
            row_noise_e=float(self.row_noise_e),
            dark_current_e_per_s=float(self.dark_current_e_per_s),
            exposure_time_s=float(np.median(self.flat_times)),
            prnu=float(self.prnu),
            dsnu_e=float(self.dsnu_e),
            notes=notes,
        )

    def _gain_notes(self) -> dict[str, str]:
        """Notes of the values read off the PTC: conversion gain and full well."""
        flats = self._flats_text()
        n_lin = int(self.ptc_linear.sum())
        sites = "x".join(map(str, self.sites))
        return {
            "conversion_gain": (
                f"measured K = {self.conversion_gain:.6g} DN/e- (weighted least-squares slope of "
                f"temporal variance vs mean over {n_lin} linear PTC points, {sites} CFA sites, "
                f"from {flats}); the profile reproduces it at base ISO through white_level_dn"
            ),
            "full_well_e": (
                f"{self.full_well_method}: mean signal of the saturated flat levels (temporal "
                f"variance collapsed below {COLLAPSE_FRACTION:.0%} of the PTC line) / K, from "
                f"{flats}; EMVA 1288 variance-peak saturation point {self.ptc_peak_e:.6g} e-"
                if self.full_well_method.startswith("plateau")
                else f"{self.full_well_method}: mean at the PTC variance peak / K (no flat "
                f"level reached the saturation plateau), from {flats}"
            ),
        }

    def _noise_notes(self) -> dict[str, str]:
        """Notes of the noise values: read, row, dark current, DSNU, PRNU."""
        darks = self._darks_text()
        n_lin = int(self.ptc_linear.sum())
        return {
            "read_noise_e": (
                f"dark temporal variance with row means removed (row noise excluded), minus "
                f"quantisation {self.adc_step_dn:g}^2/12 DN^2, / K^2, minus dark-current shot "
                f"noise; mean of the variances over {darks}; Gaussian assumed"
            ),
            "row_noise_e": (
                "variance over frames of full-width row means minus the pixel part "
                f"(pixel variance / width), / K^2; mean over {darks}"
            ),
            "dark_current_e_per_s": (
                f"slope of dark mean vs exposure time / K (offset {self.dark_offset_dn:.4g} DN "
                f"at t = 0); {darks}"
            ),
            "dsnu_e": (
                "spatial variance of the mean dark frame (row means removed) minus its "
                f"temporal part / N, / K^2; mean over sites and {darks}"
            ),
            "prnu": (
                "weighted least-squares fit of (mean-flat spatial variance - temporal/N - "
                f"K^2 DSNU^2) = PRNU^2 * photo-signal^2 over {n_lin} linear PTC points, from "
                f"{self._flats_text()}"
            ),
        }

    def _format_notes(self) -> dict[str, str]:
        """Notes of the ADC format and of the values fixed by assumption."""
        return {
            "bits": f"ADC bit depth {self.bits} (argument or from the file's white level)",
            "black_level_dn": (
                "rounded mean of the black level map "
                f"(per site: {sorted({float(v) for v in np.unique(self.black_level)})[:8]})"
            ),
            "white_level_dn": (
                f"saturation level of the frames, black + round(K * full well) capped at the "
                f"file's white level {self.white_level}, so that the profile's conversion gain "
                f"at base ISO equals the measured K"
            ),
            "adc_noise_dn": (
                "0: post-gain noise cannot be separated from read noise with frames at one gain; "
                "all signal-independent noise is in read_noise_e"
            ),
            "read_noise_distribution": "gaussian assumed (distribution shape not fitted)",
            "exposure_time_s": "median exposure time of the flat levels",
        }

    def _given_notes(self) -> dict[str, str]:
        """Notes of pixel pitch and QE: given, or placeholders to replace."""
        notes = {}
        if self.pixel_pitch_um is None:
            notes["pixel_pitch_um"] = (
                f"PLACEHOLDER {PLACEHOLDER_PITCH_UM} um: not measurable from dark and flat "
                "frames; set it from the datasheet (base ISO depends on it)"
            )
        else:
            notes["pixel_pitch_um"] = "given (not measured)"
        if self.quantum_efficiency is None:
            notes["quantum_efficiency"] = (
                f"PLACEHOLDER {PLACEHOLDER_QE}: needs a calibrated light source (irradiance); "
                "set it before relying on the ISO scale (base ISO depends on it)"
            )
        else:
            notes["quantum_efficiency"] = "given (not measured)"
        return notes

    def summary(self) -> str:
        """A short text table of the fitted values."""
        rows = [
            ("conversion gain K", f"{self.conversion_gain:.5g} DN/e-"),
            ("read noise", f"{self.read_noise_e:.4g} e-"),
            ("row noise", f"{self.row_noise_e:.4g} e-"),
            ("full well", f"{self.full_well_e:.5g} e- ({self.full_well_method})"),
            ("PTC peak (EMVA)", f"{self.ptc_peak_e:.5g} e-"),
            ("dark current", f"{self.dark_current_e_per_s:.4g} e-/s"),
            ("PRNU", f"{100 * self.prnu:.4g} %"),
            ("DSNU", f"{self.dsnu_e:.4g} e-"),
            ("frames", f"{sum(self.flat_frames)} flat, {sum(self.dark_frames)} dark"),
        ]
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Write the photon-transfer plot as PNG (or PDF / SVG by the suffix of ``path``;
        matplotlib, Agg, imported when called).

        See :func:`cfasim.sensor.calibration.plot.plot_photon_transfer` for what it shows.

        Returns
        -------
        pathlib.Path
            The written file.
        """
        return plot_photon_transfer(self, path)
