"""cfasim: simulated camera RAW for Bayer and non-Bayer colour filter arrays."""

__version__ = "0.1.0"
