"""Every shipped training config trains: at least 2 optimiser steps each (every level of a
level schedule), with sizes shrunk by overrides and the loss set kept."""

import json
import math

import pytest

torch = pytest.importorskip("torch")

from cfasim.testing.fixtures import build_store  # noqa: E402
from cfasim.train.config import load_config, shipped_configs  # noqa: E402
from cfasim.train.losses import VGG19_CONFIG  # noqa: E402
from cfasim.train.schedule import run_training  # noqa: E402

DATASETS = {  # pattern -> (patch, crop): the smallest crop each config's model accepts
    "bayer": (128, 128),  # pynet_zrr: VGG at level 3 (crop / 8) needs 16 px
    "nona": (96, 96),
    "quad": (128, 128),
    "qxq": (64, 64),
}
TEACHERS = {
    "lwisp_nona_hetero": "lwisp_clean_teacher_nona",
    "pynet_qxq_student": "pynet_qxq_teacher",
}
SMALLER_MODELS = {"pynet": "{ width = 4 }"}  # PyNET's layers, 64x fewer parameters


def pattern_of(name: str) -> str:
    return next((p for p in ("nona", "quad", "qxq", "bayer") if p in name), "bayer")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("configs")
    return {
        p: build_store(
            root / f"{p}.zarr",
            pattern=p,
            count=4,
            patch=patch,
            clean=True,
            splits=(0.5, 0.25, 0.25),
        )
        for p, (patch, _) in DATASETS.items()
    }


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory):
    """A random VGG-19 ``features`` state dict (torchvision indexing) for configs with VGG."""
    g, state, idx, cin = torch.Generator().manual_seed(0), {}, 0, 3
    for v in VGG19_CONFIG:
        if v == "M":
            idx += 1
            continue
        state[f"{idx}.weight"] = torch.randn(v, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
        state[f"{idx}.bias"] = torch.zeros(v)
        idx, cin = idx + 2, v
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(state, path)
    return path


def shrunk(name, store, out, teacher=None, vgg=None) -> dict:
    """The shipped config ``name`` with small sizes: 2 steps (2 per level), batch 2, the
    smallest crop; losses and schedule as shipped."""
    crop = DATASETS[pattern_of(name)][1]
    overrides = [f"data.crop={crop}", "data.batch_size=2", "data.val_samples=1"]
    overrides += ["data.num_workers=0", "train.steps=2", "train.val_every=2", "train.threads=1"]
    overrides += ["train.log_every=1"]
    cfg = load_config(name, overrides, data__dataset=str(store), train__out=str(out),
                      distill__teacher=teacher)  # fmt: skip
    if cfg["model"]["name"] in SMALLER_MODELS:
        cfg["model"]["args"] = {**cfg["model"]["args"], "width": 4}
    for level in cfg["train"]["levels"]:
        level.update(steps=2, batch_size=2)
        level.pop("epochs", None)
    if vgg is not None:
        cfg["train"]["loss"] = {**cfg["train"]["loss"], "vgg_weights": str(vgg)}
    for stage in cfg["distill"]["stages"]:
        if stage.get("steps"):
            stage["steps"] = 1  # every stage runs within the 2 steps
    return cfg


def steps_taken(out) -> list[float]:
    records = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if "loss" in r]


def train_shipped(name, stores, tmp_path, vgg_weights):
    teacher = None
    if name in TEACHERS:
        teacher = train_shipped(TEACHERS[name], stores, tmp_path, vgg_weights) / "model.pt"
    out = tmp_path / name
    cfg = shrunk(name, stores[pattern_of(name)], out, teacher, vgg_weights)
    run_training(cfg, log=lambda *a: None)
    return out


@pytest.mark.parametrize("name", shipped_configs())
def test_every_shipped_config_takes_two_steps(name, stores, tmp_path, vgg_weights):
    out = train_shipped(name, stores, tmp_path, vgg_weights)
    cfg = load_config(name, [], data__dataset="x", distill__teacher="t")
    levels = len(cfg["train"]["levels"]) or 1
    losses = steps_taken(out)
    assert len(losses) >= 2 * levels and all(math.isfinite(v) for v in losses), losses
    assert (out / "model.pt").is_file()


def test_the_shipped_configs_are_the_ones_tested():
    assert {"pynet_zrr", "pynet_qxq_teacher", "pynet_qxq_student", "lwisp_nona_tiny"} <= set(
        shipped_configs()
    )


def test_an_output_too_small_for_the_loss_is_refused_before_step_1(stores, tmp_path):
    from cfasim.errors import ConfigError
    from cfasim.train.trainer import Trainer

    overrides = ["model.args={ widths = [4] }", "data.crop=8", "data.batch_size=1"]
    overrides += ["train.loss={ l1 = 1.0, ms_ssim = 0.2 }"]
    cfg = load_config(None, overrides, data__dataset=str(stores["bayer"]), train__out=str(tmp_path))
    with pytest.raises(ConfigError, match=r"output is 8x8, but the loss .* needs at least 11x11"):
        Trainer(cfg, log=lambda *a: None)
    assert not list(tmp_path.iterdir())  # nothing written
