"""``cfasim info``: a summary of a store, robust to a damaged split; as text
(:func:`describe`) or as plain data (:func:`info_record`, ``cfasim info --json``)."""

from __future__ import annotations

from pathlib import Path

import zarr

from cfasim.errors import DatasetError
from cfasim.store.fs import is_url
from cfasim.store.schema import ATTRS_KEY, SPLITS
from cfasim.store.status import open_root, unfinished_message

MIB = 2**20


def _split_record(root: zarr.Group, path, split: str, expected: int | None) -> dict | None:
    """One split of :func:`info_record`: samples, data arrays and bytes on disk."""
    if split not in root:
        if expected:
            raise DatasetError(f"the split group is missing ({expected} samples expected)")
        return None
    g = root[split]
    count = g.attrs.get("count")
    if count is None or (expected is not None and count != expected):
        raise DatasetError(f"its count is {count!r}, the root attributes say {expected}")
    arrays = {}
    for name in ("raw", "target", "clean"):
        if name in g:
            arr = g[name]
            arrays[name] = {"shape": list(arr.shape), "dtype": str(arr.dtype)}
    local = not is_url(path) and Path(path, split).is_dir()
    size = directory_size(Path(path) / split) if local else None
    return {"count": count, "arrays": arrays, "bytes": size}


def directory_size(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def info_record(path) -> dict:
    """What ``cfasim info`` shows, as plain data (the ``--json`` schema, docs/cli.md).

    Parameters
    ----------
    path : str or os.PathLike
        A cfasim store (path or fsspec URL).

    Returns
    -------
    dict
        ``dataset``, ``status``, ``incomplete`` (a message, or None when complete),
        ``format_version``, ``cfasim_version``, ``pattern`` (``name``, ``tile_text``,
        ``period``), ``source``, ``source_entries``, ``noise``, ``sensor`` (``name``, ``iso``,
        ``sensor_seed``, ``optics``; None without physics noise), ``raw_format`` (``bits``,
        ``black``, ``white``), ``isp`` (``transfer``, ``tone``, ``camera``), ``seed``,
        ``splits`` (per split: ``count``, ``arrays`` of ``shape`` and ``dtype``, ``bytes`` on
        disk or None for a URL; a damaged split: ``damaged``, the error) and ``bytes`` (the
        whole store on disk, None for a URL).
    """
    root = open_root(path)
    a = root.attrs[ATTRS_KEY]
    cfg, pat, fmt = a["config"], a["pattern"], a["raw_format"]
    sensor = None
    if cfg["noise"] == "sensor":
        sensor = {
            "name": a["sensor_profile"]["name"],
            "iso": cfg["iso"],
            "sensor_seed": cfg.get("sensor_seed", 0),
            "optics": cfg.get("optics") or None,
        }
    record = {
        "dataset": str(path),
        "status": a["status"],
        "incomplete": None if a["status"] == "complete" else unfinished_message(path, a["status"]),
        "format_version": a["format_version"],
        "cfasim_version": a["version"],
        "pattern": {
            "name": pat["name"],
            "tile_text": pat["tile_text"],
            "period": list(pat["period"]),
        },
        "source": cfg["source"],
        "source_entries": len(a["sources"]),
        "noise": cfg["noise"],
        "sensor": sensor,
        "raw_format": {k: fmt[k] for k in ("bits", "black", "white")},
        "isp": {"transfer": cfg["transfer"], "tone": cfg["tone"], "camera": cfg.get("camera")},
        "seed": a["seed"],
        "splits": {},
    }
    for split in SPLITS:
        try:
            one = _split_record(root, path, split, a.get("splits", {}).get(split))
        except Exception as err:  # a damaged split is reported, not a crash
            one = {"damaged": f"{type(err).__name__}: {err}"}
        if one is not None:
            record["splits"][split] = one
    local = not is_url(path) and Path(path).is_dir()
    record["bytes"] = directory_size(Path(path)) if local else None
    return record


def _split_line(path, split: str, s: dict) -> str:
    if "damaged" in s:
        return f"{split:<12} DAMAGED ({s['damaged']}); run cfasim validate {path}"
    parts = [f"{n} {tuple(a['shape'])} {a['dtype']}" for n, a in s["arrays"].items()]
    size = (s["bytes"] or 0) / MIB
    return f"{split:<12} {s['count']} samples  {'; '.join(parts) or '-'}  {size:.1f} MiB"


def describe(path) -> str:
    """Human summary of a dataset: pattern, splits, shapes, noise, sizes on disk (the text of
    :func:`info_record`)."""
    r = info_record(path)
    pat, fmt, isp, sensor = r["pattern"], r["raw_format"], r["isp"], r["sensor"]
    lines = [
        f"dataset      {path}",
        f"status       {r['status']}"
        + (f"  (INCOMPLETE: {r['incomplete']})" if r["incomplete"] else ""),
        f"format       cfasim format {r['format_version']} "
        f"(written by cfasim {r['cfasim_version']})",
        f"pattern      {pat['name']}  tile {pat['tile_text']}  period "
        f"{pat['period'][0]}x{pat['period'][1]}",
        f"source       {r['source']}  ({r['source_entries']} source entries)",
        f"noise        {r['noise']}"
        + (
            f" (physics: {sensor['name']} at ISO {sensor['iso']:g}, sensor seed "
            f"{sensor['sensor_seed']}, optics {sensor['optics'] or 'none'})"
            if sensor
            else ""
        ),
        f"raw format   {fmt['bits']}-bit, black {fmt['black']}, white {fmt['white']}",
        f"isp          transfer {isp['transfer']}, tone curve {'on' if isp['tone'] else 'off'}, "
        + (f"camera {isp['camera']} (fixed)" if isp["camera"] else "random camera per sample"),
        f"seed         {r['seed']}",
    ]
    lines += [_split_line(path, name, s) for name, s in r["splits"].items()]
    if r["bytes"] is not None:
        lines.append(f"total        {r['bytes'] / MIB:.1f} MiB on disk")
    return "\n".join(lines)
