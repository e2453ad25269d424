"""Rendering one shard: every sample of it from its source and planned parameters, then one
write of the whole shard (never two writers on one shard, the zarr v3 rule)."""

from __future__ import annotations

import numpy as np
import zarr

from cfasim.isp.steps import UnprocessParams
from cfasim.pipeline.planning import Plan
from cfasim.pipeline.source_kinds import source_kind
from cfasim.sim.noise import NoiseLevels
from cfasim.store.fs import StoreFS, zarr_store
from cfasim.store.shard_files import ShardedArray


def render_shard(p: Plan, out: str, split: str, start: int, stop: int, parallel: bool = False):
    """Render samples [start, stop) of ``split`` and write them as one whole shard."""
    sp = next(s for s in p.splits if s.name == split)
    cfg, m, kind = p.config, sp.meta, source_kind(p.config)
    n, h, t = stop - start, cfg.patch, cfg.patch * cfg.scale
    raw = np.empty((n, h, h), dtype=np.uint16)
    target = np.empty((n, t, t, 3), dtype=np.uint8)
    clean = np.empty((n, h, h, 3), dtype=np.float16) if cfg.clean else None
    cached_id, cached = -1, None
    optics = p.optics if p.profile is not None else None
    psf = optics.psf() if optics is not None else None  # a user kernel file is read once
    for i, j in enumerate(range(start, stop)):
        sid = int(m["source_id"][j])
        if sid != cached_id:
            cached, cached_id = kind.load(p.root, p.sources[sid], p.fmt), sid
        crop = tuple(int(v) for v in m["crop_box"][j])
        sample = None if kind.real_pairs else _sample(p, m, j, parallel)
        raw[i], target[i], lin = kind.render(p, cached, crop, sample)
        if p.profile is not None:
            lin, raw[i] = sensor_raw(p, lin, optics, psf, sample["key"]["sample"], parallel)
        if clean is not None:
            clean[i] = lin
    g = zarr.open_group(zarr_store(out), mode="r+")[split]
    for name, values in (("raw", raw), ("target", target), ("clean", clean)):
        if values is not None:
            write_shard(g[name], out, f"{split}/{name}", start, stop, values)
    return stop - start


def write_shard(array: zarr.Array, out: str, rel: str, start: int, stop: int, values) -> None:
    """Samples [start, stop) (one whole shard) of ``array``: encoded here and written as one
    file (:mod:`cfasim.store.shard_files`, the bytes zarr would write), or by zarr for other
    layouts."""
    writer = ShardedArray.for_array(array.metadata.to_dict(), StoreFS(out), rel)
    if writer is None or start % writer.per_shard:
        array[start:stop] = values
    else:
        writer.write_shard(start // writer.per_shard, values)


def _sample(p: Plan, m: dict, j: int, parallel: bool) -> dict:
    """The planned parameters of sample ``j`` of a split (see ``SourceKind.render``)."""
    cfg = p.config
    params = UnprocessParams(
        m["xyz2cam"][j],
        float(m["wb_gains"][j][0]),
        float(m["wb_gains"][j][2]),
        float(m["digital_gain"][j]),
        cfg.transfer,
        cfg.tone,
    )
    levels = NoiseLevels(float(m["shot_noise"][j]), float(m["read_noise"][j]))
    key = {
        "seed": cfg.seed,
        "sample": int(m["sample_index"][j]),
        "clean": cfg.clean,
        "parallel": parallel,
    }
    if p.profile is not None:  # the colour kernel gives the clean signal, the sensor the rest
        levels, key["clean"] = NoiseLevels(0.0, 0.0), True
    return {"params": params, "levels": levels, "seed": int(m["seed"][j]), "key": key}


def sensor_raw(p: Plan, clean: np.ndarray, optics, psf, sample: int, parallel: bool):
    """Optics on the clean linear camera RGB (``psf`` = ``optics.psf()``, then shading; each
    patch is treated as a whole frame), then the sensor profile's physics (crosstalk, electrons,
    noise, blooming, ADC). Returns (the clean signal as it reaches the pixels, raw)."""
    from cfasim.sensor.optics import apply_psf
    from cfasim.sensor.physics import simulate_sensor

    cfg = p.config
    if psf is not None:
        clean = apply_psf(clean, psf)
    shading = optics.shading(*clean.shape[:2])
    if shading is not None:
        clean = clean * shading[..., None]
    clean = np.ascontiguousarray(clean, dtype=np.float32)
    raw = simulate_sensor(
        clean,
        p.pattern,
        p.profile,
        cfg.iso,
        seed=cfg.seed,
        sample=sample,
        sensor_seed=cfg.sensor_seed,
        exposure_time_s=cfg.exposure_time_s,
        crosstalk=optics.crosstalk_kernel(),
        blooming=optics.blooming,
        parallel=parallel,
    )
    return clean, raw
