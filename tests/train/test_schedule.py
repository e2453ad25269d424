"""PyNET's level schedule in one run: the public defaults, levels 5 -> 0 each from the previous
one, one metrics file and plot, exact resume at any level and step, losses checked up front."""

import json

import pytest

torch = pytest.importorskip("torch")

from cfasim.errors import ConfigError  # noqa: E402
from cfasim.testing.fixtures import build_store  # noqa: E402
from cfasim.train import trainer as trainer_module  # noqa: E402
from cfasim.train.config import load_config  # noqa: E402
from cfasim.train.schedule import (  # noqa: E402
    PUBLIC_LR,
    plan_levels,
    public_levels,
    run_training,
)

LEVELS = (
    "train.levels=["
    + ", ".join(
        f"{{ level = {lv}, steps = 2, batch_size = 2, loss = {{ mse = 1.0 }} }}" for lv in (2, 1, 0)
    )
    + "]"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("sched") / "bayer.zarr"
    return build_store(out, pattern="bayer", count=8, patch=32, splits=(0.75, 0.25, 0.0))


def config(store, out, *more):
    overrides = [
        "model.name=pynet",
        "model.args={ width = 4, levels = 2 }",
        "data.crop=32",
        "data.val_samples=1",
        "train.log_every=1",
        "train.val_every=2",
        "train.checkpoint_every=1",
        "train.threads=1",
        LEVELS,
        *more,
    ]
    return load_config(None, overrides, data__dataset=str(store), train__out=str(out))


def test_the_default_plan_is_the_public_pytorch_schedule():
    plans = plan_levels(public_levels(), train_count=46_839, lr=1e-3)
    assert [p.level for p in plans] == [5, 4, 3, 2, 1, 0]
    assert [p.batch_size for p in plans] == [50, 50, 50, 50, 16, 12]
    epochs = [8, 8, 17, 17, 25, 50]
    assert [p.steps for p in plans] == [
        -(-e * 46_839 // b) for e, b in zip(epochs, [50] * 4 + [16, 12], strict=True)
    ]
    assert all(p.lr == PUBLIC_LR for p in plans)
    assert plans[0].loss == {"mse": 1.0} and plans[3].loss == {"mse": 10.0, "vgg": 1.0}
    assert plans[5].loss == {"mse": 1.0, "vgg": 1.0, "ms_ssim": 0.4}


def test_entries_fill_in_from_the_public_plan_and_bad_ones_are_one_line():
    (plan,) = plan_levels([{"level": 0, "steps": 7}], train_count=10, lr=1e-4, vgg_weights="v.pth")
    assert (plan.steps, plan.batch_size, plan.lr) == (7, 12, 1e-4)
    assert plan.loss["vgg_weights"] == "v.pth"  # passed to the levels that use VGG
    for entries, match in (
        ([{"steps": 2}], "with a level"),
        ([{"level": 7}], "expected 0..5"),
        ([{"level": 1, "steps": 2, "epochs": 1}], "not both"),
        ([{"level": 1, "speed": 2}], "unknown keys"),
        ([{"level": 0}, {"level": 1}], "coarse to fine"),
    ):
        with pytest.raises(ConfigError, match=match):
            plan_levels(entries, train_count=10, lr=1e-4)


def test_a_run_trains_every_level_from_the_previous_one(store, tmp_path, monkeypatch):
    starts = {}
    real_fit = trainer_module.Trainer.fit

    def recording_fit(self, stop_after=None):
        name, weight = next(self.model.named_parameters())
        starts[self.model.level] = (name, weight.detach().clone())
        return real_fit(self, stop_after)

    monkeypatch.setattr(trainer_module.Trainer, "fit", recording_fit)
    out = tmp_path / "run"
    run_training(config(store, out), log=lambda *a: None)
    for level in (2, 1, 0):
        assert (out / f"level{level}" / "model.pt").is_file()
    ckpt = {lv: torch.load(out / f"level{lv}" / "model.pt", weights_only=True) for lv in (2, 1)}
    for level, before in ((1, 2), (0, 1)):  # each level starts from the previous one's weights
        name, weight = starts[level]
        torch.testing.assert_close(weight, ckpt[before]["model"][name])
    assert not torch.equal(starts[1][1], starts[2][1])  # and the previous level did train
    records = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["level"] for r in records if "loss" in r] == [2, 2, 1, 1, 0, 0]
    assert (out / "levels.png").stat().st_size > 0
    assert (out / "model.pt").read_bytes() == (out / "level0" / "model.pt").read_bytes()


def test_kill_at_a_level_then_resume_gives_identical_weights(store, tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    run_training(config(store, full), log=lambda *a: None)
    assert run_training(config(store, cut), stop_after=(1, 1), log=lambda *a: None) is None
    assert not (cut / "level1" / "model.pt").exists() and (cut / "level2" / "model.pt").exists()
    run_training(config(store, cut), resume=True, log=lambda *a: None)
    a = torch.load(full / "model.pt", weights_only=True)["model"]
    b = torch.load(cut / "model.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_missing_vgg_file_is_refused_before_any_level_trains(store, tmp_path):
    levels = "train.levels=[{ level = 1, steps = 2 }, { level = 0, steps = 2 }]"  # public: VGG
    out = tmp_path / "vgg"
    cfg = config(store, out, levels, "train.loss={ vgg_weights = 'missing.pth' }")
    with pytest.raises(ConfigError, match=r"level 1: loss .*missing\.pth"):
        run_training(cfg, log=lambda *a: None)
    assert not out.exists()
