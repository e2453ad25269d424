"""The fused Numba RAW kernel against the plain-NumPy reference, determinism, Philox."""

import numba
import numpy as np
import pytest

from cfasim.cfa import get_pattern
from cfasim.isp.steps import UnprocessParams
from cfasim.sim import kernels
from cfasim.sim.noise import NoiseLevels
from cfasim.sim.simulate import RawFormat, display_lut, simulate_raw
from cfasim.testing.reference_chain import gaussian_field, philox4x32_10, raw_reference

# Random123 known-answer vectors for Philox4x32-10: counter, key -> output
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@numba.njit
def _philox(c0, c1, c2, c3, k0, k1):
    return kernels.philox4x32(c0, c1, c2, c3, k0, k1)


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(int(v) for v in _philox(*counter, *key)) == expected
    assert tuple(int(v[()]) for v in philox4x32_10(counter, key)) == expected


def test_kernel_normals_match_reference_and_are_standard():
    seed = 0x1234_5678_9ABC
    z = kernels.philox_normals(
        np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32), np.uint32(7), 301, 257
    )
    # float32 Box-Muller: NumPy's SIMD log/cos/sin may differ from libm by a few ulp
    np.testing.assert_allclose(z, gaussian_field(seed, 7, 301, 257), rtol=1e-5, atol=1e-5)
    # N = 77357 draws: SE(mean) = 0.0036, SE(var) = 0.0051 -> 5 sigma bounds
    assert abs(z.mean()) < 0.018 and abs(z.var() - 1) < 0.026
    # neighbours (the two outputs of one Box-Muller pair) are uncorrelated
    assert abs(np.corrcoef(z[:, 0:-1:2].ravel(), z[:, 1::2].ravel())[0, 1]) < 0.02


def _case(spec, dtype, transfer="srgb", tone=True, seed=3):
    rng = np.random.default_rng(seed)
    p = get_pattern(spec)
    h, w = 5 * p.period[0], 7 * p.period[1]
    maxval = np.iinfo(dtype).max
    image = rng.integers(0, maxval + 1, (h, w, 3)).astype(dtype)
    image[:3, :3] = maxval  # highlights exercise the safe gains
    params = UnprocessParams.sample(rng, transfer, tone)
    return p, image, params


@pytest.mark.parametrize("spec", ["bayer", "quad:gbrg", "nona", "qxq:grbg", "RGB/GBR/BRG", "RG/BW"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("parallel", [True, False])
def test_noise_free_kernel_equals_reference_exactly(spec, dtype, parallel):
    p, image, params = _case(spec, dtype)
    fmt = RawFormat(12, 200)
    raw, clean = simulate_raw(
        image, p, params, NoiseLevels(0, 0), fmt, seed=1, sample=0, clean=True, parallel=parallel
    )
    ref_raw, ref_clean = raw_reference(image, p, params, NoiseLevels(0, 0), fmt, 1, 0)
    np.testing.assert_array_equal(raw, ref_raw)
    np.testing.assert_array_equal(clean, ref_clean)
    raw2, none = simulate_raw(
        image, p, params, NoiseLevels(0, 0), fmt, seed=1, sample=0, parallel=parallel
    )
    np.testing.assert_array_equal(raw2, raw)
    assert none is None


@pytest.mark.parametrize("transfer, tone", [("gamma2.2", True), ("srgb", False)])
def test_transfer_and_tone_options_match_reference(transfer, tone):
    p, image, params = _case("nona", np.uint8, transfer, tone)
    fmt = RawFormat()
    raw, _ = simulate_raw(image, p, params, NoiseLevels(0, 0), fmt, seed=0, sample=0)
    np.testing.assert_array_equal(
        raw, raw_reference(image, p, params, NoiseLevels(0, 0), fmt, 0, 0)[0]
    )


@pytest.mark.parametrize("spec", ["bayer", "nona", "qxq"])
def test_noisy_kernel_matches_reference(spec):
    p, image, params = _case(spec, np.uint8)
    fmt = RawFormat(14, 512)
    noise = NoiseLevels(1e-2, 1e-4)
    seed = 2**40 + 17
    raw, _ = simulate_raw(image, p, params, noise, fmt, seed=seed, sample=9)
    ref, _ = raw_reference(image, p, params, noise, fmt, seed, 9)
    # libm and NumPy may differ by an ulp in log/cos: allow a 1-DN flip at a rounding boundary
    diff = np.abs(raw.astype(int) - ref)
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999
    clean_raw, _ = simulate_raw(image, p, params, NoiseLevels(0, 0), fmt, seed=seed, sample=9)
    assert (raw != clean_raw).mean() > 0.9  # the noise is really there


def test_bit_identical_for_any_thread_count_and_crop():
    p, image, params = _case("nona", np.uint8)
    image = np.random.default_rng(5).integers(0, 256, (240, 360, 3)).astype(np.uint8)
    noise, fmt = NoiseLevels(5e-3, 1e-4), RawFormat()
    before = numba.get_num_threads()
    outs = []
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            outs.append(simulate_raw(image, p, params, noise, fmt, seed=4, sample=2)[0])
    finally:
        numba.set_num_threads(before)
    outs.append(simulate_raw(image, p, params, noise, fmt, seed=4, sample=2, parallel=False)[0])
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    # the noise of a pixel depends on (seed, sample, y, x) only: a top-left crop agrees
    top = simulate_raw(image[:120, :180], p, params, noise, fmt, seed=4, sample=2)[0]
    np.testing.assert_array_equal(top, outs[0][:120, :180])
    other = simulate_raw(image, p, params, noise, fmt, seed=4, sample=3)[0]
    assert (other != outs[0]).mean() > 0.5


def test_quantisation_black_and_white_levels():
    p = get_pattern("bayer")
    fmt = RawFormat(10, 64)
    params = UnprocessParams(np.eye(3), 1.0, 1.0, 1.0, "srgb", False)
    black = np.zeros((4, 4, 3), np.uint8)
    white = np.full((4, 4, 3), 255, np.uint8)
    assert (simulate_raw(black, p, params, NoiseLevels(0, 0), fmt, seed=0, sample=0)[0] == 64).all()
    assert (
        simulate_raw(white, p, params, NoiseLevels(0, 0), fmt, seed=0, sample=0)[0] == 1023
    ).all()
    # heavy noise never leaves [0, white]
    raw = simulate_raw(white, p, params, NoiseLevels(0.5, 0.5), fmt, seed=0, sample=0)[0]
    assert raw.max() <= 1023 and raw.min() >= 0


def test_lut_and_bad_input():
    lut = display_lut(8, "srgb", True)
    assert (
        lut.shape == (256,)
        and lut[0] == pytest.approx(0, abs=1e-15)
        and lut[-1] == pytest.approx(1.0)
    )
    assert np.all(np.diff(lut) > 0) and not lut.flags.writeable
    p, image, params = _case("bayer", np.uint8)
    with pytest.raises(ValueError, match="uint8 or uint16"):
        simulate_raw(
            image.astype(np.float32), p, params, NoiseLevels(0, 0), RawFormat(), seed=0, sample=0
        )
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        simulate_raw(image[..., 0], p, params, NoiseLevels(0, 0), RawFormat(), seed=0, sample=0)
    with pytest.raises(ValueError, match="black"):
        RawFormat(10, 2000)
