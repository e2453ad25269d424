"""Tests for cfasim.source.raw: reading Bayer RAW files with rawpy, binning, folder scanning.

Fixtures are DNG files written with cfasim.data.dng.write_dng (Bayer, Quad, Nona, QxQ, RGBW) or with
tifffile directly (linear DNG, monochrome DNG, plain TIFF), plus corrupt files. The tests also
pin what rawpy 0.28 / LibRaw 0.22 report for them, as documented in cfasim.source.raw.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile

from cfasim.cfa import PHASES, CFAPattern, get_pattern
from cfasim.data.dng import write_dng
from cfasim.isp import color
from cfasim.source.images import SourceError
from cfasim.source.raw import (
    RAW_SUFFIXES,
    RawFormatError,
    RawFrame,
    RawScanResult,
    RawSource,
    _frame_from_rawpy,
    bin_to_linear_rgb,
    read_raw,
    scan_raw_folder,
)

rawpy = pytest.importorskip("rawpy")

BLACK, WHITE = 64, 1023
XYZ2CAM = color.CAMERA_XYZ2CAM[1]
NEUTRAL = (0.5, 0.8, 0.6)  # AsShotNeutral with G != 1, so the G normalisation matters


def mosaic(h: int = 32, w: int = 48, seed: int = 0, lo: int = BLACK, hi: int = WHITE):
    return np.random.default_rng(seed).integers(lo, hi + 1, (h, w)).astype(np.uint16)


def write_bayer(path: Path, spec: str = "bayer:rggb", raw=None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = mosaic() if raw is None else raw
    args = {"black": BLACK, "white": WHITE, "xyz2cam": XYZ2CAM, "as_shot_neutral": NEUTRAL}
    args.update(kwargs)
    return write_dng(path, raw, get_pattern(spec), **args)


def set_black_pattern(path: Path, levels) -> None:
    """Rewrite a DNG's black level as a 2 x 2 BlackLevelRepeatDim pattern (raster order)."""
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tags = tif.pages[0].tags
        tags[50713].overwrite((2, 2))
        tags[50714].overwrite(list(levels))


DNG_TAGS = [
    (50706, "B", 4, (1, 4, 0, 0), True),
    (50707, "B", 4, (1, 4, 0, 0), True),
    (50708, "s", 0, "linear", True),
    (50717, "I", 1, WHITE, True),
    (50728, "2I", 3, [500000, 1000000, 1000000, 1000000, 600000, 1000000], True),
]


def write_linear_dng(path: Path) -> Path:
    """A demosaiced DNG: PhotometricInterpretation LinearRaw (34892), three samples."""
    rgb = np.random.default_rng(1).integers(0, WHITE + 1, (32, 48, 3)).astype(np.uint16)
    tifffile.imwrite(
        path,
        rgb,
        photometric=34892,
        planarconfig="contig",
        subfiletype=0,
        extratags=DNG_TAGS,
        metadata=None,
    )  # planarconfig: newer tifffile would otherwise write 32 pages of 48x3
    return path


def write_mono_dng(path: Path) -> Path:
    """A monochrome DNG: one-sample LinearRaw (tifffile refuses to write it, so patch the tag)."""
    tifffile.imwrite(
        path, mosaic(), photometric="minisblack", subfiletype=0, extratags=DNG_TAGS, metadata=None
    )
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags[262].overwrite(34892)
    return path


def write_plain_tiff(path: Path) -> Path:
    """A 16-bit grayscale TIFF without DNG or maker tags, saved as .dng."""
    tifffile.imwrite(path, mosaic(), photometric="minisblack")
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def truncated(path: Path, source: Path, keep: float | int) -> Path:
    data = source.read_bytes()
    n = keep if isinstance(keep, int) else int(len(data) * keep)
    return write_bytes(path, data[:n])


def refusal(path: Path) -> str:
    with pytest.raises(RawFormatError) as info:
        read_raw(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    return info.value.reason


# ---------------------------------------------------------------------------------------------
# read_raw: Bayer


@pytest.mark.parametrize("phase", PHASES)
def test_read_bayer_phases(tmp_path, phase):
    raw = mosaic(seed=3)
    path = write_bayer(tmp_path / f"{phase}.dng", f"bayer:{phase}", raw)
    frame = read_raw(path)
    assert frame.pattern == get_pattern(f"bayer:{phase}")
    assert frame.pattern.name == f"bayer:{phase}"
    assert frame.mosaic.dtype == np.uint16
    np.testing.assert_array_equal(frame.mosaic, raw)
    np.testing.assert_array_equal(frame.black, [BLACK] * 4)
    assert frame.white == WHITE and isinstance(frame.white, int)
    gains = 1 / np.asarray(NEUTRAL)
    np.testing.assert_allclose(frame.wb, gains / gains[1], rtol=1e-5)
    assert frame.wb[1] == 1.0 and frame.wb_source == "as_shot"
    assert frame.camera == "cfasim"  # UniqueCameraModel; rawpy has no make/model
    assert frame.path == path
    assert (frame.height, frame.width, frame.binned_shape) == (32, 48, (16, 24))
    assert not frame.mosaic.flags.writeable


def test_matrix_recovered_from_color_matrix(tmp_path):
    """LibRaw leaves rgb_xyz_matrix at zero for these DNGs and puts inv(rgb2cam) in
    color_matrix, so only the row-normalised rgb2cam is recoverable."""
    path = write_bayer(tmp_path / "m.dng")
    with rawpy.imread(str(path)) as rp:
        assert not rp.rgb_xyz_matrix.any()
        cam2rgb = rp.color_matrix[:, :3].astype(np.float64)
    rgb2cam = color.rgb2cam_from_xyz2cam(XYZ2CAM)
    np.testing.assert_allclose(cam2rgb, np.linalg.inv(rgb2cam), atol=1e-5)

    frame = read_raw(path)
    assert frame.matrix_source == "color_matrix"
    assert frame.xyz2cam.shape == (3, 3)
    # the relation that survives: same row-normalised sRGB -> camera matrix (1e-4: the
    # ColorMatrix1 rationals are rounded to 1/10000, color_matrix is float32)
    np.testing.assert_allclose(color.rgb2cam_from_xyz2cam(frame.xyz2cam), rgb2cam, atol=1e-4)
    np.testing.assert_allclose(frame.xyz2cam, rgb2cam @ np.linalg.inv(color.RGB2XYZ), atol=1e-4)
    # its row scale: D65 white (sRGB (1, 1, 1)) maps to camera (1, 1, 1) ...
    np.testing.assert_allclose(frame.xyz2cam @ color.RGB2XYZ @ np.ones(3), np.ones(3), atol=1e-12)
    # ... which is not the written matrix's own row scale
    assert not np.allclose(frame.xyz2cam, XYZ2CAM, atol=1e-2)


def test_per_site_black_levels(tmp_path):
    """BlackLevelRepeatDim 2 x 2: rawpy reports black_level_per_channel by colour index
    (R, G, B, G2); RawFrame.black is by tile site in raster order."""
    raw = mosaic(seed=5)
    path = write_bayer(tmp_path / "b.dng", "bayer:grbg", raw)
    set_black_pattern(path, (60, 61, 62, 63))  # sites G, R / B, G2
    with rawpy.imread(str(path)) as rp:
        assert rp.raw_pattern.tolist() == [[1, 0], [2, 3]]
        assert list(rp.black_level_per_channel) == [61, 60, 62, 63]
    frame = read_raw(path)
    np.testing.assert_array_equal(frame.black, [60, 61, 62, 63])
    np.testing.assert_array_equal(frame.black_map()[:2, :2], [[60, 61], [62, 63]])
    np.testing.assert_array_equal(bin_to_linear_rgb(frame), reference_bin(frame))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_raw(tmp_path / "nope.dng")


# ---------------------------------------------------------------------------------------------
# read_raw: refusals, and what rawpy reports for each fixture


@pytest.mark.parametrize("spec", ["nona:rggb", "nona:gbrg"])
def test_nona_refused_as_xtrans(tmp_path, spec):
    path = write_bayer(tmp_path / "n.dng", spec, mosaic(36, 48))
    with rawpy.imread(str(path)) as rp:  # LibRaw's X-Trans path: the right 6 x 6 tile
        assert rp.raw_pattern.shape == (6, 6)
    reason = refusal(path)
    assert reason.startswith("non-Bayer CFA (6x6 DNG CFA tile ")
    assert "X-Trans" in reason


@pytest.mark.parametrize(
    ("spec", "libraw"),
    [("quad:rggb", "2x2 pattern RR/GG"), ("quad:grbg", "2x2 pattern GG/RR"), ("qxq:rggb", "4x4")],
)
def test_quad_and_qxq_refused(tmp_path, spec, libraw):
    path = write_bayer(tmp_path / "q.dng", spec)
    reason = refusal(path)
    dims = "x".join(map(str, get_pattern(spec).period))
    assert reason.startswith(f"non-Bayer CFA ({dims} DNG CFA tile ")
    assert f"LibRaw reads it as {libraw}" in reason


def test_rgbw_refused(tmp_path):
    path = write_bayer(tmp_path / "w.dng", "RG/WB")
    with rawpy.imread(str(path)) as rp:
        assert rp.color_desc == b"GMCY" and rp.num_colors == 4
    assert refusal(path).startswith("non-Bayer CFA (2x2 pattern")


def test_linear_dng_refused(tmp_path):
    path = write_linear_dng(tmp_path / "lin.dng")
    # refused from its DNG tags; what LibRaw does with it depends on the tifffile writer's
    # version (tifffile 2026.3: a 4-plane Stack; 2026.11: "unsupported file format")
    assert refusal(path) == "linear DNG (already demosaiced)"


def test_monochrome_dng_refused(tmp_path):
    path = write_mono_dng(tmp_path / "mono.dng")
    with rawpy.imread(str(path)) as rp:
        assert rp.num_colors == 1 and rp.raw_pattern.tolist() == [[6]]
    assert refusal(path).startswith("no CFA (monochrome")


def test_plain_tiff_refused(tmp_path):
    path = write_plain_tiff(tmp_path / "plain.dng")
    with rawpy.imread(str(path)) as rp:  # LibRaw makes up an RGGB mosaic for it
        assert rp.raw_pattern.tolist() == [[0, 1], [3, 2]]
        assert list(rp.camera_whitebalance) == [0, 1, 0, 0]
        assert not rp.color_matrix.any()
    assert refusal(path).startswith("no CFA (a plain TIFF image")


def test_corrupt_files_refused(tmp_path):
    good = write_bayer(tmp_path / "good.dng")
    rand = write_bytes(tmp_path / "rand.dng", np.random.default_rng(0).bytes(5000))
    assert refusal(rand) == (
        "unreadable: Unsupported file format or not RAW file (LibRaw LibRawFileUnsupportedError)"
    )
    # data cut: LibRaw opens the file and fails in unpack (printing a warning on stderr)
    assert refusal(truncated(tmp_path / "half.dng", good, 0.5)).startswith("unreadable: ")
    # header cut: LibRaw fails at open
    assert refusal(truncated(tmp_path / "head.dng", good, 200)).startswith("unreadable: ")
    assert refusal(write_bytes(tmp_path / "empty.dng", b"")).startswith("unreadable: ")
    # LibRaw refuses images under 22 px in either direction (dcraw's is_raw check)
    tiny = write_bayer(tmp_path / "tiny.dng", raw=mosaic(20, 48))
    assert refusal(tiny).startswith("unreadable: Unsupported file format")
    assert read_raw(write_bayer(tmp_path / "min.dng", raw=mosaic(22, 22))).binned_shape == (11, 11)


# ---------------------------------------------------------------------------------------------
# a rawpy stand-in: branches no DNG fixture reaches


def stub(**overrides) -> SimpleNamespace:
    raw = mosaic(6, 8, seed=2)
    attrs = {
        "raw_pattern": np.array([[0, 1], [3, 2]], np.uint8),
        "raw_image": raw,
        "raw_image_visible": raw,
        "num_colors": 3,
        "color_desc": b"RGBG",
        "sizes": SimpleNamespace(top_margin=0, left_margin=0),
        "black_level_per_channel": [10, 20, 30, 40],
        "white_level": 4095,
        "camera_whitebalance": [2.0, 1.0, 1.5, 0.0],
        "daylight_whitebalance": [2.2, 1.1, 1.65, 0.0],
        "rgb_xyz_matrix": np.vstack([XYZ2CAM, np.zeros(3)]).astype(np.float32),
        "color_matrix": np.zeros((3, 4), np.float32),
    }
    attrs.update(overrides)
    return SimpleNamespace(**attrs)


def test_stub_camera_matrix_and_margins():
    frame = _frame_from_rawpy(stub(), Path("x.nef"), None)
    assert frame.matrix_source == "rgb_xyz_matrix"
    np.testing.assert_allclose(frame.xyz2cam, XYZ2CAM, rtol=1e-6)
    assert frame.pattern.name == "bayer:rggb" and frame.camera == ""
    np.testing.assert_array_equal(frame.black, [10, 20, 40, 30])  # sites R, G / G2, B

    # raw_pattern describes raw_image; an odd top margin moves the visible phase
    shifted = _frame_from_rawpy(
        stub(sizes=SimpleNamespace(top_margin=1, left_margin=2)), Path("x.nef"), None
    )
    assert shifted.pattern.name == "bayer:gbrg"
    np.testing.assert_array_equal(shifted.black, [40, 30, 10, 20])


def test_stub_three_colour_green():
    """Cameras reported with one green index (num_colors 3, pattern [[0, 1], [1, 2]])."""
    frame = _frame_from_rawpy(stub(raw_pattern=np.array([[0, 1], [1, 2]])), Path("x"), None)
    assert frame.pattern.name == "bayer:rggb"
    np.testing.assert_array_equal(frame.black, [10, 20, 20, 30])


def test_stub_white_balance_fallbacks():
    frame = _frame_from_rawpy(stub(camera_whitebalance=[0, 1, 0, 0]), Path("x"), None)
    assert frame.wb_source == "daylight"
    np.testing.assert_allclose(frame.wb, (2.0, 1.0, 1.5))
    frame = _frame_from_rawpy(
        stub(camera_whitebalance=[0, 0, 0, 0], daylight_whitebalance=[0, 0, 0, 0]), Path("x"), None
    )
    assert frame.wb_source == "none" and frame.wb.tolist() == [1, 1, 1]
    frame = _frame_from_rawpy(stub(rgb_xyz_matrix=np.zeros((4, 3))), Path("x"), None)
    assert frame.matrix_source == "none" and frame.xyz2cam is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"raw_pattern": np.array([[0, 1], [2, 2]])}, "non-Bayer CFA (2x2 pattern RG/BB is not"),
        ({"raw_pattern": np.array([[0, 2], [1, 3]])}, "greens are not on a diagonal"),
        ({"color_desc": b"RGBE"}, "colour E is not R, G, B"),
        ({"raw_pattern": np.zeros((6, 6), np.uint8)}, "non-Bayer CFA (6x6 X-Trans)"),
        (
            {"raw_pattern": np.array([[0, 1] * 2, [1, 2] * 2, [1, 0] * 2, [2, 1] * 2])},
            "(4x4 pattern",
        ),
        ({"raw_image": np.zeros((6, 8, 3), np.uint16)}, "linear RAW (already demosaiced)"),
        ({"white_level": 30}, "bad levels"),
    ],
)
def test_stub_refusals(overrides, reason):
    with pytest.raises(RawFormatError, match=r"unusable RAW file x\.cr2") as info:
        _frame_from_rawpy(stub(**overrides), Path("x.cr2"), None)
    assert reason in info.value.reason


# ---------------------------------------------------------------------------------------------
# bin_to_linear_rgb


def reference_bin(frame: RawFrame, clip: bool = True) -> np.ndarray:
    """Plain NumPy: per-pixel black, normalise, then average each colour over its 2 x 2 cell."""
    h, w = 2 * (frame.height // 2), 2 * (frame.width // 2)
    black = frame.black_map()[:h, :w]
    norm = (frame.mosaic[:h, :w].astype(np.float64) - black) / (frame.white - black)
    idx = frame.pattern.color_index(h, w)
    cells = norm.reshape(h // 2, 2, w // 2, 2)
    out = np.stack(
        [
            (cells * (idx == c).reshape(h // 2, 2, w // 2, 2)).sum(axis=(1, 3))
            / (idx == c).reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
            for c in range(3)
        ],
        axis=-1,
    )
    return (np.clip(out, 0, 1) if clip else out).astype(np.float32)


def frame_of(raw, phase="rggb", black=(BLACK,) * 4, white=WHITE) -> RawFrame:
    return RawFrame(
        mosaic=raw,
        pattern=get_pattern(f"bayer:{phase}"),
        black=black,
        white=white,
        wb=(2.0, 1.0, 1.5),
        xyz2cam=XYZ2CAM,
        path=Path("mem.dng"),
    )


def test_bin_known_cell():
    raw = np.array([[500, 600], [700, 1000]], np.uint16)  # R G / G B
    out = bin_to_linear_rgb(frame_of(raw, black=(0, 100, 200, 0), white=1000))
    assert out.dtype == np.float32 and out.shape == (1, 1, 3)
    expected = [0.5, ((600 - 100) / 900 + (700 - 200) / 800) / 2, 1.0]
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-7)
    # the same cell read as BGGR swaps R and B
    bggr = bin_to_linear_rgb(frame_of(raw, "bggr", black=(0, 100, 200, 0), white=1000))
    np.testing.assert_allclose(bggr[0, 0], expected[::-1], rtol=1e-7)


@pytest.mark.parametrize("phase", PHASES)
def test_bin_matches_reference(phase):
    raw = mosaic(10, 14, seed=7, lo=0, hi=1100)  # below black and above white too
    frame = frame_of(raw, phase, black=(60, 62, 64, 66))
    for clip in (True, False):
        np.testing.assert_array_equal(
            bin_to_linear_rgb(frame, clip=clip), reference_bin(frame, clip)
        )
    clipped, raw_out = bin_to_linear_rgb(frame), bin_to_linear_rgb(frame, clip=False)
    assert clipped.min() == 0 and clipped.max() == 1
    assert raw_out.min() < 0 and raw_out.max() > 1


def test_bin_odd_size_and_black_map():
    raw = mosaic(7, 9, seed=8)
    frame = frame_of(raw, "gbrg")
    out = bin_to_linear_rgb(frame)
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out, bin_to_linear_rgb(frame_of(raw[:6, :8].copy(), "gbrg")))
    black = np.random.default_rng(0).uniform(50, 70, raw.shape)
    mapped = frame_of(raw, "gbrg", black=black)
    np.testing.assert_array_equal(bin_to_linear_rgb(mapped), reference_bin(mapped))


def test_bin_of_a_read_dng(tmp_path):
    frame = read_raw(write_bayer(tmp_path / "a.dng", "bayer:gbrg", mosaic(seed=9)))
    np.testing.assert_array_equal(bin_to_linear_rgb(frame), reference_bin(frame))


def test_rawframe_checks():
    raw = mosaic(4, 4)
    with pytest.raises(ValueError, match="2x2 Bayer"):
        RawFrame(raw, get_pattern("quad"), (0,) * 4, WHITE, (1, 1, 1), None, Path("x"))
    with pytest.raises(ValueError, match="below white"):
        frame_of(raw, black=(0, 0, 0, WHITE))
    with pytest.raises(ValueError, match="uint16"):
        frame_of(raw.astype(np.int32))
    with pytest.raises(ValueError, match="shape"):
        frame_of(raw, black=(1, 2, 3))
    caller = np.array([1.0, 2.0, 3.0, 4.0])
    frame = frame_of(raw, black=caller)
    assert caller.flags.writeable and not frame.black.flags.writeable
    assert isinstance(CFAPattern.block_bayer(1), CFAPattern)


# ---------------------------------------------------------------------------------------------
# scan_raw_folder


@pytest.fixture
def raw_folder(tmp_path) -> Path:
    root = tmp_path / "raws"
    write_bayer(root / "a.dng", "bayer:rggb", mosaic(32, 48))
    write_bayer(root / "sub" / "B.DNG", "bayer:grbg", mosaic(40, 40))  # suffix case ignored
    write_bayer(root / "small.dng", "bayer:rggb", mosaic(24, 24))
    write_bayer(root / "nona.dng", "nona:rggb", mosaic(36, 48))
    write_bayer(root / "quad.dng", "quad:rggb")
    write_linear_dng(root / "linear.dng")
    write_bytes(root / "random.nef", np.random.default_rng(0).bytes(3000))
    truncated(root / "cut.dng", root / "a.dng", 0.5)
    write_bytes(root / "notes.txt", b"not a raw")  # not a RAW suffix: ignored
    write_bayer(root / ".hidden.dng")  # hidden: ignored
    return root


def test_scan_raw_folder(raw_folder):
    result = scan_raw_folder(raw_folder, min_height=13, min_width=13)
    assert isinstance(result, RawScanResult)
    summary = [(s.path, s.height, s.width, s.pattern, s.camera) for s in result.images]
    assert summary == [
        ("a.dng", 32, 48, "bayer:rggb", "cfasim"),
        ("sub/B.DNG", 40, 40, "bayer:grbg", "cfasim"),
    ]
    assert all(isinstance(s, RawSource) for s in result.images)
    # the scan keeps each file's white balance and matrix: no second decode needed
    frame = read_raw(raw_folder / "a.dng")
    np.testing.assert_array_equal(result.images[0].wb, frame.wb)
    np.testing.assert_array_equal(result.images[0].xyz2cam, frame.xyz2cam)
    assert result.images[0].binned_shape == (16, 24)
    reasons = dict(result.skipped)
    assert (
        [p for p, _ in result.skipped]
        == sorted(reasons)
        == [
            "cut.dng",
            "linear.dng",
            "nona.dng",
            "quad.dng",
            "random.nef",
            "small.dng",
        ]
    )
    assert reasons["cut.dng"].startswith("unreadable: ")
    assert reasons["random.nef"].startswith("unreadable: Unsupported file format")
    assert reasons["linear.dng"] == "linear DNG (already demosaiced)"
    assert reasons["nona.dng"].startswith("non-Bayer CFA (6x6") and "X-Trans" in reasons["nona.dng"]
    assert reasons["quad.dng"].startswith("non-Bayer CFA (4x4")
    assert reasons["small.dng"] == "too small: 12x12 < 13x13 (binned from 24x24)"
    assert scan_raw_folder(raw_folder, min_height=13, min_width=13, workers=3) == result
    # the size compared is the binned one: 40 x 40 -> 20 x 20
    narrow = scan_raw_folder(raw_folder, min_height=17, min_width=17)
    assert [s.path for s in narrow.images] == ["sub/B.DNG"]
    assert dict(narrow.skipped)["a.dng"] == "too small: 16x24 < 17x17 (binned from 32x48)"


def test_scan_raw_folder_errors(tmp_path, raw_folder):
    with pytest.raises(SourceError, match="does not exist"):
        scan_raw_folder(tmp_path / "missing", min_height=1, min_width=1)
    with pytest.raises(SourceError, match="not a directory"):
        scan_raw_folder(raw_folder / "a.dng", min_height=1, min_width=1)
    empty = tmp_path / "empty"
    write_bytes(empty / "photo.jpg", b"x")
    with pytest.raises(SourceError, match="no RAW files"):
        scan_raw_folder(empty, min_height=1, min_width=1)
    with pytest.raises(SourceError, match=r"no usable RAW files .* all 8 candidate file\(s\)"):
        scan_raw_folder(raw_folder, min_height=100, min_width=100)
    with pytest.raises(ValueError, match="workers"):
        scan_raw_folder(raw_folder, min_height=1, min_width=1, workers=0)
    with pytest.raises(ValueError, match="minimum size"):
        scan_raw_folder(raw_folder, min_height=-1, min_width=1)


def test_raw_suffixes():
    assert all(s == s.lower() and s.startswith(".") for s in RAW_SUFFIXES)
    assert {".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw"} == set(
        RAW_SUFFIXES
    )
