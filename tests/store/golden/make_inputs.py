"""Write the source files of the golden stores (run once; the files are committed).

    python tests/store/golden/make_inputs.py

Inputs are committed rather than written by each test run, so the golden checksums depend only
on cfasim and the decoders, not on the encoders' versions.
"""

from pathlib import Path

import imagecodecs
import numpy as np

from cfasim.cfa import get_pattern
from cfasim.data.dng import write_dng
from cfasim.isp import color

HERE = Path(__file__).parent / "inputs"


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def smooth(h, w, seed, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    a, b, c = rng.uniform(0.2, 1.0, 3)
    img = np.stack([a * x, b * y, c * (1 - x * y)], -1) + 0.05 * rng.random((h, w, 3))
    top = np.iinfo(dtype).max
    return np.round(np.clip(img, 0, 1) * top).astype(dtype)


def main():
    for i in range(3):
        write(HERE / "photos" / f"p{i}.png", imagecodecs.png_encode(smooth(72, 80, i)))
    write(HERE / "photos" / "deep.png", imagecodecs.png_encode(smooth(80, 72, 9, np.uint16)))
    for i, phase in enumerate(["rggb", "grbg", "bggr"]):
        lin = color.srgb_decode(smooth(48, 56, 20 + i) / 255.0)
        pattern = get_pattern(f"bayer:{phase}")
        codes = (256 + np.round(pattern.mosaic(lin) * (4095 - 256))).astype(np.uint16)
        HERE.joinpath("dngs").mkdir(parents=True, exist_ok=True)
        write_dng(HERE / "dngs" / f"cam{i}.dng", codes, pattern, 256, 4095,
                  color.CAMERA_XYZ2CAM[i], np.array([0.5, 1.0, 0.6]))  # fmt: skip
    rng = np.random.default_rng(3)
    for split, stems in (("train", range(4)), ("test", range(2))):
        for s in stems:
            raw = rng.integers(0, 1021, (24, 24)).astype(np.uint16)
            write(HERE / "zrr" / split / "huawei_raw" / f"{s}.png", imagecodecs.png_encode(raw))
            jpeg = imagecodecs.jpeg8_encode(smooth(24, 24, 40 + s), level=95)
            write(HERE / "zrr" / split / "canon" / f"{s}.jpg", jpeg)
    for s in range(4):
        raw = rng.integers(0, 1024, (16, 16)).astype(np.uint16)
        write(HERE / "pairs" / "raw" / f"im{s}.png", imagecodecs.png_encode(raw))
        write(HERE / "pairs" / "rgb" / f"im{s}.png", imagecodecs.png_encode(smooth(32, 32, 60 + s)))


if __name__ == "__main__":
    main()
