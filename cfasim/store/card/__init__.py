"""Dataset card of a finished store: ``README.md`` (a datasheet) and ``croissant.json``.

``README.md`` follows "Datasheets for Datasets" (Gebru et al., arXiv 1803.09010): motivation,
composition, synthesis process, preprocessing, uses, distribution, maintenance, plus how to
cite and the exact command that regenerates the store; it starts with a Hugging Face style
YAML header. ``croissant.json`` is Croissant 1.1 metadata (validated with ``mlcroissant``).

Everything is derived from the store itself (root attributes, array metadata, file sizes),
with no timestamps, so identical stores get byte-identical cards.

A build writes no publication fields; ``cfasim card`` (:mod:`~cfasim.store.card.publish`)
adds them from :mod:`~cfasim.store.card.publication` (kept in ``publication.json``) together
with the Croissant responsible-AI fields of :mod:`~cfasim.store.card.rai`.

Modules: :mod:`~cfasim.store.card.info` (what the card says, read from the store),
:mod:`~cfasim.store.card.readme` (the datasheet, one function per section) with
:mod:`~cfasim.store.card.synthesis` (how the samples were made),
:mod:`~cfasim.store.card.jsonld` (the Croissant JSON-LD),
:mod:`~cfasim.store.card.licence` (licence and citation, shared by both),
:mod:`~cfasim.store.card.command` (the regenerate command and its parser),
:mod:`~cfasim.store.card.docs` (links to the cfasim docs); this module writes the two files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cfasim.store.card.command import config_from_command, generate_command
from cfasim.store.card.info import ArrayInfo, SplitInfo, StoreInfo, read_store
from cfasim.store.card.jsonld import croissant
from cfasim.store.card.readme import render_readme
from cfasim.store.checksums import hash_stream
from cfasim.store.fs import StoreFS

__all__ = [
    "ArrayInfo",
    "SplitInfo",
    "StoreInfo",
    "config_from_command",
    "croissant",
    "generate_command",
    "read_store",
    "render_readme",
    "write_card",
]


def write_card(
    path,
    *,
    url: str | None = None,
    license: str | None = None,
    creator: str | None = None,
    version: str = "1.0.0",
    date_published: str | None = None,
    docs_url: str | None = None,
    root_json: bytes | None = None,
    citation: str | None = None,
    rai: dict | None = None,
) -> tuple[Path | str, Path | str]:
    """Write ``README.md`` and ``croissant.json`` at the root of a complete (or finalizing)
    store.

    Both files are deterministic: identical stores (same folder name) get identical bytes.
    Run :func:`cfasim.store.checksums.write_manifest` afterwards so the checksums cover them
    (:func:`cfasim.store.checksums.finalize` does both).

    Parameters
    ----------
    path : str or os.PathLike
        Store root.
    url : str, optional
        Where the dataset is published (Croissant ``url``; omitted when not given).
    license : str, optional
        Licence URL. Default: CC0 1.0 for built-in scenes; for a folder source, "the licence
        of the source images" (a ``sc:CreativeWork`` in Croissant).
    creator : str, optional
        Who made the dataset (default "cfasim contributors").
    version : str
        Dataset version (semantic versioning) for Croissant.
    date_published : str, optional
        ISO date for Croissant ``datePublished``; omitted by default (no timestamps).
    docs_url : str, optional
        Base URL of the cfasim ``docs/`` folder for links in the card.
    root_json : bytes, optional
        The root ``zarr.json`` the store will have once complete (a finalizing store's is
        written after the card); default: the file as it is.
    citation : str, optional
        The dataset's citation: README "How to cite" and Croissant ``citeAs`` (default: the
        BibTeX of cfasim).
    rai : dict, optional
        Croissant responsible-AI properties (:func:`cfasim.store.card.rai.rai_fields`); a
        build writes none, ``cfasim card`` adds them.

    Returns
    -------
    (Path, Path)
        Paths of ``README.md`` and ``croissant.json`` (URL strings for a store at a URL).

    Raises
    ------
    cfasim.errors.DatasetError
        If ``path`` is not a cfasim store or its build did not get to ``finalizing``.
    """
    root = StoreFS(path)
    info = read_store(path)
    if root_json is None:
        with root.open("zarr.json") as f:
            zarr_json_sha256 = hash_stream(f)
    else:
        zarr_json_sha256 = hashlib.sha256(root_json).hexdigest()
    readme = render_readme(
        info, url=url, license=license, creator=creator, docs_url=docs_url, citation=citation
    )
    root.write_bytes("README.md", readme.encode("utf-8"))
    doc = croissant(
        info,
        zarr_json_sha256,
        url=url,
        license=license,
        creator=creator,
        version=version,
        date_published=date_published,
        citation=citation,
        rai=rai,
    )
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    root.write_bytes("croissant.json", text.encode("utf-8"))
    return root.location("README.md"), root.location("croissant.json")
