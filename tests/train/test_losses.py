"""cfasim.train.losses: PSNR/SSIM/MS-SSIM against scikit-image, VGG loss loading, build_loss."""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skimage_metrics = pytest.importorskip("skimage.metrics")
skimage_data = pytest.importorskip("skimage.data")
ndi = pytest.importorskip("scipy.ndimage")

from cfasim.testing.fixtures import random_vgg19_features_state  # noqa: E402
from cfasim.train import losses  # noqa: E402
from cfasim.train.losses import (  # noqa: E402
    MSSSIMLoss,
    SSIMLoss,
    VGGPerceptualLoss,
    build_loss,
    ms_ssim,
    psnr,
    ssim,
)


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """One intra-op thread: these small tensors gain nothing from OpenMP, and on a shared, busy
    machine its spinning barriers made this module several times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SK_SSIM = dict(data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)


# --------------------------------------------------------------------------------------------------
# image helpers (NumPy, (N, H, W, C))
# --------------------------------------------------------------------------------------------------


def to_torch(a):
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2)


def sk_ssim(a, b):
    """skimage SSIM of one (H, W, C) pair; gray (C == 1) goes through the 2-D path."""
    if a.shape[-1] == 1:
        return skimage_metrics.structural_similarity(a[..., 0], b[..., 0], **SK_SSIM)
    return skimage_metrics.structural_similarity(a, b, channel_axis=-1, **SK_SSIM)


def random_pair(rng, n, h, w, c, noise=0.15, dtype=np.float64):
    a = rng.random((n, h, w, c))
    b = np.clip(a + noise * rng.standard_normal(a.shape), 0, 1)
    return a.astype(dtype), b.astype(dtype)


def structured_pair(rng, n, h, w, c, dtype=np.float64):
    """Natural-image crops (astronaut / camera) and synthetic gratings, with blur + noise."""
    astro = skimage_data.astronaut().astype(np.float64) / 255.0
    camera = skimage_data.camera().astype(np.float64) / 255.0
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.empty((n, h, w, c))
    for i in range(n):
        if i % 3 == 0:
            y0, x0 = rng.integers(0, 512 - h), rng.integers(0, 512 - w)
            img = astro[y0 : y0 + h, x0 : x0 + w]
            a[i] = img if c == 3 else img.mean(-1, keepdims=True)
        elif i % 3 == 1:
            y0, x0 = rng.integers(0, 512 - h), rng.integers(0, 512 - w)
            a[i] = camera[y0 : y0 + h, x0 : x0 + w, None]
        else:
            for ch in range(c):
                f = 0.05 + 0.1 * ch
                a[i, ..., ch] = 0.5 + 0.4 * np.sin(f * xx + 0.7 * f * yy) * (xx < w // 2 + 3)
    blurred = ndi.gaussian_filter(a, sigma=(0, 1.2, 1.2, 0))
    b = np.clip(blurred + 0.03 * rng.standard_normal(a.shape), 0, 1)
    return a.astype(dtype), b.astype(dtype)


def reference_ms_ssim(a, b, weights):
    """MS-SSIM of one (H, W, C) pair built from skimage's full SSIM maps.

    The contrast-structure map is the SSIM map divided by the luminance map, the latter computed
    with the same scipy Gaussian filter skimage uses; maps are cropped by (11 - 1) // 2 like
    skimage does. Downsampling: replicate-pad odd sides, 2x2 mean.
    """
    c1 = 0.01**2
    m = len(weights)
    per_channel = []
    for ch in range(a.shape[-1]):
        x, y = a[..., ch].astype(np.float64), b[..., ch].astype(np.float64)
        terms = []
        for j in range(m):
            _, s_map = skimage_metrics.structural_similarity(x, y, full=True, **SK_SSIM)
            ux = ndi.gaussian_filter(x, 1.5, truncate=3.5, mode="reflect")
            uy = ndi.gaussian_filter(y, 1.5, truncate=3.5, mode="reflect")
            lum = (2 * ux * uy + c1) / (ux**2 + uy**2 + c1)
            crop = (slice(5, -5), slice(5, -5))
            if j < m - 1:
                terms.append(max((s_map / lum)[crop].mean(), 0.0))
                x, y = (
                    np.pad(v, ((0, v.shape[0] % 2), (0, v.shape[1] % 2)), mode="edge")
                    for v in (x, y)
                )
                x, y = (
                    v.reshape(v.shape[0] // 2, 2, v.shape[1] // 2, 2).mean((1, 3)) for v in (x, y)
                )
            else:
                terms.append(max(s_map[crop].mean(), 0.0))
        per_channel.append(np.prod(np.asarray(terms) ** np.asarray(weights)))
    return float(np.mean(per_channel))


# --------------------------------------------------------------------------------------------------
# PSNR
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [1, 3])
def test_psnr_matches_skimage(c):
    rng = np.random.default_rng(0)
    a, b = random_pair(rng, 4, 20, 31, c, noise=0.05)
    got = psnr(to_torch(b), to_torch(a)).numpy()
    want = [skimage_metrics.peak_signal_noise_ratio(a[i], b[i], data_range=1.0) for i in range(4)]
    assert got.shape == (4,)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    got2 = psnr(to_torch(2 * b), to_torch(2 * a), data_range=2.0).numpy()
    np.testing.assert_allclose(got2, want, rtol=0, atol=1e-9)


def test_psnr_identical_is_finite_with_finite_gradient():
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    p = psnr(x, x.detach())
    np.testing.assert_allclose(p.detach().numpy(), 120.0)
    p.sum().backward()
    assert torch.isfinite(x.grad).all()


# --------------------------------------------------------------------------------------------------
# SSIM against skimage
# --------------------------------------------------------------------------------------------------

SIZES = [(11, 11), (16, 23), (40, 33), (97, 130)]
MAX_DIFF = {}  # filled by the comparison tests, printed by the last one (pytest -s)


@pytest.mark.parametrize("h, w", SIZES)
@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("kind", ["random", "structured"])
@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_ssim_matches_skimage(h, w, c, kind, dtype, atol):
    rng = np.random.default_rng(h * 1000 + w + c)
    n = 3
    pair = random_pair if kind == "random" else structured_pair
    a, b = pair(rng, n, h, w, c, dtype=dtype)
    got = ssim(to_torch(a), to_torch(b), reduction="none")
    assert got.shape == (n,) and got.dtype == to_torch(a).dtype
    # reference: skimage in float64 on the very same (possibly float32-rounded) pixel values;
    # skimage's own float32 path carries ~2e-5 of rounding error on flat 11x11 crops
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    want = np.array([sk_ssim(a64[i], b64[i]) for i in range(n)])
    diff = np.abs(got.numpy().astype(np.float64) - want).max()
    key = f"ssim {np.dtype(dtype).name}"
    MAX_DIFF[key] = max(MAX_DIFF.get(key, 0.0), diff)
    assert diff <= atol
    assert ssim(to_torch(a), to_torch(b)).item() == pytest.approx(want.mean(), abs=atol)


@pytest.mark.parametrize("win_size", [3, 7])
def test_box_window_ssim_matches_skimage_uniform_filter(win_size):
    rng = np.random.default_rng(win_size)
    a, b = structured_pair(rng, 2, 30, 41, 3)
    got = ssim(to_torch(a), to_torch(b), win_size=win_size, gaussian=False, reduction="none")
    kw = dict(data_range=1.0, win_size=win_size, use_sample_covariance=False, channel_axis=-1)
    want = [skimage_metrics.structural_similarity(a[i], b[i], **kw) for i in range(2)]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-10)


def test_ssim_reductions_and_identity():
    x = torch.rand(3, 2, 24, 24, dtype=torch.float64)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    per = ssim(x, y, reduction="none")
    assert per.shape == (3,)
    assert ssim(x, y).item() == pytest.approx(per.mean().item())
    assert ssim(x, y, reduction="sum").item() == pytest.approx(per.sum().item())
    np.testing.assert_allclose(ssim(x, x, reduction="none").numpy(), 1.0, atol=1e-12)
    # box window is also supported and also gives 1 on identical inputs
    assert ssim(x, x, gaussian=False, win_size=7).item() == pytest.approx(1.0)


def test_ssim_input_validation():
    x = torch.rand(1, 1, 10, 20)
    with pytest.raises(ValueError, match="smaller than"):
        ssim(x, x)
    with pytest.raises(ValueError, match="same shape"):
        ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 17))
    with pytest.raises(ValueError, match="odd"):
        ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), win_size=10)
    with pytest.raises(ValueError, match="reduction"):
        ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), reduction="avg")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ssim(torch.rand(16, 16), torch.rand(16, 16))


# --------------------------------------------------------------------------------------------------
# MS-SSIM
# --------------------------------------------------------------------------------------------------


def test_ms_ssim_one_scale_is_ssim():
    x = torch.rand(2, 3, 40, 45, dtype=torch.float64)
    y = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    torch.testing.assert_close(
        ms_ssim(x, y, weights=(1.0,), reduction="none"), ssim(x, y, reduction="none")
    )


@pytest.mark.parametrize("h, w, c", [(176, 176, 3), (161, 190, 1), (200, 171, 3)])
def test_ms_ssim_matches_skimage_based_reference(h, w, c):
    rng = np.random.default_rng(h + w + c)
    a, b = structured_pair(rng, 2, h, w, c)
    a2, b2 = random_pair(rng, 1, h, w, c, noise=0.1)
    a, b = np.concatenate([a, a2]), np.concatenate([b, b2])
    got = ms_ssim(to_torch(a), to_torch(b), reduction="none").numpy()
    want = [reference_ms_ssim(a[i], b[i], losses.MS_SSIM_WEIGHTS) for i in range(3)]
    diff = np.abs(got - want).max()
    MAX_DIFF["ms_ssim float64"] = max(MAX_DIFF.get("ms_ssim float64", 0.0), diff)
    assert diff <= 1e-10
    # fewer scales, float32
    a3, b3 = a[:, :48, :64].astype(np.float32), b[:, :48, :64].astype(np.float32)
    got3 = ms_ssim(to_torch(a3), to_torch(b3), weights=(0.3, 0.7), reduction="none").numpy()
    want3 = [reference_ms_ssim(a3[i], b3[i], (0.3, 0.7)) for i in range(3)]
    diff3 = np.abs(got3 - want3).max()
    MAX_DIFF["ms_ssim float32"] = max(MAX_DIFF.get("ms_ssim float32", 0.0), diff3)
    assert diff3 <= 1e-5


def test_ms_ssim_identity_and_noise_monotone():
    rng = np.random.default_rng(5)
    a, _ = structured_pair(rng, 2, 176, 176, 3)
    x = to_torch(a)
    np.testing.assert_allclose(ms_ssim(x, x, reduction="none").numpy(), 1.0, atol=1e-12)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(x.shape, generator=g, dtype=x.dtype)
    values = [ms_ssim(x, (x + s * noise).clamp(0, 1)).item() for s in (0.0, 0.02, 0.05, 0.1, 0.3)]
    assert values[0] == pytest.approx(1.0)
    assert all(v1 > v2 for v1, v2 in itertools.pairwise(values)), values


def test_ms_ssim_size_check():
    weights = losses.MS_SSIM_WEIGHTS
    too_small = torch.rand(1, 1, 160, 300)
    with pytest.raises(ValueError, match="160"):
        ms_ssim(too_small, too_small, weights=weights)
    ok = torch.rand(1, 1, 161, 161)
    assert ms_ssim(ok, ok).item() == pytest.approx(1.0)
    three = (0.2, 0.3, 0.5)
    with pytest.raises(ValueError, match=r"3 scales.*= 40; got \(40, 41\)"):
        ms_ssim(torch.rand(1, 1, 40, 41), torch.rand(1, 1, 40, 41), weights=three)
    edge = torch.rand(1, 1, 41, 41)  # 41 -> 21 -> 11: the coarsest scale just fits the window
    assert ms_ssim(edge, edge, weights=three).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one"):
        ms_ssim(ok, ok, weights=())


def test_ms_ssim_anticorrelated_clamps_to_zero_with_finite_gradient():
    x = torch.rand(1, 1, 176, 176, dtype=torch.float64, requires_grad=True)
    y = 1.0 - x.detach()  # negative contrast-structure at every scale
    v = ms_ssim(x, y)
    assert v.item() == 0.0
    v.backward()
    assert torch.isfinite(x.grad).all()


# --------------------------------------------------------------------------------------------------
# gradients and loss modules
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("identical", [False, True])
@pytest.mark.parametrize(
    "fn",
    [
        lambda p, t: ssim(p, t),
        lambda p, t: ms_ssim(p, t),
        lambda p, t: ms_ssim(p, t, weights=(0.2, 0.8)),
        lambda p, t: psnr(p, t).mean(),
        SSIMLoss(),
        MSSSIMLoss(),
    ],
    ids=["ssim", "ms_ssim", "ms_ssim2", "psnr", "SSIMLoss", "MSSSIMLoss"],
)
def test_gradients_exist_and_are_finite(fn, identical):
    g = torch.Generator().manual_seed(1)
    t = torch.rand(2, 3, 170, 165, generator=g)
    p0 = t.clone() if identical else (t + 0.1 * torch.randn(t.shape, generator=g)).clamp(0, 1)
    p = p0.clone().requires_grad_(True)
    fn(p, t).backward()
    assert p.grad is not None and torch.isfinite(p.grad).all()
    if not identical:
        assert p.grad.abs().sum() > 0


def test_ssim_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(2)
    t = torch.rand(1, 2, 13, 14, generator=g, dtype=torch.float64)
    p = (t + 0.2 * torch.rand(t.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    assert torch.autograd.gradcheck(lambda x: ssim(x, t), (p.requires_grad_(True),))


def test_ssim_losses():
    x = torch.rand(2, 3, 176, 176)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    assert SSIMLoss()(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert MSSSIMLoss()(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert SSIMLoss()(x, y).item() == pytest.approx(1 - ssim(x, y).item(), abs=1e-7)
    assert MSSSIMLoss()(x, y).item() == pytest.approx(1 - ms_ssim(x, y).item(), abs=1e-7)
    assert SSIMLoss(reduction="none")(x, y).shape == (2,)


def test_half_precision_and_autocast_are_computed_in_float32():
    g = torch.Generator().manual_seed(6)
    x = torch.rand(2, 3, 176, 176, generator=g)
    y = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ref_s, ref_m, ref_p = ssim(x, y), ms_ssim(x, y), psnr(x, y)
    xh, yh = x.bfloat16().float(), y.bfloat16().float()  # the values bf16 inputs actually hold
    s_bf, m_bf = ssim(x.bfloat16(), y.bfloat16()), ms_ssim(x.bfloat16(), y.bfloat16())
    assert s_bf.dtype == m_bf.dtype == torch.float32
    torch.testing.assert_close(s_bf, ssim(xh, yh))
    torch.testing.assert_close(m_bf, ms_ssim(xh, yh))
    assert psnr(x.half(), y.half()).dtype == torch.float32
    assert torch.isfinite(psnr(x.half(), x.half())).all()
    torch.testing.assert_close(ssim(x, y.double()), ssim(x.double(), y.double()))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        torch.testing.assert_close(ssim(x, y), ref_s)
        torch.testing.assert_close(ms_ssim(x, y), ref_m)
        torch.testing.assert_close(psnr(x, y), ref_p)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tmp_path):
    x = torch.rand(2, 3, 176, 176, dtype=torch.float64)
    y = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    xc, yc = x.cuda(), y.cuda()
    torch.testing.assert_close(ssim(xc, yc).cpu(), ssim(x, y))
    torch.testing.assert_close(ms_ssim(xc, yc).cpu(), ms_ssim(x, y))
    torch.testing.assert_close(psnr(xc, yc).cpu(), psnr(x, y))
    xf, yf = xc.float(), yc.float()
    with torch.autocast(device_type="cuda", dtype=torch.float16):
        torch.testing.assert_close(ssim(xf, yf).cpu().double(), ssim(x, y), atol=1e-6, rtol=0)
        torch.testing.assert_close(ms_ssim(xf, yf).cpu().double(), ms_ssim(x, y), atol=1e-6, rtol=0)
    torch.save(random_vgg19_features_state(), tmp_path / "w.pth")
    vgg = VGGPerceptualLoss(tmp_path / "w.pth", layer="relu3_4")
    cpu_value = vgg(x[:, :, :32, :32].float(), y[:, :, :32, :32].float())
    p = xf[:, :, :32, :32].clone().requires_grad_(True)
    gpu_value = vgg(p, yf[:, :, :32, :32])  # follows the inputs to the GPU
    gpu_value.backward()
    assert p.grad is not None and torch.isfinite(p.grad).all()
    torch.testing.assert_close(gpu_value.cpu(), cpu_value, rtol=1e-3, atol=1e-6)


# --------------------------------------------------------------------------------------------------
# VGG perceptual loss
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("vgg")
    feats = random_vgg19_features_state()
    full = {f"features.{k}": v for k, v in feats.items()}
    full["classifier.0.weight"] = torch.zeros(4, 8)  # classifier keys are ignored
    full["classifier.0.bias"] = torch.zeros(4)
    torch.save(feats, d / "features.pth")
    torch.save(full, d / "vgg19_full.pth")
    return d, feats


def test_vgg_state_dict_round_trip(vgg_files):
    d, feats = vgg_files
    for name in ("features.pth", "vgg19_full.pth"):
        loss = VGGPerceptualLoss(d / name)
        got = loss.features.state_dict()
        assert len(got) == 32  # relu5_4 is the last ReLU: every conv is kept
        for k, v in got.items():
            torch.testing.assert_close(v, feats[k], rtol=0, atol=0)
    short = VGGPerceptualLoss(str(d / "features.pth"), layer="relu2_2")
    assert len(short.features) == losses.VGG19_LAYERS.index("relu2_2") + 1 == 9
    assert losses.VGG19_LAYERS[35] == "relu5_4" and losses.VGG19_LAYERS[-1] == "pool5"


def test_vgg_missing_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="needs VGG-19 weights given by path"):
        VGGPerceptualLoss(None)
    with pytest.raises(FileNotFoundError, match=r"no_such\.pth"):
        VGGPerceptualLoss(tmp_path / "no_such.pth")


def test_vgg_bad_state_dicts(tmp_path, vgg_files):
    _, feats = vgg_files
    wrong = dict(feats)
    wrong["2.weight"] = torch.zeros(64, 32, 3, 3)
    torch.save(wrong, tmp_path / "shape.pth")
    with pytest.raises(ValueError, match=r"2\.weight: expected \(64, 64, 3, 3\), got \(64, 32"):
        VGGPerceptualLoss(tmp_path / "shape.pth")

    missing = {k: v for k, v in feats.items() if k != "34.bias"}
    missing["99.weight"] = torch.zeros(1)
    torch.save(missing, tmp_path / "keys.pth")
    with pytest.raises(ValueError, match=r"missing keys: \['34.bias'\].*unexpected.*99.weight"):
        VGGPerceptualLoss(tmp_path / "keys.pth")

    stray = {f"features.{k}": v for k, v in feats.items()}
    stray["head.weight"] = torch.zeros(1)
    torch.save(stray, tmp_path / "stray.pth")
    with pytest.raises(ValueError, match=r"unexpected keys.*head\.weight"):
        VGGPerceptualLoss(tmp_path / "stray.pth")

    with pytest.raises(ValueError, match="unknown VGG-19 layer"):
        VGGPerceptualLoss(tmp_path / "shape.pth", layer="relu6_1")


def test_vgg_loss_values_gradient_and_frozen(vgg_files):
    d, _ = vgg_files
    loss = VGGPerceptualLoss(d / "vgg19_full.pth")
    assert not loss.training
    assert all(not p.requires_grad for p in loss.parameters())
    loss.train()
    assert not loss.training and not loss.features.training

    g = torch.Generator().manual_seed(3)
    t = torch.rand(2, 3, 32, 32, generator=g)
    assert loss(t, t.clone()).item() == 0.0
    p = (t + 0.1 * torch.randn(t.shape, generator=g)).clamp(0, 1).requires_grad_(True)
    value = loss(p, t)
    assert value.item() > 0
    value.backward()
    assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    assert all(q.grad is None for q in loss.parameters())

    gray = torch.rand(1, 1, 32, 32, generator=g)
    assert loss(gray, gray).item() == 0.0
    with pytest.raises(ValueError, match="1 or 3"):
        loss(torch.rand(1, 4, 32, 32), torch.rand(1, 4, 32, 32))


# --------------------------------------------------------------------------------------------------
# build_loss
# --------------------------------------------------------------------------------------------------


def test_build_loss_example_spec():
    spec = {"l1": 1.0, "mse": 0.0, "ssim": 0.0, "ms_ssim": 0.4, "vgg": 0.0, "vgg_weights": None}
    fn = build_loss(spec)
    g = torch.Generator().manual_seed(4)
    t = torch.rand(2, 3, 176, 176, generator=g)
    p = (t + 0.05 * torch.randn(t.shape, generator=g)).clamp(0, 1).requires_grad_(True)
    total, parts = fn(p, t)
    assert set(parts) == {"l1", "ms_ssim"}
    assert all(v.ndim == 0 and not v.requires_grad for v in parts.values())
    l1 = (p - t).abs().mean()
    torch.testing.assert_close(parts["l1"], l1.detach())
    torch.testing.assert_close(parts["ms_ssim"], 1 - ms_ssim(p, t).detach())
    torch.testing.assert_close(total, l1 + 0.4 * (1 - ms_ssim(p, t)))
    total.backward()
    assert torch.isfinite(p.grad).all()


def test_build_loss_all_terms(vgg_files):
    d, _ = vgg_files
    spec = {"l1": 0.5, "mse": 2.0, "ssim": 0.3, "ms_ssim": 0.0, "vgg": 0.1}
    fn = build_loss({**spec, "vgg_weights": str(d / "features.pth"), "vgg_layer": "relu3_4"})
    t = torch.rand(1, 3, 32, 32)
    p = (t + 0.1 * torch.randn_like(t)).clamp(0, 1)
    total, parts = fn(p, t)
    assert set(parts) == {"l1", "mse", "ssim", "vgg"}
    expected = sum(spec[k] * parts[k] for k in parts)
    torch.testing.assert_close(total, expected)
    assert fn.vgg_loss.layer == "relu3_4"
    zero, _ = fn(t, t)
    assert zero.item() == pytest.approx(0.0, abs=1e-6)


def test_build_loss_errors():
    with pytest.raises(ValueError, match=r"unknown loss spec keys \['perceptual'\].*valid keys"):
        build_loss({"l1": 1.0, "perceptual": 1.0})
    with pytest.raises(ValueError, match="'ms_ssim'"):
        build_loss({"l2": 1.0})
    with pytest.raises(FileNotFoundError, match="given by path"):
        build_loss({"vgg": 1.0, "vgg_weights": None})
    with pytest.raises(ValueError, match="no positive weight"):
        build_loss({"l1": 0.0, "vgg_weights": None})
    with pytest.raises(ValueError, match=">= 0"):
        build_loss({"l1": -1.0})


def test_report_max_abs_difference():
    """Not a check: prints the measured max |ours - skimage| (run with -s to see it)."""
    print("\nmax |ours - reference|:", {k: f"{v:.2e}" for k, v in sorted(MAX_DIFF.items())})


def test_ms_ssim_weights_shrink_to_the_scales_that_fit():
    from cfasim.errors import ConfigError
    from cfasim.train.losses import MS_SSIM_WEIGHTS, ms_ssim_weights_for

    assert ms_ssim_weights_for(161) == pytest.approx(MS_SSIM_WEIGHTS)
    for side, scales in ((160, 4), (81, 4), (80, 3), (41, 3), (40, 2), (21, 2), (20, 1), (11, 1)):
        w = ms_ssim_weights_for(side)
        assert len(w) == scales, side
        assert sum(w) == pytest.approx(sum(MS_SSIM_WEIGHTS))  # renormalised
        ratio = [a / b for a, b in zip(w, MS_SSIM_WEIGHTS, strict=False)]
        assert max(ratio) == pytest.approx(min(ratio))  # the same proportions
    with pytest.raises(ConfigError, match="at least 11 px"):
        ms_ssim_weights_for(10)


def test_the_ms_ssim_loss_trains_below_the_full_pyramid():
    from cfasim.train.losses import ms_ssim_weights_for

    torch.manual_seed(0)
    x = torch.rand(2, 3, 48, 64)
    y = (x + 0.1 * torch.rand_like(x)).clamp(0, 1)
    loss = MSSSIMLoss()
    want = 1 - ms_ssim(x, y, weights=ms_ssim_weights_for(48))  # three scales at 48 px
    assert loss(x, y).item() == pytest.approx(want.item(), abs=1e-7)
    x.requires_grad_(True)
    loss(x, y).backward()
    assert torch.isfinite(x.grad).all()
    assert build_loss({"l1": 1.0, "ms_ssim": 0.4}).min_side == 11
    assert build_loss({"l1": 1.0}).min_side == 1
