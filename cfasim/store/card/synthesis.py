"""How the samples were made, as the datasheet tells it: the scenes, the unprocessing (or RAW
re-mosaic) chain and the noise model, or, for real captured pairs, what was captured."""

from __future__ import annotations

import math

from cfasim.sensor.profile import SensorProfile
from cfasim.sim.noise import LOG_SHOT_RANGE, READ_FROM_SHOT, NoiseModel
from cfasim.store.card.docs import doc_link
from cfasim.store.card.info import StoreInfo


def process_lines(info: StoreInfo, docs_url: str | None) -> list[str]:
    """The subsections of the collection process: the source pairs of a real-pairs dataset, or
    the scenes, the unprocessing chain and the noise model of a simulated one."""
    cfg, a = info.config, info.attrs
    fmt = a.get("raw_format", {})
    if info.real_pairs:
        return _real_pairs_lines(cfg, a, fmt, docs_url)
    return [
        "### Scenes",
        "",
        _scenes_text(info),
        "",
        "### Unprocessing chain",
        "",
        f"{_chain_text(cfg)} Details: {doc_link('unprocessing', docs_url)}.",
        "",
        "### Noise model and its sampling",
        "",
        *_noise_lines(cfg, a, fmt, docs_url),
    ]


def _span(values: list[int]) -> str:
    """``lo-hi`` of some sizes, or the one size when they are all equal."""
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _scenes_text(info: StoreInfo) -> str:
    """Where the scenes come from: dead leaves drawn from the seed, or a folder of images."""
    if info.builtin:
        return (
            "Scale-invariant dead-leaves images (opaque occluding disks with radii "
            "distributed as r^-3, some with gratings or shading ramps: natural-image-like "
            "spectrum, occlusions and sharp edges at every scale), one per sample, drawn from "
            "the sample's seed; no external image is used."
        )
    if info.chart:
        return (
            f"The {info.chart} test chart (cfasim.source.charts, docs/charts.md), drawn by "
            "cfasim at the target size and identical in every sample; only the drawn camera, "
            "gains and noise differ. No external image is used."
        )
    cfg, a = info.config, info.attrs
    srcs = a.get("sources", [])
    heights = [s.get("height", 0) for s in srcs] or [0]
    widths = [s.get("width", 0) for s in srcs] or [0]
    depths = sorted({s.get("bit_depth") for s in srcs if s.get("bit_depth")})
    return (
        f"{len(srcs)} source image(s) from `{cfg.get('source')}` "
        f"({_span(heights)} x {_span(widths)} px, "
        f"{'/'.join(str(d) for d in depths) or '?'}-bit), each assigned to one split "
        "only; a sample is a random crop aligned to the CFA period (`crop_box`). The "
        "list (relative paths, sizes, bit depths) is the root attribute `cfasim.sources`, "
        f"its sha256 is `{a.get('source_digest')}`."
    )


def _chain_text(cfg: dict) -> str:
    """From a scene to linear camera RGB on the CFA: RAW re-mosaic or sRGB unprocessing."""
    if cfg.get("source_kind") == "raw":
        return (
            "Each real Bayer RAW file is black-subtracted (per CFA site), normalised by its "
            "white level and binned 2x2 to one linear camera-RGB pixel per Bayer cell (no "
            "interpolation); that linear image is mosaicked onto the CFA. Targets are rendered "
            "from the same linear image by cfasim's reference ISP with the file's own white "
            "balance and colour matrix (stored as `wb_gains`, `xyz2cam`)."
        )
    return (
        "The sRGB scene is inversely rendered into linear camera RGB (after Brooks et al., "
        "CVPR 2019): inverse tone curve"
        + ("" if cfg.get("tone", True) else " (disabled)")
        + f", inverse `{cfg.get('transfer')}` transfer curve, sRGB -> camera colour matrix "
        "(a random convex combination of four real camera matrices per sample, stored as "
        "`xyz2cam`/`rgb2cam`), inverse white balance and brightening gain with highlight "
        "protection (`red_gain ~ U(1.9, 2.4)`, `blue_gain ~ U(1.5, 1.9)`, "
        "`digital_gain = 1 / N(0.8, 0.1)`, stored as `wb_gains`, `digital_gain`), then "
        "mosaicking onto the CFA."
    )


def _noise_lines(cfg: dict, a: dict, fmt: dict, docs_url: str | None) -> list[str]:
    """The noise model, its sampling and the quantisation to RAW codes."""
    if cfg.get("noise") == "sensor":
        return [_sensor_text(cfg, a.get("sensor_profile") or {}, docs_url)]
    return [
        _noise_text(cfg.get("noise", "brooks")),
        "",
        f"The noisy value is quantised to {fmt.get('bits')}-bit codes with black level "
        f"{fmt.get('black')} and white level {fmt.get('white')}: "
        "`code = clip(round(black + v * (white - black)), 0, white)`. The Gaussian noise "
        f"comes from a counter-based generator ({a.get('noise_key', 'Philox4x32-10')}), "
        "and the per-sample parameters from `SeedSequence([seed, sample_index])`, so the "
        "dataset is bit-identical whatever the number of workers or shards. Details: "
        + doc_link("noise", docs_url)
        + ".",
    ]


def _noise_text(spec: str) -> str:
    """The Poisson-Gaussian noise model of ``spec``: none, fixed levels or Brooks' sampling."""
    model = NoiseModel.parse(spec)
    base = (
        "Heteroscedastic Gaussian (Poisson-Gaussian approximation) in normalised linear "
        "units (0 = black, 1 = white): `v_noisy = v + sqrt(shot * v + read) * z`, "
        "`z ~ N(0, 1)`. "
    )
    if model.mode == "none":
        return "No noise (`none`): the RAW is the clean camera value, only quantised."
    if model.mode == "fixed":
        return base + (
            f"Fixed levels for every sample: shot = {model.shot!r}, read = {model.read!r} "
            "(stored per sample as `shot_noise`, `read_noise`)."
        )
    lo, hi = (math.exp(v) for v in LOG_SHOT_RANGE)
    slope, intercept, sigma = READ_FROM_SHOT
    return base + (
        f"Levels sampled per sample as in Brooks et al.: `ln(shot) ~ U(ln {lo:g}, ln {hi:g})`, "
        f"`ln(read) = {slope:g} ln(shot) + {intercept:g} + N(0, {sigma:g})` (natural "
        "logarithms); stored per sample as `shot_noise`, `read_noise`."
    )


def _sensor_text(cfg: dict, prof: dict, docs_url: str | None) -> str:
    """Physics noise from a sensor profile (stored in ``cfasim.sensor_profile``)."""
    p = SensorProfile.from_dict(prof, origin="sensor_profile attribute")
    iso = float(cfg["iso"])
    optics = cfg.get("optics") or "none"
    return (
        f"Physics-based noise in electrons (after Wei et al., CVPR 2020) from the sensor profile "
        f"`{p.name}` ({p.description}; every parameter and its source is in the root attribute "
        f"`cfasim.sensor_profile`) at ISO {iso:g}: pixel pitch {p.pixel_pitch_um:g} um, full "
        f"well {p.full_well_e:g} e-, base ISO {p.base_iso:.1f}, analog gain "
        f"{p.analog_gain(iso):.3g}, conversion gain {p.conversion_gain(iso):.4g} DN/e-, "
        f"{p.electrons_at_white(iso):.4g} e- at the white level. Per pixel: "
        "`mu = v * e_white * (1 + prnu * n_prnu) + dark_current * t`, electrons "
        "`k ~ Poisson(mu)` (exact), clipped at the full well, plus DSNU, read noise "
        f"({p.read_noise_e:g} e-, {p.read_noise_distribution}), row noise ({p.row_noise_e:g} "
        f"e-), then `code = clip(round(black + K * e + adc_noise), 0, white)` with "
        f"{p.bits}-bit codes, black {p.black_level_dn}, white {p.white_level_dn}. PRNU "
        f"({p.prnu:g}) and DSNU ({p.dsnu_e:g} e-) are fixed for sensor seed "
        f"{cfg.get('sensor_seed', 0)}. Optics and pixel effects: `{optics}`. `shot_noise` and "
        "`read_noise` hold the equivalent normalised Poisson-Gaussian coefficients "
        "(1 / e_white; the variance at black over (white - black)^2). Random numbers come from "
        f"Philox4x32-10 keyed by the seed, so the dataset is bit-identical whatever the number "
        f"of workers. Details: {doc_link('noise', docs_url)}."
    )


def _pairs_layout(cfg: dict) -> str:
    """How the captured pairs are laid out: the Zurich RAW-to-RGB folders or two folders."""
    if cfg.get("source_kind") == "zurich":
        return (
            "the Zurich RAW-to-RGB layout (Ignatov, Van Gool, Timofte, CVPR Workshops 2020: "
            "`huawei_raw/*.png` Huawei P20 RGGB mosaics holding 10-bit codes, `canon/*.jpg` "
            "Canon 5D Mark IV sRGB crops of the same scene, matched by file name)"
        )
    return (
        f"two folders matched by file name (RAW mosaics in `{cfg.get('source')}`, "
        f"targets in `{cfg.get('targets')}`)"
    )


def _real_pairs_lines(cfg: dict, a: dict, fmt: dict, docs_url: str | None) -> list[str]:
    """A dataset of real captured pairs: what was captured and stored, nothing simulated."""
    srcs = a.get("sources", [])
    hints = sorted({str(s.get("split_hint")) for s in srcs if s.get("split_hint")})
    return [
        "### Source pairs (captured, not simulated)",
        "",
        f"{len(srcs)} captured pair(s) from `{cfg.get('source')}` in {_pairs_layout(cfg)}. "
        + (
            f"Pairs keep the split of their sub-folder ({', '.join(hints)}); "
            if hints
            else "Each pair is assigned to one split only; "
        )
        + "a sample is a random crop aligned to the CFA period (`crop_box`, in target pixels; "
        f"the mosaic crop is `crop_box / {cfg.get('scale', 1)}`). The list (relative paths, "
        "sizes) is the root attribute `cfasim.sources`, its sha256 is "
        f"`{a.get('source_digest')}`.",
        "",
        "### What is stored",
        "",
        f"`raw` holds the camera's own mosaic codes ({fmt.get('bits')}-bit; black level "
        f"{fmt.get('black')} and white level {fmt.get('white')} as given to the build, not "
        "read from the camera) with its real sensor noise; `target` the DSLR image. Nothing "
        "is simulated: the per-sample ISP and noise arrays (`xyz2cam`, `rgb2cam`, `wb_gains`, "
        "`digital_gain`, `shot_noise`, `read_noise`) are NaN because the camera's processing "
        "is not known. Captured pairs are only roughly aligned (different cameras, lenses and "
        f"viewpoints). Format: {doc_link('format', docs_url)}.",
    ]
