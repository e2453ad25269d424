"""CFA patterns: tiles, mosaic, packing, binning, JSON, parsing errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfasim.cfa import (
    BLOCK_SIZES,
    MAX_BLOCK,
    MAX_PERIOD,
    PHASES,
    CFAPattern,
    get_pattern,
    parse_tile,
    tile_text,
)
from cfasim.errors import ConfigError

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
        ("block:rggb", "unknown CFA pattern 'block'; choose one of .*blockN"),
        ("blockx", "unknown CFA pattern"),
        ("block0", "block size must be >= 1"),
        ("block5:xyzw", "unknown Bayer phase"),
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


# -- any block size, and the limits -------------------------------------------------------------


def test_limits():
    assert MAX_PERIOD == 32 and MAX_BLOCK == 16


def test_every_block_pattern_name_round_trips():
    """get_pattern reads every name block_bayer makes (blocks 1..16, all phases), and JSON and
    the tile text give the same pattern and name back."""
    for block in range(1, MAX_BLOCK + 1):
        for phase in PHASES:
            p = CFAPattern.block_bayer(block, phase)
            np.testing.assert_array_equal(p.tile, naive_tile(block, phase))
            for q in (
                get_pattern(p.name),
                get_pattern(p.name.upper()),
                CFAPattern.from_dict(p.to_dict()),
                get_pattern(tile_text(p.tile)),
            ):
                assert q == p and q.name == p.name and q.block == block and q.phase == phase
    assert get_pattern("block5").name == "block5:rggb"
    assert get_pattern("block2:grbg") == get_pattern("quad:grbg")
    assert get_pattern("block2:grbg").name == "quad:grbg"


@settings(max_examples=40, deadline=None)
@given(st.integers(1, MAX_BLOCK), st.sampled_from(PHASES))
def test_block_names_round_trip_property(block, phase):
    p = CFAPattern.block_bayer(block, phase)
    builtin = {b: name for name, b in BLOCK_SIZES.items()}
    assert p.name == f"{builtin.get(block, f'block{block}')}:{phase}"
    assert get_pattern(p.name) == p and CFAPattern.from_json(p.to_json()).name == p.name
    assert p.period == (2 * block, 2 * block)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, MAX_PERIOD),
    st.integers(3, MAX_PERIOD),
    st.integers(0, 2**32 - 1),
)
def test_large_user_tiles_round_trip(rows, cols, seed):
    tile = np.random.default_rng(seed).integers(0, 3, (rows, cols))
    tile[0, :3] = (0, 1, 2)
    p = CFAPattern.from_tile(tile)
    for q in (get_pattern(p.name), CFAPattern.from_dict(p.to_dict())):
        assert q == p and q.name == p.name and q.block == p.block
    np.testing.assert_array_equal(p.color_index(rows * 2, cols), np.tile(tile, (2, 1)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: CFAPattern.block_bayer(MAX_BLOCK + 1),
        lambda: get_pattern("block17:gbrg"),
        lambda: get_pattern("/".join(["RGB" * 11] * 33)),
        lambda: get_pattern("/".join(["RGBG"] * 33)),
        lambda: CFAPattern.from_tile(np.tile([[0, 1], [1, 2]], (1, 20))),
        lambda: CFAPattern.from_dict({"name": "x", "tile": np.tile([0, 1, 2], (40, 1)).tolist()}),
    ],
)
def test_tiles_over_the_limit_raise_one_line_config_error(make):
    with pytest.raises(ConfigError, match=r"over the limit.*(32|16)") as err:
        make()
    assert isinstance(err.value, ValueError)
    assert "\n" not in str(err.value) and len(str(err.value)) < 120


def test_large_user_tile_messages_stay_short():
    text = "/".join("".join("RGB"[(y + x) % 3] for x in range(20)) for y in range(20))
    p = get_pattern(text)
    assert p.label.startswith("20x20 tile RGBRGB") and len(p.label) < 40
    with pytest.raises(ValueError, match=r"not a multiple of the 20x20 tile RGB\S+ period 20x20"):
        p.check_shape(30, 40)
    with pytest.raises(ValueError, match="has no B pixel") as err:
        get_pattern("/".join(["RG" * 10] * 20))
    assert len(str(err.value)) < 80


def test_one_row_tiles_keep_their_shape():
    """A one-row tile's name ends with '/', so it is not read back as a square tile."""
    stripe = get_pattern("RGBG/")
    assert stripe.period == (1, 4) and stripe.name == "RGBG/" and get_pattern(stripe.name) == stripe
    assert get_pattern("RGBG").period == (2, 2)
    assert get_pattern("RGB/").period == (1, 3) and get_pattern("R/G/B").period == (3, 1)
    with pytest.raises(ValueError, match="end a one-row tile with '/'"):
        get_pattern("RGB")
