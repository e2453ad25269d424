"""Classical Bayer demosaicers on cfasim data next to the usual Kodak protocol.

    python benchmarks/bench_demosaic_literature.py [WORKDIR] [--count 40] [--patch 288]

Builds a Bayer dataset (noise none, clean stored) from four scikit-image photos (astronaut,
coffee, chelsea, rocket) with cfasim's unprocessing, then reports for bilinear, Malvar 2004
and Menon 2007:

1. ``cfasim evaluate``: demosaic the stored RAW (white-balanced first, and not), cfasim's
   reference ISP with each sample's true parameters, compare with the sRGB target;
2. the Kodak protocol on the same targets: mosaic the 8-bit sRGB target itself, demosaic in
   sRGB, CPSNR over the whole image and with a 10-pixel border removed.

Needs scikit-image (the photos). Results and their discussion: docs/evaluation.md.
"""

import argparse
import platform
import tempfile
from pathlib import Path

import imagecodecs
import numpy as np
import skimage.data

from cfasim.cfa import get_pattern
from cfasim.data.reader import open_dataset
from cfasim.eval import baselines
from cfasim.eval.engine import evaluate
from cfasim.eval.metrics import psnr
from cfasim.pipeline import GenerateConfig, build, plan

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
METHODS = ("bilinear", "malvar", "menon")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", nargs="?", type=Path)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--patch", type=int, default=288)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="cfasim-lit-"))
    images = work / "images"
    images.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        (images / f"{name}.png").write_bytes(imagecodecs.png_encode(getattr(skimage.data, name)()))
    store = work / "bayer.zarr"
    if not store.exists():
        cfg = GenerateConfig(
            pattern="bayer",
            source=str(images),
            count=args.count,
            patch=args.patch,
            splits=(0.0, 0.0, 1.0),
            noise="none",
            clean=True,
            seed=0,
        )
        build(plan(cfg), store, workers=1, progress=False)
    print(f"# {args.count} crops of {args.patch} px from {', '.join(PHOTOS)}; {platform.machine()}")
    print("| protocol | " + " | ".join(METHODS) + " |")
    print("|---|" + "---|" * len(METHODS))
    for wb in (True, False):
        means = evaluate(store, baselines=list(METHODS), white_balance=wb, figure_crops=0).means()
        cells = []
        for m in METHODS:
            r = means[m]["all"]
            cells.append(
                f"{r['psnr']:.2f} / {r['ssim']:.3f} / {r['ms_ssim']:.3f} / {r['ciede2000']:.2f}"
            )
        label = "white-balanced" if wb else "unbalanced camera RGB"
        print(f"| cfasim evaluate, {label} (PSNR / SSIM / MS-SSIM / dE00) | {' | '.join(cells)} |")
    bayer = get_pattern("bayer")
    sp = open_dataset(store)["test"]
    full = {m: [] for m in METHODS}
    inner = {m: [] for m in METHODS}
    for i in range(len(sp)):
        t = sp[i]["target"] / 255.0
        mosaic = bayer.mosaic(t)
        for m in METHODS:
            out = np.clip(baselines.demosaic(m, mosaic, bayer), 0.0, 1.0)
            full[m].append(psnr(out, t))
            inner[m].append(psnr(out[10:-10, 10:-10], t[10:-10, 10:-10]))
    cells = [f"{np.mean(full[m]):.2f} / {np.mean(inner[m]):.2f}" for m in METHODS]
    print("| Kodak protocol on the same crops (CPSNR full / 10-px border removed) | "
          + " | ".join(cells) + " |")  # fmt: skip


if __name__ == "__main__":
    main()
