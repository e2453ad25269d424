"""Physics-based sensor noise in electrons (Wei et al., CVPR 2020 "ELD", in physical units).

For clean linear camera RGB ``clean`` (0 = black, 1 = white level), a CFA pattern, a
:class:`~cfasim.sensor.profile.SensorProfile` and an ISO, with analog gain ``g``, conversion gain
``K`` (DN/e-) and ``e_white`` electrons at the white level (see :mod:`cfasim.sensor.profile`):

1. mean electrons of pixel (y, x) of colour c: ``mu = v * e_white * s(y, x) * (1 + prnu *
   n_prnu(y, x)) + dark_e`` with ``v = max(clean[y, x, c], 0)`` (W pixels: mean of the three
   channels; v > 1 is over-exposure), ``s`` an optional relative-illumination (shading) map and
   ``dark_e = dark_current * t``; ``n_prnu`` and ``n_dsnu`` are N(0, 1) fixed per sensor (Philox,
   key = sensor seed, counter ``(x // 2, y, 0, NOISE_STREAM_FIXED_PATTERN)``: the same in every
   sample and frame, different for another sensor seed);
2. photo + dark electrons ``k ~ Poisson(mu)``, exact at every mean (inversion by sequential
   search below 10, Hörmann's PTRS rejection above), counters ``(x, y, sample, 0x100 + attempt)``;
3. ``k = min(k, full_well_e)`` (charge cannot exceed the full well);
4. ``e = k + dsnu_e * n_dsnu + read_e * r + row_e * n_row`` with ``r`` a unit-variance Gaussian or
   Tukey-lambda (shape ``tukey_lambda``) and ``n_row`` one N(0, 1) per row and sample;
5. ``raw = clip(floor(black + K * e + adc_noise_dn * n_adc + 0.5), 0, white)`` as uint16.
   With Gaussian read noise, ``K read_e r + adc n_adc`` is drawn as one Gaussian of std
   ``sqrt(K^2 read_e^2 + adc^2)`` (the same distribution, one normal per pixel fewer).

The module holds the front end (:func:`simulate_sensor`, with crosstalk/blooming hooks between the
two passes), in-sensor binning to Bayer (:func:`bin_charge_to_bayer`,
:func:`bin_digital_to_bayer`), the predicted photon-transfer statistics
(:func:`predicted_mean_dn`, :func:`predicted_variance_dn`, :func:`predicted_binned_variance_dn`)
and a plain-NumPy reference of the kernels (``reference_*``) that the tests compare with
:mod:`cfasim.sensor.physics_kernels` bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from cfasim.cfa import CFAPattern
from cfasim.sensor import physics_kernels as pk
from cfasim.sensor.profile import SensorProfile
from cfasim.sim.kernels import (
    NOISE_STREAM_BINNED_READOUT,
    NOISE_STREAM_BINNED_ROW,
    NOISE_STREAM_FIXED_PATTERN,
    NOISE_STREAM_POISSON,
    NOISE_STREAM_READOUT,
    NOISE_STREAM_ROW,
)
from cfasim.sim.simulate import seed_key

BINNING_BLOCKS = (2, 3, 4)
"""Block sizes of in-sensor binning to Bayer: quad (2), nona (3), qxq (4)."""


# --- Tukey-lambda read noise ---------------------------------------------------------------------
def tukey_lambda_variance(lam: float) -> float:
    """Variance of the standard Tukey-lambda distribution with shape ``lam`` (> -1/2).

    ``2 / lam^2 * (1 / (1 + 2 lam) - Gamma(lam + 1)^2 / Gamma(2 lam + 2))``, with the limit
    ``pi^2 / 3`` (logistic) at ``lam = 0``. The two terms cancel to ``O(lam^2)`` near 0, so for
    ``|lam| < 0.25`` it is evaluated as ``-2 expm1(S) / (lam^2 (1 + 2 lam))`` with
    ``S = ln(Gamma(1 + lam)^2 / Gamma(1 + 2 lam)) = sum_{k>=2} (-1)^k zeta(k) (2 - 2^k) lam^k / k``
    (the Euler-gamma terms cancel), which keeps full precision down to ``lam = 0``.
    """
    if not lam > -0.5:
        raise ValueError(f"Tukey-lambda variance is infinite for shape {lam} <= -0.5")
    if abs(lam) < 0.25:
        s_over_lam2 = math.fsum(
            (-1) ** k * float(special.zeta(k)) * (2.0 - 2.0**k) * lam ** (k - 2) / k
            for k in range(2, 80)
        )
        s = s_over_lam2 * lam * lam
        if s == 0.0:
            return -2.0 * s_over_lam2 / (1.0 + 2.0 * lam)
        return -2.0 * math.expm1(s) / (lam * lam * (1.0 + 2.0 * lam))
    ratio = math.exp(2.0 * math.lgamma(lam + 1.0) - math.lgamma(2.0 * lam + 2.0))
    return 2.0 / lam**2 * (1.0 / (1.0 + 2.0 * lam) - ratio)


def tukey_lambda_quantile(p: np.ndarray, lam: float) -> np.ndarray:
    """Inverse CDF of the standard Tukey-lambda distribution: ``(p^l - (1-p)^l) / l``."""
    p = np.asarray(p, dtype=np.float64)
    if lam == 0.0:
        return np.log(p / (1.0 - p))
    return (p**lam - (1.0 - p) ** lam) / lam


# --- derived parameters --------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadoutParams:
    """Everything the kernels need at one ISO, from a profile (all in e-, DN or e-/pixel)."""

    gain: float  # K, DN per electron
    e_white: float  # mean electrons at the white level
    dark_e: float  # mean dark electrons in the exposure
    full_well: float
    prnu: float
    dsnu: float
    read_e: float
    tukey: bool
    tukey_lambda: float
    tukey_scale: float  # read_e / std of the standard Tukey-lambda distribution
    row_e: float
    adc: float
    black: float
    white: float

    @classmethod
    def from_profile(
        cls, profile: SensorProfile, iso: float, exposure_time_s: float | None = None
    ) -> ReadoutParams:
        t = profile.exposure_time_s if exposure_time_s is None else float(exposure_time_s)
        if not (math.isfinite(t) and t > 0):
            raise ValueError(f"exposure time must be > 0 s, got {exposure_time_s}")
        tukey = profile.read_noise_distribution == "tukey"
        lam = float(profile.tukey_lambda)
        scale = profile.read_noise_e / math.sqrt(tukey_lambda_variance(lam)) if tukey else 0.0
        return cls(
            gain=profile.conversion_gain(iso),
            e_white=profile.electrons_at_white(iso),
            dark_e=profile.dark_current_e_per_s * t,
            full_well=float(profile.full_well_e),
            prnu=float(profile.prnu),
            dsnu=float(profile.dsnu_e),
            read_e=float(profile.read_noise_e),
            tukey=tukey,
            tukey_lambda=lam,
            tukey_scale=scale,
            row_e=float(profile.row_noise_e),
            adc=float(profile.adc_noise_dn),
            black=float(profile.black_level_dn),
            white=float(profile.white_level_dn),
        )

    def sigma_dn(self, gain: float) -> float:
        """Std (DN) of Gaussian read noise and ADC noise drawn as one Gaussian (0 with Tukey)."""
        return 0.0 if self.tukey else math.sqrt((gain * self.read_e) ** 2 + self.adc**2)

    def kernel_args(self, gain: float):
        """Arguments of the pass-2 kernels after mu and the offsets, for conversion gain
        ``gain``: (fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e, gain, black,
        white)."""
        return (
            self.full_well,
            self.dsnu,
            self.tukey,
            self.tukey_lambda,
            self.tukey_scale,
            self.sigma_dn(gain),
            self.adc,
            self.row_e,
            gain,
            self.black,
            self.white,
        )


# --- predicted photon-transfer statistics ---------------------------------------------------------
def predicted_mean_dn(v, profile: SensorProfile, iso: float, exposure_time_s=None) -> np.ndarray:
    """Mean DN of an unclipped pixel of clean value ``v``: ``black + K * (v * e_white + dark_e)``
    (= ``black + v * (white - black) + K * dark_e``, since ``K * e_white = white - black``)."""
    p = ReadoutParams.from_profile(profile, iso, exposure_time_s)
    return p.black + p.gain * (np.asarray(v, dtype=np.float64) * p.e_white + p.dark_e)


def predicted_variance_dn(v, profile: SensorProfile, iso: float, exposure_time_s=None):
    """Variance (DN^2) of ``raw - (black + v * (white - black))`` over a large unclipped flat area
    of clean value ``v``, sampled across pixels, rows and samples (shading = 1).

    The terms are independent, so their variances add (K = conversion gain, DN/e-):

    - shot: photo + dark electrons are Poisson with mean ``m = v e_white + dark_e`` given the pixel
      gain; the PRNU factor has mean 1, so ``E[Var(k | PRNU)] = m`` -> ``K^2 m``;
    - PRNU: the spread of the pixel means across pixels, ``Var(v e_white prnu n_prnu)`` ->
      ``K^2 (prnu v e_white)^2`` (fixed per pixel, so it cancels in the difference of two frames
      of one sensor, the photon-transfer trick, but counts here: the variance runs over pixels);
    - DSNU: ``K^2 dsnu_e^2``; read noise: ``K^2 read_e^2`` (Gaussian or Tukey-lambda scaled to unit
      std); row noise: ``K^2 row_e^2`` (over many rows the shared row offsets spread like any
      other term; within one row they are a constant);
    - ADC noise after the gain: ``adc_noise_dn^2``;
    - rounding to integer DN: ``1/12`` (Sheppard's correction: exact when the other noise is well
      above 1 DN, the usual case; for noise << 1 DN the rounding error is not uniform).

    The dark mean ``K dark_e`` shifts the mean (see :func:`predicted_mean_dn`), not the variance.
    """
    p = ReadoutParams.from_profile(profile, iso, exposure_time_s)
    v = np.asarray(v, dtype=np.float64)
    electrons = (
        (v * p.e_white + p.dark_e)  # shot (photo + dark)
        + (p.prnu * v * p.e_white) ** 2  # PRNU
        + p.dsnu**2  # DSNU
        + p.read_e**2  # read
        + p.row_e**2  # row
    )
    return p.gain**2 * electrons + p.adc**2 + 1.0 / 12.0


def predicted_binned_variance_dn(
    v, profile: SensorProfile, iso: float, block: int, mode: str, exposure_time_s=None
):
    """Variance (DN^2) of one binned pixel of clean value ``v`` (flat field, unclipped).

    With ``P = K^2 (m + (prnu v e_white)^2 + dsnu^2)`` the per-photodiode signal terms (shot,
    PRNU, DSNU, as in :func:`predicted_variance_dn`) and ``n = block^2``:

    - ``charge``: n photodiode charges are summed and read once with gain ``K / n`` (so the DN
      range is unchanged): ``P / n + K^2 (read^2 + row^2) / n^2 + adc^2 + 1/12``;
    - ``digital``: the mean of n read-out pixels (float, not re-quantised), each with its own
      read, ADC noise and rounding: ``(P + K^2 read^2 + adc^2 + 1/12) / n + K^2 row^2 / block``
      (a block spans ``block`` rows; the pixels of one row share that row's offset).

    Shot noise, PRNU and DSNU average the same way in both modes. Charge binning wins on read
    noise (``1/n^2`` vs ``1/n`` of ``K^2 read^2``) and row noise (``1/n^2`` vs ``1/block``);
    digital binning averages the ADC noise and rounding of n reads, which charge binning has once.
    Both predictions hold for an unclipped flat field of many binned pixels and rows.
    """
    if block not in BINNING_BLOCKS:
        raise ValueError(f"binning block must be one of {BINNING_BLOCKS}, got {block}")
    p = ReadoutParams.from_profile(profile, iso, exposure_time_s)
    v = np.asarray(v, dtype=np.float64)
    n = block * block
    signal = p.gain**2 * ((v * p.e_white + p.dark_e) + (p.prnu * v * p.e_white) ** 2 + p.dsnu**2)
    if mode == "charge":
        return signal / n + p.gain**2 * (p.read_e**2 + p.row_e**2) / n**2 + p.adc**2 + 1.0 / 12.0
    if mode == "digital":
        return (signal + p.gain**2 * p.read_e**2 + p.adc**2 + 1.0 / 12.0) / n + (
            p.gain**2 * p.row_e**2 / block
        )
    raise ValueError(f"unknown binning mode {mode!r}; choose 'charge' or 'digital'")


# --- the kernels' front ends ----------------------------------------------------------------------
def _check_offset(offset) -> tuple[int, int]:
    y0, x0 = (int(v) for v in offset)
    if y0 < 0 or x0 < 0 or y0 >= 1 << 31 or x0 >= 1 << 31:
        raise ValueError(f"offset must be two non-negative integers, got {offset}")
    return y0, x0


def _check_sample(sample: int) -> np.uint32:
    if not 0 <= sample < 1 << 32:
        raise ValueError(f"sample index must be in [0, 2**32), got {sample}")
    return np.uint32(sample)


def _clean_array(clean) -> np.ndarray:
    clean = np.ascontiguousarray(clean, dtype=np.float32)
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) clean linear camera RGB, got shape {clean.shape}")
    return clean


def _shading_array(shading, shape) -> np.ndarray:
    if shading is None:
        return np.empty((0, 0), dtype=np.float32)
    shading = np.ascontiguousarray(shading, dtype=np.float32)
    if shading.shape != tuple(shape):
        raise ValueError(f"shading map of shape {shading.shape} for an image of {tuple(shape)}")
    return shading


def _mu_array(mu) -> np.ndarray:
    mu = np.ascontiguousarray(mu, dtype=np.float32)
    if mu.ndim != 2:
        raise ValueError(f"expected an (H, W) mean-electron mosaic, got shape {mu.shape}")
    return mu


def mean_electrons(
    clean: np.ndarray,
    pattern: CFAPattern,
    profile: SensorProfile,
    iso: float,
    *,
    sensor_seed: int = 0,
    exposure_time_s: float | None = None,
    shading: np.ndarray | None = None,
    offset: tuple[int, int] = (0, 0),
    parallel: bool = True,
) -> np.ndarray:
    """Pass 1: (H, W) float32 mean electrons of every CFA pixel (see the module docstring).

    ``offset`` is the absolute position of ``clean[0, 0]`` on the sensor: the CFA phase and the
    fixed pattern follow it, so a crop computed at its offset equals the crop of the full frame.
    """
    clean = _clean_array(clean)
    h, w, _ = clean.shape
    y0, x0 = _check_offset(offset)
    p = ReadoutParams.from_profile(profile, iso, exposure_time_s)
    fk0, fk1 = seed_key(sensor_seed)
    mu = np.empty((h, w), dtype=np.float32)
    kernel = pk.mean_electrons_parallel if parallel else pk.mean_electrons_serial
    kernel(
        clean,
        _shading_array(shading, (h, w)),
        pattern.tile,
        y0,
        x0,
        p.e_white,
        p.prnu,
        p.dark_e,
        fk0,
        fk1,
        mu,
    )
    return mu


def readout(
    mu: np.ndarray,
    profile: SensorProfile,
    iso: float,
    *,
    seed: int,
    sample: int,
    sensor_seed: int = 0,
    offset: tuple[int, int] = (0, 0),
    parallel: bool = True,
) -> np.ndarray:
    """Pass 2: (H, W) mean electrons -> (H, W) uint16 RAW (Poisson, full well, DSNU, read, row,
    gain, ADC noise, rounding, clip). ``offset``: absolute position of ``mu[0, 0]``."""
    mu = _mu_array(mu)
    y0, x0 = _check_offset(offset)
    p = ReadoutParams.from_profile(profile, iso)
    key0, key1 = seed_key(seed)
    fk0, fk1 = seed_key(sensor_seed)
    raw = np.empty(mu.shape, dtype=np.uint16)
    kernel = pk.readout_parallel if parallel else pk.readout_serial
    kernel(
        mu, y0, x0, *p.kernel_args(p.gain), key0, key1, fk0, fk1, _check_sample(sample), raw,
    )  # fmt: skip
    return raw


def _apply_optics(mu: np.ndarray, profile: SensorProfile, crosstalk, blooming: bool):
    """Crosstalk and blooming on the mean-electron mosaic (``cfasim.sensor.optics``, lazily)."""
    if crosstalk is None and not blooming:
        return mu
    from cfasim.sensor import optics

    if crosstalk is not None:
        mu = optics.apply_crosstalk(mu, crosstalk)
    if blooming:
        mu = optics.bloom(mu, profile.full_well_e)
    return _mu_array(mu)


def simulate_sensor(
    clean: np.ndarray,
    pattern: CFAPattern,
    profile: SensorProfile,
    iso: float,
    *,
    seed: int,
    sample: int,
    sensor_seed: int = 0,
    exposure_time_s: float | None = None,
    shading: np.ndarray | None = None,
    crosstalk=None,
    blooming: bool = False,
    parallel: bool = True,
) -> np.ndarray:
    """Clean linear camera RGB -> simulated RAW mosaic with physics-based noise.

    Parameters
    ----------
    clean : (H, W, 3) float32 linear camera RGB, 0 = black, 1 = white level (values above 1 are
        over-exposure and saturate at the full well / white level; negative or NaN count as 0).
    pattern : CFA pattern (its tile repeats from the top-left pixel; any H, W).
    profile, iso : the sensor and its ISO (>= base ISO; fixes analog gain, K and e_white).
    seed, sample : dataset seed (Philox key) and global sample index (counter word).
    sensor_seed : the sensor's identity: its PRNU/DSNU fixed pattern (same in every sample).
    exposure_time_s : exposure time for dark current (default: the profile's).
    shading : optional (H, W) relative-illumination map multiplied into the mean (before PRNU).
    crosstalk : optional kernel for ``cfasim.sensor.optics.apply_crosstalk`` on the mean electrons.
    blooming : spill charge above full well to neighbours (``cfasim.sensor.optics.bloom``).
    parallel : multi-threaded kernels (False inside Dask worker threads).

    Returns
    -------
    (H, W) uint16 RAW codes (black level included, clipped to [0, white level]).
    """
    mu = _exposed_mean(
        clean, pattern, profile, iso, sensor_seed, exposure_time_s, shading, crosstalk, blooming,
        parallel,
    )  # fmt: skip
    return readout(
        mu, profile, iso, seed=seed, sample=sample, sensor_seed=sensor_seed, parallel=parallel
    )


def _exposed_mean(
    clean, pattern, profile, iso, sensor_seed, exposure_time_s, shading, crosstalk, blooming,
    parallel,
):  # fmt: skip
    """Pass 1 and the optional crosstalk / blooming on its mean-electron mosaic."""
    mu = mean_electrons(
        clean, pattern, profile, iso, sensor_seed=sensor_seed, exposure_time_s=exposure_time_s,
        shading=shading, parallel=parallel,
    )  # fmt: skip
    return _apply_optics(mu, profile, crosstalk, blooming)


# --- in-sensor binning to Bayer -------------------------------------------------------------------
def _binning_block(pattern: CFAPattern, shape) -> int:
    b = pattern.block
    if b not in BINNING_BLOCKS:
        raise ValueError(
            f"in-sensor binning needs a quad, nona or qxq pattern (block 2, 3 or 4), "
            f"got {pattern.name!r}"
        )
    pattern.check_shape(*shape)
    return b


def bin_charge_to_bayer(
    mu: np.ndarray,
    pattern: CFAPattern,
    profile: SensorProfile,
    iso: float,
    *,
    seed: int,
    sample: int,
    sensor_seed: int = 0,
    offset: tuple[int, int] = (0, 0),
    parallel: bool = True,
) -> tuple[np.ndarray, CFAPattern]:
    """Charge binning: sum the electrons of each b x b same-colour block before the readout.

    Each photodiode draws its Poisson electrons (same counters as :func:`readout`, so the binned
    and full-resolution frames of one exposure share their photons), clips at its own full well
    and adds its DSNU; the floating diffusion holds the sum (up to ``b^2 * full_well_e``, assumed
    not to clip) and is read once: one read, row and ADC noise per binned pixel, conversion gain
    ``K / b^2``, so the binned pixel's white level corresponds to ``b^2 * e_white`` electrons and
    its DN range equals the unbinned one.

    Returns the (H/b, W/b) uint16 Bayer mosaic and its Bayer pattern (same phase).
    """
    mu = _mu_array(mu)
    b = _binning_block(pattern, mu.shape)
    y0, x0 = _check_offset(offset)
    if y0 % (2 * b) or x0 % (2 * b):
        raise ValueError(f"binning offset {offset} is not a multiple of the period {2 * b}")
    p = ReadoutParams.from_profile(profile, iso)
    key0, key1 = seed_key(seed)
    fk0, fk1 = seed_key(sensor_seed)
    raw = np.empty((mu.shape[0] // b, mu.shape[1] // b), dtype=np.uint16)
    kernel = pk.charge_binned_readout_parallel if parallel else pk.charge_binned_readout_serial
    kernel(
        mu, b, y0, x0, *p.kernel_args(p.gain / (b * b)),
        key0, key1, fk0, fk1, _check_sample(sample), raw,
    )  # fmt: skip
    return raw, CFAPattern.block_bayer(1, pattern.phase)


def bin_digital_to_bayer(raw: np.ndarray, pattern: CFAPattern) -> tuple[np.ndarray, CFAPattern]:
    """Digital binning: the mean DN of each b x b same-colour block after readout.

    ``raw`` is (..., H, W) (leading axes allowed). Returns the (..., H/b, W/b) float64 Bayer
    mosaic (not re-quantised: the mean carries ``log2(b^2)`` more bits than the codes) and its
    Bayer pattern.
    """
    _binning_block(pattern, np.shape(raw)[-2:])
    return pattern.bin_to_bayer(raw, "mean")


BINNING_OUTPUTS = ("charge", "digital")


def simulate_sensor_binned(
    clean: np.ndarray,
    pattern: CFAPattern,
    profile: SensorProfile,
    iso: float,
    *,
    mode: str,
    seed: int,
    sample: int,
    sensor_seed: int = 0,
    exposure_time_s: float | None = None,
    shading: np.ndarray | None = None,
    crosstalk=None,
    blooming: bool = False,
    parallel: bool = True,
) -> tuple[np.ndarray, CFAPattern]:
    """:func:`simulate_sensor` followed by in-sensor binning to Bayer (``charge`` or
    ``digital``); returns the binned mosaic (uint16 for charge, float64 mean DN for digital)
    and its Bayer pattern."""
    if mode not in BINNING_OUTPUTS:
        raise ValueError(f"unknown binning mode {mode!r}; choose one of {BINNING_OUTPUTS}")
    clean = _clean_array(clean)
    _binning_block(pattern, clean.shape[:2])
    if mode == "digital":
        raw = simulate_sensor(
            clean, pattern, profile, iso, seed=seed, sample=sample, sensor_seed=sensor_seed,
            exposure_time_s=exposure_time_s, shading=shading, crosstalk=crosstalk,
            blooming=blooming, parallel=parallel,
        )  # fmt: skip
        return bin_digital_to_bayer(raw, pattern)
    mu = _exposed_mean(
        clean, pattern, profile, iso, sensor_seed, exposure_time_s, shading, crosstalk, blooming,
        parallel,
    )  # fmt: skip
    return bin_charge_to_bayer(
        mu, pattern, profile, iso, seed=seed, sample=sample, sensor_seed=sensor_seed,
        parallel=parallel,
    )  # fmt: skip


# --- plain-NumPy reference (the tests compare the kernels with it) --------------------------------
# Only the Philox words and the float32 Box-Muller transform come from Numba helpers (the same
# primitives the kernels inline); counter layout, Poisson samplers, Tukey quantiles and all the
# arithmetic below are written again, vectorised, in the kernels' order of operations.


def _words(c0, c1, c2, c3, key) -> np.ndarray:
    arrays = np.broadcast_arrays(c0, c1, c2, c3)
    c0, c1, c2, c3 = (np.ascontiguousarray(a, dtype=np.int64).ravel() for a in arrays)
    return pk.philox_words(c0, c1, c2, c3, key[0], key[1])


def _normals(w0, w1) -> tuple[np.ndarray, np.ndarray]:
    z = pk.box_muller(np.ascontiguousarray(w0), np.ascontiguousarray(w1))
    return z[0], z[1]


def _uniform52(w0, w1) -> np.ndarray:
    hi = (w0 >> np.uint32(6)).astype(np.float64)
    lo = (w1 >> np.uint32(6)).astype(np.float64)
    return (hi * 67108864.0 + lo + 0.5) * 2.0**-52


def _pick(xa, even, odd):
    """Per pixel: the pair value for even xa (cos / word 0) or odd xa (sin / word 1)."""
    return np.where((np.ravel(xa) & 1) == 1, odd, even)


def _pair_normals(ya, xa, c2, stream, key, first: bool) -> np.ndarray:
    """float32 Box-Muller normals of each pixel from its pair counter (xa // 2, ya, c2, stream),
    words 0-1 (``first``) or 2-3."""
    w = _words(xa >> 1, ya, c2, stream, key)
    z = _normals(w[0], w[1]) if first else _normals(w[2], w[3])
    return _pick(xa, z[0], z[1]).reshape(np.shape(ya))


def _log_ge1(x):
    return pk.math_helpers(np.ascontiguousarray(x, dtype=np.float64), np.zeros(np.size(x)))[0]


def _exp_neg(x):
    return pk.math_helpers(np.ascontiguousarray(x, dtype=np.float64), np.zeros(np.size(x)))[2]


def _log_factorial(k):
    k = np.ascontiguousarray(k, dtype=np.float64)
    return pk.math_helpers(np.ones(k.size), k)[3]


def _tukey_quantile_words(words, lam):
    """Tukey-lambda quantiles of p = (w + 0.5) / 2^32 as the kernels compute them."""
    a = 2.0 * np.asarray(words, dtype=np.float64) + 1.0
    la = _log_ge1(a) - pk.LOG_2POW33
    lb = _log_ge1(2.0**33 - a) - pk.LOG_2POW33
    if lam == 0.0:
        return la - lb
    ea, eb = _exp_neg(np.abs(lam * la)), _exp_neg(np.abs(lam * lb))
    if lam > 0.0:
        return (ea - eb) / lam
    return (eb - ea) / (ea * eb * lam)  # p^lam - (1 - p)^lam = 1 / ea - 1 / eb


def reference_poisson(mu, xa, ya, sample: int, seed: int) -> np.ndarray:
    """Poisson draws of the kernels, vectorised: float64 array shaped like ``mu``."""
    key = seed_key(seed)
    mu = np.asarray(mu, dtype=np.float64)
    shape = mu.shape
    mu = mu.ravel()
    xa = np.broadcast_to(xa, shape).ravel().astype(np.int64)
    ya = np.broadcast_to(ya, shape).ravel().astype(np.int64)
    out = np.where(mu > pk.POISSON_MAX_MEAN, mu, 0.0)
    # inversion by sequential search: P(0) = exp(-mu), P(k) = P(k - 1) * (mu * (1 / k))
    idx = np.flatnonzero((mu > 0.0) & (mu < pk.POISSON_INVERSION_MAX))
    m = mu[idx]
    w = _words(xa[idx], ya[idx], sample, NOISE_STREAM_POISSON, key)
    u = _uniform52(w[0], w[1])
    p = _exp_neg(m)
    f = p.copy()
    k = np.zeros(idx.size, dtype=np.int64)
    live = u > f
    while live.any():
        k = np.where(live, k + 1, k)
        p = np.where(live, p * (m * pk.RECIPROCALS[k]), p)
        f = np.where(live, f + p, f)
        live = live & (u > f) & (k < pk.POISSON_INVERSION_KMAX)
    out[idx] = k
    # PTRS (Hörmann 1993) for 10 <= mu <= 2^52, attempt a from counter (x, y, sample, 0x100 + a)
    idx = np.flatnonzero((mu >= pk.POISSON_INVERSION_MAX) & (mu <= pk.POISSON_MAX_MEAN))
    m = mu[idx]
    log_mu = _log_ge1(m)
    b = 0.931 + 2.53 * np.sqrt(m)
    a = -0.059 + 0.02483 * b
    vr = 0.9277 - 3.6224 / (b - 2.0)
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    attempt = 0
    while idx.size:
        w = _words(xa[idx], ya[idx], sample, NOISE_STREAM_POISSON + attempt, key)
        attempt += 1
        u = _uniform52(w[0], w[1]) - 0.5
        v = _uniform52(w[2], w[3])
        us = 0.5 - np.abs(u)
        k = np.floor((2.0 * a / us + b) * u + m + 0.43)
        fast = (us >= 0.07) & (v <= vr)
        keep = (k >= 0.0) & ((us >= 0.013) | (v <= us))
        lhs = _log_ge1(v * invalpha * 2.0**200 / (a / (us * us) + b)) - pk.LOG_2POW200
        rhs = -m + np.maximum(k, 0.0) * log_mu - _log_factorial(k)
        accept = fast | (keep & (lhs <= rhs))
        out[idx[accept]] = k[accept]
        keep = ~accept
        idx, m, log_mu = idx[keep], m[keep], log_mu[keep]
        a, b, vr, invalpha = a[keep], b[keep], vr[keep], invalpha[keep]
    return out.reshape(shape)


def reference_mean_electrons(
    clean, pattern, profile, iso, *, sensor_seed=0, exposure_time_s=None, shading=None,
    offset=(0, 0),
) -> np.ndarray:  # fmt: skip
    """NumPy reference of :func:`mean_electrons`."""
    clean = np.asarray(clean, dtype=np.float32)
    h, w, _ = clean.shape
    y0, x0 = offset
    p = ReadoutParams.from_profile(profile, iso, exposure_time_s)
    ya, xa = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.int64)
    py, px = pattern.period
    c = pattern.tile[ya % py, xa % px]
    c64 = clean.astype(np.float64)
    white = (c64[..., 0] + c64[..., 1] + c64[..., 2]) / 3.0
    v = np.where(c == 3, white, np.take_along_axis(c64, np.minimum(c, 2)[..., None], -1)[..., 0])
    v = np.where(v > 0.0, v, 0.0)
    m = v * p.e_white
    if shading is not None:
        m = m * np.asarray(shading, dtype=np.float32).astype(np.float64)
    z = np.zeros((h, w), dtype=np.float32)
    if p.prnu > 0.0:
        z = _pair_normals(ya, xa, 0, NOISE_STREAM_FIXED_PATTERN, seed_key(sensor_seed), True)
    m = m * (1.0 + p.prnu * z.astype(np.float64)) + p.dark_e
    return np.where(m > 0.0, m, 0.0).astype(np.float32)


def _reference_electrons(mu, ya, xa, p: ReadoutParams, seed, sample, sensor_seed):
    """min(Poisson(mu), full well) + DSNU of every pixel."""
    e = np.minimum(reference_poisson(mu, xa, ya, sample, seed), p.full_well)
    if p.dsnu > 0.0:
        z = _pair_normals(ya, xa, 0, NOISE_STREAM_FIXED_PATTERN, seed_key(sensor_seed), False)
        e = e + p.dsnu * z.astype(np.float64)
    return e


def _reference_noise(ya, xa, sample, stream, p: ReadoutParams, gain, key):
    """(read noise in e-, noise in DN) of every pixel, as the kernels draw them."""
    noise_e = np.zeros(ya.shape)
    noise_dn = np.zeros(ya.shape)
    sigma_dn = p.sigma_dn(gain)
    if p.tukey:
        w = _words(xa >> 1, ya, sample, stream, key)
        q = _tukey_quantile_words(_pick(xa, w[0], w[1]), p.tukey_lambda)
        noise_e = (p.tukey_scale * q).reshape(ya.shape)
        if p.adc > 0.0:
            z = _normals(w[2], w[3])
            noise_dn = (p.adc * _pick(xa, z[0], z[1]).astype(np.float64)).reshape(ya.shape)
    elif sigma_dn > 0.0:
        z = _pair_normals(ya, xa, sample, stream, key, True)
        noise_dn = sigma_dn * z.astype(np.float64)
    return noise_e, noise_dn


def _reference_row(ya, sample, stream, p: ReadoutParams, key):
    if not p.row_e > 0.0:
        return np.zeros(ya.shape)
    w = _words(0, ya, sample, stream, key)
    return p.row_e * _normals(w[0], w[1])[0].astype(np.float64).reshape(ya.shape)


def _reference_dn(e, noise_e, noise_dn, gain, p: ReadoutParams):
    dn = np.floor(p.black + gain * (e + noise_e) + noise_dn + 0.5)
    return np.clip(dn, 0.0, p.white).astype(np.uint16)


def reference_readout(
    mu, profile, iso, *, seed, sample, sensor_seed=0, offset=(0, 0)
) -> np.ndarray:
    """NumPy reference of :func:`readout`."""
    mu = np.asarray(mu, dtype=np.float32)
    h, w = mu.shape
    y0, x0 = offset
    p = ReadoutParams.from_profile(profile, iso)
    key = seed_key(seed)
    ya, xa = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.int64)
    e = _reference_electrons(mu, ya, xa, p, seed, sample, sensor_seed)
    noise_e, noise_dn = _reference_noise(ya, xa, sample, NOISE_STREAM_READOUT, p, p.gain, key)
    row = _reference_row(ya, sample, NOISE_STREAM_ROW, p, key)
    return _reference_dn(e, noise_e + row, noise_dn, p.gain, p)


def reference_bin_charge(
    mu, pattern, profile, iso, *, seed, sample, sensor_seed=0, offset=(0, 0)
) -> np.ndarray:
    """NumPy reference of :func:`bin_charge_to_bayer` (the mosaic only)."""
    mu = np.asarray(mu, dtype=np.float32)
    b = pattern.block
    h, w = mu.shape
    y0, x0 = offset
    p = ReadoutParams.from_profile(profile, iso)
    key = seed_key(seed)
    ya, xa = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.int64)
    e = _reference_electrons(mu, ya, xa, p, seed, sample, sensor_seed)
    s = np.zeros((h // b, w // b))
    for dy in range(b):  # the kernel's summation order: photodiodes in raster order
        for dx in range(b):
            s = s + e[dy::b, dx::b]
    yb, xb = np.mgrid[y0 // b : (y0 + h) // b, x0 // b : (x0 + w) // b].astype(np.int64)
    gain = p.gain / (b * b)
    noise_e, noise_dn = _reference_noise(yb, xb, sample, NOISE_STREAM_BINNED_READOUT, p, gain, key)
    row = _reference_row(yb, sample, NOISE_STREAM_BINNED_ROW, p, key)
    return _reference_dn(s, noise_e + row, noise_dn, gain, p)


def reference_simulate_sensor(
    clean, pattern, profile, iso, *, seed, sample, sensor_seed=0, exposure_time_s=None,
    shading=None, offset=(0, 0),
) -> np.ndarray:  # fmt: skip
    """NumPy reference of :func:`simulate_sensor` (without crosstalk and blooming)."""
    mu = reference_mean_electrons(
        clean, pattern, profile, iso, sensor_seed=sensor_seed, exposure_time_s=exposure_time_s,
        shading=shading, offset=offset,
    )  # fmt: skip
    return reference_readout(
        mu, profile, iso, seed=seed, sample=sample, sensor_seed=sensor_seed, offset=offset
    )
