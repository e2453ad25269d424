"""PyNET teacher and PyNET-QxQ student: parameter counts, shapes, size checks, hooks, gradients."""

import pytest

torch = pytest.importorskip("torch")

from cfasim.train.models.pynet import (  # noqa: E402
    ConvLayer,
    MultiConvBlock,
    PyNET,
    PyNETQxQ,
    UpsampleConv,
)

PACKED = 32  # smallest packed side the 5-level PyNET accepts (level 5 at 2x2)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def pynet():
    torch.manual_seed(0)
    return PyNET().eval()


@pytest.fixture(scope="module")
def x32():
    return torch.rand(1, 4, PACKED, PACKED, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def levels_run(pynet, x32):
    """One level-0 ``forward_levels`` pass with forward hooks on every feature layer."""
    feats = {}
    handles = [
        module.register_forward_hook(lambda _m, _i, out, name=name: feats.__setitem__(name, out))
        for name, module in pynet.feature_layers().items()
    ]
    pynet.level = 0
    try:
        with torch.no_grad():
            outs = pynet.forward_levels(x32)
    finally:
        for h in handles:
            h.remove()
    return outs, feats


# --- building blocks ---------------------------------------------------------------------------


def test_building_blocks():
    x = torch.rand(2, 5, 12, 10)
    layer = ConvLayer(5, 7, 5, instance_norm=True)
    assert layer(x).shape == (2, 7, 12, 10)
    assert n_params(layer) == 5 * 7 * 25 + 7 + 2 * 7
    assert n_params(ConvLayer(5, 7, 3, relu=False)) == 5 * 7 * 9 + 7
    for k, branches in [(3, 1), (5, 2), (7, 3), (9, 4)]:
        mb = MultiConvBlock(5, 6, k)
        assert mb.out_channels == 6 * branches
        assert mb(x).shape == (2, 6 * branches, 12, 10)
    assert UpsampleConv(5, 3)(x).shape == (2, 3, 24, 20)
    with pytest.raises(ValueError, match="max_kernel"):
        MultiConvBlock(5, 6, 4)
    with pytest.raises(ValueError, match="odd"):
        ConvLayer(5, 6, 4)


# --- parameter counts --------------------------------------------------------------------------


def test_pynet_reference_parameter_count(pynet):
    assert n_params(pynet) == 47_554_738
    assert n_params(PyNET(level=3)) == 47_554_738  # independent of the output level


def test_pynet_qxq_reference_parameter_count():
    assert n_params(PyNETQxQ()) == 1_074_126


def test_pynet_width_and_levels_knobs():
    half = PyNET(width=16)
    assert n_params(half) < n_params(PyNET(width=24)) < 47_554_738
    # One level at width 16 is exactly the PyNET-QxQ level-1 body (both without their heads).
    one = PyNET(width=16, levels=1)
    body = n_params(one.level1) - n_params(one.level1.out)
    assert body == n_params(PyNETQxQ().level1)
    assert one.input_multiple == 1 and PyNET(levels=3).input_multiple == 4
    with pytest.raises(ValueError, match="levels"):
        PyNET(levels=6)
    with pytest.raises(ValueError, match="width"):
        PyNET(width=15)
    with pytest.raises(ValueError, match="level must be"):
        PyNET(level=4, levels=3)


def test_truncated_pynet_shapes():
    torch.manual_seed(0)
    model = PyNET(width=8, levels=3, instance_norm=False).eval()
    x = torch.rand(2, 4, 12, 20)
    with torch.no_grad():
        outs = model.forward_levels(x)
    assert {k: tuple(v.shape) for k, v in outs.items()} == {
        3: (2, 3, 3, 5),
        2: (2, 3, 6, 10),
        1: (2, 3, 12, 20),
        0: (2, 3, 24, 40),
    }
    assert set(model.feature_layers()) == {"level3", "level2", "level1", "level0"}


# --- PyNET forward -----------------------------------------------------------------------------


def test_pynet_forward_levels_shapes(levels_run):
    outs, _ = levels_run
    assert list(outs) == [5, 4, 3, 2, 1, 0]
    assert tuple(outs[0].shape) == (1, 3, 2 * PACKED, 2 * PACKED)
    for lvl in range(1, 6):
        side = PACKED // 2 ** (lvl - 1)
        assert tuple(outs[lvl].shape) == (1, 3, side, side)
    for out in outs.values():
        assert torch.isfinite(out).all()
        assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4, 5])
def test_pynet_forward_returns_selected_level(pynet, x32, levels_run, level):
    pynet.level = level
    try:
        with torch.no_grad():
            y = pynet(x32, mosaic=None)
    finally:
        pynet.level = 0
    torch.testing.assert_close(y, levels_run[0][level], rtol=1e-5, atol=1e-6)


def test_pynet_feature_hooks(levels_run):
    _, feats = levels_run
    shapes = {name: tuple(f.shape) for name, f in feats.items()}
    assert shapes == {
        "level5": (1, 512, 2, 2),
        "level4": (1, 256, 4, 4),
        "level3": (1, 128, 8, 8),
        "level2": (1, 64, 16, 16),
        "level1": (1, 32, 32, 32),
        "level0": (1, 16, 64, 64),
    }


def test_pynet_computes_only_coarser_levels(pynet, x32):
    fired = []
    handles = [
        m.register_forward_hook(lambda *_a, name=name: fired.append(name))
        for name, m in pynet.feature_layers().items()
    ]
    pynet.level = 3
    try:
        with torch.no_grad():
            out = pynet.forward_levels(x32)
    finally:
        pynet.level = 0
        for h in handles:
            h.remove()
    assert fired == ["level5", "level4", "level3"]
    assert list(out) == [5, 4, 3]


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((1, 4, 100, 90), r"divisible by 16 \(mosaic divisible by 32\), got 4x100x90"),
        ((1, 4, 32, 40), "divisible by 16"),
        ((1, 4, 16, 32), "too small"),
        ((1, 3, 32, 32), "expects packed input"),
        ((4, 32, 32), "expects packed input"),
    ],
)
def test_pynet_size_errors(pynet, shape, match):
    with pytest.raises(ValueError, match=match):
        pynet(torch.zeros(shape))


# --- PyNET-QxQ ---------------------------------------------------------------------------------


def test_qxq_shapes_range_and_hooks():
    torch.manual_seed(0)
    model = PyNETQxQ()
    feats = {}
    for name, module in model.feature_layers().items():
        module.register_forward_hook(lambda _m, _i, out, name=name: feats.__setitem__(name, out))
    x = torch.randn(2, 4, 24, 20) * 10  # large inputs still map into [0, 1]
    mosaic = torch.rand(2, 1, 48, 40)
    with torch.no_grad():
        y = model(x, mosaic)
    assert tuple(y.shape) == (2, 3, 48, 40)
    assert y.min() >= 0 and y.max() <= 1
    assert tuple(feats["level1"].shape) == (2, 16, 24, 20)
    assert tuple(feats["level0"].shape) == (2, 16, 48, 40)
    assert list(model.forward_levels(x, mosaic)) == [0]


@pytest.mark.parametrize(
    ("x_shape", "m_shape"),
    [
        ((1, 4, 16, 16), (1, 1, 16, 16)),
        ((1, 4, 16, 16), (1, 1, 32, 30)),
        ((1, 4, 16, 16), (1, 3, 32, 32)),
        ((1, 4, 16, 16), (2, 1, 32, 32)),
        ((1, 4, 16, 16), None),
        ((1, 2, 16, 16), (1, 1, 32, 32)),
        ((1, 4, 4, 4), (1, 1, 8, 8)),
    ],
)
def test_qxq_size_errors(x_shape, m_shape):
    model = PyNETQxQ(width=4)
    mosaic = None if m_shape is None else torch.zeros(m_shape)
    with pytest.raises(ValueError, match="PyNETQxQ"):
        model(torch.zeros(x_shape), mosaic)


def test_qxq_gradient_reaches_first_conv():
    torch.manual_seed(0)
    model = PyNETQxQ()
    x = torch.rand(1, 4, 16, 16)
    loss = model(x, torch.rand(1, 1, 32, 32)).mean()
    loss.backward()
    first = model.level1.d1.branches[0][0].conv
    assert first.weight.grad is not None
    assert first.weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())


def test_determinism_with_fixed_seed():
    x = torch.rand(1, 4, 16, 16, generator=torch.Generator().manual_seed(3))
    mosaic = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(4))
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = PyNETQxQ()
        with torch.no_grad():
            outs.append(model(x, mosaic))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)

    states = []
    for _ in range(2):
        torch.manual_seed(123)
        states.append(PyNET(width=8).state_dict())
    assert states[0].keys() == states[1].keys()
    for key, value in states[0].items():
        assert torch.equal(value, states[1][key]), key
