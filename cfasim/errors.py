"""The errors cfasim raises for problems a user can fix: the CLI prints them as one line.

Every user-facing error derives from :class:`CfasimError` (and from ``ValueError``, so code that
caught ``ValueError`` before keeps working). Anything else that escapes a command is a bug and
keeps its traceback.
"""

from __future__ import annotations


class CfasimError(ValueError):
    """A problem with the user's input, files or environment, described in one line."""


class DatasetError(CfasimError):
    """A path that is not a usable cfasim dataset (missing, foreign, unfinished, damaged)."""


class UnknownSplitError(DatasetError, KeyError):
    """A split name the dataset does not have (a ``KeyError`` too, for ``dataset[split]``)."""

    __str__ = ValueError.__str__  # the message, not KeyError's quoted repr


class DatasetLockedError(DatasetError):
    """Another build holds the dataset's lock, or a dead build left a stale one."""


class SourceError(CfasimError):
    """A problem with the source images, RAW files or pairs (missing, changed, unusable)."""


class RawFormatError(CfasimError):
    """A RAW file that cannot be used: unreadable, non-Bayer, linear or without a CFA.

    Parameters
    ----------
    path
        The file.
    reason
        Short reason, e.g. ``"non-Bayer CFA (6x6 X-Trans)"``; the message is
        ``"unusable RAW file {path}: {reason}"``.
    """

    def __init__(self, path, reason: str):
        from pathlib import Path

        super().__init__(f"unusable RAW file {path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class ConfigError(CfasimError):
    """A configuration value that is unknown, of the wrong type or out of range."""


class CalibrationError(CfasimError):
    """Frames that do not support a photon-transfer calibration."""


class CheckpointError(CfasimError):
    """A file that is not a loadable cfasim checkpoint (never unpickled as code)."""
