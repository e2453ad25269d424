"""Tests for cfasim.source.pairs: the Zurich RAW-to-RGB layout and generic two-folder pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from cfasim.cfa import get_pattern
from cfasim.source.images import SourceError
from cfasim.source.pairs import (
    ZRR_PATTERN,
    ZRR_SIZE,
    Pair,
    PairScan,
    load_mosaic,
    load_pair,
    load_zurich_pair,
    pair_scale,
    scan_pairs,
    scan_zurich,
)
from cfasim.testing.fixtures import make_zrr, raw10, smooth8, write_file, write_jpeg, write_png

S = 16  # fixture patch side (ZRR's is 448, used once below)


# ---------------------------------------------------------------------------------------------
# scan_zurich


def test_scan_zurich_flat(tmp_path):
    root = make_zrr(
        tmp_path, raw_stems=["0", "1", "2", "10", "3"], target_stems=["0", "1", "2", "10", "11"]
    )
    write_file(root / "canon" / "notes.txt", b"x")
    write_file(root / "huawei_raw" / ".DS_Store", b"x")  # hidden: ignored
    (root / "huawei_raw" / "sub").mkdir()  # folders inside: ignored
    result = scan_zurich(root)
    assert isinstance(result, PairScan) and len(result) == 4
    assert [p.stem for p in result] == ["0", "1", "2", "10"]  # natural order
    first = result.pairs[0]
    assert first == Pair(root / "huawei_raw" / "0.png", root / "canon" / "0.jpg", None)
    assert result.splits() == {None: 4}
    assert result.skipped == (
        ("canon/11.jpg", "no matching RAW huawei_raw/11.png"),
        ("canon/notes.txt", "not a JPEG target"),
        ("huawei_raw/3.png", "no matching target canon/3.jpg"),
    )


def test_scan_zurich_splits(tmp_path):
    make_zrr(tmp_path / "train", ["0", "1", "2"], ["0", "1", "2"])
    make_zrr(tmp_path / "test", ["0", "1"], ["0", "1"])
    write_png(tmp_path / "test" / "huawei_full_resolution" / "0.png", raw10(32, 32))  # ignored
    make_zrr(tmp_path / "val", raw_stems=["5"])  # no canon/ folder
    write_file(tmp_path / "docs" / "readme.txt", b"x")  # unrelated folder: ignored
    result = scan_zurich(tmp_path)
    assert result.splits() == {"test": 2, "train": 3}
    assert [(p.split_hint, p.stem) for p in result] == [
        ("test", "0"),
        ("test", "1"),
        ("train", "0"),
        ("train", "1"),
        ("train", "2"),
    ]
    assert result.pairs[0].raw_path == tmp_path / "test" / "huawei_raw" / "0.png"
    assert result.skipped == (("val/huawei_raw/5.png", "no canon/ folder in val"),)


def test_scan_zurich_duplicates(tmp_path):
    root = make_zrr(tmp_path, ["0", "1"], ["0", "1"])
    write_jpeg(root / "canon" / "1.jpeg", smooth8())
    result = scan_zurich(root)
    assert [p.stem for p in result] == ["0"]
    assert dict(result.skipped) == {
        "canon/1.jpeg": "duplicate stem: 1.jpeg, 1.jpg",
        "canon/1.jpg": "duplicate stem: 1.jpeg, 1.jpg",
        "huawei_raw/1.png": "no matching target canon/1.jpg",
    }


def test_scan_zurich_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        scan_zurich(tmp_path / "missing")
    write_file(tmp_path / "file", b"x")
    with pytest.raises(SourceError, match="not a directory"):
        scan_zurich(tmp_path / "file")
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match=r"no Zurich RAW-to-RGB layout .*huawei_raw/ and canon/"):
        scan_zurich(tmp_path / "plain")
    root = make_zrr(tmp_path / "nomatch", ["0", "1"], ["2"])
    with pytest.raises(SourceError, match=r"no matching RAW/target pairs .*: 3 file\(s\) skipped"):
        scan_zurich(root)


# ---------------------------------------------------------------------------------------------
# load_zurich_pair


def test_load_zurich_pair_448(tmp_path):
    raw = raw10(ZRR_SIZE, ZRR_SIZE, seed=4)
    target = smooth8(ZRR_SIZE, ZRR_SIZE)
    write_png(tmp_path / "train" / "huawei_raw" / "7.png", raw)
    write_jpeg(tmp_path / "train" / "canon" / "7.jpg", target)
    (pair,) = scan_zurich(tmp_path)
    assert pair.split_hint == "train"
    mosaic, rgb = load_zurich_pair(pair)
    assert mosaic.dtype == np.uint16 and mosaic.shape == (448, 448)
    np.testing.assert_array_equal(mosaic, raw)
    assert rgb.dtype == np.uint8 and rgb.shape == (448, 448, 3)
    assert np.abs(rgb.astype(int) - target).mean() < 2
    assert pair_scale(mosaic.shape, rgb.shape) == 1.0
    assert ZRR_PATTERN == get_pattern("bayer:rggb")


def zrr_pair(tmp_path: Path, raw: np.ndarray, target: np.ndarray) -> Pair:
    raw_path = write_png(tmp_path / "huawei_raw" / "0.png", raw)
    return Pair(raw_path, write_jpeg(tmp_path / "canon" / "0.jpg", target))


@pytest.mark.parametrize(
    ("raw", "target", "message"),
    [
        (raw10().astype(np.uint8), smooth8(), r"single-channel 16-bit image, got uint8"),
        (np.stack([raw10()] * 3, -1), smooth8(), r"single-channel 16-bit image, got uint16"),
        (raw10() * 4, smooth8(), r"codes up to \d+ > 1023 .*not the expected 10-bit data"),
        (raw10(), smooth8(8, 8), r"target 8x8 for mosaic 16x16 is scale s = 0.5, expected 1"),
        (raw10(), smooth8(16, 8), r"not a uniformly scaled mosaic 16x16: scale 1 vertically"),
        (raw10(15, 16), smooth8(15, 16), r"15x16: not whole RGGB cells"),
    ],
    ids=["8-bit", "rgb", "over-10-bit", "half-size-target", "non-uniform-scale", "odd-size"],
)
def test_load_zurich_pair_checks(tmp_path, raw, target, message):
    pair = zrr_pair(tmp_path, raw, target)
    with pytest.raises(ValueError, match=message) as info:
        load_zurich_pair(pair)
    assert "0.png" in str(info.value)


def test_load_zurich_pair_refuses_16bit_target_and_bad_png(tmp_path):
    pair = zrr_pair(tmp_path, raw10(), smooth8())
    png16 = write_png(tmp_path / "canon" / "t.png", smooth8().astype(np.uint16) * 257)
    with pytest.raises(ValueError, match="must be 8-bit, got uint16"):
        load_zurich_pair(Pair(pair.raw_path, png16))
    cut = write_file(tmp_path / "huawei_raw" / "cut.png", pair.raw_path.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"cannot load mosaic .*cut\.png"):
        load_zurich_pair(Pair(cut, pair.target_path))
    text = write_file(tmp_path / "huawei_raw" / "t.png", b"hello")
    with pytest.raises(ValueError, match="not a PNG or TIFF file"):
        load_mosaic(text)


# ---------------------------------------------------------------------------------------------
# scan_pairs / load_pair


def test_scan_and_load_generic_pairs(tmp_path):
    raw_dir, target_dir = tmp_path / "raw", tmp_path / "rgb"
    a, b = raw10(seed=1) * 64, raw10(seed=2)  # 16-bit data is fine outside ZRR
    write_png(raw_dir / "a.png", a)
    tifffile.imwrite(raw_dir / "b.TIF", b)
    write_png(raw_dir / "d.png", raw10())  # no target
    write_file(raw_dir / "e.txt", b"x")
    write_jpeg(target_dir / "a.jpg", smooth8())
    write_png(target_dir / "b.png", smooth8(32, 32).astype(np.uint16) * 257)  # 16-bit, 2x
    write_jpeg(target_dir / "f.jpg", smooth8())  # no RAW
    result = scan_pairs(raw_dir, target_dir)
    assert [(p.stem, p.target_path.name, p.split_hint) for p in result] == [
        ("a", "a.jpg", None),
        ("b", "b.png", None),
    ]
    assert dict(result.skipped) == {
        str(raw_dir / "d.png"): f"no matching target for stem 'd' in {target_dir}",
        str(raw_dir / "e.txt"): "not a RAW/mosaic file",
        str(target_dir / "f.jpg"): f"no matching RAW for stem 'f' in {raw_dir}",
    }
    mosaic, rgb = load_pair(result.pairs[0])
    np.testing.assert_array_equal(mosaic, a)
    assert rgb.shape == (S, S, 3) and rgb.dtype == np.uint8
    mosaic, rgb = load_pair(result.pairs[1])
    np.testing.assert_array_equal(mosaic, b)
    assert rgb.dtype == np.uint16 and pair_scale(mosaic.shape, rgb.shape) == 2.0
    assert load_pair(result.pairs[1], scale=2)[0].shape == (S, S)
    with pytest.raises(ValueError, match="scale s = 2, expected 1"):
        load_pair(result.pairs[1], scale=1)
    with pytest.raises(ValueError, match="codes up to"):
        load_pair(result.pairs[0], max_code=1023)


def test_generic_pairs_with_raw_files(tmp_path):
    pytest.importorskip("rawpy")
    from cfasim.data.dng import write_dng
    from cfasim.source.raw import RawFormatError

    raw_dir, target_dir = tmp_path / "raw", tmp_path / "rgb"
    raw_dir.mkdir()
    codes = raw10(32, 48, seed=3)
    write_dng(raw_dir / "c.dng", codes, get_pattern("bayer:rggb"), 0, 1023, np.eye(3), (1, 1, 1))
    write_dng(raw_dir / "q.dng", codes, get_pattern("quad"), 0, 1023, np.eye(3), (1, 1, 1))
    write_png(raw_dir / "x.png", raw10())
    write_dng(raw_dir / "x.dng", codes, get_pattern("bayer"), 0, 1023, np.eye(3), (1, 1, 1))
    for stem in "cqx":
        write_jpeg(target_dir / f"{stem}.jpg", smooth8(16, 24))
    result = scan_pairs(raw_dir, target_dir)
    assert [p.stem for p in result] == ["c", "q"]
    assert dict(result.skipped) == {
        str(raw_dir / "x.dng"): "duplicate stem: x.dng, x.png",
        str(raw_dir / "x.png"): "duplicate stem: x.dng, x.png",
        str(target_dir / "x.jpg"): f"no matching RAW for stem 'x' in {raw_dir}",
    }
    mosaic, _ = load_pair(result.pairs[0], scale=0.5)  # binned-size target
    np.testing.assert_array_equal(mosaic, codes)
    with pytest.raises(RawFormatError, match="non-Bayer CFA"):
        load_pair(result.pairs[1])


def test_scan_pairs_errors(tmp_path):
    (tmp_path / "raw").mkdir()
    with pytest.raises(SourceError, match="target folder does not exist"):
        scan_pairs(tmp_path / "raw", tmp_path / "missing")
    with pytest.raises(SourceError, match="RAW folder does not exist"):
        scan_pairs(tmp_path / "missing", tmp_path / "raw")
    (tmp_path / "rgb").mkdir()
    with pytest.raises(SourceError, match=r"no matching RAW/target pairs .*: no files"):
        scan_pairs(tmp_path / "raw", tmp_path / "rgb")
    write_png(tmp_path / "raw" / "a.png", raw10())
    write_jpeg(tmp_path / "rgb" / "b.jpg", smooth8())
    with pytest.raises(SourceError, match=r"2 file\(s\) skipped"):
        scan_pairs(tmp_path / "raw", tmp_path / "rgb")
