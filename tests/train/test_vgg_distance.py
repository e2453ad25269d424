"""``cfasim evaluate --vgg-weights``: the public PyNET code's VGG-19 distance (relu5_4 features,
ImageNet-normalised, MSE) per test patch, checked against a plain functional VGG-19."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from cfasim.testing.fixtures import (  # noqa: E402
    VGG19_LAYOUT,
    random_vgg19_features_state,
    run_cli,
)
from cfasim.train.predict import vgg_distance  # noqa: E402


def functional_vgg_relu5_4(state, image):
    """VGG-19 up to relu5_4 (the 16th convolution's ReLU), written with torch.nn.functional."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None].double()
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
    x, idx, convs = (x - mean) / std, 0, 0
    for v in VGG19_LAYOUT:
        if v == "M":
            x, idx = F.max_pool2d(x, 2), idx + 1
            continue
        w, b = state[f"{idx}.weight"].double(), state[f"{idx}.bias"].double()
        x, idx, convs = F.relu(F.conv2d(x, w, b, padding=1)), idx + 2, convs + 1
        if convs == 16:
            return x
    raise AssertionError("VGG-19 has 16 convolutions")


def test_vgg_distance_equals_a_functional_vgg(tmp_path):
    state = random_vgg19_features_state()
    torch.save({f"features.{k}": v for k, v in state.items()}, tmp_path / "vgg19.pth")
    rng = np.random.default_rng(0)
    a, b = rng.random((32, 48, 3)), rng.random((32, 48, 3))
    fa, fb = functional_vgg_relu5_4(state, a), functional_vgg_relu5_4(state, b)
    want = float(((fa - fb) ** 2).mean())
    got = vgg_distance(tmp_path / "vgg19.pth")(a, b)
    assert got == pytest.approx(want, rel=1e-4) and want > 0
    assert vgg_distance(tmp_path / "vgg19.pth")(a, a) == 0.0


def test_cli_evaluate_adds_the_vgg_distance_per_patch(zrr_root, tmp_path):
    state = random_vgg19_features_state()
    torch.save(state, tmp_path / "vgg19.pth")
    store = tmp_path / "zrr.zarr"
    run_cli("generate", "--source-kind", "zurich", "--source", zrr_root, "--patch", 16,
            "--out", store)  # fmt: skip
    result = run_cli("evaluate", store, "--baselines", "bilinear", "--crops", "0",
                     "--vgg-weights", tmp_path / "vgg19.pth", "--out", tmp_path / "ev")  # fmt: skip
    assert result.exit_code == 0, result.output
    head = "| method | PSNR (dB) | PSNR 95 % CI | SSIM | MS-SSIM | CIEDE2000 | VGG dist. |"
    assert head in result.output
    doc = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    per_patch = doc["methods"]["bilinear"]["per_sample"]["vgg"]
    assert len(per_patch) == 2 and all(v > 0 for v in per_patch)
    means = doc["methods"]["bilinear"]["means"]["all"]["vgg"]
    assert means == pytest.approx(np.mean(per_patch))

    bad = run_cli("evaluate", store, "--vgg-weights", tmp_path / "none.pth", "--out", tmp_path)
    assert bad.exit_code == 1 and "--vgg-weights" in bad.output and "Traceback" not in bad.output
