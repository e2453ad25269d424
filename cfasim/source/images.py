"""Source photographs: find, validate and decode the JPEG/PNG/TIFF files patches are cropped from.

:func:`scan_folder` walks a folder tree, fully decodes every candidate once (so truncated or
corrupt files are found up front, not half-way through a dataset build) and returns the usable
images with their sizes plus the skipped files with a short reason each. :func:`load_image`
decodes one file to an ``(H, W, 3)`` ``uint8`` or ``uint16`` array.

JPEG and PNG are decoded with ``imagecodecs`` (which, unlike Pillow, reads 16-bit RGB PNG), TIFF
with ``tifffile``. The format is recognised from the file's first bytes, not its suffix, so a PNG
saved as ``.jpg`` still loads. Pixel values are returned as stored: no EXIF orientation, ICC
profile or gamma handling.
"""

from __future__ import annotations

import io
import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile

from cfasim.errors import SourceError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
"""File suffixes :func:`scan_folder` considers (compared case-insensitively)."""

_MAX_REASONS_IN_ERROR = 3
_MAX_REASON_CHARS = 200

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF

# A JPEG marker: 0xFF followed by a code that is not a stuffed zero, a restart marker (RSTn, which
# may appear inside entropy-coded data) or another 0xFF (fill byte).
_JPEG_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")
_JPEG_SOF_CODES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOFn, not DHT/JPG/DAC
_JPEG_STANDALONE_CODES = frozenset({0x01, 0xD8})  # TEM, SOI: no length field


class _UnsupportedImage(ValueError):
    """The file decodes, but not to anything :func:`load_image` can turn into (H, W, 3)."""


@dataclass(frozen=True)
class SourceImage:
    """A usable source image found by :func:`scan_folder`.

    Parameters
    ----------
    path
        POSIX path relative to the scanned folder, e.g. ``"sub/a.png"``.
    height, width
        Image size in pixels.
    bit_depth
        8 (decodes to ``uint8``) or 16 (decodes to ``uint16``).
    """

    path: str
    height: int
    width: int
    bit_depth: int


@dataclass(frozen=True)
class ScanResult:
    """Outcome of :func:`scan_folder`.

    Parameters
    ----------
    images
        Usable images, sorted by path.
    skipped
        ``(relative path, reason)`` for every candidate file that was not usable, sorted.
    """

    images: tuple[SourceImage, ...]
    skipped: tuple[tuple[str, str], ...]


def scan_folder(
    root: str | os.PathLike[str], *, min_height: int, min_width: int, workers: int = 1
) -> ScanResult:
    """Find the usable source images under a folder.

    Walks ``root`` recursively (following symlinked folders once each), ignoring hidden files and
    folders (name starting with ``"."``) and files whose suffix is not in :data:`IMAGE_SUFFIXES`.
    Every candidate is fully decoded once with :func:`load_image`; a file that cannot be read or
    decoded, has an unsupported layout, or is smaller than ``min_height`` x ``min_width`` is
    skipped with a short reason (``"unreadable: ..."``, ``"unsupported: ..."``,
    ``"too small: HxW < HxW"``, sizes as height x width). Nothing is printed: warning about
    skipped files is the caller's job.

    Parameters
    ----------
    root
        Folder to scan.
    min_height, min_width
        Smallest usable image size in pixels (e.g. the patch size).
    workers
        Number of threads decoding in parallel (the decoders release the GIL). Peak memory is
        about ``workers`` decoded images.

    Returns
    -------
    ScanResult
        Usable images and skipped files, both sorted by relative path; the result does not
        depend on ``workers``.

    Raises
    ------
    SourceError
        If ``root`` does not exist, is not a directory or cannot be listed, holds no
        JPEG/PNG/TIFF files, or none of them is usable (the message gives the number skipped and
        the first few reasons).
    ValueError
        If ``workers`` < 1 or a minimum size is negative.
    """
    images, skipped = scan_files(
        root,
        IMAGE_SUFFIXES,
        _check_file,
        min_height=min_height,
        min_width=min_width,
        workers=workers,
        what="image",
        files="JPEG/PNG/TIFF files",
        usable="images",
    )
    return ScanResult(images=images, skipped=skipped)


def scan_files(root, suffixes, check, *, min_height, min_width, workers, what, files, usable):
    """Find the files of ``suffixes`` under ``root`` and run ``check(root, rel, min_height,
    min_width)`` (-> a usable item, or a ``(path, reason)`` skip) on each, in a thread pool when
    ``workers > 1`` (decoders release the GIL). Returns ``(items, skipped)`` in a deterministic
    order; raises :class:`SourceError` for a missing folder, no ``files`` at all, or nothing
    ``usable`` (with the number skipped and the first reasons)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if min_height < 0 or min_width < 0:
        raise ValueError(f"minimum size must be >= 0, got {min_height}x{min_width}")
    root_path = Path(root)
    if not root_path.exists():
        raise SourceError(f"{what} folder does not exist: {root_path}")
    if not root_path.is_dir():
        raise SourceError(f"{what} source is not a directory: {root_path}")
    candidates, folder_errors = find_files(root_path, suffixes)
    if not candidates:
        message = f"no {files} found in {root_path}"
        if folder_errors:
            message += f" ({len(folder_errors)} unreadable folder(s), e.g. {folder_errors[0][1]})"
        raise SourceError(message)

    def run(rel: str):
        return check(root_path, rel, min_height, min_width)

    if workers == 1 or len(candidates) == 1:
        outcomes = [run(rel) for rel in candidates]
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(candidates))) as pool:
            outcomes = list(pool.map(run, candidates))
    items = tuple(o for o in outcomes if not isinstance(o, tuple))
    skipped = tuple(sorted([o for o in outcomes if isinstance(o, tuple)] + folder_errors))
    if not items:
        n = len(skipped)
        examples = "; ".join(f"{p}: {r}" for p, r in skipped[:_MAX_REASONS_IN_ERROR])
        more = " ..." if n > _MAX_REASONS_IN_ERROR else ""
        raise SourceError(
            f"no usable {usable} in {root_path}: all {n} candidate file(s) skipped "
            f"({examples}{more})"
        )
    return items, skipped


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode a JPEG, PNG or TIFF file to an RGB array.

    The format is taken from the file's content. Grayscale is repeated to three channels, alpha
    (RGBA, gray + alpha) is dropped, palette images are expanded; for TIFF the first page is read
    (planar ``(3, H, W)`` data is transposed). 8-bit samples give ``uint8`` and 16-bit samples
    ``uint16``, values unchanged. JPEG files are checked for an end-of-image marker, as
    ``libjpeg`` silently fills in truncated data.

    Parameters
    ----------
    path
        Image file.

    Returns
    -------
    numpy.ndarray
        C-contiguous ``(H, W, 3)`` array, ``uint8`` or ``uint16``.

    Raises
    ------
    ValueError
        Naming the file, if it is not a JPEG/PNG/TIFF, cannot be decoded (truncated, corrupt) or
        does not give 8- or 16-bit gray/RGB data (e.g. float, 12-bit, CMYK, two unrelated
        channels, more than four channels).
    OSError
        If the file cannot be read.
    """
    path = Path(path)
    data = _read_bytes(path)
    try:
        return _decode(data)
    except Exception as exc:
        raise ValueError(f"cannot load image {path}: {_describe(exc)}") from exc


# ---------------------------------------------------------------------------------------------
# scanning


def find_files(root: Path, suffixes=IMAGE_SUFFIXES) -> tuple[list[str], list[tuple[str, str]]]:
    """Relative POSIX paths of the non-hidden files under ``root`` whose lower-cased name ends
    with one of ``suffixes``, sorted; plus ``(relative path, reason)`` for sub-folders that could
    not be listed. Symlinked folders are followed once each."""
    candidates: list[str] = []
    folder_errors: list[tuple[str, str]] = []
    seen_dirs: set[str] = set()

    def on_error(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        if where == root:
            raise SourceError(f"cannot read folder {root}: {exc.strerror or exc}") from exc
        rel = where.relative_to(root).as_posix()
        folder_errors.append((rel, f"unreadable folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=True):
        seen_dirs.add(os.path.realpath(dirpath))
        kept = []
        # real folders first, so a folder reached both directly and by a symlink keeps its own path
        for name in sorted(dirnames, key=lambda d: (os.path.islink(os.path.join(dirpath, d)), d)):
            if name.startswith("."):
                continue
            real = os.path.realpath(os.path.join(dirpath, name))
            if real in seen_dirs:  # symlink loop or second link to a folder already walked
                continue
            seen_dirs.add(real)
            kept.append(name)
        dirnames[:] = sorted(kept)
        rel_dir = Path(dirpath).relative_to(root)
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(tuple(suffixes)):
                candidates.append((rel_dir / name).as_posix())
    return sorted(candidates), folder_errors


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes; a file that cannot be read is a :class:`SourceError`."""
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    except OSError as err:
        raise SourceError(f"cannot read source {path}: {err.strerror or err}") from None
    return h.hexdigest()


def verify_source(path: str | os.PathLike[str], sha256: str | None) -> None:
    """Raise :class:`SourceError` unless the file still has the digest recorded when the build
    was planned (no digest recorded: nothing to compare)."""
    if sha256 is not None and file_sha256(path) != sha256:
        raise SourceError(
            f"source {path} changed since the build was planned (its sha256 differs); the "
            f"dataset would mix old and new content: restore the file or start again with "
            f"--overwrite"
        )


def _check_file(
    root: Path, rel: str, min_height: int, min_width: int
) -> SourceImage | tuple[str, str]:
    """Check one candidate: a :class:`SourceImage`, or ``(rel, reason)`` if it is skipped.
    PNG and TIFF files are decoded; a JPEG's frame header and end-of-image marker are read
    without decoding it (the build decodes it, and a scan would double the decoding)."""
    try:
        data = _read_bytes(root / rel)
        shape = _jpeg_shape(data) if data.startswith(_JPEG_MAGIC) else None
        if shape is None:
            image = _decode(data)
            shape, bits = image.shape[:2], 8 * image.itemsize
        else:
            bits = 8
    except _UnsupportedImage as exc:
        return rel, f"unsupported: {_describe(exc)}"
    except Exception as exc:  # any decoder/OS failure means: skip this file
        return rel, f"unreadable: {_describe(exc)}"
    height, width = shape
    if height < min_height or width < min_width:
        return rel, f"too small: {height}x{width} < {min_height}x{min_width}"
    return SourceImage(path=rel, height=height, width=width, bit_depth=bits)


def _describe(exc: BaseException) -> str:
    """A short one-line description of an exception."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > _MAX_REASON_CHARS:
        text = text[: _MAX_REASON_CHARS - 3] + "..."
    return text


# ---------------------------------------------------------------------------------------------
# decoding


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; refuses anything but a regular file (a FIFO would block)."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(f"not a regular file: {path}")
    return path.read_bytes()


def _decode(data: bytes) -> np.ndarray:
    """Decode image bytes to a C-contiguous (H, W, 3) uint8/uint16 array."""
    if data.startswith(_PNG_MAGIC):
        return _decode_png(data)
    if data.startswith(_JPEG_MAGIC):
        return _decode_jpeg(data)
    if data.startswith(_TIFF_MAGICS):
        return _decode_tiff(data)
    raise ValueError(f"not a JPEG, PNG or TIFF file (starts with {data[:8]!r})")


def _decode_png(data: bytes) -> np.ndarray:
    # imagecodecs expands palettes and 1/2/4-bit gray to 8 bits; truncation raises PngError.
    image = imagecodecs.png_decode(data)
    return _to_rgb(image, alpha_channels=True, what="PNG")


def _jpeg_shape(data: bytes) -> tuple[int, int] | None:
    """(height, width) of an 8-bit grey or colour JPEG from its frame header, None when the
    header does not say (a height defined later by a DNL marker: decode it); raises like
    :func:`_decode_jpeg` for a truncated, 12-bit or CMYK file."""
    frame, complete = _jpeg_structure(data)
    _check_jpeg_frame(frame, complete)
    if frame is None or frame[1] == 0 or frame[3] not in (1, 3):
        return None
    return frame[1], frame[2]


def _check_jpeg_frame(frame, complete: bool) -> None:
    if not complete:
        raise ValueError("truncated JPEG (no end-of-image marker)")
    if frame is not None and frame[0] != 8:
        raise _UnsupportedImage(f"{frame[0]}-bit JPEG (only 8-bit JPEG is supported)")
    if frame is not None and frame[3] == 4:
        raise _UnsupportedImage("CMYK/YCCK JPEG is not supported")


def _decode_jpeg(data: bytes) -> np.ndarray:
    _check_jpeg_frame(*_jpeg_structure(data))
    image = imagecodecs.jpeg8_decode(data)
    if image.ndim == 3 and image.shape[2] == 4:
        raise _UnsupportedImage("CMYK/YCCK JPEG is not supported")
    return _to_rgb(image, alpha_channels=False, what="JPEG")


def _jpeg_structure(data: bytes) -> tuple[tuple[int, int, int, int] | None, bool]:
    """(precision, height, width, components) of the first frame header (None if none seen)
    and whether an end-of-image marker follows, walking the marker segments so that embedded
    thumbnails (inside APPn segments) and data appended after the image are not mistaken for
    the end."""
    frame = None
    pos = 2  # after SOI
    size = len(data)
    while True:
        match = _JPEG_MARKER.search(data, pos)
        if match is None:
            return frame, False
        code = data[match.start() + 1]
        pos = match.end()
        if code == 0xD9:  # EOI
            return frame, True
        if code in _JPEG_STANDALONE_CODES:
            continue
        if pos + 2 > size:
            return frame, False
        if code in _JPEG_SOF_CODES and frame is None and pos + 8 <= size:
            head = data[pos + 2 : pos + 8]
            frame = (head[0], int.from_bytes(head[1:3], "big"), int.from_bytes(head[3:5], "big"),
                     head[5])  # fmt: skip
        pos += int.from_bytes(data[pos : pos + 2], "big")  # segment length includes itself
        if pos > size:
            return frame, False
        # after SOS the search runs through the entropy-coded data to the next real marker


def _decode_tiff(data: bytes) -> np.ndarray:
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        if not tif.pages:
            raise ValueError("TIFF file has no pages")
        page = tif.pages[0]
        photometric = page.photometric
        samples = page.samplesperpixel
        axes = page.axes
        bits = page.bitspersample
        sampleformat = page.sampleformat
        extrasamples = tuple(page.extrasamples or ())
        colormap = page.colormap
        compression = page.compression
        image = page.asarray()

    P = tifffile.PHOTOMETRIC
    if sampleformat != tifffile.SAMPLEFORMAT.UINT:
        raise _UnsupportedImage(
            f"TIFF sample format {tifffile.SAMPLEFORMAT(sampleformat).name} ({bits}-bit); "
            "need unsigned 8- or 16-bit integers"
        )
    if axes == "SYX":  # planar configuration: one plane per sample
        image = np.moveaxis(image, 0, -1)
    elif axes not in ("YX", "YXS"):
        raise _UnsupportedImage(f"unsupported TIFF page layout (axes {axes}, shape {image.shape})")

    if photometric == P.PALETTE and samples == 1 and colormap is not None:
        return _apply_colormap(image, np.asarray(colormap))
    if bits not in (8, 16) or image.dtype not in (np.uint8, np.uint16):
        raise _UnsupportedImage(f"{bits}-bit TIFF samples (only 8- and 16-bit are supported)")
    if photometric in (P.MINISBLACK, P.MINISWHITE):
        return _grey_tiff(image, photometric == P.MINISWHITE, samples, extrasamples)
    if photometric == P.RGB or (
        photometric == P.YCBCR and compression == tifffile.COMPRESSION.JPEG  # decoded to RGB
    ):
        if samples not in (3, 4):
            raise _UnsupportedImage(f"RGB TIFF with {samples} samples per pixel")
        # a 4th sample is alpha or an unspecified extra sample: the first three are RGB
        return _to_rgb(image, alpha_channels=True, what="TIFF")
    try:
        name = P(photometric).name
    except ValueError:
        name = str(photometric)
    raise _UnsupportedImage(f"TIFF photometric interpretation {name} is not supported")


def _grey_tiff(image: np.ndarray, inverted: bool, samples: int, extrasamples) -> np.ndarray:
    """A greyscale TIFF page (optionally with alpha, optionally white-is-zero) as RGB."""
    has_alpha = samples == 2 and extrasamples[:1] in ((1,), (2,))  # assoc./unassoc. alpha
    if samples != 1 and not has_alpha:
        raise _UnsupportedImage(f"grayscale TIFF with {samples} samples per pixel")
    if image.ndim == 3:
        image = image[..., 0]
    if inverted:
        image = np.iinfo(image.dtype).max - image
    return _to_rgb(image, alpha_channels=False, what="TIFF")


def _apply_colormap(indices: np.ndarray, colormap: np.ndarray) -> np.ndarray:
    """Expand palette indices with a TIFF (3, N) uint16 colour map; 8-bit if the map is."""
    if colormap.ndim != 2 or colormap.shape[0] != 3 or indices.ndim != 2:
        raise _UnsupportedImage("malformed TIFF palette")
    if int(indices.max(initial=0)) >= colormap.shape[1]:
        raise ValueError("TIFF palette index out of range")
    colormap = colormap.astype(np.uint16)
    if np.all(colormap % 257 == 0):  # 8-bit palette stored as v * 257
        colormap = (colormap // 257).astype(np.uint8)
    return np.ascontiguousarray(colormap.T[indices])


def _to_rgb(image: np.ndarray, *, alpha_channels: bool, what: str) -> np.ndarray:
    """(H, W), (H, W, 1..4) uint8/uint16 -> C-contiguous (H, W, 3) of the same dtype.

    With ``alpha_channels`` 2 channels are gray + alpha and 4 are RGB + alpha (PNG, TIFF RGB);
    without it only gray and RGB are accepted.
    """
    if image.dtype not in (np.uint8, np.uint16):
        raise _UnsupportedImage(f"{what} data of type {image.dtype} (need uint8 or uint16)")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return np.repeat(image[..., np.newaxis], 3, axis=2)
    allowed = (2, 3, 4) if alpha_channels else (3,)
    if image.ndim != 3 or image.shape[2] not in allowed:
        raise _UnsupportedImage(f"{what} with unsupported shape {image.shape}")
    if image.shape[2] == 2:  # gray + alpha
        return np.repeat(image[..., :1], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])
