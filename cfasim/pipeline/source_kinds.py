"""One protocol for the kinds of source a dataset is made from: built-in scenes, image folders,
camera RAW files and captured pairs.

Each kind says how its folder is scanned (which files, their usable sizes, their stored entry),
which files a source entry was read from (for the sha256 digests), how a source is decoded,
which ISP and noise parameters its samples get, and how one sample is rendered. :func:`plan`
and :func:`render_shard` go through :func:`source_kind` and never branch on the kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cfasim.errors import ConfigError
from cfasim.isp import color
from cfasim.isp.steps import UnprocessParams, process
from cfasim.sim.noise import NoiseLevels
from cfasim.sim.simulate import downscale_display, simulate_raw, simulate_raw_linear
from cfasim.source import charts, scenes
from cfasim.source.images import SourceImage, load_image, scan_folder, verify_source
from cfasim.source.pairs import (
    Pair,
    check_pairs,
    load_pair,
    load_zurich_pair,
    scan_pairs,
    scan_zurich,
)
from cfasim.source.raw import bin_to_linear_rgb, read_raw, scan_raw_folder
from cfasim.store.generate_config import BUILTIN, GenerateConfig

SCENE_STREAM = 1

UNKNOWN_PARAMS = UnprocessParams(np.full((3, 3), np.nan), math.nan, math.nan, math.nan)
"""Stored for real pairs: their camera's colour processing is not known (NaN, see the format)."""


def scene_seed(sample_seed: int) -> int:
    """Seed of a sample's built-in scene: its own stream of the per-sample seed."""
    return int(np.random.SeedSequence([sample_seed, SCENE_STREAM]).generate_state(1, np.uint64)[0])


@dataclass
class Scan:
    """What a source kind found.

    Attributes
    ----------
    root : Path or None
        The source folder (None for built-in scenes).
    sources : list of dict
        The entries stored in ``attributes["cfasim"]["sources"]``.
    images : list of SourceImage
        Per entry, the usable size in target pixels (crops are drawn inside it).
    skipped : list of (str, str)
        Files not used, with the reason.
    hints : list of str or None, optional
        Per entry, the held-out folder it came from (captured pairs), else None.
    """

    root: Path | None
    sources: list[dict]
    images: list[SourceImage]
    skipped: list[tuple[str, str]]
    hints: list[str | None] | None = None


class SourceKind:
    """The steps every kind implements (defaults: those of synthesised samples)."""

    real_pairs = False  # samples stored as captured: no ISP or noise parameters

    def __init__(self, cfg: GenerateConfig):
        self.cfg = cfg

    def scan(self, fmt, workers: int) -> Scan:
        raise NotImplementedError

    def files(self, root: Path, src: dict) -> dict[str, Path]:
        """The files a source entry is read from, by the key of their digest in the entry."""
        return {"sha256": root / src["path"]}

    def load(self, root: Path, src: dict, fmt):
        """The decoded source, after checking each file still has its planned digest."""
        for key, file in self.files(root, src).items():
            verify_source(file, src.get(key))
        return self._decode(root, src, fmt)

    def _decode(self, root: Path, src: dict, fmt):
        raise NotImplementedError

    def params(self, src: dict, drawn: UnprocessParams) -> UnprocessParams:
        """The ISP parameters a sample of ``src`` gets, given the ones drawn for it."""
        return drawn

    def levels(self, drawn: NoiseLevels) -> NoiseLevels:
        """The noise levels stored for a sample, given the ones drawn for it."""
        return drawn

    def render(self, p, source, crop: tuple[int, int, int, int], sample: dict):
        """One sample: ``(raw, target, clean linear camera RGB or None)``.

        ``sample`` holds ``params`` (UnprocessParams), ``levels`` (NoiseLevels), ``seed`` (the
        per-sample seed) and ``key`` (the noise key of :func:`cfasim.sim.simulate.simulate_raw`).
        """
        y0, x0, hh, ww = crop
        return self._from_display(p, source[y0 : y0 + hh, x0 : x0 + ww], sample)

    def _from_display(self, p, image: np.ndarray, sample: dict):
        """Unprocess a display-referred sRGB image, mosaic it, add noise."""
        cfg, params = self.cfg, sample["params"]
        sensor = image if cfg.scale == 1 else downscale_display(image, cfg.scale, params)
        raw, lin = simulate_raw(sensor, p.pattern, params, sample["levels"], p.fmt, **sample["key"])
        return raw, image if image.dtype == np.uint8 else to_uint8(image), lin


class BuiltinScenes(SourceKind):
    """Dead-leaves scenes drawn from each sample's seed: nothing to read."""

    def scan(self, fmt, workers: int) -> Scan:
        side = self.cfg.patch * self.cfg.scale
        entry = {"kind": "dead_leaves", "height": side, "width": side}
        return Scan(None, [{**entry, "seed": "scene_seed(per-sample seed)"}], [], [])

    def files(self, root, src) -> dict[str, Path]:
        return {}

    def load(self, root, src, fmt):
        return None

    def render(self, p, source, crop, sample):
        t = self.cfg.patch * self.cfg.scale
        return self._from_display(p, scenes.dead_leaves(t, t, scene_seed(sample["seed"])), sample)


class ChartSource(SourceKind):
    """A test chart (:mod:`cfasim.source.charts`, ``--source chart:NAME``) at the target size:
    every sample is the same chart, drawn once per shard; only the drawn camera, gains and
    noise differ between samples."""

    def __init__(self, cfg: GenerateConfig):
        super().__init__(cfg)
        self.chart = charts.chart_name(cfg.source)
        if cfg.source_kind != "images":
            raise ConfigError(
                f"--source {cfg.source} is rendered like the built-in scenes: drop "
                f"--source-kind {cfg.source_kind}"
            )

    def scan(self, fmt, workers: int) -> Scan:
        side = self.cfg.patch * self.cfg.scale
        charts.render_chart(self.chart, side, side)  # a chart too small fails at planning
        entry = {"kind": "chart", "chart": self.chart, "height": side, "width": side}
        return Scan(None, [entry], [], [])

    def files(self, root, src) -> dict[str, Path]:
        return {}

    def load(self, root, src, fmt):
        return charts.to_uint16(charts.render_chart(src["chart"], src["height"], src["width"]))


class ImageFolder(SourceKind):
    """JPEG/PNG/TIFF photos (8 or 16 bit), unprocessed to camera RAW."""

    def scan(self, fmt, workers: int) -> Scan:
        root, side = Path(self.cfg.source), self.cfg.patch * self.cfg.scale
        found = scan_folder(root, min_height=side, min_width=side, workers=workers)
        images = list(found.images)
        sources = [
            {"path": im.path, "height": im.height, "width": im.width, "bit_depth": im.bit_depth}
            for im in images
        ]
        return Scan(root, sources, images, list(found.skipped))

    def _decode(self, root, src, fmt):
        return load_image(root / src["path"])


class RawFiles(SourceKind):
    """Bayer RAW files: the 2x2-binned linear camera RGB is re-mosaicked, and the target is
    rendered by cfasim's ISP with each file's own white balance and colour matrix."""

    def scan(self, fmt, workers: int) -> Scan:
        root, side = Path(self.cfg.source), self.cfg.patch
        found = scan_raw_folder(root, min_height=side, min_width=side, workers=workers)
        images = [  # binned sizes
            SourceImage(im.path, im.height // 2, im.width // 2, 16) for im in found.images
        ]
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
            for im in found.images
        ]
        return Scan(root, sources, images, list(found.skipped))

    def _decode(self, root, src, fmt):
        return bin_to_linear_rgb(read_raw(root / src["path"]))

    def params(self, src, drawn):
        xyz2cam = src["xyz2cam"] or color.inv3(color.RGB2XYZ)
        return UnprocessParams(
            np.asarray(xyz2cam),
            src["wb_gains"][0],
            src["wb_gains"][2],
            drawn.digital_gain,
            self.cfg.transfer,
            self.cfg.tone,
        )

    def render(self, p, source, crop, sample):
        y0, x0, hh, ww = crop
        image = source[y0 : y0 + hh, x0 : x0 + ww]
        raw, lin = simulate_raw_linear(image, p.pattern, sample["levels"], p.fmt, **sample["key"])
        target = np.round(process(image, sample["params"]) * 255.0).astype(np.uint8)
        return raw, target, lin


class CapturedPairs(SourceKind):
    """Real RAW/sRGB pairs (the Zurich RAW-to-RGB layout, or two folders), stored as captured."""

    real_pairs = True

    @property
    def zurich(self) -> bool:
        return self.cfg.source_kind == "zurich"

    def _target_root(self, root: Path) -> Path:
        return root if self.zurich else Path(self.cfg.targets)

    def scan(self, fmt, workers: int) -> Scan:
        cfg, root = self.cfg, Path(self.cfg.source)
        found = scan_zurich(root) if self.zurich else scan_pairs(root, cfg.targets)
        usable, skipped = check_pairs(
            found,
            zurich=self.zurich,
            min_side=cfg.patch,
            scale=cfg.scale,
            max_code=fmt.white,
            workers=workers,
        )
        images = [  # sizes in target pixels, like an image source's
            SourceImage(str(u.pair.raw_path), u.height * cfg.scale, u.width * cfg.scale, 8)
            for u in usable
        ]
        sources = [
            {
                "path": u.pair.raw_path.relative_to(root).as_posix(),
                "target": u.pair.target_path.relative_to(self._target_root(root)).as_posix(),
                "kind": "pair",
                "split_hint": u.pair.split_hint,
                "height": u.height,
                "width": u.width,
            }
            for u in usable
        ]
        return Scan(root, sources, images, skipped, [u.pair.split_hint for u in usable])

    def files(self, root, src):
        target = self._target_root(root) / src["target"]
        return {"sha256": root / src["path"], "target_sha256": target}

    def _decode(self, root, src, fmt):
        target = self._target_root(root) / src["target"]
        pair = Pair(root / src["path"], target, src.get("split_hint"))
        if self.zurich:
            return load_zurich_pair(pair)
        return load_pair(pair, max_code=fmt.white, scale=float(self.cfg.scale))

    def params(self, src, drawn):
        return UNKNOWN_PARAMS  # nothing simulated: no ISP parameters

    def levels(self, drawn):
        return NoiseLevels(math.nan, math.nan)

    def render(self, p, source, crop, sample):
        mosaic, full_target = source
        y0, x0, hh, ww = crop
        s = self.cfg.scale
        raw = mosaic[y0 // s : (y0 + hh) // s, x0 // s : (x0 + ww) // s]
        target = full_target[y0 : y0 + hh, x0 : x0 + ww]
        return raw, target if target.dtype == np.uint8 else to_uint8(target), None


def source_kind(cfg: GenerateConfig) -> SourceKind:
    """The source kind of a (validated) config."""
    if cfg.source == BUILTIN:
        return BuiltinScenes(cfg)
    if charts.chart_name(cfg.source) is not None:
        return ChartSource(cfg)
    kinds = {"images": ImageFolder, "raw": RawFiles, "zurich": CapturedPairs}
    return kinds.get(cfg.source_kind, CapturedPairs)(cfg)


def to_uint8(image16: np.ndarray) -> np.ndarray:
    """16-bit display values to 8 bit, rounded to nearest."""
    return ((image16.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
