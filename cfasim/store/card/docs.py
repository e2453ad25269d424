"""Links from the dataset card to the pages of the cfasim documentation."""

from __future__ import annotations

DOCS = {
    "format": "dataset-format.md",
    "unprocessing": "unprocessing.md",
    "noise": "noise.md",
    "patterns": "patterns.md",
}
"""The documentation pages the card refers to, by topic."""


def doc_link(name: str, docs_url: str | None) -> str:
    """A Markdown link to the page of topic ``name`` under ``docs_url``, or its path in the
    cfasim sources when no docs URL is given."""
    page = DOCS[name]
    if docs_url:
        return f"[docs/{page}]({docs_url.rstrip('/')}/{page})"
    return f"`docs/{page}` of the cfasim sources"
