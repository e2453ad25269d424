"""The published LW-ISP network: its parameter count and MACs (the paper's 23x / 81x against
PyNET), the RAW variant, shapes, attention, the shared up-sampler, hooks, errors."""

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from cfasim.train.models import build_model, count_parameters  # noqa: E402
from cfasim.train.models.lwisp import (  # noqa: E402
    LWISP,
    ChannelAttention,
    FineGrainedAttention,
    SpatialAttention,
    UpsamplingBlock,
    lwisp_clean_teacher,
    lwisp_student,
    lwisp_teacher,
)

PYNET_PARAMS, PYNET_GMAC = 47_554_738, 342.2  # models.md §1, ZRR patch (224x224x4 packed)


def macs(model, x):
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 2


def test_the_published_configuration_has_its_parameters_and_macs():
    model = LWISP(in_channels=3, output_scale=1)
    assert count_parameters(model) == 1_997_449
    assert PYNET_PARAMS / count_parameters(model) == pytest.approx(23.8, abs=0.05)  # "23x"
    gmac = macs(model, torch.rand(1, 3, 224, 224)) / 1e9
    assert gmac == pytest.approx(4.21, rel=0.01)
    assert PYNET_GMAC / gmac == pytest.approx(81.4, abs=0.5)  # "81x less computation"


def test_the_raw_variant_adds_the_output_upsampler_and_a_fourth_input_plane():
    raw = lwisp_student()
    assert count_parameters(raw) == 2_009_193
    extra = count_parameters(UpsamplingBlock(16, 16)) + 16 * 9  # + the stem's 4th plane
    assert count_parameters(raw) - 1_997_449 == extra
    assert raw(torch.rand(2, 4, 32, 48)).shape == (2, 3, 64, 96)
    assert build_model({"name": "lwisp"}).__class__ is LWISP


def test_teachers_are_the_published_network_at_twice_the_width():
    teacher, clean = lwisp_teacher(), lwisp_clean_teacher()
    assert teacher.widths == (32, 64, 128, 256) and clean.in_channels == 12
    assert count_parameters(teacher) == 8_029_831
    assert count_parameters(clean) - count_parameters(teacher) == 8 * 32 * 9
    assert clean(torch.rand(1, 12, 32, 32)).shape == (1, 3, 64, 64)
    student_layers = lwisp_student().feature_layers()
    assert list(student_layers) == list(teacher.feature_layers())


def test_outputs_are_images_at_the_input_or_twice_its_size():
    for scale in (1, 2, 4):
        out = LWISP(output_scale=scale)(torch.rand(1, 4, 32, 48))
        assert out.shape == (1, 3, 32 * scale, 48 * scale)
        assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_any_depth_works_and_sets_the_size_multiple():
    tiny = LWISP(widths=(4, 8))
    assert tiny.input_multiple == 4
    assert tiny(torch.rand(1, 4, 12, 8)).shape == (1, 3, 24, 16)
    assert list(tiny.feature_layers()) == ["dec1", "dec0", "head"]


def test_spatial_and_channel_attention_are_sigmoid_gates():
    x = torch.rand(2, 8, 6, 6) + 0.1
    sa, ca = SpatialAttention(5), ChannelAttention(8, reduction=8)
    for module in (sa, ca):
        for p in module.parameters():
            torch.nn.init.zeros_(p)
        torch.testing.assert_close(module(x), 0.5 * x)  # sigmoid(0) = 1/2
    fine = FineGrainedAttention(8)
    for p in fine.parameters():
        torch.nn.init.zeros_(p)
    torch.testing.assert_close(fine(x), torch.cat([1.5 * x, 1.5 * x], dim=1))
    assert count_parameters(sa) == 2 * 25  # 5x5 conv, no bias
    assert count_parameters(ca) == (8 * 1 + 1) + (1 * 8 + 8)


def test_one_upsampler_serves_the_decoder_and_the_encoder_feature():
    model = LWISP(widths=(4, 8))
    calls = []
    model.up[0].register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape)))
    model(torch.rand(1, 4, 8, 8))
    assert calls == [(1, 8, 4, 4), (1, 8, 4, 4)]  # bottleneck output, then the skip s_1


@pytest.mark.parametrize(
    ("kwargs", "shape", "match"),
    [
        ({}, (1, 3, 16, 16), "expects"),
        ({}, (1, 4, 24, 32), "multiples of 16"),
        ({}, (1, 4, 16, 32), "at least 32"),
        ({"output_scale": 0}, None, "output_scale"),
        ({"widths": ()}, None, "width"),
    ],
)
def test_errors(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        LWISP(**kwargs)(torch.rand(*shape))
