"""Training configuration: a TOML file, defaults, and ``section.key=value`` overrides.

Every key has an expected type (:data:`KEY_TYPES`) and some a minimum (:data:`MINIMUMS`) or a
set of choices (:data:`CHOICES`); :func:`load_config` checks them all and raises
:class:`~cfasim.errors.ConfigError` naming the key, the value and what was expected.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from importlib import resources
from pathlib import Path

from cfasim.errors import ConfigError

DEFAULTS: dict = {
    "model": {
        "name": "lwisp",
        "args": {},
        "input": "mosaic",
        "packing": "planes",
        "with_mask": False,
    },
    "data": {
        "dataset": None,
        "train_split": "train",
        "val_split": "val",
        "crop": 96,
        "batch_size": 8,
        "num_workers": 0,
        "augment": True,
        "val_crop": None,
        "val_samples": None,
    },
    "train": {
        "steps": 200,
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "weight_decay": 0.0,
        "seed": 0,
        "amp": False,
        "device": "auto",
        "log_every": 10,
        "val_every": 100,
        "checkpoint_every": 100,
        "out": "runs/default",
        "loss": {"l1": 1.0},
        "level": None,
        "init": None,
        "threads": None,
    },
    "distill": {
        "mode": "none",
        "teacher": None,
        "teacher_input": "mosaic",
        "stages": [],
        "assistants": [],
    },
}

SECTIONS = tuple(DEFAULTS)
DISTILL_MODES = ("none", "output", "progressive", "heterogeneous")


class PathValue:
    """Type marker of a file or folder key: a string or ``os.PathLike``, stored as a string."""


OPTIONAL = type(None)  # a key whose type tuple holds OPTIONAL may also be None (JSON null)

KEY_TYPES: dict[str, tuple[type, ...]] = {
    "model.name": (str,),
    "model.args": (dict,),
    "model.input": (str,),
    "model.packing": (str,),
    "model.with_mask": (bool,),
    "data.dataset": (PathValue, OPTIONAL),  # None until given; validate() then requires it
    "data.train_split": (str,),
    "data.val_split": (str,),
    "data.crop": (int,),
    "data.batch_size": (int,),
    "data.num_workers": (int,),
    "data.augment": (bool,),
    "data.val_crop": (int, OPTIONAL),
    "data.val_samples": (int, OPTIONAL),
    "train.steps": (int,),
    "train.lr": (float,),
    "train.lr_schedule": (str,),
    "train.weight_decay": (float,),
    "train.seed": (int,),
    "train.amp": (bool,),
    "train.device": (str,),
    "train.log_every": (int,),
    "train.val_every": (int,),
    "train.checkpoint_every": (int,),
    "train.out": (PathValue,),
    "train.loss": (dict,),
    "train.level": (int, OPTIONAL),
    "train.init": (PathValue, OPTIONAL),
    "train.threads": (int, OPTIONAL),
    "distill.mode": (str,),
    "distill.teacher": (PathValue, OPTIONAL),
    "distill.teacher_input": (str,),
    "distill.stages": (list,),
    "distill.assistants": (list,),
}
"""Expected type of every key (``section.key``): int, float (an int is accepted and stored as
a float), bool, str, a path, a table (dict) or a list; OPTIONAL: None is allowed too."""

MINIMUMS: dict[str, float] = {
    "data.crop": 1,
    "data.batch_size": 1,
    "data.num_workers": 0,
    "data.val_crop": 1,
    "data.val_samples": 1,
    "train.steps": 1,
    "train.lr": 0,
    "train.weight_decay": 0,
    "train.seed": 0,
    "train.log_every": 1,
    "train.val_every": 1,
    "train.checkpoint_every": 1,
    "train.level": 0,
    "train.threads": 1,
}
"""Smallest allowed value of numeric keys (not checked when an optional key is None)."""

CHOICES: dict[str, tuple[str, ...]] = {
    "model.input": ("mosaic", "clean"),
    "model.packing": ("planes", "s2d"),
    "train.lr_schedule": ("cosine", "constant"),
    "distill.mode": DISTILL_MODES,
    "distill.teacher_input": ("mosaic", "clean"),
}
"""Allowed values of string keys with a fixed set of values."""

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


def merge(base: dict, update: dict, where: str = "") -> dict:
    """Deep-merge ``update`` into a copy of ``base``; unknown keys are errors (typos)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if key not in base:
            raise ConfigError(f"unknown config key {where + key!r}; known: {sorted(base)}")
        free_form = key in ("args", "loss", "stages", "assistants")  # passed through as given
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


def load_config(path=None, overrides=(), **shortcuts) -> dict:
    """Defaults <- TOML file <- ``overrides`` (``section.key=value``) <- non-None shortcuts
    given as ``section__key=value`` keyword arguments (the CLI's flags); type-checked and
    validated (:class:`~cfasim.errors.ConfigError` on any problem)."""
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
    check_types(cfg)
    validate(cfg)
    return cfg


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


def check_types(cfg: dict) -> None:
    """Check every value against :data:`KEY_TYPES`, in place: ints given for float keys become
    floats and paths become strings (a config stays plain data, as checkpoints store it)."""
    for section in SECTIONS:
        if not isinstance(cfg[section], dict):
            raise ConfigError(f"{section} = {cfg[section]!r}: expected a table of keys")
        for key, value in cfg[section].items():
            name = f"{section}.{key}"
            cfg[section][key] = typed_value(name, value, KEY_TYPES[name])


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


def validate(cfg: dict) -> None:
    """Check required keys, minimums and choices of a type-checked config."""
    if cfg["data"]["dataset"] is None:
        raise ConfigError("no dataset: set data.dataset in the config or pass --dataset")
    for name, choices in CHOICES.items():
        value = _get(cfg, name)
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    for name, minimum in MINIMUMS.items():
        value = _get(cfg, name)
        if value is not None and value < minimum:
            raise ConfigError(f"{name} = {value!r}: must be >= {minimum}")
    if cfg["distill"]["mode"] != "none" and not cfg["distill"]["teacher"]:
        raise ConfigError(
            f"distill.mode {cfg['distill']['mode']!r} needs a teacher (--teacher CKPT)"
        )


def _get(cfg: dict, name: str):
    section, key = name.split(".")
    return cfg[section][key]
