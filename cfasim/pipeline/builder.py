"""Building a store from a plan: create it, render every missing shard with Dask (one task per
shard), finalise it; under the output's lock, replacing an old dataset only once the new one is
complete (:mod:`cfasim.store.output`) and resuming an interrupted build."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import zarr

from cfasim import __version__
from cfasim.errors import DatasetError
from cfasim.pipeline.planning import Plan, changed_sources, source_digest
from cfasim.pipeline.render import render_shard
from cfasim.store import schema as dataset
from cfasim.store.finalize import finalize, is_finalized
from cfasim.store.fs import StoreFS, is_url, zarr_store
from cfasim.store.generate_config import config_dict
from cfasim.store.lock import build_lock
from cfasim.store.output import (
    Output,
    check_output,
    clear_staging,
    is_cfasim_store,
    recover_swap,
    staging_path,
    swap_in,
)
from cfasim.store.status import open_root, set_status


def create_store(p: Plan, out: Path) -> None:
    """Write root attributes and every split's metadata; data arrays are created empty."""
    cfg = p.config
    attrs = {
        "format_version": dataset.FORMAT_VERSION,
        "version": __version__,
        "status": "creating",
        "pattern": p.pattern.to_dict(),
        "config": config_dict(cfg),
        "seed": cfg.seed,
        "raw_format": {"bits": p.fmt.bits, "black": p.fmt.black, "white": p.fmt.white},
        "sources": p.sources,
        "source_digest": source_digest(p.sources),
        "splits": {s.name: s.count for s in p.splits},
        "noise_key": "Philox4x32-10, key = seed, counter = (x // 2, y, sample_index, 0)",
        **({"sensor_profile": p.profile.to_dict()} if p.profile else {}),
    }
    root = zarr.open_group(zarr_store(out), mode="w", attributes={dataset.ATTRS_KEY: attrs})
    for sp in p.splits:
        arrays = dataset.DataArrays(
            sp.count, cfg.patch, cfg.patch, cfg.scale, cfg.shard_samples, cfg.clean
        )
        dataset.create_split(root, sp.name, arrays, sp.meta)
    set_status(root, "building")  # every array exists: from here on a build can resume


def shard_jobs(p: Plan) -> list[tuple[str, int, int]]:
    """(split, start, stop) of every shard: one writer task each."""
    return [
        (sp.name, a, b)
        for sp in p.splits
        for a, b in dataset.shard_ranges(sp.count, p.config.shard_samples)
    ]


def finished_shards(p: Plan, out) -> set[tuple[str, int, int]]:
    """Shards whose files exist for every data array (LocalStore writes whole files
    atomically, and an object store makes an object visible only once it is whole, so an
    existing shard file is a complete one)."""
    names = ["raw", "target"] + (["clean"] if p.config.clean else [])
    root, fs = zarr.open_group(zarr_store(out), mode="r"), StoreFS(out)
    done = set()
    for split, a, b in shard_jobs(p):
        index = a // p.config.shard_samples
        keys = []
        for name in names:
            meta = root[split][name].metadata
            keys.append(meta.encode_chunk_key((index,) + (0,) * (len(meta.shape) - 1)))
        if all(fs.is_file(f"{split}/{name}/{key}") for name, key in zip(names, keys, strict=True)):
            done.add((split, a, b))
    return done


def stored_config(out) -> dict | None:
    """The generation config stored in a cfasim store (None if there is none)."""
    try:
        return dict(open_root(out).attrs[dataset.ATTRS_KEY]["config"])
    except (DatasetError, KeyError, TypeError):
        return None


def store_status(p: Plan, out) -> str | None:
    """Status of an existing store of exactly this configuration (``creating``, ``building``,
    ``complete``), None if there is none; raises if ``out`` holds a different dataset."""
    try:
        attrs = open_root(out).attrs[dataset.ATTRS_KEY]
    except DatasetError:
        return None
    stored, wanted = attrs["config"], config_dict(p.config)
    if stored != wanted:
        diff = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        raise DatasetError(
            f"cannot resume {out}: it was generated with different settings ({', '.join(diff)})"
        )
    changed = changed_sources(attrs.get("sources", []), p.sources)
    if changed:
        shown = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        raise DatasetError(
            f"cannot resume {out}: source file(s) changed since it was started: {shown}; "
            f"restore them or start again with --overwrite"
        )
    return attrs["status"]


def build(
    p: Plan,
    out: Path,
    workers: int = 1,
    progress: bool | None = None,
    resume: bool = False,
    client=None,
    overwrite: bool = False,
) -> int:
    """Create the store and render every shard, one Dask task per shard; returns the number
    of shards rendered. Holds the output's build lock throughout (:mod:`cfasim.store.lock`).

    ``resume``: continue an interrupted build of the same configuration and sources,
    rendering only the shards whose files are missing (complete shards are not rewritten),
    or finish the finalisation of a store a kill left ``finalizing``. ``overwrite``: replace
    an existing cfasim dataset; locally the new one is built beside it and swapped in only
    once complete (:mod:`cfasim.store.output`). Nothing that is not a cfasim dataset is ever
    deleted. ``client``: a ``dask.distributed`` client (a cluster); otherwise ``workers``
    local threads.
    """
    out = out if is_url(out) else Path(out)
    with build_lock(out):
        recover_swap(out)
        target, status = _build_target(p, out, overwrite, resume)
        if status == "complete":
            return 0
        if status == "building":
            for leftover in [] if is_url(target) else target.rglob("*.partial"):
                leftover.unlink()  # half-written temporaries of a killed writer
            done = finished_shards(p, target)
        elif status == "finalizing":
            done = set(shard_jobs(p))
        else:
            create_store(p, target)
            done = set()
        jobs = [j for j in shard_jobs(p) if j not in done]
        _render_shards(p, target, jobs, workers, progress, client)
        finalize(target, [sp.name for sp in p.splits])  # card, checksums, then complete
        if target != out:
            swap_in(target, out)
        return len(jobs)


def _build_target(p: Plan, out, overwrite: bool, resume: bool):
    """(where to build, the status of the store already there: None for a fresh build)."""
    if resume:
        staged = None if is_url(out) else staging_path(out)
        for candidate in [staged, out]:  # a killed replacement build continues where it was
            if candidate is None or not is_cfasim_store(candidate):
                continue
            if candidate == staged and stored_config(candidate) != config_dict(p.config):
                continue  # a replacement with other settings: --overwrite starts it afresh
            status = store_status(p, candidate)
            if status == "complete" and not is_finalized(candidate):
                status = "finalizing"  # written by an older cfasim, killed before its card
            if status in ("building", "finalizing", "complete"):
                return candidate, status
    decision = check_output(out, overwrite, resume)
    if decision in (Output.REPLACE, Output.RESUME):  # RESUME: a store still "creating"
        if is_url(out):
            StoreFS(out).remove_all()  # object stores cannot swap: planning has succeeded
        elif decision == Output.REPLACE:
            return clear_staging(out), None
    return out, None


def _render_shards(p: Plan, out, jobs, workers: int, progress: bool | None, client) -> None:
    """Run one Dask task per shard job, with a progress bar of completed samples."""
    import dask
    from tqdm import tqdm

    render = dask.delayed(partial(render_shard, p, str(out)), pure=True, traverse=False)
    tasks = [render(*job, dask_key_name=f"shard-{job[0]}-{job[1]}") for job in jobs]
    show = sys.stderr.isatty() if progress is None else progress
    total = sum(b - a for _, a, b in jobs)
    with tqdm(total=total, unit="sample", disable=not show, desc="generate") as bar:
        if client is not None:
            from distributed import as_completed

            for future in as_completed(client.compute(tasks)):
                bar.update(future.result())
        else:
            from dask.diagnostics import Callback

            class _Progress(Callback):
                def _posttask(self, key, result, dsk, state, worker_id):
                    if isinstance(result, int):
                        bar.update(result)

            with _Progress():
                dask.compute(*tasks, scheduler="threads", num_workers=workers)
