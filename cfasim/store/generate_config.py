"""The generation config: everything that determines a dataset's content, written once.

:class:`GenerateConfig` is what a store records in ``attributes["cfasim"]["config"]``; the
options of ``cfasim generate`` that set it are defined here, once (:func:`content_options`), and
drive the click command, the dataset card's "regenerate" command line and its parser
(:func:`option_params`). The fields without an option (``tone``, ``white_level``) are set from
Python only (:data:`PYTHON_ONLY`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass

import click
import numpy as np

from cfasim.cfa import BLOCK_SIZES, PHASES, CFAPattern, get_pattern
from cfasim.errors import ConfigError
from cfasim.isp.color import CAMERA_NAMES
from cfasim.sensor.profile import builtin_profiles, load_profile
from cfasim.sim.noise import NoiseModel
from cfasim.sim.simulate import RawFormat
from cfasim.source.pairs import ZRR_PATTERN
from cfasim.store import schema as dataset

BUILTIN = "builtin"
DEFAULT_COUNT = 256
DEFAULT_SPLITS = (0.8, 0.1, 0.1)
DEFAULT_PATCH = 288  # a multiple of every built-in period (2, 4, 6, 8) and of 32
SCENE_STREAM = 1
PAIR_KINDS = dataset.REAL_PAIR_KINDS
SOURCE_KINDS = ("images", "raw", *PAIR_KINDS)


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that determines a dataset's content (stored in the dataset's attributes)."""

    pattern: str | None = None  # default: bayer for zurich pairs, else nona
    source: str = BUILTIN
    count: int | None = None  # default: 256, or every patch of a Zurich RAW-to-RGB folder
    patch: int = DEFAULT_PATCH
    splits: tuple[float, float, float] | None = None  # default: 0.8,0.1,0.1 (Zurich: folders)
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
    camera: str | None = None  # one fixed camera of the bank (the "camera" task); None: Brooks

    def validated(self) -> GenerateConfig:
        """Check every field; return a copy with derived defaults filled in."""
        real_pairs = self.source_kind in PAIR_KINDS
        pattern_spec = self.pattern or ("bayer" if self.source_kind == "zurich" else "nona")
        pattern = get_pattern(pattern_spec)
        physics = _sensor_fields(self, real_pairs) if self.sensor is not None else {}
        noise_spec, fmt = self._noise_and_format(physics, real_pairs)
        self._check_sizes(pattern)
        zurich = self.source_kind == "zurich"
        count = DEFAULT_COUNT if self.count is None and not zurich else self.count
        if count is not None and count < 1:
            raise ConfigError(f"count must be >= 1, got {count}")
        splits = DEFAULT_SPLITS if self.splits is None and not zurich else self.splits
        splits = None if splits is None else _checked_splits(splits)
        self._check_source(pattern, noise_spec, real_pairs)
        self._check_camera()
        if not 0 <= self.seed < 1 << 63:
            raise ConfigError(f"seed must be in [0, 2**63), got {self.seed}")
        shard = self.shard_samples or dataset.shard_samples_for(2 * self.patch * self.patch)
        if shard < 1:
            raise ConfigError(f"shard_samples must be >= 1, got {shard}")
        return GenerateConfig(
            **{
                **asdict(self),
                "pattern": pattern.name,
                **physics,
                "noise": noise_spec,
                "count": count,
                "splits": splits,
                "bits": fmt.bits,
                "black_level": fmt.black,
                "white_level": fmt.white,
                "shard_samples": shard,
            }
        )

    def _noise_and_format(self, physics: dict, real_pairs: bool) -> tuple[str, RawFormat]:
        """The noise spec and the RAW format: a sensor's own, or the given/default ones."""
        if physics:
            fmt = RawFormat(physics["bits"], physics["black_level"], physics["white_level"])
            return SENSOR_NOISE, fmt
        if self.iso is not None or self.optics or self.exposure_time_s is not None:
            raise ConfigError("--iso, --exposure-time and --optics need --sensor")
        noise_spec = self.noise or ("none" if real_pairs else "brooks")
        NoiseModel.parse(noise_spec)
        bits = 10 if self.bits is None else self.bits
        black = 64 if self.black_level is None else self.black_level
        return noise_spec, RawFormat(bits, black, self.white_level)

    def _check_sizes(self, pattern: CFAPattern) -> None:
        py, px = pattern.period
        if self.patch < 1 or self.patch % py or self.patch % px:
            lcm = math.lcm(py, px)
            near = max(lcm, round(self.patch / lcm) * lcm)
            raise ConfigError(
                f"patch {self.patch} is not a multiple of the {pattern.label} period {py}x{px}; "
                f"try {near}"
            )
        if self.scale not in (1, 2):
            raise ConfigError(f"scale must be 1 or 2 (target side / RAW side), got {self.scale}")

    def _check_source(self, pattern: CFAPattern, noise_spec: str, real_pairs: bool) -> None:
        if self.source_kind not in SOURCE_KINDS:
            raise ConfigError(
                f"source kind must be one of {SOURCE_KINDS}, got {self.source_kind!r}"
            )
        if self.source_kind == "raw" and (self.source == BUILTIN or self.scale != 1):
            raise ConfigError("RAW sources need a folder (--source DIR) and --scale 1")
        if real_pairs:
            _check_real_pairs(self, pattern, noise_spec)
        elif self.targets is not None:
            raise ConfigError("--targets is only used with --source-kind pairs")

    def _check_camera(self) -> None:
        if self.camera is None:
            return
        if self.camera not in CAMERA_NAMES:
            raise ConfigError(
                f"unknown camera {self.camera!r}; choose one of {', '.join(CAMERA_NAMES)}"
            )
        if self.source_kind != "images":
            raise ConfigError(
                f"--camera fixes the colour matrix of rendered images; --source-kind "
                f"{self.source_kind} data has its own camera"
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


def _checked_splits(given) -> tuple[float, float, float]:
    splits = tuple(float(f) for f in given)
    if len(splits) != 3 or min(splits) < 0 or not math.isclose(sum(splits), 1.0, abs_tol=1e-6):
        raise ConfigError(f"splits must be three fractions >= 0 summing to 1, got {given}")
    return splits


def _sensor_fields(cfg: GenerateConfig, real_pairs: bool) -> dict:
    """Validated sensor settings: the profile's ADC format and the resolved ISO."""
    from cfasim.sensor.optics import Optics

    if real_pairs:
        raise ConfigError("real pairs carry their camera's own noise: drop --sensor")
    if cfg.noise not in (None, SENSOR_NOISE):
        raise ConfigError("--noise and --sensor exclude each other (the sensor sets the noise)")
    profile = load_profile(cfg.sensor)
    given = {"bits": cfg.bits, "black_level": cfg.black_level, "white_level": cfg.white_level}
    own = {
        "bits": profile.bits,
        "black_level": profile.black_level_dn,
        "white_level": profile.white_level_dn,
    }
    clash = [f"{k} {given[k]} (sensor: {own[k]})" for k in own if given[k] not in (None, own[k])]
    if clash:
        raise ConfigError(
            f"sensor {profile.name!r} fixes the ADC format: drop or match {', '.join(clash)}"
        )
    iso = float(profile.base_iso if cfg.iso is None else cfg.iso)
    profile.analog_gain(iso)  # refuses ISOs below base
    if cfg.exposure_time_s is not None and not cfg.exposure_time_s > 0:
        raise ConfigError(f"exposure time must be > 0 s, got {cfg.exposure_time_s}")
    if not 0 <= cfg.sensor_seed < 1 << 63:
        raise ConfigError(f"sensor seed must be in [0, 2**63), got {cfg.sensor_seed}")
    optics = Optics.parse(cfg.optics) if cfg.optics else Optics()
    return {**own, "iso": iso, "optics": optics.spec() if optics.enabled else ""}


def _check_real_pairs(cfg: GenerateConfig, pattern: CFAPattern, noise: str) -> None:
    """Constraints of real captured pairs (``zurich``, ``pairs``)."""
    if cfg.source == BUILTIN:
        raise ConfigError(f"--source-kind {cfg.source_kind} needs a folder (--source DIR)")
    if noise != "none":
        raise ConfigError(
            f"real pairs carry their camera's own noise: use --noise none, not {noise!r}"
        )
    if cfg.clean:
        raise ConfigError("real pairs have no noise-free signal to store: drop --clean")
    if cfg.source_kind == "zurich":
        if not np.array_equal(pattern.tile, ZRR_PATTERN.tile):
            raise ConfigError(
                f"Zurich RAW-to-RGB mosaics are Bayer RGGB, not {pattern.name}: use --pattern "
                "bayer (to synthesise another CFA from the Canon targets use --source-kind "
                "images --source ROOT/train/canon)"
            )
        if cfg.bits not in (None, 10) or cfg.scale != 1 or cfg.targets is not None:
            raise ConfigError(
                "Zurich RAW-to-RGB pairs are 10-bit mosaics with same-size targets: use "
                "--bits 10 --scale 1 and no --targets"
            )
    elif cfg.targets is None:
        raise ConfigError("--source-kind pairs needs the target folder: --targets DIR")


def config_dict(cfg: GenerateConfig) -> dict:
    """The config as stored in the dataset's attributes (``camera`` only when set, so stores
    without it keep the keys of earlier versions)."""
    d = {**asdict(cfg), "splits": None if cfg.splits is None else list(cfg.splits)}
    if d["camera"] is None:
        del d["camera"]
    return d


PYTHON_ONLY = ("tone", "white_level")
"""Config fields that ``cfasim generate`` has no option for (the card says so when they differ
from what the command line would give)."""


def _default(name: str):
    return next(f.default for f in dataclasses.fields(GenerateConfig) if f.name == name)


def _splits(ctx, param, value) -> tuple[float, float, float] | None:
    if value is None or isinstance(value, tuple):
        return value
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not three comma-separated numbers") from None
    if len(parts) != 3:
        raise click.BadParameter(f"expected train,val,test fractions, got {value!r}")
    return parts


def pattern_names() -> list[str]:
    """The built-in pattern names and their phase forms: ``bayer``, ..., ``qxq:bggr``."""
    return [*BLOCK_SIZES, *(f"{name}:{phase}" for name in BLOCK_SIZES for phase in PHASES)]


def complete_pattern(ctx, param, incomplete: str) -> list[str]:
    """Shell completion of ``--pattern``: the built-in names starting with ``incomplete``."""
    return [name for name in pattern_names() if name.startswith(incomplete)]


def complete_sensor(ctx, param, incomplete: str) -> list[str]:
    """Shell completion of ``--sensor``: the built-in sensor profile names."""
    return [name for name in builtin_profiles() if name.startswith(incomplete)]


_OPTIONS = [
    click.option(
        "--pattern",
        default=None,
        shell_complete=complete_pattern,
        show_default="nona; bayer for --source-kind zurich",
        help="bayer | quad | nona | qxq [:rggb|grbg|gbrg|bggr], or tile text "
        "such as RRGG/RRGG/GGBB/GGBB.",
    ),
    click.option(
        "--source",
        default=_default("source"),
        show_default=True,
        help="'builtin' (dead-leaves scenes), a folder of JPEG/PNG/TIFF images "
        "(8 or 16 bit, searched recursively), or a test chart: chart:colorchecker, "
        "chart:zoneplate, chart:slanted-edge, chart:siemens-star (docs/charts.md).",
    ),
    click.option(
        "--count",
        default=_default("count"),
        show_default="256; every patch for zurich",
        type=click.IntRange(min=1),
        help="Number of samples over all splits (Zurich: at most the patches there are, each "
        "used once).",
    ),
    click.option(
        "--patch",
        default=_default("patch"),
        show_default=True,
        type=click.IntRange(min=1),
        help="RAW patch side in pixels; a multiple of the pattern period.",
    ),
    click.option(
        "--splits",
        default=None,
        show_default="0.8,0.1,0.1; zurich: its train/ and test/ folders",
        callback=_splits,
        help="train,val,test fractions (Zurich: test/ is the test split, train/ is divided "
        "between train and val in the ratio of the first two).",
    ),
    click.option(
        "--noise",
        default=None,
        show_default="brooks; none for real pairs",
        help="'brooks' (sampled per sample), 'none', or fixed 'shot=S,read=R'.",
    ),
    click.option(
        "--seed",
        default=_default("seed"),
        show_default=True,
        type=click.IntRange(min=0),
        help="Dataset seed: every random choice is a function of (seed, sample index).",
    ),
    click.option(
        "--transfer",
        type=click.Choice(["srgb", "gamma2.2"]),
        default=_default("transfer"),
        show_default=True,
        help="Display transfer curve inverted by unprocessing.",
    ),
    click.option(
        "--bits",
        default=None,
        show_default="10, or the sensor's",
        type=click.IntRange(1, 16),
        help="ADC bit depth of the RAW.",
    ),
    click.option(
        "--black-level",
        default=None,
        show_default="64, or the sensor's",
        type=click.IntRange(min=0),
        help="Black level of the RAW codes (DN).",
    ),
    click.option(
        "--sensor",
        metavar="NAME|PATH",
        shell_complete=complete_sensor,
        help="Physics noise in electrons from a sensor profile (`cfasim sensors` lists them) "
        "instead of --noise: shot (Poisson), read, row, dark current, PRNU/DSNU, full well, ADC.",
    ),
    click.option(
        "--iso",
        type=click.FloatRange(min=0, min_open=True),
        help="ISO of --sensor (default: its base ISO); higher ISO = less light, more noise.",
    ),
    click.option(
        "--sensor-seed",
        default=_default("sensor_seed"),
        show_default=True,
        type=click.IntRange(min=0),
        help="Identity of the simulated sensor: its fixed-pattern noise (PRNU/DSNU).",
    ),
    click.option(
        "--exposure-time",
        "exposure_time_s",
        type=click.FloatRange(min=0, min_open=True),
        help="Exposure time in seconds for dark current (default: the profile's).",
    ),
    click.option(
        "--optics",
        default=_default("optics"),
        help="Optics/pixel effects with --sensor, e.g. "
        "psf=1.2,shading=1500,crosstalk=0.02,blooming (docs/noise.md).",
    ),
    click.option(
        "--camera",
        type=click.Choice(list(CAMERA_NAMES)),
        help="One fixed camera (its colour matrix from Brooks et al.'s bank) for every sample, "
        "white balance still drawn per sample and stored: the PyNET setting ('camera' task). "
        "Default: a random camera per sample.",
    ),
    click.option(
        "--clean/--no-clean",
        default=_default("clean"),
        show_default=True,
        help="Also store the noise-free linear camera RGB (float16).",
    ),
    click.option(
        "--source-kind",
        type=click.Choice(list(SOURCE_KINDS)),
        default=_default("source_kind"),
        show_default=True,
        help="'raw': --source holds Bayer RAW files (DNG, CR2, NEF, ARW, ...), re-mosaicked from "
        "their 2x2-binned linear signal; targets rendered by cfasim's ISP with each file's white "
        "balance and colour matrix. 'zurich': --source is a Zurich RAW-to-RGB folder "
        "(huawei_raw/*.png + canon/*.jpg), stored as captured. 'pairs': --source holds 16-bit "
        "mosaics (or RAW files) and --targets the images of the same names, stored as captured.",
    ),
    click.option(
        "--targets",
        type=click.Path(file_okay=False),
        help="Target image folder of --source-kind pairs (matched to --source by file name).",
    ),
    click.option(
        "--scale",
        type=click.IntRange(1, 2),
        default=_default("scale"),
        show_default=True,
        help="Target side / RAW side: 2 renders DSLR-style targets at twice the RAW resolution.",
    ),
    click.option(
        "--shard-samples",
        type=click.IntRange(min=1),
        help="Samples per shard (default: about 4 MiB of RAW per shard).",
    ),
]


def content_options(command):
    """Decorate a click command with the content options of ``cfasim generate`` (one per field
    of :class:`GenerateConfig` but :data:`PYTHON_ONLY`; defaults taken from the dataclass)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


OPTION_GROUPS = {
    "Source": ("source", "source_kind", "targets"),
    "CFA & sensor": ("pattern", "bits", "black_level", "sensor", "sensor_seed"),
    "Noise": ("noise", "iso", "exposure_time_s"),
    "Optics & rendering": ("optics", "camera", "transfer", "scale", "clean"),
    "Splits & size": ("count", "patch", "splits", "seed", "shard_samples"),
}
"""The sections of ``cfasim generate --help``: every content option, by config field name,
in exactly one group (the command adds Output and Execution)."""


def content_option_groups() -> list[tuple[str, list]]:
    """``(title, [click.option decorators])`` of :data:`OPTION_GROUPS`, in order, for
    ``cloup.option_group``; the same decorators :func:`content_options` applies."""
    named = {}
    for option in _OPTIONS:
        probe = option(lambda **kwargs: None)
        named[probe.__click_params__[0].name] = option
    return [(title, [named[n] for n in names]) for title, names in OPTION_GROUPS.items()]


def option_params() -> dict[str, click.Option]:
    """The content options as click parameters, by config field name."""
    command = click.command()(content_options(lambda **kwargs: None))
    return {p.name: p for p in command.params}
