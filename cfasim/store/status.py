"""A store's status and the one way to open a store: root attributes, the format version, the
life of a build (``creating`` -> ``building`` -> ``finalizing`` -> ``complete``) and the advice
every command gives for a store that is not complete."""

from __future__ import annotations

import json
import warnings

import zarr

from cfasim.errors import DatasetError
from cfasim.store.fs import StoreFS, zarr_store
from cfasim.store.schema import ATTRS_KEY, FORMAT_VERSION


def is_cfasim_store(path) -> bool:
    """True if ``path`` (a folder or an fsspec URL) holds a Zarr group written by cfasim."""
    try:
        doc = json.loads(StoreFS(path).read_text("zarr.json"))
    except (OSError, ValueError):
        return False
    return doc.get("node_type") == "group" and ATTRS_KEY in doc.get("attributes", {})


STATUSES = ("creating", "building", "finalizing", "complete")
"""A store's life: arrays being created -> shards being written -> card and checksums being
written -> complete. Only ``complete`` stores are read; ``complete`` is written last."""


def unfinished_message(path, status) -> str:
    """The one piece of advice every command gives for a store that is not complete."""
    return (
        f"{path} is an unfinished build (status {status!r}): continue it by running the same "
        f"cfasim generate command with --resume, or start again with --overwrite"
    )


def set_status(root: zarr.Group, status: str) -> None:
    attrs = dict(root.attrs[ATTRS_KEY])
    attrs["status"] = status
    root.update_attributes({ATTRS_KEY: attrs})


def consolidate(path, splits) -> bytes:
    """Mark a built store ``finalizing`` and consolidate its metadata (root and each split, so
    ``xarray.open_zarr(path, group=split)`` opens it with one read); return the bytes its root
    ``zarr.json`` will have once complete (see :func:`complete_root_json`)."""
    store = zarr_store(path)
    root = zarr.open_group(store, mode="r+")
    set_status(root, "finalizing")
    with warnings.catch_warnings():  # consolidated metadata is not yet in the v3 spec
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata")
        warnings.filterwarnings("ignore", message="Object at .* is not recognized")  # the card
        for split in splits:
            zarr.consolidate_metadata(store, path=split)
        zarr.consolidate_metadata(store)
    return complete_root_json(StoreFS(path).read_bytes("zarr.json"))


def complete_root_json(finalizing: bytes) -> bytes:
    """The root ``zarr.json`` of a ``finalizing`` store with its status set to ``complete``:
    the same bytes as zarr wrote but for that one value (checked by parsing both)."""
    old, new = b'"status": "finalizing"', b'"status": "complete"'
    text = finalizing.replace(old, new)
    want = json.loads(finalizing)
    want["attributes"][ATTRS_KEY]["status"] = "complete"
    if finalizing.count(old) != 1 or json.loads(text) != want:
        raise DatasetError("cannot set the status of the root zarr.json (unexpected layout)")
    return text


def open_root(path) -> zarr.Group:
    """Open a dataset's root group read-only; DatasetError if it is not a cfasim dataset."""
    try:
        root = zarr.open_group(zarr_store(path), mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError) as err:
        raise DatasetError(f"{path} is not a Zarr group: {err}") from None
    if ATTRS_KEY not in root.attrs:
        raise DatasetError(f"{path} is a Zarr group but not a cfasim dataset")
    return root


def open_store(path, storage_options: dict | None = None, *, finalizing: bool = False):
    """Open a complete cfasim store read-only: ``(root group, attributes["cfasim"])``.

    The one place that checks what every reader needs: a Zarr group, written by cfasim, of a
    format version this cfasim reads, whose build finished (``finalizing`` too when asked:
    the card is written then).

    Raises
    ------
    DatasetError
        Naming the path and the problem: missing, not Zarr, not cfasim, a newer or unknown
        format, an unfinished build (with the advice to continue it).
    """
    kwargs = {} if storage_options is None else {"storage_options": storage_options}
    try:
        root = zarr.open_group(zarr_store(path) if not kwargs else str(path), mode="r", **kwargs)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError) as err:
        raise DatasetError(f"{path} is not a Zarr group: {err}") from None
    attrs = root.attrs.get(ATTRS_KEY)
    if not isinstance(attrs, dict):
        raise DatasetError(f"{path} is a Zarr group but not a cfasim dataset")
    version = attrs.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise DatasetError(
            f"{path} has cfasim format_version {version!r}; this cfasim reads {FORMAT_VERSION}"
            + ("; upgrade cfasim to read it" if newer else "")
            + " (docs/dataset-format.md, compatibility policy)"
        )
    status = attrs.get("status")
    if status != "complete" and not (finalizing and status == "finalizing"):
        raise DatasetError(unfinished_message(path, status))
    return root, dict(attrs)
