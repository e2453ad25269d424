"""Throughput of the fused RAW kernel vs a plain-NumPy implementation of the same chain.

    python benchmarks/bench_kernel.py [--size 2048] [--repeats 7]

8-bit sRGB input with Brooks-style noise on, per pattern; the kernel at 1 and 2 threads, the
NumPy chain (tests/reference_chain.py, the tests' reference) in the same process. Prints a
Markdown table of medians in Mpx/s.
"""

import argparse
import platform
import sys
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from timing import median_seconds

from cfasim.cfa import get_pattern
from cfasim.isp.steps import UnprocessParams
from cfasim.sim.noise import NoiseLevels
from cfasim.sim.simulate import RawFormat, simulate_raw
from cfasim.testing.reference_chain import raw_reference


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2016, help="image side (multiple of 2,4,6,8)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    side = args.size
    image = rng.integers(0, 256, (side, side, 3)).astype(np.uint8)
    params = UnprocessParams.sample(rng)
    noise, fmt = NoiseLevels(4e-3, 2e-5), RawFormat()
    mpx = side * side / 1e6
    print(
        f"# kernel benchmark: {side}x{side} uint8, noise on; {platform.machine()}, "
        f"{numba.config.NUMBA_NUM_THREADS} threads available, numba {numba.__version__}"
    )
    print(
        "| pattern | NumPy chain Mpx/s | kernel 1 thread Mpx/s | kernel 2 threads Mpx/s | "
        "speed-up 2 threads vs NumPy |"
    )
    print("|---|---|---|---|---|")
    for name in ("bayer", "quad", "nona", "qxq"):
        p = get_pattern(name)

        def kernel(p=p):
            simulate_raw(image, p, params, noise, fmt, seed=1, sample=0)

        def numpy_chain(p=p):
            raw_reference(image, p, params, noise, fmt, 1, 0)

        t_np = median_seconds(numpy_chain, max(3, args.repeats // 2))
        rates = []
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            rates.append(mpx / median_seconds(kernel, args.repeats))
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        print(
            f"| {name} | {mpx / t_np:.1f} | {rates[0]:.1f} | {rates[1]:.1f} | "
            f"{rates[1] * t_np / mpx:.0f}x |"
        )


if __name__ == "__main__":
    main()
