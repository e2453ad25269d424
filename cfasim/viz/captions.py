"""The caption text of a preview grid: pure functions of a store's attributes and of one
sample's metadata arrays (see docs/dataset-format.md for what each array holds)."""

from __future__ import annotations

import math

import numpy as np

from cfasim.cfa import CFAPattern
from cfasim.store.schema import has_isp_params

MATRIX_AND_BOOKKEEPING = ("xyz2cam", "rgb2cam", "seed", "sample_index")
"""Per-sample arrays not captioned: 3x3 matrices and counters that say nothing at a glance."""
CAPTIONED = ("wb_gains", "digital_gain", "shot_noise", "read_noise", "black_level",
             "white_level", "source_id", "crop_box")  # fmt: skip
"""Per-sample arrays with their own wording in :func:`sample_caption`."""


TILE_TEXT_CHARS = 48
"""Longest tile text written out in the pattern caption (Nona's 6x6 is 41 characters)."""


def _number(value, digits: int = 3) -> str:
    """A float for a caption: ``digits`` significant digits, ``unknown`` for NaN."""
    v = float(value)
    return "unknown" if math.isnan(v) else f"{v:.{digits}g}"


def pattern_caption(pattern: CFAPattern) -> str:
    """The CFA in one line: name, tile period, block size, tile rows.

    >>> pattern_caption(CFAPattern.block_bayer(3))
    'CFA nona:rggb, 6x6 tile of 3x3 blocks (RRRGGG/RRRGGG/RRRGGG/GGGBBB/GGGBBB/GGGBBB)'
    """
    py, px = pattern.period
    blocks = f" of {pattern.block}x{pattern.block} blocks" if (pattern.block or 0) > 1 else ""
    text = pattern.to_dict()["tile_text"]
    rows = f" ({text})" if len(text) <= TILE_TEXT_CHARS and text != pattern.name else ""
    return f"CFA {pattern.label}, {py}x{px} tile{blocks}{rows}"


def noise_caption(attrs: dict) -> str:
    """The noise model as stored (``config["noise"]``; for physics noise the sensor profile,
    ISO, exposure and optics), or that captured pairs carry their camera's own noise.

    >>> noise_caption({"config": {"noise": "brooks", "source_kind": "images"}})
    'noise brooks (shot and read variance per sample, below)'
    """
    cfg = attrs["config"]
    if not has_isp_params(cfg):
        kind = cfg.get("source_kind")
        return f"noise as captured: real pairs (source kind {kind}), sensor and ISP unknown"
    noise = cfg.get("noise")
    if noise != "sensor":
        return f"noise {noise} (shot and read variance per sample, below)"
    parts = [f"{attrs.get('sensor_profile', {}).get('name', cfg.get('sensor'))}"]
    if cfg.get("iso") is not None:
        parts.append(f"ISO {float(cfg['iso']):g}")
    if cfg.get("exposure_time_s") is not None:
        parts.append(f"exposure {float(cfg['exposure_time_s']):g} s")
    parts.append(f"optics {cfg.get('optics') or 'none'}")
    return "noise sensor physics: " + ", ".join(parts)


def format_caption(attrs: dict) -> str:
    """RAW format and ISP in one line: bits, black and white levels, transfer, tone, camera."""
    fmt, cfg = attrs["raw_format"], attrs["config"]
    camera = cfg.get("camera")
    if not has_isp_params(cfg):
        isp = "camera ISP unknown (captured pairs)"
    else:
        isp = f"{cfg.get('transfer')} transfer, tone curve {'on' if cfg.get('tone') else 'off'}, "
        isp += f"camera {camera} (fixed)" if camera else "random camera per sample"
    return f"{fmt['bits']}-bit RAW, black {fmt['black']}, white {fmt['white']}; {isp}"


def sample_caption(index: int, meta: dict) -> list[str]:
    """Two caption lines of one sample from its per-sample arrays (whichever the store has).

    Line 1: white-balance gains, digital gain, shot and read noise variance. Line 2: black
    and white levels, source and crop box, and any other per-sample scalar array (an exposure,
    say) as ``name value``. NaN values (captured pairs) read ``unknown``.

    Parameters
    ----------
    index : int
        The sample's index in its split.
    meta : dict
        Array name -> the sample's value (e.g. :meth:`cfasim.data.reader.Split.meta`).

    Returns
    -------
    list of str

    Examples
    --------
    >>> sample_caption(3, {"wb_gains": [2.0, 1.0, 1.5], "digital_gain": 1.25})
    ['sample 3: WB gains R 2, B 1.5; digital gain 1.25', '']
    """
    first = [f"sample {index}:"]
    if "wb_gains" in meta:
        wb = np.asarray(meta["wb_gains"], dtype=np.float64)
        first.append(f"WB gains R {_number(wb[0])}, B {_number(wb[2])};")
    if "digital_gain" in meta:
        first.append(f"digital gain {_number(meta['digital_gain'])};")
    noise = [
        f"{name.replace('_', ' ')} {_number(meta[name])}"
        for name in ("shot_noise", "read_noise")
        if name in meta
    ]
    if noise:
        first.append(", ".join(noise))
    return [" ".join(first).rstrip(";"), "; ".join(_second_line(meta))]


def _second_line(meta: dict) -> list[str]:
    parts = []
    if "black_level" in meta and "white_level" in meta:
        parts.append(f"black {int(meta['black_level'])}, white {int(meta['white_level'])}")
    if "source_id" in meta:
        where = f"source {int(meta['source_id'])}"
        if "crop_box" in meta:
            y0, x0, h, w = (int(v) for v in np.asarray(meta["crop_box"]))
            where += f", crop {h}x{w} at ({y0}, {x0})"
        parts.append(where)
    for name in sorted(set(meta) - set(CAPTIONED) - set(MATRIX_AND_BOOKKEEPING)):
        value = np.asarray(meta[name])
        if value.ndim == 0:
            parts.append(f"{name.replace('_', ' ')} {_number(value, 4)}")
    return parts
