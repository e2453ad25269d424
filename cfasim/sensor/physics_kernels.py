"""Numba kernels of the physics-based sensor model (Wei et al. 2020, in electrons).

Two passes over the mosaic, each a ``parallel=True`` kernel over rows with a serial ``nogil``
twin for Dask worker threads (same arithmetic, so the output does not depend on the thread
count):

1. :func:`mean_electrons_parallel`: clean linear camera RGB -> mean electrons of each CFA pixel,
   ``mu = v * e_white * shading * (1 + prnu * n_prnu) + dark``;
2. :func:`readout_parallel`: exact Poisson electrons, full-well clip, DSNU, read noise (Gaussian
   or Tukey-lambda), row noise, conversion gain, ADC noise, rounding, clip -> uint16 DN.
   :func:`charge_binned_readout_parallel` is its twin for in-sensor charge binning.

Random numbers come from Philox4x32-10 (:func:`cfasim.sim.kernels.philox4x32`) with counters built
from the pixel's absolute coordinates (image offset included), the sample index and a stream
word (``cfasim.sim.kernels.NOISE_STREAM_*``), so a crop computed at its offset equals the same crop
of the full frame, and results do not depend on threads, shards or workers:

- fixed pattern (key = sensor seed): pair counter ``(x // 2, y, 0, 1)``, words 0-1 through
  Box-Muller give ``n_prnu`` of pixels x = 2i, 2i + 1 (cos, sin), words 2-3 give ``n_dsnu``;
- Poisson (key = dataset seed): counter ``(x, y, sample, 0x100 + attempt)``; inversion uses a
  52-bit uniform from words 0-1 of attempt 0, PTRS one 52-bit uniform from words 0-1 and one
  from words 2-3 per attempt;
- read/ADC noise: pair counter ``(x // 2, y, sample, 2)`` (binned: ``(X // 2, Y, sample, 4)``):
  Gaussian read noise and ADC noise are one Gaussian of std ``sqrt(K^2 read^2 + adc^2)`` DN from
  words 0-1 (Box-Muller); Tukey-lambda read noise takes one 32-bit uniform per pixel from
  word 0 (even x) or 1 (odd x) and the ADC noise comes from words 2-3 (Box-Muller);
- row noise: counter ``(0, y, sample, 3)`` (binned rows: ``(0, Y, sample, 5)``), words 0-1.

Performance: each row first fills buffers of Philox words in plain loops that LLVM vectorises
(~1 ns per block instead of ~15 ns in scalar code), then takes the PTRS fast acceptance (about
50-80 % of draws, no logarithm) for every pixel in one vectorised loop; the small means (first
20 search steps) and the rest of PTRS (log test, further attempts) run on compacted,
gathered copies, again in vectorised loops, and branch-free compaction avoids mispredictions.
Row-sized scratch buffers are allocated per row, nothing per pixel. Library calls (log, exp,
sin, cos) would stop the vectorisation, so the hot loops use the polynomial versions below
(:func:`log_small`, :func:`log_ge1`, :func:`exp_neg`, :func:`normal_pair_poly`), accurate to
an ulp or two of float64 (the tests compare them with NumPy). The maths is float64; normals
are rounded to float32 like :func:`cfasim.sim.kernels.normal_pair`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from cfasim.sim.kernels import (
    NOISE_STREAM_BINNED_READOUT,
    NOISE_STREAM_BINNED_ROW,
    NOISE_STREAM_FIXED_PATTERN,
    NOISE_STREAM_POISSON,
    NOISE_STREAM_READOUT,
    NOISE_STREAM_ROW,
    philox4x32,
)

POISSON_INVERSION_MAX = 10.0
"""Means below this use inversion by sequential search, the others Hörmann's PTRS."""
POISSON_MAX_MEAN = 2.0**52
"""Means above this (or infinite) are returned as they are: the noise is below float64
resolution there, and PTRS needs finite arithmetic."""
POISSON_INVERSION_KMAX = 64
"""Guard of the sequential search: P[k >= 64 | mu < 10] < 1e-30, so only float rounding of
the cumulative sum just below 1 could reach it (probability ~1e-16)."""
POISSON_INVERSION_STEPS = 20
"""Steps of the sequential search done for every small-mean pixel in a vectorised loop; the
few pixels with k >= 20 (< 0.4 % at mu < 10) continue in scalar code."""
LOG_FACTORIAL_TABLE = np.array([math.lgamma(k + 1.0) for k in range(1024)])
"""log(k!) for k < 1024; larger k use the Stirling series (error < 1e-25)."""
RECIPROCALS = np.array([0.0] + [1.0 / k for k in range(1, POISSON_INVERSION_KMAX + 1)])
"""1 / k for the sequential search (a multiplication instead of a division per step)."""
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
LOG_2POW200 = 200.0 * math.log(2.0)
LOG_2POW33 = 33.0 * math.log(2.0)
_U52 = 2.0**-52
_2POW26 = 67108864.0
_2POW200 = 2.0**200
_2POW33 = 2.0**33
_LN2 = math.log(2.0)
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln 2: n * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.0 / math.log(2.0)
_SQRT2 = math.sqrt(2.0)
_QUARTER_PI = 0.25 * math.pi
_LOG_STEPS = tuple((2.0**s, 2.0**-s, float(s)) for s in (512, 256, 128, 64))
_LOG_STEPS_SMALL = tuple((2.0**s, 2.0**-s, float(s)) for s in (32, 16, 8, 4, 2, 1))
_EXP_TAYLOR = tuple(1.0 / math.factorial(j) for j in range(17, -1, -1))
"""Taylor coefficients of exp, highest order first (Horner)."""
_SIN_TAYLOR = tuple((-1.0) ** j / math.factorial(2 * j + 1) for j in range(5, -1, -1))
_COS_TAYLOR = tuple((-1.0) ** j / math.factorial(2 * j) for j in range(6, -1, -1))
_STIRLING = (1.0 / 12.0, 1.0 / 360.0, 1.0 / 1260.0, 1.0 / 1680.0)
_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}


# --- float64 maths without library calls (loops over them vectorise) --------------------------
# NumPy/libm give the same values to ~1 ulp; the tests check log_ge1 and exp_neg against them.
@njit(inline="always")
def _atanh_log(t):
    """ln(t) for t in [sqrt(1/2), sqrt(2)): 2 atanh(s), s = (t - 1) / (t + 1), |s| <= 0.172,
    series to s^21 (truncation < 3e-19)."""
    s = (t - 1.0) / (t + 1.0)
    z = s * s
    poly = 1.0 / 21.0
    poly = poly * z + 1.0 / 19.0
    poly = poly * z + 1.0 / 17.0
    poly = poly * z + 1.0 / 15.0
    poly = poly * z + 1.0 / 13.0
    poly = poly * z + 1.0 / 11.0
    poly = poly * z + 1.0 / 9.0
    poly = poly * z + 1.0 / 7.0
    poly = poly * z + 1.0 / 5.0
    poly = poly * z + 1.0 / 3.0
    return 2.0 * s + 2.0 * s * (poly * z)


@njit(inline="always")
def log_small(x):
    """ln(x) for 1 <= x < 2^64: ``x = 2^e t``, t in [sqrt(1/2), sqrt(2)), by exact scalings
    with powers of two (branch-free), then ``e ln 2 + ln t`` (ln 2 split for exactness)."""
    t = x
    e = 0.0
    for threshold, scale, step in _LOG_STEPS_SMALL:  # unrolled by LLVM
        big = t >= threshold
        t = t * scale if big else t
        e = e + step if big else e
    big = t > _SQRT2
    t = t * 0.5 if big else t
    e = e + 1.0 if big else e
    return e * _LN2_HI + (e * _LN2_LO + _atanh_log(t))


@njit(inline="always")
def log_ge1(x):
    """ln(x) for 1 <= x < 2^1024 (:func:`log_small` after four more scaling steps; the two
    agree bit for bit below 2^64)."""
    t = x
    e = 0.0
    for threshold, scale, step in _LOG_STEPS:
        big = t >= threshold
        t = t * scale if big else t
        e = e + step if big else e
    for threshold, scale, step in _LOG_STEPS_SMALL:
        big = t >= threshold
        t = t * scale if big else t
        e = e + step if big else e
    big = t > _SQRT2
    t = t * 0.5 if big else t
    e = e + 1.0 if big else e
    return e * _LN2_HI + (e * _LN2_LO + _atanh_log(t))


@njit(inline="always")
def log_int(k):
    """ln(k) of an integer 1 <= k < 2^32 (branch-free, for the Box-Muller radius)."""
    t = np.int64(k)
    e = np.int64(0)
    for step in (16, 8, 4, 2, 1):
        sh = np.int64(step) * np.int64(t >= (np.int64(1) << step))
        t = t >> sh
        e = e + sh
    m = np.float64(np.int64(k) << (np.int64(52) - e)) * 2.0**-52
    big = np.int64(m > _SQRT2)
    m = m * (1.0 - 0.5 * np.float64(big))
    e = e + big
    return np.float64(e) * _LN2_HI + (np.float64(e) * _LN2_LO + _atanh_log(m))


@njit(inline="always")
def exp_neg(m):
    """exp(-m) for 0 <= m < 43 (the shift giving 2^n must fit an int64): ``2^-n exp(-r)``,
    ``n = floor(m / ln 2)``, r in [0, ln 2) (Cody-Waite reduction), Taylor series of exp(-r) to
    r^17 (truncation < 3e-19)."""
    n = np.floor(m * _INV_LN2)
    r = (m - n * _LN2_HI) - n * _LN2_LO
    x = -r
    # Horner, 1 / 17! .. 1 / 0!, written out (as a loop over the tuple it did not vectorise)
    poly = _EXP_TAYLOR[0]
    poly = poly * x + _EXP_TAYLOR[1]
    poly = poly * x + _EXP_TAYLOR[2]
    poly = poly * x + _EXP_TAYLOR[3]
    poly = poly * x + _EXP_TAYLOR[4]
    poly = poly * x + _EXP_TAYLOR[5]
    poly = poly * x + _EXP_TAYLOR[6]
    poly = poly * x + _EXP_TAYLOR[7]
    poly = poly * x + _EXP_TAYLOR[8]
    poly = poly * x + _EXP_TAYLOR[9]
    poly = poly * x + _EXP_TAYLOR[10]
    poly = poly * x + _EXP_TAYLOR[11]
    poly = poly * x + _EXP_TAYLOR[12]
    poly = poly * x + _EXP_TAYLOR[13]
    poly = poly * x + _EXP_TAYLOR[14]
    poly = poly * x + _EXP_TAYLOR[15]
    poly = poly * x + _EXP_TAYLOR[16]
    poly = poly * x + _EXP_TAYLOR[17]
    return poly / np.float64(np.int64(1) << np.int64(n))


@njit(inline="always")
def log_factorial(k):
    """log(k!) of an integer-valued float k >= 0 (negative k: log 0! = 0): table below 1024,
    Stirling series above (both computed, so the choice is a select)."""
    kk = max(k, 0.0)
    table = LOG_FACTORIAL_TABLE[np.int64(min(kk, 1023.0))]
    n = kk + 1.0
    r = 1.0 / n
    r2 = r * r
    series = r * (_STIRLING[0] - r2 * (_STIRLING[1] - r2 * (_STIRLING[2] - r2 * _STIRLING[3])))
    stirling = (n - 0.5) * log_small(min(n, 2.0**63)) - n + HALF_LOG_2PI + series
    return table if kk < 1024.0 else stirling


# --- random variates -------------------------------------------------------------------------
@njit(inline="always")
def normal_pair_poly(w0, w1):
    """Two N(0, 1) draws from two words: the Box-Muller transform of
    :func:`cfasim.sim.kernels.normal_pair` (same ``u1 = ((w0 >> 8) + 1) / 2^24``,
    ``u2 = (w1 >> 8) / 2^24``, ``(r cos 2 pi u2, r sin 2 pi u2)``) evaluated in float64 with
    polynomials instead of library calls, so that loops over it vectorise (~3x faster than libm's
    branchy float32 log/sin/cos on random input). ``ln u1`` is :func:`log_int` of the 24-bit
    integer; sin and cos of ``phi = 2 pi u2 / 8`` by Taylor series to phi^11 and phi^12 (error
    < 1e-11), then three angle doublings. Results are float32, within 3e-7 of the exact
    transform.
    """
    k = np.int64(w0 >> np.uint32(8)) + 1
    r = np.sqrt(max(-2.0 * (log_int(k) - 24.0 * _LN2), 0.0))
    phi = _QUARTER_PI * (np.float64(w1 >> np.uint32(8)) * 2.0**-24)
    p2 = phi * phi
    # Horner in phi^2, written out (as a loop over the tuples it did not vectorise)
    sn = _SIN_TAYLOR[0]
    sn = sn * p2 + _SIN_TAYLOR[1]
    sn = sn * p2 + _SIN_TAYLOR[2]
    sn = sn * p2 + _SIN_TAYLOR[3]
    sn = sn * p2 + _SIN_TAYLOR[4]
    sn = sn * p2 + _SIN_TAYLOR[5]
    sn = sn * phi
    cs = _COS_TAYLOR[0]
    cs = cs * p2 + _COS_TAYLOR[1]
    cs = cs * p2 + _COS_TAYLOR[2]
    cs = cs * p2 + _COS_TAYLOR[3]
    cs = cs * p2 + _COS_TAYLOR[4]
    cs = cs * p2 + _COS_TAYLOR[5]
    cs = cs * p2 + _COS_TAYLOR[6]
    for _ in range(3):
        sn, cs = 2.0 * sn * cs, (cs - sn) * (cs + sn)
    return np.float32(r * cs), np.float32(r * sn)


@njit(inline="always")
def uniform52(w0, w1):
    """Uniform in (0, 1), 52 random bits of two words: ``(hi26 * 2^26 + lo26 + 0.5) / 2^52``."""
    hi = np.float64(w0 >> np.uint32(6))
    lo = np.float64(w1 >> np.uint32(6))
    return (hi * _2POW26 + lo + 0.5) * _U52


@njit(inline="always")
def _tukey_logs(w):
    """(ln p, ln(1 - p)) of ``p = (w + 0.5) / 2^32`` = A / 2^33 with the odd integer
    ``A = 2w + 1`` (and ``1 - p = (2^33 - A) / 2^33``), both exact inputs to :func:`log_small`."""
    a = 2.0 * np.float64(w) + 1.0
    return log_small(a) - LOG_2POW33, log_small(_2POW33 - a) - LOG_2POW33


@njit(inline="always")
def _tukey_positive(w, lam):
    la, lb = _tukey_logs(w)
    return (exp_neg(abs(lam * la)) - exp_neg(abs(lam * lb))) / lam


@njit(inline="always")
def _tukey_negative(w, lam):
    la, lb = _tukey_logs(w)
    ea = exp_neg(abs(lam * la))
    eb = exp_neg(abs(lam * lb))
    return (eb - ea) / (ea * eb * lam)  # (1 / ea - 1 / eb) / lam with one division


@njit(inline="always")
def _tukey_logistic(w):
    la, lb = _tukey_logs(w)
    return la - lb


@njit(inline="always")
def tukey_quantile_word(w, lam):
    """Standard Tukey-lambda quantile ``Q(p) = (p^l - (1-p)^l) / l`` (logistic ``ln(p / (1-p))``
    at l = 0) of ``p = (w + 0.5) / 2^32``, without library calls: ``ln p`` and ``ln(1 - p)`` by
    :func:`log_small` of odd integers (see ``_tukey_logs``), ``p^l = exp(l ln p)`` by
    :func:`exp_neg` of ``|l ln p|`` (its reciprocal for l < 0)."""
    if lam == 0.0:
        return _tukey_logistic(w)
    if lam > 0.0:
        return _tukey_positive(w, lam)
    return _tukey_negative(w, lam)


# --- exact Poisson ------------------------------------------------------------------------------
@njit(inline="always")
def ptrs_candidate(mu, w0, w1, w2, w3):
    """Candidate of one PTRS attempt (Hörmann 1993) for mu >= 10, and its fast acceptance.

    ``b = 0.931 + 2.53 sqrt(mu)``, ``a = -0.059 + 0.02483 b``, ``v_r = 0.9277 - 3.6224 / (b - 2)``,
    ``U = uniform52(w0, w1) - 1/2``, ``v = uniform52(w2, w3)``, ``us = 1/2 - |U|``:
    ``k = floor((2a / us + b) U + mu + 0.43)``, accepted at once if ``us >= 0.07`` and
    ``v <= v_r`` (~75 % of attempts at mu ~ 100-3000). Returns (k, fast, a, b, us, v).
    """
    b = 0.931 + 2.53 * np.sqrt(mu)
    a = -0.059 + 0.02483 * b
    vr = 0.9277 - 3.6224 / (b - 2.0)
    u = uniform52(w0, w1) - 0.5
    v = uniform52(w2, w3)
    us = 0.5 - abs(u)
    k = np.floor((2.0 * a / us + b) * u + mu + 0.43)
    return k, (us >= 0.07) & (v <= vr), a, b, us, v


@njit(inline="always")
def ptrs_attempt(mu, log_mu, w0, w1, w2, w3):
    """One full PTRS attempt: (k, accepted), branch-free so that loops over it vectorise.

    After the fast acceptance of :func:`ptrs_candidate`: reject if ``k < 0`` or (``us < 0.013``
    and ``v > us``); else accept iff ``ln(v alpha^-1 / (a / us^2 + b)) <= -mu + k ln mu - ln k!``
    with ``1/alpha = 1.1239 + 1.1328 / (b - 3.4)``; the left side is computed as
    ``log_ge1(v 2^200 / alpha (a / us^2 + b)) - 200 ln 2`` (its argument is >= 2^17).
    """
    k, fast, a, b, us, v = ptrs_candidate(mu, w0, w1, w2, w3)
    keep = (k >= 0.0) & ((us >= 0.013) | (v <= us))
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    lhs = log_ge1(v * invalpha * _2POW200 / (a / (us * us) + b)) - LOG_2POW200
    rhs = -mu + max(k, 0.0) * log_mu - log_factorial(k)
    return k, fast | (keep & (lhs <= rhs))


@njit(inline="always")
def _inversion_steps(mu, u, steps):
    """First ``steps`` steps of the sequential search: (count of j < steps with u > F_j,
    p_{steps-1}, F_{steps-1}); the count is the Poisson draw when it is below ``steps``."""
    p = exp_neg(mu)
    f = p
    count = np.int64(u > f)
    for j in range(1, steps):
        p = p * (mu * RECIPROCALS[j])
        f = f + p
        count += np.int64(u > f)
    return count, p, f


@njit(inline="always")
def _inversion_finish(mu, u, k, p, f):
    """Continue the sequential search from step k (state p_k, F_k)."""
    while u > f and k < POISSON_INVERSION_KMAX:
        k += 1
        p = p * (mu * RECIPROCALS[k])
        f = f + p
    return k


@njit(**_JIT)
def poisson_from_words(mu, w0, w1, w2, w3, xa, ya, sample, key0, key1):
    """Exact Poisson(mu) (as float64) given the words of attempt 0 of pixel (ya, xa).

    ``mu < 10``: inversion by sequential search (``P(0) = e^-mu``, ``P(k) = P(k-1) mu / k``)
    with ``u = uniform52(w0, w1)``; ``10 <= mu <= 2^52``: :func:`ptrs_attempt`, attempt
    ``a >= 1`` drawing its words from counter ``(xa, ya, sample, 0x100 + a)``.
    The row kernels compute the same draws in vectorised stages.
    """
    if not mu > 0.0:
        return 0.0
    if mu > POISSON_MAX_MEAN:
        return mu
    if mu < POISSON_INVERSION_MAX:
        u = uniform52(w0, w1)
        p = exp_neg(mu)
        return np.float64(_inversion_finish(mu, u, 0, p, p))
    log_mu = log_small(mu)
    attempt = 0
    while True:
        if attempt > 0:
            w0, w1, w2, w3 = philox4x32(xa, ya, sample, NOISE_STREAM_POISSON + attempt, key0, key1)
        attempt += 1
        k, ok = ptrs_attempt(mu, log_mu, w0, w1, w2, w3)
        if ok:
            return k


@njit(inline="always")
def poisson(mu, xa, ya, sample, key0, key1):
    """Exact Poisson(mu) draw of pixel (ya, xa): :func:`poisson_from_words` with attempt 0's
    words from counter ``(xa, ya, sample, NOISE_STREAM_POISSON)``."""
    w0, w1, w2, w3 = philox4x32(xa, ya, sample, NOISE_STREAM_POISSON, key0, key1)
    return poisson_from_words(mu, w0, w1, w2, w3, xa, ya, sample, key0, key1)


@njit(**_JIT)
def _poisson_row(mu_row, xa0, ya, sample, key0, key1, e):  # noqa: C901 (fused kernel)
    """e[x] = Poisson(mu_row[x]) for pixels xa0 .. xa0 + n - 1 of row ya, in vectorised stages:
    attempt 0 of PTRS for every pixel; the sequential search of the small means (first
    POISSON_INVERSION_STEPS steps for all of them); further PTRS attempts for the rejected."""
    n = mu_row.shape[0]
    words = np.empty((4, n), dtype=np.uint32)
    _fill_words(words, xa0, ya, sample, NOISE_STREAM_POISSON, key0, key1)
    kind = np.empty(n, dtype=np.int8)  # 0: done, 1: small mean (inversion), 2: PTRS pending
    for x in range(n):
        m = np.float64(mu_row[x])
        mc = min(max(m, POISSON_INVERSION_MAX), POISSON_MAX_MEAN)
        k, fast, _, _, _, _ = ptrs_candidate(mc, words[0, x], words[1, x], words[2, x], words[3, x])
        on_ptrs = (m >= POISSON_INVERSION_MAX) & (m <= POISSON_MAX_MEAN)
        huge = m > POISSON_MAX_MEAN
        e[x] = k if on_ptrs else (m if huge else 0.0)
        pending = np.int8(on_ptrs) * (np.int8(1) - np.int8(fast))
        kind[x] = np.int8(2) * pending + np.int8((m > 0.0) & (m < POISSON_INVERSION_MAX))
    small = np.empty(n, dtype=np.int64)
    pend = np.empty(n, dtype=np.int64)
    n_small = 0
    n_pend = 0
    for x in range(n):  # branch-free compaction
        small[n_small] = x
        pend[n_pend] = x
        n_small += np.int64(kind[x] == 1)
        n_pend += np.int64(kind[x] == 2)
    if n_small > 0:
        steps = POISSON_INVERSION_STEPS
        ms = np.empty(n_small)
        us = np.empty(n_small)
        for i in range(n_small):
            x = small[i]
            ms[i] = mu_row[x]
            us[i] = uniform52(words[0, x], words[1, x])
        count = np.empty(n_small, dtype=np.int64)
        last_p = np.empty(n_small)
        last_f = np.empty(n_small)
        for i in range(n_small):
            count[i], last_p[i], last_f[i] = _inversion_steps(ms[i], us[i], steps)
        for i in range(n_small):
            k = count[i]
            if k >= steps:
                k = _inversion_finish(ms[i], us[i], steps - 1, last_p[i], last_f[i])
            e[small[i]] = np.float64(k)
    if n_pend == 0:
        return
    # the rest of attempt 0 (squeeze rejection, log test) for the pixels not accepted at once,
    # on gathered contiguous copies (LLVM vectorises the contiguous loops, not the gathers)
    m = np.empty(n_pend)
    buf = np.empty((4, n_pend), dtype=np.uint32)
    for i in range(n_pend):
        x = pend[i]
        m[i] = mu_row[x]
        buf[0, i] = words[0, x]
        buf[1, i] = words[1, x]
        buf[2, i] = words[2, x]
        buf[3, i] = words[3, x]
    log_mu = np.empty(n_pend)
    for i in range(n_pend):
        log_mu[i] = log_small(m[i])
    cand = np.empty(n_pend)
    accepted = np.empty(n_pend, dtype=np.bool_)
    attempt = 0
    while True:
        for i in range(n_pend):
            cand[i], accepted[i] = ptrs_attempt(
                m[i], log_mu[i], buf[0, i], buf[1, i], buf[2, i], buf[3, i]
            )
        left = 0
        for i in range(n_pend):  # branch-free: store accepted draws, compact the others
            x = pend[i]
            ok = accepted[i]
            e[x] = cand[i] if ok else e[x]
            pend[left] = x
            m[left] = m[i]
            log_mu[left] = log_mu[i]
            left += np.int64(not ok)
        n_pend = left
        if n_pend == 0:
            return
        attempt += 1
        for i in range(n_pend):
            w0, w1, w2, w3 = philox4x32(
                xa0 + pend[i], ya, sample, NOISE_STREAM_POISSON + attempt, key0, key1
            )
            buf[0, i] = w0
            buf[1, i] = w1
            buf[2, i] = w2
            buf[3, i] = w3


# --- row helpers -----------------------------------------------------------------------------
@njit(inline="always")
def _fill_words(buf, c0, c1, c2, c3, key0, key1):
    """buf[:, i] = Philox words of counter (c0 + i, c1, c2, c3) (a loop LLVM vectorises)."""
    for i in range(buf.shape[1]):
        w0, w1, w2, w3 = philox4x32(c0 + i, c1, c2, c3, key0, key1)
        buf[0, i] = w0
        buf[1, i] = w1
        buf[2, i] = w2
        buf[3, i] = w3


@njit(inline="always")
def _pair_words(n, xa0, c1, c2, c3, key0, key1):
    """Words of the pair counters covering pixels xa0 .. xa0 + n - 1, and xa0's parity."""
    off = xa0 & 1
    buf = np.empty((4, (off + n + 1) >> 1), dtype=np.uint32)
    _fill_words(buf, xa0 >> 1, c1, c2, c3, key0, key1)
    return buf, off


@njit(inline="always")
def _pair_normals(n, xa0, c1, c2, c3, key0, key1, j):
    """Box-Muller normals of words j, j + 1 of the pair counters: pixel x -> z[x] (length n)."""
    buf, off = _pair_words(n, xa0, c1, c2, c3, key0, key1)
    z = np.empty(2 * buf.shape[1], dtype=np.float32)
    for i in range(buf.shape[1]):
        z[2 * i], z[2 * i + 1] = normal_pair_poly(buf[j, i], buf[j + 1, i])
    return z[off : off + n]


@njit(inline="always")
def _row_offset(ya, sample, stream, row_e, key0, key1):
    """Row noise (electrons) of absolute row ``ya``."""
    if row_e > 0.0:
        w0, w1, _, _ = philox4x32(0, ya, sample, stream, key0, key1)
        z, _ = normal_pair_poly(w0, w1)
        return row_e * np.float64(z)
    return 0.0


@njit(**_JIT)
def _electron_row(mu_row, xa0, ya, sample, key0, key1, fwc, dsnu, fk0, fk1, e):
    """e[x] = min(Poisson(mu_row[x]), fwc) + dsnu * n_dsnu for one row of pixels."""
    n = mu_row.shape[0]
    _poisson_row(mu_row, xa0, ya, sample, key0, key1, e)
    if dsnu > 0.0:
        z = _pair_normals(n, xa0, ya, 0, NOISE_STREAM_FIXED_PATTERN, fk0, fk1, 2)
        for x in range(n):
            e[x] = min(e[x], fwc) + dsnu * np.float64(z[x])
    else:
        for x in range(n):
            e[x] = min(e[x], fwc)


@njit(**_JIT)
def _noise_row(n, xa0, ya, sample, stream, tukey, lam, tukey_scale, sigma_dn, adc, key0, key1):  # noqa: C901 (fused kernel)
    """Read noise in electrons (Tukey only, else 0) and noise in DN (Gaussian read + ADC, or
    ADC alone with Tukey read noise) of pixels xa0 .. xa0 + n - 1 of row ya."""
    noise_e = np.zeros(n)
    noise_dn = np.zeros(n)
    if tukey:
        buf, off = _pair_words(n, xa0, ya, sample, stream, key0, key1)
        q = np.empty(2 * buf.shape[1])
        if lam == 0.0:  # one loop per case, so that each vectorises
            for i in range(buf.shape[1]):
                q[2 * i] = _tukey_logistic(buf[0, i])
                q[2 * i + 1] = _tukey_logistic(buf[1, i])
        elif lam > 0.0:
            for i in range(buf.shape[1]):
                q[2 * i] = _tukey_positive(buf[0, i], lam)
                q[2 * i + 1] = _tukey_positive(buf[1, i], lam)
        else:
            for i in range(buf.shape[1]):
                q[2 * i] = _tukey_negative(buf[0, i], lam)
                q[2 * i + 1] = _tukey_negative(buf[1, i], lam)
        for x in range(n):
            noise_e[x] = tukey_scale * q[x + off]
        if adc > 0.0:
            z = np.empty(2 * buf.shape[1], dtype=np.float32)
            for i in range(buf.shape[1]):
                z[2 * i], z[2 * i + 1] = normal_pair_poly(buf[2, i], buf[3, i])
            for x in range(n):
                noise_dn[x] = adc * np.float64(z[x + off])
    elif sigma_dn > 0.0:
        z = _pair_normals(n, xa0, ya, sample, stream, key0, key1, 0)
        for x in range(n):
            noise_dn[x] = sigma_dn * np.float64(z[x])
    return noise_e, noise_dn


@njit(inline="always")
def _to_dn(e, noise_e, noise_dn, gain, black, white):
    """``clip(floor(black + gain * (e + noise_e) + noise_dn + 0.5), 0, white)`` as uint16."""
    dn = np.floor(black + gain * (e + noise_e) + noise_dn + 0.5)
    return np.uint16(min(max(dn, 0.0), white))


# --- pass 1: mean electrons ------------------------------------------------------------------
@njit(**_JIT)
def _mean_row(y, clean, shading, tile, y0, x0, e_white, prnu, dark_e, fk0, fk1, mu):
    width = clean.shape[1]
    py, px = tile.shape
    ya = y + y0
    trow = ya % py
    if prnu > 0.0:
        z = _pair_normals(width, x0, ya, 0, NOISE_STREAM_FIXED_PATTERN, fk0, fk1, 0)
    else:
        z = np.zeros(width, dtype=np.float32)
    shaded = shading.shape[0] > 0
    cx = x0 % px
    for x in range(width):
        c = tile[trow, cx]
        cx = cx + 1 if cx + 1 < px else 0
        if c < 3:
            v = np.float64(clean[y, x, c])
        else:
            v = (
                np.float64(clean[y, x, 0]) + np.float64(clean[y, x, 1]) + np.float64(clean[y, x, 2])
            ) / 3.0
        if not v > 0.0:  # negative or NaN: no light; v > 1 (over-exposure) is kept
            v = 0.0
        m = v * e_white
        if shaded:
            m = m * np.float64(shading[y, x])
        m = m * (1.0 + prnu * np.float64(z[x])) + dark_e
        mu[y, x] = np.float32(m) if m > 0.0 else np.float32(0.0)


@njit(parallel=True, **_JIT)
def mean_electrons_parallel(clean, shading, tile, y0, x0, e_white, prnu, dark_e, fk0, fk1, mu):
    """Pass 1: mean electrons of every CFA pixel.

    Parameters
    ----------
    clean : (H, W, 3) float32 linear camera RGB, 1 = white level (negative/NaN -> 0; values
        above 1 are over-exposure, clipped later by the full well and the white level)
    shading : (H, W) float32 relative illumination, or a (0, 0) array for none
    tile : (py, px) int8 CFA colour indices (3 = W: mean of the three channels)
    y0, x0 : absolute position of pixel (0, 0) (CFA phase and random counters use it)
    e_white : mean electrons at the white level; prnu : relative std of the pixel gain;
    dark_e : mean dark electrons (dark current x exposure time)
    fk0, fk1 : Philox key of the sensor seed (fixed pattern)
    mu : (H, W) float32 output, ``v * e_white * shading * (1 + prnu * n_prnu) + dark_e``
    """
    for y in prange(clean.shape[0]):
        _mean_row(y, clean, shading, tile, y0, x0, e_white, prnu, dark_e, fk0, fk1, mu)


@njit(**_JIT)
def mean_electrons_serial(clean, shading, tile, y0, x0, e_white, prnu, dark_e, fk0, fk1, mu):
    """Single-threaded twin of :func:`mean_electrons_parallel`."""
    for y in range(clean.shape[0]):
        _mean_row(y, clean, shading, tile, y0, x0, e_white, prnu, dark_e, fk0, fk1, mu)


# --- pass 2: Poisson electrons + readout -------------------------------------------------------
@njit(**_JIT)
def _readout_row(
    y, mu, y0, x0, fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e, gain, black, white,
    key0, key1, fk0, fk1, sample, raw,
):  # fmt: skip
    width = mu.shape[1]
    ya = y + y0
    e = np.empty(width)
    _electron_row(mu[y], x0, ya, sample, key0, key1, fwc, dsnu, fk0, fk1, e)
    noise_e, noise_dn = _noise_row(
        width, x0, ya, sample, NOISE_STREAM_READOUT, tukey, lam, tukey_scale, sigma_dn, adc,
        key0, key1,
    )  # fmt: skip
    row = _row_offset(ya, sample, NOISE_STREAM_ROW, row_e, key0, key1)
    for x in range(width):
        raw[y, x] = _to_dn(e[x], noise_e[x] + row, noise_dn[x], gain, black, white)


@njit(parallel=True, **_JIT)
def readout_parallel(
    mu, y0, x0, fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e, gain, black, white,
    key0, key1, fk0, fk1, sample, raw,
):  # fmt: skip
    """Pass 2: mean electrons -> uint16 DN.

    ``e = min(Poisson(mu), fwc) + dsnu * n_dsnu``;
    ``raw = clip(floor(black + gain * (e + read_e + row_e) + noise_dn + 0.5), 0, white)``.

    Parameters
    ----------
    mu : (H, W) float32 mean electrons (pass 1); y0, x0 : absolute offset of mu[0, 0]
    fwc : full-well capacity (e-); dsnu : DSNU std (e-) (fixed pattern, sensor key fk0, fk1)
    tukey : bool, Tukey-lambda read noise of shape ``lam``: ``read_e = tukey_scale * Q(p)`` with
        ``tukey_scale = read_noise_e / std(TL(lam))``; ``noise_dn = adc * N(0, 1)``
    sigma_dn : Gaussian read noise: ``noise_dn = sigma_dn * N(0, 1)`` with
        ``sigma_dn = sqrt(gain^2 read_noise_e^2 + adc^2)`` (read and ADC noise in one draw)
    row_e : row noise std (e-); gain : conversion gain K (DN/e-)
    black, white : black level and white (clip) level, DN
    key0, key1, sample : dataset key and sample index; raw : (H, W) uint16 output
    """
    for y in prange(mu.shape[0]):
        _readout_row(
            y, mu, y0, x0, fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e, gain, black,
            white, key0, key1, fk0, fk1, sample, raw,
        )  # fmt: skip


@njit(**_JIT)
def readout_serial(
    mu, y0, x0, fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e, gain, black, white,
    key0, key1, fk0, fk1, sample, raw,
):  # fmt: skip
    """Single-threaded twin of :func:`readout_parallel`."""
    for y in range(mu.shape[0]):
        _readout_row(
            y, mu, y0, x0, fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e, gain, black,
            white, key0, key1, fk0, fk1, sample, raw,
        )  # fmt: skip


# --- pass 2 with charge binning ----------------------------------------------------------------
@njit(**_JIT)
def _binned_row(
    yb, mu, block, y0, x0, fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e, gain, black,
    white, key0, key1, fk0, fk1, sample, raw,
):  # fmt: skip
    width = mu.shape[1]
    wb = raw.shape[1]
    s = np.zeros(wb)
    e = np.empty(width)
    for dy in range(block):
        y = yb * block + dy
        _electron_row(mu[y], x0, y + y0, sample, key0, key1, fwc, dsnu, fk0, fk1, e)
        for xb in range(wb):
            for dx in range(block):
                s[xb] = s[xb] + e[xb * block + dx]
    ya = yb + y0 // block
    xa0 = x0 // block
    noise_e, noise_dn = _noise_row(
        wb, xa0, ya, sample, NOISE_STREAM_BINNED_READOUT, tukey, lam, tukey_scale, sigma_dn, adc,
        key0, key1,
    )  # fmt: skip
    row = _row_offset(ya, sample, NOISE_STREAM_BINNED_ROW, row_e, key0, key1)
    for xb in range(wb):
        raw[yb, xb] = _to_dn(s[xb], noise_e[xb] + row, noise_dn[xb], gain, black, white)


@njit(parallel=True, **_JIT)
def charge_binned_readout_parallel(
    mu, block, y0, x0, fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e, gain, black,
    white, key0, key1, fk0, fk1, sample, raw,
):  # fmt: skip
    """Pass 2 with charge binning: each ``block`` x ``block`` group of photodiodes is read once.

    Every photodiode draws its Poisson electrons (the counters of :func:`readout_parallel`, so
    binned and unbinned readouts of one exposure see the same photons), clips at ``fwc`` and adds
    its DSNU; the charges are summed (raster order inside the block) on the shared floating
    diffusion and read with one read, row and ADC noise per binned pixel (streams 4 and 5, binned
    coordinates ``(y0 / block + Y, x0 / block + X)``). ``gain`` is the binned conversion gain
    (``K / block^2`` keeps the DN range); raw is (H / block, W / block) uint16.
    """
    for yb in prange(raw.shape[0]):
        _binned_row(
            yb, mu, block, y0, x0, fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e,
            gain, black, white, key0, key1, fk0, fk1, sample, raw,
        )  # fmt: skip


@njit(**_JIT)
def charge_binned_readout_serial(
    mu, block, y0, x0, fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e, gain, black,
    white, key0, key1, fk0, fk1, sample, raw,
):  # fmt: skip
    """Single-threaded twin of :func:`charge_binned_readout_parallel`."""
    for yb in range(raw.shape[0]):
        _binned_row(
            yb, mu, block, y0, x0, fwc, dsnu, tukey, lam, tukey_scale, sigma_dn, adc, row_e,
            gain, black, white, key0, key1, fk0, fk1, sample, raw,
        )  # fmt: skip


# --- primitives exported for the NumPy reference and the tests -------------------------------
@njit(**_JIT)
def philox_words(c0, c1, c2, c3, key0, key1):
    """Philox4x32-10 of n counters (four int64 arrays of length n) -> (4, n) uint32."""
    n = c0.shape[0]
    out = np.empty((4, n), dtype=np.uint32)
    for i in range(n):
        w0, w1, w2, w3 = philox4x32(c0[i], c1[i], c2[i], c3[i], key0, key1)
        out[0, i] = w0
        out[1, i] = w1
        out[2, i] = w2
        out[3, i] = w3
    return out


@njit(**_JIT)
def box_muller(w0, w1):
    """The kernels' float32 Box-Muller normals of two word arrays -> (2, n) float32."""
    n = w0.shape[0]
    out = np.empty((2, n), dtype=np.float32)
    for i in range(n):
        out[0, i], out[1, i] = normal_pair_poly(w0[i], w1[i])
    return out


@njit(**_JIT)
def poisson_draws(mu, xa, ya, sample, key0, key1):
    """The kernels' Poisson draws for 1-D arrays of means and absolute coordinates (tests)."""
    out = np.empty(mu.shape[0])
    for i in range(mu.shape[0]):
        out[i] = poisson(np.float64(mu[i]), xa[i], ya[i], sample, key0, key1)
    return out


@njit(**_JIT)
def tukey_quantiles(words, lam):
    """:func:`tukey_quantile_word` over a 1-D uint32 array (reference, tests)."""
    out = np.empty(words.shape[0])
    for i in range(words.shape[0]):
        out[i] = tukey_quantile_word(words[i], lam)
    return out


@njit(**_JIT)
def math_helpers(x, k):
    """:func:`log_ge1` and :func:`log_small` of x (x >= 1, NaN elsewhere), :func:`exp_neg` of x
    (0 <= x < 43, NaN elsewhere) and :func:`log_factorial` of k, elementwise over 1-D arrays ->
    (4, n) float64 (the reference and the tests)."""
    out = np.empty((4, x.shape[0]))
    for i in range(x.shape[0]):
        out[0, i] = log_ge1(x[i]) if x[i] >= 1.0 else np.nan
        out[1, i] = log_small(x[i]) if 1.0 <= x[i] < 2.0**64 else np.nan
        out[2, i] = exp_neg(x[i]) if 0.0 <= x[i] < 43.0 else np.nan
        out[3, i] = log_factorial(k[i])
    return out
