"""Photon-transfer calibration: fit a :class:`~cfasim.sensor.profile.SensorProfile` from RAW frames.

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
high-pass filters it; this package does not). Negative variance differences (possible with very
small frames) are clamped to 0.

Quantities that photon transfer cannot measure -- pixel pitch and quantum efficiency (they need
a calibrated light source), and the split of signal-independent noise into pre-gain read noise
and post-gain ADC noise (it needs frames at several gains) -- come from the arguments or are
placeholders stated as such in the profile's notes.

The package, one idea per module:

* :mod:`~cfasim.sensor.calibration.stats` -- the statistics of one level and the weighted PTC
  and PRNU fits;
* :mod:`~cfasim.sensor.calibration.fit` -- :func:`calibrate`, the driver on arrays, one function
  per estimator above;
* :mod:`~cfasim.sensor.calibration.result` -- :class:`Calibration`, its profile and summary;
* :mod:`~cfasim.sensor.calibration.plot` -- the photon-transfer plot (matplotlib, lazily);
* :mod:`~cfasim.sensor.calibration.frames` -- calibration frames read from RAW files and their
  exposure times (EXIF, LibRaw or the file name);
* :mod:`~cfasim.sensor.calibration.files` -- :func:`calibrate_files`, :func:`calibrate` on RAW
  files.
"""

from cfasim.errors import CalibrationError
from cfasim.sensor.calibration.files import calibrate_files
from cfasim.sensor.calibration.fit import calibrate
from cfasim.sensor.calibration.frames import (
    CalibrationFrame,
    exposure_time_from_name,
    group_by_exposure_time,
    read_calibration_frame,
)
from cfasim.sensor.calibration.result import PLACEHOLDER_PITCH_UM, PLACEHOLDER_QE, Calibration
from cfasim.sensor.calibration.stats import (
    COLLAPSE_FRACTION,
    DEFAULT_LINEAR_FRACTION,
    LevelStats,
    fit_prnu,
    fit_ptc,
    level_statistics,
)

__all__ = [
    "COLLAPSE_FRACTION",
    "DEFAULT_LINEAR_FRACTION",
    "PLACEHOLDER_PITCH_UM",
    "PLACEHOLDER_QE",
    "Calibration",
    "CalibrationError",
    "CalibrationFrame",
    "LevelStats",
    "calibrate",
    "calibrate_files",
    "exposure_time_from_name",
    "fit_prnu",
    "fit_ptc",
    "group_by_exposure_time",
    "level_statistics",
    "read_calibration_frame",
]
