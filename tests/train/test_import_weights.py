"""``cfasim import-weights``: state dicts in the public PyNET-PyTorch / PyNET-QxQ naming become
ordinary cfasim checkpoints, every tensor consumed exactly once, outputs equal to a direct load.

The public layer tables below are written from the public code's description (models.md §2),
independently of cfasim's name mapping: (name, in channels, out channels, largest kernel,
instance norm) in units of the level-1 width ``w``.
"""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cfasim.errors import CheckpointError  # noqa: E402
from cfasim.testing.fixtures import MarkerPayload, run_cli  # noqa: E402
from cfasim.train.checkpoint import load_checkpoint, model_from_checkpoint  # noqa: E402
from cfasim.train.import_weights import import_weights, read_public  # noqa: E402
from cfasim.train.models import build_model  # noqa: E402

W = 4  # level-1 width of the test networks (public PyNET: 32, PyNET-QxQ: 16)


def level1_blocks(c: int, in_channels: int, t: int):
    """The level-1 chain of both public models at width ``c``; ``t`` channels of the
    up-sampled level-2 features enter d3 and d14 (PyNET: t = c; PyNET-QxQ, no level 2: 0)."""
    return [
        ("conv_l1_d1", in_channels, c, 3, False),
        ("conv_l1_d3", c + t, c, 5, False),
        ("conv_l1_d5", 3 * c, c, 7, True),
        ("conv_l1_d6", 3 * c, c, 9, True),
        *[(f"conv_l1_d{n}", 4 * c, c, 9, True) for n in (7, 8, 9)],
        ("conv_l1_d10", 4 * c, c, 7, True),
        ("conv_l1_d12", 4 * c, c, 5, True),
        ("conv_l1_d14", 3 * c + t, c, 3, False),
    ]


def pynet_blocks(w: int, in_channels: int = 4):
    """PyNET-PyTorch's multi-conv blocks: level L has width c = w * 2**(L-1)."""
    c1, c2, c3, c4, c5 = (w * 2**i for i in range(5))
    return [
        *level1_blocks(c1, in_channels, t=c1),
        ("conv_l2_d1", c1, c2, 3, True),
        ("conv_l3_d1", c2, c3, 3, True),
        ("conv_l4_d1", c3, c4, 3, True),
        ("conv_l5_d1", c4, c5, 3, True),
        *[(f"conv_l5_d{n}", c5, c5, 3, True) for n in (2, 3, 4)],
        ("conv_l4_d3", 2 * c4, c4, 3, True),
        *[(f"conv_l4_d{n}", c4, c4, 3, True) for n in (4, 5, 6)],
        ("conv_l4_d8", 2 * c4, c4, 3, True),
        ("conv_l3_d3", 2 * c3, c3, 5, True),
        *[(f"conv_l3_d{n}", 2 * c3, c3, 5, True) for n in (4, 5, 6)],
        ("conv_l3_d8", 4 * c3, c3, 3, True),
        ("conv_l2_d3", 2 * c2, c2, 5, True),
        *[(f"conv_l2_d{n}", 3 * c2, c2, 7, True) for n in (5, 6, 7, 8)],
        ("conv_l2_d10", 4 * c2, c2, 5, True),
        ("conv_l2_d12", 3 * c2, c2, 3, True),
    ]


def pynet_single_convs(w: int):
    """PyNET-PyTorch's single convolutions: (name, in, out) with 3x3 kernels."""
    c = [w * 2**i for i in range(5)]
    ups = [(f"conv_t{t}{ab}", c[t], c[t] // 2) for t in (1, 2, 3, 4) for ab in "ab"]
    heads = [(f"conv_l{level}_out", c[level - 1], 3) for level in (1, 2, 3, 4, 5)]
    return [*ups, *heads, ("conv_t0", w, w // 2), ("conv_l0_d1", w // 2, 3)]


def qxq_blocks(w: int, in_channels: int = 4):
    """PyNET-QxQ's level 1: PyNET's level-1 chain without the t1a / t1b inputs."""
    return level1_blocks(w, in_channels, t=0)


def public_state(family: str, w: int = W, seed: int = 0, level1_norms: bool = True):
    """Random tensors under the public names (ConvMultiBlock: conv_{k}a in->out, conv_{k}b
    out->out for k = 3..max; ConvLayer: ``conv2d`` and, with instance norm, ``instance``)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}

    def conv(name, c_in, c_out, k=3, attr="conv2d"):
        state[f"{name}.{attr}.weight"] = torch.randn(c_out, c_in, k, k, generator=gen) * 0.2
        state[f"{name}.{attr}.bias"] = torch.randn(c_out, generator=gen) * 0.1

    blocks = pynet_blocks(w) if family == "pynet" else qxq_blocks(w)
    for name, c_in, c_out, max_k, norm in blocks:
        norm = norm and (level1_norms or not name.startswith("conv_l1_"))
        for k in (3, 5, 7, 9)[: (max_k - 1) // 2]:
            for ab, cin in (("a", c_in), ("b", c_out)):
                conv(f"{name}.conv_{k}{ab}", cin, c_out, k)
                if norm:
                    scale, shift = torch.randn(2, c_out, generator=gen) * 0.1
                    state[f"{name}.conv_{k}{ab}.instance.weight"] = 1 + scale
                    state[f"{name}.conv_{k}{ab}.instance.bias"] = shift
    if family == "pynet":
        for name, c_in, c_out in pynet_single_convs(w):
            conv(name, c_in, c_out)
    else:
        conv("conv_t0", w, 4 * w, attr="upchannel")
        conv("conv_l0_d1", w + 1, 3)
    return state


def direct_load(family: str, public: dict, model) -> None:
    """Copy the public tensors into ``model`` by walking its modules (not by name mapping)."""
    with torch.no_grad():
        for name, tensor in public.items():
            parts = name.split(".")
            module = _module_of(family, model, parts[0], parts[1:-2])
            leaf = {"conv2d": "conv", "instance": "norm", "upchannel": "conv"}[parts[-2]]
            getattr(getattr(module, leaf), parts[-1]).copy_(tensor)


def _module_of(family, model, head, rest):
    if head.startswith("conv_l") and "_d" in head and rest:  # a multi-conv block's branch
        level, n = head[len("conv_l")], head.split("_d")[1]
        block = getattr(getattr(model, f"level{level}"), f"d{n}")
        k, ab = int(rest[0][5]), rest[0][6]
        return block.branches[(3, 5, 7, 9).index(k)][0 if ab == "a" else 1]
    if family == "pynet_qxq":
        return model.t0[0] if head == "conv_t0" else model.out
    if head == "conv_t0":
        return model.level0.up
    if head == "conv_l0_d1":
        return model.level0.out
    if head.startswith("conv_t"):
        return getattr(model, f"level{int(head[6]) + 1}").__getattr__(f"up_{head[7]}")
    return getattr(model, f"level{head[6]}").out  # conv_l{L}_out


def inputs(family: str, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 4, 32, 32, generator=gen)
    return (x,) if family == "pynet" else (x, torch.rand(2, 1, 64, 64, generator=gen))


@pytest.mark.parametrize("family", ["pynet", "pynet_qxq"])
def test_every_public_tensor_is_consumed_once_and_outputs_equal_a_direct_load(family, tmp_path):
    public = public_state(family)
    src = tmp_path / "public.pth"
    torch.save(public, src)
    out = import_weights(family, src, tmp_path / "imported.pt")

    ckpt = load_checkpoint(out)  # an ordinary cfasim checkpoint
    model, adapter = model_from_checkpoint(ckpt, out)
    params = dict(model.named_parameters())
    assert len(params) == len(public)  # every parameter filled, every public tensor used ...
    values = {float(t.flatten()[0]) for t in public.values()}
    assert len(values) == len(public)  # (random first entries tell the tensors apart)
    used = sorted(float(p.detach().flatten()[0]) for p in params.values())
    assert used == sorted(values)  # ... and each exactly once
    assert sum(p.numel() for p in params.values()) == sum(t.numel() for t in public.values())

    direct = build_model({"name": family, "args": {"width": W}})
    direct_load(family, public, direct)
    direct.eval()
    with torch.no_grad():
        if family == "pynet":
            for level in range(6):
                model.level = direct.level = level
                torch.testing.assert_close(model(*inputs(family)), direct(*inputs(family)),
                                           rtol=0, atol=0)  # fmt: skip
        else:
            torch.testing.assert_close(model(*inputs(family)), direct(*inputs(family)),
                                       rtol=0, atol=0)  # fmt: skip
    want = {"pynet": ("pynet1020", "bayer"), "pynet_qxq": ("pynet1023", "qxq")}[family]
    assert ckpt["adapter"]["input_convention"] == want[0]
    assert adapter.pattern.name.startswith(want[1])


def test_reference_width_pynet_has_the_published_parameter_count(tmp_path):
    """The table at PyNET's own width (32) fills cfasim's PyNET: 47,554,738 parameters."""
    public = public_state("pynet", w=32)
    assert sum(t.numel() for t in public.values()) == 47_554_738
    src = tmp_path / "pynet.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in public.items()}}, src)  # DataParallel
    out = import_weights("pynet", src, tmp_path / "o.pt")
    model, _ = model_from_checkpoint(load_checkpoint(out))
    assert sum(p.numel() for p in model.parameters()) == 47_554_738


def test_level1_norms_are_read_from_the_file(tmp_path):
    src = tmp_path / "public.pth"
    torch.save(public_state("pynet", level1_norms=False), src)
    ckpt = load_checkpoint(import_weights("pynet", src, tmp_path / "o.pt"))
    assert ckpt["model_spec"]["args"] == {"width": W, "instance_norm_level_1": False}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("extra", "1 unexpected key(s), e.g. conv_l9_x.weight"),
        ("missing", "1 missing key(s)"),
        ("shape", "1 shape mismatch key(s), e.g. level0.out.conv.bias"),
        ("other_family", "unexpected key(s)"),
    ],
)
def test_weights_that_do_not_fit_are_refused_naming_the_keys(tmp_path, damage, message):
    public = public_state("pynet")
    if damage == "extra":
        public["conv_l9_x.weight"] = torch.zeros(1)
    elif damage == "missing":
        del public["conv_l2_d5.conv_7b.conv2d.bias"]
    elif damage == "shape":
        public["conv_l0_d1.conv2d.bias"] = torch.zeros(4)
    else:
        public = public_state("pynet_qxq")
    src = tmp_path / "public.pth"
    torch.save(public, src)
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_weights("pynet", src, tmp_path / "o.pt")
    assert not (tmp_path / "o.pt").exists()


def test_a_pickled_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"
    src = tmp_path / "evil.pth"
    torch.save({"conv_l1_d1.conv_3a.conv2d.weight": MarkerPayload(marker)}, src)
    with pytest.raises(CheckpointError, match="not a weights-only PyTorch state dict"):
        read_public(src)
    assert not marker.exists()


def test_cli_writes_a_checkpoint_and_errors_are_one_line(tmp_path):
    src = tmp_path / "public.pth"
    torch.save(public_state("pynet_qxq"), src)
    out = tmp_path / "qxq.pt"
    result = run_cli("import-weights", "pynet_qxq", src, out)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and out.is_file()
    state = load_checkpoint(out)["model"]
    np.testing.assert_array_equal(state["out.conv.bias"].numpy(),
                                  torch.load(src)["conv_l0_d1.conv2d.bias"].numpy())  # fmt: skip

    for args, text in [
        (("pynet_qxq", src, out), "already exists"),
        (("pynet_qxq", tmp_path / "nope.pth", tmp_path / "n.pt"), "does not exist"),
        (("pynet", src, tmp_path / "p.pt"), "do not fit cfasim's pynet"),
        (("pynet", src, tmp_path / "no" / "p.pt"), "does not exist"),
    ]:
        result = run_cli("import-weights", *args)
        assert result.exit_code != 0 and text in result.output, result.output
        assert "Traceback" not in result.output


def test_an_imported_checkpoint_serves_evaluate_process_raw_and_teacher(tmp_path):
    from cfasim.testing.fixtures import build_store

    src, ckpt = tmp_path / "public.pth", tmp_path / "qxq.pt"
    torch.save(public_state("pynet_qxq"), src)
    import_weights("pynet_qxq", src, ckpt)
    store = build_store(tmp_path / "q.zarr", pattern="qxq:grbg", count=4, patch=64,
                        splits=(0.5, 0.25, 0.25))  # fmt: skip
    train = ["train", "--dataset", store, "--steps", "1", "--set", "data.batch_size=2"]
    small = ["--set", "model.args={ widths = [4, 8] }", "--set", "data.crop=32"]
    for args in [
        ["evaluate", store, "--checkpoint", ckpt, "--baselines", "none", "--crops", "0",
         "--out", tmp_path / "eval"],
        ["process-raw", ckpt, store, "--out", tmp_path / "x.png"],
        [*train, *small, "--out", tmp_path / "t", "--distill", "output", "--teacher", ckpt],
    ]:  # fmt: skip
        result = run_cli(*args)
        assert result.exit_code == 0, (args[0], result.output)
    # every command ran the imported weights: compare with the model run directly
    import imagecodecs

    from cfasim.data.reader import open_dataset
    from cfasim.eval.metrics import psnr
    from cfasim.train.predict import CheckpointModel

    sample = open_dataset(store)["test"][0]
    direct = CheckpointModel(ckpt)(sample["raw"], 64, 1023)
    png = imagecodecs.png_decode((tmp_path / "x.png").read_bytes())
    want = (direct * 255 + 0.5).astype(np.uint8)  # float32 vs float64 rounding: 1 code at most
    np.testing.assert_allclose(png.astype(int), want.astype(int), atol=1)
    doc = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    scored = doc["methods"]["qxq"]["per_sample"]["psnr"][0]
    assert scored == pytest.approx(psnr(direct, sample["target"] / 255.0))
    records = [json.loads(x) for x in (tmp_path / "t" / "metrics.jsonl").read_text().splitlines()]
    losses = next(r for r in records if "loss" in r)
    assert losses["distill_output"] > 0  # the student was pulled towards the teacher
