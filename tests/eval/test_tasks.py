"""The linear task: white-balanced linear camera RGB of the stored noise-free signal as the
target, for evaluate (and, with torch, for training); the camera task's baselines."""

import numpy as np
import pytest

from cfasim.data.reader import open_dataset
from cfasim.eval import engine as E
from cfasim.eval.metrics import psnr
from cfasim.isp.demosaic import demosaic_tent
from cfasim.isp.render import balanced_linear, normalize_raw
from cfasim.isp.steps import process
from cfasim.testing.fixtures import build_store, run_cli


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("task") / "nona.zarr"
    return build_store(out, pattern="nona", count=10, patch=36, clean=True, splits=(0.2, 0, 0.8))


def test_the_linear_target_is_the_balanced_clean_signal(clean_store):
    """process(clean) renders the stored target, so clean x gains x digital gain is the same
    image before its colour matrix and transfer curve."""
    split = open_dataset(clean_store)["test"]
    item, p = split[0], split.params(0)
    clean = np.asarray(item["clean"], dtype=np.float64)
    np.testing.assert_allclose(process(clean, p), item["target"] / 255, atol=2.5e-3)
    lin = balanced_linear(clean, item["wb_gains"] * item["digital_gain"])
    manual = clean * np.array([p.red_gain, 1.0, p.blue_gain]) * p.digital_gain
    np.testing.assert_allclose(lin, np.clip(manual, 0, 1), rtol=1e-12)


def test_evaluate_linear_scores_baselines_against_the_linear_target(clean_store):
    report = E.evaluate(clean_store, baselines="tent", task="linear", figure_crops=0)
    ds = open_dataset(clean_store)
    split, pattern = ds["test"], ds.pattern
    direct = []
    for i in range(len(split)):
        item, p = split[i], split.params(i)
        gains = (p.red_gain, 1.0, p.blue_gain)
        target = balanced_linear(item["clean"], np.array(gains) * p.digital_gain)
        lin = normalize_raw(item["raw"], item["black_level"], item["white_level"])
        site = np.array(gains)[np.minimum(pattern.color_index(*lin.shape), 2)]
        cam = demosaic_tent(lin * site, pattern) / np.array(gains)
        direct.append(psnr(balanced_linear(cam, np.array(gains) * p.digital_gain), target))
    np.testing.assert_allclose(report.methods["tent"]["per_sample"]["psnr"], direct, rtol=1e-9)
    assert "ciede2000" not in report.methods["tent"]["per_sample"]  # not an sRGB image
    assert report.options["task"] == "linear"
    assert "the linear task" in report.to_markdown()


def test_the_linear_task_needs_the_clean_signal(tmp_path):
    store = build_store(tmp_path / "n.zarr", pattern="bayer", count=4, patch=24,
                        splits=(0.5, 0, 0.5))  # fmt: skip
    result = run_cli("evaluate", store, "--task", "linear", "--out", tmp_path / "ev")
    assert result.exit_code != 0 and "needs --clean" in result.output
    with pytest.raises(ValueError, match="unknown task"):
        E.evaluate(store, task="raw")


def test_a_model_for_another_task_is_refused(clean_store):
    class SrgbModel:
        label, task = "m", "srgb"

        def __call__(self, raw, black, white):
            return np.zeros((*raw.shape, 3))

    with pytest.raises(ValueError, match="trained for the srgb task, not linear"):
        E.evaluate(clean_store, baselines=[], models=[SrgbModel()], task="linear")


def test_a_model_trained_for_the_linear_task_is_scored_on_it(clean_store, tmp_path):
    pytest.importorskip("torch")
    train = run_cli("train", "--dataset", clean_store, "--steps", "2", "--out", tmp_path / "t",
                    "--set", 'data.task="linear"', "--set", 'data.val_split="test"',
                    "--set", "data.batch_size=2", "--set", "model.args={ widths = [4, 8] }",
                    "--set", "data.crop=24", "--set", "data.val_crop=24")  # fmt: skip
    assert train.exit_code == 0, train.output
    ok = run_cli("evaluate", clean_store, "--task", "linear", "--baselines", "tent",
                 "--checkpoint", tmp_path / "t" / "model.pt", "--out", tmp_path / "ev")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    bad = run_cli("evaluate", clean_store, "--checkpoint", tmp_path / "t" / "model.pt",
                  "--out", tmp_path / "ev2")  # fmt: skip
    assert bad.exit_code != 0 and "trained for the linear task, not srgb" in bad.output


def test_white_balance_conditioning_balances_the_mosaic_before_packing():
    torch = pytest.importorskip("torch")
    from cfasim.cfa import get_pattern
    from cfasim.train.cfa_adapter import CFAAdapter

    pattern = get_pattern("quad")
    raw = np.random.default_rng(0).integers(64, 1024, (2, 16, 16)).astype(np.float32)
    wb = np.array([[2.0, 1.0, 1.5], [1.2, 0.9, 3.0]], dtype=np.float32)
    adapter = CFAAdapter(pattern, normalize=(64, 1023), condition="wb")
    got = adapter(torch.from_numpy(raw), wb=torch.from_numpy(wb))["packed"].numpy()
    idx = pattern.color_index(16, 16)
    for n in range(2):
        want = pattern.pack_planes((raw[n] - 64) / 959 * wb[n][idx]).transpose(2, 0, 1)
        np.testing.assert_allclose(got[n], want, rtol=1e-6)
    with pytest.raises(ValueError, match="pass wb"):
        adapter(torch.from_numpy(raw))


def test_noise_conditioning_appends_the_noise_sigma_map_packed_like_the_mosaic():
    """The map is sqrt(max(shot x, 0) + read) of the normalised mosaic x (below black: read
    only), scaled by the site's gain when the mosaic is balanced too; after the masks."""
    torch = pytest.importorskip("torch")
    from cfasim.cfa import get_pattern
    from cfasim.train.cfa_adapter import CFAAdapter

    pattern = get_pattern("nona")
    raw = np.random.default_rng(1).integers(0, 1024, (2, 12, 12)).astype(np.float32)
    wb = np.array([[2.0, 1.0, 1.5], [1.2, 0.9, 3.0]], dtype=np.float32)
    noise = np.array([[1e-2, 1e-4], [5e-4, 0.0]], dtype=np.float32)
    idx = pattern.color_index(12, 12)
    for condition in ("noise", "wb+noise"):
        adapter = CFAAdapter(pattern, normalize=(64, 1023), with_mask=True, condition=condition)
        assert adapter.in_channels == 4 * 5
        got = adapter(torch.from_numpy(raw), wb=torch.from_numpy(wb),
                      noise=torch.from_numpy(noise))["packed"].numpy()  # fmt: skip
        for n in range(2):
            x = (raw[n].astype(np.float64) - 64) / 959
            sigma = np.sqrt(np.maximum(noise[n, 0] * x, 0) + noise[n, 1])
            gain = wb[n][idx] if condition == "wb+noise" else 1.0
            np.testing.assert_allclose(got[n, :4], pattern.pack_planes(x * gain).transpose(2, 0, 1),
                                       rtol=1e-5, atol=1e-7)  # fmt: skip
            want = pattern.pack_planes(sigma * gain).transpose(2, 0, 1)
            np.testing.assert_allclose(got[n, 16:], want, rtol=1e-5, atol=1e-8)
        with pytest.raises(ValueError, match="pass noise"):
            adapter(torch.from_numpy(raw), wb=torch.from_numpy(wb))
        with pytest.raises(ValueError, match="non-negative"):
            adapter(torch.from_numpy(raw), wb=torch.from_numpy(wb), noise=-torch.ones(2, 2))


@pytest.mark.parametrize("condition", ["wb", "wb+noise"])
def test_a_conditioned_model_gets_the_true_metadata_in_evaluate(clean_store, tmp_path, condition):
    pytest.importorskip("torch")
    from cfasim.train.predict import CheckpointModel

    train = run_cli("train", "--dataset", clean_store, "--steps", "2", "--out", tmp_path / "t",
                    "--set", 'data.task="linear"', "--set", f'model.condition="{condition}"',
                    "--set", 'data.val_split="test"', "--set", "data.batch_size=2",
                    "--set", "model.args={ widths = [4, 8] }", "--set", "data.crop=24",
                    "--set", "data.val_crop=24")  # fmt: skip
    assert train.exit_code == 0, train.output
    model = CheckpointModel(tmp_path / "t" / "model.pt")
    assert model.condition == condition
    report = E.evaluate(clean_store, baselines=[], models=[model], task="linear", limit=2,
                        figure_crops=0)  # fmt: skip
    split = open_dataset(clean_store)["test"]
    for i in range(2):
        item, p = split[i], split.params(i)
        gains = np.array([p.red_gain, 1.0, p.blue_gain]) * p.digital_gain
        meta = {"wb": gains, "noise": (item["shot_noise"], item["read_noise"])}
        out = model(item["raw"], 64, 1023, meta=meta)
        target = balanced_linear(item["clean"], gains)
        got = report.methods["t"]["per_sample"]["psnr"][i]
        assert got == pytest.approx(psnr(out, target[: out.shape[0], : out.shape[1]]))
        if condition == "wb+noise":  # the noise levels reach the model: other levels, other output
            louder = model(item["raw"], 64, 1023, meta={**meta, "noise": (0.05, 1e-3)})
            assert np.abs(louder - out).max() > 1e-6
    with pytest.raises(ValueError, match="conditioned on the white balance"):
        model(split[0]["raw"], 64, 1023)
    if condition == "wb+noise":
        with pytest.raises(ValueError, match="conditioned on the noise level"):
            model(split[0]["raw"], 64, 1023, meta={"wb": np.ones(3)})
    exported = run_cli("export", tmp_path / "t" / "model.pt", tmp_path / "exp")
    assert exported.exit_code != 0
    assert f"conditioned on each sample's metadata (model.condition = '{condition}')" in (
        exported.output
    )


def test_linear_figure_crops_show_and_score_the_linear_target(clean_store):
    report = E.evaluate(clean_store, baselines="tent", task="linear", figure_crops=1,
                        crop_size=12)  # fmt: skip
    crop = report.crops[0]
    split = open_dataset(clean_store)["test"]
    item, p = split[crop["sample"]], split.params(crop["sample"])
    target = balanced_linear(
        item["clean"], np.array([p.red_gain, 1.0, p.blue_gain]) * p.digital_gain
    )
    y, x, n = crop["y"], crop["x"], crop["size"]
    np.testing.assert_allclose(crop["target"], target[y : y + n, x : x + n], rtol=1e-12)
    want = psnr(crop["images"]["tent"], target[y : y + n, x : x + n])
    assert crop["psnr"]["tent"] == pytest.approx(want)
