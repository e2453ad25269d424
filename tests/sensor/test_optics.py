"""Optics and pixel effects: PSF, shading, crosstalk, blooming and the Optics settings."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cfasim.cfa import get_pattern
from cfasim.sensor.optics import (
    Optics,
    apply_crosstalk,
    apply_psf,
    bloom,
    bloom_with_loss,
    crosstalk_kernel,
    gaussian_psf,
    load_psf,
    relative_illumination,
    shading_map,
)

# -- PSF -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.7, 3.0])
def test_gaussian_psf_normalised_symmetric_and_sized(sigma):
    k = gaussian_psf(sigma)
    r = max(1, math.ceil(4 * sigma))
    assert k.shape == (2 * r + 1, 2 * r + 1)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(k, k[::-1, :], rtol=0, atol=1e-17)
    np.testing.assert_allclose(k, k[:, ::-1], rtol=0, atol=1e-17)
    np.testing.assert_allclose(k, k.T, rtol=0, atol=1e-17)
    # independent formula: exp(-(x^2 + y^2) / (2 sigma^2)) normalised
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    ref = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    np.testing.assert_allclose(k, ref / ref.sum(), rtol=1e-12)
    assert gaussian_psf(sigma, radius=2).shape == (5, 5)


def test_gaussian_psf_rejects_bad_input():
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma"):
            gaussian_psf(bad)
    with pytest.raises(ValueError, match="radius"):
        gaussian_psf(1.0, radius=-1)


def test_apply_psf_flat_field_exact_and_mean_preserved():
    k = gaussian_psf(1.3)
    flat = np.full((40, 50, 3), 0.3712, np.float32)
    flat[..., 1] = 0.81
    out = apply_psf(flat, k)
    assert out.dtype == np.float32 and out.shape == flat.shape
    np.testing.assert_array_equal(out, flat)
    # a non-separable user kernel also keeps a flat field exactly
    k2 = np.array([[0.0, 1.0, 0.0], [1.0, 3.0, 2.0], [0.0, 1.0, 0.5]])
    np.testing.assert_array_equal(apply_psf(flat, k2), flat)

    rng = np.random.default_rng(0)
    img = rng.random((64, 48, 3), dtype=np.float32)
    blurred = apply_psf(img, k)
    # mirror edges + symmetric kernel: channel sums conserved up to float rounding
    np.testing.assert_allclose(
        blurred.sum(axis=(0, 1), dtype=np.float64), img.sum(axis=(0, 1), dtype=np.float64), 1e-6
    )
    assert blurred.std() < 0.6 * img.std()  # it does blur white noise


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0, 3.3, 5.0])
def test_point_source_second_moment_is_sigma_squared(sigma):
    n = 2 * math.ceil(4 * sigma) + 31
    img = np.zeros((n, n, 3), np.float32)
    c = n // 2
    img[c, c, :] = 1.0
    out = apply_psf(img, gaussian_psf(sigma)).astype(np.float64)[..., 0]
    y, x = np.mgrid[0:n, 0:n] - c
    assert out.sum() == pytest.approx(1.0, rel=1e-6)
    assert (out * y).sum() == pytest.approx(0.0, abs=1e-6)
    var_y = (out * y**2).sum() / out.sum()
    var_x = (out * x**2).sum() / out.sum()
    assert var_y == pytest.approx(sigma**2, rel=0.01)
    assert var_x == pytest.approx(sigma**2, rel=0.01)
    assert (out * x * y).sum() == pytest.approx(0.0, abs=1e-6)


def test_apply_psf_is_a_convolution_with_the_point_image():
    # asymmetric, non-separable kernel: a point source must reproduce the kernel unflipped
    k = np.array([[0.0, 0.1, 0.0], [0.05, 0.5, 0.2], [0.0, 0.1, 0.05]])
    img = np.zeros((9, 11), np.float32)
    img[4, 5] = 2.0
    out = apply_psf(img, k)
    expected = np.zeros((9, 11))
    expected[3:6, 4:7] = 2.0 * k / k.sum()
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)
    # and each channel of an RGB image is blurred on its own
    rgb = np.zeros((9, 11, 3), np.float32)
    rgb[4, 5, 2] = 2.0
    out3 = apply_psf(rgb, k)
    np.testing.assert_allclose(out3[..., 2], expected, rtol=1e-6, atol=1e-7)
    assert not out3[..., :2].any()


def test_apply_psf_mirror_edges():
    # next to the border the mirrored pixel equals the border pixel itself (d c b a | a b c d)
    img = np.zeros((5, 5), np.float32)
    img[:, 0] = 1.0
    k = np.zeros((3, 3))
    k[1] = [0.25, 0.5, 0.25]
    out = apply_psf(img, k)
    np.testing.assert_allclose(out[:, 0], 0.75)
    np.testing.assert_allclose(out[:, 1], 0.25)
    assert not out[:, 2:].any()


def test_load_psf_npy_and_text(tmp_path):
    k = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
    np.save(tmp_path / "k.npy", k)
    np.testing.assert_allclose(load_psf(tmp_path / "k.npy"), k / 16.0)
    (tmp_path / "k.csv").write_text("# my psf\n1,2,1\n2,4,2\n1,2,1\n")
    np.testing.assert_allclose(load_psf(str(tmp_path / "k.csv")), k / 16.0)
    (tmp_path / "k.txt").write_text("1 2 1\n2\t4 2\n\n1 2 1\n")
    out = load_psf(tmp_path / "k.txt")
    assert out.sum() == pytest.approx(1.0)
    assert out[1, 1] == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("1,2\n3,4\n", "odd"),
        ("1,2,1\n2,-4,2\n1,2,1\n", "negative"),
        ("1,2,1\n2,nan,2\n1,2,1\n", "NaN"),
        ("1,2,1\n2,4\n1,2,1\n", "different numbers"),
        ("1,x,1\n", "cannot read"),
        ("0,0,0\n", "sums to 0"),
    ],
)
def test_load_psf_rejects_bad_kernels_naming_the_file(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_psf(path)
    assert "bad.csv" in str(info.value)


def test_load_psf_rejects_missing_and_3d_npy(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.npy"):
        load_psf(tmp_path / "nope.npy")
    np.save(tmp_path / "cube.npy", np.ones((3, 3, 3)))
    with pytest.raises(ValueError, match=r"cube\.npy.*2-D"):
        load_psf(tmp_path / "cube.npy")


# -- shading ---------------------------------------------------------------------------------


def test_cos4_at_known_radius():
    f = 1500.0
    # r = f: the chief ray is at 45 degrees, cos^4(45 deg) = (1/sqrt 2)^4 = 0.25
    assert relative_illumination(f, 1000.0, f) == pytest.approx(0.25, rel=1e-12)
    r = np.array([0.0, 300.0, 866.0, 2000.0])
    expected = np.cos(np.arctan2(r, f)) ** 4
    np.testing.assert_allclose(relative_illumination(r, 1000.0, f), expected, rtol=1e-12)


def test_shading_map_matches_independent_formula():
    h, w, f = 30, 40, 25.0
    poly = (-0.2, 0.05)
    m = shading_map(h, w, focal_length_px=f, poly=poly)
    assert m.dtype == np.float32 and m.shape == (h, w)
    # independent computation at the bottom-right corner pixel, centre (29.5, 39.5)
    dy, dx = 29.5 - 15.0, 39.5 - 20.0
    r = math.sqrt(dy * dy + dx * dx)
    theta = math.atan(r / f)
    rn = r / 25.0  # half-diagonal of 30 x 40 is 25
    expected = math.cos(theta) ** 4 * (1 - 0.2 * rn**2 + 0.05 * rn**4)
    assert m[-1, -1] == pytest.approx(expected, rel=1e-6)
    # symmetric about the centre; maximum at the four central pixels; all in (0, 1]
    np.testing.assert_array_equal(m, m[::-1, :])
    np.testing.assert_array_equal(m, m[:, ::-1])
    assert m.max() == m[14, 19] == m[15, 20]
    assert 0 < m.min() and m.max() <= 1.0


def test_shading_polynomial_at_corner_and_centre():
    a1, a2 = -0.3, 0.08
    # at the exact corner rn = 1: 1 + a1 + a2; at the centre: 1
    assert relative_illumination(50.0, 50.0, None, (a1, a2)) == pytest.approx(1 + a1 + a2)
    assert relative_illumination(0.0, 50.0, 1000.0, (a1, a2)) == 1.0
    # odd size: the centre pixel sits on the optical axis
    m = shading_map(41, 61, focal_length_px=800.0, poly=(a1, a2))
    assert m[20, 30] == 1.0
    # without cos^4, the corner pixel centre is at rn slightly below 1
    m = shading_map(40, 30, poly=(a1, a2))
    rn2 = (19.5**2 + 14.5**2) / 25.0**2
    assert m[0, 0] == pytest.approx(1 + a1 * rn2 + a2 * rn2**2, rel=1e-6)
    assert shading_map(8, 8).min() == 1.0  # nothing given: flat


def test_shading_map_rejects_nonpositive_or_brightening():
    with pytest.raises(ValueError, match="<= 0"):
        shading_map(20, 20, poly=(-1.5,))
    # 1 - rn^2 reaches 0 only at the exact corner; the corner pixel centre has rn^2 = 0.9025
    assert shading_map(20, 20, poly=(-1.0,)).min() == pytest.approx(0.0975, rel=1e-6)
    with pytest.raises(ValueError, match="<= 0"):
        shading_map(20, 20, poly=(-1.2,))  # 1 - 1.2 * 0.9025 < 0 at the corner pixels
    with pytest.raises(ValueError, match="above the centre"):
        shading_map(20, 20, poly=(0.2,))
    with pytest.raises(ValueError, match="focal"):
        shading_map(20, 20, focal_length_px=0.0)
    with pytest.raises(ValueError, match="finite"):
        shading_map(20, 20, poly=(float("nan"),))


# -- crosstalk -------------------------------------------------------------------------------


def test_crosstalk_kernel_values_and_validation():
    k = crosstalk_kernel(0.02, 0.005)
    np.testing.assert_allclose(
        k, [[0.005, 0.02, 0.005], [0.02, 0.9, 0.02], [0.005, 0.02, 0.005]], rtol=1e-15
    )
    assert k.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_array_equal(crosstalk_kernel(0.0), np.pad([[1.0]], 1))
    assert crosstalk_kernel(0.25)[1, 1] == 0.0
    with pytest.raises(ValueError, match="too large"):
        crosstalk_kernel(0.2, 0.06)
    with pytest.raises(ValueError, match=">= 0"):
        crosstalk_kernel(-0.01)


def test_crosstalk_conserves_signal_and_matches_roll_reference():
    rng = np.random.default_rng(1)
    m = (rng.random((36, 42)) * 1000).astype(np.float32)
    k = crosstalk_kernel(0.03, 0.01)
    out = apply_crosstalk(m, k)
    assert out.dtype == np.float32
    # interior against a NumPy reference: out(p) = sum_d k(d) in(p + d)
    ref = np.zeros(m.shape)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            ref += k[1 + dy, 1 + dx] * np.roll(m.astype(np.float64), (-dy, -dx), axis=(0, 1))
    np.testing.assert_allclose(out[1:-1, 1:-1], ref[1:-1, 1:-1], rtol=1e-6)
    # periodic signal: total conserved exactly (the reference) ...
    assert ref.sum() == pytest.approx(m.sum(dtype=np.float64), rel=1e-12)
    # ... and with the mirror edges of apply_crosstalk too
    assert out.sum(dtype=np.float64) == pytest.approx(m.sum(dtype=np.float64), rel=1e-6)
    # a border pixel: the leak that would leave the sensor comes back to it
    one = np.zeros((5, 5), np.float32)
    one[0, 0] = 1.0
    out1 = apply_crosstalk(one, crosstalk_kernel(0.05, 0.01))
    assert out1[0, 0] == pytest.approx(1 - 2 * 0.05 - 3 * 0.01)
    assert out1[0, 1] == pytest.approx(0.05 + 0.01)  # its own leak + the mirrored diagonal
    assert out1[1, 1] == pytest.approx(0.01)
    assert out1.sum() == pytest.approx(1.0)


def test_crosstalk_batch_axes_and_bad_kernel():
    rng = np.random.default_rng(2)
    m = rng.random((2, 12, 12)).astype(np.float32)
    k = crosstalk_kernel(0.04)
    out = apply_crosstalk(m, k)
    np.testing.assert_array_equal(out[1], apply_crosstalk(m[1], k))
    with pytest.raises(ValueError, match="sum to 1"):
        apply_crosstalk(m, k * 2)
    with pytest.raises(ValueError, match="odd"):
        apply_crosstalk(m, np.ones((2, 2)) / 4)


def _nona_red_mosaic(periods: int, red: float) -> tuple[np.ndarray, np.ndarray]:
    tile = np.asarray(get_pattern("nona").tile)
    assert tile.shape == (6, 6)
    cfa = np.tile(tile, (periods, periods))
    # clean RGB = (1, 0, 0): only red pixels collect signal
    return np.where(cfa == 0, red, 0.0).astype(np.float32), cfa


def test_crosstalk_leaks_red_into_green_only_at_nona_block_borders():
    red, alpha = 1000.0, 0.02
    mosaic, cfa = _nona_red_mosaic(4, red)
    out = apply_crosstalk(mosaic, crosstalk_kernel(alpha))
    inner = (slice(6, 18), slice(6, 18))  # two full periods away from the mirrored border
    o, c = out[inner], cfa[inner]
    is_red = mosaic > 0
    red_edge_nb = sum(np.roll(is_red, s, axis=a).astype(int) for s in (-1, 1) for a in (0, 1))[
        inner
    ]
    green = c == 1
    border_green = green & (red_edge_nb > 0)
    inside_green = green & (red_edge_nb == 0)
    # Nona rggb: green blocks touch a red block along one side only -> 6 of 9 greens per block
    assert border_green.sum() == 12 * 4 and inside_green.sum() == 6 * 4
    assert (red_edge_nb[green] <= 1).all()
    # border greens get exactly alpha * red per red neighbour; greens inside get nothing
    np.testing.assert_allclose(o[border_green], alpha * red * red_edge_nb[border_green], rtol=1e-6)
    assert (o[inside_green] == 0).all()
    # tile coordinates (y, x) in the first inner period: named pixels
    t = out[6:12, 6:12]
    assert t[1, 3] == pytest.approx(20.0) and t[1, 5] == pytest.approx(20.0)  # G next to R
    assert t[1, 4] == 0.0 and t[4, 1] == 0.0  # centres of the two green blocks
    assert t[3, 1] == pytest.approx(20.0) and t[5, 1] == pytest.approx(20.0)
    # blue never touches red along an edge; red: the block centre keeps all, edges lose alpha
    assert (o[c == 2] == 0).all()
    assert t[1, 1] == pytest.approx(red)
    assert t[0, 1] == pytest.approx(red * (1 - alpha))
    assert t[0, 0] == pytest.approx(red * (1 - 2 * alpha))
    # Bayer for contrast: every green pixel borders red
    bayer = np.tile(np.asarray(get_pattern("bayer").tile), (8, 8))
    bayer_red = np.where(bayer == 0, red, 0.0).astype(np.float32)
    out_b = apply_crosstalk(bayer_red, crosstalk_kernel(alpha))[2:-2, 2:-2]
    np.testing.assert_allclose(out_b[bayer[2:-2, 2:-2] == 1], 2 * alpha * red, rtol=1e-6)


def test_crosstalk_diagonal_leak_on_nona():
    red, alpha, diag = 1000.0, 0.02, 0.005
    mosaic, cfa = _nona_red_mosaic(4, red)
    out = apply_crosstalk(mosaic, crosstalk_kernel(alpha, diag))
    is_red = (mosaic > 0).astype(int)
    edge = sum(np.roll(is_red, s, axis=a) for s in (-1, 1) for a in (0, 1))
    corner = sum(np.roll(is_red, (sy, sx), axis=(0, 1)) for sy in (-1, 1) for sx in (-1, 1))
    inner = (slice(6, 18), slice(6, 18))
    non_red = cfa[inner] != 0
    expected = red * (alpha * edge + diag * corner)[inner][non_red]
    np.testing.assert_allclose(out[inner][non_red], expected, rtol=1e-6, atol=1e-4)
    t = out[6:12, 6:12]
    assert t[0, 3] == pytest.approx(red * (alpha + diag))  # left edge R, lower-left diagonal R
    assert t[3, 3] == pytest.approx(red * diag)  # blue block corner touches red diagonally
    assert t[1, 4] == 0.0  # green block centre still clean


# -- blooming --------------------------------------------------------------------------------


def _bloom_reference(e: np.ndarray, fw: float, tol: float = 1e-11):
    """Brute force: all pixels over full well spill half up, half down until none exceeds."""
    v = e.astype(np.float64).copy()
    lost_top = np.zeros(v.shape[1])
    lost_bottom = np.zeros(v.shape[1])
    for _ in range(200_000):
        ex = np.maximum(v - fw, 0.0)
        if ex.max() <= tol * fw:
            break
        v -= ex
        v[1:] += ex[:-1] / 2
        v[:-1] += ex[1:] / 2
        lost_top += ex[0] / 2
        lost_bottom += ex[-1] / 2
    else:  # pragma: no cover
        raise AssertionError("reference did not converge")
    return v, lost_top, lost_bottom


def test_bloom_single_pixel_spreads_into_exactly_the_needed_neighbours():
    fw = 1000.0
    e = np.zeros((11, 3), np.float32)
    e[5, 1] = 3.5 * fw
    out, lost = bloom_with_loss(e, fw)
    # 3.5 FW: the pixel and its two neighbours fill, the last 0.5 FW splits over the next two
    expected = np.zeros(11)
    expected[4:7] = fw
    expected[[3, 7]] = 0.25 * fw
    np.testing.assert_allclose(out[:, 1], expected, rtol=1e-6)
    assert not out[:, [0, 2]].any()  # blooming stays in its column
    assert out.max() <= fw
    assert (lost == 0).all()
    assert out.sum(dtype=np.float64) == pytest.approx(3.5 * fw, rel=1e-7)


def test_bloom_charge_leaving_at_the_edge_is_counted():
    fw = 1000.0
    e = np.zeros((8, 1), np.float32)
    e[0, 0] = 3.5 * fw
    out, lost = bloom_with_loss(e, fw)
    # run 0..1 fills; excess 2.5 - 1 = 1.5 FW leaves with gambler's-ruin weights:
    # to row 2: (2.5 * 1 - 1 * 2) / 3 = 1/6 FW, off the top: 1.5 - 1/6 = 4/3 FW
    np.testing.assert_allclose(out[:3, 0], [fw, fw, fw / 6], rtol=1e-6)
    assert not out[3:].any()
    assert lost[0, 0] == pytest.approx(4 / 3 * fw, rel=1e-12)
    assert lost[1, 0] == 0.0
    assert out.sum(dtype=np.float64) + lost.sum() == pytest.approx(3.5 * fw, rel=1e-7)
    ref, top, _ = _bloom_reference(e, fw)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5 * fw)
    assert top[0] == pytest.approx(lost[0, 0], rel=1e-6)
    # bottom edge, mirrored
    out_b, lost_b = bloom_with_loss(e[::-1], fw)
    np.testing.assert_allclose(out_b[::-1], out, rtol=1e-6)
    assert lost_b[1, 0] == pytest.approx(4 / 3 * fw) and lost_b[0, 0] == 0.0


def test_bloom_matches_brute_force_on_random_columns():
    rng = np.random.default_rng(3)
    fw = 500.0
    h, w = 17, 300
    base = rng.random((h, w)) * fw
    spikes = rng.random((h, w)) < 0.12
    e = np.where(spikes, fw * rng.uniform(1.0, 6.0, (h, w)), base).astype(np.float32)
    e[:, 0] = 0.5 * fw  # a column with nothing to do passes through unchanged
    e[:, 1] = 2.0 * fw  # a column fully over: everything excess leaves at the edges
    out, lost = bloom_with_loss(e, fw)
    ref, top, bottom = _bloom_reference(e, fw)
    assert out.dtype == np.float32 and out.shape == e.shape
    assert out.max() <= fw
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5 * fw)
    np.testing.assert_allclose(lost[0], top, rtol=1e-6, atol=1e-5 * fw)
    np.testing.assert_allclose(lost[1], bottom, rtol=1e-6, atol=1e-5 * fw)
    np.testing.assert_allclose(
        out.sum(axis=0, dtype=np.float64) + lost.sum(axis=0),
        e.sum(axis=0, dtype=np.float64),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(out[:, 0], e[:, 0])
    np.testing.assert_allclose(out[:, 1], fw)
    assert lost[0, 1] == pytest.approx(lost[1, 1]) and lost[:, 1].sum() == pytest.approx(h * fw)


def test_bloom_unsaturated_identity_batch_and_validation():
    rng = np.random.default_rng(4)
    e = (rng.random((2, 10, 12)) * 99).astype(np.float32)
    np.testing.assert_array_equal(bloom(e, 100.0), e)
    e[1, 4, 7] = 1000.0
    out = bloom(e, 100.0)
    np.testing.assert_array_equal(out[0], e[0])
    np.testing.assert_array_equal(out[1], bloom(e[1], 100.0))
    assert out[1].max() <= 100.0
    _, lost = bloom_with_loss(e, 100.0)
    assert lost.shape == (2, 2, 12) and not lost[0].any() and lost[1, :, 7].sum() > 0
    total = out.sum(dtype=np.float64) + lost.sum()
    assert total == pytest.approx(e.sum(dtype=np.float64), rel=1e-6)
    with pytest.raises(ValueError, match="full well"):
        bloom(e, 0.0)
    with pytest.raises(ValueError, match="H, W"):
        bloom(np.ones(5, np.float32), 1.0)


def test_bloom_huge_excess_fills_a_symmetric_run():
    # 400 full wells in one pixel of a 1001-row column: 399 pixels fill symmetrically
    fw = 1.0e4
    e = np.zeros((1001, 1), np.float32)
    e[500, 0] = 400 * fw
    out, lost = bloom_with_loss(e, fw)
    assert (out[301:700, 0] == fw).all()
    np.testing.assert_allclose(out[[300, 700], 0], 0.5 * fw, rtol=1e-5)
    assert out[:300].sum() == 0 and out[701:].sum() == 0
    assert (lost == 0).all()


# -- settings --------------------------------------------------------------------------------


def test_optics_defaults_are_off():
    o = Optics()
    assert not o.enabled
    assert o.psf() is None and o.shading(4, 4) is None and o.crosstalk_kernel() is None
    assert Optics.parse("") == o == Optics.parse("none") == Optics.from_dict({})
    assert o.spec() == "none"


def test_optics_parse_example_and_accessors():
    o = Optics.parse("psf=1.2,shading=1500,crosstalk=0.02,blooming")
    assert o == Optics(psf_sigma_px=1.2, shading_focal_px=1500.0, crosstalk=0.02, blooming=True)
    assert o.enabled
    np.testing.assert_array_equal(o.psf(), gaussian_psf(1.2))
    np.testing.assert_array_equal(o.shading(6, 8), shading_map(6, 8, focal_length_px=1500.0))
    np.testing.assert_array_equal(o.crosstalk_kernel(), crosstalk_kernel(0.02))
    assert Optics(shading_poly=(-0.1,)).shading(4, 4) is not None
    assert Optics(crosstalk_diagonal=0.01).crosstalk_kernel()[0, 0] == 0.01


def test_optics_round_trips(tmp_path):
    np.save(tmp_path / "k.npy", np.ones((3, 5)))
    cases = [
        Optics(),
        Optics(blooming=True),
        Optics(psf_sigma_px=0.7, shading_poly=(-0.25, 0.03), crosstalk_diagonal=0.004),
        Optics(
            psf_path=str(tmp_path / "k.npy"),
            shading_focal_px=1234.5,
            shading_poly=(-0.1,),
            crosstalk=0.015,
            crosstalk_diagonal=0.002,
            blooming=True,
        ),
    ]
    for o in cases:
        assert Optics.parse(o.spec()) == o
        d = json.loads(json.dumps(o.to_dict()))
        assert Optics.from_dict(d) == o
    o = cases[-1]
    assert o.psf().shape == (3, 5) and o.psf().sum() == pytest.approx(1.0)
    assert Optics.parse(f"psf={tmp_path / 'k.npy'}") == Optics(psf_path=str(tmp_path / "k.npy"))
    assert Optics.parse(" shading_poly = -0.2:0.05 , blooming=off") == Optics(
        shading_poly=(-0.2, 0.05)
    )


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("psf=1.2,focus=3", "unknown optics key 'focus'"),
        ("crosstalk=lots", "bad number 'lots'"),
        ("shading=", "needs a value"),
        ("crosstalk", "needs a value"),
        ("blooming=maybe", "true/false"),
        ("shading_poly=-0.1:x", "bad number 'x'"),
        ("crosstalk=0.3", "too large"),
        ("psf=-1", "psf_sigma_px"),
        ("shading=0", "focal"),
        ("shading=inf", "finite"),
        ("psf=1,psf_sigma=2", "twice"),
        ("psf=1,psf_path=k.npy", "not both"),
    ],
)
def test_optics_parse_rejects_bad_input(spec, match):
    with pytest.raises(ValueError, match=match):
        Optics.parse(spec)


def test_optics_from_dict_rejects_unknown_keys_and_is_frozen():
    with pytest.raises(ValueError, match="unknown optics keys"):
        Optics.from_dict({"psf_sigma_px": 1.0, "vignette": 2})
    o = Optics(crosstalk=0.01)
    with pytest.raises(AttributeError):
        o.crosstalk = 0.02  # type: ignore[misc]
    assert hash(o) == hash(Optics.parse("crosstalk=0.01"))
