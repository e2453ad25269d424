"""Publishing a complete store (``cfasim card``): licence, creator, URL, citation, date and
version in ``README.md`` and ``croissant.json``, with the Croissant responsible-AI fields.

Order of the writes, under the store's lock (:func:`cfasim.store.lock.build_lock`), each file
atomic (a temporary file and a rename on a local disk):

1. ``publication.json``: the merged fields (:mod:`cfasim.store.card.publication`);
2. ``README.md`` and ``croissant.json``, regenerated from the store and those fields;
3. ``checksums.json``, which then covers the three files again.

A kill before step 3 leaves intact arrays and a card that differs from the checksums:
``cfasim validate`` says so and names the command that finishes the job (``cfasim card PATH``,
which regenerates the card from the ``publication.json`` of step 1).
"""

from __future__ import annotations

import datetime

from cfasim.store import checksums
from cfasim.store.card import write_card
from cfasim.store.card.info import read_store
from cfasim.store.card.publication import (
    PUBLICATION_FILE,
    Publication,
    check_publication,
)
from cfasim.store.card.rai import rai_fields
from cfasim.store.fs import StoreFS
from cfasim.store.lock import build_lock
from cfasim.store.status import open_store

DEFAULT_VERSION = "1.0.0"


def stored_publication(path) -> Publication:
    """The publication fields of a store (all unset when it has no ``publication.json``)."""
    fs = StoreFS(path)
    if not fs.is_file(PUBLICATION_FILE):
        return Publication()
    return Publication.from_json(fs.read_bytes(PUBLICATION_FILE), f"{path}/{PUBLICATION_FILE}")


def publish_card(path, given: Publication, *, today: str | None = None) -> Publication:
    """Rewrite the card of a complete store with publication fields, and its checksums.

    Parameters
    ----------
    path : str or os.PathLike
        A complete cfasim store (a local folder or an fsspec URL).
    given : Publication
        The fields to set; unset ones keep the values of an earlier call (``publication.json``)
        or the card's defaults (CC0 or the source images' licence, "cfasim contributors",
        cfasim's BibTeX, version 1.0.0).
    today : str, optional
        ``datePublished`` when neither ``given`` nor an earlier call set one (default: today's
        UTC date).

    Returns
    -------
    Publication
        The fields now in the card (and in ``publication.json``).

    Raises
    ------
    cfasim.errors.ConfigError
        For a licence that is not a URL or SPDX id, a bad date, version or URL.
    cfasim.errors.DatasetError
        If ``path`` is not a complete cfasim store, another process holds its lock, or its
        ``publication.json`` is damaged.
    """
    given = check_publication(given)
    open_store(path)  # a complete cfasim store: refuses others before taking the lock
    with build_lock(path):
        open_store(path)  # still complete now that we hold the lock
        pub = stored_publication(path).merged(given)
        if pub.date_published is None:
            date = today or datetime.datetime.now(datetime.UTC).date().isoformat()
            pub = pub.merged(Publication(date_published=date))
        if pub.version is None:
            pub = pub.merged(Publication(version=DEFAULT_VERSION))
        fs = StoreFS(path)
        fs.write_bytes(PUBLICATION_FILE, pub.to_json())
        _ensure_preview(path, fs)
        write_card(
            path,
            url=pub.url,
            license=pub.license,
            creator=pub.creator,
            version=pub.version,
            date_published=pub.date_published,
            citation=pub.citation,
            rai=rai_fields(read_store(path)),
        )
        _remove_partials(fs)
        checksums.write_manifest(path)
    return pub


def _ensure_preview(path, fs: StoreFS) -> None:
    """Draw the card's ``preview.png`` for a store built before cfasim wrote one (the README
    links it); an existing preview is kept as built."""
    if fs.is_file(checksums.PREVIEW_FILE):
        return
    from cfasim.viz.preview import card_preview

    png = card_preview(path)
    if png is not None:
        fs.write_bytes(checksums.PREVIEW_FILE, png)


def _remove_partials(fs: StoreFS) -> None:
    """Delete the temporary files a killed card rewrite leaves at a local store's root."""
    if fs.local is None:
        return
    for name in (*checksums.CARD_FILES, checksums.PREVIEW_FILE, PUBLICATION_FILE,
                 checksums.MANIFEST):  # fmt: skip
        (fs.local / f"{name}.partial").unlink(missing_ok=True)
