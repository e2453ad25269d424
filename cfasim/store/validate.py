"""``cfasim validate``: a read-only check of a store against the format and its checksums:
structure, every shard present and decodable, value ranges, ``checksums.json``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfasim.progress import progress_bar
from cfasim.store import schema as dataset
from cfasim.store.checksums import (
    ALGORITHM,
    CARD_FILES,
    MANIFEST,
    PUBLICATION_FILE,
    StoreFiles,
    _hash_all,
    scan_store,
)
from cfasim.store.fs import StoreFS, zarr_store
from cfasim.store.status import unfinished_message


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

    def to_dict(self) -> dict:
        """The report as plain data (``cfasim validate --json``): ``path``, ``ok``,
        ``checked``, ``problems`` and ``warnings`` (lists of the messages of :meth:`format`)."""
        return {
            "path": self.path,
            "ok": self.ok,
            "checked": self.checked,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


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
    present, problems_before = [], len(c.report.problems)
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
    _card_rewrite_hint(root, c.report.problems[problems_before:], c)


def _card_rewrite_hint(root: StoreFS, problems: list[str], c: _Checker) -> None:
    """When only the card files differ from the manifest, name the command that finishes an
    interrupted ``cfasim card`` (the data are intact)."""
    card = (*CARD_FILES, PUBLICATION_FILE)
    if problems and all(p.split(":", 1)[0] in card for p in problems):
        c.check(
            False,
            "only the dataset card differs from checksums.json (the arrays are intact): an "
            f"interrupted `cfasim card`? finish it with: cfasim card {root}",
        )


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
    shards = range(n_shards)
    if decode:  # the slow part: a bar on a terminal (stderr)
        shards = progress_bar(shards, desc=f"validate {where}", unit="shard")
    for i in shards:
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
