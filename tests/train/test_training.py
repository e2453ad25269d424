"""Trainer, distillation, checkpoints/resume, DDP, export and the CLI, on tiny stores."""

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from cfasim.cli import main  # noqa: E402
from cfasim.errors import ConfigError  # noqa: E402
from cfasim.pipeline import GenerateConfig, build, plan  # noqa: E402
from cfasim.train import trainer as trainer_module  # noqa: E402
from cfasim.train.config import load_config, parse_override  # noqa: E402
from cfasim.train.distill import Stage  # noqa: E402
from cfasim.train.trainer import (  # noqa: E402
    Trainer,
    configure_threads,
    default_thread_count,
    load_checkpoint,
    train,
)

TINY = {"widths": [4, 8]}  # a 2-scale LW-ISP: fast enough for tests


def cli_options(**settings) -> list[str]:
    """``--set`` options of a tiny CLI run: TINY model, crop 24, plus ``key=value`` settings
    (``data__batch_size=2`` -> ``--set data.batch_size=2``)."""
    base = {"model__args": "{ widths = [4, 8] }", "data__crop": 24, **settings}
    return [a for k, v in base.items() for a in ("--set", f"{k.replace('__', '.')}={v}")]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "nona.zarr"
    cfg = GenerateConfig(pattern="nona", count=16, patch=48, clean=True, seed=2).validated()
    build(plan(cfg), out, workers=1, progress=False)
    return out


def config(store, out, *overrides, **kw):
    base = [
        "model.name=lwisp",
        f"model.args={json.dumps(TINY)}",
        "data.crop=24",
        "data.batch_size=2",
        "data.val_samples=2",
        "train.steps=4",
        "train.log_every=1",
        "train.val_every=2",
        "train.checkpoint_every=2",
        "train.threads=1",
    ]
    return load_config(
        None, [*base, *overrides], data__dataset=str(store), train__out=str(out), **kw
    )


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_config_overrides_and_errors(tmp_path):
    assert parse_override("train.steps=30") == (["train", "steps"], 30)
    assert parse_override("model.args={ widths = [4, 8] }")[1] == {"widths": [4, 8]}
    assert parse_override("train.out=runs/x")[1] == "runs/x"
    with pytest.raises(ValueError, match=r"unknown config key 'train\.stepz'"):
        load_config(None, ["train.stepz=3"], data__dataset="d.zarr")
    with pytest.raises(ValueError, match="no dataset"):
        load_config(None)
    with pytest.raises(ValueError, match="needs a teacher"):
        load_config(None, ["distill.mode=output"], data__dataset="d.zarr")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nname=")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(bad, data__dataset="d.zarr")
    with pytest.raises(ConfigError, match=r"missing\.toml does not exist"):
        load_config(tmp_path / "missing.toml")


def test_shipped_configs_load(store):
    from pathlib import Path

    configs = sorted((Path(__file__).parents[2] / "cfasim" / "train" / "configs").glob("*.toml"))
    assert len(configs) >= 6
    for path in configs:
        cfg = load_config(path, data__dataset=str(store), distill__teacher="t.pt")
        assert cfg["model"]["name"]


def test_training_reduces_loss_and_writes_outputs(store, tmp_path):
    out = tmp_path / "run"
    trainer = train(config(store, out, "train.steps=12", "train.lr=0.01"), log=lambda *a: None)
    records = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 12 and np.mean(losses[-4:]) < np.mean(losses[:4])
    val = [r for r in records if "val_psnr" in r]
    assert [r["step"] for r in val] == [2, 4, 6, 8, 10, 12]
    assert all(np.isfinite(r["val_psnr"]) and r["baseline_psnr"] > 10 for r in val)
    for name in ("checkpoint.pt", "model.pt", "curves.png", "samples.png"):
        assert (out / name).stat().st_size > 0
    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt["step"] == 12 and ckpt["adapter"]["pattern"]["name"] == "nona:rggb"
    assert trainer.step == 12


def test_resume_is_exact(store, tmp_path):
    full = train(config(store, tmp_path / "a", "train.steps=6"), log=lambda *a: None)
    cfg = config(store, tmp_path / "b", "train.steps=6")
    train(cfg, stop_after=2, log=lambda *a: None)  # killed after the step-2 checkpoint
    resumed = train(cfg, resume=True, log=lambda *a: None)
    assert resumed.step == 6
    a, b = weights(full.model), weights(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [
        json.loads(ln)["step"]
        for ln in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
        if "loss" in ln
    ]
    assert steps == [1, 2, 3, 4, 5, 6]  # no duplicated records after the resume


def test_output_and_heterogeneous_distillation(store, tmp_path):
    teacher = tmp_path / "teacher"
    train(
        config(
            store, teacher, "model.input=clean", f"model.args={json.dumps(TINY)}", "train.steps=2"
        ),
        log=lambda *a: None,
    )
    hetero = Trainer(
        config(
            store,
            tmp_path / "h",
            "distill.mode=heterogeneous",
            distill__teacher=str(teacher / "model.pt"),
        ),
        log=lambda *a: None,
    )
    stage = hetero.distiller.stage_at(0)
    assert {s for s, _ in stage.features} == {"dec0", "dec1", "head"}  # common layer names
    parts = hetero.train_step(next(hetero._batches()))
    assert parts["distill_output"] > 0 and parts["distill_feature"] > 0
    for adapter in hetero.distiller.adapters.values():
        assert adapter.weight.grad is not None and adapter.weight.grad.abs().sum() > 0
    # the clean-image teacher is frozen
    assert all(not p.requires_grad for p in hetero.distiller.teacher.parameters())


def test_progressive_stages_switch(store, tmp_path):
    teacher = tmp_path / "t"
    train(config(store, teacher, "train.steps=1"), log=lambda *a: None)
    stages = (
        "distill.stages=[{steps = 2, gt_weight = 0.0, feature_weight = 1.0, "
        'features = [["dec0", "dec0"]]}, {gt_weight = 1.0, output_weight = 1.0}]'
    )
    tr = Trainer(
        config(
            store,
            tmp_path / "s",
            "distill.mode=progressive",
            stages,
            distill__teacher=str(teacher / "model.pt"),
        ),
        log=lambda *a: None,
    )
    batches = tr._batches()
    first = tr.train_step(next(batches))
    assert set(first) == {"loss", "l1", "distill_feature"} and first["l1"] == 0.0
    tr.train_step(next(batches))
    third = tr.train_step(next(batches))
    assert "distill_output" in third and third["l1"] > 0 and "distill_feature" not in third
    assert tr.distiller.stage_at(1).feature_weight == 1.0
    assert tr.distiller.stage_at(2) == Stage(gt_weight=1.0, output_weight=1.0)


def test_teacher_assistant_chain(store, tmp_path):
    teacher = tmp_path / "big"
    train(
        config(store, teacher, "model.args={ widths = [8, 16] }", "train.steps=1"),
        log=lambda *a: None,
    )
    chain = (
        'distill.assistants=[{name = "lwisp", args = { widths = [6, 12] }}, '
        '{name = "lwisp", args = { widths = [5, 10] }}]'
    )
    out = tmp_path / "student"
    messages = []
    student = train(
        config(
            store,
            out,
            "distill.mode=output",
            chain,
            "train.steps=2",
            distill__teacher=str(teacher / "model.pt"),
        ),
        log=messages.append,
    )
    for k, width in ((1, 6), (2, 5)):
        ckpt = load_checkpoint(out / f"assistant-{k}" / "model.pt")
        assert ckpt["model_spec"]["args"]["widths"] == [width, 2 * width]
        assert ckpt["config"]["distill"]["mode"] == "output"
    # each model learns from the previous one; the student from the last assistant
    assert load_checkpoint(out / "assistant-2" / "model.pt")["config"]["distill"]["teacher"] == str(
        out / "assistant-1" / "model.pt"
    )
    assert student.cfg["distill"]["teacher"] == str(out / "assistant-2" / "model.pt")
    assert student.model_spec["args"]["widths"] == [4, 8]


def test_amp_bf16_on_cpu(store, tmp_path):
    tr = train(
        config(store, tmp_path / "amp", "train.steps=2", "train.amp=true"), log=lambda *a: None
    )
    assert tr.step == 2
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_size_errors_are_clear(store, tmp_path):
    with pytest.raises(ValueError, match="not a multiple of the nona:rggb period 6x6; try 24"):
        Trainer(config(store, tmp_path / "x", "data.crop=25"), log=lambda *a: None)
    with pytest.raises(ValueError, match="targets are"):
        Trainer(
            config(store, tmp_path / "y", "model.args={ widths = [4, 8], output_scale = 1 }"),
            log=lambda *a: None,
        )


def test_batch_larger_than_split_is_refused(store, tmp_path):
    with pytest.raises(ValueError, match="not one batch of 64 per process"):
        Trainer(config(store, tmp_path / "z", "data.batch_size=64"), log=lambda *a: None)


def test_cli_train_export_and_process_raw(store, tmp_path):
    out = tmp_path / "cli"
    runner = CliRunner()
    args = ["train", "--dataset", str(store), "--out", str(out), "--steps", "2"]
    args += cli_options(data__batch_size=2, data__val_samples=1)
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "val psnr" in result.output
    png = tmp_path / "out.png"
    result = runner.invoke(
        main,
        [
            "process-raw",
            str(out / "model.pt"),
            str(store),
            "--split",
            "test",
            "--index",
            "1",
            "--out",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    import imagecodecs

    assert imagecodecs.imread(png).shape == (48, 48, 3)
    bad = runner.invoke(
        main, ["process-raw", str(out / "model.pt"), str(store), "--index", "99", "--out", str(png)]
    )
    assert bad.exit_code == 1 and "no index 99" in bad.output
    missing = runner.invoke(main, ["train", "--dataset", str(tmp_path / "nope.zarr")])
    assert missing.exit_code == 1 and "nope.zarr" in missing.output

    from cfasim.train.export import example_raw, export_model, model_from_checkpoint

    model, adapter = model_from_checkpoint(load_checkpoint(out / "model.pt"))
    raw = example_raw(adapter, 48) + torch.arange(48.0)[None, None, :]
    with torch.no_grad():
        inp = adapter(raw)
        expected = model(inp["packed"], inp["mosaic"])
    ts = torch.jit.load(str(export_model(out / "model.pt", tmp_path / "ts", "torchscript", 48)))
    torch.testing.assert_close(ts(raw), expected)


def test_onnx_export_runs_at_any_valid_size(store, tmp_path, monkeypatch):
    """One ONNX export (through the CLI) runs at other batch sizes and mosaic sizes (multiples
    of 12 for this Nona model) with the PyTorch model's outputs, and writes only into OUT."""
    ort = pytest.importorskip("onnxruntime")
    from cfasim.train.export import example_raw, model_from_checkpoint

    trainer = train(config(store, tmp_path / "run", "train.steps=1"), log=lambda *a: None)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    ckpt = tmp_path / "run" / "model.pt"
    result = CliRunner().invoke(main, ["export", str(ckpt), "onnx", "--format", "onnx"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in cwd.iterdir()} == {"onnx"}  # nothing beside the out folder
    written = {p.name for p in (cwd / "onnx").iterdir()}
    assert "model.onnx" in written and written <= {"model.onnx", "model.onnx.data"}
    model, adapter = model_from_checkpoint(load_checkpoint(ckpt))
    assert adapter.required_multiple(model.input_multiple) == (24, 24)  # 6 x 2 planes x 2 pools
    sess = ort.InferenceSession(str(cwd / "onnx" / "model.onnx"))
    assert all(isinstance(d, str) for d in sess.get_inputs()[0].shape)  # batch, height, width
    for n, h, w in ((1, 48, 72), (3, 96, 48)):
        raw = example_raw(adapter, h, batch=n, width=w) + 300 * torch.rand(n, h, w)
        with torch.no_grad():
            inp = adapter(raw)
            expected = model(inp["packed"], inp["mosaic"]).numpy()
        got = sess.run(None, {"raw": raw.numpy()})[0]
        assert got.shape == (n, 3, h, w) == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4)
    assert trainer.step == 1


def test_default_thread_count():
    assert default_thread_count(cpus=2, load=0.0, data_workers=0) == 2
    assert default_thread_count(cpus=2, load=1.0, data_workers=0) == 1  # one core busy
    assert default_thread_count(cpus=2, load=0.4, data_workers=1) == 1
    assert default_thread_count(cpus=2, load=6.0, data_workers=4) == 1  # at least 1
    assert default_thread_count(cpus=16, load=3.4, data_workers=2) == 11
    assert default_thread_count(cpus=16, load=1.6, data_workers=2) == 12
    assert default_thread_count(cpus=16, load=0.0, data_workers=1, processes=2) == 7


def test_configure_threads_reads_the_machine_and_says_so(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(trainer_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(trainer_module.os, "getloadavg", lambda: (1.0, 0.5, 0.2), raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    cfg = {"train": {"threads": None}, "data": {"num_workers": 0}}
    messages = []
    try:
        assert configure_threads(cfg, messages.append) == 1 == torch.get_num_threads()
        assert messages == [
            "torch threads: 1 (2 CPUs, load 1.0, 0 data workers; set train.threads to choose)"
        ]
        cfg["train"]["threads"] = 2
        assert configure_threads(cfg, messages.append) == 2 == torch.get_num_threads()
        assert messages[-1] == "torch threads: 2 (train.threads)"
    finally:
        torch.set_num_threads(before)


def test_ddp_two_processes_gloo_matches_single_process(store, tmp_path):
    common = ["--dataset", str(store), "--steps", "3"]
    common += cli_options(data__val_samples=1, data__augment="false", train__threads=1)
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node=2",
            "-m",
            "cfasim.cli",
            "train",
            *common,
            "--out",
            str(tmp_path / "ddp"),
            "--set",
            "data.batch_size=2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "x 2 processes" in ddp.stderr  # log messages: stderr (docs/cli.md)
    single = CliRunner().invoke(
        main, ["train", *common, "--out", str(tmp_path / "one"), "--set", "data.batch_size=4"]
    )
    assert single.exit_code == 0, single.output
    a = load_checkpoint(tmp_path / "ddp" / "model.pt")["model"]
    b = load_checkpoint(tmp_path / "one" / "model.pt")["model"]
    # 2 ranks x batch 2 with averaged gradients == 1 process x batch 4 on the same samples
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def write_bayer_dng(path, raw, cfa=(0, 1, 1, 2), black=64, white=1023):
    """A minimal Bayer DNG that LibRaw reads (the DNG exporter is a later issue)."""
    import tifffile

    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "cfasim-test", True),  # UniqueCameraModel
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, cfa, True),  # CFAPattern
        (50714, "H", 1, black, True),  # BlackLevel
        (50717, "H", 1, white, True),  # WhiteLevel
    ]
    tifffile.imwrite(path, raw, photometric=32803, extratags=tags, subfiletype=0)


def test_process_raw_reads_a_bayer_dng(store, tmp_path, monkeypatch):
    pytest.importorskip("rawpy")
    import imagecodecs

    bayer = tmp_path / "bayer.zarr"
    cfg = GenerateConfig(pattern="bayer", count=4, patch=48, splits=(1, 0, 0)).validated()
    build(plan(cfg), bayer, workers=1, progress=False)
    runner = CliRunner()
    opts = ["--steps", "1"]
    opts += cli_options(data__batch_size=2, data__val_split="train", data__val_samples=1)
    for data, run in ((bayer, "b"), (store, "n")):
        args = ["train", "--dataset", str(data), "--out", str(tmp_path / run), *opts]
        assert runner.invoke(main, args).exit_code == 0
    raw = np.random.default_rng(0).integers(64, 1023, (50, 70)).astype(np.uint16)
    write_bayer_dng(tmp_path / "shot.dng", raw)
    monkeypatch.chdir(tmp_path)  # the PNG goes to ./shot.png by default
    ok = runner.invoke(main, ["process-raw", str(tmp_path / "b" / "model.pt"), "shot.dng"])
    assert ok.exit_code == 0, ok.output
    assert "wrote shot.png" in ok.output, ok.output
    assert imagecodecs.imread(tmp_path / "shot.png").shape == (48, 64, 3)  # multiples of 8
    # the same file for a Nona model: a clear refusal
    bad = runner.invoke(main, ["process-raw", str(tmp_path / "n" / "model.pt"), "shot.dng"])
    assert bad.exit_code == 1 and "bayer:rggb; the model expects nona:rggb" in bad.output


def test_training_on_scale_two_targets(tmp_path):
    out = tmp_path / "s2.zarr"
    cfg = GenerateConfig(pattern="quad", count=8, patch=48, scale=2).validated()
    build(plan(cfg), out, workers=1, progress=False)
    args = "model.args={ widths = [4, 8], output_scale = 4 }"  # packed 12 -> 48 = 2 x crop 24
    tr = train(config(out, tmp_path / "run", args, "train.steps=2"), log=lambda *a: None)
    assert tr.step == 2 and tr.train_set.scale == 2
    item = tr.val_set[0]
    assert tr.predict({k: v[None] for k, v in item.items() if k != "index"}).shape == (1, 3, 96, 96)
    with pytest.raises(ValueError, match="targets are 48x48"):
        Trainer(config(out, tmp_path / "bad"), log=lambda *a: None)  # output_scale 2: too small


def test_seeds_train_one_run_each_and_report_the_spread(tmp_path):
    """--seeds: OUT/seed-S per seed, identical to a --seed S run; OUT/seeds.json has the
    per-seed values and their mean, sample sd and t-interval; --resume skips finished seeds."""
    from scipy import stats

    from cfasim.testing.fixtures import build_store, run_cli

    store = build_store(tmp_path / "b.zarr", pattern="bayer", count=12, patch=24)
    common = ["train", "--dataset", store, "--steps", "3", "--set", "data.batch_size=2",
              "--set", "model.args={ widths = [4, 8] }", "--set", "data.crop=16",
              "--set", "train.val_every=3", "--set", "train.threads=1"]  # fmt: skip
    result = run_cli(*common, "--seeds", "0,2", "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    single = run_cli(*common, "--seed", "2", "--out", tmp_path / "one")
    assert single.exit_code == 0, single.output
    a = torch.load(tmp_path / "s" / "seed-2" / "model.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "one" / "model.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # the seed run is the --seed run
    doc = json.loads((tmp_path / "s" / "seeds.json").read_text())
    psnr = [r["val_psnr"] for r in doc["runs"]]
    assert doc["seeds"] == [0, 2] and len(set(psnr)) == 2
    mean, sd = np.mean(psnr), np.std(psnr, ddof=1)
    half = stats.t.ppf(0.975, 1) * sd / np.sqrt(2)
    assert doc["val_psnr"]["mean"] == pytest.approx(mean)
    assert doc["val_psnr"]["ci95"] == pytest.approx([mean - half, mean + half])
    again = run_cli(*common, "--seeds", "0,2", "--resume", "--out", tmp_path / "s")
    assert again.exit_code == 0 and again.output.count("finished earlier") == 2
    both = run_cli(*common, "--seeds", "0,1", "--seed", "3", "--out", tmp_path / "x")
    assert both.exit_code != 0 and "not both" in both.output
    bad = run_cli(*common, "--seeds", "0,a", "--out", tmp_path / "x")
    assert bad.exit_code != 0 and "comma-separated integers" in bad.output


def test_conditioning_on_metadata_captured_pairs_lack_is_refused(zrr_root, tmp_path):
    from cfasim.testing.fixtures import run_cli

    store = tmp_path / "zrr.zarr"
    run_cli("generate", "--source-kind", "zurich", "--source", zrr_root, "--patch", 16,
            "--out", store)  # fmt: skip
    for condition, what in (("noise", "noise levels"), ("wb+noise", "white balance and noise")):
        cfg = config(store, tmp_path / condition, f'model.condition="{condition}"',
                     "data.crop=16", 'data.val_split="test"')  # fmt: skip
        with pytest.raises(ConfigError, match=f"needs every sample's {what}"):
            Trainer(cfg, log=lambda *a: None)


def test_training_compute_is_recorded_and_counts_the_teachers_forward(store, tmp_path):
    """train_flops_per_step: the student's forward + backward (about 3x its forward: the first
    layer needs no input gradient), plus, distilled, the frozen teacher's forward and the 1x1
    adapters (forward, input and weight gradients: 3x their forward)."""
    from torch.utils.flop_counter import FlopCounterMode

    def recorded(out):
        lines = (out / "metrics.jsonl").read_text().splitlines()
        return [json.loads(ln) for ln in lines if "train_flops_per_step" in ln]

    def forward_flops(fn):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            fn()
        return counter.get_total_flops()

    teacher = train(config(store, tmp_path / "t", "model.input=clean", "train.steps=1"),
                    log=lambda *a: None)  # fmt: skip
    plain = train(config(store, tmp_path / "p", "train.steps=2"), log=lambda *a: None)
    hetero = train(config(store, tmp_path / "h", "train.steps=2", "distill.mode=heterogeneous",
                          distill__teacher=str(tmp_path / "t" / "model.pt")),
                   log=lambda *a: None)  # fmt: skip
    assert [r["step"] for r in recorded(tmp_path / "p")] == [1]  # once, on the first step
    per_step = recorded(tmp_path / "p")[0]["train_flops_per_step"]
    assert per_step == plain.flops_per_step
    batch = next(hetero._batches())  # with the clean images the teacher takes
    student = forward_flops(lambda: plain.model(*plain._student_args(batch)))
    assert 2.5 * student < per_step <= 3 * student
    teacher_fwd = forward_flops(lambda: teacher.model(*hetero._teacher_args(batch, "clean")))
    h = recorded(tmp_path / "h")[0]["train_flops_per_step"]
    adapters = h - per_step - teacher_fwd
    assert 0 < adapters < 0.05 * per_step
    channels = sum(a.weight.numel() for a in hetero.distiller.adapters.values())
    assert adapters % (2 * channels) == 0  # 1x1 convs: 2 FLOPs per weight and pixel, 3 passes
