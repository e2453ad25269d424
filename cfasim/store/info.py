"""``cfasim info``: a human summary of a store, robust to a damaged split."""

from __future__ import annotations

from pathlib import Path

import zarr

from cfasim.errors import DatasetError
from cfasim.store.fs import is_url
from cfasim.store.schema import ATTRS_KEY, SPLITS
from cfasim.store.status import open_root, unfinished_message


def _describe_split(root: zarr.Group, path, split: str, expected: int | None) -> str | None:
    """One line of :func:`describe`: samples, data arrays and size of one split."""
    if split not in root:
        if expected:
            raise DatasetError(f"the split group is missing ({expected} samples expected)")
        return None
    g = root[split]
    count = g.attrs.get("count")
    if count is None or (expected is not None and count != expected):
        raise DatasetError(f"its count is {count!r}, the root attributes say {expected}")
    parts = []
    for name in ("raw", "target", "clean"):
        if name in g:
            arr = g[name]
            parts.append(f"{name} {tuple(arr.shape)} {arr.dtype}")
    local = not is_url(path) and Path(path, split).is_dir()
    size = directory_size(Path(path) / split) if local else 0
    return f"{split:<12} {count} samples  {'; '.join(parts) or '-'}  {size / 2**20:.1f} MiB"


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def describe(path) -> str:
    """Human summary of a dataset: pattern, splits, shapes, noise, sizes on disk."""
    root = open_root(path)
    a = root.attrs[ATTRS_KEY]
    cfg = a["config"]
    pat = a["pattern"]
    lines = [
        f"dataset      {path}",
        f"status       {a['status']}"
        + (
            ""
            if a["status"] == "complete"
            else f"  (INCOMPLETE: {unfinished_message(path, a['status'])})"
        ),
        f"format       cfasim format {a['format_version']} (written by cfasim {a['version']})",
        f"pattern      {pat['name']}  tile {pat['tile_text']}  period "
        f"{pat['period'][0]}x{pat['period'][1]}",
        f"source       {cfg['source']}  ({len(a['sources'])} source entries)",
        f"noise        {cfg['noise']}"
        + (
            f" (physics: {a['sensor_profile']['name']} at ISO {cfg['iso']:g}, sensor seed "
            f"{cfg.get('sensor_seed', 0)}, optics {cfg.get('optics') or 'none'})"
            if cfg["noise"] == "sensor"
            else ""
        ),
        f"raw format   {a['raw_format']['bits']}-bit, black {a['raw_format']['black']}, "
        f"white {a['raw_format']['white']}",
        f"isp          transfer {cfg['transfer']}, tone curve {'on' if cfg['tone'] else 'off'}, "
        + (f"camera {cfg['camera']} (fixed)" if cfg.get("camera") else "random camera per sample"),
        f"seed         {a['seed']}",
    ]
    for split in SPLITS:
        try:
            line = _describe_split(root, path, split, a.get("splits", {}).get(split))
        except Exception as err:  # a damaged split is reported, not a crash
            line = f"{split:<12} DAMAGED ({type(err).__name__}: {err}); run cfasim validate {path}"
        if line:
            lines.append(line)
    if not is_url(path) and Path(path).is_dir():
        lines.append(f"total        {directory_size(Path(path)) / 2**20:.1f} MiB on disk")
    return "\n".join(lines)
