"""Physics-based sensor noise: kernels vs the NumPy reference, determinism, and the statistics
of every noise term against the photon-transfer prediction.

Statistical tolerances are 5 standard errors of the estimator, derived in each test: for a
sample variance of n values, ``SE^2 = (2 sigma^4 + kappa4) / n`` (kappa4 the fourth cumulant;
0 for a Gaussian, ``K^4 mu`` for Poisson electrons in DN), plus ``2 s^4 / m`` when a term of
variance s^2 has only m independent values in the sample (row noise: one per row).
All seeds are fixed, so every test is deterministic.
"""

import dataclasses
import math

import numba
import numpy as np
import pytest
from scipy import special, stats

from cfasim.cfa import get_pattern
from cfasim.sensor import physics as pn
from cfasim.sensor import physics_kernels as pk
from cfasim.sensor.profile import SensorProfile
from cfasim.sim import kernels
from cfasim.sim.simulate import seed_key
from cfasim.testing.reference_chain import philox4x32_10

Z = 5.0  # tolerance in standard errors


def make_profile(**kw) -> SensorProfile:
    """A 12-bit test sensor with every noise term off: full well 1000 e-, DN range 1000, so
    K = 1 DN/e- at base ISO (159.5) and raw - black counts electrons exactly."""
    base = dict(
        name="test",
        description="test sensor",
        pixel_pitch_um=1.0,
        quantum_efficiency=0.5,
        full_well_e=1000.0,
        bits=12,
        black_level_dn=1000,
        white_level_dn=2000,
        read_noise_e=0.0,
    )
    base.update(kw)
    return SensorProfile(**base)


def flat(value, h, w):
    return np.full((h, w, 3), value, dtype=np.float32)


def var_se(var, n, kappa4=0.0):
    """Standard error of a sample variance of n independent values."""
    return math.sqrt((2.0 * var**2 + kappa4) / n)


@numba.njit
def _normal_pair(w0, w1):
    return kernels.normal_pair(w0, w1)


@numba.njit
def _poisson_rows(mu, x0, y0, sample, key0, key1):
    out = np.empty(mu.shape)
    for y in range(mu.shape[0]):
        pk._poisson_row(mu[y], x0, y + y0, sample, key0, key1, out[y])
    return out


# --- primitives --------------------------------------------------------------------------------
def test_philox_words_match_the_numpy_philox():
    rng = np.random.default_rng(0)
    c = rng.integers(0, 2**32, (4, 1000), dtype=np.uint64)
    key = (0x1234ABCD, 0x9E3779B9)
    got = pk.philox_words(*(c.astype(np.int64)), np.uint32(key[0]), np.uint32(key[1]))
    want = philox4x32_10(tuple(c), key)
    for i in range(4):
        np.testing.assert_array_equal(got[i], want[i])


def test_polynomial_box_muller_matches_the_exact_transform():
    rng = np.random.default_rng(1)
    edges = np.array([0, 255, 256, 2**31, 2**32 - 256, 2**32 - 1], dtype=np.uint32)
    w0 = np.concatenate([rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32), edges])
    w1 = np.concatenate(
        [rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32), edges[::-1]]
    )
    z = pk.box_muller(w0, w1)
    u1 = ((w0 >> 8).astype(np.float64) + 1.0) * 2.0**-24
    u2 = (w1 >> 8).astype(np.float64) * 2.0**-24
    r = np.sqrt(-2.0 * np.log(u1))
    # float32 rounding of |z| <= 5.8 is <= 2.4e-7; the polynomials add < 1e-10
    np.testing.assert_allclose(z[0], r * np.cos(2 * np.pi * u2), rtol=0, atol=3e-7)
    np.testing.assert_allclose(z[1], r * np.sin(2 * np.pi * u2), rtol=0, atol=3e-7)
    # and the libm float32 normal_pair of the Poisson-Gaussian kernel agrees to its own accuracy
    libm = np.array([_normal_pair(a, b) for a, b in zip(w0[:2000], w1[:2000], strict=True)])
    np.testing.assert_allclose(z[:, :2000].T, libm, rtol=0, atol=2e-6)


def test_polynomial_maths_matches_numpy():
    rng = np.random.default_rng(2)
    x = np.concatenate(
        [
            np.exp(rng.uniform(0.0, 700.0, 50_000)),
            rng.integers(1, 2**53, 20_000).astype(np.float64),
            [1.0, 2.0, math.sqrt(2.0), np.nextafter(math.sqrt(2.0), 2.0), 2.0**63, 2.0**64],
        ]
    )
    out = pk.math_helpers(x, np.zeros(x.size))
    ref = np.log(x)
    assert np.all(np.abs(out[0] - ref) <= 4.5e-16 * np.abs(ref))  # ~2 ulp
    small = x < 2.0**64
    np.testing.assert_array_equal(out[1][small], out[0][small])  # same bits below 2^64
    m = rng.uniform(0.0, 43.0, 50_000)
    e = pk.math_helpers(m, np.zeros(m.size))[2]
    np.testing.assert_allclose(e, np.exp(-m), rtol=1e-15, atol=0)
    k = np.concatenate([np.arange(0.0, 3000.0), rng.integers(3000, 10**8, 5000).astype(float)])
    lf = pk.math_helpers(np.ones(k.size), k)[3]
    np.testing.assert_allclose(lf, special.gammaln(k + 1.0), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("lam", [-0.2, -0.05, 0.0, 0.14, 0.5, 1.0])
def test_tukey_quantiles_match_the_definition_and_scipy(lam):
    rng = np.random.default_rng(3)
    edges = np.array([0, 1, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1], dtype=np.uint32)
    w = np.concatenate([rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32), edges])
    p = (w.astype(np.float64) + 0.5) * 2.0**-32
    q = pk.tukey_quantiles(w, lam)
    np.testing.assert_allclose(q, pn.tukey_lambda_quantile(p, lam), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(q, stats.tukeylambda.ppf(p, lam), rtol=1e-9, atol=1e-11)


def test_tukey_lambda_variance_matches_scipy():
    for lam in (-0.45, -0.2, -0.05, -1e-7, 0.0, 1e-9, 0.1, 0.14, 0.3, 0.5, 1.0):
        assert pn.tukey_lambda_variance(lam) == pytest.approx(stats.tukeylambda.var(lam), rel=1e-13)
    assert pn.tukey_lambda_variance(0.0) == pytest.approx(math.pi**2 / 3, rel=1e-15)
    with pytest.raises(ValueError, match="infinite"):
        pn.tukey_lambda_variance(-0.5)


# --- kernels == NumPy reference ---------------------------------------------------------------
def full_profile(dist="gaussian", lam=0.14) -> SensorProfile:
    """Every term on; full well 2000 e-, so over-exposed pixels clip."""
    return make_profile(
        full_well_e=2000.0,
        black_level_dn=240,
        white_level_dn=4095,
        read_noise_e=2.5,
        read_noise_distribution=dist,
        tukey_lambda=lam,
        adc_noise_dn=0.8,
        row_noise_e=0.7,
        dark_current_e_per_s=300.0,
        exposure_time_s=0.01,
        prnu=0.02,
        dsnu_e=1.5,
    )


def random_scene(h, w, seed=0):
    rng = np.random.default_rng(seed)
    clean = (rng.random((h, w, 3)) ** 3 * 1.6).astype(np.float32)  # means 0 .. 1.6 e_white
    clean[0, :3] = [np.nan, -0.5, 0.0]
    shading = rng.uniform(0.5, 1.2, (h, w)).astype(np.float32)
    return clean, shading


READ_MODELS = [("gaussian", 0.14), ("tukey", -0.1), ("tukey", 0.0)]


@pytest.mark.parametrize("dist, lam", READ_MODELS)
@pytest.mark.parametrize("spec", ["bayer", "quad:grbg", "nona", "qxq", "RGBW/GBWR"])
def test_kernels_equal_the_numpy_reference(spec, dist, lam):
    pattern = get_pattern(spec)
    profile = full_profile(dist, lam)
    iso = 1.5 * profile.base_iso  # e_white = 1333 e-: means 0 .. 2560 e-, both samplers, clip
    clean, shading = random_scene(48, 72)
    kw = dict(sensor_seed=5, shading=shading, offset=(5, 11))
    mu = pn.mean_electrons(clean, pattern, profile, iso, **kw)
    np.testing.assert_array_equal(
        mu, pn.reference_mean_electrons(clean, pattern, profile, iso, **kw)
    )
    assert (mu < 10).mean() > 0.1 and (mu > profile.full_well_e).any()
    kw = dict(seed=2**40 + 17, sample=3, sensor_seed=5, offset=(5, 11))
    raw = pn.readout(mu, profile, iso, **kw)
    np.testing.assert_array_equal(raw, pn.reference_readout(mu, profile, iso, **kw))
    raw = pn.simulate_sensor(clean, pattern, profile, iso, seed=9, sample=1, sensor_seed=5)
    ref = pn.reference_simulate_sensor(
        clean, pattern, profile, iso, seed=9, sample=1, sensor_seed=5
    )
    np.testing.assert_array_equal(raw, ref)
    if pattern.block in pn.BINNING_BLOCKS:
        offset = (2 * pattern.block * 3, 2 * pattern.block * 5)
        kw = dict(seed=7, sample=2, sensor_seed=5, offset=offset)
        binned, bayer = pn.bin_charge_to_bayer(mu, pattern, profile, iso, **kw)
        assert bayer == get_pattern(pattern.phase)
        np.testing.assert_array_equal(
            binned, pn.reference_bin_charge(mu, pattern, profile, iso, **kw)
        )


def test_poisson_samplers_agree_on_edge_means():
    rng = np.random.default_rng(4)
    mu = np.exp(rng.uniform(np.log(1e-3), np.log(1e6), (40, 257))).astype(np.float32)
    edge = [0, -1, np.nan, np.inf, 1e-30, 9.999, 10.0, 10.001, 9.9, 9.99, 2.0**52, 3e15, 1e17]
    mu[0, : len(edge)] = edge
    key = seed_key(99)
    ya, xa = np.mgrid[7:47, 3:260].astype(np.int64)
    ref = pn.reference_poisson(mu, xa, ya, 11, 99)
    scalar = pk.poisson_draws(mu.ravel(), xa.ravel(), ya.ravel(), np.uint32(11), *key)
    rows = _poisson_rows(mu, 3, 7, np.uint32(11), *key)
    np.testing.assert_array_equal(scalar.reshape(mu.shape), ref)
    np.testing.assert_array_equal(rows, ref)
    np.testing.assert_array_equal(ref[0, :4], [0, 0, 0, np.inf])  # NaN and negative: no light
    assert ref[0, 12] == np.float32(1e17)  # beyond 2^52 the mean is returned
    assert abs(ref[0, 11] - 3e15) < 6 * math.sqrt(3e15) and ref[0, 11] != np.float32(3e15)
    assert np.all(ref == np.floor(ref))


# --- determinism -------------------------------------------------------------------------------
def test_same_result_for_any_thread_count_and_serial_kernels():
    pattern = get_pattern("qxq")
    profile = full_profile("tukey", -0.05)
    clean, shading = random_scene(96, 128, seed=1)
    iso = 2 * profile.base_iso
    kw = dict(seed=3, sample=4, sensor_seed=1, shading=shading)
    default = numba.get_num_threads()
    outputs = []
    try:
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS), default}):
            numba.set_num_threads(threads)
            outputs.append(
                (
                    pn.simulate_sensor(clean, pattern, profile, iso, **kw),
                    pn.simulate_sensor_binned(clean, pattern, profile, iso, mode="charge", **kw)[0],
                )
            )
    finally:
        numba.set_num_threads(default)
    outputs.append(
        (
            pn.simulate_sensor(clean, pattern, profile, iso, parallel=False, **kw),
            pn.simulate_sensor_binned(
                clean, pattern, profile, iso, mode="charge", parallel=False, **kw
            )[0],
        )
    )
    for raw, binned in outputs[1:]:
        np.testing.assert_array_equal(raw, outputs[0][0])
        np.testing.assert_array_equal(binned, outputs[0][1])


def test_seed_and_sample_select_the_noise():
    pattern = get_pattern("nona")
    clean, _ = random_scene(60, 60, seed=2)

    def run(profile, seed=1, sample=0, sensor_seed=0):
        iso = 2 * profile.base_iso
        return pn.simulate_sensor(
            clean, pattern, profile, iso, seed=seed, sample=sample, sensor_seed=sensor_seed
        )

    profile = full_profile()
    a = run(profile)
    np.testing.assert_array_equal(a, run(profile))
    unclipped = a < profile.white_level_dn
    for other in (run(profile, sample=1), run(profile, seed=2), run(profile, seed=1 + 2**32)):
        # noise std >= 5 DN: nearly every unclipped pixel moves
        assert (other != a)[unclipped].mean() > 0.9
    # the sensor seed selects the fixed pattern (PRNU, DSNU) and nothing else
    assert (run(profile, sensor_seed=1) != a)[unclipped].mean() > 0.5
    no_fpn = dataclasses.replace(profile, prnu=0.0, dsnu_e=0.0)
    np.testing.assert_array_equal(run(no_fpn, sensor_seed=1), run(no_fpn, sensor_seed=2))


def test_a_crop_at_its_offset_equals_the_crop_of_the_full_frame():
    pattern = get_pattern("qxq:gbrg")
    profile = full_profile("tukey", -0.1)
    clean, shading = random_scene(96, 112, seed=3)
    iso = 2 * profile.base_iso
    full_mu = pn.mean_electrons(clean, pattern, profile, iso, sensor_seed=4, shading=shading)
    full_raw = pn.readout(full_mu, profile, iso, seed=8, sample=5, sensor_seed=4)
    for y0, x0, h, w in [(13, 27, 40, 51), (0, 1, 96, 111), (31, 0, 1, 1)]:
        crop = np.s_[y0 : y0 + h, x0 : x0 + w]
        mu = pn.mean_electrons(
            clean[crop], pattern, profile, iso, sensor_seed=4, shading=shading[crop],
            offset=(y0, x0),
        )  # fmt: skip
        np.testing.assert_array_equal(mu, full_mu[crop])
        raw = pn.readout(mu, profile, iso, seed=8, sample=5, sensor_seed=4, offset=(y0, x0))
        np.testing.assert_array_equal(raw, full_raw[crop])
    full_bin, _ = pn.bin_charge_to_bayer(full_mu, pattern, profile, iso, seed=8, sample=5)
    crop = np.s_[16:80, 32:96]
    part, _ = pn.bin_charge_to_bayer(
        full_mu[crop], pattern, profile, iso, seed=8, sample=5, offset=(16, 32)
    )
    np.testing.assert_array_equal(part, full_bin[4:20, 8:24])
    with pytest.raises(ValueError, match="multiple of the period"):
        pn.bin_charge_to_bayer(
            full_mu[4:92], pattern, profile, iso, seed=8, sample=5, offset=(4, 0)
        )


# --- statistics of each term -------------------------------------------------------------------
def test_shot_noise_variance_follows_the_photon_transfer_line():
    """Shot noise only: Var = K^2 mu + 1/12 on an 8-level flat-field ramp (65536 px each)."""
    profile = make_profile(full_well_e=10000.0, black_level_dn=100, white_level_dn=4095)
    iso = 2 * profile.base_iso  # K = 0.799 DN/e-, e_white = 5000 e-
    levels = np.array([0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9])
    clean = np.repeat(levels, 128)[:, None, None] * np.ones((1, 512, 3), dtype=np.float32)
    raw = pn.simulate_sensor(clean, get_pattern("quad"), profile, iso, seed=1, sample=0)
    k = profile.conversion_gain(iso)
    for i, v in enumerate(levels):
        block = raw[128 * i : 128 * (i + 1)].astype(np.float64).ravel()
        n = block.size
        mu = float(np.float32(v) * profile.electrons_at_white(iso))
        var = pn.predicted_variance_dn(np.float32(v), profile, iso)
        assert var == pytest.approx(k**2 * mu + 1 / 12)
        assert abs(block.var(ddof=1) - var) < Z * var_se(var, n, k**4 * mu)
        mean = pn.predicted_mean_dn(np.float32(v), profile, iso)
        assert abs(block.mean() - mean) < Z * math.sqrt(var / n)


@pytest.mark.parametrize("mu", [0.3, 2.5, 7.9, 10.0, 31.6, 250.0])
def test_poisson_electrons_at_small_and_large_means(mu):
    """K = 1 and no other noise: raw - black counts the electrons; chi-square against the
    Poisson pmf (expected counts >= 5 per bin), mean and variance within 5 SE."""
    profile = make_profile()
    n = 100_000
    raw = pn.readout(
        np.full((200, 500), mu, np.float32), profile, profile.base_iso, seed=5, sample=0
    )
    e = raw.astype(np.int64).ravel() - profile.black_level_dn
    assert e.min() >= 0
    assert abs(e.mean() - mu) < Z * math.sqrt(mu / n)
    assert abs(e.var(ddof=1) - mu) < Z * math.sqrt((mu + 2 * mu * mu) / n)
    ks = np.arange(e.max() + 1)
    expected = n * stats.poisson.pmf(ks, mu)
    observed = np.bincount(e, minlength=ks.size).astype(float)
    keep = expected >= 5
    lo, hi = np.flatnonzero(keep)[[0, -1]]
    obs = np.concatenate(
        [[observed[:lo].sum() + observed[lo]], observed[lo + 1 : hi], [observed[hi:].sum()]]
    )
    exp = np.concatenate(
        [[n * stats.poisson.cdf(lo, mu)], expected[lo + 1 : hi], [n * stats.poisson.sf(hi - 1, mu)]]
    )
    assert obs.sum() == n and exp.sum() == pytest.approx(n)
    assert stats.chisquare(obs, exp).pvalue > 1e-3


def test_gaussian_read_noise():
    profile = make_profile(read_noise_e=5.0)
    iso = 4 * profile.base_iso  # K = 4: 20 DN
    raw = pn.readout(np.zeros((256, 1024), np.float32), profile, iso, seed=6, sample=0)
    x = raw.astype(np.float64).ravel() - profile.black_level_dn
    n = x.size
    var = pn.predicted_variance_dn(0.0, profile, iso)
    assert var == pytest.approx(400 + 1 / 12)
    assert abs(x.var(ddof=1) - var) < Z * var_se(var, n)
    assert abs(x.mean()) < Z * math.sqrt(var / n)
    assert abs(stats.kurtosis(x)) < Z * math.sqrt(24 / n)  # Gaussian: excess kurtosis 0


@pytest.mark.parametrize("lam", [0.0, -0.15])
def test_tukey_read_noise_matches_scipy(lam):
    """Read noise 10 e- at K = 4 (40 DN), Tukey-lambda scaled to unit std: quantiles within
    5 SE (sqrt(q (1 - q) / n) / pdf, + 0.5 DN of rounding), variance with its kurtosis."""
    profile = make_profile(read_noise_e=10.0, read_noise_distribution="tukey", tukey_lambda=lam)
    iso = 4 * profile.base_iso
    raw = pn.readout(np.zeros((512, 512), np.float32), profile, iso, seed=7, sample=0)
    x = (raw.astype(np.float64).ravel() - profile.black_level_dn) / 40.0
    n = x.size
    sd = math.sqrt(stats.tukeylambda.var(lam))
    q = np.array([0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999])
    want = stats.tukeylambda.ppf(q, lam) / sd
    pdf = stats.tukeylambda.pdf(want * sd, lam) * sd
    se = np.sqrt(q * (1 - q) / n) / pdf
    assert np.all(np.abs(np.quantile(x, q) - want) < Z * se + 0.5 / 40)
    excess = float(stats.tukeylambda.stats(lam, moments="k"))
    var = pn.predicted_variance_dn(0.0, profile, iso)
    assert var == pytest.approx(1600 + 1 / 12)
    assert abs(x.var(ddof=1) * 1600 - var) < Z * var_se(var, n, excess * 1600**2)
    # long tails: P(|x| > 4 sd), binomial SE
    p4 = 2 * stats.tukeylambda.sf(4 * sd, lam)
    assert p4 > 2 * stats.norm.sf(4)
    assert abs((np.abs(x) > 4 + 0.5 / 40).mean() - p4) < Z * math.sqrt(p4 / n) + 2e-5


def test_row_noise_is_shared_along_rows():
    """Read 3 e- (12 DN) and row 1.5 e- (6 DN) at K = 4, 4096 rows of 256 px: the variance of
    the row means is 36 + (144 + 1/12) / 256, the variance within a row 144 + 1/12; the row means
    are white across rows and independent between samples."""
    profile = make_profile(read_noise_e=3.0, row_noise_e=1.5)
    iso = 4 * profile.base_iso
    zeros = np.zeros((4096, 256), np.float32)
    a = pn.readout(zeros, profile, iso, seed=8, sample=0).astype(np.float64)
    b = pn.readout(zeros, profile, iso, seed=8, sample=1).astype(np.float64)
    h, w = a.shape
    inner = 144 + 1 / 12
    rows = a.mean(axis=1)
    want = 36 + inner / w
    assert abs(rows.var(ddof=1) - want) < Z * var_se(want, h)
    within = a.var(axis=1, ddof=1).mean()
    assert abs(within - inner) < Z * inner * math.sqrt(2 / (h * (w - 1)))
    r = rows - rows.mean()
    for lag in range(1, 9):
        assert abs(np.dot(r[:-lag], r[lag:]) / np.dot(r, r)) < Z / math.sqrt(h)
    assert abs(np.corrcoef(rows, b.mean(axis=1))[0, 1]) < Z / math.sqrt(h)
    # the whole frame against the prediction: row offsets are only 4096 independent values
    var = pn.predicted_variance_dn(0.0, profile, iso)
    assert var == pytest.approx(16 * (9 + 2.25) + 1 / 12)
    se = math.sqrt(var_se(var, a.size) ** 2 + var_se(36.0, h) ** 2)
    assert abs(a.var() - var) < Z * se


def test_dark_current_is_proportional_to_exposure_time():
    """2000 e-/s at K = 1: mean dark electrons 4, 20, 100 for 2, 10, 50 ms (Poisson: the
    variance equals the mean; integer DN, so no rounding noise)."""
    profile = make_profile(dark_current_e_per_s=2000.0)
    clean = flat(0.0, 256, 256)
    n = 256 * 256
    for t in (0.002, 0.01, 0.05):
        raw = pn.simulate_sensor(
            clean, get_pattern("bayer"), profile, profile.base_iso, seed=9, sample=0,
            exposure_time_s=t,
        )  # fmt: skip
        e = raw.astype(np.float64).ravel() - profile.black_level_dn
        mu = 2000.0 * t
        assert abs(e.mean() - mu) < Z * math.sqrt(mu / n)
        assert abs(e.var(ddof=1) - mu) < Z * math.sqrt((mu + 2 * mu * mu) / n)
        mean = pn.predicted_mean_dn(0.0, profile, profile.base_iso, exposure_time_s=t)
        assert mean == pytest.approx(profile.black_level_dn + mu)
    with pytest.raises(ValueError, match="exposure time"):
        pn.simulate_sensor(
            clean, get_pattern("bayer"), profile, profile.base_iso, seed=9, sample=0,
            exposure_time_s=0.0,
        )  # fmt: skip


def _corr(a, b):
    return np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1]


def test_prnu_is_fixed_per_sensor():
    """PRNU 3 % at mu = 10000 e- (K = 3): the pixel gains are the same in every sample of a
    sensor (frame correlation rho = PRNU variance / total = 0.9) and new for another sensor;
    the half variance of a frame difference removes them (photon transfer)."""
    profile = make_profile(
        full_well_e=20000.0, bits=16, black_level_dn=1000, white_level_dn=61000, prnu=0.03
    )
    iso = profile.base_iso
    clean = flat(0.5, 256, 256)
    n = 256 * 256

    def frame(sample, sensor_seed):
        return pn.simulate_sensor(
            clean, get_pattern("quad"), profile, iso, seed=1, sample=sample,
            sensor_seed=sensor_seed,
        ).astype(np.float64)  # fmt: skip

    f0, f1, g = frame(0, 7), frame(1, 7), frame(2, 8)
    k, mu = 3.0, 10000.0
    prnu_var = k**2 * (0.03 * mu) ** 2
    var = pn.predicted_variance_dn(0.5, profile, iso)
    assert var == pytest.approx(prnu_var + k**2 * mu + 1 / 12)
    assert abs(f0.var(ddof=1) - var) < Z * var_se(var, n)
    shot = k**2 * mu + 1 / 12
    assert abs((f0 - f1).var(ddof=1) / 2 - shot) < Z * var_se(shot, n)
    rho = prnu_var / var
    assert abs(_corr(f0, f1) - rho) < Z * (1 - rho**2) / math.sqrt(n)
    assert abs(_corr(f0, g)) < Z / math.sqrt(n)
    # the gain map itself: N(0, 1) per pixel, independent of seed and sample
    mu_map = pn.mean_electrons(clean, get_pattern("quad"), profile, iso, sensor_seed=7)
    z = (mu_map / (0.5 * profile.electrons_at_white(iso)) - 1.0) / 0.03
    assert abs(z.mean()) < Z / math.sqrt(n) and abs(z.std() - 1) < Z * math.sqrt(0.5 / n)
    np.testing.assert_array_equal(
        mu_map, pn.mean_electrons(clean, get_pattern("quad"), profile, iso, sensor_seed=7)
    )


def test_dsnu_is_fixed_per_sensor():
    """DSNU 5 e- and read noise 2 e- at K = 4 in the dark: frame correlation 25 / 29."""
    profile = make_profile(dsnu_e=5.0, read_noise_e=2.0)
    iso = 4 * profile.base_iso
    clean = flat(0.0, 256, 256)
    n = 256 * 256

    def frame(sample, sensor_seed):
        return pn.simulate_sensor(
            clean, get_pattern("bayer"), profile, iso, seed=2, sample=sample,
            sensor_seed=sensor_seed,
        ).astype(np.float64)  # fmt: skip

    f0, f1, g = frame(0, 3), frame(1, 3), frame(2, 4)
    var = pn.predicted_variance_dn(0.0, profile, iso)
    assert var == pytest.approx(16 * 29 + 1 / 12)
    assert abs(f0.var(ddof=1) - var) < Z * var_se(var, n)
    temporal = 16 * 4 + 1 / 12
    assert abs((f0 - f1).var(ddof=1) / 2 - temporal) < Z * var_se(temporal, n)
    rho = 16 * 25 / var
    assert abs(_corr(f0, f1) - rho) < Z * (1 - rho**2) / math.sqrt(n)
    assert abs(_corr(f0, g)) < Z / math.sqrt(n)


def test_full_well_clips_the_charge():
    fwc, gain, black = 1000.0, 1.0, 100.0  # K = 1: the code counts the electrons
    key = seed_key(3)

    def kernel(mu, full_well):
        raw = np.empty(mu.shape, np.uint16)
        pk.readout_serial(
            mu, 0, 0, full_well, 0.0, False, 0.14, 0.0, 0.0, 0.0, 0.0, gain, black, 65535.0,
            *key, *key, np.uint32(0), raw,
        )  # fmt: skip
        return raw.astype(np.float64)

    over = np.full((100, 100), 3 * fwc, np.float32)
    assert np.all(kernel(over, fwc) == black + gain * fwc)  # charge stops at the full well
    assert abs(kernel(over, np.inf).mean() - (black + gain * 3 * fwc)) < 1.0
    at = kernel(np.full((200, 500), fwc, np.float32), fwc)
    assert at.max() == black + gain * fwc
    p = stats.poisson.sf(fwc - 1, fwc)  # P(k >= full well)
    assert abs((at == black + gain * fwc).mean() - p) < Z * math.sqrt(p * (1 - p) / at.size)
    # over-exposed clean values (v > 1) saturate: full well at base ISO is the white level
    profile = make_profile()
    raw = pn.simulate_sensor(flat(3.0, 16, 16), get_pattern("bayer"), profile, profile.base_iso,
                             seed=1, sample=0)  # fmt: skip
    assert np.all(raw == profile.white_level_dn)


def test_quantisation_and_clipping():
    zeros = np.zeros((1000, 1000), np.float32)
    n = zeros.size
    # ADC noise 2 DN: variance 4 + 1/12 (5 SE = 0.029 < 1/12, so the rounding term is seen)
    profile = make_profile(adc_noise_dn=2.0)
    x = pn.readout(zeros, profile, profile.base_iso, seed=4, sample=0).astype(np.float64)
    var = pn.predicted_variance_dn(0.0, profile, profile.base_iso)
    assert var == 4 + 1 / 12
    assert abs(x.var(ddof=1) - var) < Z * var_se(var, n)
    # ADC noise 0.3 DN: the code moves off the black level when |0.3 z| > 0.5
    profile = make_profile(adc_noise_dn=0.3)
    x = pn.readout(zeros[:400], profile, profile.base_iso, seed=4, sample=0)
    p = 2 * stats.norm.sf(0.5 / 0.3)
    assert set(np.unique(x)) <= {999, 1000, 1001}
    assert abs((x != 1000).mean() - p) < Z * math.sqrt(p * (1 - p) / x.size)
    # rounding half up: the same electrons (same seed) read at K = 1 and at K = 0.5
    mu = np.full((100, 100), 40.0, np.float32)
    k1 = pn.readout(mu, make_profile(), make_profile().base_iso, seed=5, sample=0)
    half = make_profile(white_level_dn=1500)  # DN range 500 over 1000 e-: K = 0.5
    k05 = pn.readout(mu, half, half.base_iso, seed=5, sample=0)
    e = k1.astype(np.float64) - 1000
    np.testing.assert_array_equal(k05, np.floor(1000 + 0.5 * e + 0.5))
    # clipping at 0: black level 0 and read noise 20 DN
    profile = make_profile(black_level_dn=0, white_level_dn=1000, read_noise_e=5.0)
    x = pn.readout(zeros[:200], profile, 4 * profile.base_iso, seed=6, sample=0)
    p0 = stats.norm.cdf(0.5 / 20)  # codes <= 0 before clipping
    assert x.min() == 0 and x.max() < 200
    assert abs((x == 0).mean() - p0) < Z * math.sqrt(p0 * (1 - p0) / x.size)


@pytest.mark.parametrize("dist, lam", [("gaussian", 0.14), ("tukey", -0.1)])
def test_every_term_together_matches_the_predicted_variance(dist, lam):
    """Shot, dark, PRNU, DSNU, read, row and ADC noise on a 4-level ramp of 512 x 256 px."""
    profile = make_profile(
        full_well_e=6000.0, bits=14, black_level_dn=512, white_level_dn=16383,
        read_noise_e=3.0, read_noise_distribution=dist, tukey_lambda=lam, row_noise_e=1.0,
        adc_noise_dn=1.5, prnu=0.01, dsnu_e=2.0, dark_current_e_per_s=100.0,
        exposure_time_s=0.05,
    )  # fmt: skip
    iso = 2 * profile.base_iso  # K = 5.29 DN/e-, e_white = 3000 e-
    k = profile.conversion_gain(iso)
    levels = np.array([0.05, 0.2, 0.5, 0.8])
    clean = np.repeat(levels, 512)[:, None, None] * np.ones((1, 256, 3), np.float32)
    raw = pn.simulate_sensor(
        clean, get_pattern("qxq"), profile, iso, seed=10, sample=0, sensor_seed=2
    )
    excess = float(stats.tukeylambda.stats(lam, moments="k")) if dist == "tukey" else 0.0
    for i, v in enumerate(levels):
        block = raw[512 * i : 512 * (i + 1)].astype(np.float64)
        mu = v * profile.electrons_at_white(iso) + 5.0
        var = pn.predicted_variance_dn(v, profile, iso)
        kappa4 = k**4 * mu + excess * (k * 3.0) ** 4
        se = math.sqrt(var_se(var, block.size, kappa4) ** 2 + var_se(k**2, 512) ** 2)
        assert abs(block.var() - var) < Z * se
        assert abs(block.mean() - pn.predicted_mean_dn(v, profile, iso)) < Z * math.sqrt(
            var / block.size + k**2 / 512
        )


# --- binning -------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["quad", "nona", "qxq"])
def test_charge_binning_beats_digital_binning_by_the_predicted_ratio(spec):
    """Low light (7.5 e- per photodiode at K = 10.4): charge binning reads each block once,
    digital binning averages b^2 reads. Variances of both against
    predicted_binned_variance_dn, and their ratio."""
    pattern = get_pattern(spec)
    b = pattern.block
    profile = make_profile(
        full_well_e=3000.0, black_level_dn=200, white_level_dn=4095, read_noise_e=3.0,
        adc_noise_dn=0.5, row_noise_e=0.5, dsnu_e=0.5,
    )  # fmt: skip
    iso = 8 * profile.base_iso
    k = profile.conversion_gain(iso)
    v = 0.02
    clean = flat(v, 1152, 1152)
    kw = dict(seed=11, sample=0, sensor_seed=3)
    charge, bayer = pn.simulate_sensor_binned(clean, pattern, profile, iso, mode="charge", **kw)
    digital, bayer_d = pn.simulate_sensor_binned(clean, pattern, profile, iso, mode="digital", **kw)
    assert bayer == bayer_d == get_pattern("bayer")
    assert charge.dtype == np.uint16 and charge.shape == digital.shape == (1152 // b, 1152 // b)
    mu = float(np.float32(v) * profile.electrons_at_white(iso))
    rows = 1152 // b
    stats_ = {}
    for mode, out, row_var in (
        ("charge", charge, k**2 * 0.25 / b**4),
        ("digital", digital, k**2 * 0.25 / b),
    ):
        x = out.astype(np.float64)
        var = pn.predicted_binned_variance_dn(v, profile, iso, b, mode)
        kappa4 = k**4 * mu / b**6  # b^2 Poisson photodiodes, scaled by 1 / b^2
        se = math.sqrt(var_se(var, x.size, kappa4) ** 2 + var_se(row_var, rows) ** 2)
        assert abs(x.var() - var) < Z * se, mode
        assert abs(x.mean() - pn.predicted_mean_dn(v, profile, iso)) < Z * math.sqrt(
            var / x.size + row_var / rows
        )
        stats_[mode] = (x.var(), var, se)
    (vc, pc, sc), (vd, pd, sd) = stats_["charge"], stats_["digital"]
    ratio = pd / pc
    assert ratio > 1.2  # the read noise dominates, so charge binning is clearly better
    assert abs(vd / vc - ratio) < Z * ratio * math.hypot(sc / pc, sd / pd)
    # the formula: shot, PRNU, DSNU average alike; read noise 1/n^2 vs 1/n
    n = b * b
    sig = k**2 * (mu + 0.25)
    assert pc == pytest.approx(sig / n + k**2 * (9 + 0.25) / n**2 + 0.25 + 1 / 12)
    assert pd == pytest.approx((sig + k**2 * 9 + 0.25 + 1 / 12) / n + k**2 * 0.25 / b)


def test_charge_binning_sums_the_same_photons():
    """No read noise, K = 1: the charge-binned code is black + round(sum of the block's
    electrons / b^2), with the electrons of the unbinned readout of the same sample."""
    profile = make_profile()
    pattern = get_pattern("nona")
    mu = np.random.default_rng(5).uniform(0, 200, (60, 72)).astype(np.float32)
    raw = pn.readout(mu, profile, profile.base_iso, seed=12, sample=4)
    binned, _ = pn.bin_charge_to_bayer(mu, pattern, profile, profile.base_iso, seed=12, sample=4)
    e = (raw.astype(np.float64) - 1000).reshape(20, 3, 24, 3).sum(axis=(1, 3))
    np.testing.assert_array_equal(binned, np.floor(1000 + e / 9 + 0.5))
    mean, bayer = pn.bin_digital_to_bayer(raw, pattern)
    np.testing.assert_allclose(mean, 1000 + e / 9)
    assert bayer == get_pattern("bayer")


# --- front end ----------------------------------------------------------------------------------
def test_shading_and_white_pixels_in_the_mean():
    profile = make_profile()
    e_white = profile.electrons_at_white(profile.base_iso)
    rng = np.random.default_rng(6)
    clean = rng.random((8, 8, 3)).astype(np.float32)
    shading = rng.uniform(0.3, 1.0, (8, 8)).astype(np.float32)
    pattern = get_pattern("RGBW/GBWR")  # 2 x 4 tile with white pixels
    mu = pn.mean_electrons(clean, pattern, profile, profile.base_iso, shading=shading)
    c = pattern.color_index(8, 8)
    c64 = clean.astype(np.float64)
    v = np.where(
        c == 3,
        c64.sum(axis=-1) / 3,
        np.take_along_axis(c64, np.minimum(c, 2)[..., None], -1)[..., 0],
    )
    np.testing.assert_array_equal(mu, (v * e_white * shading.astype(np.float64)).astype(np.float32))


def test_input_errors():
    profile = make_profile()
    p = get_pattern("quad")
    iso = profile.base_iso
    clean = flat(0.5, 16, 16)
    with pytest.raises(ValueError, match="expected \\(H, W, 3\\)"):
        pn.simulate_sensor(clean[..., 0], p, profile, iso, seed=1, sample=0)
    with pytest.raises(ValueError, match="shading map"):
        pn.simulate_sensor(clean, p, profile, iso, seed=1, sample=0, shading=np.ones((8, 8)))
    for sample in (-1, 2**32):
        with pytest.raises(ValueError, match="sample index"):
            pn.simulate_sensor(clean, p, profile, iso, seed=1, sample=sample)
    with pytest.raises(ValueError, match="seed"):
        pn.simulate_sensor(clean, p, profile, iso, seed=-1, sample=0)
    with pytest.raises(ValueError, match="below the base ISO"):
        pn.simulate_sensor(clean, p, profile, iso / 2, seed=1, sample=0)
    with pytest.raises(ValueError, match="offset"):
        pn.mean_electrons(clean, p, profile, iso, offset=(-1, 0))
    with pytest.raises(ValueError, match="quad, nona or qxq"):
        pn.simulate_sensor_binned(
            clean, get_pattern("bayer"), profile, iso, mode="charge", seed=1, sample=0
        )
    with pytest.raises(ValueError, match="binning mode"):
        pn.simulate_sensor_binned(clean, p, profile, iso, mode="analog", seed=1, sample=0)
    with pytest.raises(ValueError, match="binning mode"):
        pn.predicted_binned_variance_dn(0.1, profile, iso, 2, "analog")
    with pytest.raises(ValueError, match="not a multiple"):
        pn.simulate_sensor_binned(
            flat(0.5, 12, 12), get_pattern("qxq"), profile, iso, mode="charge", seed=1, sample=0
        )


def test_optics_hooks_act_on_the_mean_electrons():
    optics = pytest.importorskip("cfasim.sensor.optics")
    profile = full_profile()
    pattern = get_pattern("quad")
    iso = profile.base_iso
    clean, _ = random_scene(64, 64, seed=7)
    kernel = optics.crosstalk_kernel(0.03, 0.01)
    kw = dict(seed=1, sample=2, sensor_seed=3)
    mu = pn.mean_electrons(clean, pattern, profile, iso, sensor_seed=3)
    got = pn.simulate_sensor(clean, pattern, profile, iso, crosstalk=kernel, **kw)
    want = pn.readout(optics.apply_crosstalk(mu, kernel), profile, iso, **kw)
    np.testing.assert_array_equal(got, want)
    got = pn.simulate_sensor(clean, pattern, profile, iso, blooming=True, **kw)
    bloomed = optics.bloom(mu, profile.full_well_e)
    np.testing.assert_array_equal(got, pn.readout(bloomed, profile, iso, **kw))
    assert not np.array_equal(got, pn.simulate_sensor(clean, pattern, profile, iso, **kw))
    assert bloomed.max() <= profile.full_well_e
