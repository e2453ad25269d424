"""``cfasim.write_dng`` as a public API: any uint16 mosaic on any CFA tile up to 8 x 8, read back
with tifffile (the DNG tags) and rawpy / LibRaw (the codes and levels)."""

import re
from pathlib import Path

import numpy as np
import pytest
import tifffile

import cfasim
from cfasim.cfa import CFAPattern, get_pattern
from cfasim.data.dng import DNG_COLOR_CODES, MATRIX_DENOMINATOR, write_dng
from cfasim.errors import CfasimError, ConfigError

rawpy = pytest.importorskip("rawpy")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "dataset-format.md"

BLACK, WHITE = 64, 4095
USER_3X3 = np.array([[0, 1, 2], [1, 2, 0], [2, 0, 1]])  # a diagonal RGB tile, not a block Bayer
TILES = {
    "bayer": "bayer",
    "quad": "quad:grbg",
    "nona": "nona",
    "qxq": "qxq",
    "user-3x3": USER_3X3,
    "user-3x3-text": "RGB/GBR/BRG",
    "user-2x4": np.array([[0, 1, 0, 1], [1, 2, 1, 2]]),
}


def _tile(spec) -> np.ndarray:
    """The tile a spec stands for, built without write_dng's own conversion."""
    if isinstance(spec, str):
        return np.asarray(get_pattern(spec).tile)
    return np.asarray(spec)


def _mosaic(shape=(30, 36), seed=0) -> np.ndarray:
    """Codes between the levels; sides that are not multiples of every tile."""
    return np.random.default_rng(seed).integers(BLACK, WHITE + 1, shape, dtype=np.uint16)


@pytest.mark.parametrize("name", list(TILES))
def test_tags_and_codes_round_trip_through_tifffile(name, tmp_path):
    spec, raw = TILES[name], _mosaic()
    tile = _tile(spec)
    path = write_dng(tmp_path / f"{name}.dng", raw, spec, BLACK, WHITE)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        tags = {t.name: t.value for t in page.tags}
        data = page.asarray()
    assert data.dtype == np.uint16
    np.testing.assert_array_equal(data, raw)
    assert tags["PhotometricInterpretation"] == 32803  # CFA
    assert tuple(tags["CFARepeatPatternDim"]) == tile.shape
    assert list(tags["CFAPattern"]) == [DNG_COLOR_CODES[c] for c in tile.ravel()]
    assert list(tags["CFAPlaneColor"]) == [0, 1, 2]
    assert tags["BlackLevel"] == BLACK and tags["WhiteLevel"] == WHITE
    assert tags["DNGVersion"] == b"\x01\x04\x00\x00"


def test_default_colour_matrix_is_xyz_to_linear_srgb(tmp_path):
    """Default xyz2cam: XYZ -> linear sRGB, against colour-science's sRGB matrix (derived from
    the primaries and the D65 chromaticity, it differs from cfasim's 7-digit RGB2XYZ inverse by
    < 4e-4; the rational adds <= 0.5e-4), and AsShotNeutral (1, 1, 1)."""
    colour = pytest.importorskip("colour")
    path = write_dng(tmp_path / "m.dng", _mosaic(), USER_3X3)
    with tifffile.TiffFile(path) as tif:
        tags = {t.name: t.value for t in tif.pages[0].tags}
    pairs = np.asarray(tags["ColorMatrix1"], dtype=np.float64).reshape(3, 3, 2)
    assert np.all(pairs[..., 1] == MATRIX_DENOMINATOR)
    oracle = colour.RGB_COLOURSPACES["sRGB"].matrix_XYZ_to_RGB
    np.testing.assert_allclose(pairs[..., 0] / pairs[..., 1], oracle, rtol=0, atol=5e-4)
    neutral = np.asarray(tags["AsShotNeutral"], dtype=np.float64).reshape(3, 2)
    np.testing.assert_array_equal(neutral[:, 0] / neutral[:, 1], [1.0, 1.0, 1.0])
    assert tags["BlackLevel"] == 0 and tags["WhiteLevel"] == 65535


@pytest.mark.parametrize("name", list(TILES))
def test_libraw_reads_codes_and_levels_of_every_tile(name, tmp_path):
    """LibRaw returns the written codes and levels for every tile; camera_whitebalance is
    1 / AsShotNeutral."""
    raw = _mosaic(seed=1)
    neutral = (0.5, 1.0, 0.625)
    path = write_dng(tmp_path / "x.dng", raw, TILES[name], BLACK, WHITE, None, neutral)
    with rawpy.imread(str(path)) as r:
        np.testing.assert_array_equal(r.raw_image_visible, raw)
        assert list(r.black_level_per_channel) == [BLACK] * 4
        assert r.white_level == WHITE
        np.testing.assert_allclose(r.camera_whitebalance[:3], [2.0, 1.0, 1.6], rtol=1e-6)


def test_libraw_pattern_of_a_user_tile(tmp_path):
    """LibRaw has no 3 x 3 CFA: it reports a 4 x 4 pattern from its packed ``filters`` word,
    so the layout must be taken from the CFA tags (tifffile), as the docs say; Bayer comes back
    right (``color_desc`` RGBG, index 3 = second green)."""
    with rawpy.imread(str(write_dng(tmp_path / "u.dng", _mosaic(), USER_3X3))) as r:
        assert r.raw_pattern.shape == (4, 4)
    with rawpy.imread(str(write_dng(tmp_path / "b.dng", _mosaic(), "bayer:rggb"))) as r:
        desc = r.color_desc.decode()
        letters = [[desc[c] for c in row] for row in r.raw_pattern]
    assert letters == [["R", "G"], ["G", "B"]]


def test_pattern_forms_write_the_same_file(tmp_path):
    """A CFAPattern, its tile text and its tile array give byte-identical files."""
    raw = _mosaic()
    files = [
        write_dng(tmp_path / "a.dng", raw, CFAPattern.from_tile(USER_3X3), BLACK, WHITE),
        write_dng(tmp_path / "b.dng", raw, "RGB/GBR/BRG", BLACK, WHITE),
        write_dng(tmp_path / "c.dng", raw, USER_3X3.tolist(), BLACK, WHITE),
    ]
    blobs = {f.read_bytes() for f in files}
    assert len(blobs) == 1


def test_public_api():
    assert cfasim.write_dng is write_dng
    assert "write_dng" in cfasim.__all__


@pytest.mark.parametrize(
    ("raw", "pattern", "levels", "words"),
    [
        (_mosaic(), CFAPattern.block_bayer(5), (BLACK, WHITE), ["10x10", "8x8"]),
        (_mosaic(), np.tile(USER_3X3, (3, 3)), (BLACK, WHITE), ["9x9", "8x8"]),
        (_mosaic().astype(np.float32), "bayer", (BLACK, WHITE), ["uint16", "float32"]),
        (_mosaic().astype(np.uint8), "bayer", (BLACK, WHITE), ["uint16", "uint8"]),
        (_mosaic()[None], "bayer", (BLACK, WHITE), ["(H, W)", "(1, 30, 36)"]),
        (_mosaic(), np.array([[0, 1], [1, 0]]), (BLACK, WHITE), ["no B"]),
        (_mosaic(), "RGX/GBR", (BLACK, WHITE), ["not a CFA pattern"]),
        (_mosaic(), "bayer", (900, 800), ["black 900", "white 800"]),
    ],
)
def test_bad_input_is_a_one_line_config_error(raw, pattern, levels, words, tmp_path):
    with pytest.raises(ConfigError) as err:
        write_dng(tmp_path / "bad.dng", raw, pattern, *levels)
    assert isinstance(err.value, CfasimError) and isinstance(err.value, ValueError)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert not (tmp_path / "bad.dng").exists()


def _docs_example() -> str:
    """The Python block of the "Saving any mosaic as a DNG" section of docs/dataset-format.md."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Saving any mosaic as a DNG", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_docs_example_runs_and_says_what_the_file_holds(tmp_path, monkeypatch):
    """The docs example runs as written (its asserts check tags and codes) and its file opens
    in rawpy with the same codes."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_docs_example(), str(DOCS), "exec"), namespace)
    with rawpy.imread(str(tmp_path / "mosaic.dng")) as r:
        np.testing.assert_array_equal(r.raw_image_visible, namespace["mosaic"])
        assert r.white_level == 1023 and list(r.black_level_per_channel) == [64] * 4
