"""``cfasim card``: publication fields (licence, creator, URL, citation, date, version) in a
complete dataset's card, with the Croissant responsible-AI fields."""

from __future__ import annotations

from pathlib import Path

import click

from cfasim.cli.group import PATH_OR_URL, main
from cfasim.errors import ConfigError


def read_citation(value: str | None) -> str | None:
    """The citation text: ``@FILE`` reads the file (UTF-8), anything else is the text; an
    inline BibTeX entry (``@misc{key, ...}``, which has a ``{``) is text unless it names a
    file."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:])
    if "{" in value and not path.is_file():
        return value  # inline BibTeX
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read the citation file {path}: {err.strerror}") from None


@main.command("card")
@click.argument("dataset", metavar="DATASET", type=PATH_OR_URL)
@click.option(
    "--license",
    "license_",
    metavar="URL|SPDX",
    help="Licence of the dataset: a URL or an SPDX id such as CC-BY-4.0 (kept from an earlier "
    "call; default CC0 for built-in scenes, the source images' licence otherwise).",
)
@click.option("--creator", metavar="NAME", help="Who made the dataset (kept from earlier).")
@click.option("--url", metavar="URL", help="Where the dataset is published (kept from earlier).")
@click.option(
    "--citation",
    metavar="TEXT|@FILE",
    help="How to cite the dataset (BibTeX or text; @FILE reads a file): README 'How to cite' "
    "and Croissant citeAs.",
)
@click.option(
    "--date-published",
    metavar="YYYY-MM-DD",
    help="Publication date (default: the earlier one, else today, UTC).",
)
@click.option(
    "--version", "version", metavar="X.Y.Z", help="Dataset version (default 1.0.0 or earlier)."
)
def card_command(dataset, license_, creator, url, citation, date_published, version):
    """Set the publication fields of a complete DATASET's card (README.md, croissant.json).

    Adds Croissant's responsible-AI fields, keeps the fields of an earlier call in
    publication.json and refreshes checksums.json, so cfasim validate passes afterwards.
    """
    from cfasim.store.card.publication import Publication
    from cfasim.store.card.publish import publish_card

    given = Publication(
        license=license_,
        creator=creator,
        url=url,
        citation=read_citation(citation),
        date_published=date_published,
        version=version,
    )
    pub = publish_card(dataset, given)
    click.echo(
        f"card of {dataset}: licence {pub.license or 'default'}, creator "
        f"{pub.creator or 'default'}, published {pub.date_published}, version {pub.version}"
        + (f", url {pub.url}" if pub.url else "")
    )
