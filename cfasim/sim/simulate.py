"""Display image -> simulated RAW mosaic: the Python front end of the fused Numba kernel."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cfasim.cfa import CFAPattern
from cfasim.isp import color
from cfasim.isp.steps import UnprocessParams, display_to_linear, linear_to_display
from cfasim.sim import kernels
from cfasim.sim.noise import NoiseLevels


@dataclass(frozen=True)
class RawFormat:
    """How linear values become RAW codes: ``code = round(black + v * (white - black))``,
    clipped to [0, white]. ``white`` defaults to the largest code of ``bits``."""

    bits: int = 10
    black: int = 64
    white: int | None = None

    def __post_init__(self):
        if not 1 <= self.bits <= 16:
            raise ValueError(f"ADC bit depth must be in 1..16, got {self.bits}")
        if self.white is None:
            object.__setattr__(self, "white", (1 << self.bits) - 1)
        if not 0 <= self.black < self.white <= (1 << self.bits) - 1:
            raise ValueError(
                f"need 0 <= black ({self.black}) < white ({self.white}) <= {(1 << self.bits) - 1}"
            )

    def to_linear(self, raw: np.ndarray) -> np.ndarray:
        """RAW codes -> normalised linear values (0 = black, 1 = white), not clipped."""
        return (np.asarray(raw, dtype=np.float64) - self.black) / (self.white - self.black)


@lru_cache(maxsize=16)
def display_lut(bits: int, transfer: str, tone: bool) -> np.ndarray:
    """Linear value of every code of a ``bits``-bit display image (inverse tone + transfer)."""
    codes = np.arange(1 << bits, dtype=np.float64) / ((1 << bits) - 1)
    lut = display_to_linear(codes, transfer, tone)
    lut.flags.writeable = False
    return lut


def simulate_raw_linear(
    cam: np.ndarray,
    pattern: CFAPattern,
    noise: NoiseLevels,
    fmt: RawFormat,
    *,
    seed: int,
    sample: int,
    clean: bool = False,
    parallel: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mosaic, noise and quantise linear camera RGB in [0, 1] (real RAW re-mosaicking):
    the same kernel as :func:`simulate_raw` with an identity colour path (16-bit linear codes,
    identity camera matrix, unit gains)."""
    codes = np.round(np.clip(np.asarray(cam, dtype=np.float64), 0.0, 1.0) * 65535.0)
    identity = UnprocessParams(color.inv3(color.RGB2XYZ), 1.0, 1.0, 1.0, "srgb", False)
    return simulate_raw(
        codes.astype(np.uint16),
        pattern,
        identity,
        noise,
        fmt,
        seed=seed,
        sample=sample,
        clean=clean,
        parallel=parallel,
        lut=_linear_lut16(),
    )


@lru_cache(maxsize=1)
def _linear_lut16() -> np.ndarray:
    lut = np.arange(65536, dtype=np.float64) / 65535.0
    lut.flags.writeable = False
    return lut


def downscale_display(image: np.ndarray, factor: int, params: UnprocessParams) -> np.ndarray:
    """The display image a sensor with ``factor``-times larger pixels sees: decode to linear
    light (inverse tone + transfer), average ``factor`` x ``factor`` blocks, re-encode; returns
    uint16 (the kernel's 16-bit lookup table decodes it back). Used for DSLR-style targets at
    ``factor`` times the RAW resolution."""
    maxval = np.iinfo(image.dtype).max
    h, w, _ = image.shape
    if h % factor or w % factor:
        raise ValueError(f"image {h}x{w} is not a multiple of the scale {factor}")
    lin = display_to_linear(image / maxval, params.transfer, params.tone)
    lin = lin.reshape(h // factor, factor, w // factor, factor, 3).mean(axis=(1, 3))
    encoded = linear_to_display(lin, params.transfer, params.tone)
    return np.round(np.clip(encoded, 0.0, 1.0) * 65535.0).astype(np.uint16)


def seed_key(seed: int) -> tuple[np.uint32, np.uint32]:
    """Philox key words of a 64-bit dataset seed."""
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32)


def simulate_raw(
    image: np.ndarray,
    pattern: CFAPattern,
    params: UnprocessParams,
    noise: NoiseLevels,
    fmt: RawFormat,
    *,
    seed: int,
    sample: int,
    clean: bool = False,
    parallel: bool = True,
    lut: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Unprocess, mosaic, add noise and quantise one display image.

    Parameters
    ----------
    image : (H, W, 3) uint8 or uint16 display-referred sRGB.
    seed, sample : the noise of pixel (y, x) is drawn from Philox4x32-10 with key ``seed`` and
        counter ``(x // 2, y, sample, 0)``, so it is the same whatever the threads or sharding.
    clean : also return the noise-free linear camera RGB (H, W, 3) float32.
    parallel : use the multi-threaded kernel (False inside worker threads).

    Returns
    -------
    raw : (H, W) uint16 codes; clean : (H, W, 3) float32 or None.
    """
    image = np.ascontiguousarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    if image.dtype == np.uint8:
        bits = 8
    elif image.dtype == np.uint16:
        bits = 16
    else:
        raise ValueError(f"expected a uint8 or uint16 image, got {image.dtype}")
    if not 0 <= sample < 1 << 32:
        raise ValueError(f"sample index must be in [0, 2**32), got {sample}")
    h, w, _ = image.shape
    if lut is None:
        lut = display_lut(bits, params.transfer, params.tone)
    elif lut.shape != (1 << bits,):
        raise ValueError(f"lookup table of {lut.shape} for a {bits}-bit image")
    ccm = np.ascontiguousarray(params.rgb2cam)
    gains = params.inverse_gains
    raw = np.empty((h, w), dtype=np.uint16)
    clean_out = np.empty((h, w, 3) if clean else (0, 0, 3), dtype=np.float32)
    key0, key1 = seed_key(seed)
    kernel = kernels.raw_chain_parallel if parallel else kernels.raw_chain_serial
    kernel(
        image,
        lut,
        pattern.tile,
        ccm,
        ccm.mean(axis=0),
        gains,
        float(noise.shot),
        float(noise.read),
        float(fmt.black),
        float(fmt.white),
        key0,
        key1,
        np.uint32(sample),
        raw,
        clean_out,
    )
    return raw, (clean_out if clean else None)
