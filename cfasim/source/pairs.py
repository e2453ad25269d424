"""Paired RAW / DSLR-target datasets: the Zurich RAW-to-RGB layout and plain two-folder pairs.

Zurich RAW-to-RGB (ZRR; Ignatov, Van Gool, Timofte, arXiv 2002.05509; the data of PyNET,
PyNET-QxQ and LW-ISP) pairs a Huawei P20 RAW crop with a Canon 5D Mark IV JPEG crop of the same
scene::

    <root>/huawei_raw/<i>.png   16-bit single-channel PNG, RGGB Bayer mosaic (R at (0, 0)),
                                448 x 448, 10-bit codes (0..1023)
    <root>/canon/<i>.jpg        448 x 448 x 3 sRGB JPEG

with ``<root>`` the dataset folder itself or its ``train/`` and ``test/`` sub-folders (46,839 and
1,204 pairs in the public release; any other sub-folder holding ``huawei_raw/`` or ``canon/``,
e.g. PyNET-v2's ``val_comp/``, is taken the same way). Pairs are matched by file stem.
The pairs are roughly but not pixel-aligned and carry no white-balance or colour metadata; PyNET
packs the mosaic as (B, Gb, R, Gr) planes and divides by 4 * 255 = 1020 without black
subtraction (:data:`ZRR_PATTERN`, :data:`ZRR_MAX_CODE`).

:func:`scan_zurich` and :func:`scan_pairs` only list and match files (fast, even for 48k
pairs); :func:`load_zurich_pair` and :func:`load_pair` decode one pair and check it.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile

from cfasim.cfa import CFAPattern
from cfasim.source.images import IMAGE_SUFFIXES, SourceError, load_image
from cfasim.source.raw import RAW_SUFFIXES, read_raw

ZRR_RAW_DIR = "huawei_raw"
"""Folder of the RAW mosaics in a ZRR split."""

ZRR_TARGET_DIR = "canon"
"""Folder of the DSLR targets in a ZRR split."""

ZRR_RAW_SUFFIXES = (".png",)
ZRR_TARGET_SUFFIXES = (".jpg", ".jpeg")

ZRR_PATTERN = CFAPattern.block_bayer(1, "rggb")
"""CFA of the ZRR mosaics (Huawei P20, Sony IMX380): RGGB, R at pixel (0, 0)."""

ZRR_MAX_CODE = 1023
"""Largest ZRR RAW code (10-bit data). PyNET normalises by 4 * 255 = 1020 instead."""

ZRR_SIZE = 448
"""Side of the public ZRR patches (mosaic and target alike)."""

MOSAIC_SUFFIXES = (".png", ".tif", ".tiff")
"""Suffixes of single-channel 16-bit mosaic images accepted on the RAW side of
:func:`scan_pairs` (besides :data:`cfasim.source.raw.RAW_SUFFIXES`)."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_DIGITS = re.compile(r"(\d+)")
_MAX_REASONS_IN_ERROR = 3


@dataclass(frozen=True)
class Pair:
    """A RAW mosaic and its target image.

    Parameters
    ----------
    raw_path
        The RAW side: a 16-bit single-channel PNG/TIFF mosaic or a camera RAW file.
    target_path
        The target image (JPEG/PNG/TIFF).
    split_hint
        The sub-folder the pair came from (``"train"``, ``"test"``...) for a ZRR root with split
        folders; ``None`` for pairs found directly in the root and for :func:`scan_pairs`. Only a
        hint: nothing here enforces a split.
    """

    raw_path: Path
    target_path: Path
    split_hint: str | None = None

    @property
    def stem(self) -> str:
        """The matching key, the RAW file's stem."""
        return self.raw_path.stem


@dataclass(frozen=True)
class PairScan:
    """Outcome of :func:`scan_zurich` / :func:`scan_pairs`.

    Parameters
    ----------
    pairs
        Matched pairs, sorted by split (root first, then sub-folders by name) and naturally by
        stem (``2`` before ``10``).
    skipped
        ``(path, reason)`` for every file that was not paired, sorted; paths are relative to the
        ZRR root, or as given (folder / name) for :func:`scan_pairs`.
    """

    pairs: tuple[Pair, ...]
    skipped: tuple[tuple[str, str], ...]

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self):
        return iter(self.pairs)

    def splits(self) -> dict[str | None, int]:
        """Number of pairs per :attr:`Pair.split_hint`, in the order of :attr:`pairs`."""
        counts: dict[str | None, int] = {}
        for pair in self.pairs:
            counts[pair.split_hint] = counts.get(pair.split_hint, 0) + 1
        return counts


# ---------------------------------------------------------------------------------------------
# scanning


def scan_zurich(root: str | os.PathLike[str]) -> PairScan:
    """List and match the pairs of a Zurich RAW-to-RGB folder.

    Looks for ``huawei_raw/`` and ``canon/`` in ``root`` itself (``split_hint`` ``None``) and
    in every non-hidden immediate sub-folder that has either of them (``train/``, ``test/``...;
    ``split_hint`` = the sub-folder's name). Files are matched by stem within a split; nothing
    is decoded (use :func:`load_zurich_pair`). Hidden files are ignored; other folders (e.g.
    ``test/huawei_full_resolution/``) are not looked at.

    Skip reasons: ``"no matching target canon/<stem>.jpg"``, ``"no matching RAW
    huawei_raw/<stem>.png"``, ``"no canon/ folder in <split>"`` (and the reverse),
    ``"not a PNG mosaic"`` / ``"not a JPEG target"`` (other suffixes), ``"duplicate stem: ..."``.

    Parameters
    ----------
    root
        The dataset folder (for the public release, the folder holding ``train/`` and
        ``test/``).

    Returns
    -------
    PairScan
        The pairs (also iterable, with ``len``) and the skipped files.

    Raises
    ------
    SourceError
        If ``root`` does not exist or is not a directory, neither it nor any sub-folder has a
        ``huawei_raw/`` or ``canon/`` folder, or no pair matches (the message gives the counts
        and the first few reasons).
    """
    root = Path(root)
    _require_dir(root, "Zurich RAW-to-RGB folder")
    splits: list[tuple[str | None, Path]] = []
    if _has_zrr_folder(root):
        splits.append((None, root))
    for sub in sorted(_list_dir(root)):
        if not sub.startswith(".") and (root / sub).is_dir() and _has_zrr_folder(root / sub):
            splits.append((sub, root / sub))
    if not splits:
        raise SourceError(
            f"no Zurich RAW-to-RGB layout in {root}: expected {ZRR_RAW_DIR}/ and "
            f"{ZRR_TARGET_DIR}/ folders in it or in its train/ and test/ sub-folders"
        )

    pairs: list[Pair] = []
    skipped: list[tuple[str, str]] = []
    for split, folder in splits:
        where = split or str(root)
        raw_dir, target_dir = folder / ZRR_RAW_DIR, folder / ZRR_TARGET_DIR
        raws, raw_skips = _index_folder(raw_dir, ZRR_RAW_SUFFIXES, "not a PNG mosaic", root)
        targets, target_skips = _index_folder(
            target_dir, ZRR_TARGET_SUFFIXES, "not a JPEG target", root
        )
        skipped += raw_skips + target_skips
        if not raw_dir.is_dir():
            skipped += [
                (_rel(p, root), f"no {ZRR_RAW_DIR}/ folder in {where}") for p in targets.values()
            ]
            continue
        if not target_dir.is_dir():
            skipped += [
                (_rel(p, root), f"no {ZRR_TARGET_DIR}/ folder in {where}") for p in raws.values()
            ]
            continue
        matched, unmatched = _match(
            raws,
            targets,
            split,
            lambda s: f"no matching target {ZRR_TARGET_DIR}/{s}.jpg",
            lambda s: f"no matching RAW {ZRR_RAW_DIR}/{s}.png",
            root,
        )
        pairs += matched
        skipped += unmatched
    return _result(pairs, skipped, f"Zurich RAW-to-RGB folder {root}")


def scan_pairs(raw_dir: str | os.PathLike[str], target_dir: str | os.PathLike[str]) -> PairScan:
    """List and match a generic two-folder pair layout by file stem.

    The RAW folder holds single-channel 16-bit mosaics (:data:`MOSAIC_SUFFIXES`) or camera RAW
    files (:data:`cfasim.source.raw.RAW_SUFFIXES`); the target folder holds images
    (:data:`cfasim.source.images.IMAGE_SUFFIXES`). Both are listed flat (no sub-folders);
    hidden files are ignored; suffixes are compared case-insensitively. Nothing is decoded (use
    :func:`load_pair`).

    Skip reasons: ``"no matching target for stem '<stem>'"``, ``"no matching RAW for stem
    '<stem>'"``, ``"not a RAW/mosaic file"`` / ``"not a target image"`` (other suffixes),
    ``"duplicate stem: ..."`` (e.g. ``a.png`` and ``a.dng``: neither is used).

    Parameters
    ----------
    raw_dir, target_dir
        The two folders.

    Returns
    -------
    PairScan
        Pairs with ``split_hint`` ``None``, sorted naturally by stem; skipped paths are
        ``<folder>/<name>`` as given.

    Raises
    ------
    SourceError
        If a folder does not exist or is not a directory, or no pair matches (with the counts).
    """
    raw_dir, target_dir = Path(raw_dir), Path(target_dir)
    _require_dir(raw_dir, "RAW folder")
    _require_dir(target_dir, "target folder")
    raws, raw_skips = _index_folder(
        raw_dir, MOSAIC_SUFFIXES + RAW_SUFFIXES, "not a RAW/mosaic file", None
    )
    targets, target_skips = _index_folder(target_dir, IMAGE_SUFFIXES, "not a target image", None)
    pairs, unmatched = _match(
        raws,
        targets,
        None,
        lambda s: f"no matching target for stem {s!r} in {target_dir}",
        lambda s: f"no matching RAW for stem {s!r} in {raw_dir}",
        None,
    )
    return _result(pairs, raw_skips + target_skips + unmatched, f"{raw_dir} and {target_dir}")


def _require_dir(path: Path, what: str) -> None:
    if not path.exists():
        raise SourceError(f"{what} does not exist: {path}")
    if not path.is_dir():
        raise SourceError(f"{what} is not a directory: {path}")


def _list_dir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except OSError as exc:
        raise SourceError(f"cannot read folder {path}: {exc.strerror or exc}") from exc


def _has_zrr_folder(path: Path) -> bool:
    return (path / ZRR_RAW_DIR).is_dir() or (path / ZRR_TARGET_DIR).is_dir()


def _rel(path: Path, root: Path | None) -> str:
    return path.relative_to(root).as_posix() if root is not None else str(path)


def _index_folder(
    folder: Path, suffixes: tuple[str, ...], wrong_type: str, root: Path | None
) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """Map stem -> file for the non-hidden regular files of ``folder`` with one of ``suffixes``;
    skip reasons for other files and for stems that occur more than once. A missing folder
    gives nothing."""
    if not folder.is_dir():
        return {}, []
    try:
        with os.scandir(folder) as it:
            entries = sorted((e.name, e.is_dir()) for e in it)
    except OSError as exc:
        raise SourceError(f"cannot read folder {folder}: {exc.strerror or exc}") from exc
    by_stem: dict[str, list[Path]] = {}
    skipped: list[tuple[str, str]] = []
    for name, is_dir in entries:
        path = folder / name
        if name.startswith(".") or is_dir:
            continue
        if not name.lower().endswith(suffixes):
            skipped.append((_rel(path, root), wrong_type))
            continue
        by_stem.setdefault(path.stem, []).append(path)
    index: dict[str, Path] = {}
    for stem, paths in by_stem.items():
        if len(paths) == 1:
            index[stem] = paths[0]
        else:
            names = ", ".join(p.name for p in paths)
            skipped += [(_rel(p, root), f"duplicate stem: {names}") for p in paths]
    return index, skipped


def _match(raws, targets, split, no_target, no_raw, root):
    """Pairs for the stems in both indexes; skip reasons for the others."""
    pairs = [
        Pair(raw_path=raws[s], target_path=targets[s], split_hint=split)
        for s in sorted(raws.keys() & targets.keys(), key=_natural)
    ]
    skipped = [(_rel(raws[s], root), no_target(s)) for s in raws.keys() - targets.keys()]
    skipped += [(_rel(targets[s], root), no_raw(s)) for s in targets.keys() - raws.keys()]
    return pairs, skipped


def _natural(stem: str) -> tuple:
    """Sort key that orders digit runs by value: ``"2"`` before ``"10"``."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in _DIGITS.split(stem)
        if part
    )


def _result(pairs: list[Pair], skipped: list[tuple[str, str]], where: str) -> PairScan:
    skipped = sorted(skipped)
    if not pairs:
        n = len(skipped)
        examples = "; ".join(f"{p}: {r}" for p, r in skipped[:_MAX_REASONS_IN_ERROR])
        more = " ..." if n > _MAX_REASONS_IN_ERROR else ""
        detail = f": {n} file(s) skipped ({examples}{more})" if n else ": no files"
        raise SourceError(f"no matching RAW/target pairs in {where}{detail}")
    return PairScan(pairs=tuple(pairs), skipped=tuple(skipped))


# ---------------------------------------------------------------------------------------------
# loading


def load_mosaic(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode the RAW side of a pair to an (H, W) uint16 mosaic.

    Camera RAW files (by suffix, :data:`cfasim.source.raw.RAW_SUFFIXES`) are read with
    :func:`cfasim.source.raw.read_raw` (its visible mosaic: Bayer only, levels not applied); PNG and
    TIFF files (by content) must hold one 16-bit channel.

    Raises
    ------
    ValueError
        Naming the file, if it is not a PNG/TIFF/RAW file, cannot be decoded, or is not a
        single-channel 16-bit image (:class:`cfasim.source.raw.RawFormatError` for RAW files).
    OSError
        If the file cannot be read.
    """
    path = Path(path)
    if path.suffix.lower() in RAW_SUFFIXES:
        return np.array(read_raw(path).mosaic)
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(f"not a regular file: {path}")
    data = path.read_bytes()
    try:
        if data.startswith(_PNG_MAGIC):
            image = imagecodecs.png_decode(data)
        elif data.startswith(_TIFF_MAGICS):
            image = tifffile.imread(path, key=0)
        else:
            raise ValueError(f"not a PNG or TIFF file (starts with {data[:8]!r})")
    except ValueError as exc:
        raise ValueError(f"cannot load mosaic {path}: {exc}") from exc
    except Exception as exc:  # decoder errors (truncated, corrupt)
        raise ValueError(f"cannot load mosaic {path}: {type(exc).__name__}: {exc}") from exc
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim != 2 or image.dtype != np.uint16:
        raise ValueError(
            f"mosaic {path} must be a single-channel 16-bit image, got {image.dtype} {image.shape}"
        )
    return np.ascontiguousarray(image)


def pair_scale(mosaic_shape, target_shape) -> float:
    """Scale s = target side / mosaic side of a pair (1.0 for ZRR: both 448).

    Raises
    ------
    ValueError
        If the two sides give different scales (the target is not a uniformly scaled view of the
        mosaic).
    """
    (mh, mw), (th, tw) = tuple(mosaic_shape[:2]), tuple(target_shape[:2])
    sy, sx = th / mh, tw / mw
    if not np.isclose(sy, sx, rtol=1e-9, atol=0.0):
        raise ValueError(
            f"target {th}x{tw} is not a uniformly scaled mosaic {mh}x{mw}: "
            f"scale {sy:g} vertically, {sx:g} horizontally"
        )
    return sy


def load_pair(
    pair: Pair, *, max_code: int | None = None, scale: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Decode and check one pair.

    Parameters
    ----------
    pair
        From :func:`scan_pairs` or :func:`scan_zurich`.
    max_code
        If given, the largest allowed mosaic code (1023 for 10-bit data).
    scale
        If given, the required scale s = target side / mosaic side (:func:`pair_scale`); the
        two sides must always agree.

    Returns
    -------
    mosaic : numpy.ndarray
        (H, W) uint16 (:func:`load_mosaic`).
    target : numpy.ndarray
        (sH, sW, 3) uint8 or uint16 (:func:`cfasim.source.images.load_image`).

    Raises
    ------
    ValueError
        Naming the files, for undecodable files, a mosaic that is not single-channel 16-bit,
        codes above ``max_code``, or inconsistent sizes (the message gives both sizes and s).
    OSError
        If a file cannot be read.
    """
    mosaic = load_mosaic(pair.raw_path)
    target = load_image(pair.target_path)
    if max_code is not None:
        top = int(mosaic.max(initial=0))
        if top > max_code:
            raise ValueError(
                f"mosaic {pair.raw_path} has codes up to {top} > {max_code} "
                f"({int(np.count_nonzero(mosaic > max_code))} pixels above): not the expected "
                f"{max_code.bit_length()}-bit data"
            )
    try:
        s = pair_scale(mosaic.shape, target.shape)
    except ValueError as exc:
        raise ValueError(f"pair {pair.raw_path} / {pair.target_path}: {exc}") from None
    if scale is not None and not np.isclose(s, scale, rtol=1e-9, atol=0.0):
        h, w = mosaic.shape
        raise ValueError(
            f"pair {pair.raw_path} / {pair.target_path}: target {target.shape[0]}x"
            f"{target.shape[1]} for mosaic {h}x{w} is scale s = {s:g}, expected {scale:g}"
        )
    return mosaic, target


def load_zurich_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Decode and check one Zurich RAW-to-RGB pair.

    Checks: the RAW PNG is single-channel 16-bit with codes <= :data:`ZRR_MAX_CODE` (10-bit),
    with even height and width (whole RGGB cells); the target is an 8-bit RGB image of the same
    size as the mosaic (scale s = target side / mosaic side = 1; 448 x 448 in the public
    release, not enforced).

    Parameters
    ----------
    pair
        From :func:`scan_zurich`.

    Returns
    -------
    mosaic : numpy.ndarray
        (H, W) uint16 RGGB mosaic (:data:`ZRR_PATTERN`), codes as stored (no black subtraction,
        no normalisation).
    target : numpy.ndarray
        (H, W, 3) uint8 sRGB.

    Raises
    ------
    ValueError
        Naming the file(s), if a check fails (the message gives the sizes and s for a size
        mismatch, the largest code for out-of-range data).
    OSError
        If a file cannot be read.
    """
    mosaic, target = load_pair(pair, max_code=ZRR_MAX_CODE, scale=1.0)
    if mosaic.shape[0] % 2 or mosaic.shape[1] % 2:
        raise ValueError(
            f"mosaic {pair.raw_path} is {mosaic.shape[0]}x{mosaic.shape[1]}: not whole RGGB "
            "cells (height and width must be even)"
        )
    if target.dtype != np.uint8:
        raise ValueError(f"target {pair.target_path} must be 8-bit, got {target.dtype}")
    return mosaic, target


# ---------------------------------------------------------------------------------------------
# checking a whole scan (dataset planning)


@dataclass(frozen=True)
class UsablePair:
    """A pair that decoded and passed the checks, with its mosaic size."""

    pair: Pair
    height: int
    width: int


def check_pairs(
    scan: PairScan,
    *,
    zurich: bool,
    min_side: int,
    scale: int,
    max_code: int,
    workers: int = 1,
) -> tuple[list[UsablePair], list[tuple[str, str]]]:
    """Decode every pair of ``scan`` once and keep those a dataset can use.

    A pair is skipped (with its reason) if it cannot be decoded, fails the checks of
    :func:`load_zurich_pair` (``zurich``) or :func:`load_pair` (codes above ``max_code``, a
    target that is not ``scale`` times the mosaic), or its mosaic is smaller than ``min_side``
    on a side. The result does not depend on ``workers`` (threads; the decoders release the GIL).

    Raises
    ------
    SourceError
        If no pair is usable (with the first reasons).
    """
    from concurrent.futures import ThreadPoolExecutor

    def check(pair: Pair):
        try:
            if zurich:
                mosaic, _ = load_zurich_pair(pair)
            else:
                mosaic, _ = load_pair(pair, max_code=max_code, scale=float(scale))
        except (ValueError, OSError) as exc:
            return (str(pair.raw_path), str(exc))
        h, w = mosaic.shape
        if min(h, w) < min_side:
            return (str(pair.raw_path), f"too small: mosaic {h}x{w} < {min_side}x{min_side}")
        return UsablePair(pair, h, w)

    pairs = list(scan.pairs)
    if workers > 1 and len(pairs) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(pairs))) as pool:
            outcomes = list(pool.map(check, pairs))
    else:
        outcomes = [check(pair) for pair in pairs]
    usable = [o for o in outcomes if isinstance(o, UsablePair)]
    skipped = sorted(list(scan.skipped) + [o for o in outcomes if isinstance(o, tuple)])
    if not usable:
        examples = "; ".join(f"{p}: {r}" for p, r in skipped[:_MAX_REASONS_IN_ERROR])
        raise SourceError(f"no usable pair: all {len(pairs)} pair(s) failed ({examples})")
    return usable, skipped
