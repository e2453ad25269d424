"""End-to-end `generate` throughput (plan + Dask build + Zarr writes) for 1 and 2 workers.

    python benchmarks/bench_generate.py [--pattern nona] [--count 256] [--patch 288] [--repeats 3]

Built-in dead-leaves scenes, Brooks noise, default storage settings; the store is written to a
temporary folder. Prints a Markdown table of medians: samples/s and Mpx/s (RAW pixels).
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from cfasim.pipeline import GenerateConfig, build, plan


def run_once(config, workers, out):
    t0 = time.perf_counter()
    build(plan(config, workers=workers), out, workers=workers, progress=False)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pattern", default="nona")
    ap.add_argument("--count", type=int, default=256)
    ap.add_argument("--patch", type=int, default=288)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    config = GenerateConfig(pattern=args.pattern, count=args.count, patch=args.patch).validated()
    mpx = args.count * args.patch**2 / 1e6
    print(f"# generate: {args.pattern}, {args.count} x {args.patch}^2 ({mpx:.1f} Mpx), builtin")
    print("| workers | median s | samples/s | Mpx/s | vs 1 worker |")
    print("|---|---|---|---|---|")
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        run_once(config, 1, Path(tmp) / "warm.zarr")  # JIT compile / load caches
        for w in (int(v) for v in args.workers.split(",")):
            times = [run_once(config, w, Path(tmp) / f"w{w}-{i}.zarr") for i in range(args.repeats)]
            t = statistics.median(times)
            base = base or t
            print(f"| {w} | {t:.2f} | {args.count / t:.0f} | {mpx / t:.1f} | {base / t:.2f}x |")


if __name__ == "__main__":
    main()
