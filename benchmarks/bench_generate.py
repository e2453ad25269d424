"""End-to-end `generate` throughput against its own kernel, its worker count and JPEG decoding.

    python benchmarks/bench_generate.py [--pattern nona] [--count 256] [--patch 288]
                                        [--repeats 3] [--photos DIR] [--processes]

Measured in one process, medians of ``--repeats`` runs:

- the fused RAW kernel (``simulate_raw``, noise on, 2016x2016, 2 threads): the reference rate;
- ``generate`` on built-in dead-leaves scenes (plan + Dask build + shard writes + card and
  checksums), 1 and 2 threads (and, with ``--processes``, a ``LocalCluster`` of 1 and 2
  single-threaded processes, with the scheduler's round trip for a no-op task):
  Mpx/s of RAW written, as a fraction of the kernel's rate and against 1 worker;
- with ``--photos DIR`` (default: a folder of 16 JPEGs of 2048x1536 made from scikit-image's
  photos): decoding every JPEG once (``imagecodecs.jpeg8_decode``, what cfasim calls) against
  ``generate --source DIR`` with ``--per-photo`` samples per photo (default 4; a photo's
  samples are consecutive, so it is decoded once per shard), 2 workers: photos/s;
- where one shard's time goes (serial, cProfile): scene, kernel, encode + write, the rest.

Prints the CPU and the load average first: a loaded machine slows everything, the ratios less.
"""

import argparse
import contextlib
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import imagecodecs
import numba
import numpy as np
from bench_loader import cpu_model

from cfasim.cfa import get_pattern
from cfasim.isp.steps import UnprocessParams
from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.pipeline.builder import create_store
from cfasim.pipeline.render import render_shard
from cfasim.sim.noise import NoiseLevels
from cfasim.sim.simulate import RawFormat, simulate_raw


def median(fn, repeats):
    fn()  # warm-up: JIT, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def kernel_mpx_per_s(pattern, repeats, side=2016):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (side, side, 3)).astype(np.uint8)
    params, noise = UnprocessParams.sample(rng), NoiseLevels(4e-3, 2e-5)
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    t = median(lambda: simulate_raw(image, pattern, params, noise, RawFormat(), seed=1, sample=0),
               repeats)  # fmt: skip
    return side * side / 1e6 / t


RUNS = iter(range(10**9))  # a fresh output folder per build


def build_seconds(cfg, tmp, repeats, workers, client=None):
    def once():
        out = Path(tmp) / f"run-{next(RUNS)}.zarr"
        build(plan(cfg, workers=workers), out, workers=workers, progress=False, client=client)

    return median(once, repeats)


@contextlib.contextmanager
def local_cluster(processes: int):
    """A client of a LocalCluster of ``processes`` single-threaded processes (0: None)."""
    if not processes:
        yield None
        return
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=processes, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        yield client


def task_overhead(client, n=2000) -> float:
    """Seconds per no-op task submitted, run and gathered: the scheduler's cost per task."""
    t0 = time.perf_counter()
    client.gather(client.map(int, range(n), pure=False))
    return (time.perf_counter() - t0) / n


def make_photos(folder: Path, n=16) -> Path:
    """``n`` JPEGs of 2048x1536: scikit-image's photos, enlarged (a typical photo's size)."""
    from skimage import data, transform

    folder.mkdir(parents=True, exist_ok=True)
    photos = [
        data.astronaut(),
        data.chelsea(),
        data.coffee(),
        data.rocket(),
        data.stereo_motorcycle()[0],
    ]
    for i in range(n):
        big = transform.resize(photos[i % len(photos)], (1536, 2048), order=1)
        image = np.ascontiguousarray(np.flip(big, 1) if i >= len(photos) else big)
        (folder / f"p{i:02d}.jpg").write_bytes(
            imagecodecs.jpeg8_encode((image * 255).astype(np.uint8), level=92)
        )
    return folder


def stage_profile(cfg, tmp):
    """Seconds per sample of one serial shard, by stage."""
    p = plan(cfg)
    out = str(Path(tmp) / "profile.zarr")
    create_store(p, Path(out))
    split = p.splits[0]
    stop = min(cfg.shard_samples, split.count)
    render_shard(p, out, split.name, 0, stop)  # warm-up
    prof = cProfile.Profile()
    prof.runcall(render_shard, p, out, split.name, 0, stop)
    stats = pstats.Stats(prof).stats
    cum = {}
    for (file, _, name), (_, _, _, ct, _) in stats.items():
        cum[(Path(file).name, name)] = cum.get((Path(file).name, name), 0) + ct
    total = cum[("render.py", "render_shard")]
    stages = {
        "scene (dead leaves)": cum.get(("scenes.py", "dead_leaves"), 0.0),
        "RAW kernel": cum.get(("kernels.py", "raw_chain_serial"), 0.0),
        "encode + write shard": cum.get(("render.py", "write_shard"), 0.0),
    }
    stages["the rest"] = total - sum(stages.values())
    return {k: v / stop for k, v in stages.items()}, total / stop


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pattern", default="nona")
    ap.add_argument("--count", type=int, default=256)
    ap.add_argument("--patch", type=int, default=288)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--photos", type=Path, help="a folder of JPEGs (default: made here)")
    ap.add_argument("--processes", action="store_true", help="also a 2-process LocalCluster")
    ap.add_argument("--per-photo", type=int, default=4, help="samples per photo")
    args = ap.parse_args()
    pattern = get_pattern(args.pattern)
    cfg = GenerateConfig(pattern=args.pattern, count=args.count, patch=args.patch).validated()
    mpx = args.count * args.patch**2 / 1e6
    print(f"# generate: {args.pattern}, {args.count} x {args.patch}^2 ({mpx:.1f} Mpx); "
          f"{cpu_model()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
          f"median of {args.repeats}")  # fmt: skip
    kernel = kernel_mpx_per_s(pattern, max(3, args.repeats))
    print(f"\nfused kernel, 2 threads: {kernel:.1f} Mpx/s\n")
    print("| built-in scenes | median s | Mpx/s | vs kernel | vs 1 worker |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        base = None
        for label, workers, processes in [("1 thread", 1, False), ("2 threads", 2, False)] + (
            [("1 process", 1, True), ("2 processes", 2, True)] if args.processes else []
        ):
            with local_cluster(workers if processes else 0) as client:
                t = build_seconds(cfg, tmp, args.repeats, workers, client)
                overhead = task_overhead(client) if client is not None else None
            base = base or t
            rate = mpx / t
            if overhead:
                label += f" (no-op task: {overhead * 1e3:.2f} ms)"
            print(f"| {label} | {t:.2f} | {rate:.1f} | {rate / kernel:.0%} | {base / t:.2f}x |",
                  flush=True)  # fmt: skip
        photos = args.photos or make_photos(Path(tmp) / "photos")
        files = sorted(photos.glob("*.jp*g"))
        decode = median(lambda: [imagecodecs.jpeg8_decode(f.read_bytes()) for f in files],
                        args.repeats)  # fmt: skip
        count = len(files) * args.per_photo
        pcfg = GenerateConfig(pattern=args.pattern, source=str(photos), count=count,
                              patch=args.patch).validated()  # fmt: skip
        t = build_seconds(pcfg, tmp, args.repeats, 2)
        print(f"\n| {len(files)} JPEGs, {args.per_photo} samples each | median s | photos/s | "
              "vs decoding |")  # fmt: skip
        print("|---|---|---|---|")
        print(f"| decode only | {decode:.2f} | {len(files) / decode:.1f} | 1.00x |")
        print(f"| generate, 2 threads | {t:.2f} | {len(files) / t:.1f} | {decode / t:.2f}x |")
        stages, total = stage_profile(cfg, tmp)
        print("\n| one shard, serial, per sample | ms | share |")
        print("|---|---|---|")
        for name, s in stages.items():
            print(f"| {name} | {s * 1e3:.1f} | {s / total:.0%} |")


if __name__ == "__main__":
    main()
