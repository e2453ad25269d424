"""Tests for cfasim.source.images: decoding source photos and scanning a folder of them."""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile

from cfasim.source.images import (
    IMAGE_SUFFIXES,
    ScanResult,
    SourceError,
    SourceImage,
    load_image,
    scan_folder,
)

H, W = 40, 48  # fixture size; scans below use a 32 x 32 minimum
RGB = {"photometric": "rgb"}


def rgb8(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def rgb16(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, (h, w, 3), dtype=np.uint16)


def smooth8(h: int = H, w: int = W) -> np.ndarray:
    """A smooth image, so that JPEG's error stays small."""
    y, x = np.mgrid[0:h, 0:w]
    image = np.stack([4 * x, 5 * y, 2 * (x + y)], axis=-1) + 20
    return image.astype(np.uint8)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_png(path: Path, image: np.ndarray) -> Path:
    return write(path, imagecodecs.png_encode(image))


def write_jpeg(path: Path, image: np.ndarray | None = None) -> Path:
    return write(path, imagecodecs.jpeg8_encode(smooth8() if image is None else image, level=95))


def write_tiff(path: Path, image: np.ndarray, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, image, **kwargs)
    return path


def scan(root: Path, **kwargs) -> ScanResult:
    return scan_folder(root, min_height=32, min_width=32, **kwargs)


# ---------------------------------------------------------------------------------------------
# load_image


def test_png_8bit_exact(tmp_path):
    image = rgb8()
    out = load_image(write_png(tmp_path / "a.png", image))
    assert out.dtype == np.uint8
    assert out.shape == (H, W, 3)
    np.testing.assert_array_equal(out, image)


def test_png_16bit_rgb_exact(tmp_path):
    image = rgb16()
    assert image.max() > 255
    out = load_image(str(write_png(tmp_path / "a.png", image)))  # str path works too
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, image)


def test_jpeg_close(tmp_path):
    image = smooth8()
    out = load_image(write_jpeg(tmp_path / "a.jpg", image))
    assert out.dtype == np.uint8
    assert out.shape == (H, W, 3)
    assert np.abs(out.astype(int) - image).mean() < 3


@pytest.mark.parametrize("make", [rgb8, rgb16], ids=["8bit", "16bit"])
def test_tiff_exact(tmp_path, make):
    image = make()
    out = load_image(write_tiff(tmp_path / "a.tif", image, photometric="rgb"))
    assert out.dtype == image.dtype
    np.testing.assert_array_equal(out, image)


def test_tiff_planar_separate(tmp_path):
    image = rgb16()
    path = write_tiff(
        tmp_path / "a.tiff", np.moveaxis(image, -1, 0), photometric="rgb", planarconfig="separate"
    )
    out = load_image(path)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, image)


def test_tiff_compressed_and_multipage_takes_first_page(tmp_path):
    path = tmp_path / "a.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(rgb8(seed=1), photometric="rgb", compression="zlib")
        tif.write(rgb8(h=10, w=10, seed=2), photometric="rgb")
    np.testing.assert_array_equal(load_image(path), rgb8(seed=1))


def test_tiff_grayscale_alpha_miniswhite_palette(tmp_path):
    gray = rgb16()[..., 0].copy()
    out = load_image(write_tiff(tmp_path / "g.tif", gray, photometric="minisblack"))
    np.testing.assert_array_equal(out, np.stack([gray] * 3, axis=-1))

    rgba = np.concatenate([rgb8(), np.full((H, W, 1), 7, np.uint8)], axis=-1)
    path = write_tiff(tmp_path / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    np.testing.assert_array_equal(load_image(path), rgba[..., :3])

    inverted = write_tiff(tmp_path / "w.tif", gray, photometric="miniswhite")
    np.testing.assert_array_equal(load_image(inverted)[..., 1], 65535 - gray)

    cmap = (np.arange(3 * 256).reshape(3, 256) % 256 * 257).astype(np.uint16)
    cmap[1] = cmap[1, ::-1]
    indices = rgb8()[..., 0].copy()
    path = write_tiff(tmp_path / "p.tif", indices, photometric="palette", colormap=cmap)
    out = load_image(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.stack([indices, 255 - indices, indices], axis=-1))


def test_png_grayscale_rgba_and_gray_alpha_to_rgb(tmp_path):
    gray = rgb8()[..., 0].copy()
    out = load_image(write_png(tmp_path / "g.png", gray))
    assert out.shape == (H, W, 3)
    np.testing.assert_array_equal(out, np.stack([gray] * 3, axis=-1))

    rgba = np.concatenate([rgb16(), np.full((H, W, 1), 9, np.uint16)], axis=-1)
    out = load_image(write_png(tmp_path / "rgba.png", rgba))
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, rgba[..., :3])

    gray_alpha = np.stack([gray, np.zeros_like(gray)], axis=-1)
    out = load_image(write_png(tmp_path / "la.png", gray_alpha))
    np.testing.assert_array_equal(out, np.stack([gray] * 3, axis=-1))


def test_format_from_content_not_suffix(tmp_path):
    image = rgb8()
    np.testing.assert_array_equal(load_image(write_png(tmp_path / "really_png.jpg", image)), image)


def test_jpeg_with_trailing_data_is_not_truncated(tmp_path):
    data = imagecodecs.jpeg8_encode(smooth8(), level=95)
    path = write(tmp_path / "a.jpg", data + b"\x00" * 16 + b"appended trailer")
    assert load_image(path).shape == (H, W, 3)


def test_truncated_jpeg_with_exif_thumbnail_is_caught(tmp_path):
    """The thumbnail's end-of-image marker (inside APP1) must not count as the image's."""
    main = imagecodecs.jpeg8_encode(smooth8(), level=95)
    payload = b"Exif\0\0" + imagecodecs.jpeg8_encode(smooth8(8, 8))
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    data = main[:2] + app1 + main[2:]
    assert load_image(write(tmp_path / "ok.jpg", data)).shape == (H, W, 3)
    with pytest.raises(ValueError, match="truncated JPEG"):
        load_image(write(tmp_path / "cut.jpg", data[:-100]))


@pytest.mark.parametrize(
    ("name", "maker", "match"),
    [
        ("trunc.png", lambda: imagecodecs.png_encode(rgb8())[:-300], "cannot load image"),
        ("trunc.jpg", lambda: imagecodecs.jpeg8_encode(smooth8(), level=95)[:-200], "truncated"),
        ("garbage.jpg", lambda: b"this is not a jpeg" * 10, "not a JPEG, PNG or TIFF"),
        (
            "12bit.jpg",
            lambda: imagecodecs.jpeg8_encode(rgb16() >> 4, bitspersample=12),
            "12-bit JPEG",
        ),
    ],
)
def test_load_image_bad_files_raise_valueerror_naming_file(tmp_path, name, maker, match):
    path = write(tmp_path / name, maker())
    with pytest.raises(ValueError, match=match) as info:
        load_image(path)
    assert name in str(info.value)


@pytest.mark.parametrize(
    ("image", "kwargs", "match"),
    [
        (np.zeros((H, W, 3), np.float32), RGB, "sample format"),
        (np.zeros((H, W, 3), np.int16), RGB, "sample format"),
        (np.zeros((H, W, 3), np.uint32), RGB, "32-bit"),
        (
            np.zeros((H, W, 2), np.uint8),
            {"photometric": "minisblack", "planarconfig": "contig"},
            "2 samples",
        ),
        (
            np.zeros((H, W, 5), np.uint8),
            {"photometric": "rgb", "extrasamples": [0, 0]},
            "5 samples",
        ),
        (np.zeros((H, W), bool), {}, "1-bit"),
    ],
    ids=["float32", "int16", "uint32", "2-channel", "5-channel", "bilevel"],
)
def test_load_image_unsupported_tiff(tmp_path, image, kwargs, match):
    path = write_tiff(tmp_path / "bad.tif", image, **kwargs)
    with pytest.raises(ValueError, match=match) as info:
        load_image(path)
    assert "bad.tif" in str(info.value)


def test_load_image_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "nope.png")


# ---------------------------------------------------------------------------------------------
# scan_folder


def test_scan_nested_sorted_hidden_and_non_images_ignored(tmp_path):
    write_png(tmp_path / "b.png", rgb8())
    write_png(tmp_path / "sub" / "deeper" / "c.PNG", rgb16())
    write_jpeg(tmp_path / "sub" / "a.JPG")
    write_tiff(tmp_path / "a.tiff", rgb16(h=50), photometric="rgb")
    write_jpeg(tmp_path / "z.jpeg")
    write_png(tmp_path / ".hidden.png", rgb8())
    write_png(tmp_path / ".cache" / "x.png", rgb8())
    write_png(tmp_path / "sub" / ".git" / "y.png", rgb8())
    write(tmp_path / "notes.txt", b"hello")
    write(tmp_path / "sub" / "image.webp", b"RIFF....WEBP")
    write(tmp_path / "png", b"no suffix")

    result = scan(tmp_path)
    assert result.skipped == ()
    assert result.images == (
        SourceImage("a.tiff", 50, W, 16),
        SourceImage("b.png", H, W, 8),
        SourceImage("sub/a.JPG", H, W, 8),
        SourceImage("sub/deeper/c.PNG", H, W, 16),
        SourceImage("z.jpeg", H, W, 8),
    )


def test_scan_root_inside_hidden_folder_is_fine(tmp_path):
    root = tmp_path / ".data" / "photos"
    write_png(root / "a.png", rgb8())
    assert [im.path for im in scan(root).images] == ["a.png"]


def test_scan_skips_bad_files_with_reasons(tmp_path):
    write_png(tmp_path / "good.png", rgb8())
    write(tmp_path / "trunc.png", imagecodecs.png_encode(rgb8())[:-300])
    write(tmp_path / "trunc.jpg", imagecodecs.jpeg8_encode(smooth8(), level=95)[:-200])
    write(tmp_path / "garbage.jpg", b"\x00\x01garbage" * 20)
    write_png(tmp_path / "small.png", rgb8(h=20, w=16))
    write_png(tmp_path / "narrow.png", rgb8(h=64, w=31))
    write_tiff(tmp_path / "float.tif", np.zeros((H, W, 3), np.float32), photometric="rgb")

    result = scan(tmp_path)
    assert [im.path for im in result.images] == ["good.png"]
    reasons = dict(result.skipped)
    assert [p for p, _ in result.skipped] == sorted(reasons)
    assert reasons["trunc.png"].startswith("unreadable: ")
    assert reasons["trunc.jpg"] == "unreadable: truncated JPEG (no end-of-image marker)"
    assert reasons["garbage.jpg"].startswith("unreadable: not a JPEG, PNG or TIFF file")
    assert reasons["small.png"] == "too small: 20x16 < 32x32"
    assert reasons["narrow.png"] == "too small: 64x31 < 32x32"
    assert reasons["float.tif"].startswith("unsupported: ")
    assert all("\n" not in r and len(r) <= 220 for r in reasons.values())


def test_scan_missing_root(tmp_path):
    root = tmp_path / "missing"
    with pytest.raises(SourceError, match="does not exist") as info:
        scan(root)
    assert str(root) in str(info.value)


def test_scan_root_is_a_file(tmp_path):
    root = write_png(tmp_path / "a.png", rgb8())
    with pytest.raises(SourceError, match="not a directory") as info:
        scan(root)
    assert str(root) in str(info.value)


@pytest.mark.parametrize("contents", ["empty", "no_images"])
def test_scan_folder_without_images(tmp_path, contents):
    root = tmp_path / "photos"
    root.mkdir()
    if contents == "no_images":
        write(root / "readme.txt", b"x")
        write_png(root / ".hidden.png", rgb8())
        write_png(root / ".thumbs" / "a.png", rgb8())
    with pytest.raises(SourceError, match="no JPEG/PNG/TIFF files found in") as info:
        scan(root)
    assert str(root) in str(info.value)


def test_scan_all_skipped(tmp_path):
    for i in range(5):
        write(tmp_path / f"bad{i}.jpg", b"garbage")
    write_png(tmp_path / "tiny.png", rgb8(h=4, w=4))
    with pytest.raises(SourceError, match="all 6 candidate file") as info:
        scan(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    assert "bad0.jpg: unreadable" in message
    assert "tiny.png" not in message  # only the first few reasons
    assert isinstance(info.value, ValueError)


def test_scan_workers_give_same_result(tmp_path):
    for i in range(6):
        write_png(tmp_path / f"d{i % 2}" / f"p{i}.png", rgb8(h=H + i, seed=i))
    write_jpeg(tmp_path / "j.jpg")
    write(tmp_path / "bad.png", b"nope")
    write_png(tmp_path / "small.png", rgb8(h=8, w=8))
    serial = scan(tmp_path, workers=1)
    assert scan(tmp_path, workers=2) == serial
    assert scan(tmp_path, workers=8) == serial
    assert len(serial.images) == 7
    assert len(serial.skipped) == 2


def test_scan_follows_symlinked_folder_once(tmp_path):
    root = tmp_path / "root"
    write_png(root / "real" / "a.png", rgb8())
    (root / "link").symlink_to(root / "real", target_is_directory=True)
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)
    assert [im.path for im in scan(root).images] == ["real/a.png"]


def test_scan_argument_checks(tmp_path):
    write_png(tmp_path / "a.png", rgb8())
    with pytest.raises(ValueError, match="workers"):
        scan(tmp_path, workers=0)
    with pytest.raises(ValueError, match="minimum size"):
        scan_folder(tmp_path, min_height=-1, min_width=1)


def test_image_suffixes_constant():
    assert IMAGE_SUFFIXES == (".jpg", ".jpeg", ".png", ".tif", ".tiff")


def test_scanning_reads_a_jpegs_header_without_decoding_it(tmp_path, monkeypatch):
    """The build decodes each JPEG; the scan takes its size from the frame header (with the
    end-of-image check), equal to the decoded size, for colour and grey."""
    colour = imagecodecs.jpeg8_encode(smooth8(50, 70), level=90)
    grey = imagecodecs.jpeg8_encode(np.ascontiguousarray(smooth8(36, 44)[..., 0]), level=90)
    write(tmp_path / "c.jpg", colour)
    write(tmp_path / "g.jpg", grey)
    write(tmp_path / "cut.jpg", colour[:-100])
    expected = {"c.jpg": (50, 70), "g.jpg": (36, 44)}
    for name, shape in expected.items():
        assert load_image(tmp_path / name).shape == (*shape, 3)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the scan decoded a JPEG")

    monkeypatch.setattr(imagecodecs, "jpeg8_decode", no_decoding)
    result = scan_folder(tmp_path, min_height=32, min_width=32)
    assert {(i.path, i.height, i.width, i.bit_depth) for i in result.images} == {
        (name, *shape, 8) for name, shape in expected.items()
    }
    assert [(p, r.split(":")[0]) for p, r in result.skipped] == [("cut.jpg", "unreadable")]
