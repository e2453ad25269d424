"""What a person watching a run sees: the logger, the progress bar, metrics.csv beside
metrics.jsonl (equal records, also after a resume) and TensorBoard events."""

import csv
import io
import json
import logging
import math
import sys

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from cfasim.cli import main  # noqa: E402
from cfasim.pipeline import GenerateConfig, build, plan  # noqa: E402
from cfasim.train import metrics_log  # noqa: E402
from cfasim.train.config import load_config  # noqa: E402
from cfasim.train.metrics_log import MetricsLog, csv_columns  # noqa: E402
from cfasim.train.trainer import progress_text, train  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("logs") / "nona.zarr"
    cfg = GenerateConfig(pattern="nona", count=8, patch=24, seed=3).validated()
    build(plan(cfg), out, workers=1, progress=False)
    return out


def config(store, out, *overrides):
    base = [
        "model.name=lwisp",
        'model.args={"widths": [4, 8]}',
        "data.crop=24",
        "data.batch_size=2",
        "data.val_samples=1",
        "train.steps=4",
        "train.log_every=1",
        "train.val_every=2",
        "train.checkpoint_every=2",
        "train.threads=1",
    ]
    return load_config(None, [*base, *overrides], data__dataset=str(store), train__out=str(out))


def jsonl_records(run):
    return [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]


def csv_records(run):
    """metrics.csv parsed back: numbers as numbers, empty cells dropped."""
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: (int(v) if k == "step" else float(v)) for k, v in r.items() if v} for r in rows]


def assert_same_records(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for k in ra:  # repr round-trips floats exactly; NaN compares as NaN
            assert ra[k] == rb[k] or (math.isnan(ra[k]) and math.isnan(rb[k])), k


def test_metrics_csv_equals_jsonl_after_resume(store, tmp_path):
    run = tmp_path / "run"
    cfg = config(store, run)
    train(cfg, stop_after=3)  # killed after step 3; the checkpoint is of step 2
    assert max(r["step"] for r in jsonl_records(run)) == 3
    train(cfg, resume=True)
    records = jsonl_records(run)
    steps = [r["step"] for r in records if "loss" in r]
    assert steps == [1, 2, 3, 4]  # step 3 was cut on resume and logged once again
    assert_same_records(csv_records(run), records)
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header == csv_columns(records)
    assert header[:2] == ["step", "train_flops_per_step"]  # the first record's keys first
    assert {"loss", "lr", "time", "val_psnr", "val_ssim", "baseline_psnr"} <= set(header)


def test_tensorboard_events_hold_the_logged_scalars(store, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "tb"
    train(config(store, run))
    acc = EventAccumulator(str(run / metrics_log.TENSORBOARD_DIR))
    acc.Reload()
    records = jsonl_records(run)
    for key in ("loss", "val_psnr", "lr"):
        want = [(r["step"], r[key]) for r in records if key in r]
        got = [(e.step, e.value) for e in acc.Scalars(key)]
        assert [s for s, _ in got] == [s for s, _ in want]
        for (_, g), (_, w) in zip(got, want, strict=True):  # stored as float32
            assert g == pytest.approx(w, rel=1e-6, abs=1e-30)


def test_without_tensorboard_it_says_so_once(tmp_path, monkeypatch, caplog):
    real = metrics_log.importlib.util.find_spec
    monkeypatch.setattr(
        metrics_log.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboard" else real(name, *a),
    )
    log = MetricsLog(tmp_path)
    with caplog.at_level(logging.INFO, logger="cfasim.train"):
        log.append({"step": 1, "loss": 0.5})
        log.append({"step": 2, "loss": 0.25, "val_psnr": 30.0})
    assert [r.getMessage() for r in caplog.records].count(
        "TensorBoard logging is off (pip install tensorboard to turn it on)"
    ) == 1
    assert not (tmp_path / metrics_log.TENSORBOARD_DIR).exists()
    text = (tmp_path / "metrics.csv").read_text()
    assert text == "step,loss,val_psnr\n1,0.5,\n2,0.25,30.0\n"  # header widened, row 1 kept


def test_metrics_log_truncate_rebuilds_csv_from_jsonl(tmp_path):
    log = MetricsLog(tmp_path, tensorboard=False)
    for s in range(1, 6):
        log.append({"step": s, "loss": 1.0 / s, **({"val_psnr": 20.0 + s} if s % 2 == 0 else {})})
    MetricsLog(tmp_path, tensorboard=False).truncate(3)
    assert [r["step"] for r in jsonl_records(tmp_path)] == [1, 2, 3]
    assert_same_records(csv_records(tmp_path), jsonl_records(tmp_path))
    again = MetricsLog(tmp_path, tensorboard=False)  # a continued run appends under the header
    again.append({"step": 4, "loss": 0.2})
    assert (tmp_path / "metrics.csv").read_text().splitlines()[-1] == "4,0.2,"


def test_trainer_logs_through_the_logger(store, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="cfasim"):
        train(config(store, tmp_path / "log", "train.steps=2"))
    names = {r.name for r in caplog.records}
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert names == {"cfasim.train"}
    assert "torch threads: 1 (train.threads)" in text
    assert "step 2 val psnr" in text


def test_progress_bar_shows_loss_and_psnr(store, tmp_path, monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    train(config(store, tmp_path / "bar", "train.steps=2"), log=lambda *a: None, progress=True)
    text = err.getvalue()
    assert "train" in text and "2/2" in text
    assert "loss " in text and "psnr " in text and " dB" in text


def test_progress_text_numbers():
    assert progress_text({"loss": 0.012345, "val_psnr": 31.234}) == "loss 0.01235, psnr 31.23 dB"
    assert progress_text({"loss": 2.0}) == "loss 2"
    assert progress_text({}) == ""


def test_quiet_silences_training_logs(store, tmp_path):
    args = ["train", "--dataset", str(store), "--steps", "1", "--set", "train.threads=1"]
    args += ["--set", "model.args={ widths = [4, 8] }", "--set", "data.crop=24"]
    args += ["--set", "data.batch_size=2", "--set", "data.val_samples=1"]
    loud = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "loud")])
    quiet = CliRunner().invoke(main, ["-q", *args, "--out", str(tmp_path / "quiet")])
    assert loud.exit_code == 0 and quiet.exit_code == 0, loud.output + quiet.output
    assert "val psnr" in loud.stderr and loud.stdout == ""
    assert quiet.output == ""
    assert (tmp_path / "quiet" / "metrics.csv").exists()
