"""What the crc32c on every chunk costs: `generate`, whole-sample reads and training crops.

    python benchmarks/bench_checksums.py [--count 128] [--patch 288] [--repeats 5]

Builds the same nona dataset with and without the crc32c codec (stores without it are what
cfasim wrote before the codec was added, and still open), interleaving the two so that a noisy
machine slows both alike, then reads both: every sample through ``cfasim.open_dataset``, and
random 252x252 training crops (252: a multiple of the nona period) through
``cfasim.train.data.CFADataset`` (needs torch; skipped without it). Prints medians and the ratio
with/without checksums, measured in this process.
"""

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from cfasim import open_dataset
from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.store import schema as dataset


def without_crc(kind):
    return _compressors(kind)[:1]


_compressors = dataset._compressors


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def build_store(config, out, crc: bool):
    dataset._compressors = _compressors if crc else without_crc
    try:
        return timed(lambda: build(plan(config), out, workers=2, progress=False))
    finally:
        dataset._compressors = _compressors


def read_all(path):
    split = open_dataset(path)["train"]
    for i in range(len(split)):
        split[i]


def crops(path, n, crop):
    from cfasim.train.data import CFADataset

    ds = CFADataset(str(path), split="train", crop=crop, augment=True, seed=0)
    rng = random.Random(0)
    for _ in range(n):
        ds[rng.randrange(len(ds))]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=128)
    ap.add_argument("--patch", type=int, default=288)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--crops", type=int, default=200)
    args = ap.parse_args()
    config = GenerateConfig(pattern="nona", count=args.count, patch=args.patch, clean=True)
    config = config.validated()
    print(f"# {cpu_model()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"# nona, {args.count} x {args.patch}^2 with clean, 2 workers; median of {args.repeats}")
    times = {"generate": {True: [], False: []}, "read": {True: [], False: []}}
    try:
        import torch  # noqa: F401

        times["crops"] = {True: [], False: []}
    except ImportError:
        print("# torch not installed: training crops skipped")
    with tempfile.TemporaryDirectory() as tmp:
        stores = {}
        for crc in (True, False):  # warm-up: JIT, caches
            stores[crc] = Path(tmp) / f"warm-{crc}.zarr"
            build_store(config, stores[crc], crc)
        for i in range(args.repeats):
            for crc in (True, False) if i % 2 else (False, True):
                out = Path(tmp) / f"run{i}-{crc}.zarr"
                times["generate"][crc].append(build_store(config, out, crc))
                times["read"][crc].append(timed(lambda c=crc: read_all(stores[c])))
                if "crops" in times:
                    times["crops"][crc].append(
                        timed(lambda c=crc: crops(stores[c], args.crops, 252))
                    )
    units = {
        "generate": (args.count, "samples/s"),
        "read": (config.split_counts()["train"], "samples/s"),
        "crops": (args.crops, "crops/s"),
    }
    print("| stage | without crc32c | with crc32c | with / without |")
    print("|---|---|---|---|")
    for stage, by in times.items():
        n, unit = units[stage]
        off, on = statistics.median(by[False]), statistics.median(by[True])
        print(f"| {stage} | {n / off:.0f} {unit} | {n / on:.0f} {unit} | {off / on:.3f} |")


if __name__ == "__main__":
    main()
