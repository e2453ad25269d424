"""Training-loader throughput: random crops/s of `cfasim.train.data.CFADataset` through a
torch DataLoader, for 0 and 2 workers, with and without the clean image, from a local path and
from an fsspec URL (``file://``, the remote code path without a network).

    python benchmarks/bench_loader.py [--store S.zarr] [--crop 256] [--batches 40] [--repeats 3]

Without ``--store`` a Quad store (128 samples of 288x288, ``--clean``) is generated in a
temporary folder. Every crop is augmented (flips / rotations) as in training and drawn by the
shard-aware sampler. Prints the CPU, the load average and a Markdown table of medians with the
ratio against the first row (zarr's own reads, as before ``cfasim.store.shard_files``, 0 workers,
local, no clean), measured in the same process; ``crops per sample`` is
``data.crops_per_sample`` (several random crops of one decoded sample in a batch).
"""

import argparse
import contextlib
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.store import shard_files
from cfasim.train.data import CFADataset, ShardAwareSampler


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def crops_per_second(path, crop, workers, clean, per_sample, batches, batch_size):
    """Crops/s of one pass over ``batches`` batches (the workers' start-up included)."""
    ds = CFADataset(path, "train", crop=crop, augment=True, with_clean=clean,
                    crops_per_sample=per_sample)  # fmt: skip
    sampler = ShardAwareSampler(ds, batch_size, shuffle=True, seed=0, drop_last=True)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=workers)
    t0, n, epoch = time.perf_counter(), 0, 0
    while n < batches:
        for batch in loader:
            n += 1
            if batch["raw"].shape[-1] != crop:
                raise RuntimeError(f"got crops of {tuple(batch['raw'].shape)}, not {crop}")
            if n == batches:
                break
        epoch += 1
        ds.set_epoch(epoch)
        sampler.set_epoch(epoch)
    return batches * batch_size / (time.perf_counter() - t0)


@contextlib.contextmanager
def zarr_reads():
    """Every read through zarr (the reader before cfasim.store.shard_files), forked workers too."""
    saved = shard_files.ShardedArray.for_array
    shard_files.ShardedArray.for_array = classmethod(lambda cls, *a: None)
    try:
        yield
    finally:
        shard_files.ShardedArray.for_array = saved


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="an existing store (default: a temporary one)")
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", default="0,2")
    ap.add_argument("--crops-per-sample", default="1,2", help="values of crops_per_sample")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            store = Path(tmp) / "quad.zarr"
            cfg = GenerateConfig(pattern="quad", count=128, patch=288, clean=True).validated()
            build(plan(cfg), store, workers=1, progress=False)
        store = store.resolve()
        print(f"# loader: {store.name}, crop {args.crop}, batch {args.batch_size}, "
              f"{args.batches} batches, median of {args.repeats}; {cpu_model()}, "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")  # fmt: skip
        print("| reader | source | workers | clean | crops per sample | median crops/s "
              "| vs first row |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        workers = [int(w) for w in args.workers.split(",")]
        per_sample = [int(k) for k in args.crops_per_sample.split(",")]
        rows = [("zarr", "local", store, w, False, 1) for w in workers]
        rows += [("shard files", source, path, w, clean, k)
                 for source, path in (("local", store), ("file:// URL", store.as_uri()))
                 for w in workers for clean in (False, True) for k in per_sample]  # fmt: skip
        base = None
        for reader, source, path, w, clean, k in rows:
            settings = (path, args.crop, w, clean, k, args.batches, args.batch_size)
            with zarr_reads() if reader == "zarr" else contextlib.nullcontext():
                rate = statistics.median(crops_per_second(*settings) for _ in range(args.repeats))
            base = base or rate
            print(f"| {reader} | {source} | {w} | {'yes' if clean else 'no'} | {k} | {rate:.0f} "
                  f"| {rate / base:.2f}x |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
