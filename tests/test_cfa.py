"""CFA patterns: tiles, mosaic, packing, binning, JSON, parsing errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfasim.cfa import BLOCK_SIZES, PHASES, CFAPattern, get_pattern, parse_tile

ALL = [f"{name}:{phase}" for name in BLOCK_SIZES for phase in PHASES]


def naive_tile(block, phase):
    """Tile built pixel by pixel from the definition (reference for block_bayer)."""
    letters = phase.upper()
    n = 2 * block
    tile = np.empty((n, n), dtype=int)
    for y in range(n):
        for x in range(n):
            tile[y, x] = "RGB".index(letters[(y // block) * 2 + x // block])
    return tile


@pytest.mark.parametrize("spec", ALL)
def test_builtin_tiles_match_definition(spec):
    name, phase = spec.split(":")
    p = get_pattern(spec)
    assert p.period == (2 * BLOCK_SIZES[name],) * 2
    np.testing.assert_array_equal(p.tile, naive_tile(BLOCK_SIZES[name], phase))
    assert p.block == BLOCK_SIZES[name] and p.phase == phase and p.colors == "RGB"


def test_known_layouts():
    # Quad (MIPI / Samsung layout) and QxQ as in PyNET-QxQ's code (block-level GRBG).
    assert get_pattern("quad").to_dict()["tile_text"] == "RRGG/RRGG/GGBB/GGBB"
    assert get_pattern("nona").to_dict()["tile_text"] == "RRRGGG/RRRGGG/RRRGGG/GGGBBB/GGGBBB/GGGBBB"
    qxq = get_pattern("qxq:grbg").tile
    assert (qxq[:4, :4] == 1).all() and (qxq[:4, 4:] == 0).all()
    assert (qxq[4:, :4] == 2).all() and (qxq[4:, 4:] == 1).all()
    assert (
        get_pattern("bayer") == get_pattern("RGGB") == get_pattern("rggb") == get_pattern("RG/GB")
    )


def test_tile_text_recognises_block_patterns():
    p = get_pattern("RRGG/RRGG/GGBB/GGBB")
    assert p.name == "quad:rggb" and p.block == 2
    user = get_pattern("RGB/GBR/BRG")
    assert user.block is None and user.period == (3, 3) and user.name == "RGB/GBR/BRG"
    rgbw = get_pattern("RGBW")
    assert rgbw.colors == "RGBW" and rgbw.block is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("RGG/GB", "ragged"),
        ("RGXB", "unknown letters"),
        ("RGGGG", "not a square"),
        ("GGGG", "no R, B"),
        ("RRGG/RRGG", "no B"),
        ("", "empty"),
        ("nonna", "unknown CFA pattern"),
        ("quad:xyzw", "unknown Bayer phase"),
        ("hexa:rggb", "unknown CFA pattern"),
    ],
)
def test_bad_tile_text(text, message):
    with pytest.raises(ValueError, match=message):
        get_pattern(text)


@pytest.mark.parametrize("spec", [*ALL, "RGB/GBR/BRG", "RG/BW"])
def test_json_round_trip(spec):
    p = get_pattern(spec)
    q = CFAPattern.from_json(p.to_json())
    assert q == p and q.name == p.name and q.block == p.block and q.phase == p.phase


@pytest.mark.parametrize("spec", ALL)
def test_mosaic_picks_own_colour(spec):
    p = get_pattern(spec)
    h, w = 2 * p.period[0], 3 * p.period[1]
    rgb = np.random.default_rng(1).integers(0, 1000, (2, h, w, 3))
    m = p.mosaic(rgb)
    assert m.shape == (2, h, w)
    for y in range(h):
        for x in range(w):
            c = p.tile[y % p.period[0], x % p.period[1]]
            assert m[1, y, x] == rgb[1, y, x, c]
    masks = p.masks(h, w)
    assert masks.sum() == h * w and (masks.sum(-1) == 1).all()
    # Bayer phase: half the sites are green, a quarter each red and blue
    assert masks[..., 1].mean() == 0.5 and masks[..., 0].mean() == 0.25


def test_mosaic_white_sites_take_the_mean():
    p = get_pattern("RG/BW")
    rgb = np.arange(2 * 2 * 3, dtype=float).reshape(2, 2, 3)
    m = p.mosaic(rgb)
    assert m[1, 1] == rgb[1, 1].mean() and m[0, 0] == rgb[0, 0, 0]


@pytest.mark.parametrize("spec", ALL)
def test_pack_planes_block_wise(spec):
    p = get_pattern(spec)
    b = p.block
    h, w = 2 * p.period[0], 3 * p.period[1]
    rgb = np.random.default_rng(2).random((h, w, 3))
    m = p.mosaic(rgb)
    planes = p.pack_planes(m)
    assert planes.shape == (h // 2, w // 2, 4)
    # reference: plane k holds block class k (raster position in the 2x2 block grid),
    # blocks in raster order, each block contiguous
    for k in range(4):
        i, j = divmod(k, 2)
        for by in range(h // (2 * b)):
            for bx in range(w // (2 * b)):
                y0, x0 = (2 * by + i) * b, (2 * bx + j) * b
                np.testing.assert_array_equal(
                    planes[by * b : (by + 1) * b, bx * b : (bx + 1) * b, k],
                    m[y0 : y0 + b, x0 : x0 + b],
                )
    # each plane is a single colour
    letters = p.plane_colors()
    for k in range(4):
        c = "RGB".index(letters[k])
        np.testing.assert_array_equal(planes[..., k], p.pack_planes(rgb[..., c])[..., k])
    for order in ("raster", "pynet"):
        np.testing.assert_array_equal(p.unpack_planes(p.pack_planes(m, order), order), m)


def test_pynet_plane_order_is_b_g_r_g():
    assert get_pattern("qxq:grbg").plane_colors("pynet") == "BGRG"
    assert get_pattern("bayer:rggb").plane_colors("pynet") == "BGRG"
    assert get_pattern("bayer:rggb").plane_colors() == "RGGB"
    # PyNET-QxQ (G top-left, R top-right, B bottom-left): B, G_topleft, R, G_bottomright
    assert get_pattern("qxq:grbg").plane_order("pynet") == (2, 0, 1, 3)


@pytest.mark.parametrize("spec", [*ALL, "RGB/GBR/BRG"])
def test_space_to_depth_round_trip(spec):
    p = get_pattern(spec)
    py, px = p.period
    m = np.arange(3 * 2 * py * 4 * px).reshape(3, 2 * py, 4 * px)
    d = p.space_to_depth(m)
    assert d.shape == (3, 2, 4, py * px)
    assert d[1, 1, 2, 1 * px + 0] == m[1, py + 1, 2 * px]
    np.testing.assert_array_equal(p.depth_to_space(d), m)


@pytest.mark.parametrize("spec", [s for s in ALL if not s.startswith("bayer")])
def test_binning_to_bayer(spec):
    p = get_pattern(spec)
    b = p.block
    h, w = 2 * p.period[0], 2 * p.period[1]
    rgb = np.random.default_rng(3).random((h, w, 3))
    binned, bayer = p.bin_to_bayer(p.mosaic(rgb))
    assert bayer == get_pattern(f"bayer:{p.phase}") and binned.shape == (h // b, w // b)
    # binning the mosaic == mosaicking the block-averaged image onto the Bayer phase
    small = rgb.reshape(h // b, b, w // b, b, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(binned, bayer.mosaic(small), rtol=1e-12)
    total, _ = p.bin_to_bayer(p.mosaic(rgb), mode="sum")
    np.testing.assert_allclose(total, binned * b * b)


def test_binning_averages_noise():
    # mean binning of b*b independent unit-variance values has variance 1/b^2
    p = get_pattern("nona")
    noise = np.random.default_rng(4).standard_normal((1, 600, 600))
    binned, _ = p.bin_to_bayer(noise)
    assert binned.var() == pytest.approx(1 / 9, rel=0.05)


def test_errors_for_non_block_and_bad_shapes():
    user = get_pattern("RGB/GBR/BRG")
    with pytest.raises(ValueError, match="not a block-Bayer pattern"):
        user.pack_planes(np.zeros((6, 6)))
    with pytest.raises(ValueError, match="not a block-Bayer pattern"):
        user.bin_to_bayer(np.zeros((6, 6)))
    with pytest.raises(ValueError, match="not a multiple of the nona:rggb period 6x6"):
        get_pattern("nona").pack_planes(np.zeros((8, 12)))
    with pytest.raises(ValueError, match="unknown plane order"):
        get_pattern("quad").pack_planes(np.zeros((4, 4)), order="bgr")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from("RGB"), min_size=3, max_size=3), min_size=3, max_size=3))
def test_any_rgb_tile_text_round_trips(rows):
    text = "/".join("".join(r) for r in rows)
    if not all(c in text for c in "RGB"):
        with pytest.raises(ValueError):
            get_pattern(text)
        return
    p = get_pattern(text)
    np.testing.assert_array_equal(p.tile, parse_tile(text))
    assert CFAPattern.from_json(p.to_json()) == p
    assert p.color_index(7, 5).shape == (7, 5)
