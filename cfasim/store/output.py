"""Where a build writes, and how it replaces an old dataset without ever losing it.

:func:`check_output` decides, without writing anything, whether ``--out`` can receive a build:
a new path or an empty folder is written directly; an existing cfasim dataset is replaced only
with ``overwrite``; anything that is not a cfasim dataset (a folder of photos, a file, a
symbolic link) is never touched. A local replacement is built in a hidden sibling folder
(:func:`staging_path`) and swapped in by two renames only once it is complete
(:func:`swap_in`), so the old dataset survives every failure, a kill included
(:func:`recover_swap` finishes or undoes a swap that was interrupted between its renames).
Object stores have no rename: there the old dataset is deleted after planning succeeded, just
before the new one is written.
"""

from __future__ import annotations

import enum
import json
import os
import shutil
import tempfile
from pathlib import Path

from cfasim.errors import DatasetError
from cfasim.store.fs import StoreFS, is_url
from cfasim.store.schema import ATTRS_KEY
from cfasim.store.status import is_cfasim_store


class Output(enum.Enum):
    """What a build does with its output path."""

    NEW = "new"  # nothing (or an empty folder) there: write it directly
    REPLACE = "replace"  # an old cfasim dataset there, to be replaced (--overwrite)
    RESUME = "resume"  # a cfasim store there, to be continued (--resume)


def check_output(path, overwrite: bool, resume: bool = False) -> Output:
    """How a build may use ``path``; raises :class:`DatasetError` naming why it may not.

    Writes nothing but a probe file (created and removed at once) that shows the folder is
    writable.
    """
    if is_url(path):
        return _check_url(path, overwrite, resume)
    path = Path(path)
    if path.is_symlink():
        raise DatasetError(
            f"{path} is a symbolic link; cfasim does not write through links: point --out at "
            f"the folder itself ({path.resolve()})"
        )
    parent = path.absolute().parent
    if not parent.is_dir():
        raise DatasetError(f"cannot create {path}: folder {parent} does not exist")
    decision = Output.NEW
    if path.exists():
        if not path.is_dir():
            raise DatasetError(f"{path} exists and is a file, not a dataset; refusing to touch it")
        if any(path.iterdir()):
            decision = _existing(path, overwrite, resume)
    _probe_writable(parent)
    return decision


def _existing(path, overwrite: bool, resume: bool) -> Output:
    if not is_cfasim_store(path):
        if overwrite:
            raise DatasetError(f"{path} exists and is not a cfasim dataset; refusing to delete it")
        raise DatasetError(
            f"{path} already exists and is not a cfasim dataset; choose another --out"
        )
    if resume:
        return Output.RESUME
    if not overwrite:
        raise DatasetError(
            f"{path} already exists; pass --overwrite to replace it (the old dataset is kept "
            f"until the new one is complete) or --resume to continue a build of the same settings"
        )
    return Output.REPLACE


def _check_url(url: str, overwrite: bool, resume: bool) -> Output:
    try:
        fs = StoreFS(url)
        present = fs.exists() and bool(fs.walk()[0])
    except (ImportError, ValueError) as err:  # unknown protocol or missing fsspec backend
        raise DatasetError(f"cannot use {url}: {err}") from None
    except OSError as err:
        raise DatasetError(f"cannot reach {url}: {err}") from None
    return _existing(url, overwrite, resume) if present else Output.NEW


def _probe_writable(folder: Path) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".cfasim-write-test-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as err:
        raise DatasetError(f"cannot write to {folder}: {err.strerror or err}") from None


def staging_path(out: Path) -> Path:
    """The hidden sibling a replacement of ``out`` is built in."""
    return out.with_name(f".{out.name}.cfasim-new")


def _retired_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.cfasim-old")


def clear_staging(out: Path) -> Path:
    """An empty staging folder for a replacement of ``out`` (a leftover of a killed
    replacement, always a cfasim store or empty, is removed first)."""
    staged = staging_path(out)
    if staged.exists() or staged.is_symlink():
        if staged.is_symlink() or not staged.is_dir():
            raise DatasetError(f"{staged} is in the way of the replacement build; remove it")
        if any(staged.iterdir()) and not is_cfasim_store(staged):
            raise DatasetError(f"{staged} is not a cfasim dataset; refusing to delete it")
        shutil.rmtree(staged)
    return staged


def swap_in(staged: Path, out: Path) -> None:
    """Replace the dataset at ``out`` by the complete one at ``staged``: two renames, then the
    old dataset is deleted."""
    retired = _retired_path(out)
    if retired.exists():
        shutil.rmtree(retired)
    os.rename(out, retired)
    os.rename(staged, out)
    shutil.rmtree(retired)


def recover_swap(out) -> None:
    """Finish a :func:`swap_in` that a kill interrupted between its two renames: the new
    dataset is put in place if it was complete, else the old one goes back."""
    if is_url(out):
        return
    out = Path(out)
    retired, staged = _retired_path(out), staging_path(out)
    if out.exists() or not retired.is_dir():
        if out.exists() and retired.is_dir() and is_cfasim_store(retired):
            shutil.rmtree(retired)  # the swap completed; only the deletion was cut short
        return
    os.rename(staged if _is_complete(staged) else retired, out)
    if retired.is_dir():
        shutil.rmtree(retired)


def _is_complete(path: Path) -> bool:
    try:
        doc = json.loads((path / "zarr.json").read_text())
        return doc["attributes"][ATTRS_KEY]["status"] == "complete"
    except (OSError, ValueError, KeyError, TypeError):
        return False
