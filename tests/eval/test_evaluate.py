"""cfasim.eval (engine, report, noise bins, crops, the model protocol) and cfasim.train.predict on
tiny stores built from a natural image: numbers against independent computations
(render_reference, the baselines + ISP by hand, scikit-image, process_raw)."""

import json
import subprocess
import sys
from pathlib import Path

import imagecodecs
import matplotlib.image
import numpy as np
import pytest
import skimage.data
import zarr
from scipy.special import rel_entr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cfasim.cfa import CFAPattern, get_pattern
from cfasim.data.reader import open_dataset
from cfasim.eval import baselines as B
from cfasim.eval import crops as C
from cfasim.eval import engine as E
from cfasim.eval import noise as N
from cfasim.eval.models import Model, unique_labels
from cfasim.eval.report import EvaluationReport
from cfasim.isp.render import render_reference
from cfasim.isp.steps import process
from cfasim.pipeline import GenerateConfig, build, plan


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Three copies of skimage's astronaut (each split needs its own source file)."""
    root = tmp_path_factory.mktemp("images")
    image = skimage.data.astronaut()
    for k in range(3):
        (root / f"astronaut{k}.png").write_bytes(imagecodecs.png_encode(image))
    return root


def make_store(path, images, pattern, count, patch, **settings):
    cfg = GenerateConfig(
        pattern=pattern, source=str(images), count=count, patch=patch, **settings
    ).validated()
    build(plan(cfg), path, workers=1, progress=False)
    return path


@pytest.fixture(scope="module")
def bayer_store(tmp_path_factory, images):
    out = tmp_path_factory.mktemp("eval") / "bayer.zarr"
    return make_store(
        out, images, "bayer", 12, 64, noise="none", clean=True, seed=3, splits=(0.5, 0.17, 0.33)
    )


@pytest.fixture(scope="module")
def nona_store(tmp_path_factory, images):
    out = tmp_path_factory.mktemp("eval") / "nona.zarr"
    return make_store(out, images, "nona", 12, 72, noise="brooks", clean=True, seed=4,
                      splits=(0.5, 0.0, 0.5))  # fmt: skip


@pytest.fixture(scope="module")
def bayer_report(bayer_store):
    return E.evaluate(bayer_store, crop_size=32, figure_crops=2)


@pytest.fixture(scope="module")
def nona_report(nona_store):
    return E.evaluate(nona_store, noise_bins=3, crop_size=24)


def sk_ssim(a, b):
    return structural_similarity(
        a, b, channel_axis=-1, data_range=1, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False,
    )  # fmt: skip


def test_bayer_ranking_and_values(bayer_store, bayer_report):
    r = bayer_report
    assert list(r.methods) == ["bilinear", "malvar", "menon", "tent", "nlm+menon"]
    assert r.pattern == "bayer:rggb" and r.split == "test" and r.samples == [0, 1, 2, 3]
    means = r.means()
    psnr = {m: means[m]["all"]["psnr"] for m in r.methods}
    # measured: bilinear 32.88 < malvar 37.32 < menon 39.48 dB (tent 32.87)
    assert psnr["bilinear"] < psnr["malvar"] < psnr["menon"], psnr
    de = {m: means[m]["all"]["ciede2000"] for m in r.methods}
    assert de["bilinear"] > de["malvar"] > de["menon"], de
    # every number recomputed independently from the store
    ds = open_dataset(bayer_store)
    sp = ds["test"]
    for i in r.samples:
        item, params = sp[i], sp.params(i)
        target = item["target"] / 255.0
        ref = render_reference(item["raw"], ds.pattern, params, 64, 1023)  # tent + ISP
        assert r.methods["tent"]["per_sample"]["psnr"][i] == pytest.approx(
            peak_signal_noise_ratio(target, ref, data_range=1), abs=1e-9
        )
        lin = np.clip((item["raw"] - 64.0) / (1023 - 64), 0, 1)
        gains = np.array([params.red_gain, 1.0, params.blue_gain])
        balanced = lin * gains[ds.pattern.color_index(64, 64)]  # white balance, demosaic, undo
        malvar = process(B.malvar(balanced, ds.pattern) / gains, params)
        assert r.methods["malvar"]["per_sample"]["psnr"][i] == pytest.approx(
            peak_signal_noise_ratio(target, malvar, data_range=1), abs=1e-9
        )
        assert r.methods["malvar"]["per_sample"]["ssim"][i] == pytest.approx(
            sk_ssim(target, malvar), abs=1e-9
        )
    for m in r.methods.values():  # no Bayer remosaic on Bayer data: no KLD
        assert set(m["per_sample"]) == {"psnr", "ssim", "ms_ssim", "ciede2000"}
    assert r.noise_bins == [
        {"label": "noise none", "low": 0.0, "high": 0.0, "samples": [0, 1, 2, 3]}
    ]
    assert any("KLD" in n for n in r.notes)


def test_white_balance_before_demosaic(bayer_store, bayer_report):
    # the option only matters for cross-channel demosaicers: bilinear and tent are per channel
    plain = E.evaluate(bayer_store, white_balance=False, figure_crops=0)
    assert plain.options["white_balance"] is False and bayer_report.options["white_balance"]
    wb, raw = bayer_report.means(), plain.means()
    for name in ("bilinear", "tent"):
        assert wb[name]["all"]["psnr"] == pytest.approx(raw[name]["all"]["psnr"], abs=1e-9)
    for name in ("malvar", "menon"):  # measured: +3.3 dB (Malvar), +5.9 dB (Menon)
        assert wb[name]["all"]["psnr"] > raw[name]["all"]["psnr"] + 1.0
    ds = open_dataset(bayer_store)
    item, params = ds["test"][0], ds["test"].params(0)
    lin = np.clip((item["raw"] - 64.0) / (1023 - 64), 0, 1)
    menon = process(B.menon(lin, ds.pattern), params)
    assert plain.methods["menon"]["per_sample"]["psnr"][0] == pytest.approx(
        peak_signal_noise_ratio(item["target"] / 255.0, menon, data_range=1), abs=1e-9
    )


def test_nona_remosaic_kld(nona_store, nona_report):
    r = nona_report
    assert list(r.methods) == ["binning", "remosaic_malvar", "remosaic_menon", "remosaic_ed_menon",
                               "tent", "nlm+binning", "nlm+remosaic_ed_menon"]  # fmt: skip
    ps = r.methods["remosaic_malvar"]["per_sample"]
    assert set(r.methods["binning"]["per_sample"]) == {"psnr", "ssim", "ms_ssim", "ciede2000"}
    root = zarr.open_group(str(nona_store), mode="r")
    g = root["test"]
    pattern = CFAPattern.from_dict(root.attrs["cfasim"]["pattern"])
    for i in r.samples:
        raw, clean = g["raw"][i], g["clean"][i].astype(np.float64)
        # independent: Bayer remosaic of the RAW vs the RGGB mosaic of the clean signal in DN
        bayer_raw, bayer = B.remosaic(raw, pattern)
        assert bayer.name == "bayer:rggb"
        yy, xx = np.mgrid[: raw.shape[0], : raw.shape[1]]
        channel = np.where((yy % 2 == 0) & (xx % 2 == 0), 0, np.where((yy % 2) & (xx % 2), 2, 1))
        v = np.take_along_axis(clean, channel[..., None], axis=-1)[..., 0]
        ref = np.clip(np.round(64 + v * (1023 - 64)), 0, 1023).astype(int)
        klds = []
        for a in (0, 1):
            for b in (0, 1):
                p = np.bincount(bayer_raw[a::2, b::2].ravel().astype(int), minlength=1024)
                q = np.bincount(ref[a::2, b::2].ravel(), minlength=1024)
                n = p.sum()
                p = np.where(p, p / n, 1 / n)
                q = np.where(q, q / n, 1 / n)
                klds.append((rel_entr(p, q).sum() + rel_entr(q, p).sum()) / 2)
        assert ps["kld"][i] == pytest.approx(np.mean(klds), rel=1e-10)
        assert ps["m4_no_lpips"][i] == pytest.approx(
            ps["psnr"][i] * ps["ssim"][i] * 2 ** (1 - ps["kld"][i]), rel=1e-12
        )
        assert 0 < ps["kld"][i] < 5
    md = r.to_markdown()
    assert "M4 (no LPIPS)" in md and "LPIPS term set to 0" in md


def test_noise_bins(nona_store, nona_report):
    r = nona_report
    g = zarr.open_group(str(nona_store), mode="r")["test"]
    levels = np.sqrt(g["shot_noise"][:] * 0.18 + g["read_noise"][:])
    np.testing.assert_allclose(r.noise_levels, levels, rtol=1e-12)
    assert len(r.noise_bins) == 3 and [len(b["samples"]) for b in r.noise_bins] == [2, 2, 2]
    order = np.argsort(levels)
    assert [b["samples"] for b in r.noise_bins] == [sorted(order[k : k + 2]) for k in (0, 2, 4)]
    for b in r.noise_bins:
        assert b["low"] == levels[b["samples"]].min() and b["high"] == levels[b["samples"]].max()
    means = r.means()
    for b in r.noise_bins:
        for m, res in r.methods.items():
            expected = np.mean([res["per_sample"]["psnr"][s] for s in b["samples"]])
            assert means[m][b["label"]]["psnr"] == pytest.approx(expected)
    assert len({b["label"] for b in r.noise_bins}) == 3
    assert all(b["label"] in r.to_markdown() for b in r.noise_bins)
    assert len(N.noise_groups([0.1, 0.1, 0.1], 3)) == 1  # equal levels: one bin


def test_kld_skipped_without_clean(tmp_path, images):
    store = make_store(tmp_path / "q.zarr", images, "quad", 6, 32, noise="none",
                       splits=(0.34, 0.33, 0.33))  # fmt: skip
    r = E.evaluate(store, baselines="remosaic_malvar", figure_crops=0)
    assert "kld" not in r.methods["remosaic_malvar"]["per_sample"]
    assert any("stores no clean signal" in n for n in r.notes)
    with pytest.raises(ValueError, match="does not apply to 'quad"):
        E.evaluate(store, baselines=["menon"])
    with pytest.raises(ValueError, match="no split"):
        E.evaluate(store, split="dev")


def test_scale_two_targets(tmp_path, images):
    store = make_store(tmp_path / "s2.zarr", images, "quad", 6, 32, noise="none", scale=2,
                       splits=(0.34, 0.33, 0.33))  # fmt: skip
    r = E.evaluate(store, baselines=["tent", "binning"], crop_size=24)
    ds = open_dataset(store)
    item, params = ds["test"][0], ds["test"].params(0)
    assert item["target"].shape == (64, 64, 3)
    ref = render_reference(item["raw"], ds.pattern, params, 64, 1023, scale=2)
    assert r.methods["tent"]["per_sample"]["psnr"][0] == pytest.approx(
        peak_signal_noise_ratio(item["target"] / 255.0, ref, data_range=1), abs=1e-9
    )
    crop = r.crops[0]
    assert crop["size"] == 24 and crop["mosaic"].shape == (24, 24, 3)
    assert crop["y"] % 4 == 0 and crop["x"] % 4 == 0  # scale x period: CFA-aligned


def test_best_crop_is_where_methods_differ_most():
    rng = np.random.default_rng(0)
    target = rng.uniform(0, 1, (40, 48, 3))
    a = target + rng.normal(0, 0.01, target.shape)
    b = target + rng.normal(0, 0.01, target.shape)
    b[20:30, 30:40] += 0.3  # method b fails here
    y, x, score = C.best_crop({"a": a, "b": b}, target, 10, step=2)

    # brute force: variance across methods of the local RMSE at every even top-left corner
    def rmse(o, i, j):
        return np.sqrt(np.mean((o[i : i + 10, j : j + 10] - target[i : i + 10, j : j + 10]) ** 2))

    best = max(
        (np.var([rmse(a, i, j), rmse(b, i, j)]), i, j)
        for i in range(0, 31, 2)
        for j in range(0, 39, 2)
    )
    assert (y, x) == (best[1], best[2]) == (20, 30)
    assert score == pytest.approx(best[0])


def test_json_round_trip(bayer_report, tmp_path):
    path = bayer_report.to_json(tmp_path / "r" / "report.json")
    doc = json.loads(path.read_text())
    assert doc["schema"] == "cfasim.evaluation/1"
    assert {"dataset", "split", "pattern", "scale", "samples", "noise", "metrics", "methods",
            "models", "notes"} <= set(doc)  # fmt: skip
    m = doc["methods"]["menon"]
    assert m["kind"] == "baseline" and len(m["per_sample"]["psnr"]) == len(doc["samples"])
    assert m["means"]["all"]["psnr"] == pytest.approx(np.mean(m["per_sample"]["psnr"]))
    assert m["means"]["noise none"] == m["means"]["all"]
    back = EvaluationReport.from_json(path)
    assert back == bayer_report
    assert back.to_dict() == bayer_report.to_dict()
    assert back.to_markdown() == bayer_report.to_markdown()
    with pytest.raises(ValueError, match="no crops"):
        back.figure(tmp_path / "f.png")


def test_markdown_lists_every_method(bayer_report):
    md = bayer_report.to_markdown()
    for name in bayer_report.methods:
        assert f"| {name} |" in md
    for label in ("PSNR (dB)", "SSIM", "MS-SSIM", "CIEDE2000"):
        assert label in md
    assert "M4" not in md.split("## Notes")[0]  # no remosaic method on Bayer data


def test_figure_png_size(bayer_report, tmp_path):
    r = bayer_report
    path = r.figure(tmp_path / "fig.png")
    image = matplotlib.image.imread(path)
    # crop 32 -> panels of 32 * ceil(160 / 32) = 160 px; cells 168 x 198; mosaic + 5 + target
    assert r.figure_size() == (7 * 168, 2 * 198)
    assert image.shape[:2] == (2 * 198, 7 * 168)
    assert len(r.crops) == 2 and r.crops[0]["score"] >= r.crops[1]["score"]
    crop = r.crops[0]
    assert set(crop["images"]) == set(r.methods) and crop["target"].shape == (32, 32, 3)
    for name, img in crop["images"].items():
        assert crop["psnr"][name] == pytest.approx(
            peak_signal_noise_ratio(crop["target"], img, data_range=1)
        )


def test_cfasim_evaluate_imports_without_torch():
    code = (
        "import sys, cfasim.eval, cfasim.eval.engine, cfasim.eval.report, cfasim.eval.metrics, "
        "cfasim.eval.baselines, cfasim.eval.models, cfasim.eval.crops, cfasim.eval.noise, "
        "cfasim.eval.scoring, cfasim.eval.rendering; from cfasim.eval import evaluate; "
        "assert 'torch' not in sys.modules and 'training' not in sys.modules; "
        "assert not [m for m in sys.modules if m.startswith('cfasim.train')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


class GreyModel:
    """A NumPy model: the normalised RAW as grey sRGB, cropped by (6, 2) pixels; no cost."""

    def __init__(self, label, pattern=None):
        self.label, self.pattern = label, pattern

    def __call__(self, raw, black, white):
        lin = np.clip((raw - black) / (white - black), 0, 1)[:-6, :-2]
        return np.repeat(lin[..., None], 3, axis=-1)


def test_a_numpy_model_is_scored_without_torch(bayer_store):
    grey = GreyModel("tent")  # the label is taken by a baseline: tent#2
    assert isinstance(grey, Model)
    r = E.evaluate(bayer_store, baselines=["tent"], models=[grey], figure_crops=1)
    assert list(r.methods) == ["tent", "tent#2"] and r.models == {}
    assert (r.methods["tent#2"]["kind"], r.methods["tent#2"]["source"]) == ("model", "tent")
    assert r.options["checkpoints"] == ["tent"]
    ds = open_dataset(bayer_store)
    for i in r.samples:
        item = ds["test"][i]
        out = grey(item["raw"].astype(np.float64), 64.0, 1023.0)
        assert out.shape == (58, 62, 3)  # scored on the matching top-left target region
        assert r.methods["tent#2"]["per_sample"]["psnr"][i] == pytest.approx(
            peak_signal_noise_ratio(item["target"][:58, :62] / 255.0, out, data_range=1), abs=1e-9
        )
    assert set(r.crops[0]["images"]) == {"tent", "tent#2"} and "| tent#2 |" in r.to_markdown()
    with pytest.raises(ValueError, match=r"^tent was trained on nona:rggb; the dataset is bayer"):
        E.evaluate(bayer_store, models=[GreyModel("tent", get_pattern("nona"))])
    with pytest.raises(TypeError, match="callable with a str label"):
        E.evaluate(bayer_store, models=[np.zeros(3)])
    with pytest.raises(ValueError, match="nothing to evaluate"):
        E.evaluate(bayer_store, baselines=[], models=[])


def test_unique_labels():
    assert unique_labels(["a", "b", "a", "a#2"], ["b"]) == ["a", "b#2", "a#2", "a#2#2"]
    assert unique_labels([]) == []


def test_checkpoint_labels(tmp_path):
    pytest.importorskip("torch")
    from cfasim.train.predict import checkpoint_label

    assert checkpoint_label("runs/lwisp/model.pt") == ("lwisp", Path("runs/lwisp/model.pt"))
    assert checkpoint_label("runs/x/checkpoint.pt")[0] == "x"
    assert checkpoint_label("runs/x/step100.pt")[0] == "step100"
    assert checkpoint_label("mine=runs/x/model.pt") == ("mine", Path("runs/x/model.pt"))
    odd = tmp_path / "a=b.pt"
    odd.write_bytes(b"")
    assert checkpoint_label(odd) == ("a=b", odd)  # an existing file's name is not split


def train_tiny(store, out):
    """A tiny LW-ISP trained for 2 steps on ``store``; returns its checkpoint."""
    from cfasim.train.config import load_config
    from cfasim.train.trainer import train

    overrides = ["model.args={ widths = [4, 8] }", "data.crop=32", "data.batch_size=2"]
    overrides += ["train.steps=2", "train.val_every=100", "train.threads=1"]
    cfg = load_config(None, overrides, data__dataset=str(store), train__out=str(out))
    train(cfg, log=lambda *a: None)
    return out / "model.pt"


def test_checkpoint_evaluation(bayer_store, nona_store, tmp_path):
    pytest.importorskip("torch")
    from cfasim.train.checkpoint import load_checkpoint, model_from_checkpoint
    from cfasim.train.export import process_raw
    from cfasim.train.models import count_parameters
    from cfasim.train.predict import CheckpointModel, checkpoint_models

    ckpt = train_tiny(bayer_store, tmp_path / "tiny")
    tiny = CheckpointModel(ckpt)
    assert isinstance(tiny, Model) and tiny.label == "tiny" and tiny.source == str(ckpt)
    r = E.evaluate(bayer_store, baselines=["malvar"], models=[tiny], latency_repeats=2)
    assert list(r.methods) == ["malvar", "tiny"] and r.methods["tiny"]["kind"] == "model"
    values = r.methods["tiny"]["per_sample"]
    assert all(np.isfinite(v).all() for v in values.values())
    model, _ = model_from_checkpoint(load_checkpoint(ckpt))
    cost = r.models["tiny"]
    assert cost["params"] == count_parameters(model)
    assert cost["architecture"] == "lwisp" and cost["macs"] > cost["params"]
    assert cost["gmac_per_mpx"] == pytest.approx(cost["macs"] / 1e9 / (64 * 64 / 1e6))
    assert cost["latency_s_per_mpx"] > 0
    # the float output agrees with the 8-bit process_raw of cfasim.train.export
    ds = open_dataset(bayer_store)
    for i in r.samples:
        item = ds["test"][i]
        rgb8 = process_raw(ckpt, item["raw"])
        target = item["target"] / 255.0
        assert values["psnr"][i] == pytest.approx(
            peak_signal_noise_ratio(target, rgb8 / 255.0, data_range=1), abs=0.05
        )
    md = r.to_markdown()
    assert "## Model cost" in md and f"{cost['params']:,}" in md and "| tiny |" in md
    # labels: LABEL=PATH, and unique
    models = checkpoint_models([f"mine={ckpt}", ckpt, ckpt])
    r2 = E.evaluate(bayer_store, baselines=[], models=models, limit=1, latency_repeats=1,
                    figure_crops=0)  # fmt: skip
    assert list(r2.methods) == ["mine", "tiny", "tiny#2"] and r2.samples == [0]
    assert r2.options["checkpoints"] == [str(ckpt)] * 3
    with pytest.raises(ValueError, match="trained on bayer:rggb; the dataset is nona:rggb"):
        E.evaluate(nona_store, models=[tiny])


def test_cli_evaluate_table_json_and_figure(bayer_store, tmp_path):
    """`cfasim evaluate` on a generated dataset and a trained student: table, JSON, figure."""
    pytest.importorskip("torch")
    from click.testing import CliRunner

    from cfasim.cli import main

    ckpt = train_tiny(bayer_store, tmp_path / "student")
    out = tmp_path / "eval"
    args = ["evaluate", str(bayer_store), "--checkpoint", str(ckpt)]
    args += ["--baselines", "bilinear,menon", "--out", str(out), "--crops", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    for name in ("bilinear", "menon", "student"):
        assert f"| {name} |" in result.output
    doc = json.loads((out / "evaluation.json").read_text())
    assert set(doc["methods"]) == {"bilinear", "menon", "student"}
    assert (out / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "evaluation.md").read_text() in result.output
    bad = CliRunner().invoke(main, ["evaluate", str(bayer_store), "--baselines", "nope"])
    assert bad.exit_code != 0 and "nope" in bad.output


def test_evaluate_scores_a_zurich_dataset_with_the_public_protocol(zrr_root, tmp_path):
    """Captured pairs have no ISP parameters: baselines render camera-agnostically, models are
    scored per patch on [0, 1] and PSNR is the mean over the test patches."""
    from cfasim.eval.metrics import psnr

    out = tmp_path / "zrr.zarr"
    cfg = GenerateConfig(source=str(zrr_root), source_kind="zurich", patch=16)
    build(plan(cfg), out, progress=False)

    class Grey:
        label = "grey"

        def __call__(self, raw, black, white):
            return np.full((*raw.shape, 3), 0.5)

    report = E.evaluate(out, baselines="bilinear", models=[Grey()], crop_size=8, figure_crops=0)
    test = open_dataset(out)["test"]
    direct = [psnr(np.full((16, 16, 3), 0.5), test[i]["target"] / 255.0) for i in range(2)]
    per_patch = report.methods["grey"]["per_sample"]["psnr"]
    np.testing.assert_allclose(per_patch, direct, rtol=1e-9)
    assert report.means()["grey"]["all"]["psnr"] == pytest.approx(np.mean(direct))
    assert all(np.isfinite(report.methods["bilinear"]["per_sample"]["ms_ssim"]))
    assert report.noise_bins[0]["label"] == "camera noise"


def test_the_cli_evaluates_a_zurich_dataset(zrr_root, tmp_path):
    from cfasim.testing.fixtures import run_cli

    out = tmp_path / "zrr.zarr"
    assert run_cli("generate", "--source-kind", "zurich", "--source", zrr_root, "--patch", 16,
                   "--out", out).exit_code == 0  # fmt: skip
    result = run_cli("evaluate", out, "--out", tmp_path / "ev", "--crop-size", 8)
    assert result.exit_code == 0, result.output
    assert "| method | PSNR (dB) | PSNR 95 % CI | SSIM | MS-SSIM |" in result.output
    doc = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert len(doc["methods"]["menon"]["per_sample"]["psnr"]) == 2  # one value per test patch
