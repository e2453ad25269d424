"""Publication fields of a dataset (licence, creator, URL, citation, date, version): checked,
merged with the ones stored earlier, kept in ``publication.json`` at the store root.

A build writes no publication file (and no timestamps): the card of a fresh store is
deterministic. ``cfasim card`` (:func:`cfasim.store.card.publish.publish_card`) writes
``publication.json`` and regenerates the card from it, so a later call that sets one field
keeps the others. The file is covered by ``checksums.json`` like the card::

    {"citation": "...", "creator": "Lab X", "date_published": "2026-12-03",
     "license": "https://creativecommons.org/licenses/by/4.0/", "url": "https://...",
     "version": "1.0.0"}
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import asdict, dataclass, fields, replace
from urllib.parse import urlparse

from cfasim.errors import ConfigError, DatasetError
from cfasim.store.card.licence import CC0_URL

PUBLICATION_FILE = "publication.json"
SPDX_URL = "https://spdx.org/licenses/{}.html"
_SPDX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Publication:
    """What a publisher says about a dataset; ``None`` means "not set" (the card's default)."""

    license: str | None = None
    """Licence URL (an SPDX id is stored as its spdx.org URL)."""
    creator: str | None = None
    url: str | None = None
    citation: str | None = None
    """The dataset's citation (BibTeX or text): README "How to cite", Croissant ``citeAs``."""
    date_published: str | None = None
    """ISO date ``YYYY-MM-DD``."""
    version: str | None = None
    """Semantic version ``X.Y.Z`` of the dataset."""

    def merged(self, newer: Publication) -> Publication:
        """These fields, overridden by every field ``newer`` sets."""
        given = {k: v for k, v in asdict(newer).items() if v is not None}
        return replace(self, **given)

    def to_json(self) -> bytes:
        """Canonical bytes of ``publication.json`` (sorted keys, unset fields left out)."""
        doc = {k: v for k, v in asdict(self).items() if v is not None}
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_json(cls, text: str | bytes, where: str = PUBLICATION_FILE) -> Publication:
        """Parse ``publication.json``; DatasetError naming ``where`` if it is not one."""
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise DatasetError(f"{where} is not valid JSON ({err})") from None
        names = {f.name for f in fields(cls)}
        if not isinstance(doc, dict) or not set(doc) <= names:
            raise DatasetError(f"{where} is not a cfasim publication file (keys {sorted(names)})")
        if not all(isinstance(v, str) for v in doc.values()):
            raise DatasetError(f"{where}: every value must be text")
        return cls(**doc)


def check_license(text: str) -> str:
    """A licence as a URL: an http(s) URL as given, or an SPDX licence id (``CC-BY-4.0``,
    ``MIT``; any case) as its ``https://spdx.org/licenses/ID.html`` page (``CC0-1.0`` as the
    Creative Commons CC0 1.0 URL the card recognises).

    Raises
    ------
    cfasim.errors.ConfigError
        If ``text`` is neither an http(s) URL nor a known SPDX licence id.
    """
    text = text.strip()
    parsed = urlparse(text)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return text
    canonical = _spdx_id(text) if _SPDX_ID.match(text) else None
    if canonical is None:
        raise ConfigError(
            f"licence {text!r} is neither an http(s) URL nor an SPDX licence id (e.g. "
            "CC-BY-4.0, CC0-1.0, MIT; list: https://spdx.org/licenses/)"
        )
    return CC0_URL if canonical == "CC0-1.0" else SPDX_URL.format(canonical)


def _spdx_id(text: str) -> str | None:
    """The canonical SPDX id of ``text`` (one licence, no expression), or None if unknown."""
    from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

    try:
        canonical = canonicalize_license_expression(text)
    except InvalidLicenseExpression:
        return None
    return None if canonical.startswith("LicenseRef-") else canonical


def check_date(text: str) -> str:
    """An ISO calendar date ``YYYY-MM-DD`` (returned as given); ConfigError otherwise."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        datetime.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"date {text!r} is not a calendar date YYYY-MM-DD") from None
    return text


def check_version(text: str) -> str:
    """A semantic version ``X.Y.Z`` (returned as given); ConfigError otherwise."""
    if not _VERSION.match(text):
        raise ConfigError(f"version {text!r} is not a semantic version X.Y.Z (e.g. 1.0.0)")
    return text


def check_url(text: str) -> str:
    """An absolute URL (any scheme with a location, e.g. https://, s3://); ConfigError
    otherwise."""
    parsed = urlparse(text)
    if not (parsed.scheme and (parsed.netloc or parsed.path)) or " " in text:
        raise ConfigError(f"url {text!r} is not an absolute URL (e.g. https://example.org/data)")
    return text


def check_publication(pub: Publication) -> Publication:
    """``pub`` with its licence as a URL and every set field checked (ConfigError naming the
    first bad one)."""
    changes = {}
    if pub.license is not None:
        changes["license"] = check_license(pub.license)
    if pub.date_published is not None:
        check_date(pub.date_published)
    if pub.version is not None:
        check_version(pub.version)
    if pub.url is not None:
        check_url(pub.url)
    for name in ("creator", "citation"):
        value = getattr(pub, name)
        if value is not None and not value.strip():
            raise ConfigError(f"{name} is empty")
    return replace(pub, **changes)
