"""Colour maths against colour-science and the definitions."""

import colour
import numpy as np
import pytest
from colour.algebra import smoothstep_function

from cfasim.isp import color

V = np.linspace(0.0, 1.0, 10001)


def test_srgb_transfer_matches_colour_science():
    np.testing.assert_allclose(color.srgb_decode(V), colour.models.eotf_sRGB(V), atol=1e-12)
    np.testing.assert_allclose(color.srgb_encode(V), colour.models.eotf_inverse_sRGB(V), atol=1e-12)
    np.testing.assert_allclose(color.srgb_encode(color.srgb_decode(V)), V, atol=1e-12)


def test_gamma_matches_colour_science():
    v = V[1:]
    np.testing.assert_allclose(color.gamma_decode(v), colour.gamma_function(v, 2.2), rtol=1e-12)
    np.testing.assert_allclose(color.gamma_encode(v), colour.gamma_function(v, 1 / 2.2), rtol=1e-12)
    assert color.gamma_decode(0.0) == pytest.approx(1e-8**2.2)


def test_transfer_dispatch_and_errors():
    np.testing.assert_array_equal(color.decode(V, "srgb"), color.srgb_decode(V))
    np.testing.assert_array_equal(color.encode(V, "gamma2.2"), color.gamma_encode(V))
    with pytest.raises(ValueError, match="unknown transfer 'pq'"):
        color.decode(V, "pq")


def test_smoothstep_and_exact_inverse():
    np.testing.assert_allclose(color.smoothstep(V), smoothstep_function(V), atol=1e-15)
    np.testing.assert_allclose(color.smoothstep(color.inverse_smoothstep(V)), V, atol=1e-12)
    np.testing.assert_allclose(color.inverse_smoothstep(color.smoothstep(V)), V, atol=1e-7)
    # clipping outside [0, 1]
    assert color.inverse_smoothstep(1.5) == pytest.approx(1.0)


def test_rgb2xyz_matches_colour_science_primaries():
    cs = colour.RGB_COLOURSPACES["sRGB"]
    npm = colour.models.normalised_primary_matrix(cs.primaries, cs.whitepoint)
    # Lindbloom's matrix (Brooks) and colour's differ in the 4th decimal (D65 white rounding)
    np.testing.assert_allclose(color.RGB2XYZ, npm, atol=5e-4)


def test_random_ccm_is_convex_combination_with_unit_rows():
    rng = np.random.default_rng(0)
    lo = color.CAMERA_XYZ2CAM.min(axis=0)
    hi = color.CAMERA_XYZ2CAM.max(axis=0)
    for _ in range(200):
        m = color.random_xyz2cam(rng)
        assert (m >= lo - 1e-12).all() and (m <= hi + 1e-12).all()
        rgb2cam = color.rgb2cam_from_xyz2cam(m)
        np.testing.assert_allclose(rgb2cam.sum(axis=1), 1.0, atol=1e-12)
        # sRGB white -> camera (1, 1, 1)
        np.testing.assert_allclose(rgb2cam @ np.ones(3), 1.0, atol=1e-12)


def test_ccm_of_a_single_camera_matches_colour_science_chain():
    # rgb2cam of camera k alone == XYZ->camera applied after colour's sRGB->XYZ, rows normalised
    m = color.CAMERA_XYZ2CAM[1]
    rgb = np.random.default_rng(1).random((50, 3))
    xyz = colour.RGB_to_XYZ(rgb, "sRGB", apply_cctf_decoding=False)
    cam = xyz @ m.T
    norm = (m @ color.RGB2XYZ).sum(axis=1)
    np.testing.assert_allclose(rgb @ color.rgb2cam_from_xyz2cam(m).T, cam / norm, atol=1e-3)


def test_gain_sampling_ranges_and_moments():
    rng = np.random.default_rng(2)
    g = np.array([color.sample_gains(rng) for _ in range(20000)])
    red, blue, digital = g.T
    assert red.min() >= 1.9 and red.max() <= 2.4 and blue.min() >= 1.5 and blue.max() <= 1.9
    # 1 / digital ~ N(0.8, 0.1): standard error of the mean 0.1 / sqrt(20000) = 7e-4
    assert (1 / digital).mean() == pytest.approx(0.8, abs=3e-3)
    assert (1 / digital).std() == pytest.approx(0.1, rel=0.03)
    np.testing.assert_allclose(color.inverse_gains(2.0, 1.6, 1.25), [0.4, 0.8, 0.5])


def test_safe_gains_below_threshold_are_plain_and_white_is_kept():
    gains = color.inverse_gains(2.2, 1.7, 1 / 0.8)
    cam = np.array([[0.2, 0.5, 0.3], [1.0, 1.0, 1.0]])
    out = color.apply_safe_gains(cam, gains)
    np.testing.assert_allclose(out[0], cam[0] * gains)
    np.testing.assert_allclose(out[1], [1.0, 1.0, 1.0])  # saturated white is not dimmed
    # a gain above 1 is never reduced
    g_up = np.array([0.5, 1.2, 0.6])
    assert color.safe_gain_factors(np.array(0.95), g_up)[1] == pytest.approx(1.2)


def test_invert_safe_gains_is_exact():
    rng = np.random.default_rng(3)
    cam = rng.random((20000, 3))
    cam[:5000] = 0.85 + 0.15 * rng.random((5000, 3))  # many highlights
    for digital in (1 / 0.8, 1 / 1.05):  # include a green gain above 1
        gains = color.inverse_gains(2.1, 1.8, digital)
        y = color.apply_safe_gains(cam, gains)
        np.testing.assert_allclose(color.invert_safe_gains(y, gains), cam, atol=1e-12)


def test_fixed_order_3x3_products_and_inverse_match_numpy():
    """matmul3 / inv3 (machine-independent bits) equal numpy's BLAS / LAPACK to rounding."""
    import numpy.linalg as la

    from cfasim.isp.color import inv3, matmul3

    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
        np.testing.assert_allclose(matmul3(a, b), a @ b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(inv3(a), la.inv(a), rtol=1e-9, atol=1e-12)
    batch = rng.normal(size=(5, 3, 3))
    np.testing.assert_allclose(matmul3(batch, b), batch @ b, rtol=1e-12, atol=1e-14)
    with pytest.raises(la.LinAlgError):
        inv3(np.ones((3, 3)))
