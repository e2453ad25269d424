"""Planning a build: scan the source and draw every per-sample random choice up front.

Every choice (camera matrix, gains, noise levels, crop, scene seed) comes from a generator
seeded by (dataset seed, global sample index), so the plan, and therefore the dataset, does not
depend on the number of workers, threads or shards.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfasim.cfa import CFAPattern, get_pattern
from cfasim.isp import color
from cfasim.isp.steps import UnprocessParams
from cfasim.pipeline.source_kinds import Scan, SourceKind, source_kind
from cfasim.sensor.profile import SensorProfile, load_profile
from cfasim.sim.noise import NoiseLevels, NoiseModel
from cfasim.sim.simulate import RawFormat
from cfasim.source.images import SourceError
from cfasim.store import schema as dataset
from cfasim.store.generate_config import GenerateConfig


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


def plan(config: GenerateConfig, workers: int = 1) -> Plan:
    """Scan the source and draw every per-sample parameter (see the module docstring)."""
    cfg = config.validated()
    pattern = get_pattern(cfg.pattern)
    fmt = RawFormat(cfg.bits, cfg.black_level, cfg.white_level)
    profile = load_profile(cfg.sensor) if cfg.sensor else None
    kind = source_kind(cfg)
    found = kind.scan(fmt, workers)
    add_source_digests(kind, found, workers)
    if cfg.source_kind == "zurich":  # each patch once, in the release's own splits
        split_sources = zurich_splits(found.hints, cfg.splits, cfg.count, cfg.seed)
        counts = {name: len(ids) for name, ids in split_sources.items()}
    else:
        counts = cfg.split_counts()
        split_sources = _split_sources(found, counts, cfg.seed)
    draw = _SampleDrawer(cfg, pattern, fmt, profile, kind, found)
    index, splits = 0, []
    for name in dataset.SPLITS:
        meta = draw.split(counts[name], split_sources[name], index)
        index += counts[name]
        splits.append(SplitPlan(name, counts[name], meta))
    return Plan(cfg, pattern, fmt, found.root, found.sources, splits, found.skipped, profile)


class _SampleDrawer:
    """Draws the metadata rows of the samples of a plan."""

    def __init__(self, cfg, pattern, fmt, profile, kind: SourceKind, found: Scan):
        self.cfg, self.pattern, self.fmt, self.kind, self.found = cfg, pattern, fmt, kind, found
        self.noise = NoiseModel.parse("none" if profile else cfg.noise)
        self.sensor_levels = (
            None if profile is None else sensor_noise_levels(profile, cfg.iso, cfg.exposure_time_s)
        )

    def split(self, n: int, ids: list[int], first_index: int) -> dict[str, np.ndarray]:
        """The metadata arrays of a split of ``n`` samples drawn from sources ``ids``."""
        meta = {
            k: np.zeros((n, *tail), dtype=dt) for k, (tail, dt, _, _) in dataset.META_ARRAYS.items()
        }
        for j in range(n):
            sid = ids[j * len(ids) // n]  # contiguous runs: one decode per source per shard
            for k, v in self.row(first_index + j, sid).items():
                meta[k][j] = v
        return meta

    def row(self, index: int, sid: int) -> dict:
        """The metadata of global sample ``index``, cropped from source ``sid``."""
        cfg = self.cfg
        s, rng = sample_rng(cfg.seed, index)
        params = UnprocessParams.sample(rng, cfg.transfer, cfg.tone)
        if cfg.camera is not None:  # drawn all the same: the other draws do not move
            params = dataclasses.replace(params, xyz2cam=color.camera_xyz2cam(cfg.camera))
        levels = self.noise.sample(rng) if self.sensor_levels is None else self.sensor_levels
        side = cfg.patch * cfg.scale
        y0 = x0 = 0
        if self.found.root is not None:
            im = self.found.images[sid]
            sy, sx = (cfg.scale * v for v in self.pattern.period)  # crops keep the CFA phase
            y0 = int(rng.integers(0, (im.height - side) // sy + 1)) * sy
            x0 = int(rng.integers(0, (im.width - side) // sx + 1)) * sx
            params = self.kind.params(self.found.sources[sid], params)
            levels = self.kind.levels(levels)
        return {
            "sample_index": index,
            "seed": s,
            "source_id": sid,
            "crop_box": (y0, x0, side, side),
            "xyz2cam": params.xyz2cam,
            "rgb2cam": params.rgb2cam,
            "wb_gains": (params.red_gain, _green_gain(params), params.blue_gain),
            "digital_gain": params.digital_gain,
            "shot_noise": levels.shot,
            "read_noise": levels.read,
            "black_level": self.fmt.black,
            "white_level": self.fmt.white,
        }


def _green_gain(params: UnprocessParams) -> float:
    """1 (gains are relative to green), NaN when the gains are unknown (real pairs)."""
    return 1.0 if math.isfinite(params.red_gain) else math.nan


HOLD_OUT_HINTS = {"test": "test", "val": "val", "val_comp": "val", "validation": "val"}
"""Pair sub-folders kept as held-out splits (the Zurich release's test/; PyNET-v2's val_comp/)."""


def _split_sources(found: Scan, counts: dict[str, int], seed: int) -> dict[str, list[int]]:
    """The sources each split draws its samples from (built-in scenes: the one scene)."""
    if found.root is None:
        return {name: [0] for name in dataset.SPLITS}
    if found.hints is not None:
        return _assign_pairs(found.hints, counts, seed)
    return _assign_sources(len(found.images), counts, seed)


def zurich_splits(hints, splits, count, seed: int) -> dict[str, list[int]]:
    """The patches of each split of a Zurich RAW-to-RGB build, each patch used once, in the
    release's numbering: ``test/`` is the test split; ``train/`` is all train, or with
    ``splits`` divided between train and val in the ratio of its first two fractions (a
    seeded draw). ``count`` below the number of patches keeps the first ones of every split
    in proportion; above it is an error naming how many there are."""
    folders = {
        s: [i for i, h in enumerate(hints) if HOLD_OUT_HINTS.get(h) == s] for s in dataset.SPLITS
    }
    rest = [i for i, h in enumerate(hints) if HOLD_OUT_HINTS.get(h) is None]
    folders["train"] = sorted(folders["train"] + rest)
    if splits is not None and splits[1] > 0 and not folders["val"]:
        n_val = round(len(folders["train"]) * splits[1] / (splits[0] + splits[1]))
        order = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED])).permutation(
            folders["train"]
        )
        folders["val"] = sorted(int(i) for i in order[:n_val])
        folders["train"] = sorted(int(i) for i in order[n_val:])
    if splits is not None and splits[2] == 0:
        folders["test"] = []
    total = sum(len(v) for v in folders.values())
    if count is None or count == total:
        return folders
    if count > total:
        sizes = ", ".join(f"{s} {len(v)}" for s, v in folders.items() if v)
        raise SourceError(
            f"--count {count}: the Zurich folder has {total} patches ({sizes}), each used once; "
            f"omit --count to use them all"
        )
    keep = {s: round(count * len(v) / total) for s, v in folders.items()}
    keep["train"] += count - sum(keep.values())
    return {s: v[: keep[s]] for s, v in folders.items()}


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


def add_source_digests(kind: SourceKind, found: Scan, workers: int = 1) -> None:
    """Store the sha256 of every file a source is read from in its entry: what was read,
    so a resumed or running build notices a file replaced since planning."""
    from concurrent.futures import ThreadPoolExecutor

    from cfasim.source.images import file_sha256

    jobs = [
        (src, key, path)
        for src in found.sources
        for key, path in (kind.files(found.root, src) if found.root else {}).items()
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
