"""Finishing a built store: consolidated metadata, the dataset card and the checksums, and only
then the status ``complete``."""

from __future__ import annotations

from cfasim.store import checksums
from cfasim.store.card import write_card
from cfasim.store.fs import StoreFS
from cfasim.store.status import consolidate


def finalize(path, splits) -> dict:
    """Finish a built store: consolidate its metadata (status ``finalizing``), write the dataset
    card (``preview.png``, ``README.md``, ``croissant.json``) and ``checksums.json``, and only
    then the root ``zarr.json`` with status ``complete``, so a store that says complete always
    has its card and checksums. Safe to run again on a store a kill left ``finalizing``.

    Parameters
    ----------
    path : str or os.PathLike
        Store root of a store whose every shard is written.
    splits : list of str
        Its split names.

    Returns
    -------
    dict
        The manifest written.
    """
    root_json = consolidate(path, splits)
    write_preview(path)
    write_card(path, root_json=root_json)
    doc = checksums.write_manifest(path, replace={"zarr.json": root_json})
    StoreFS(path).write_bytes("zarr.json", root_json)  # complete: written last
    return doc


def write_preview(path) -> bool:
    """Write the card's ``preview.png`` (:func:`cfasim.viz.preview.card_preview`) into a
    finalizing store, before the card that links it and the checksums that cover it; nothing
    for a store without samples. Returns whether it was written."""
    from cfasim.viz.preview import card_preview

    png = card_preview(path)
    if png is not None:
        StoreFS(path).write_bytes(checksums.PREVIEW_FILE, png)
    return png is not None


def is_finalized(path) -> bool:
    """A complete store that has its card and checksums (an older cfasim wrote ``complete``
    before them, so a kill could leave a complete store without them)."""
    fs = StoreFS(path)
    return all(fs.is_file(rel) for rel in (checksums.MANIFEST, *checksums.CARD_FILES))
