"""Training configuration: typed sections (dataclasses), a TOML file, ``section.key=value``
overrides.

:class:`TrainConfig` holds one dataclass per section (:class:`ModelSection`,
:class:`DataSection`, :class:`TrainSection`, :class:`DistillSection`); each field's default,
type and constraint are written once, there: the annotation gives the expected type (``int``,
``float``, ``bool``, ``str``, :data:`PathStr` for a file or folder, ``dict`` / ``list`` for
free-form values, ``X | None`` for optional keys), ``Literal[...]`` the allowed choices and
:func:`at_least` a minimum. The tables the checks use are derived from them: :data:`DEFAULTS`,
:data:`KEY_TYPES`, :data:`MINIMUMS`, :data:`CHOICES`. :func:`load_config` merges defaults, a
TOML file and overrides, checks them all and raises :class:`~cfasim.errors.ConfigError` naming
the key, the value and what was expected.

The trainer and checkpoints see the config as a plain dict (:meth:`TrainConfig.to_dict`, what
:func:`load_config` returns and what checkpoints store, JSON-like data that
``torch.load(weights_only=True)`` reads); code that wants attribute access converts at the
boundary with :func:`as_config`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from cfasim.errors import ConfigError


class PathValue:
    """Type marker of a file or folder key: a string or ``os.PathLike``, stored as a string."""


OPTIONAL = type(None)  # a key whose type tuple holds OPTIONAL may also be None (JSON null)

PathStr = Annotated[str, PathValue]
"""Annotation of a path key: given as a string or ``os.PathLike``, stored as a string."""


def at_least(minimum: float, default):
    """A field with a default and a minimum (not checked when an optional key is None)."""
    return field(default=default, metadata={"minimum": minimum})


InputKind = Literal["mosaic", "clean"]
DistillMode = Literal["none", "output", "progressive", "heterogeneous"]


@dataclass
class ModelSection:
    """``[model]``: which network and how the mosaic is fed to it."""

    name: str = "lwisp"
    args: dict = field(default_factory=dict)  # free-form: the model's keyword arguments
    input: InputKind = "mosaic"
    packing: Literal["planes", "s2d"] = "planes"
    with_mask: bool = False
    input_convention: Literal["cfasim", "pynet1020", "pynet1023"] = "cfasim"  # cfa_adapter.py
    # cfa_adapter.CONDITIONS: per-sample metadata the model is given (white balance, noise level)
    condition: Literal["none", "wb", "noise", "wb+noise"] = "none"


@dataclass
class DataSection:
    """``[data]``: the dataset, its splits, crops and loading."""

    dataset: PathStr | None = None  # None until given; validation then requires it
    train_split: str = "train"
    val_split: str = "val"
    crop: int = at_least(1, 96)
    batch_size: int = at_least(1, 8)
    num_workers: int = at_least(0, 0)
    augment: bool = True
    crops_per_sample: int = at_least(1, 1)  # random crops per decoded sample (CFADataset)
    val_crop: int | None = at_least(1, None)
    val_samples: int | None = at_least(1, None)
    task: Literal["srgb", "linear"] = "srgb"  # cfasim.isp.render.TASKS: the target to learn


@dataclass
class TrainSection:
    """``[train]``: optimisation, devices, logging and the run folder."""

    steps: int = at_least(1, 200)
    lr: float = at_least(0, 1e-3)
    lr_schedule: Literal["cosine", "constant"] = "cosine"
    weight_decay: float = at_least(0, 0.0)
    seed: int = at_least(0, 0)
    amp: bool = False
    device: str = "auto"
    log_every: int = at_least(1, 10)
    val_every: int = at_least(1, 100)
    checkpoint_every: int = at_least(1, 100)
    out: PathStr = "runs/default"
    loss: dict = field(default_factory=lambda: {"l1": 1.0})  # free-form: build_loss weights
    level: int | None = at_least(0, None)
    init: PathStr | None = None
    threads: int | None = at_least(1, None)
    levels: list = field(default_factory=list)  # free-form: PyNET's level schedule (schedule.py)


@dataclass
class DistillSection:
    """``[distill]``: the teacher, the distillation mode and its stages."""

    mode: DistillMode = "none"
    teacher: PathStr | None = None
    teacher_input: InputKind = "mosaic"
    stages: list = field(default_factory=list)  # free-form: tables of distill.Stage
    assistants: list = field(default_factory=list)  # free-form: {name, args} of assistants


@dataclass
class TrainConfig:
    """A whole training config: one dataclass per section."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    train: TrainSection = field(default_factory=TrainSection)
    distill: DistillSection = field(default_factory=DistillSection)

    @classmethod
    def from_dict(cls, cfg: Mapping) -> TrainConfig:
        """A type-checked config from a dict of section tables (missing keys take their
        defaults): unknown keys and wrong types are ConfigErrors; ints given for float keys
        become floats and paths strings. Values are copied."""
        unknown = sorted(set(cfg) - set(SECTION_TYPES))
        if unknown:
            raise ConfigError(f"unknown config key {unknown[0]!r}; known: {sorted(SECTIONS)}")
        sections = {}
        for section, section_type in SECTION_TYPES.items():
            values = cfg.get(section, {})
            if not isinstance(values, Mapping):
                raise ConfigError(f"{section} = {values!r}: expected a table of keys")
            sections[section] = section_type(**typed_section(section, values))
        return cls(**sections)

    def to_dict(self) -> dict:
        """The config as plain nested dicts (what :func:`load_config` returns and checkpoints
        store)."""
        return dataclasses.asdict(self)

    def validate(self, partial: bool = False) -> TrainConfig:
        """Check required keys, minimums and choices (ConfigError); return ``self``.
        ``partial``: the paths given at training time (``data.dataset``, ``distill.teacher``)
        may still be unset."""
        if not partial and self.data.dataset is None:
            raise ConfigError("no dataset: set data.dataset in the config or pass --dataset")
        for name, choices in CHOICES.items():
            value = self.get(name)
            if value not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
        for name, minimum in MINIMUMS.items():
            value = self.get(name)
            if value is not None and value < minimum:
                raise ConfigError(f"{name} = {value!r}: must be >= {minimum}")
        if not partial and self.distill.mode != "none" and not self.distill.teacher:
            raise ConfigError(
                f"distill.mode {self.distill.mode!r} needs a teacher (--teacher CKPT)"
            )
        return self

    def get(self, name: str):
        """The value of ``section.key``."""
        section, key = name.split(".")
        return getattr(getattr(self, section), key)


# -- the tables derived from the dataclasses ------------------------------------------------------


def _hint_types(hint) -> tuple[tuple[type, ...], tuple[str, ...] | None]:
    """(accepted types, choices or None) of a field annotation."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_hint_types(arg) for arg in typing.get_args(hint)]
        found = tuple(t for kinds, _ in parts for t in kinds)
        return found, next((c for _, c in parts if c is not None), None)
    if origin is Annotated:
        base, *marks = typing.get_args(hint)
        return (PathValue,) if PathValue in marks else (base,), None
    if origin is Literal:
        return (str,), typing.get_args(hint)
    if hint is OPTIONAL:
        return (OPTIONAL,), None
    return (origin or hint,), None


def _section_tables():
    """(section types, key types, minimums, choices) from the dataclass fields."""
    sections = {f.name: f.default_factory for f in dataclasses.fields(TrainConfig)}
    key_types, minimums, choices = {}, {}, {}
    for section, section_type in sections.items():
        hints = typing.get_type_hints(section_type, include_extras=True)
        for f in dataclasses.fields(section_type):
            name = f"{section}.{f.name}"
            key_types[name], allowed = _hint_types(hints[f.name])
            if allowed is not None:
                choices[name] = allowed
            if "minimum" in f.metadata:
                minimums[name] = f.metadata["minimum"]
    return sections, key_types, minimums, choices


SECTION_TYPES, KEY_TYPES, MINIMUMS, CHOICES = _section_tables()
"""Derived from the dataclasses: section name -> dataclass; ``section.key`` -> accepted types
(int, float (an int is accepted and stored as a float), bool, str, PathValue, dict, list;
OPTIONAL: None too) -> minimum (numeric keys) -> allowed values (string keys)."""
SECTIONS = tuple(SECTION_TYPES)
DEFAULTS: dict = TrainConfig().to_dict()
"""The default config as plain dicts."""
DISTILL_MODES = typing.get_args(DistillMode)
FREE_FORM = tuple(name for name, kinds in KEY_TYPES.items() if kinds[0] in (dict, list))
"""Keys whose values are passed through as given (tables and lists are replaced, not merged)."""

_TYPE_NAMES = {
    int: "int",
    float: "float",
    bool: "bool (true or false)",
    str: "str",
    PathValue: "path (str)",
    dict: "table",
    list: "list",
    OPTIONAL: "null",
}


def typed_section(section: str, values: Mapping) -> dict:
    """The values of one section, each checked and converted by :func:`typed_value`."""
    known = KEY_TYPES.keys()
    out = {}
    for key, value in values.items():
        name = f"{section}.{key}"
        if name not in known:
            keys = sorted(f.name for f in dataclasses.fields(SECTION_TYPES[section]))
            raise ConfigError(f"unknown config key {name!r}; known: {keys}")
        out[key] = typed_value(name, copy.deepcopy(value), KEY_TYPES[name])
    return out


def typed_value(name: str, value, types: tuple[type, ...]):
    """``value`` as the first of ``types`` it fits, or a ConfigError naming key, value and
    expected type (``True`` is not an int here, and ``1`` is a valid float)."""
    for expected in types:
        if expected is OPTIONAL and value is None:
            return None
        if expected is bool and isinstance(value, bool):
            return value
        if isinstance(value, bool):
            continue
        if expected is int and isinstance(value, int):
            return value
        if expected is float and isinstance(value, int | float):
            return float(value)
        if expected is PathValue and isinstance(value, str | os.PathLike):
            return os.fspath(value)
        if expected in (str, dict, list) and isinstance(value, expected):
            return value
    wanted = " or ".join(_TYPE_NAMES[t] for t in types)
    raise ConfigError(f"{name} = {value!r}: expected {wanted}, got {type(value).__name__}")


def as_config(cfg: TrainConfig | Mapping) -> TrainConfig:
    """A type-checked :class:`TrainConfig` of a config dict or of another TrainConfig (whose
    values are checked again: code may have replaced them)."""
    return TrainConfig.from_dict(cfg.to_dict() if isinstance(cfg, TrainConfig) else cfg)


# -- loading --------------------------------------------------------------------------------------


def merge(base: dict, update: dict, where: str = "") -> dict:
    """Deep-merge ``update`` into a copy of ``base``; unknown keys are errors (typos)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if key not in base:
            raise ConfigError(f"unknown config key {where + key!r}; known: {sorted(base)}")
        free_form = where + key in FREE_FORM  # passed through as given
        if isinstance(base[key], dict) and isinstance(value, dict) and not free_form:
            out[key] = merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def parse_override(text: str) -> tuple[list[str], object]:
    """``"train.steps=300"`` -> (["train", "steps"], 300); values are TOML/JSON literals,
    anything else is a string."""
    key, sep, raw = text.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
    return key.strip().split("."), value


def merged_config(path=None, overrides=(), **shortcuts) -> dict:
    """Defaults <- TOML file <- ``overrides`` (``section.key=value``) <- non-None shortcuts
    given as ``section__key=value`` keyword arguments, merged but not yet type-checked."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        cfg = merge(cfg, read_toml(path))
    updates = [parse_override(o) for o in overrides]
    updates += [(k.split("__"), v) for k, v in shortcuts.items() if v is not None]
    for keys, value in updates:
        nested: dict = value
        for k in reversed(keys):
            nested = {k: nested}
        cfg = merge(cfg, nested)
    return cfg


def load_train_config(
    path=None, overrides=(), *, partial: bool = False, **shortcuts
) -> TrainConfig:
    """The :class:`TrainConfig` of :func:`merged_config`, type-checked and validated
    (``partial=True``: ``data.dataset`` and ``distill.teacher`` may stay unset, e.g. to print
    a config)."""
    config = TrainConfig.from_dict(merged_config(path, overrides, **shortcuts))
    return config.validate(partial=partial)


def load_config(path=None, overrides=(), **shortcuts) -> dict:
    """Defaults <- TOML file <- ``overrides`` (``section.key=value``) <- non-None shortcuts
    given as ``section__key=value`` keyword arguments (the CLI's flags); type-checked and
    validated (:class:`~cfasim.errors.ConfigError` on any problem), as plain dicts."""
    return load_train_config(path, overrides, **shortcuts).to_dict()


def shipped_configs() -> list[str]:
    """Names of the configs shipped with cfasim (``cfasim train --config NAME``)."""
    folder = resources.files("cfasim.train") / "configs"
    return sorted(
        f.name.removesuffix(".toml") for f in folder.iterdir() if f.name.endswith(".toml")
    )


def config_file(spec) -> Path:
    """A config given by path, or by the name of a shipped config (``lwisp_nona_tiny``, also
    ``configs/lwisp_nona_tiny.toml`` as older docs wrote it, when no such file exists)."""
    path = Path(spec)
    if path.is_file():
        return path
    name = path.name.removesuffix(".toml")
    if name in shipped_configs():
        return Path(str(resources.files("cfasim.train") / "configs" / f"{name}.toml"))
    raise ConfigError(
        f"config file {spec} does not exist, and {name!r} is not a shipped config "
        f"({', '.join(shipped_configs())})"
    )


def read_toml(path) -> dict:
    """The tables of a TOML config file (a path or a shipped config's name)."""
    path = config_file(path)
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


# -- printing -------------------------------------------------------------------------------------


def to_toml(cfg: TrainConfig | Mapping) -> str:
    """A config as TOML text that :func:`load_config` reads back to the same config: one table
    per section; unset (None) keys, which TOML cannot write, as comments (their default is
    None too)."""
    cfg = cfg.to_dict() if isinstance(cfg, TrainConfig) else cfg
    lines = []
    for section, values in cfg.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is None:
                lines.append(f"# {_toml_key(key)} = null  (unset)")
                continue
            try:
                lines.append(f"{_toml_key(key)} = {toml_value(value)}")
            except ValueError:  # a None inside a table or list
                lines.append(f"# {_toml_key(key)} = {json.dumps(value)}  (null is not TOML)")
        lines.append("")
    return "\n".join(lines)


def _toml_key(key) -> str:
    text = str(key)
    bare = text and all(c.isascii() and (c.isalnum() or c in "_-") for c in text)
    return text if bare else json.dumps(text)


def toml_value(value) -> str:
    """A TOML literal of a plain value (inline tables and arrays); ValueError for None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise ValueError(f"no TOML literal for {value!r}")
