"""Checksums of a finished dataset (``checksums.json``) and what belongs to a store.

A complete store carries, at its root::

    README.md         dataset card (human readable, see cfasim.store.card)
    croissant.json    Croissant 1.1 metadata (machine readable, carries the sha256 of zarr.json)
    preview.png       the card's preview grid (optional: older stores have none)
    checksums.json    {"algorithm": "sha256", "files": {"train/raw/c/0/0/0": {"sha256", "bytes"}}}

``checksums.json`` lists every file of the Zarr hierarchy (each ``zarr.json`` and every chunk or
shard file of every array) and the card files, so it is written last
(:func:`cfasim.store.finalize.finalize`); :func:`cfasim.store.validate.validate` checks a store
against them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cfasim.errors import DatasetError
from cfasim.progress import progress_bar
from cfasim.store.fs import StoreFS
from cfasim.store.status import is_cfasim_store

MANIFEST = "checksums.json"
CARD_FILES = ("README.md", "croissant.json")
PUBLICATION_FILE = "publication.json"
"""Publication fields ``cfasim card`` wrote (:mod:`cfasim.store.card.publication`); optional,
hashed with the card."""
PREVIEW_FILE = "preview.png"
"""The card's preview grid (:mod:`cfasim.viz.preview`, written by every build since it was
added); optional, so older stores without it still validate; hashed with the card."""
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
        ``README.md``, ``croissant.json``, ``publication.json`` and ``preview.png`` when
        present at the root.
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
        elif rel in CARD_FILES or rel in (PUBLICATION_FILE, PREVIEW_FILE):
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
        done = pool.map(one, rels)
        return dict(progress_bar(done, desc="checksums", total=len(rels), unit="file"))


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
