"""The preview grid: its pictures against NumPy references, its captions, its pixel layout in
the decoded PNG, and the card's preview.png in a built store."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from cfasim.cfa import CFAPattern
from cfasim.errors import ConfigError
from cfasim.isp.steps import UnprocessParams, process
from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.viz import captions, panels
from cfasim.viz import preview as P

NONA = CFAPattern.block_bayer(3)
QXQ = CFAPattern.block_bayer(4, "grbg")


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def raw_codes(shape, seed=0, black=64, white=1023):
    return np.random.default_rng(seed).integers(black - 10, white + 10, shape).astype(np.uint16)


# ---------------------------------------------------------------------------------------------
# Pictures


@pytest.mark.parametrize("pattern", [NONA, QXQ, CFAPattern.from_tile([[0, 1], [3, 2]])])
def test_false_colour_puts_each_value_in_its_filter_colour(pattern):
    raw = raw_codes((24, 24))
    got = panels.false_colour(raw, pattern, 64, 1023)
    value = np.clip((raw.astype(np.float64) - 64) / (1023 - 64), 0, 1)
    want = np.zeros((24, 24, 3))
    py, px = pattern.period
    for y in range(24):  # the reference: the tile looked up pixel by pixel
        for x in range(24):
            c = pattern.tile[y % py, x % px]
            channels = [0, 1, 2] if c == 3 else [c]
            want[y, x, channels] = value[y, x]
    np.testing.assert_array_equal(got, want)


def test_false_colour_sites_of_nona_blocks():
    raw = np.full((12, 12), 1023, dtype=np.uint16)  # white level: every site at 1
    got = panels.false_colour(raw, NONA, 64, 1023)
    np.testing.assert_array_equal(got[0:3, 0:3], np.broadcast_to([1, 0, 0], (3, 3, 3)))  # R
    np.testing.assert_array_equal(got[0:3, 3:6], np.broadcast_to([0, 1, 0], (3, 3, 3)))  # G
    np.testing.assert_array_equal(got[3:6, 3:6], np.broadcast_to([0, 0, 1], (3, 3, 3)))  # B
    np.testing.assert_array_equal(got[6:9, 0:3], got[0:3, 0:3])  # the tile repeats


def test_grey_raw_is_the_level_normalised_mosaic():
    raw = np.array([[0, 64, 65], [543, 1023, 2000]], dtype=np.uint16)
    got = panels.grey_raw(raw, 64, 1023)
    np.testing.assert_allclose(got, [[0, 0, 1 / 959], [479 / 959, 1, 1]], rtol=0, atol=1e-15)


def test_zoom_crop_cuts_whole_tiles_on_the_grid():
    assert [panels.zoom_tiles(CFAPattern.block_bayer(b)) for b in (1, 2, 3, 4)] == [4, 2, 2, 2]
    image = np.arange(48 * 48).reshape(48, 48)
    crop = panels.zoom_crop(image, NONA)
    assert crop.shape == (12, 12)
    y0, x0 = divmod(int(crop[0, 0]), 48)
    assert (y0 % 6, x0 % 6) == (0, 0)  # starts at a tile origin
    assert abs(y0 + 6 - 24) <= 6 and abs(x0 + 6 - 24) <= 6  # near the centre
    np.testing.assert_array_equal(crop, image[y0 : y0 + 12, x0 : x0 + 12])


def test_fit_square_enlarges_by_repeating_and_shrinks_by_block_means():
    picture = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = panels.fit_square(picture, 10)  # k = 10 // 3 = 3: a 6x9 picture centred
    assert out.shape == (10, 10, 3)
    np.testing.assert_array_equal(out[2:8, 0:9], np.kron(picture, np.ones((3, 3, 1))))
    assert (out[:2] == 255).all() and (out[8:] == 255).all() and (out[:, 9] == 255).all()
    big = np.random.default_rng(1).integers(0, 256, (20, 20, 3)).astype(np.uint8)
    small = panels.fit_square(big, 10)  # f = 2
    want = np.round(big.reshape(10, 2, 10, 2, 3).mean(axis=(1, 3))).astype(np.uint8)
    np.testing.assert_array_equal(small, want)


def test_clean_display_is_the_forward_isp_and_to_uint8_rounds():
    rng = np.random.default_rng(2)
    clean = rng.uniform(0, 1, (4, 4, 3))
    params = UnprocessParams(np.eye(3) + 0.1, 1.8, 1.4, 1.2)
    np.testing.assert_array_equal(panels.clean_display(clean, params), process(clean, params))
    np.testing.assert_array_equal(
        panels.to_uint8(np.array([-1, 0, 0.6 / 255, 0.49, 1, 2])), [0, 0, 1, 125, 255, 255]
    )


# ---------------------------------------------------------------------------------------------
# Captions


def test_pattern_and_noise_captions():
    assert P.captions.pattern_caption(QXQ).startswith("CFA qxq:grbg, 8x8 tile of 4x4 blocks")
    attrs = {
        "config": {"noise": "sensor", "iso": 1600, "optics": "", "source_kind": "images",
                   "exposure_time_s": None},
        "sensor_profile": {"name": "phone-qxq-0p56um"},
    }  # fmt: skip
    assert captions.noise_caption(attrs) == (
        "noise sensor physics: phone-qxq-0p56um, ISO 1600, optics none"
    )
    pairs = {"config": {"noise": "none", "source_kind": "zurich"}}
    assert captions.noise_caption(pairs) == (
        "noise as captured: real pairs (source kind zurich), sensor and ISP unknown"
    )


def test_sample_caption_numbers_and_unknowns():
    meta = {
        "wb_gains": np.array([2.02464, 1.0, 1.59259]),
        "digital_gain": np.float64(1.30953),
        "shot_noise": np.float64(0.00215465),
        "read_noise": np.float64(5.89196e-06),
        "black_level": np.uint16(64),
        "white_level": np.uint16(1023),
        "source_id": np.int32(7),
        "crop_box": np.array([10, 20, 24, 32]),
        "exposure": np.float64(0.0125),
        "xyz2cam": np.eye(3),
    }
    first, second = captions.sample_caption(5, meta)
    assert first == (
        "sample 5: WB gains R 2.02, B 1.59; digital gain 1.31; shot noise 0.00215, "
        "read noise 5.89e-06"
    )
    assert second == "black 64, white 1023; source 7, crop 24x32 at (10, 20); exposure 0.0125"
    nan = {"wb_gains": np.full(3, np.nan), "shot_noise": np.nan}
    assert captions.sample_caption(0, nan)[0] == (
        "sample 0: WB gains R unknown, B unknown; shot noise unknown"
    )


# ---------------------------------------------------------------------------------------------
# The grid


def test_choose_indices():
    assert P.choose_indices(10) == [0, 4, 9]  # evenly spaced, first and last
    assert P.choose_indices(2) == [0, 1]
    assert P.choose_indices(10, indices=[7, 2]) == [7, 2]
    drawn = P.choose_indices(100, random=5, seed=3)
    want = sorted(np.random.default_rng(3).choice(100, size=5, replace=False).tolist())
    assert drawn == want
    for kwargs, message in [
        (dict(indices=[10]), "index 10 is out of range"),
        (dict(indices=[1], random=2), "not both"),
        (dict(random=11), "cannot draw 11"),
        (dict(indices=list(range(10)) * 2), "1 to 16 samples"),
    ]:
        with pytest.raises(ConfigError, match=message):
            P.choose_indices(10, **kwargs)
    with pytest.raises(ConfigError, match="no samples"):
        P.choose_indices(0)


def synthetic_samples(n, size, pattern, clean=True):
    rng = np.random.default_rng(4)
    params = UnprocessParams(np.eye(3), 1.5, 1.5, 1.0)
    return [
        P.PreviewSample(
            index=i,
            raw=raw_codes((size, size), seed=i),
            black=64.0,
            white=1023.0,
            target=rng.integers(0, 256, (size, size, 3)).astype(np.uint8),
            clean=rng.uniform(0, 1, (size, size, 3)) if clean else None,
            params=params,
            meta={"wb_gains": np.array([1.5, 1, 1.5]), "digital_gain": 1.0},
        )
        for i in range(n)
    ]


def test_png_is_the_layout_size_and_shows_the_pictures_pixel_for_pixel():
    size = P.PANEL * P.UNIT_PX  # 168 px: each picture fills its panel 1:1
    samples = synthetic_samples(2, size, NONA)
    png = P.draw_preview(samples, NONA, ["title", "pattern", "noise", "format"])
    image = decode(png)
    w_px, h_px = P.figure_pixels(2)
    assert (w_px, h_px) == (76 * 12, (7 + 2 + 2 * 19) * 12)
    assert image.shape == (h_px, w_px, 3)
    for r, sample in enumerate(samples):
        top, left, h, w = P.panel_box(r, 0, 2)
        colour = panels.to_uint8(panels.false_colour(sample.raw, NONA, 64, 1023))
        np.testing.assert_array_equal(image[top : top + h, left : left + w], colour)
        top, left, h, w = P.panel_box(r, 1, 2)
        grey = panels.to_uint8(panels.grey_raw(sample.raw, 64, 1023))
        np.testing.assert_array_equal(image[top : top + h, left : left + w, 1], grey)
        top, left, h, w = P.panel_box(r, 3, 2)
        np.testing.assert_array_equal(image[top : top + h, left : left + w], sample.target)
        top, left, h, w = P.panel_box(r, 4, 2)  # 12x12 px zoom, 14 times: 168 px
        zoom = np.kron(panels.zoom_crop(colour, NONA), np.ones((14, 14, 1), dtype=np.uint8))
        np.testing.assert_array_equal(image[top : top + h, left : left + w], zoom)
    header = image[: P.HEADER * P.UNIT_PX]
    assert (header < 128).any() and (header == 255).mean() > 0.8  # dark text on white


def test_missing_clean_panel_is_grey_with_a_note_and_png_bytes_repeat():
    samples = synthetic_samples(1, 24, QXQ, clean=False)
    png = P.draw_preview(samples, QXQ, ["t"])
    assert png == P.draw_preview(samples, QXQ, ["t"])
    assert b"Software" not in png and b"tIME" not in png
    top, left, h, w = P.panel_box(0, 2, 1)
    panel = decode(png)[top : top + h, left : left + w]
    assert (panel == P.MISSING_GREY).mean() > 0.9  # grey, with the note's text in the middle
    assert (panel < 150).any()


# ---------------------------------------------------------------------------------------------
# The card's preview.png


@pytest.fixture(scope="module")
def nona_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("view") / "nona.zarr"
    cfg = GenerateConfig(pattern="nona", count=10, patch=24, clean=True, seed=5)
    build(plan(cfg), out, progress=False)
    return out


def test_build_writes_the_preview_linked_by_the_card_and_listed_in_checksums(nona_store):
    png = (nona_store / "preview.png").read_bytes()
    image = decode(png)
    assert image.shape == (*P.figure_pixels(P.CARD_SAMPLES)[::-1], 3)
    assert "![preview](preview.png)" in (nona_store / "README.md").read_text()
    files = json.loads((nona_store / "checksums.json").read_text())["files"]
    assert files["preview.png"]["bytes"] == len(png)
    assert P.card_preview(nona_store) == png  # deterministic: the same store, the same bytes
    from cfasim.data.reader import open_dataset

    ds = open_dataset(nona_store)
    split = ds["train"]  # the card shows the first split, samples 0, 4, 7 of 8
    assert P.choose_indices(len(split)) == [0, 4, 7]
    sample = split[4]
    top, left, h, w = P.panel_box(1, 0, 3)
    colour = panels.to_uint8(
        panels.false_colour(sample["raw"], ds.pattern, 64, 1023)
    )  # 24 px, enlarged 7 times
    want = panels.fit_square(colour, h)
    np.testing.assert_array_equal(image[top : top + h, left : left + w], want)


def test_old_store_without_preview_still_validates(nona_store, tmp_path):
    import shutil

    from cfasim.store.checksums import write_manifest
    from cfasim.store.finalize import is_finalized
    from cfasim.store.validate import validate

    old = tmp_path / "old.zarr"
    shutil.copytree(nona_store, old)
    (old / "preview.png").unlink()
    write_manifest(old)  # as an older cfasim wrote it: no preview.png
    assert is_finalized(old)
    report = validate(old, decode=False)
    assert report.ok, report.format()
    assert not report.warnings, report.warnings


def test_captured_pairs_preview_has_unknown_isp_and_no_clean(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    from cfasim.store.status import open_store

    golden = Path(__file__).parents[1] / "store" / "golden" / "inputs"
    shutil.copytree(golden, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    cfg = GenerateConfig(pattern="bayer", source="pairs/raw", targets="pairs/rgb",
                         source_kind="pairs", scale=2, count=4, patch=16,
                         splits=(0.5, 0.25, 0.25), seed=15)  # fmt: skip
    build(plan(cfg), Path("pairs.zarr"), progress=False)
    root, attrs = open_store("pairs.zarr")
    samples = P.read_samples(P.GroupSplit(root["train"], P.StoreFS("pairs.zarr"), "train"),
                             [0], attrs)  # fmt: skip
    assert samples[0].params is None and samples[0].clean is None
    assert samples[0].target.shape == (32, 32, 3)  # scale 2: the target is twice the RAW
    assert "unknown" in captions.sample_caption(0, samples[0].meta)[0]
    assert "(source kind pairs), sensor and ISP unknown" in captions.noise_caption(attrs)
    image = decode(Path("pairs.zarr/preview.png").read_bytes())
    assert image.shape == (*P.figure_pixels(2)[::-1], 3)  # the train split has 2 samples
