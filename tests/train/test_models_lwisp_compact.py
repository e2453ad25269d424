"""LW-ISP family: parameter budget, shapes, upsamplers, attention gates, hooks, errors."""

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from cfasim.train.cfa_adapter import clean_to_s2d  # noqa: E402
from cfasim.train.models.lwisp_compact import (  # noqa: E402
    UPSAMPLERS,
    AttentionBlock,
    ChannelSpatialAttention,
    CompactLWISP,
    compact_clean_teacher,
    compact_student,
    compact_teacher,
    make_upsampler,
)

PYNET_PARAMS = 47_554_738
BUDGET = PYNET_PARAMS // 20  # 2,377,736: the student must stay within 1/20 of PyNET
# exact counts of the current architecture; update deliberately when the architecture changes
STUDENT_PARAMS = 930_210
TEACHER_PARAMS = 3_695_418
CLEAN_TEACHER_PARAMS = 3_697_978


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_student_parameter_budget():
    n = n_params(compact_student())
    print(f"LW-ISP student parameters: {n:,} ({100 * n / PYNET_PARAMS:.2f} % of PyNET)")
    assert n < BUDGET == 2_377_736
    assert n == STUDENT_PARAMS


def test_teacher_counts_and_larger_than_student():
    teacher, clean = n_params(compact_teacher()), n_params(compact_clean_teacher())
    assert teacher == TEACHER_PARAMS
    assert clean == CLEAN_TEACHER_PARAMS
    assert teacher > 2 * STUDENT_PARAMS
    # the clean teacher differs only in its first conv and projection (12 instead of 4 inputs)
    assert clean - teacher == 8 * 32 * 9 + 8 * 32


@pytest.mark.parametrize("factor", [2, 4])
def test_upsamplers_exact_sizes(factor):
    x = torch.randn(2, 8, 5, 7)
    shapes = set()
    for kind in UPSAMPLERS:
        y = make_upsampler(kind, 8, 6, factor)(x)
        assert y.shape == (2, 6, 5 * factor, 7 * factor), kind
        shapes.add(tuple(y.shape))
    assert len(shapes) == 1
    assert set(UPSAMPLERS) == {"pixelshuffle", "bilinear", "transposed"}


@pytest.mark.parametrize("kind", sorted(UPSAMPLERS))
def test_upsampler_factor_one_and_three(kind):
    x = torch.randn(1, 4, 6, 6)
    assert make_upsampler(kind, 4, 3, 1)(x).shape == (1, 3, 6, 6)
    assert make_upsampler(kind, 4, 3, 3)(x).shape == (1, 3, 18, 18)


def test_unknown_upsampler():
    with pytest.raises(ValueError, match="unknown upsampler 'nearest'") as err:
        make_upsampler("nearest", 4, 4)
    for kind in ("bilinear", "pixelshuffle", "transposed"):
        assert kind in str(err.value)
    with pytest.raises(ValueError, match="choose one of"):
        CompactLWISP(upsampler="nearest")
    with pytest.raises(ValueError, match="positive integer"):
        make_upsampler("bilinear", 4, 4, 0)


@pytest.mark.parametrize("kind", sorted(UPSAMPLERS))
@pytest.mark.parametrize("scale", [1, 2, 4])
def test_output_scale_shapes(kind, scale):
    model = compact_student(upsampler=kind, output_scale=scale)
    assert model.output_scale == scale
    with torch.no_grad():
        y = model(torch.rand(2, 4, 16, 24))
    assert y.shape == (2, 3, 16 * scale, 24 * scale)
    assert float(y.min()) > 0 and float(y.max()) < 1


def test_size_check_message():
    model = compact_student()
    assert CompactLWISP.input_multiple == model.input_multiple == 8
    with pytest.raises(ValueError, match=r"multiples of 8.*\(1, 4, 12, 16\)"):
        model(torch.rand(1, 4, 12, 16))
    with pytest.raises(ValueError, match=r"\(N, 4, h, w\).*\(1, 3, 16, 16\)"):
        model(torch.rand(1, 3, 16, 16))
    three = CompactLWISP(widths=(8, 16, 32))
    assert three.input_multiple == 4
    assert three(torch.rand(1, 4, 12, 12)).shape == (1, 3, 24, 24)
    with pytest.raises(ValueError, match="at least two scales"):
        CompactLWISP(widths=(16,))


def test_mosaic_skip():
    model = compact_student(mosaic_skip=True)
    x, mosaic = torch.rand(2, 4, 8, 16), torch.rand(2, 1, 16, 32)
    assert model(x, mosaic).shape == (2, 3, 16, 32)
    assert model.head_conv.in_channels == 17
    with pytest.raises(ValueError, match="got None"):
        model(x)
    with pytest.raises(ValueError, match=r"\(2, 1, 16, 32\)"):
        model(x, torch.rand(2, 1, 8, 16))
    plain = compact_student()  # the uniform interface: a model without the skip ignores it
    torch.testing.assert_close(plain(x, mosaic), plain(x))
    for scale in (1, 4):
        with pytest.raises(ValueError, match="output_scale == 2"):
            compact_student(mosaic_skip=True, output_scale=scale)


def test_attention_shape_and_zero_init_identity():
    att = ChannelSpatialAttention(12, reduction=4)
    x = torch.randn(3, 12, 9, 11)
    assert att(x).shape == x.shape
    for layer in (att.channel_gate.fc2, att.spatial_gate.project):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
    # both gates are sigmoid(0) = 0.5 everywhere -> 0.25 * identity
    torch.testing.assert_close(att(x), 0.25 * x)


def test_attention_gates_in_unit_interval():
    att = ChannelSpatialAttention(16, spatial_kernel=7)
    gates = {}
    att.channel_gate.register_forward_hook(lambda m, i, o: gates.__setitem__("c", o.detach()))
    att.spatial_gate.register_forward_hook(lambda m, i, o: gates.__setitem__("s", o.detach()))
    x = 3 * torch.randn(2, 16, 10, 10)
    with torch.no_grad():
        y = att(x)
    assert gates["c"].shape == (2, 16, 1, 1)
    assert gates["s"].shape == (2, 1, 10, 10)
    for g in gates.values():
        assert float(g.min()) > 0 and float(g.max()) < 1
    torch.testing.assert_close(y, x * gates["c"] * gates["s"])
    # gates only shrink: |y| <= |x|
    assert bool((y.abs() <= x.abs() + 1e-6).all())


def test_attention_block_residual_projection():
    block = AttentionBlock(6, 10)
    assert isinstance(block.skip, nn.Conv2d)
    assert block(torch.randn(1, 6, 8, 8)).shape == (1, 10, 8, 8)
    assert isinstance(AttentionBlock(10, 10).skip, nn.Identity)


@pytest.mark.parametrize("scale", [2, 4])
def test_feature_layers_hooks(scale):
    model = compact_student(output_scale=scale)
    layers = model.feature_layers()
    assert list(layers) == ["dec3", "dec2", "dec1", "dec0", "head"]
    seen = {}
    for name, layer in layers.items():
        layer.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.shape))
    h, w = 16, 24
    with torch.no_grad():
        model(torch.rand(2, 4, h, w))
    assert seen == {
        "dec3": (2, 128, h // 8, w // 8),
        "dec2": (2, 64, h // 4, w // 4),
        "dec1": (2, 32, h // 2, w // 2),
        "dec0": (2, 16, h, w),
        "head": (2, 16, scale * h, scale * w),
    }
    teacher_layers = compact_teacher(output_scale=scale).feature_layers()
    assert list(teacher_layers) == list(layers)


def test_gradients_reach_first_layer():
    model = compact_student()
    model(torch.rand(1, 4, 16, 16)).mean().backward()
    first = model.enc[0].conv1.weight.grad
    assert first is not None and float(first.abs().sum()) > 0
    assert all(p.grad is not None for p in model.parameters())


def test_clean_teacher_on_packed_rgb():
    model = compact_clean_teacher()
    assert model.in_channels == 12
    rgb = torch.rand(2, 3, 32, 48)  # clean linear camera RGB at mosaic resolution
    packed = clean_to_s2d(rgb)
    assert packed.shape == (2, 12, 16, 24)
    torch.testing.assert_close(packed[:, 4 * 1 + 2 * 1 + 0], rgb[:, 1, 1::2, 0::2])
    with torch.no_grad():
        assert model(packed).shape == (2, 3, 32, 48)  # same convention as the student
        assert compact_clean_teacher(output_scale=4)(packed).shape == (2, 3, 64, 96)
    assert compact_teacher(in_channels=12).in_channels == 12
    with pytest.raises(ValueError, match=r"\(N, 12, h, w\)"):
        model(torch.rand(1, 4, 16, 16))
