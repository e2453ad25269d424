"""Fit a :class:`~cfasim.sensor.profile.SensorProfile` from real RAW frames (photon transfer).

The procedure follows EMVA 1288 (photon-transfer analysis) and the calibration of Wei et al.
(ELD, CVPR 2020): flat-field frames at several exposure levels from dark to past saturation,
at least two frames per level, and dark frames (lens cap) at two or more exposure times, at
least two frames per time, all at one ISO / analog gain. The noise model assumed is, per pixel,
in electrons ``e`` and DN ``D``::

    D = B + K * (min(Poisson(mu * (1 + prnu * n_p) + dark * t), full_well)
                 + dsnu * n_d + read * N(0, 1) + row * N_row(0, 1)) + quantisation

with ``n_p``, ``n_d`` fixed per pixel and ``N_row`` one draw per row per frame; codes clip to
``[0, white]``.

Statistics (all in DN; ``N`` frames of a level; each frame split into its CFA *sites*, the
``py x px`` sub-planes of the pattern period, each ``Hs x Ws`` pixels, so that colour-filtered
light or per-colour black levels never mix different means):

* ``mean`` -- per site, the mean of ``frame - black`` over frames and pixels.
* temporal variance ``v`` -- per site, each frame's site mean is removed (cancels flicker and
  black drift), then the per-pixel unbiased variance over the ``N`` frames is averaged over the
  pixels (for ``N = 2`` this is half the variance of the difference of the two frames): fixed
  pattern cancels, row noise is included.
* pixel temporal variance ``v_pix`` -- the same after removing each frame's row means within the
  site, normalised by ``(N - 1) * Hs * (Ws - 1)`` so that it is unbiased for the per-pixel
  (row-free) temporal variance.
* fixed-pattern (spatial) variance ``s`` -- the mean of the ``N`` frames with its row means
  removed, ``sum(res**2) / (Hs * (Ws - 1)) - v_pix / N``: the spatial variance of the mean frame
  minus its temporal part, with row structure (temporal row noise averaged over ``N`` frames,
  and any fixed row pattern) removed.
* row variance (darks) -- the row means over the full mosaic width ``W`` of each frame (each
  frame's global mean removed), their variance over frames per row, averaged over rows
  (normalised by ``(N - 1) * (H - 1)``), minus the pixel part ``mean(v_pix) / W``.

Estimators (``K`` in DN per electron; ``q = adc_step_dn**2 / 12`` the quantisation variance):

* conversion gain ``K`` -- weighted least-squares slope of ``v`` against ``mean`` over the linear
  part of the photon-transfer curve (PTC): all per-site flat points whose mean is at most
  ``linear_fraction`` (0.7, as EMVA 1288) of that site's mean at the PTC variance peak.
  Weights ``1 / Var(v)``, ``Var(v) = 2 v**2 / dof``. The intercept is the signal-independent
  variance.
* full well -- the saturation plateau: flat levels brighter than the variance peak whose
  temporal variance has collapsed below ``COLLAPSE_FRACTION`` (10 %) of the PTC line are
  saturated; per site the highest such mean, divided by ``K``; the median over the sites that
  reached a plateau. Where the charge saturates (full-well limited) every pixel sits at
  ``K * full_well`` plus zero-mean read noise and DSNU, so the plateau mean is ``K * full_well``
  exactly; where the ADC clips first (plateau at the white level) it is the saturation capacity
  ``(white - black) / K``. Without a collapsed level the EMVA 1288 saturation point (the mean at
  the variance peak, divided by ``K``) is used and flagged as a lower bound. The EMVA value is
  always kept as :attr:`Calibration.ptc_peak_e`.
* dark current -- least-squares slope of the dark mean against exposure time, divided by ``K``
  (the intercept is the black-level offset :attr:`Calibration.dark_offset_dn`).
* row noise -- ``sqrt(row variance / K**2)``, averaged (as variances) over the dark times.
* read noise -- ``sqrt((v_pix - q) / K**2 - dark * t)`` from the darks, averaged as variances
  over the dark times: the dark temporal variance minus the row noise (removed with the row
  means), the quantisation variance and the dark-current shot noise.
* DSNU -- ``sqrt(s / K**2)`` of the darks, averaged as variances over sites and dark times.
* PRNU -- per linear flat point ``y = s - K**2 * dsnu**2`` against the photo-signal
  ``mu_p = mean - dark_mean(t)``: weighted least-squares fit of ``y = prnu**2 * mu_p**2``
  through the origin (weights ``1 / Var(y)``), i.e. the spatial variance of the mean flat
  frame minus its temporal part and the DSNU, relative to the signal. PRNU does not depend on
  ``K``.

The flats must be uniformly lit: an illumination gradient (vignetting) inflates PRNU (EMVA 1288
high-pass filters it; this module does not). Negative variance differences (possible with very
small frames) are clamped to 0.

Quantities that photon transfer cannot measure -- pixel pitch and quantum efficiency (they need
a calibrated light source), and the split of signal-independent noise into pre-gain read noise
and post-gain ADC noise (it needs frames at several gains) -- come from the arguments or are
placeholders stated as such in the profile's notes.

:func:`calibrate` works on arrays; :func:`calibrate_files` reads RAW files with rawpy.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfasim.errors import CalibrationError
from cfasim.sensor.profile import SensorProfile

DEFAULT_LINEAR_FRACTION = 0.7
"""Upper end of the PTC fit range as a fraction of the mean at the variance peak (EMVA 1288)."""

COLLAPSE_FRACTION = 0.1
"""A flat level beyond the variance peak is saturated when its temporal variance is below this
fraction of the PTC line's prediction at its mean."""

PLACEHOLDER_PITCH_UM = 1.0
PLACEHOLDER_QE = 0.5

_TIME_IN_NAME = re.compile(
    r"(?:^|[_\-\s.])t?(\d+(?:\.\d*)?|\.\d+)(s|ms|us|µs)(?=$|[_\-\s.])", re.IGNORECASE
)
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}
_TAG_EXPOSURE_TIME = 33434
_TAG_EXIF_IFD = 34665
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


# ---------------------------------------------------------------------------------------------
# per-level statistics (pure functions)


@dataclass(frozen=True)
class LevelStats:
    """Statistics of one exposure level (``N`` frames), per CFA site, in DN.

    Attributes
    ----------
    mean : (S,) mean of ``frame - black`` per site.
    temporal_var : (S,) temporal variance per site (row noise included).
    pixel_var : (S,) temporal variance per site with row means removed (row noise excluded).
    fixed_var : (S,) fixed-pattern variance of the mean frame, temporal part and row structure
        removed.
    row_var : variance of full-width row means over frames minus the pixel part (row noise).
    n_frames : N.
    dof_temporal, dof_fixed : degrees of freedom of ``pixel_var`` and of the mean-frame spatial
        variance, per site.
    """

    mean: np.ndarray
    temporal_var: np.ndarray
    pixel_var: np.ndarray
    fixed_var: np.ndarray
    row_var: float
    n_frames: int
    dof_temporal: int
    dof_fixed: int


def level_statistics(frames: np.ndarray, black: np.ndarray, sites: tuple[int, int]) -> LevelStats:
    """Photon-transfer statistics of ``N >= 2`` frames of one level.

    Parameters
    ----------
    frames
        (N, H, W) frames in DN; H and W multiples of the site period.
    black
        (H, W) black level map in DN.
    sites
        (py, px) period of the CFA sites; (1, 1) treats the mosaic as one plane.

    Returns
    -------
    LevelStats
        See the module docstring for the formulas.
    """
    x = np.asarray(frames, dtype=np.float64) - black
    n, h, w = x.shape
    py, px = sites
    hs, ws = h // py, w // px
    planes = x.reshape(n, hs, py, ws, px).transpose(0, 2, 4, 1, 3).reshape(n, py * px, hs, ws)
    npix = hs * ws
    frame_means = planes.mean(axis=(2, 3))  # (N, S)
    mean = frame_means.mean(axis=0)
    dev = planes - frame_means[..., None, None]
    dev -= dev.mean(axis=0)
    temporal = np.einsum("nshw,nshw->s", dev, dev) / ((n - 1) * (npix - 1))
    res = planes - planes.mean(axis=3, keepdims=True)  # row means removed per frame and site
    res_mean = res.mean(axis=0)
    res -= res_mean
    dof_fixed = hs * (ws - 1)
    pixel = np.einsum("nshw,nshw->s", res, res) / ((n - 1) * dof_fixed)
    fixed = np.einsum("shw,shw->s", res_mean, res_mean) / dof_fixed - pixel / n
    rows = x.mean(axis=2)  # (N, H) full-width row means
    rows -= rows.mean(axis=1, keepdims=True)
    rows -= rows.mean(axis=0)
    row_var = float(np.sum(rows * rows) / ((n - 1) * (h - 1)) - pixel.mean() / w)
    return LevelStats(
        mean=mean,
        temporal_var=temporal,
        pixel_var=pixel,
        fixed_var=fixed,
        row_var=row_var,
        n_frames=n,
        dof_temporal=(n - 1) * dof_fixed,
        dof_fixed=dof_fixed,
    )


def fit_ptc(mean: np.ndarray, var: np.ndarray, dof: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares line ``var = slope * mean + intercept``.

    Parameters
    ----------
    mean, var
        PTC points (DN, DN^2).
    dof
        Degrees of freedom of each variance: weights ``dof / (2 * var**2)`` = 1 / Var(var).

    Returns
    -------
    tuple of float
        (slope, intercept).
    """
    mean = np.asarray(mean, dtype=np.float64)
    var = np.maximum(np.asarray(var, dtype=np.float64), 1e-12)
    sw = np.sqrt(np.asarray(dof, dtype=np.float64) / (2.0 * var**2))
    design = np.stack([mean, np.ones_like(mean)], axis=1) * sw[:, None]
    (slope, intercept), *_ = np.linalg.lstsq(design, var * sw, rcond=None)
    return float(slope), float(intercept)


def fit_prnu(
    photo: np.ndarray,
    fixed_photo: np.ndarray,
    fixed_total: np.ndarray,
    pixel_var: np.ndarray,
    n_frames: np.ndarray,
    dof_fixed: np.ndarray,
) -> float:
    """PRNU from ``fixed_photo = prnu**2 * photo**2`` (weighted, through the origin).

    Parameters
    ----------
    photo
        Photo-signal of each point (DN above the dark signal).
    fixed_photo
        Fixed-pattern variance minus the DSNU variance (DN^2).
    fixed_total, pixel_var, n_frames, dof_fixed
        The point's fixed-pattern variance, pixel temporal variance, frame count and degrees of
        freedom, for the weights: ``Var(y) = 2 (s + v/N)^2 / dof + 2 (v/N)^2 / (dof (N - 1))``.

    Returns
    -------
    float
        PRNU (relative standard deviation of the pixel gain), >= 0.
    """
    photo = np.asarray(photo, dtype=np.float64)
    temporal = np.asarray(pixel_var, dtype=np.float64) / n_frames
    spatial = np.maximum(np.asarray(fixed_total, dtype=np.float64), 0.0) + temporal
    var_y = 2.0 * spatial**2 / dof_fixed + 2.0 * temporal**2 / (dof_fixed * (n_frames - 1))
    w = 1.0 / np.maximum(var_y, 1e-300)
    p2 = np.sum(w * fixed_photo * photo**2) / np.sum(w * photo**4)
    return math.sqrt(max(float(p2), 0.0))


# ---------------------------------------------------------------------------------------------
# result


@dataclass(frozen=True, eq=False)
class Calibration:
    """Result of :func:`calibrate`: fitted sensor values and the photon-transfer points.

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
        h, w = self.frame_shape
        return f"{h}x{w} px"

    def profile(self, description: str | None = None) -> SensorProfile:
        """The fitted values as a :class:`~cfasim.sensor.profile.SensorProfile`.

        The profile's white level is the saturation level of the frames, ``black + round(K *
        full_well)`` (at most the file's white level), so that the profile's conversion gain at
        its base ISO, ``(white - black) / full_well``, equals the measured K: cfasim maps the
        full well to the white level at base ISO, and the profile describes the camera at the
        gain the frames were taken at. Pixel pitch and QE come from the arguments of
        :func:`calibrate` or are placeholders (see the notes); ``adc_noise_dn`` is 0 (all
        signal-independent noise is in ``read_noise_e``); the read noise is Gaussian.
        """
        k = self.conversion_gain
        black = self.black_level_dn
        white = min(int(self.white_level), black + max(1, round(k * self.full_well_e)))
        n_flat, n_dark = sum(self.flat_frames), sum(self.dark_frames)
        flats = f"{n_flat} flat frames at {len(self.flat_frames)} levels ({self._where()})"
        darks = f"{n_dark} dark frames at {len(self.dark_frames)} exposure times " + (
            f"{', '.join(f'{t:g}' for t in self.dark_times)} s ({self._where()})"
        )
        n_lin = int(self.ptc_linear.sum())
        sites = "x".join(map(str, self.sites))
        notes = {
            "conversion_gain": (
                f"measured K = {k:.6g} DN/e- (weighted least-squares slope of temporal variance "
                f"vs mean over {n_lin} linear PTC points, {sites} CFA sites, from {flats}); the "
                f"profile reproduces it at base ISO through white_level_dn"
            ),
            "full_well_e": (
                f"{self.full_well_method}: mean signal of the saturated flat levels (temporal "
                f"variance collapsed below {COLLAPSE_FRACTION:.0%} of the PTC line) / K, from "
                f"{flats}; EMVA 1288 variance-peak saturation point {self.ptc_peak_e:.6g} e-"
                if self.full_well_method.startswith("plateau")
                else f"{self.full_well_method}: mean at the PTC variance peak / K (no flat "
                f"level reached the saturation plateau), from {flats}"
            ),
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
                f"{flats}"
            ),
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
        if description is None:
            description = (
                f"photon-transfer calibration (EMVA 1288 style) from {n_flat} flat and {n_dark} "
                f"dark frames ({self._where()}); base ISO = the gain the frames were taken at"
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
        """Write a PNG photon-transfer plot (matplotlib, Agg; imported here).

        Left: temporal variance against mean signal (log-log, every flat level and CFA site;
        filled markers are the linear points of the fit), the fitted line ``K * mean +
        intercept``, the signal-independent (read + row + quantisation) floor and the full well.
        Right: spatial (fixed-pattern) noise against mean with the fitted
        ``sqrt(K^2 DSNU^2 + PRNU^2 mean^2)`` (the mean standing in for the photo-signal), and
        the temporal noise for comparison.

        Returns
        -------
        pathlib.Path
            The written file.
        """
        from matplotlib.figure import Figure

        path = Path(path)
        k = self.conversion_gain
        floor = k**2 * (self.read_noise_e**2 + self.row_noise_e**2) + self.adc_step_dn**2 / 12
        mean = self.ptc_mean.ravel()
        temporal = self.ptc_temporal_var.ravel()
        spatial = self.ptc_spatial_var.ravel()
        linear = self.ptc_linear.ravel()
        pos = mean > 0
        fig = Figure(figsize=(11, 4.5), dpi=100, layout="constrained")
        ax, ax2 = fig.subplots(1, 2)
        lo = max(float(mean[pos].min()) if pos.any() else 1.0, 1e-3) / 2
        hi = max(float(mean.max()), self.saturation_dn) * 1.5
        xs = np.geomspace(lo, hi, 200)
        ax.loglog(
            mean[pos & linear],
            np.maximum(temporal[pos & linear], 1e-3),
            "o",
            color="C0",
            ms=5,
            label="flat points (linear range)",
        )
        ax.loglog(
            mean[pos & ~linear],
            np.maximum(temporal[pos & ~linear], 1e-3),
            "o",
            mfc="none",
            mec="C0",
            ms=5,
            label="flat points (not fitted)",
        )
        ax.loglog(
            xs,
            k * xs + self.ptc_intercept_dn2,
            "C1-",
            label=f"fit: K = {k:.4g} DN/e-, intercept {self.ptc_intercept_dn2:.3g} DN^2",
        )
        ax.axhline(
            floor,
            color="C2",
            ls="--",
            label=f"read floor: {self.read_noise_e:.3g} e- read, "
            f"{self.row_noise_e:.3g} e- row, q^2/12",
        )
        ax.axvline(
            self.saturation_dn,
            color="C3",
            ls=":",
            label=f"full well {self.full_well_e:.5g} e- ({self.saturation_dn:.4g} DN)",
        )
        ax.set_xlabel("mean signal above black (DN)")
        ax.set_ylabel("temporal variance (DN^2)")
        ax.set_title("photon transfer curve (filled: linear range used for K)")
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(True, which="both", alpha=0.3)

        ax2.loglog(
            mean[pos],
            np.sqrt(np.maximum(spatial[pos], 1e-6)),
            "o",
            mfc="none",
            mec="C0",
            ms=5,
            label="spatial (fixed-pattern) noise",
        )
        ax2.loglog(
            mean[pos],
            np.sqrt(np.maximum(temporal[pos], 1e-6)),
            "x",
            color="C7",
            ms=4,
            label="temporal noise",
        )
        model = np.sqrt(k**2 * self.dsnu_e**2 + self.prnu**2 * np.maximum(xs, 0) ** 2)
        ax2.loglog(
            xs, model, "C1-", label=f"fit: PRNU {100 * self.prnu:.3g} %, DSNU {self.dsnu_e:.3g} e-"
        )
        ax2.axvline(self.saturation_dn, color="C3", ls=":")
        ax2.set_xlabel("mean signal above black (DN)")
        ax2.set_ylabel("noise std (DN)")
        ax2.set_title("spatial noise (DSNU, PRNU)")
        ax2.legend(fontsize=8, loc="upper left")
        ax2.grid(True, which="both", alpha=0.3)
        fig.savefig(path, format="png")
        return path


# ---------------------------------------------------------------------------------------------
# calibration on arrays


def _levels(groups, what: str) -> list[tuple[float, list[np.ndarray]]]:
    """Validate ``[(t, frames), ...]`` into ``[(t, [N (H, W) arrays])]``."""
    if isinstance(groups, np.ndarray) or not isinstance(groups, Sequence) or not groups:
        raise CalibrationError(
            f"{what} must be a non-empty list of (exposure_time_s, frames) pairs"
        )
    out = []
    for i, item in enumerate(groups):
        try:
            t, frames = item
        except (TypeError, ValueError):
            raise CalibrationError(
                f"{what} level {i}: expected an (exposure_time_s, frames) pair"
            ) from None
        t = float(t)
        if not math.isfinite(t) or t < 0:
            raise CalibrationError(f"{what} level {i}: bad exposure time {t}")
        if isinstance(frames, np.ndarray):
            stack = [frames] if frames.ndim == 2 else list(frames)
        else:
            stack = [np.asarray(f) for f in frames]
        if len(stack) < 2:
            raise CalibrationError(
                f"{what} level {i} (t = {t:g} s) has {len(stack)} frame; at least 2 per level "
                "are needed (temporal noise is the variance over frames)"
            )
        for j, f in enumerate(stack):
            if f.ndim != 2:
                raise CalibrationError(
                    f"{what} level {i} (t = {t:g} s) frame {j} is not a 2-D array ({f.shape})"
                )
        out.append((t, stack))
    return out


def _black_map(black_level, shape: tuple[int, int]) -> np.ndarray:
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
    flat_levels = _levels(flats, "flat")
    dark_levels = _levels(darks, "dark")
    shape = flat_levels[0][1][0].shape
    for what, levels in (("flat", flat_levels), ("dark", dark_levels)):
        for i, (t, stack) in enumerate(levels):
            for j, f in enumerate(stack):
                if f.shape != shape:
                    raise CalibrationError(
                        f"{what} level {i} (t = {t:g} s) frame {j} is {f.shape[0]}x{f.shape[1]}, "
                        f"the first flat frame is {shape[0]}x{shape[1]}"
                    )
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
    k_sites = py * px

    def stats(levels):
        return [level_statistics(np.stack(s)[:, :h, :w], black, (py, px)) for _, s in levels]

    flat_stats = stats(flat_levels)
    dark_stats = stats(dark_levels)
    flat_times = np.array([t for t, _ in flat_levels])
    dark_times = np.array([t for t, _ in dark_levels])
    mean = np.array([s.mean for s in flat_stats])  # (L, S)
    temporal = np.array([s.temporal_var for s in flat_stats])
    pixel = np.array([s.pixel_var for s in flat_stats])
    fixed = np.array([s.fixed_var for s in flat_stats])
    n_fr = np.array([s.n_frames for s in flat_stats])[:, None] * np.ones((1, k_sites))
    dof_t = np.array([s.dof_temporal for s in flat_stats])[:, None] * np.ones((1, k_sites))
    dof_f = np.array([s.dof_fixed for s in flat_stats])[:, None] * np.ones((1, k_sites))

    # conversion gain over the linear part of the PTC
    peak_idx = np.argmax(temporal, axis=0)  # (S,)
    peak_mean = mean[peak_idx, np.arange(k_sites)]
    linear = mean <= linear_fraction * peak_mean[None, :]
    if int(linear.sum()) < 2 or np.ptp(mean[linear]) <= 0:
        raise CalibrationError(
            f"fewer than 2 flat points below {linear_fraction:.0%} of the PTC variance peak "
            f"(peak means per site {np.round(peak_mean, 1).tolist()} DN): add darker flat levels"
        )
    k, intercept = fit_ptc(mean[linear], temporal[linear], dof_t[linear])
    if not k > 0:
        raise CalibrationError(f"the PTC slope is not positive ({k:.4g}); check the flats")

    # full well: saturation plateau
    line = k * mean + intercept
    after_peak = np.arange(len(flat_levels))[:, None] > peak_idx[None, :]
    saturated = after_peak & (temporal < COLLAPSE_FRACTION * np.maximum(line, 1e-12))
    white_site = float(white_level) - black.reshape(h // py, py, w // px, px).mean(axis=(0, 2))
    ptc_peak_e = float(np.median(peak_mean)) / k
    plateau = [
        (float(mean[saturated[:, s], s].max()), float(white_site.ravel()[s]))
        for s in range(k_sites)
        if saturated[:, s].any()
    ]
    if plateau:
        full_well = float(np.median([m for m, _ in plateau])) / k
        adc = all(m >= wsite - 1.0 for m, wsite in plateau)
        method = "plateau (ADC white level)" if adc else "plateau"
    else:
        full_well = ptc_peak_e
        method = "variance peak (lower bound)"

    # darks
    d_mean = np.array([s.mean.mean() for s in dark_stats])
    d_temporal = np.array([s.temporal_var.mean() for s in dark_stats])
    d_pixel = np.array([s.pixel_var.mean() for s in dark_stats])
    d_fixed = np.array([s.fixed_var.mean() for s in dark_stats])
    d_row = np.array([s.row_var for s in dark_stats])
    slope_dn, offset_dn = np.polyfit(dark_times, d_mean, 1)
    dark_current = float(slope_dn) / k
    q = adc_step_dn**2 / 12.0
    read2 = np.mean((d_pixel - q) / k**2 - dark_current * dark_times)
    row2 = np.mean(d_row) / k**2
    dsnu2 = np.mean(d_fixed) / k**2

    # PRNU from the linear flat points
    dark_signal = offset_dn + slope_dn * flat_times  # (L,)
    photo = mean - dark_signal[:, None]
    use = linear & (photo > 0)
    prnu = 0.0
    if use.any():
        prnu = fit_prnu(
            photo[use],
            fixed[use] - k**2 * max(dsnu2, 0.0),
            fixed[use],
            pixel[use],
            n_fr[use],
            dof_f[use],
        )

    return Calibration(
        conversion_gain=k,
        ptc_intercept_dn2=intercept,
        read_noise_e=math.sqrt(max(float(read2), 0.0)),
        row_noise_e=math.sqrt(max(float(row2), 0.0)),
        dsnu_e=math.sqrt(max(float(dsnu2), 0.0)),
        full_well_e=full_well,
        full_well_method=method,
        ptc_peak_e=ptc_peak_e,
        dark_current_e_per_s=dark_current,
        dark_offset_dn=float(offset_dn),
        prnu=prnu,
        flat_times=flat_times,
        dark_times=dark_times,
        ptc_mean=mean,
        ptc_temporal_var=temporal,
        ptc_spatial_var=fixed,
        ptc_linear=linear,
        ptc_saturated=saturated,
        dark_mean=d_mean,
        dark_temporal_var=d_temporal,
        dark_pixel_var=d_pixel,
        dark_spatial_var=d_fixed,
        dark_row_var=d_row,
        black_level=black,
        white_level=int(white_level),
        bits=int(bits),
        frame_shape=(h, w),
        sites=(py, px),
        flat_frames=tuple(len(s) for _, s in flat_levels),
        dark_frames=tuple(len(s) for _, s in dark_levels),
        name=name,
        pixel_pitch_um=pixel_pitch_um,
        quantum_efficiency=quantum_efficiency,
        adc_step_dn=float(adc_step_dn),
    )


# ---------------------------------------------------------------------------------------------
# files


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
    try:
        t = value[0] / value[1] if isinstance(value, tuple | list) else float(value)
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    return _round_time(t) if math.isfinite(t) and t > 0 else None


def read_calibration_frame(path: str | os.PathLike[str]) -> CalibrationFrame:
    """Read one RAW file (any format LibRaw reads) for :func:`calibrate_files`.

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
    try:
        import rawpy
    except ImportError as exc:  # pragma: no cover - rawpy is a dependency
        raise ImportError(f"reading RAW files needs rawpy (pip install rawpy): {exc}") from exc
    if not path.is_file():
        raise CalibrationError(f"{path}: no such file")
    try:
        with rawpy.imread(str(path)) as rp:
            mosaic = np.array(rp.raw_image_visible, dtype=np.uint16, copy=True)
            if mosaic.ndim != 2:
                raise CalibrationError(f"{path}: not a CFA mosaic (linear / demosaiced RAW)")
            per_colour = np.asarray(rp.black_level_per_channel, dtype=np.float64)
            colours = np.asarray(rp.raw_colors_visible)
            black = per_colour[np.clip(colours, 0, per_colour.size - 1)]
            pattern = rp.raw_pattern
            sites = (1, 1) if pattern is None else tuple(int(v) for v in np.shape(pattern))
            white = int(rp.white_level)
            shutter = float(getattr(rp.other, "shutter_speed", 0.0) or 0.0)
    except CalibrationError:
        raise
    except Exception as exc:  # LibRaw errors, unsupported files, truncated data
        text = exc.args[0] if exc.args else ""
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        raise CalibrationError(
            f"{path}: unreadable RAW file ({type(exc).__name__}: {text or 'error'})"
        ) from exc
    if black.shape != mosaic.shape:
        black = np.full(mosaic.shape, float(per_colour[0]))
    t = _exif_exposure_time(path)
    source = "exif"
    if t is None and math.isfinite(shutter) and shutter > 0:
        t, source = _round_time(shutter), "libraw"
    if t is None:
        source = "none"
    return CalibrationFrame(path, mosaic, black, white, sites, t, source)


def _group_files(paths, what: str) -> tuple[list[tuple[float, list[CalibrationFrame]]], dict]:
    """Read files and group them by exposure time (sorted by time)."""
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
    """:func:`calibrate` on RAW files read with rawpy.

    Flats and darks are grouped into levels by exposure time: the file's EXIF ExposureTime
    (exact with tifffile for TIFF-based files, LibRaw's value otherwise), else a time in the file
    name (:func:`exposure_time_from_name`, e.g. ``_t0.01s`` or ``_10ms``); times are compared
    to 6 significant digits. The metadata wins when both exist. Each level needs >= 2 files.
    Frames are ``raw_image_visible``; black levels are rawpy's per-colour levels placed on
    every pixel; the white level is the file's. Files whose black maps differ (cameras that
    measure black from masked pixels) are shifted to the mean black map.

    Parameters
    ----------
    flat_paths, dark_paths
        RAW files (any format LibRaw reads), all from one camera at one ISO.
    bits
        ADC bit depth; None: the bit length of the white level (4095 -> 12).
    sites
        CFA site period; None: the shape of rawpy's ``raw_pattern`` ((2, 2) for Bayer).
    name, pixel_pitch_um, quantum_efficiency, linear_fraction, adc_step_dn
        As for :func:`calibrate`.

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
    flat_groups, flat_sources = _group_files(flat_paths, "flat")
    dark_groups, dark_sources = _group_files(dark_paths, "dark")
    first = flat_groups[0][1][0]
    frames = [f for _, fs in flat_groups + dark_groups for f in fs]
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
    same_black = all(np.array_equal(f.black, first.black) for f in frames)
    black = first.black if same_black else np.mean([f.black for f in frames], axis=0)

    def arrays(groups):
        if same_black:
            return [(t, [f.mosaic for f in fs]) for t, fs in groups]
        return [(t, [f.mosaic - f.black + black for f in fs]) for t, fs in groups]

    result = calibrate(
        arrays(flat_groups),
        arrays(dark_groups),
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
