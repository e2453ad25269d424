"""Tiles of any block size and large user tiles, end to end: generate, read back, the training
adapter, a 2-step training, the baselines and ``cfasim evaluate``; and the tile limits."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

import cfasim
from cfasim.cfa import MAX_BLOCK, MAX_PERIOD, CFAPattern, get_pattern, tile_text
from cfasim.cli import main
from cfasim.errors import ConfigError
from cfasim.eval import baselines as B

BLOCK5_TEXT = tile_text(np.kron([[0, 1], [1, 2]], np.ones((5, 5), int)))
"""The 10x10 tile text of 5x5 blocks (phase rggb), as a user would type it."""
RANDOM10_TEXT = (
    "BGGRRRRRRB/GBGGBBGGGB/RBBRGBGRBB/BRRBRGRRGG/GRRRRBGGRG/"
    "BGGBBBGBBG/BBBGBRGBBG/GRGGBBRBGG/BGRRBGGGBG/RBRRBGRRGB"
)
"""A 10x10 random RGB tile (not a block pattern)."""


def generate(out, pattern, patch, count=8, *extra):
    """`cfasim generate` of a tiny noise-free store with clean signal; returns its path."""
    args = ["generate", "--pattern", pattern, "--count", count, "--patch", patch, "--out", out]
    args += ["--noise", "none", "--clean", "--splits", "0.5,0.25,0.25", "--seed", "3", *extra]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def block5_store(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("b5") / "b5.zarr", BLOCK5_TEXT, 40)


@pytest.fixture(scope="module")
def random10_store(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("r10") / "r10.zarr", RANDOM10_TEXT, 40)


def expected_raw(clean, pattern, fmt):
    """Noise-free RAW codes of clean linear camera RGB on ``pattern`` (the simulator's
    quantisation: ``round(black + v * (white - black))`` clipped to [0, white])."""
    v = pattern.mosaic(np.asarray(clean, dtype=np.float64))
    return np.clip(np.round(fmt.black + v * (fmt.white - fmt.black)), 0, fmt.white)


def assert_mosaic_follows_pattern(path, pattern):
    """Every RAW pixel of the first train sample is the clean signal of its own CFA colour (to
    one code: clean is stored as float16); the same data read as another phase is far off."""
    ds = cfasim.open_dataset(path)
    item = ds["train"][0]
    raw = np.asarray(item["raw"], dtype=np.float64)
    err = np.abs(raw - expected_raw(item["clean"], pattern, ds.raw_format))
    assert err.max() <= 1.0
    shifted = CFAPattern.from_tile(np.roll(pattern.tile, 1, axis=1))
    wrong = np.abs(raw - expected_raw(item["clean"], shifted, ds.raw_format))
    assert wrong.max() > 20


# -- generate and read back --------------------------------------------------------------------


def test_generate_block5_tile_text(block5_store):
    """The issue's command: 5x5-block tile text is stored as block5:rggb and reads back."""
    ds = cfasim.open_dataset(block5_store)
    assert ds.pattern == CFAPattern.block_bayer(5) and ds.pattern.name == "block5:rggb"
    assert ds.pattern.block == 5 and ds.pattern.period == (10, 10)
    assert ds["train"][0]["raw"].shape == (40, 40)
    assert_mosaic_follows_pattern(block5_store, ds.pattern)


def test_generate_random_10x10_tile(random10_store):
    ds = cfasim.open_dataset(random10_store)
    assert ds.pattern == get_pattern(RANDOM10_TEXT) and ds.pattern.block is None
    assert ds.pattern.name == RANDOM10_TEXT and ds.pattern.period == (10, 10)
    assert_mosaic_follows_pattern(random10_store, ds.pattern)


@pytest.mark.parametrize(("spec", "block"), [("block8:gbrg", 8), ("block16", MAX_BLOCK)])
def test_generate_block8_and_the_largest_block(tmp_path, spec, block):
    out = generate(tmp_path / "b.zarr", spec, 2 * block, 4)
    ds = cfasim.open_dataset(out)
    assert ds.pattern == get_pattern(spec) and ds.pattern.block == block
    assert ds.pattern.period == (2 * block, 2 * block)
    assert_mosaic_follows_pattern(out, ds.pattern)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("block17", "block sizes go up to 16"),
        (
            "/".join(["RGB" * 11] * 33),
            f"CFA tile 33x33 is over the limit: a tile has at most {MAX_PERIOD} rows",
        ),
    ],
)
def test_generate_beyond_the_limit_is_a_usage_error(tmp_path, spec, message):
    out = tmp_path / "big.zarr"
    args = ["generate", "--pattern", spec, "--count", "4", "--patch", "66", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()[-1]) < 160
    assert not out.exists()


# -- training ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "packing"), [("block5:bggr", "planes"), ("block5", "s2d"), (RANDOM10_TEXT, "s2d")]
)
def test_adapter_packs_large_tiles_like_numpy(spec, packing):
    torch = pytest.importorskip("torch")
    from cfasim.train.cfa_adapter import CFAAdapter

    pattern = get_pattern(spec)
    raw = np.random.default_rng(2).integers(0, 1024, (2, 20, 40), dtype=np.uint16)
    adapter = CFAAdapter(pattern, packing, with_mask=True, normalize=(64, 1023))
    packed = adapter.pack(torch.from_numpy(raw)).permute(0, 2, 3, 1).numpy()
    numpy_pack = pattern.pack_planes if packing == "planes" else pattern.space_to_depth
    np.testing.assert_array_equal(packed, numpy_pack(raw))
    channels = 4 if packing == "planes" else 100
    assert adapter.in_channels == 4 * channels
    masks = adapter(torch.from_numpy(raw))["mask"][0].numpy()
    np.testing.assert_array_equal(masks, pattern.masks(20, 40).transpose(2, 0, 1))
    assert adapter.required_multiple(2) == (20, 20)  # lcm(period 10, factor x 2)


def train_two_steps(store, out, *overrides):
    """A 2-step training of a tiny one-stage LW-ISP (widths 4) on 20x20 crops; returns the
    trainer."""
    from cfasim.train.config import load_config
    from cfasim.train.trainer import train

    base = ["model.args={ widths = [4] }", "data.crop=20", "data.batch_size=2"]
    base += ["data.val_samples=2", "train.steps=2", "train.log_every=1", "train.val_every=2"]
    base += ["train.threads=1"]
    cfg = load_config(None, [*base, *overrides], data__dataset=str(store), train__out=str(out))
    return train(cfg, log=lambda *a: None)


def training_records(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_two_step_training_on_block5_planes(block5_store, tmp_path):
    pytest.importorskip("torch")
    from cfasim.train.checkpoint import load_checkpoint

    out = tmp_path / "run"
    trainer = train_two_steps(block5_store, out)
    assert trainer.step == 2 and trainer.adapter.packing == "planes"
    records = training_records(out)
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 2 and all(math.isfinite(v) and v > 0 for v in losses)
    assert all(math.isfinite(r["val_psnr"]) for r in records if "val_psnr" in r)
    ckpt = load_checkpoint(out / "model.pt")
    assert CFAPattern.from_dict(ckpt["adapter"]["pattern"]) == CFAPattern.block_bayer(5)
    assert ckpt["adapter"]["pattern"]["name"] == "block5:rggb"


def test_two_step_training_on_random_tile_s2d(random10_store, tmp_path):
    """s2d packs the 10x10 period into 100 channels; output_scale 10 restores the mosaic size."""
    pytest.importorskip("torch")
    out = tmp_path / "run"
    trainer = train_two_steps(
        random10_store,
        out,
        "model.packing=s2d",
        "model.args={ widths = [4], output_scale = 10 }",
        "data.crop=40",  # packed 4x4: the smallest a one-stage LW-ISP takes
    )
    assert trainer.adapter.in_channels == 100 and trainer.model.in_channels == 100
    losses = [r["loss"] for r in training_records(out) if "loss" in r]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)


# -- baselines and evaluate --------------------------------------------------------------------


def test_cli_evaluate_tent_on_block5(block5_store, tmp_path):
    out = tmp_path / "eval"
    args = ["evaluate", str(block5_store), "--baselines", "tent", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--crops", "1", "--crop-size", "20"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "evaluation.json").read_text())
    assert doc["pattern"] == "block5:rggb" and list(doc["methods"]) == ["tent"]
    psnr = doc["methods"]["tent"]["per_sample"]["psnr"]
    assert len(psnr) == 2 and all(math.isfinite(v) and v > 10 for v in psnr)


def test_evaluate_block_baselines_and_a_model_on_block5(block5_store, tmp_path):
    """Every block baseline applies to block 5 (remosaics with KLD from the clean signal); a
    model trained on block 5 is evaluated on it too."""
    pytest.importorskip("torch")
    from cfasim.eval.engine import evaluate
    from cfasim.train.predict import checkpoint_models

    block = ("binning", "remosaic_malvar", "remosaic_menon", "remosaic_ed_menon", "tent")
    denoised = ("nlm+binning", "nlm+remosaic_ed_menon")
    assert B.applicable(get_pattern("block5")) == (*block, *denoised)
    train_two_steps(block5_store, tmp_path / "tiny")
    report = evaluate(
        block5_store,
        models=checkpoint_models([tmp_path / "tiny" / "model.pt"]),
        crop_size=20,
        figure_crops=0,
        latency_repeats=1,
    )
    assert list(report.methods) == [*block, *denoised, "tiny"]
    for method in report.methods.values():
        assert all(math.isfinite(v) and v > 5 for v in method["per_sample"]["psnr"])
    for name in ("remosaic_malvar", "remosaic_menon", "remosaic_ed_menon"):
        kld = report.methods[name]["per_sample"]["kld"]
        assert all(math.isfinite(v) and v >= 0 for v in kld)


def test_evaluate_tent_on_random_tile(random10_store):
    from cfasim.eval.engine import evaluate

    report = evaluate(random10_store, baselines="all", crop_size=20, figure_crops=0)
    assert list(report.methods) == ["tent", "nlm+tent"]
    assert all(math.isfinite(v) and v > 10 for v in report.methods["tent"]["per_sample"]["psnr"])


@pytest.mark.parametrize("spec", ["block5:grbg", "block16", RANDOM10_TEXT, "largest"])
def test_tent_is_exact_on_flat_colour(spec):
    """A flat colour is rebuilt exactly by the normalised tent, for any tile up to the limit."""
    if spec == "largest":
        tile = np.random.default_rng(5).integers(0, 3, (MAX_PERIOD, MAX_PERIOD))
        tile[0, :3] = (0, 1, 2)
        pattern = CFAPattern.from_tile(tile)
    else:
        pattern = get_pattern(spec)
    side = 2 * math.lcm(*pattern.period)
    rgb = np.broadcast_to([0.2, 0.5, 0.7], (side, side, 3))
    out = B.demosaic("tent", pattern.mosaic(rgb), pattern)
    np.testing.assert_allclose(out, rgb, rtol=0, atol=1e-12)


@pytest.mark.parametrize("block", [5, 8, MAX_BLOCK])
def test_binning_of_large_blocks_keeps_flat_colour(block):
    pattern = CFAPattern.block_bayer(block, "gbrg")
    side = 4 * 2 * block
    rgb = np.broadcast_to([0.3, 0.4, 0.6], (side, side, 3))
    for name in ("binning", "remosaic_malvar"):
        out = B.demosaic(name, pattern.mosaic(rgb), pattern)
        np.testing.assert_allclose(out, rgb, rtol=0, atol=1e-9)


def test_dng_refuses_block5_with_its_own_limit(block5_store, tmp_path):
    from cfasim.data.dng import export_dng

    with pytest.raises(ConfigError, match=r"CFA tile 10x10 of 'block5:rggb' is larger than DNG"):
        export_dng(block5_store, "test", ":", tmp_path / "dng")
    assert not (tmp_path / "dng").exists()
