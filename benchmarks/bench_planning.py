"""What stays on the driver of a build: planning, store creation and finalisation, per sample.

    python benchmarks/bench_planning.py [--counts 1000,10000,100000] [--repeats 3]

Planning (``cfasim.pipeline.plan``: every sample's crop, camera, white balance and noise) and
store creation (``create_store``: root, splits, empty data arrays and the metadata arrays) are
timed for each count of built-in dead-leaves samples (288x288 nona, default shards); they run
on the driver, once per build, whatever the number of workers. Finalisation (consolidated
metadata, the card and the checksums, which read every byte once) is timed on a store that is
actually built (``--built`` samples) and given per 10,000 samples. Prints the CPU, the load
average, medians and the per-sample cost's ratio against the smallest count (1.00: linear).
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_loader import cpu_model

from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.pipeline.builder import create_store
from cfasim.store import checksums
from cfasim.store.card import write_card
from cfasim.store.status import consolidate


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="1000,10000,100000")
    ap.add_argument("--built", type=int, default=256, help="samples of the finalised store")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"# driver-side work; {cpu_model()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}; median of {args.repeats}")  # fmt: skip
    print("| samples | plan s | µs / sample | create_store s | µs / sample | per-sample vs first |")
    print("|---|---|---|---|---|---|")
    tmp = Path(tempfile.mkdtemp())
    base = None
    try:
        for n in (int(c) for c in args.counts.split(",")):
            cfg = GenerateConfig(pattern="nona", count=n, patch=288).validated()
            t_plan = median_time(lambda cfg=cfg: plan(cfg), args.repeats)
            p = plan(cfg)

            def create(p=p):
                shutil.rmtree(tmp / "s.zarr", ignore_errors=True)
                create_store(p, tmp / "s.zarr")

            t_create = median_time(create, args.repeats)
            per = (t_plan + t_create) / n
            base = base or per
            print(f"| {n:,} | {t_plan:.3f} | {t_plan / n * 1e6:.0f} | {t_create:.3f} | "
                  f"{t_create / n * 1e6:.0f} | {per / base:.2f}x |", flush=True)  # fmt: skip
        out = tmp / "built.zarr"
        cfg = GenerateConfig(pattern="nona", count=args.built, patch=288).validated()
        build(plan(cfg), out, workers=2, progress=False)
        splits = ["train", "val", "test"]
        steps = {
            "consolidate": lambda: consolidate(out, splits),
            "consolidate + card": lambda: write_card(out, root_json=consolidate(out, splits)),
            "checksums": lambda: checksums.write_manifest(out),
        }
        print(f"\n| finalisation step ({args.built} samples built) | s | s per 10,000 samples |")
        print("|---|---|---|")
        for name, fn in steps.items():
            t = median_time(fn, args.repeats)
            print(f"| {name} | {t:.3f} | {t / args.built * 1e4:.1f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
