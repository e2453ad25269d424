"""cfasim: simulated camera RAW for Bayer and non-Bayer colour filter arrays."""

__version__ = "0.1.0"
DISTRIBUTION = "cfasim-isp"
"""The name to ``pip install`` (``cfasim`` on PyPI is an unrelated project)."""


def open_dataset(path_or_url, storage_options=None):
    """Open a cfasim dataset read-only (see :func:`cfasim.data.reader.open_dataset`)."""
    from cfasim.data.reader import open_dataset as _open

    return _open(path_or_url, storage_options)
