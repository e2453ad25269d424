"""The files of a dataset store: a local folder or an fsspec URL (``s3://``, ``gs://``,
``file://``, ``memory://``...).

Local folders are walked with ``os`` (links are reported, never followed); URLs go through
fsspec, with credentials from the filesystem's usual environment (e.g. ``AWS_*`` for s3fs).
Writers of the dataset pipeline, the checksum manifest, the card and ``validate`` all use this
one interface, so a store on an object store is built and checked like a local one.
"""

from __future__ import annotations

import os
from pathlib import Path


def is_url(path) -> bool:
    """True for an fsspec URL (``protocol://...``), False for a local path."""
    return isinstance(path, str) and "://" in path


def storage_options(url: str) -> dict:
    """fsspec options cfasim needs for ``url``: local ``file://`` URLs create parent folders
    on write (object stores have no folders)."""
    return {"auto_mkdir": True} if url.split("://", 1)[0] in ("file", "local") else {}


def zarr_store(path):
    """What to hand to ``zarr.open_group`` / ``zarr.consolidate_metadata`` for ``path``."""
    if not is_url(path):
        return str(path)
    import zarr

    return zarr.storage.FsspecStore.from_url(path, storage_options=storage_options(path))


class StoreFS:
    """Relative-path file access below a store root.

    Parameters
    ----------
    root : str or os.PathLike
        A local folder or an fsspec URL.
    """

    def __init__(self, root):
        self.url = is_url(root)
        if self.url:
            import fsspec

            self.fs, self.base = fsspec.core.url_to_fs(root, **storage_options(root))
            self.base = self.base.rstrip("/")
            self.local = None
        else:
            self.fs, self.base = None, None
            self.local = Path(root)
        self.root = root

    def __str__(self) -> str:
        return str(self.root)

    def _full(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def is_dir(self) -> bool:
        """The root exists as a folder (a prefix holding files, for object stores)."""
        if not self.url:
            return self.local.is_dir()
        return self.fs.isdir(self.base)

    def exists(self) -> bool:
        if not self.url:
            return self.local.exists() or self.local.is_symlink()
        return self.fs.exists(self.base)

    def walk(self) -> tuple[list[str], list[str]]:
        """``(files, links)``: every file's relative POSIX path, sorted, and (local folders only)
        links to folders, which are not followed."""
        if self.url:
            found = self.fs.find(self.base, withdirs=False)
            prefix = self.base + "/"
            return sorted(p[len(prefix) :] for p in found if p.startswith(prefix)), []
        files, links = [], []
        for dirpath, dirnames, filenames in os.walk(self.local):
            dirnames.sort()
            base = Path(dirpath).relative_to(self.local)
            for d in dirnames:
                if (Path(dirpath) / d).is_symlink():
                    links.append((base / d).as_posix())
            for name in sorted(filenames):
                files.append((base / name).as_posix())
        return files, links

    def location(self, rel: str):
        """``rel`` as a local Path, or as a URL string."""
        return f"{str(self.root).rstrip('/')}/{rel}" if self.url else self.local / rel

    def has(self, rel: str) -> bool:
        """A file or folder exists at ``rel``."""
        return self.fs.exists(self._full(rel)) if self.url else (self.local / rel).exists()

    def is_file(self, rel: str) -> bool:
        """A regular file (local links do not count)."""
        if self.url:
            return self.fs.isfile(self._full(rel))
        p = self.local / rel
        return p.is_file() and not p.is_symlink()

    def size(self, rel: str) -> int:
        return self.fs.size(self._full(rel)) if self.url else (self.local / rel).stat().st_size

    def open(self, rel: str):
        """Binary reader of a file."""
        return self.fs.open(self._full(rel), "rb") if self.url else open(self.local / rel, "rb")

    def read_bytes(self, rel: str) -> bytes:
        return self.fs.cat_file(self._full(rel)) if self.url else (self.local / rel).read_bytes()

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode()

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a whole file, creating its folder (locally through a temporary file and a
        rename)."""
        if self.url:
            self.fs.pipe_file(self._full(rel), data)
            return
        target = self.local / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def remove_all(self) -> None:
        """Delete the root and everything below it."""
        if self.url:
            self.fs.rm(self.base, recursive=True)
        else:
            import shutil

            shutil.rmtree(self.local)
