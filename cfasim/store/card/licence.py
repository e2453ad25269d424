"""Licence and citation of a dataset, as both ``README.md`` and ``croissant.json`` state them.

Built-in scenes are synthetic, so such a dataset is CC0 unless the publisher says otherwise; a
dataset made from a folder of images carries the licence of those images.
"""

from __future__ import annotations

from typing import NamedTuple

from cfasim.store.card.info import StoreInfo

CC0_URL = "https://creativecommons.org/publicdomain/zero/1.0/"
DEFAULT_CREATOR = "cfasim contributors"

CFASIM_BIBTEX = """@software{{cfasim,
  title = {{cfasim: simulated camera RAW for Bayer and non-Bayer colour filter arrays}},
  author = {{{{{creator}}}}},
  version = {{{version}}},
  note = {{Synthetic RAW/sRGB dataset generator (Zarr v3 datasets built with Dask)}}
}}"""


def cfasim_bibtex(creator: str | None, version: str) -> str:
    """The BibTeX entry of cfasim (the dataset's generator) for ``creator`` and a version."""
    return CFASIM_BIBTEX.format(creator=creator or DEFAULT_CREATOR, version=version)


class Licence(NamedTuple):
    """A dataset's licence, in the three forms the card writes it."""

    hub: str
    """Hugging Face licence id (``cc0-1.0`` or ``other``)."""
    text: str
    """The licence paragraph of the README."""
    croissant: str | dict
    """Croissant ``license``: a URL, or a ``sc:CreativeWork`` for the source images'."""


def licence_terms(info: StoreInfo, license: str | None) -> Licence:
    """The licence of a dataset: CC0 for built-in scenes, the source images' for a folder, or
    the publisher's ``license`` URL when given."""
    if info.synthetic:
        return _builtin_licence(license, info.chart)
    return _folder_licence(info, license)


def _builtin_licence(license: str | None, chart: str | None = None) -> Licence:
    """Synthetic scenes (dead leaves or a test chart): public domain (CC0), unless the
    publisher sets another licence."""
    drawn = (
        f"the {chart} test chart drawn by cfasim"
        if chart
        else "procedural dead-leaves images drawn by cfasim from the dataset seed"
    )
    text = (
        f"Every sample is synthetic: the scenes are {drawn}, and no third-party image, "
        "photograph or personal data went into it."
    )
    if license and license != CC0_URL:
        return Licence("other", f"{text} Licence: <{license}> (set by the publisher).", license)
    text += (
        f" The dataset is dedicated to the public domain under [CC0 1.0]({CC0_URL}) (no "
        "rights reserved); attribution through the citation below is appreciated but "
        "not required."
    )
    return Licence("cc0-1.0", text, CC0_URL)


def _folder_licence(info: StoreInfo, license: str | None) -> Licence:
    """Crops of source images: derived works, under the licence of those images."""
    n = len(info.attrs.get("sources", []))
    text = (
        f"The scenes are crops of {n} source image(s) from the folder "
        f"`{info.config.get('source')}`. The RAW, target (and clean) images are derived "
        "works of those images, so **the licence of this dataset is that of the source images**: "
        "check it before redistributing or using the data. The generation parameters and "
        "metadata arrays contain no third-party content."
    )
    if license:
        return Licence("other", f"Licence: <{license}> (set by the publisher). " + text, license)
    work = {
        "@type": "sc:CreativeWork",
        "name": "Licence of the source images",
        "description": (
            f"Derived from {n} source image(s); the licence is that of the source images."
        ),
    }
    return Licence("other", text, work)
