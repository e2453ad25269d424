"""Builders the tests share: tiny stores, source files (photos, DNGs, the Zurich RAW-to-RGB
layout) and a runner of the command line. Small and deterministic: each takes its seed.
"""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np

ZRR_SIDE = 16
"""Side of the fixture Zurich mosaics and targets (the release's is 448)."""


class MarkerPayload:
    """Pickles as ``os.system("touch MARKER")``: what a malicious checkpoint runs on load."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch '{self.marker}'",))


VGG19_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"]
VGG19_LAYOUT += [512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
"""VGG-19's convolution widths and max-poolings ("M"), from Simonyan & Zisserman's table
(configuration E), written here independently of :data:`cfasim.train.losses.VGG19_CONFIG`."""


def random_vgg19_features_state(seed=0) -> dict:
    """Randomly initialised VGG-19 ``features`` state dict in torchvision's indexing (He init):
    stands in for the real weights, which are never downloaded."""
    import torch

    g = torch.Generator().manual_seed(seed)
    state, idx, cin = {}, 0, 3
    for v in VGG19_LAYOUT:
        if v == "M":
            idx += 1
            continue
        std = (2.0 / (9 * cin)) ** 0.5
        state[f"{idx}.weight"] = torch.randn(v, cin, 3, 3, generator=g) * std
        state[f"{idx}.bias"] = torch.randn(v, generator=g) * 0.01
        idx, cin = idx + 2, v
    return state


def run_cli(*args):
    """``cfasim ARGS`` in-process (click's CliRunner); arguments are turned into text."""
    from click.testing import CliRunner

    from cfasim.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def build_store(out, *, workers: int = 1, **config) -> Path:
    """Build a dataset of ``GenerateConfig(**config)`` at ``out`` (no progress bar)."""
    from cfasim.pipeline import GenerateConfig, build, plan

    build(plan(GenerateConfig(**config).validated()), out, workers=workers, progress=False)
    return Path(out)


def write_file(path, data: bytes) -> Path:
    """Write ``data`` to ``path``, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_png(path, image: np.ndarray) -> Path:
    """An 8- or 16-bit PNG (grey or RGB) of ``image``."""
    return write_file(path, imagecodecs.png_encode(image))


def write_jpeg(path, image: np.ndarray, level: int = 95) -> Path:
    """A baseline JPEG of an 8-bit ``image``."""
    return write_file(path, imagecodecs.jpeg8_encode(image, level=level))


def noise_image(height: int, width: int, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    """(H, W, 3) uniformly random pixels of ``dtype``."""
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top + 1, (height, width, 3)).astype(dtype)


def write_photos(folder, n: int = 3, side: int = 40, seed: int = 0) -> Path:
    """A folder of ``n`` random 8-bit PNG photos ``p0.png`` ... of ``side`` x ``side``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        write_png(folder / f"p{i}.png", image)
    return folder


def camera_dng(path, seed: int, phase: str = "rggb", size=(112, 128)) -> Path:
    """A Bayer DNG of a dead-leaves scene: linear light mosaicked, 12-bit, black 256."""
    from cfasim.cfa import get_pattern
    from cfasim.data.dng import write_dng
    from cfasim.isp import color
    from cfasim.source.scenes import dead_leaves

    lin = color.srgb_decode(dead_leaves(*size, seed) / 255.0)
    pattern = get_pattern(f"bayer:{phase}")
    codes = 256 + np.round(pattern.mosaic(lin) * (4095 - 256))
    xyz2cam = color.CAMERA_XYZ2CAM[seed % 4]
    write_dng(path, codes.astype(np.uint16), pattern, 256, 4095, xyz2cam, np.array([0.5, 1, 0.6]))
    return Path(path)


def raw10(h: int = ZRR_SIDE, w: int = ZRR_SIDE, seed: int = 0) -> np.ndarray:
    """A random 10-bit mosaic (the Zurich RAW-to-RGB codes, 0..1020)."""
    from cfasim.source.pairs import ZRR_MAX_CODE

    return np.random.default_rng(seed).integers(0, ZRR_MAX_CODE + 1, (h, w)).astype(np.uint16)


def smooth8(h: int = ZRR_SIDE, w: int = ZRR_SIDE) -> np.ndarray:
    """A smooth 8-bit RGB gradient (survives JPEG compression nearly unchanged)."""
    y, x = np.mgrid[0:h, 0:w]
    image = np.stack([x * 200 // w, y * 200 // h, (x + y) * 100 // (h + w)], -1) + 20
    return image.astype(np.uint8)


def make_zrr(folder, raw_stems=(), target_stems=(), size: int = ZRR_SIDE) -> Path:
    """A Zurich RAW-to-RGB split folder: ``huawei_raw/<stem>.png`` (16-bit mosaics) and
    ``canon/<stem>.jpg``."""
    folder = Path(folder)
    for i, stem in enumerate(raw_stems):
        write_png(folder / "huawei_raw" / f"{stem}.png", raw10(size, size, seed=i))
    for stem in target_stems:
        write_jpeg(folder / "canon" / f"{stem}.jpg", smooth8(size, size))
    return folder


def snapshot(root) -> dict[str, bytes]:
    """Every file under ``root``: relative POSIX path -> bytes."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
