"""Tests of the dead-leaves scene generator (cfasim.source.scenes)."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from cfasim.source import scenes as S
from cfasim.source.scenes import dead_leaves, render, sample_colours, sample_disks, sample_radii


def reference(height, width, seed, r_min=1.5, r_max=None, texture=True, gradients=True):
    """Plain NumPy twin of :func:`cfasim.source.scenes.render`, vectorised per disk over its box.

    Returns (image, trans, disks used).
    """
    if r_max is None:
        r_max = max(max(height, width) / 4.0, r_min)
    rng = np.random.default_rng(seed)
    background = sample_colours(rng, 1)[0]
    acc = np.zeros((height, width, 3))
    trans = np.ones((height, width))
    uncovered = height * width
    n = S.batch_size(height, width, r_min, r_max)
    used = []
    for _ in range(S.MAX_BATCHES):
        for d in sample_disks(rng, n, height, width, r_min, r_max, texture, gradients):
            if uncovered == 0:
                break
            used.append(d)
            cx, cy, r = d[S.CX], d[S.CY], d[S.R]
            x0, x1 = max(math.ceil(cx - r - 0.5), 0), min(math.floor(cx + r + 0.5), width - 1)
            y0, y1 = max(math.ceil(cy - r - 0.5), 0), min(math.floor(cy + r + 0.5), height - 1)
            if x0 > x1 or y0 > y1:
                continue
            y, x = np.mgrid[y0 : y1 + 1, x0 : x1 + 1].astype(float)
            dx, dy = x - cx, y - cy
            c = np.clip(r - np.sqrt(dx * dx + dy * dy) + 0.5, 0.0, 1.0)
            t = trans[y0 : y1 + 1, x0 : x1 + 1]  # views: updated in place
            a = acc[y0 : y1 + 1, x0 : x1 + 1]
            m = (t >= S.T_COVERED) & (c > 0.0)
            q = d[S.FX] * x + d[S.FY] * y + d[S.PHASE]
            p = 2.0 * (q - np.floor(q)) - 1.0
            f = 1.0 + d[S.AMP] * (4.0 * p * (np.abs(p) - 1.0)) if d[S.AMP] != 0.0 else 1.0
            f = f * (1.0 + d[S.GX] * dx + d[S.GY] * dy)
            colour = np.clip(d[S.RED : S.BLUE + 1] * f[..., None], 0.0, 1.0)
            a[m] += (c * t)[m][:, None] * colour[m]
            newly = m & (t * (1.0 - c) < S.T_COVERED)
            t[m] = t[m] * (1.0 - c[m])
            uncovered -= int(newly.sum())
        if uncovered == 0:
            break
    v = np.clip(acc + background * trans[..., None], 0.0, 1.0)
    return np.floor(v * 255.0 + 0.5).astype(np.uint8), trans, np.array(used)


def saturation(rgb):
    """HSV saturation (max - min) / max of float or uint8 colours (last axis)."""
    rgb = np.asarray(rgb, float)
    mx = rgb.max(-1)
    return np.where(mx > 0, (mx - rgb.min(-1)) / np.where(mx > 0, mx, 1), 0.0)


def test_same_seed_same_image_other_seed_other_image():
    a, b = dead_leaves(64, 80, 7), dead_leaves(64, 80, 7)
    np.testing.assert_array_equal(a, b)
    c = dead_leaves(64, 80, 8)
    assert (a != c).any(-1).mean() > 0.5


def test_thread_count_does_not_change_output():
    assert S.draw_disks.targetoptions.get("nogil") and not S.draw_disks.targetoptions.get(
        "parallel"
    )
    seeds = range(8)
    serial = [dead_leaves(96, 96, s) for s in seeds]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda s: dead_leaves(96, 96, s), seeds))
    for a, b in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(1, 1), (1, 50), (7, 13), (13, 7), (288, 288)])
def test_shape_dtype_and_full_coverage(shape):
    img, trans, n_disks = render(*shape, 3)
    assert img.shape == (*shape, 3)
    assert img.dtype == np.uint8
    # Every pixel covered: the background contributes less than T_COVERED * 255 < 0.3 level.
    assert trans.max() < S.T_COVERED
    assert n_disks < S.MAX_BATCHES * S.batch_size(*shape, 1.5, max(max(shape) / 4, 1.5))


def test_full_coverage_at_full_size_for_several_seeds():
    # The cap is ~8x the coupon-collector need (batch_size), so coverage never runs out of
    # disks; pinned here for fixed seeds (deterministic, not statistical).
    for seed in range(4):
        _, trans, n_disks = render(288, 288, seed)
        assert trans.max() < S.T_COVERED
        assert 10_000 < n_disks < 2 * 16 * S.batch_size(288, 288, 1.5, 72.0)


def test_default_r_max():
    np.testing.assert_array_equal(dead_leaves(40, 100, 1), dead_leaves(40, 100, 1, r_max=25.0))
    # r_max is raised to r_min when max(h, w) / 4 < r_min.
    np.testing.assert_array_equal(
        dead_leaves(5, 6, 1, r_min=2.0), dead_leaves(5, 6, 1, r_min=2.0, r_max=2.0)
    )


def test_flags_keep_geometry_and_base_colours():
    on = sample_disks(np.random.default_rng(4), 2000, 50, 60, 1.5, 15.0)
    off = sample_disks(np.random.default_rng(4), 2000, 50, 60, 1.5, 15.0, False, False)
    np.testing.assert_array_equal(on[:, : S.AMP], off[:, : S.AMP])
    assert not off[:, S.AMP :].any()
    # about TEXTURE_PROB / GRADIENT_PROB of the disks are shaded when the flags are on
    assert abs((on[:, S.AMP] != 0).mean() - S.TEXTURE_PROB) < 0.04
    assert abs((on[:, S.GX] != 0).mean() - S.GRADIENT_PROB) < 0.04
    assert (on[:, S.CX] > -on[:, S.R]).all() and (on[:, S.CX] < 59 + on[:, S.R]).all()


def test_colour_law():
    rgb = sample_colours(np.random.default_rng(0), 200_000)
    s, v = saturation(rgb), rgb.max(-1)
    assert rgb.min() >= 0.0 and v.min() >= 0.05 and v.max() <= 0.95
    # E[s] = 0.9 * E[U1 U2] + 0.1 * E[U[0, 0.05)] = 0.9 / 4 + 0.1 * 0.025; E[v] = 0.5.
    assert abs(s.mean() - 0.2275) < 0.003
    assert abs(v.mean() - 0.5) < 0.003
    assert abs((s < 0.05).mean() - (0.1 + 0.9 * 0.05 * (1 - math.log(0.05)))) < 0.005
    # hue uniform: each of the six sectors (dominant channel and order) ~ 1/6
    order = np.argsort(rgb[s > 0.2], axis=-1)
    sectors = np.unique(order[:, 2] * 3 + order[:, 1], return_counts=True)[1]
    assert len(sectors) == 6
    np.testing.assert_allclose(sectors / sectors.sum(), 1 / 6, atol=0.01)


def test_image_colours_are_natural():
    img = dead_leaves(256, 256, 5)
    # A uniform RGB cube has E[(max - min) / max] = 1 - E[min / max] = 1 - 1/3 = 2/3.
    s = saturation(img.reshape(-1, 3))
    assert 0.1 < s.mean() < 0.35
    for ch in range(3):  # all channels used, no channel clipped
        c = img[..., ch]
        assert 80 < c.mean() < 175
        assert c.std() > 25
        assert np.percentile(c, 99) - np.percentile(c, 1) > 150
    assert (img == 0).mean() < 0.001 and (img == 255).mean() < 0.001


@pytest.mark.parametrize("flags", [(True, True), (False, False)])
def test_kernel_matches_numpy_reference(flags):
    texture, gradients = flags
    img, trans, n_disks = render(40, 56, 21, texture=texture, gradients=gradients)
    ref_img, ref_trans, used = reference(40, 56, 21, texture=texture, gradients=gradients)
    assert len(used) == n_disks
    if texture:
        assert (used[:, S.AMP] != 0).sum() > 50 and (used[:, S.GX] != 0).sum() > 50
    # Same IEEE operations in the same order (no fast-math, no FMA), so bit-identical.
    np.testing.assert_array_equal(trans, ref_trans)
    np.testing.assert_array_equal(img, ref_img)


def test_front_to_back_compositing_on_two_disks():
    front, back = (0.8, 0.2, 0.1), (0.1, 0.3, 0.9)
    disks = np.zeros((2, S.N_PARAMS))
    disks[0, [S.CX, S.CY, S.R, S.RED, S.GREEN, S.BLUE]] = [10.0, 10.0, 3.0, *front]
    disks[1, [S.CX, S.CY, S.R, S.RED, S.GREEN, S.BLUE]] = [10.0, 10.0, 8.0, *back]
    acc, trans = np.zeros((21, 21, 3)), np.ones((21, 21))
    uncovered, used = S.draw_disks(disks, acc, trans, S.new_tiles(21, 21), 21 * 21)
    y, x = np.mgrid[:21, :21]
    d = np.hypot(x - 10.0, y - 10.0)
    c_front, c_back = np.clip(3.5 - d, 0, 1), np.clip(8.5 - d, 0, 1)
    expected_t = np.where(c_front == 1, 0.0, (1 - c_front) * (1 - c_back))
    assert used == 2 and uncovered == (expected_t >= S.T_COVERED).sum()
    np.testing.assert_allclose(trans, expected_t, rtol=0, atol=1e-15)
    np.testing.assert_allclose(acc[10, 10], front)  # the first disk is in front
    np.testing.assert_allclose(acc[10, 16], back)  # only the back disk
    # distance 3 from the centre: front coverage 0.5, the back disk fills the other half
    np.testing.assert_allclose(acc[10, 13], 0.5 * np.array(front) + 0.5 * np.array(back))
    # rim of the back disk (distance 8): coverage 0.5, half left for the background
    assert trans[10, 18] == 0.5 and trans[0, 0] == 1.0
    np.testing.assert_allclose(acc[10, 18], 0.5 * np.array(back))


def test_radii_follow_inverse_cube_law():
    r_min, r_max, n = 1.5, 72.0, 20_000

    def cdf(r, e):  # of p(r) ∝ r^-(e + 1) on [r_min, r_max]
        return (r_min**-e - r**-e) / (r_min**-e - r_max**-e)

    ks_crit = 1.95 / math.sqrt(n)  # Kolmogorov-Smirnov, alpha = 0.001
    emp_hi, emp_lo = np.arange(1, n + 1) / n, np.arange(n) / n

    def ks(r, e):
        f = cdf(np.sort(r), e)
        return max((emp_hi - f).max(), (f - emp_lo).max())

    r = sample_radii(np.random.default_rng(2024), n, r_min, r_max)
    assert r.min() >= r_min and r.max() <= r_max
    assert ks(r, 2) < ks_crit
    assert ks(r, 1) > 10 * ks_crit  # the test has power: r^-2 is clearly rejected
    # the radii the renderer actually uses (32-bit uniforms) follow the same law
    disks = sample_disks(np.random.default_rng(2025), n, 288, 288, r_min, r_max)
    assert ks(disks[:, S.R], 2) < ks_crit
    # mean against the analytic E[r] = k (1/r_min - 1/r_max), k = 2 / (r_min^-2 - r_max^-2)
    k = 2 / (r_min**-2 - r_max**-2)
    assert abs(r.mean() - k * (1 / r_min - 1 / r_max)) < 0.09  # 4 standard errors
    np.testing.assert_array_equal(sample_radii(np.random.default_rng(0), 5, 2.0, 2.0), 2.0)


def test_flat_disks_without_texture_or_gradients():
    kw = dict(r_min=4.0, r_max=32.0)  # larger disks: more interior pixels

    def shares(flags):
        img, _, _ = render(128, 128, 11, texture=flags, gradients=flags, **kw)
        _, _, used = reference(128, 128, 11, texture=flags, gradients=flags, **kw)
        base = {tuple(c) for c in np.floor(used[:, S.RED : S.BLUE + 1] * 255 + 0.5).astype(int)}
        is_base = np.array([tuple(p) in base for p in img.reshape(-1, 3).astype(int)])
        is_base = is_base.reshape(img.shape[:2])
        c = img[1:-1, 1:-1]  # pixels equal to their four neighbours: inside a flat area
        flat = (
            (c == img[:-2, 1:-1])
            & (c == img[2:, 1:-1])
            & (c == img[1:-1, :-2])
            & (c == img[1:-1, 2:])
        ).all(-1)
        return is_base[1:-1, 1:-1][flat].mean(), is_base.mean(), img

    interior, overall, img = shares(False)
    # Flat disks: every flat area has exactly a disk's base colour; only anti-aliased rims
    # (partial coverage mixes) are off the base colours.
    assert interior == 1.0
    assert overall > 0.7
    assert len(np.unique(img.reshape(-1, 3), axis=0)) < 0.25 * img.shape[0] * img.shape[1]
    # Same geometry and base colours with texture and gradients: most pixels are shaded.
    interior, overall, _ = shares(True)
    assert interior < 1.0 and overall < 0.5


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((0, 10, 1), {}, "height"),
        ((-3, 10, 1), {}, "height"),
        ((2.5, 10, 1), {}, "height"),
        ((10, 0, 1), {}, "width"),
        ((10, 10, 1), {"r_min": 0.0}, "r_min"),
        ((10, 10, 1), {"r_min": -1.0}, "r_min"),
        ((10, 10, 1), {"r_min": float("nan")}, "r_min"),
        ((10, 10, 1), {"r_min": 3.0, "r_max": 2.0}, "r_max"),
        ((10, 10, 1), {"r_max": float("inf")}, "r_max"),
    ],
)
def test_bad_arguments(args, kwargs, name):
    with pytest.raises(ValueError, match=name):
        dead_leaves(*args, **kwargs)
