"""Checksums of a finished dataset (``checksums.json``) and a read-only store validator.

A complete store carries, at its root::

    README.md         dataset card (human readable, see cfasim.store.card)
    croissant.json    Croissant 1.1 metadata (machine readable, carries the sha256 of zarr.json)
    checksums.json    {"algorithm": "sha256", "files": {"train/raw/c/0/0/0": {"sha256", "bytes"}}}

``checksums.json`` lists every file of the Zarr hierarchy (each ``zarr.json`` and every chunk or
shard file of every array) and the two card files, so it is written last
(:func:`finalize`). :func:`validate` checks a store against the format of
``docs/dataset-format.md`` and against its checksums, and never writes to it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfasim.errors import DatasetError
from cfasim.store import schema as dataset
from cfasim.store.fs import StoreFS, zarr_store
from cfasim.store.status import is_cfasim_store, unfinished_message

MANIFEST = "checksums.json"
CARD_FILES = ("README.md", "croissant.json")
ALGORITHM = "sha256"
BLOCK = 1 << 20


def hash_file(path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks.

    Parameters
    ----------
    path : str or os.PathLike
        File to hash.

    Returns
    -------
    str
        Lower-case hexadecimal digest.
    """
    with open(path, "rb") as f:
        return hash_stream(f)


def hash_stream(f) -> str:
    """Hex sha256 of a binary reader, read in 1 MiB blocks."""
    h = hashlib.sha256()
    while block := f.read(BLOCK):
        h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# What belongs to a store


@dataclass
class StoreFiles:
    """The files under a store root, sorted into what they are (relative POSIX paths).

    Attributes
    ----------
    metadata : list of str
        Every ``zarr.json`` (group and array metadata).
    chunks : list of str
        Chunk or shard files of arrays (keys of the array's chunk key encoding).
    card : list of str
        ``README.md`` and ``croissant.json`` when present at the root.
    manifest : bool
        Whether ``checksums.json`` exists at the root.
    extra : list of str
        Anything else: leftovers such as ``*.partial`` files, stray files, links.
    arrays : dict
        Array path (relative, ``""`` for none) -> its parsed ``zarr.json``.
    unreadable : list of str
        ``zarr.json`` files that are not valid JSON.
    """

    metadata: list[str] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)
    card: list[str] = field(default_factory=list)
    manifest: bool = False
    extra: list[str] = field(default_factory=list)
    arrays: dict[str, dict] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def hashed(self) -> list[str]:
        """Files that ``checksums.json`` covers, sorted."""
        return sorted(self.metadata + self.chunks + self.card)


def _chunk_key_pattern(meta: dict) -> re.Pattern | None:
    """Regex of the chunk keys of a v3 array, relative to the array folder."""
    ndim = len(meta.get("shape", ()))
    enc = meta.get("chunk_key_encoding") or {"name": "default"}
    if isinstance(enc, str):
        enc = {"name": enc}
    name = enc.get("name")
    sep = (enc.get("configuration") or {}).get("separator")
    digits = r"(?:0|[1-9][0-9]*)"
    if name == "default":
        sep = sep or "/"
        if ndim == 0:
            return re.compile(r"c")
        return re.compile("c" + re.escape(sep) + re.escape(sep).join([digits] * ndim))
    if name == "v2":
        sep = sep or "."
        return re.compile("0" if ndim == 0 else re.escape(sep).join([digits] * ndim))
    return None


def scan_store(path) -> StoreFiles:
    """Sort every file under a store root into metadata, chunks, card files and extras.

    Parameters
    ----------
    path : str, os.PathLike or StoreFS
        Store root (a directory or an fsspec URL).

    Returns
    -------
    StoreFiles
        Relative POSIX paths, each list sorted.
    """
    fs = path if isinstance(path, StoreFS) else StoreFS(path)
    out = StoreFiles()
    files, links = fs.walk()  # links to folders are not followed: report them
    out.extra += links
    regular = {rel for rel in files if fs.is_file(rel)}
    for rel in files:
        if Path(rel).name == "zarr.json" and rel in regular:
            try:
                meta = json.loads(fs.read_text(rel))
            except (OSError, ValueError):
                out.unreadable.append(rel)
                meta = {}
            if isinstance(meta, dict) and meta.get("node_type") == "array":
                out.arrays[Path(rel).parent.as_posix()] = meta
    patterns = {a: _chunk_key_pattern(m) for a, m in out.arrays.items()}
    for rel in files:
        if rel not in regular:
            out.extra.append(rel)
        elif Path(rel).name == "zarr.json":
            out.metadata.append(rel)
        elif rel == MANIFEST:
            out.manifest = True
        elif rel in CARD_FILES:
            out.card.append(rel)
        elif _is_chunk(rel, patterns):
            out.chunks.append(rel)
        else:
            out.extra.append(rel)
    out.extra.sort()
    return out


def _is_chunk(rel: str, patterns: dict[str, re.Pattern | None]) -> bool:
    parent = Path(rel).parent
    for folder in (parent, *parent.parents):
        key = folder.as_posix()
        if key in patterns:
            pattern = patterns[key]
            inner = rel[len(key) + 1 :] if key != "." else rel
            return pattern is not None and pattern.fullmatch(inner) is not None
    return False


# ---------------------------------------------------------------------------------------------
# Writing


def _hash_all(fs: StoreFS, rels: list[str], replace: dict[str, bytes] | None = None):
    """``{rel: {"sha256", "bytes"}}`` of files; ``replace`` gives the content of files about
    to be written (hashed instead of what is on disk)."""
    replace = replace or {}

    def one(rel):
        if rel in replace:
            return rel, {
                "sha256": hashlib.sha256(replace[rel]).hexdigest(),
                "bytes": len(replace[rel]),
            }
        with fs.open(rel) as f:
            digest = hash_stream(f)
        return rel, {"sha256": digest, "bytes": fs.size(rel)}

    workers = min(8, os.cpu_count() or 1, max(1, len(rels)))
    with ThreadPoolExecutor(workers) as pool:  # hashlib releases the GIL on large blocks
        return dict(pool.map(one, rels))


def manifest_bytes(doc: dict) -> bytes:
    """The canonical serialisation of a manifest (sorted keys, two-space indent, final newline)."""
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def write_manifest(path, replace: dict[str, bytes] | None = None) -> dict:
    """Hash every file of a built store and write ``checksums.json`` at its root.

    Covered: every ``zarr.json``, every chunk/shard file of every array, and ``README.md`` /
    ``croissant.json`` when present (write the card first, see :func:`finalize_extras`).
    Files that belong to none of these (e.g. ``*.partial`` leftovers of a killed writer) are
    left out with a warning, so they show up in :func:`validate` as unexpected.

    Parameters
    ----------
    path : str or os.PathLike
        Store root.
    replace : dict, optional
        ``{relative path: bytes}`` of files that will hold these bytes once the store is
        complete (the root ``zarr.json`` of a finalizing store).

    Returns
    -------
    dict
        The manifest as written: ``{"algorithm": "sha256", "files": {rel: {"sha256", "bytes"}}}``.
        The file is byte-identical for byte-identical stores.
    """
    root = StoreFS(path)
    if not is_cfasim_store(path):
        raise DatasetError(f"{root} is not a cfasim dataset")
    found = scan_store(root)
    if found.extra:
        shown = ", ".join(found.extra[:5]) + (" ..." if len(found.extra) > 5 else "")
        warnings.warn(
            f"{len(found.extra)} file(s) in {root} are not part of the dataset and are not "
            f"hashed: {shown}",
            stacklevel=2,
        )
    files = _hash_all(root, found.hashed, replace)
    doc = {"algorithm": ALGORITHM, "files": dict(sorted(files.items()))}
    root.write_bytes(MANIFEST, manifest_bytes(doc))
    return doc


# ---------------------------------------------------------------------------------------------
# Validation


@dataclass
class ValidationReport:
    """Outcome of :func:`validate`.

    Attributes
    ----------
    path : str
        The store checked.
    ok : bool
        True when no problem was found (warnings do not count).
    problems : list of str
        Failures, each naming the file or array concerned.
    warnings : list of str
        Things worth knowing that do not make the store unusable (extra files, ...).
    checked : int
        Number of individual checks run (structure, shards decoded, files hashed, ...).
    """

    path: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: int = 0

    def format(self) -> str:
        """Human-readable report, one line per problem and warning."""
        head = "OK" if self.ok else "INVALID"
        lines = [
            f"{head}: {self.path}: {self.checked} checks, {len(self.problems)} problem(s), "
            f"{len(self.warnings)} warning(s)"
        ]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class _Checker:
    def __init__(self, report: ValidationReport):
        self.report = report

    def check(self, condition: bool, problem: str) -> bool:
        self.report.checked += 1
        if not condition:
            self.report.problems.append(problem)
        return bool(condition)

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)


def validate(path, *, decode: bool = True, checksums: bool = True) -> ValidationReport:
    """Check a cfasim store without modifying it.

    Checks: root attributes (a cfasim store of a known ``format_version``, ``status``
    complete, consolidated metadata); every split of ``attrs["splits"]`` exists with that
    ``count``; data arrays (``raw``, ``target``, ``clean`` when configured) and metadata arrays
    with the documented shapes and dtypes; every shard/chunk file present (a missing one would
    read silently as zeros); every shard decodes; RAW codes <= white level; floats finite;
    ``checksums.json`` present, every file in it matching size and sha256; files not in the
    dataset reported as warnings.

    Parameters
    ----------
    path : str or os.PathLike
        Store root.
    decode : bool
        Decode every shard and metadata array (the slow part on large stores).
    checksums : bool
        Verify ``checksums.json``.

    Returns
    -------
    ValidationReport
    """
    root = StoreFS(path)
    report = ValidationReport(str(path))
    c = _Checker(report)
    if not c.check(root.is_dir(), f"{root} is not a folder"):
        report.ok = False
        return report
    try:
        doc = json.loads(root.read_text("zarr.json"))
    except (OSError, ValueError) as err:
        c.check(False, f"zarr.json: cannot read the root metadata ({err})")
        report.ok = False
        return report
    attrs = (doc.get("attributes") or {}).get(dataset.ATTRS_KEY) if isinstance(doc, dict) else None
    if not c.check(
        doc.get("node_type") == "group" and isinstance(attrs, dict),
        "zarr.json: not a cfasim store (no group attribute 'cfasim')",
    ):
        report.ok = False
        return report
    version = attrs.get("format_version")
    c.check(
        version == dataset.FORMAT_VERSION,
        f"zarr.json: unknown format_version {version!r} (this cfasim reads "
        f"{dataset.FORMAT_VERSION})",
    )
    status = attrs.get("status")
    c.check(status == "complete", f"zarr.json: {unfinished_message(root, status)}")
    c.check("consolidated_metadata" in doc, "zarr.json: no consolidated metadata")

    found = scan_store(root)
    for rel in found.unreadable:
        c.check(False, f"{rel}: not valid JSON")
    expected: set[str] = {"zarr.json"}
    _check_splits(root, attrs, c, expected, decode)

    for rel in found.metadata + found.chunks:
        if rel not in expected:
            c.warn(f"{rel}: unexpected file (not part of the cfasim format)")
    for rel in found.extra:
        c.warn(f"{rel}: unexpected file (not part of the dataset)")
    for name in CARD_FILES:
        if name not in found.card:
            c.warn(f"{name}: missing (dataset card)")

    if checksums:
        _check_manifest(root, found, c)
    report.ok = not report.problems
    return report


def _check_manifest(root: StoreFS, found: StoreFiles, c: _Checker) -> None:
    if not c.check(found.manifest, f"{MANIFEST}: missing"):
        return
    try:
        doc = json.loads(root.read_text(MANIFEST))
        files = doc["files"]
        algorithm = doc["algorithm"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        c.check(False, f"{MANIFEST}: unreadable ({err})")
        return
    if not c.check(algorithm == ALGORITHM, f"{MANIFEST}: unknown algorithm {algorithm!r}"):
        return
    present = []
    for rel in sorted(files):
        entry = files[rel]
        parts = Path(rel).parts
        if not c.check(
            bool(parts) and not Path(rel).is_absolute() and ".." not in parts,
            f"{rel}: path in {MANIFEST} leaves the store",
        ):
            continue
        if not c.check(root.is_file(rel), f"{rel}: listed in {MANIFEST}, missing"):
            continue
        size = root.size(rel)
        if c.check(
            size == entry.get("bytes"),
            f"{rel}: size {size} bytes, {MANIFEST} says {entry.get('bytes')} (corrupted or "
            "truncated)",
        ):
            present.append(rel)
    for rel, got in _hash_all(root, present).items():
        want = files[rel].get("sha256")
        c.check(
            got["sha256"] == want,
            f"{rel}: sha256 mismatch (corrupted file): {got['sha256']}, {MANIFEST} says {want}",
        )
    for rel in found.hashed:
        if rel not in files:
            c.warn(f"{rel}: not covered by {MANIFEST}")


def _check_splits(root: StoreFS, attrs: dict, c: _Checker, expected: set[str], decode: bool):
    import zarr

    config = attrs.get("config") or {}
    splits = attrs.get("splits")
    if not c.check(isinstance(splits, dict), "zarr.json: attribute 'splits' missing"):
        return
    raw_format = attrs.get("raw_format") or {}
    white = raw_format.get("white", config.get("white_level"))
    patch = config.get("patch")
    shard_samples = config.get("shard_samples")
    if not c.check(
        isinstance(patch, int) and isinstance(shard_samples, int),
        "zarr.json: config.patch or config.shard_samples missing",
    ):
        return
    for name in sorted(set(dataset.SPLITS) - set(splits)):
        if root.has(name):
            c.warn(f"{name}: split folder not listed in attributes 'splits'")
    try:
        store_root = zarr.open_group(zarr_store(root.root), mode="r", use_consolidated=False)
    except Exception as err:  # any reader failure is a finding
        c.check(False, f"zarr.json: zarr cannot open the store ({err})")
        return
    for split, count in splits.items():
        if not c.check(split in store_root, f"{split}: split listed in attributes but missing"):
            continue
        expected.add(f"{split}/zarr.json")
        group = store_root[split]
        got = group.attrs.get("count")
        c.check(got == count, f"{split}/zarr.json: count {got!r}, root attributes say {count}")
        if count == 0:
            continue
        scale = int(group.attrs.get("scale", 1))
        names = ["raw", "target"] + (["clean"] if config.get("clean") else [])
        shapes = {
            "raw": ((count, patch, patch), "uint16"),
            "target": ((count, patch * scale, patch * scale, 3), "uint8"),
            "clean": ((count, patch, patch, 3), "float16"),
        }
        for name in names:
            shape, dtype = shapes[name]
            _check_data_array(
                root, group, split, name, shape, dtype, shard_samples, white, c, expected, decode
            )
        for name, (tail, dtype, _, _) in dataset.META_ARRAYS.items():
            unknown = name in dataset.UNKNOWN_FOR_REAL_PAIRS and not dataset.has_isp_params(config)
            _check_meta_array(
                root,
                group,
                split,
                name,
                (count, *tail),
                dtype,
                raw_format,
                c,
                expected,
                decode,
                unknown,
            )


def _chunk_key(arr, index: tuple[int, ...]) -> str:
    return arr.metadata.encode_chunk_key(index)


def _open_array(group, split: str, name: str, c: _Checker):
    if not c.check(name in group, f"{split}/{name}: array missing"):
        return None
    try:
        return group[name]
    except Exception as err:
        c.check(False, f"{split}/{name}/zarr.json: cannot open ({err})")
        return None


def _check_data_array(
    root, group, split, name, shape, dtype, shard_samples, white, c, expected, decode
):
    arr = _open_array(group, split, name, c)
    if arr is None:
        return
    where = f"{split}/{name}"
    expected.add(f"{where}/zarr.json")
    ok = c.check(tuple(arr.shape) == tuple(shape), f"{where}: shape {arr.shape}, expected {shape}")
    ok &= c.check(str(arr.dtype) == dtype, f"{where}: dtype {arr.dtype}, expected {dtype}")
    count = shape[0]
    k = min(int(shard_samples or count), count)
    outer = arr.shards or arr.chunks
    ok &= c.check(outer[0] == k, f"{where}: {outer[0]} samples per shard, config says {k}")
    if not ok:
        return
    n_shards = math.ceil(count / k)
    for i in range(n_shards):
        rel = f"{where}/{_chunk_key(arr, (i,) + (0,) * (arr.ndim - 1))}"
        expected.add(rel)
        if not c.check(root.is_file(rel), f"{rel}: shard file missing"):
            continue
        if not decode:
            continue
        a, b = i * k, min((i + 1) * k, count)
        try:
            data = arr[a:b]
        except Exception as err:  # a decoder error is a corrupt shard
            c.check(False, f"{rel}: cannot decode samples [{a}, {b}): {type(err).__name__}: {err}")
            continue
        if name == "raw" and white is not None:
            over = int(np.count_nonzero(data > white))
            c.check(over == 0, f"{rel}: {over} RAW value(s) above the white level {white}")
        if data.dtype.kind == "f":
            bad = int(np.count_nonzero(~np.isfinite(data)))
            c.check(bad == 0, f"{rel}: {bad} non-finite value(s)")


def _check_meta_array(
    root, group, split, name, shape, dtype, raw_format, c, expected, decode, unknown=False
):
    """``unknown``: the array must be all NaN (ISP/noise parameters of real pairs)."""
    arr = _open_array(group, split, name, c)
    if arr is None:
        return
    where = f"{split}/{name}"
    expected.add(f"{where}/zarr.json")
    ok = c.check(tuple(arr.shape) == tuple(shape), f"{where}: shape {arr.shape}, expected {shape}")
    ok &= c.check(str(arr.dtype) == dtype, f"{where}: dtype {arr.dtype}, expected {dtype}")
    if not ok:
        return
    grid = [math.ceil(s / ch) for s, ch in zip(arr.shape, arr.chunks, strict=True)]
    missing = []
    for index in np.ndindex(*grid):
        rel = f"{where}/{_chunk_key(arr, tuple(int(i) for i in index))}"
        expected.add(rel)
        if not root.is_file(rel):
            missing.append(rel)
    c.check(not missing, f"{where}: chunk file(s) missing: {', '.join(missing[:5])}")
    if missing or not decode:
        return
    try:
        values = arr[...]
    except Exception as err:
        c.check(False, f"{where}: cannot decode: {type(err).__name__}: {err}")
        return
    if unknown:
        known = int(np.count_nonzero(~np.isnan(values)))
        c.check(known == 0, f"{where}: {known} value(s) where real pairs store NaN (unknown)")
    elif values.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(values)))
        c.check(bad == 0, f"{where}: {bad} non-finite value(s)")
    level = {"black_level": "black", "white_level": "white"}.get(name)
    if level and level in raw_format:
        wrong = int(np.count_nonzero(values != raw_format[level]))
        c.check(
            wrong == 0,
            f"{where}: {wrong} value(s) differ from raw_format.{level} {raw_format[level]}",
        )
