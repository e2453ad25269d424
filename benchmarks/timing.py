"""Timing helper shared by the benchmark scripts (run them as ``python benchmarks/NAME.py``)."""

import statistics
import time


def median_seconds(fn, repeats):
    """Median wall time of ``repeats`` calls of ``fn`` after one warm-up call (JIT, caches)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
