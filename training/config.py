"""Training configuration: a TOML file, defaults, and ``section.key=value`` overrides."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path

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


def merge(base: dict, update: dict, where: str = "") -> dict:
    """Deep-merge ``update`` into a copy of ``base``; unknown keys are errors (typos)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if key not in base:
            raise ValueError(f"unknown config key {where + key!r}; known: {sorted(base)}")
        free_form = key in (
            "args",
            "loss",
            "stages",
            "assistants",
        )  # values passed through as given
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
        raise ValueError(f"override {text!r} must look like section.key=value")
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
    given as ``section__key=value`` keyword arguments (the CLI's flags)."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        try:
            cfg = merge(cfg, tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: not valid TOML: {err}") from None
    updates = [parse_override(o) for o in overrides]
    updates += [(k.split("__"), v) for k, v in shortcuts.items() if v is not None]
    for keys, value in updates:
        nested: dict = value
        for k in reversed(keys):
            nested = {k: nested}
        cfg = merge(cfg, nested)
    validate(cfg)
    return cfg


def validate(cfg: dict) -> None:
    if cfg["data"]["dataset"] is None:
        raise ValueError("no dataset: set data.dataset in the config or pass --dataset")
    if cfg["distill"]["mode"] not in DISTILL_MODES:
        raise ValueError(
            f"distill.mode must be one of {DISTILL_MODES}, got {cfg['distill']['mode']!r}"
        )
    if cfg["distill"]["mode"] != "none" and not cfg["distill"]["teacher"]:
        raise ValueError(
            f"distill.mode {cfg['distill']['mode']!r} needs a teacher (--teacher CKPT)"
        )
    if cfg["model"]["input"] not in ("mosaic", "clean"):
        raise ValueError(f"model.input must be 'mosaic' or 'clean', got {cfg['model']['input']!r}")
    if cfg["model"]["packing"] not in ("planes", "s2d"):
        raise ValueError(
            f"model.packing must be 'planes' or 's2d', got {cfg['model']['packing']!r}"
        )
    for key in ("steps", "batch_size", "crop"):
        section = "train" if key == "steps" else "data"
        if int(cfg[section][key]) < 1:
            raise ValueError(f"{section}.{key} must be >= 1")
