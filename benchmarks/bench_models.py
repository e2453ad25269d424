"""Parameters, MACs and CPU latency per megapixel of every model.

    python benchmarks/bench_models.py [--side 256] [--repeats 5] [--threads 2]

Input: a side x side mosaic packed into 4 block-wise planes (side/2 x side/2 x 4); output
side x side x 3 (the clean-image teacher gets the 12-channel clean input of the same size).
MACs = FLOPs / 2 from torch.utils.flop_counter (convolutions and matmuls). Latency: median
forward time in inference mode, in seconds per output megapixel.
"""

import argparse
import platform
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from cfasim.train.models import LWISP_MODELS, build_model, count_parameters

MODELS = ["pynet", "pynet_qxq", *LWISP_MODELS]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    side, mpx = args.side, args.side**2 / 1e6
    print(
        f"# models: {side}x{side} mosaic, {args.threads} CPU threads, torch {torch.__version__}, "
        f"{platform.machine()}"
    )
    print("| model | parameters | % of PyNET | GMAC / Mpx | CPU s / Mpx |")
    print("|---|---|---|---|---|")
    pynet_params = None
    for name in MODELS:
        clean = name.endswith("clean_teacher")
        model = build_model({"name": name, "args": {}}).eval()
        x = torch.rand(1, 12 if clean else 4, side // 2, side // 2)
        mosaic = torch.rand(1, 1, side, side)
        params = count_parameters(model)
        pynet_params = pynet_params or params
        with torch.inference_mode():
            with FlopCounterMode(display=False) as counter:
                model(x, mosaic)
            macs = counter.get_total_flops() / 2
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                model(x, mosaic)
                times.append(time.perf_counter() - t0)
        print(
            f"| {name} | {params:,} | {100 * params / pynet_params:.2f} | {macs / 1e9 / mpx:.1f} | "
            f"{statistics.median(times) / mpx:.2f} |"
        )


if __name__ == "__main__":
    main()
