"""LPIPS v0.1 with weights by path (cfasim.train.lpips): the whole network against a plain NumPy
implementation of the paper's formula on random weights, the file layouts it accepts, refusal
of files that need code, and the real M4 in `cfasim evaluate`."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cfasim.eval.metrics import m4, m4_no_lpips  # noqa: E402
from cfasim.train import lpips as L  # noqa: E402


def random_weights(net: str, seed: int = 0) -> tuple[dict, dict]:
    """(torchvision-style backbone state dict, lpips-style linear state dict), random."""
    gen = torch.Generator().manual_seed(seed)
    features = L.backbone_features(net)
    backbone = {}
    for k, v in features.state_dict().items():
        backbone[f"features.{k}"] = torch.randn(v.shape, generator=gen) * 0.1
    backbone["classifier.1.weight"] = torch.zeros(4, 4)  # ignored, as torchvision's is
    linear = {
        f"lin{i}.model.1.weight": torch.rand((1, c, 1, 1), generator=gen)
        for i, c in enumerate(L.CHANNELS[net])
    }
    return backbone, linear


def np_conv(x, w, b, stride, pad):
    """(C, H, W) * (O, C, k, k) cross-correlation, plain NumPy."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    k = w.shape[-1]
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("chwij,ocij->ohw", win, w) + b[:, None, None]


def np_maxpool(x, k, stride):
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    return win.max(axis=(-1, -2))


def np_lpips(x0, x1, net, backbone, linear):
    """The LPIPS formula on (3, H, W) images in [-1, 1], from the paper, in NumPy."""
    taps = []
    for x in (x0, x1):
        h = (x - np.array(L.SHIFT)[:, None, None]) / np.array(L.SCALE)[:, None, None]
        acts, idx = [], 0
        for spec in L.BACKBONES[net]:
            if spec[0] == "M":
                h = np_maxpool(h, 3, 2) if net == "alex" else np_maxpool(h, 2, 2)
                idx += 1
                continue
            _, _, _, stride, pad = spec
            w = backbone[f"features.{idx}.weight"].double().numpy()
            b = backbone[f"features.{idx}.bias"].double().numpy()
            h = np.maximum(np_conv(h, w, b, stride, pad), 0)
            if idx + 1 in L.TAPS[net]:
                acts.append(h)
            idx += 2
        taps.append(acts)
    total = 0.0
    for i, (f0, f1) in enumerate(zip(*taps, strict=True)):
        n0 = f0 / (np.sqrt((f0**2).sum(0, keepdims=True)) + L.EPS)
        n1 = f1 / (np.sqrt((f1**2).sum(0, keepdims=True)) + L.EPS)
        w = linear[f"lin{i}.model.1.weight"].double().numpy()[0, :, 0, 0]
        total += float(np.mean(np.einsum("c,chw->hw", w, (n0 - n1) ** 2)))
    return total


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("lpips")
    out = {}
    for net in ("alex", "vgg"):
        backbone, linear = random_weights(net)
        torch.save(backbone, root / f"{net}_backbone.pth")
        torch.save(linear, root / f"{net}_lin.pth")
        out[net] = (root / f"{net}_lin.pth", root / f"{net}_backbone.pth", backbone, linear)
    return out


@pytest.mark.parametrize("net,side", [("alex", 64), ("vgg", 16)])
def test_lpips_equals_the_numpy_formula(weight_files, net, side):
    lin_path, backbone_path, backbone, linear = weight_files[net]
    model = L.LPIPS(lin_path, backbone_path)
    assert model.net == net  # told apart by the linear weights' channels
    rng = np.random.default_rng(1)
    x0, x1 = (rng.uniform(-1, 1, (3, side, side)) for _ in range(2))
    want = np_lpips(x0, x1, net, backbone, linear)
    got = model(*(torch.from_numpy(x).float()[None] for x in (x0, x1)))
    assert got.shape == (1,)
    assert float(got[0]) == pytest.approx(want, rel=1e-4)
    same = model(torch.from_numpy(x0).float()[None], torch.from_numpy(x0).float()[None])
    assert float(same[0]) == 0.0


def test_a_full_lpips_state_dict_is_accepted_alone(weight_files, tmp_path):
    lin_path, backbone_path, backbone, linear = weight_files["alex"]
    slices = {1: range(0, 2), 2: range(2, 5), 3: range(5, 8), 4: range(8, 10), 5: range(10, 12)}
    full = dict(linear)
    for s, idx in slices.items():
        for i in idx:
            for p in ("weight", "bias"):
                if f"features.{i}.{p}" in backbone:
                    full[f"net.slice{s}.{i}.{p}"] = backbone[f"features.{i}.{p}"]
    full["scaling_layer.shift"] = torch.tensor(L.SHIFT).view(1, 3, 1, 1)
    torch.save(full, tmp_path / "lpips_full.pth")
    x0, x1 = torch.rand(2, 1, 3, 48, 48) * 2 - 1
    a = L.LPIPS(tmp_path / "lpips_full.pth")(x0, x1)
    b = L.LPIPS(lin_path, backbone_path)(x0, x1)
    assert torch.equal(a, b)


class Boom:
    def __reduce__(self):
        return (print, ("executed",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_files_that_need_code_or_do_not_match_are_refused(weight_files, tmp_path, capsys):
    lin_path, backbone_path, _, linear = weight_files["alex"]
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"lin0.model.1.weight": Boom()}))
    with pytest.raises(ValueError, match="tensor-only"):
        L.LPIPS(evil, backbone_path)
    assert "executed" not in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="nothing is"):
        L.LPIPS(tmp_path / "missing.pth", backbone_path)
    with pytest.raises(ValueError, match="backbone"):
        L.LPIPS(lin_path)  # linear weights alone: no backbone
    with pytest.raises(ValueError, match="keys differ"):
        L.LPIPS(lin_path, weight_files["vgg"][1])  # AlexNet linear weights on VGG
    odd = dict(linear)
    odd["lin2.model.1.weight"] = torch.rand(1, 100, 1, 1)
    torch.save(odd, tmp_path / "odd.pth")
    with pytest.raises(ValueError, match="neither AlexNet"):
        L.LPIPS(tmp_path / "odd.pth", backbone_path)


def test_m4_is_the_challenge_formula():
    assert m4(30.0, 0.9, 0.1, 0.05) == pytest.approx(30 * 0.9 * 2 ** (1 - 0.1 - 0.05))
    assert m4(30.0, 0.9, 0.0, 0.05) == m4_no_lpips(30.0, 0.9, 0.05)


def test_evaluate_reports_lpips_and_the_real_m4(weight_files, tmp_path):
    from click.testing import CliRunner

    from cfasim.cli import main
    from cfasim.eval.report import EvaluationReport
    from cfasim.pipeline import GenerateConfig, build, plan

    store = tmp_path / "quad.zarr"
    cfg = GenerateConfig(pattern="quad", count=4, patch=64, clean=True, splits=(0, 0, 1), seed=2)
    build(plan(cfg.validated()), store, workers=1, progress=False)
    lin_path, backbone_path, _, _ = weight_files["alex"]
    args = ["evaluate", str(store), "--baselines", "remosaic_malvar,binning", "--crops", "0"]
    args += ["--lpips-weights", str(lin_path), "--lpips-backbone", str(backbone_path)]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    report = EvaluationReport.from_json(tmp_path / "ev" / "evaluation.json")
    per = report.methods["remosaic_malvar"]["per_sample"]
    assert "m4_no_lpips" not in per and "| M4 |" not in result.output.split("\n")[0]
    for i in range(4):
        assert per["m4"][i] == pytest.approx(m4(per["psnr"][i], per["ssim"][i], per["lpips"][i],
                                                per["kld"][i]))  # fmt: skip
    assert "lpips" in report.methods["binning"]["per_sample"]
    assert "M4 (no LPIPS)" not in result.output and "LPIPS" in result.output
    bad = CliRunner().invoke(main, ["evaluate", str(store), "--lpips-backbone", str(lin_path)])
    assert bad.exit_code == 2 and "--lpips-weights" in bad.output
