"""PyNET's level-by-level schedule as one run: levels 5 -> 0, each from the previous one.

A config with ``train.levels`` (a list of tables, coarsest level first) trains the model level by
level in one command, as PyNET is trained (``shared/reference/models.md`` §2.4)::

    [train]
    levels = [
      { level = 5, epochs = 8, batch_size = 50, loss = { mse = 1.0 } },
      ...
      { level = 0, epochs = 50, batch_size = 12, loss = { mse = 1.0, vgg = 1.0, ms_ssim = 0.4 } },
    ]

Each entry may give ``steps`` or ``epochs`` (converted with the training split's size at run
time), ``batch_size``, ``lr`` and ``loss``; what it omits comes from the public PyTorch schedule
(:data:`PUBLIC_PYTORCH`) for that level, and the learning rate from ``train.lr``. Level ``L``
runs in ``OUT/levelL`` with ``train.level = L``, starting from level ``L + 1``'s weights
(non-strict, as PyNET's code does); the whole network up to that level trains. ``--resume``
skips finished levels and continues the unfinished one at its step, exactly. ``OUT/metrics.jsonl``
holds every level's records (tagged ``level``), ``OUT/levels.png`` their curves, and
``OUT/model.pt`` is the last level's model. A VGG term needs its weights
(``train.loss = { vgg_weights = "vgg19.pth" }`` passes them to every level); every level's
loss is built before the first step, so a missing file is refused before anything trains.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from cfasim.errors import ConfigError
from cfasim.train.config import as_config
from cfasim.train.losses import build_loss

PUBLIC_PYTORCH = {  # level: (epochs, batch size, loss) of aiff22/PyNET-PyTorch
    5: (8, 50, {"mse": 1.0}),
    4: (8, 50, {"mse": 1.0}),
    3: (17, 50, {"mse": 10.0, "vgg": 1.0}),
    2: (17, 50, {"mse": 10.0, "vgg": 1.0}),
    1: (25, 16, {"mse": 10.0, "vgg": 1.0}),
    0: (50, 12, {"mse": 1.0, "vgg": 1.0, "ms_ssim": 0.4}),
}
"""The public PyTorch schedule (Adam, lr 5e-5): epochs, batch size and loss per level."""

PUBLIC_LR = 5e-5
LEVEL_KEYS = ("level", "steps", "epochs", "batch_size", "lr", "loss")


@dataclass(frozen=True)
class LevelPlan:
    """One level of a schedule: what trains and for how long."""

    level: int
    steps: int
    batch_size: int
    lr: float
    loss: dict


def public_levels() -> list[dict]:
    """``train.levels`` of the public PyTorch schedule (epochs, batch sizes, losses, lr)."""
    return [
        {"level": level, "epochs": e, "batch_size": b, "lr": PUBLIC_LR, "loss": dict(loss)}
        for level, (e, b, loss) in PUBLIC_PYTORCH.items()
    ]


def plan_levels(entries: list, train_count: int, lr: float, vgg_weights=None) -> list[LevelPlan]:
    """The levels of ``train.levels`` with every value resolved (epochs -> steps over
    ``train_count`` training samples); ConfigError for a malformed entry."""
    plans, previous = [], None
    for i, entry in enumerate(entries):
        plan = _plan_level(entry, f"train.levels[{i}]", train_count, lr, vgg_weights)
        if previous is not None and plan.level >= previous:
            raise ConfigError(
                f"train.levels must go from coarse to fine (5 -> 0): {plan.level} after {previous}"
            )
        plans.append(plan)
        previous = plan.level
    return plans


def _plan_level(entry, where: str, train_count: int, lr: float, vgg_weights) -> LevelPlan:
    if not isinstance(entry, dict) or "level" not in entry:
        raise ConfigError(f"{where} = {entry!r}: expected a table with a level")
    unknown = sorted(set(entry) - set(LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; known: {list(LEVEL_KEYS)}")
    level = entry["level"]
    if level not in PUBLIC_PYTORCH:
        raise ConfigError(f"{where}.level = {level!r}: expected 0..5")
    epochs, batch, loss = PUBLIC_PYTORCH[level]
    batch = int(entry.get("batch_size", batch))
    if "steps" in entry and "epochs" in entry:
        raise ConfigError(f"{where}: give steps or epochs, not both")
    if "steps" in entry:
        steps = int(entry["steps"])
    else:
        steps = math.ceil(float(entry.get("epochs", epochs)) * train_count / batch)
    if steps < 1 or batch < 1:
        raise ConfigError(f"{where}: steps and batch_size must be >= 1, got {steps}, {batch}")
    loss = dict(entry.get("loss", loss))
    if loss.get("vgg") and not loss.get("vgg_weights") and vgg_weights:
        loss["vgg_weights"] = vgg_weights
    return LevelPlan(int(level), steps, batch, float(entry.get("lr", lr)), loss)


def level_config(cfg: dict, plan: LevelPlan, init: str | None) -> dict:
    """The plain training config of one level of ``cfg``'s schedule."""
    c = copy.deepcopy(cfg)
    out = Path(cfg["train"]["out"]) / f"level{plan.level}"
    c["train"].update(
        out=str(out), level=plan.level, steps=plan.steps, lr=plan.lr, loss=plan.loss,
        init=init, levels=[],
    )  # fmt: skip
    c["data"]["batch_size"] = plan.batch_size
    return c


def check_losses(plans: list[LevelPlan]) -> None:
    """Build every level's loss now: a bad loss (e.g. VGG weights missing) fails before any
    level trains, naming its level."""
    for plan in plans:
        try:
            build_loss(plan.loss)
        except (ValueError, OSError) as err:
            raise ConfigError(f"level {plan.level}: loss {plan.loss}: {err}") from None


def run_training(cfg, resume: bool = False, stop_after=None, log=None):
    """``cfasim train``: a plain run, or with ``train.levels`` PyNET's schedule (``log``: a
    message callable, default the ``cfasim.train`` logger).

    ``stop_after``: ``(level, step)`` stops the schedule there as if killed (tests); for a
    plain run, a step.
    """
    from cfasim.train.trainer import train

    plain = asdict(as_config(cfg))  # type-checked, as a plain dict
    if not plain["train"]["levels"]:
        return train(plain, resume=resume, stop_after=stop_after, log=log)
    return run_schedule(plain, resume=resume, stop_after=stop_after, log=log)


def run_schedule(cfg: dict, resume: bool = False, stop_after=None, log=None):
    """Train every level of ``cfg["train"]["levels"]`` in turn (see the module docstring);
    returns the last level's trainer (None when ``stop_after`` stopped the schedule)."""
    from cfasim.train.trainer import train

    out = Path(cfg["train"]["out"])
    plans = plan_levels(
        cfg["train"]["levels"],
        _train_count(cfg),
        float(cfg["train"]["lr"]),
        cfg["train"]["loss"].get("vgg_weights"),
    )
    check_losses(plans)
    init, trainer = cfg["train"].get("init"), None
    for plan in plans:
        c = level_config(cfg, plan, init)
        level_out = Path(c["train"]["out"])
        init = str(level_out / "model.pt")
        if resume and (level_out / "model.pt").exists():
            continue  # a finished level
        message = f"PyNET level {plan.level}: {plan.steps} steps, batch {plan.batch_size}"
        (log or logging.getLogger("cfasim.train").info)(f"{message} -> {level_out}")
        stop = stop_after[1] if stop_after and stop_after[0] == plan.level else None
        again = resume and (level_out / "checkpoint.pt").exists()
        trainer = train(c, resume=again, stop_after=stop, log=log)
        write_level_metrics(out, [p.level for p in plans])
        if stop is not None:
            return None
    shutil.copyfile(Path(init), out / "model.pt")
    _plot(out)
    return trainer


def _train_count(cfg: dict) -> int:
    from cfasim.data.reader import open_dataset

    return len(open_dataset(cfg["data"]["dataset"])[cfg["data"]["train_split"]])


def write_level_metrics(out: Path, levels: list[int]) -> Path:
    """``OUT/metrics.jsonl``: every level's records in schedule order, each with its level."""
    lines = []
    for level in levels:
        path = out / f"level{level}" / "metrics.jsonl"
        if path.exists():
            lines += [
                json.dumps({"level": level, **json.loads(ln)})
                for ln in path.read_text().splitlines()
            ]
    target = out / "metrics.jsonl"
    target.write_text("".join(ln + "\n" for ln in lines))
    return target


def _plot(out: Path) -> None:
    from cfasim.train.plots import plot_levels

    plot_levels(out)
