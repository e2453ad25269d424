"""Plain-NumPy reference of the fused RAW kernel (cfasim.sim.kernels), written from the definitions.

Same operations in the same order as the kernel, vectorised over the image, so the noise-free
output must match exactly.
"""

import numpy as np

from cfasim.isp import color

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
MASK = np.uint64(0xFFFFFFFF)


def philox4x32_10(counter, key):
    """Vectorised Philox4x32-10: counter = 4 uint32 arrays, key = 2 uint32 values."""
    c = [np.asarray(v, dtype=np.uint64) for v in counter]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for r in range(10):
        if r:
            k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [
            (p1 >> np.uint64(32)) ^ c[1] ^ k0,
            p1 & MASK,
            (p0 >> np.uint64(32)) ^ c[3] ^ k1,
            p0 & MASK,
        ]
    return [v.astype(np.uint32) for v in c]


def gaussian_field(seed, sample, height, width):
    """N(0, 1) per pixel: Philox counter (x // 2, y, sample, 0), float32 Box-Muller."""
    y, x = np.mgrid[0:height, 0:width].astype(np.uint64)
    w = philox4x32_10(
        (x >> np.uint64(1), y, np.full_like(x, sample), np.zeros_like(x)),
        (seed & 0xFFFFFFFF, seed >> 32),
    )
    f32 = np.float32
    u1 = ((w[0] >> 8).astype(f32) + f32(1.0)) * f32(2.0**-24)
    u2 = (w[1] >> 8).astype(f32) * f32(2.0**-24)
    r = np.sqrt(f32(-2.0) * np.log(u1))
    t = f32(2.0 * np.pi) * u2
    return np.where(x % 2 == 0, r * np.cos(t), r * np.sin(t)).astype(np.float64)


def raw_reference(image, pattern, params, noise, fmt, seed, sample):
    """Returns (raw uint16, clean float32 camera RGB)."""
    maxval = 255.0 if image.dtype == np.uint8 else 65535.0
    v = np.arange(int(maxval) + 1) / maxval  # per-code values, as the kernel's lookup table
    if params.tone:
        v = color.inverse_smoothstep(v)
    lin = color.decode(v, params.transfer)[image]
    r, g, b = lin[..., 0], lin[..., 1], lin[..., 2]
    ccm = params.rgb2cam
    gray_row = ccm.mean(axis=0)  # mean of camera channels == column means of the matrix
    gray = gray_row[0] * r + gray_row[1] * g + gray_row[2] * b
    m = np.where(gray > 0.9, ((gray - 0.9) / 0.1) ** 2, 0.0)
    gains = params.inverse_gains
    cam = np.empty(image.shape)
    for k in range(3):
        s = np.maximum(m + (1.0 - m) * gains[k], gains[k])
        cam[..., k] = (ccm[k, 0] * r + ccm[k, 1] * g + ccm[k, 2] * b) * s
    clean = np.clip(cam, 0.0, 1.0)
    idx = pattern.color_index(*image.shape[:2])
    white = clean.sum(axis=-1) / 3.0
    val = np.where(
        idx == 3, white, np.take_along_axis(clean, np.minimum(idx, 2)[..., None], -1)[..., 0]
    )
    if noise.shot > 0 or noise.read > 0:
        val = val + np.sqrt(noise.shot * val + noise.read) * gaussian_field(
            seed, sample, *idx.shape
        )
    dn = np.floor(fmt.black + val * (fmt.white - fmt.black) + 0.5)
    return np.clip(dn, 0, fmt.white).astype(np.uint16), clean.astype(np.float32)
