"""Throughput of the physics-based sensor kernels vs the Poisson-Gaussian RAW kernel.

    python benchmarks/bench_physics.py [--size 2016] [--repeats 9] [--threads 1 2]

Measures, in one process and on the same frame size, the median time of

- ``raw_chain_parallel`` (``simulate_raw``: uint8 sRGB -> noisy RAW, Brooks noise, the existing
  fused kernel, colour path included) as the baseline;
- the physics path (``simulate_sensor`` without optics = pass 1 ``mean_electrons`` + pass 2
  ``readout``) on clean linear camera RGB v ~ U(0, 1), for several sensor profiles and ISOs
  (electrons at white from 15000 down to 65, so from mostly PTRS draws to many small-mean
  sequential searches), Tukey-lambda read noise, and charge binning to Bayer.

Prints a Markdown table in Mpx/s (input pixels) and the ratio to the baseline at the same
thread count, with the machine, date and library versions.
"""

import argparse
import datetime
import os
import platform

import numba
import numpy as np
from timing import median_seconds

from cfasim.cfa import get_pattern
from cfasim.isp.steps import UnprocessParams
from cfasim.sensor import physics as pn
from cfasim.sensor.profile import load_profile
from cfasim.sim.noise import NoiseLevels
from cfasim.sim.simulate import RawFormat, simulate_raw


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


CASES = [
    # (label, profile, pattern, ISO, mode)
    ("quad 1.0 um, ISO 100 (e_white 1650 e-)", "phone-quad-1p0um", "quad", 100, "none"),
    ("quad 1.0 um, ISO 1600 (e_white 104 e-)", "phone-quad-1p0um", "quad", 1600, "none"),
    ("qxq 0.56 um, ISO 800 (e_white 65 e-)", "phone-qxq-0p56um", "qxq", 800, "none"),
    ("full frame, ISO 400, Tukey read noise", "dslr-fullframe", "bayer", 400, "none"),
    ("qxq 0.56 um, ISO 100, charge binning 4x4", "phone-qxq-0p56um", "qxq", 100, "charge"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2016, help="image side (multiple of 2,4,6,8)")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    side = args.size
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (side, side, 3)).astype(np.uint8)
    clean = rng.random((side, side, 3), dtype=np.float32)  # v uniform in [0, 1)
    params = UnprocessParams.sample(rng)
    noise, fmt = NoiseLevels(4e-3, 2e-5), RawFormat()
    mpx = side * side / 1e6
    threads = [t for t in args.threads if t <= numba.config.NUMBA_NUM_THREADS]
    base = {}
    quad = get_pattern("quad")
    for t in threads:
        numba.set_num_threads(t)
        base[t] = mpx / median_seconds(
            lambda: simulate_raw(image, quad, params, noise, fmt, seed=1, sample=0),
            args.repeats,
        )
    print(f"# physics kernel benchmark: {side}x{side}, clean v ~ U(0, 1), median of {args.repeats}")
    print(
        f"# {datetime.date.today()}, {cpu_name()}, {os.cpu_count()} CPUs, "
        f"numba {numba.__version__} ({numba.threading_layer()} threads), "
        f"numpy {np.__version__}, python {platform.python_version()}"
    )
    head = " | ".join(f"{t} thr Mpx/s | ratio" for t in threads)
    print(f"| case | {head} |")
    print("|---|" + "---|---|" * len(threads))
    cells = " | ".join(f"{base[t]:.1f} | 1.00" for t in threads)
    print(f"| baseline: raw_chain_parallel (quad, uint8 sRGB, Brooks noise) | {cells} |")
    for label, name, pattern_name, iso, mode in CASES:
        profile = load_profile(name)
        pattern = get_pattern(pattern_name)

        def run(profile=profile, pattern=pattern, iso=iso, mode=mode):
            if mode == "none":
                pn.simulate_sensor(clean, pattern, profile, iso, seed=1, sample=0, sensor_seed=2)
            else:
                pn.simulate_sensor_binned(
                    clean, pattern, profile, iso, mode=mode, seed=1, sample=0, sensor_seed=2
                )

        rates = {}
        for t in threads:
            numba.set_num_threads(t)
            rates[t] = mpx / median_seconds(run, args.repeats)
        cells = " | ".join(f"{rates[t]:.1f} | {rates[t] / base[t]:.2f}" for t in threads)
        print(f"| physics: {label} | {cells} |")
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


if __name__ == "__main__":
    main()
