"""`cfasim generate`: sources -> simulated RAW/sRGB pairs in a sharded Zarr v3 store, via Dask.

1. plan: every per-sample random choice (camera matrix, gains, noise levels, crop, scene seed)
   is drawn up front from a generator seeded by (dataset seed, sample index), so the plan and
   therefore the dataset do not depend on the number of workers;
2. create the store: metadata arrays are written from the plan, data arrays created empty;
3. build: one Dask task per shard renders its samples and writes that whole shard (never two
   writers on one shard, the zarr v3 rule);
4. mark the store complete. A store whose ``status`` is not ``complete`` is a failed build.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import zarr

from cfasim import __version__
from cfasim.cfa import CFAPattern, get_pattern
from cfasim.isp import color
from cfasim.isp.steps import UnprocessParams, process
from cfasim.sensor.profile import SensorProfile, load_profile
from cfasim.sim.noise import NoiseLevels, NoiseModel
from cfasim.sim.simulate import RawFormat, downscale_display, simulate_raw, simulate_raw_linear
from cfasim.source import scenes
from cfasim.source.images import SourceError, SourceImage, load_image, scan_folder, verify_source
from cfasim.source.pairs import (
    ZRR_PATTERN,
    Pair,
    check_pairs,
    load_pair,
    load_zurich_pair,
    scan_pairs,
    scan_zurich,
)
from cfasim.source.raw import bin_to_linear_rgb, read_raw, scan_raw_folder
from cfasim.store import schema as dataset
from cfasim.store.checksums import finalize, is_finalized
from cfasim.store.fs import StoreFS, is_url, zarr_store
from cfasim.store.lock import build_lock
from cfasim.store.output import (
    Output,
    check_output,
    clear_staging,
    is_cfasim_store,
    recover_swap,
    staging_path,
    swap_in,
)

BUILTIN = "builtin"
DEFAULT_PATCH = 288  # a multiple of every built-in period (2, 4, 6, 8) and of 32
SCENE_STREAM = 1
PAIR_KINDS = dataset.REAL_PAIR_KINDS
SOURCE_KINDS = ("images", "raw", *PAIR_KINDS)


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that determines a dataset's content (stored in the dataset's attributes)."""

    pattern: str | None = None  # default: bayer for zurich pairs, else nona
    source: str = BUILTIN
    count: int = 256
    patch: int = DEFAULT_PATCH
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1)
    noise: str | None = None  # default: none for real pairs, else brooks
    seed: int = 0
    transfer: str = "srgb"
    tone: bool = True
    bits: int | None = None  # default: 10, or the sensor profile's ADC
    black_level: int | None = None  # default: 64, or the sensor profile's
    white_level: int | None = None
    clean: bool = False
    shard_samples: int | None = None
    scale: int = 1
    source_kind: str = "images"
    targets: str | None = None
    sensor: str | None = None  # a sensor profile (name or TOML path): physics noise
    iso: float | None = None  # default: the sensor's base ISO
    sensor_seed: int = 0  # the sensor's identity: its PRNU/DSNU fixed pattern
    exposure_time_s: float | None = None  # default: the profile's (dark current only)
    optics: str = (
        ""  # optics/pixel effects spec (cfasim.sensor.optics.Optics.parse); needs a sensor
    )

    def validated(self) -> GenerateConfig:
        """Check every field; return a copy with derived defaults filled in."""
        real_pairs = self.source_kind in PAIR_KINDS
        pattern_spec = self.pattern or ("bayer" if self.source_kind == "zurich" else "nona")
        pattern = get_pattern(pattern_spec)
        physics = _sensor_fields(self, real_pairs) if self.sensor is not None else {}
        if physics:
            noise_spec = SENSOR_NOISE
            bits, black, white = physics["bits"], physics["black_level"], physics["white_level"]
        else:
            if self.iso is not None or self.optics or self.exposure_time_s is not None:
                raise ValueError("--iso, --exposure-time and --optics need --sensor")
            noise_spec = self.noise or ("none" if real_pairs else "brooks")
            NoiseModel.parse(noise_spec)
            bits = 10 if self.bits is None else self.bits
            black = 64 if self.black_level is None else self.black_level
            white = self.white_level
        fmt = RawFormat(bits, black, white)
        if self.count < 1:
            raise ValueError(f"count must be >= 1, got {self.count}")
        py, px = pattern.period
        if self.patch < 1 or self.patch % py or self.patch % px:
            lcm = math.lcm(py, px)
            near = max(lcm, round(self.patch / lcm) * lcm)
            raise ValueError(
                f"patch {self.patch} is not a multiple of the {pattern.label} period {py}x{px}; "
                f"try {near}"
            )
        splits = tuple(float(f) for f in self.splits)
        if len(splits) != 3 or min(splits) < 0 or not math.isclose(sum(splits), 1.0, abs_tol=1e-6):
            raise ValueError(f"splits must be three fractions >= 0 summing to 1, got {self.splits}")
        if self.source_kind not in SOURCE_KINDS:
            raise ValueError(f"source kind must be one of {SOURCE_KINDS}, got {self.source_kind!r}")
        if self.source_kind == "raw" and (self.source == BUILTIN or self.scale != 1):
            raise ValueError("RAW sources need a folder (--source DIR) and --scale 1")
        if self.scale not in (1, 2):
            raise ValueError(f"scale must be 1 or 2 (target side / RAW side), got {self.scale}")
        if real_pairs:
            _check_real_pairs(self, pattern, noise_spec)
        elif self.targets is not None:
            raise ValueError("--targets is only used with --source-kind pairs")
        if not 0 <= self.seed < 1 << 63:
            raise ValueError(f"seed must be in [0, 2**63), got {self.seed}")
        shard = self.shard_samples or dataset.shard_samples_for(2 * self.patch * self.patch)
        if shard < 1:
            raise ValueError(f"shard_samples must be >= 1, got {shard}")
        return GenerateConfig(
            **{
                **asdict(self),
                "pattern": pattern.name,
                **physics,
                "noise": noise_spec,
                "splits": splits,
                "bits": fmt.bits,
                "black_level": fmt.black,
                "white_level": fmt.white,
                "shard_samples": shard,
            }
        )

    def split_counts(self) -> dict[str, int]:
        """Samples per split: val and test rounded, train takes the rest."""
        val = round(self.count * self.splits[1])
        test = round(self.count * self.splits[2])
        train = self.count - val - test
        if train < 0:
            test += train
            train = 0
        return dict(zip(dataset.SPLITS, (train, val, test), strict=True))


SENSOR_NOISE = "sensor"
"""``noise`` of a dataset simulated with a sensor profile (physics noise in electrons)."""


def _sensor_fields(cfg: GenerateConfig, real_pairs: bool) -> dict:
    """Validated sensor settings: the profile's ADC format and the resolved ISO."""
    from cfasim.sensor.optics import Optics

    if real_pairs:
        raise ValueError("real pairs carry their camera's own noise: drop --sensor")
    if cfg.noise not in (None, SENSOR_NOISE):
        raise ValueError("--noise and --sensor exclude each other (the sensor sets the noise)")
    profile = load_profile(cfg.sensor)
    given = {"bits": cfg.bits, "black_level": cfg.black_level, "white_level": cfg.white_level}
    own = {
        "bits": profile.bits,
        "black_level": profile.black_level_dn,
        "white_level": profile.white_level_dn,
    }
    clash = [f"{k} {given[k]} (sensor: {own[k]})" for k in own if given[k] not in (None, own[k])]
    if clash:
        raise ValueError(
            f"sensor {profile.name!r} fixes the ADC format: drop or match {', '.join(clash)}"
        )
    iso = float(profile.base_iso if cfg.iso is None else cfg.iso)
    profile.analog_gain(iso)  # refuses ISOs below base
    if cfg.exposure_time_s is not None and not cfg.exposure_time_s > 0:
        raise ValueError(f"exposure time must be > 0 s, got {cfg.exposure_time_s}")
    if not 0 <= cfg.sensor_seed < 1 << 63:
        raise ValueError(f"sensor seed must be in [0, 2**63), got {cfg.sensor_seed}")
    optics = Optics.parse(cfg.optics) if cfg.optics else Optics()
    return {**own, "iso": iso, "optics": optics.spec() if optics.enabled else ""}


def _check_real_pairs(cfg: GenerateConfig, pattern: CFAPattern, noise: str) -> None:
    """Constraints of real captured pairs (``zurich``, ``pairs``)."""
    if cfg.source == BUILTIN:
        raise ValueError(f"--source-kind {cfg.source_kind} needs a folder (--source DIR)")
    if noise != "none":
        raise ValueError(
            f"real pairs carry their camera's own noise: use --noise none, not {noise!r}"
        )
    if cfg.clean:
        raise ValueError("real pairs have no noise-free signal to store: drop --clean")
    if cfg.source_kind == "zurich":
        if not np.array_equal(pattern.tile, ZRR_PATTERN.tile):
            raise ValueError(
                f"Zurich RAW-to-RGB mosaics are Bayer RGGB, not {pattern.name}: use --pattern "
                "bayer (to synthesise another CFA from the Canon targets use --source-kind "
                "images --source ROOT/train/canon)"
            )
        if cfg.bits not in (None, 10) or cfg.scale != 1 or cfg.targets is not None:
            raise ValueError(
                "Zurich RAW-to-RGB pairs are 10-bit mosaics with same-size targets: use "
                "--bits 10 --scale 1 and no --targets"
            )
    elif cfg.targets is None:
        raise ValueError("--source-kind pairs needs the target folder: --targets DIR")


@dataclass
class SplitPlan:
    """Per-sample parameters of one split (arrays of length count)."""

    name: str
    count: int
    meta: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Plan:
    config: GenerateConfig
    pattern: CFAPattern
    fmt: RawFormat
    root: Path | None
    sources: list[dict]
    splits: list[SplitPlan]
    skipped: list[tuple[str, str]]
    profile: SensorProfile | None = None

    @property
    def optics(self):
        from cfasim.sensor.optics import Optics

        return Optics.parse(self.config.optics) if self.config.optics else Optics()


def sensor_noise_levels(profile: SensorProfile, iso: float, exposure_time_s=None) -> NoiseLevels:
    """The normalised Poisson-Gaussian coefficients equivalent to a sensor at an ISO (the DNG
    NoiseProfile ``S``, ``O``): shot = 1 / e_white; read = the variance at black over
    (white - black)^2 (read, row, DSNU, dark shot, ADC and rounding; PRNU excluded)."""
    from cfasim.sensor.physics import predicted_variance_dn

    span = profile.dn_range
    read = float(predicted_variance_dn(0.0, profile, iso, exposure_time_s)) / span**2
    return NoiseLevels(1.0 / profile.electrons_at_white(iso), read)


def sample_rng(seed: int, index: int) -> tuple[int, np.random.Generator]:
    """Per-sample seed and parameter generator, from (dataset seed, global sample index)."""
    s = int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])
    return s, np.random.default_rng(s)


def scene_seed(sample_seed: int) -> int:
    """Seed of a sample's built-in scene: its own stream of the per-sample seed."""
    return int(np.random.SeedSequence([sample_seed, SCENE_STREAM]).generate_state(1, np.uint64)[0])


def plan(config: GenerateConfig, workers: int = 1) -> Plan:
    """Scan the source and draw every per-sample parameter (see module docstring)."""
    cfg = config.validated()
    pattern = get_pattern(cfg.pattern)
    fmt = RawFormat(cfg.bits, cfg.black_level, cfg.white_level)
    profile = load_profile(cfg.sensor) if cfg.sensor else None
    if profile is not None:
        sensor_levels = sensor_noise_levels(profile, cfg.iso, cfg.exposure_time_s)
    noise = NoiseModel.parse("none" if profile else cfg.noise)
    counts = cfg.split_counts()
    skipped: list[tuple[str, str]] = []
    if cfg.source == BUILTIN:
        root = None
        sources = [
            {
                "kind": "dead_leaves",
                "height": cfg.patch * cfg.scale,
                "width": cfg.patch * cfg.scale,
                "seed": "scene_seed(per-sample seed)",
            }
        ]
        split_sources = {name: [0] for name in dataset.SPLITS}
        images: list[SourceImage] = []
    elif cfg.source_kind == "raw":  # real RAW: crops of the 2x2-binned linear camera image
        root = Path(cfg.source)
        side = cfg.patch
        scan = scan_raw_folder(root, min_height=side, min_width=side, workers=workers)
        skipped = list(scan.skipped)
        images = [
            SourceImage(im.path, im.height // 2, im.width // 2, 16) for im in scan.images
        ]  # binned sizes
        sources = [
            {
                "path": im.path,
                "kind": "raw",
                "camera": im.camera,
                "pattern": im.pattern,
                "height": im.height // 2,
                "width": im.width // 2,
                "wb_gains": list(im.wb),
                "xyz2cam": None if im.xyz2cam is None else [list(r) for r in im.xyz2cam],
            }
            for im in scan.images
        ]
        split_sources = _assign_sources(len(images), counts, cfg.seed)
    elif cfg.source_kind in PAIR_KINDS:  # real pairs: mosaic and target as captured
        root = Path(cfg.source)
        side = cfg.patch * cfg.scale  # the target crop, in target pixels
        zurich = cfg.source_kind == "zurich"
        scan = scan_zurich(root) if zurich else scan_pairs(root, cfg.targets)
        usable, skipped = check_pairs(
            scan,
            zurich=zurich,
            min_side=cfg.patch,
            scale=cfg.scale,
            max_code=fmt.white,
            workers=workers,
        )
        target_root = root if zurich else Path(cfg.targets)
        images = [  # sizes in target pixels, like an image source's
            SourceImage(str(u.pair.raw_path), u.height * cfg.scale, u.width * cfg.scale, 8)
            for u in usable
        ]
        sources = [
            {
                "path": u.pair.raw_path.relative_to(root).as_posix(),
                "target": u.pair.target_path.relative_to(target_root).as_posix(),
                "kind": "pair",
                "split_hint": u.pair.split_hint,
                "height": u.height,
                "width": u.width,
            }
            for u in usable
        ]
        split_sources = _assign_pairs([u.pair.split_hint for u in usable], counts, cfg.seed)
    else:
        root = Path(cfg.source)
        side = cfg.patch * cfg.scale  # the target crop, in source pixels
        scan = scan_folder(root, min_height=side, min_width=side, workers=workers)
        skipped = list(scan.skipped)
        images = list(scan.images)
        sources = [
            {"path": im.path, "height": im.height, "width": im.width, "bit_depth": im.bit_depth}
            for im in images
        ]
        split_sources = _assign_sources(len(images), counts, cfg.seed)
    add_source_digests(cfg, root, sources, workers)

    splits = []
    index = 0
    for name in dataset.SPLITS:
        n = counts[name]
        meta = {
            k: np.zeros((n, *tail), dtype=dt) for k, (tail, dt, _, _) in dataset.META_ARRAYS.items()
        }
        ids = split_sources[name]
        for j in range(n):
            s, rng = sample_rng(cfg.seed, index)
            params = UnprocessParams.sample(rng, cfg.transfer, cfg.tone)
            levels: NoiseLevels = noise.sample(rng) if profile is None else sensor_levels
            if cfg.source == BUILTIN:
                sid, y0, x0 = 0, 0, 0
            else:
                sid = ids[j * len(ids) // n]  # contiguous runs: one decode per source per shard
                im = images[sid]
                sy, sx = (cfg.scale * v for v in pattern.period)  # crops keep the CFA phase
                y0 = int(rng.integers(0, (im.height - side) // sy + 1)) * sy
                x0 = int(rng.integers(0, (im.width - side) // sx + 1)) * sx
                if cfg.source_kind == "raw":  # the file's own white balance and camera matrix
                    src = sources[sid]
                    xyz2cam = src["xyz2cam"] or np.linalg.inv(color.RGB2XYZ)
                    params = UnprocessParams(
                        np.asarray(xyz2cam),
                        src["wb_gains"][0],
                        src["wb_gains"][2],
                        params.digital_gain,
                        cfg.transfer,
                        cfg.tone,
                    )
            if cfg.source_kind in PAIR_KINDS:  # nothing simulated: no ISP or noise parameters
                params = _UNKNOWN_PARAMS
                levels = NoiseLevels(math.nan, math.nan)
            row = {
                "sample_index": index,
                "seed": s,
                "source_id": sid,
                "crop_box": (y0, x0, cfg.patch * cfg.scale, cfg.patch * cfg.scale),
                "xyz2cam": params.xyz2cam,
                "rgb2cam": params.rgb2cam,
                "wb_gains": (params.red_gain, _green_gain(params), params.blue_gain),
                "digital_gain": params.digital_gain,
                "shot_noise": levels.shot,
                "read_noise": levels.read,
                "black_level": fmt.black,
                "white_level": fmt.white,
            }
            for k, v in row.items():
                meta[k][j] = v
            index += 1
        splits.append(SplitPlan(name, n, meta))
    return Plan(cfg, pattern, fmt, root, sources, splits, skipped, profile)


def _green_gain(params: UnprocessParams) -> float:
    """1 (gains are relative to green), NaN when the gains are unknown (real pairs)."""
    return 1.0 if math.isfinite(params.red_gain) else math.nan


_UNKNOWN_PARAMS = UnprocessParams(np.full((3, 3), np.nan), math.nan, math.nan, math.nan)
"""Stored for real pairs: their camera's colour processing is not known (NaN, see the format)."""

HOLD_OUT_HINTS = {"test": "test", "val": "val", "val_comp": "val", "validation": "val"}
"""Pair sub-folders kept as held-out splits (the Zurich release's test/; PyNET-v2's val_comp/)."""


def _assign_pairs(hints: list[str | None], counts: dict[str, int], seed: int) -> dict:
    """Pairs per split. Without held-out sub-folders as :func:`_assign_sources`; with them (e.g.
    the Zurich ``test/``), pairs stay in the split of their folder and the other pairs feed
    the remaining splits in proportion."""
    held = {HOLD_OUT_HINTS.get(h) for h in hints} - {None}
    if not held:
        return _assign_sources(len(hints), counts, seed)
    out = {s: [i for i, h in enumerate(hints) if HOLD_OUT_HINTS.get(h) == s] for s in held}
    rest = [i for i, h in enumerate(hints) if HOLD_OUT_HINTS.get(h) is None]
    free = {s: (counts[s] if s not in held else 0) for s in dataset.SPLITS}
    if sum(free.values()) and rest:
        sub = _assign_sources(len(rest), free, seed)
        for s in dataset.SPLITS:
            if s not in held:
                out[s] = [rest[i] for i in sub[s]]
    for s in dataset.SPLITS:
        out.setdefault(s, [])
        if counts[s] > 0 and not out[s]:
            raise SourceError(
                f"no pairs for the {s} split ({counts[s]} samples asked): the pairs' folders "
                f"are {sorted({str(h) for h in hints})}; adjust --splits"
            )
    return out


def _assign_sources(n_images: int, counts: dict[str, int], seed: int) -> dict[str, list[int]]:
    """Give each split its own source images (no image in two splits), in proportion."""
    active = [s for s in dataset.SPLITS if counts[s] > 0]
    if n_images < len(active):
        raise SourceError(
            f"{n_images} usable image(s) cannot feed {len(active)} splits without sharing "
            f"images between splits; add images or use --splits 1,0,0"
        )
    total = sum(counts.values())
    alloc = {s: max(1, round(n_images * counts[s] / total)) for s in active}
    first = active[0]
    alloc[first] = n_images - sum(v for s, v in alloc.items() if s != first)
    while alloc[first] < 1:  # rounding gave the small splits too much
        big = max((s for s in active if s != first), key=lambda s: alloc[s])
        alloc[big] -= 1
        alloc[first] += 1
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED])).permutation(n_images)
    out, start = {}, 0
    for s in dataset.SPLITS:
        k = alloc.get(s, 0)
        out[s] = sorted(int(i) for i in order[start : start + k])
        start += k
    return out


def source_files(cfg: GenerateConfig, root: Path | None, src: dict) -> dict[str, Path]:
    """The files a source entry is read from, by the key of their digest in the entry."""
    if root is None:
        return {}
    files = {"sha256": root / src["path"]}
    if "target" in src:
        files["target_sha256"] = (root if cfg.source_kind == "zurich" else Path(cfg.targets)) / (
            src["target"]
        )
    return files


def add_source_digests(cfg: GenerateConfig, root: Path | None, sources: list[dict], workers=1):
    """Store the sha256 of every file a source is read from in its entry: what was read,
    so a resumed or running build notices a file replaced since planning."""
    from concurrent.futures import ThreadPoolExecutor

    from cfasim.source.images import file_sha256

    jobs = [
        (src, key, path) for src in sources for key, path in source_files(cfg, root, src).items()
    ]
    with ThreadPoolExecutor(max(1, workers)) as pool:  # hashlib releases the GIL
        digests = list(pool.map(lambda job: file_sha256(job[2]), jobs))
    for (src, key, _), digest in zip(jobs, digests, strict=True):
        src[key] = digest


def changed_sources(stored: list[dict], planned: list[dict]) -> list[str]:
    """Paths of the sources whose files differ between a store's and a new plan's lists
    (digests, sizes, or the list itself); digests an older store lacks are not compared."""
    if len(stored) != len(planned):
        return [f"the source list ({len(stored)} stored, {len(planned)} now)"]
    changed = []
    for old, new in zip(stored, planned, strict=True):
        keys = set(old) & set(new)
        if any(old[k] != new[k] for k in keys) or old.get("path") != new.get("path"):
            changed.append(str(new.get("path", old.get("path", "?"))))
    return changed


def source_digest(sources: list[dict]) -> str:
    return hashlib.sha256(json.dumps(sources, sort_keys=True).encode()).hexdigest()


def create_store(p: Plan, out: Path) -> None:
    """Write root attributes and every split's metadata; data arrays are created empty."""
    cfg = p.config
    attrs = {
        "format_version": dataset.FORMAT_VERSION,
        "version": __version__,
        "status": "creating",
        "pattern": p.pattern.to_dict(),
        "config": config_dict(cfg),
        "seed": cfg.seed,
        "raw_format": {"bits": p.fmt.bits, "black": p.fmt.black, "white": p.fmt.white},
        "sources": p.sources,
        "source_digest": source_digest(p.sources),
        "splits": {s.name: s.count for s in p.splits},
        "noise_key": "Philox4x32-10, key = seed, counter = (x // 2, y, sample_index, 0)",
        **({"sensor_profile": p.profile.to_dict()} if p.profile else {}),
    }
    root = zarr.open_group(zarr_store(out), mode="w", attributes={dataset.ATTRS_KEY: attrs})
    for sp in p.splits:
        arrays = dataset.DataArrays(
            sp.count, cfg.patch, cfg.patch, cfg.scale, cfg.shard_samples, cfg.clean
        )
        dataset.create_split(root, sp.name, arrays, sp.meta)
    dataset.set_status(root, "building")  # every array exists: from here on a build can resume


def config_dict(cfg: GenerateConfig) -> dict:
    """The config as stored in the dataset's attributes."""
    return {**asdict(cfg), "splits": list(cfg.splits)}


def shard_jobs(p: Plan) -> list[tuple[str, int, int]]:
    """(split, start, stop) of every shard: one writer task each."""
    return [
        (sp.name, a, b)
        for sp in p.splits
        for a, b in dataset.shard_ranges(sp.count, p.config.shard_samples)
    ]


def finished_shards(p: Plan, out) -> set[tuple[str, int, int]]:
    """Shards whose files exist for every data array (LocalStore writes whole files
    atomically, and an object store makes an object visible only once it is whole, so an
    existing shard file is a complete one)."""
    names = ["raw", "target"] + (["clean"] if p.config.clean else [])
    root, fs = zarr.open_group(zarr_store(out), mode="r"), StoreFS(out)
    done = set()
    for split, a, b in shard_jobs(p):
        index = a // p.config.shard_samples
        keys = []
        for name in names:
            meta = root[split][name].metadata
            keys.append(meta.encode_chunk_key((index,) + (0,) * (len(meta.shape) - 1)))
        if all(fs.is_file(f"{split}/{name}/{key}") for name, key in zip(names, keys, strict=True)):
            done.add((split, a, b))
    return done


def stored_config(out) -> dict | None:
    """The generation config stored in a cfasim store (None if there is none)."""
    try:
        return dict(dataset.open_root(out).attrs[dataset.ATTRS_KEY]["config"])
    except (dataset.DatasetError, KeyError, TypeError):
        return None


def store_status(p: Plan, out) -> str | None:
    """Status of an existing store of exactly this configuration (``creating``, ``building``,
    ``complete``), None if there is none; raises if ``out`` holds a different dataset."""
    try:
        attrs = dataset.open_root(out).attrs[dataset.ATTRS_KEY]
    except dataset.DatasetError:
        return None
    stored, wanted = attrs["config"], config_dict(p.config)
    if stored != wanted:
        diff = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        raise dataset.DatasetError(
            f"cannot resume {out}: it was generated with different settings ({', '.join(diff)})"
        )
    changed = changed_sources(attrs.get("sources", []), p.sources)
    if changed:
        shown = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        raise dataset.DatasetError(
            f"cannot resume {out}: source file(s) changed since it was started: {shown}; "
            f"restore them or start again with --overwrite"
        )
    return attrs["status"]


def render_shard(p: Plan, out: str, split: str, start: int, stop: int, parallel: bool = False):
    """Render samples [start, stop) of ``split`` and write them as one whole shard."""
    sp = next(s for s in p.splits if s.name == split)
    cfg, m = p.config, sp.meta
    n, h, t = stop - start, cfg.patch, cfg.patch * cfg.scale
    raw = np.empty((n, h, h), dtype=np.uint16)
    target = np.empty((n, t, t, 3), dtype=np.uint8)
    clean = np.empty((n, h, h, 3), dtype=np.float16) if cfg.clean else None
    cached_id, cached = -1, None
    optics = p.optics if p.profile is not None else None
    psf = optics.psf() if optics is not None else None  # a user kernel file is read once
    for i, j in enumerate(range(start, stop)):
        if p.root is None:
            image = scenes.dead_leaves(t, t, scene_seed(int(m["seed"][j])))
        else:
            sid = int(m["source_id"][j])
            if sid != cached_id:
                cached = _load_source(p, sid)
                cached_id = sid
            y0, x0, hh, ww = (int(v) for v in m["crop_box"][j])
            if cfg.source_kind in PAIR_KINDS:  # stored as captured, nothing simulated
                mosaic, full_target = cached
                s = cfg.scale
                raw[i] = mosaic[y0 // s : (y0 + hh) // s, x0 // s : (x0 + ww) // s]
                crop = full_target[y0 : y0 + hh, x0 : x0 + ww]
                target[i] = crop if crop.dtype == np.uint8 else _to_uint8(crop)
                continue
            image = cached[y0 : y0 + hh, x0 : x0 + ww]
        params = UnprocessParams(
            m["xyz2cam"][j],
            float(m["wb_gains"][j][0]),
            float(m["wb_gains"][j][2]),
            float(m["digital_gain"][j]),
            cfg.transfer,
            cfg.tone,
        )
        levels = NoiseLevels(float(m["shot_noise"][j]), float(m["read_noise"][j]))
        key = {
            "seed": cfg.seed,
            "sample": int(m["sample_index"][j]),
            "clean": cfg.clean,
            "parallel": parallel,
        }
        if p.profile is not None:  # the colour kernel gives the clean signal, the sensor the rest
            levels, key["clean"] = NoiseLevels(0.0, 0.0), True
        if cfg.source_kind == "raw":  # linear camera RGB: re-mosaic it, render the target
            raw[i], lin = simulate_raw_linear(image, p.pattern, levels, p.fmt, **key)
            target[i] = np.round(process(image, params) * 255.0).astype(np.uint8)
        else:
            sensor = image if cfg.scale == 1 else downscale_display(image, cfg.scale, params)
            raw[i], lin = simulate_raw(sensor, p.pattern, params, levels, p.fmt, **key)
            target[i] = image if image.dtype == np.uint8 else _to_uint8(image)
        if p.profile is not None:
            lin, raw[i] = sensor_raw(p, lin, optics, psf, key["sample"], parallel)
        if clean is not None:
            clean[i] = lin
    g = zarr.open_group(zarr_store(out), mode="r+")[split]
    g["raw"][start:stop] = raw
    g["target"][start:stop] = target
    if clean is not None:
        g["clean"][start:stop] = clean
    return stop - start


def sensor_raw(p: Plan, clean: np.ndarray, optics, psf, sample: int, parallel: bool):
    """Optics on the clean linear camera RGB (``psf`` = ``optics.psf()``, then shading; each
    patch is treated as a whole frame), then the sensor profile's physics (crosstalk, electrons,
    noise, blooming, ADC). Returns (the clean signal as it reaches the pixels, raw)."""
    from cfasim.sensor.optics import apply_psf
    from cfasim.sensor.physics import simulate_sensor

    cfg = p.config
    if psf is not None:
        clean = apply_psf(clean, psf)
    shading = optics.shading(*clean.shape[:2])
    if shading is not None:
        clean = clean * shading[..., None]
    clean = np.ascontiguousarray(clean, dtype=np.float32)
    raw = simulate_sensor(
        clean,
        p.pattern,
        p.profile,
        cfg.iso,
        seed=cfg.seed,
        sample=sample,
        sensor_seed=cfg.sensor_seed,
        exposure_time_s=cfg.exposure_time_s,
        crosstalk=optics.crosstalk_kernel(),
        blooming=optics.blooming,
        parallel=parallel,
    )
    return clean, raw


def _load_source(p: Plan, sid: int):
    """Decoded source ``sid``: an image, a binned RAW, or a (mosaic, target) pair."""
    src, cfg = p.sources[sid], p.config
    path = p.root / src["path"]
    for key, file in source_files(cfg, p.root, src).items():
        verify_source(file, src.get(key))
    if cfg.source_kind == "raw":
        return bin_to_linear_rgb(read_raw(path))
    if cfg.source_kind in PAIR_KINDS:
        zurich = cfg.source_kind == "zurich"
        target_path = (p.root if zurich else Path(cfg.targets)) / src["target"]
        pair = Pair(path, target_path, src.get("split_hint"))
        if zurich:
            return load_zurich_pair(pair)
        return load_pair(pair, max_code=p.fmt.white, scale=float(cfg.scale))
    return load_image(path)


def _to_uint8(image16: np.ndarray) -> np.ndarray:
    return ((image16.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def build(
    p: Plan,
    out: Path,
    workers: int = 1,
    progress: bool | None = None,
    resume: bool = False,
    client=None,
    overwrite: bool = False,
) -> int:
    """Create the store and render every shard, one Dask task per shard; returns the number
    of shards rendered. Holds the output's build lock throughout (:mod:`cfasim.store.lock`).

    ``resume``: continue an interrupted build of the same configuration and sources,
    rendering only the shards whose files are missing (complete shards are not rewritten),
    or finish the finalisation of a store a kill left ``finalizing``. ``overwrite``: replace
    an existing cfasim dataset; locally the new one is built beside it and swapped in only
    once complete (:mod:`cfasim.store.output`). Nothing that is not a cfasim dataset is ever
    deleted. ``client``: a ``dask.distributed`` client (a cluster); otherwise ``workers``
    local threads.
    """
    out = out if is_url(out) else Path(out)
    with build_lock(out):
        recover_swap(out)
        target, status = _build_target(p, out, overwrite, resume)
        if status == "complete":
            return 0
        if status == "building":
            for leftover in [] if is_url(target) else target.rglob("*.partial"):
                leftover.unlink()  # half-written temporaries of a killed writer
            done = finished_shards(p, target)
        elif status == "finalizing":
            done = set(shard_jobs(p))
        else:
            create_store(p, target)
            done = set()
        jobs = [j for j in shard_jobs(p) if j not in done]
        _render_shards(p, target, jobs, workers, progress, client)
        finalize(target, [sp.name for sp in p.splits])  # card, checksums, then complete
        if target != out:
            swap_in(target, out)
        return len(jobs)


def _build_target(p: Plan, out, overwrite: bool, resume: bool):
    """(where to build, the status of the store already there: None for a fresh build)."""
    if resume:
        staged = None if is_url(out) else staging_path(out)
        for candidate in [staged, out]:  # a killed replacement build continues where it was
            if candidate is None or not is_cfasim_store(candidate):
                continue
            if candidate == staged and stored_config(candidate) != config_dict(p.config):
                continue  # a replacement with other settings: --overwrite starts it afresh
            status = store_status(p, candidate)
            if status == "complete" and not is_finalized(candidate):
                status = "finalizing"  # written by an older cfasim, killed before its card
            if status in ("building", "finalizing", "complete"):
                return candidate, status
    decision = check_output(out, overwrite, resume)
    if decision in (Output.REPLACE, Output.RESUME):  # RESUME: a store still "creating"
        if is_url(out):
            StoreFS(out).remove_all()  # object stores cannot swap: planning has succeeded
        elif decision == Output.REPLACE:
            return clear_staging(out), None
    return out, None


def _render_shards(p: Plan, out, jobs, workers: int, progress: bool | None, client) -> None:
    """Run one Dask task per shard job, with a progress bar of completed samples."""
    import dask
    from tqdm import tqdm

    render = dask.delayed(partial(render_shard, p, str(out)), pure=True, traverse=False)
    tasks = [render(*job, dask_key_name=f"shard-{job[0]}-{job[1]}") for job in jobs]
    show = sys.stderr.isatty() if progress is None else progress
    total = sum(b - a for _, a, b in jobs)
    with tqdm(total=total, unit="sample", disable=not show, desc="generate") as bar:
        if client is not None:
            from distributed import as_completed

            for future in as_completed(client.compute(tasks)):
                bar.update(future.result())
        else:
            from dask.diagnostics import Callback

            class _Progress(Callback):
                def _posttask(self, key, result, dsk, state, worker_id):
                    if isinstance(result, int):
                        bar.update(result)

            with _Progress():
                dask.compute(*tasks, scheduler="threads", num_workers=workers)
