"""Image-quality metrics and training losses: PSNR, SSIM, MS-SSIM, VGG perceptual loss.

All functions take batched ``(N, C, H, W)`` floating-point tensors (nominally in ``[0, 1]``),
are written in plain PyTorch and are differentiable with respect to both arguments.

SSIM convention
---------------
:func:`ssim` follows Wang et al. (2004) and reproduces
``skimage.metrics.structural_similarity(a, b, channel_axis=-1, data_range=1.0,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``: local statistics come from a
normalised, separable Gaussian window of ``win_size`` taps, population (biased) covariances, and the
SSIM map is averaged only over positions whose window lies fully inside the image ('valid'
filtering, no padding). scikit-image instead filters with ``mode='reflect'`` and then crops
``(win_size - 1) // 2`` pixels from every border of the map, which keeps exactly the same positions
with exactly the same values, so the two agree to floating-point rounding. The per-image value is
the mean over those positions and over channels (each channel has the same number of positions, so
this equals averaging the per-channel SSIMs, as scikit-image does). The filtering is done as
weighted sums of shifted slices, exact in the working dtype on every device (cuDNN/TF32 settings
cannot degrade it).

Dtypes: the metrics run in the common floating dtype of their inputs, at least float32 (float16 and
bfloat16 inputs are upcast and give float32 results), and SSIM/MS-SSIM disable autocast for their
filtering so mixed-precision training does not degrade them.

Nothing here downloads anything: :class:`VGGPerceptualLoss` needs a local weights file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cfasim.errors import ConfigError

__all__ = [
    "MS_SSIM_WEIGHTS",
    "VALID_SPEC_KEYS",
    "VGG19_CONFIG",
    "VGG19_LAYERS",
    "CombinedLoss",
    "MSSSIMLoss",
    "SSIMLoss",
    "VGGPerceptualLoss",
    "build_loss",
    "ms_ssim",
    "ms_ssim_weights_for",
    "psnr",
    "ssim",
]

#: Scale weights of Wang, Simoncelli & Bovik (2003), finest scale first.
MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError("pred and target must be torch tensors")
    if pred.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) tensors, got shape {tuple(pred.shape)}")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {tuple(pred.shape)} "
            f"and {tuple(target.shape)}"
        )
    if not pred.is_floating_point() or not target.is_floating_point():
        raise TypeError("pred and target must be floating-point tensors")


def _common_float(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Cast both tensors to their common dtype, at least float32 (half precision is upcast)."""
    dtype = torch.promote_types(torch.promote_types(pred.dtype, target.dtype), torch.float32)
    return pred.to(dtype), target.to(dtype)


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _window_1d(win_size: int, sigma: float, gaussian: bool) -> tuple[float, ...]:
    """Normalised 1-D window of ``win_size`` taps (Gaussian or box), computed in float64."""
    if win_size < 1 or win_size % 2 != 1:
        raise ValueError(f"win_size must be a positive odd integer, got {win_size}")
    if gaussian:
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        w = [math.exp(-0.5 * ((i - (win_size - 1) / 2) / sigma) ** 2) for i in range(win_size)]
    else:
        w = [1.0] * win_size
    total = math.fsum(w)
    return tuple(v / total for v in w)


def _filter_valid(x: Tensor, taps: Sequence[float]) -> Tensor:
    """Separable filtering of (N, C, H, W) with 'valid' output (no padding).

    Written as weighted sums of shifted slices rather than a convolution, so the result is exact
    in the tensor's dtype on every device: cuDNN/TF32 settings cannot reduce its precision, which
    matters for the ``E[x^2] - E[x]^2`` differences taken from it.
    """
    k = len(taps)
    w_out = x.shape[-1] - k + 1
    rows = x[..., 0:w_out] * taps[0]
    for i in range(1, k):
        rows = rows.add(x[..., i : i + w_out], alpha=taps[i])
    h_out = x.shape[-2] - k + 1
    out = rows[..., 0:h_out, :] * taps[0]
    for i in range(1, k):
        out = out.add(rows[..., i : i + h_out, :], alpha=taps[i])
    return out


def _ssim_cs(
    pred: Tensor,
    target: Tensor,
    data_range: float,
    taps: Sequence[float],
    k1: float,
    k2: float,
) -> tuple[Tensor, Tensor]:
    """Per-channel mean SSIM and mean contrast-structure term, both of shape (N, C).

    Evaluated with autocast disabled (inputs come through :func:`_common_float`): half-precision
    moments would lose the variances to cancellation.
    """
    win_size = len(taps)
    h, w = pred.shape[-2:]
    if h < win_size or w < win_size:
        raise ValueError(
            f"image of size {h}x{w} is smaller than the {win_size}x{win_size} SSIM window"
        )
    with torch.autocast(device_type=pred.device.type, enabled=False):
        return _ssim_cs_fp(pred, target, data_range, taps, k1, k2)


def _ssim_cs_fp(
    pred: Tensor, target: Tensor, data_range: float, taps: Sequence[float], k1: float, k2: float
) -> tuple[Tensor, Tensor]:
    c = pred.shape[1]
    # Moments are taken about a per-image, per-channel constant (detached) to limit the
    # cancellation in E[x^2] - E[x]^2 in float32. Variances and covariance are shift invariant and
    # the shift is added back to the means, so value and gradient are mathematically unchanged.
    shift = (0.5 * (pred + target)).mean(dim=(-2, -1), keepdim=True).detach()
    x = pred - shift
    y = target - shift
    stats = _filter_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1), taps)
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.split(c, dim=1)
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    mu_x = mu_x + shift
    mu_y = mu_y + shift
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    ssim_map = luminance * cs_map
    return ssim_map.mean(dim=(-2, -1)), cs_map.mean(dim=(-2, -1))


def _downsample2(x: Tensor) -> Tensor:
    """2x2 average pooling; odd sizes are first padded by replicating the last row/column.

    This is what Wang's reference ``msssim.m`` does (``imfilter(ones(2)/4, 'symmetric')``
    followed by ``(1:2:end, 1:2:end)`` sub-sampling): an ``n``-pixel side becomes
    ``ceil(n / 2)`` pixels.
    """
    pad_h = x.shape[-2] % 2
    pad_w = x.shape[-1] % 2
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    return F.avg_pool2d(x, kernel_size=2, stride=2)


# --------------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------------


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio of each image in a batch.

    Parameters
    ----------
    pred, target : Tensor
        Images of shape ``(N, C, H, W)``.
    data_range : float, optional
        Peak-to-peak range of the data (1.0 for images in ``[0, 1]``).

    Returns
    -------
    Tensor
        Shape ``(N,)``: ``20 log10(data_range / sqrt(mse))`` in dB, with ``mse`` the mean squared
        error over ``C, H, W`` clamped below at ``1e-12`` (so identical images give a finite
        ``10 log10(data_range**2 / 1e-12)``, 120 dB for a unit range). Matches
        ``skimage.metrics.peak_signal_noise_ratio(target, pred, data_range=data_range)`` per image.
    """
    _check_pair(pred, target)
    pred, target = _common_float(pred, target)
    mse = (pred - target).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-12)
    # 20 log10(R / sqrt(mse)) == 10 log10(R^2 / mse), without the sqrt in the graph
    return 10.0 * torch.log10(data_range**2 / mse)


def ssim(
    pred: Tensor,
    target: Tensor,
    data_range: float = 1.0,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    gaussian: bool = True,
    reduction: str = "mean",
) -> Tensor:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004).

    Local means, variances and covariance are computed with a normalised, separable window of
    ``win_size x win_size`` taps (a Gaussian of standard deviation ``sigma``, or a box window if
    ``gaussian`` is False), using population (``1/N``) statistics. Only 'valid' positions are used
    (no padding): the SSIM map has size ``(H - win_size + 1) x (W - win_size + 1)`` and is averaged
    over those positions and over channels. This is bit-for-bit the convention of
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=...)``, which filters with ``mode='reflect'`` and then
    crops ``(win_size - 1) // 2`` pixels from each border of the map, leaving exactly the positions
    whose window lies inside the image. (scikit-image, with Gaussian weights, derives its window
    from ``sigma`` as ``2 * int(3.5 * sigma + 0.5) + 1`` taps — 11 for ``sigma=1.5`` — and
    ignores ``win_size``; the two agree whenever ``win_size`` equals that number.) Moments are
    accumulated about the per-image, per-channel mean, so float32 inputs lose little to the
    cancellation in ``E[x^2] - E[x]^2``.

    Parameters
    ----------
    pred, target : Tensor
        Images of shape ``(N, C, H, W)`` with ``H, W >= win_size``.
    data_range : float, optional
        Peak-to-peak range of the data; sets ``C1 = (k1 R)^2`` and ``C2 = (k2 R)^2``.
    win_size : int, optional
        Odd window side.
    sigma : float, optional
        Standard deviation of the Gaussian window, in pixels.
    k1, k2 : float, optional
        Stabilising constants.
    gaussian : bool, optional
        Gaussian window (True) or uniform window (False).
    reduction : {'mean', 'sum', 'none'}, optional
        How to reduce the per-image values; ``'none'`` returns shape ``(N,)``.

    Returns
    -------
    Tensor
        Scalar, or ``(N,)`` for ``reduction='none'``.
    """
    _check_pair(pred, target)
    pred, target = _common_float(pred, target)
    taps = _window_1d(win_size, sigma, gaussian)
    ssim_c, _ = _ssim_cs(pred, target, data_range, taps, k1, k2)
    return _reduce(ssim_c.mean(dim=1), reduction)


def ms_ssim(
    pred: Tensor,
    target: Tensor,
    data_range: float = 1.0,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    gaussian: bool = True,
    reduction: str = "mean",
) -> Tensor:
    """Multi-scale structural similarity (Wang, Simoncelli & Bovik 2003).

    With ``M = len(weights)`` scales, scale 1 is the input and scale ``j + 1`` is scale ``j``
    downsampled by 2x2 average pooling (an odd side is first padded by replicating its last
    row/column, as in Wang's reference ``msssim.m``, so a side of ``n`` becomes ``ceil(n / 2)``).
    At scales ``1 .. M-1`` the mean contrast-structure term ``cs_j`` is used, at scale ``M`` the
    full mean SSIM, each computed exactly as in :func:`ssim` ('valid' window, no padding), per
    channel::

        ms_ssim = prod_{j<M} relu(cs_j) ** w_j  *  relu(ssim_M) ** w_M

    and the result is averaged over channels. The ``relu`` clamps negative ``cs``/``ssim`` means
    (anti-correlated images) to zero: a negative base to a fractional power would be NaN, and the
    clamp keeps both value and gradient finite (the gradient of a clamped term is zero). For
    non-negatively correlated inputs the clamp is inactive. ``weights=(1,)`` gives :func:`ssim`.

    Parameters
    ----------
    pred, target : Tensor
        Images of shape ``(N, C, H, W)``; ``min(H, W)`` must exceed
        ``(win_size - 1) * 2 ** (M - 1)`` (160 for the defaults), which is exactly the condition
        for the coarsest scale to be at least ``win_size`` pixels.
    data_range : float, optional
        Peak-to-peak range of the data.
    weights : sequence of float, optional
        Per-scale exponents, finest first. Default: the five weights of the 2003 paper.
    win_size, sigma, k1, k2, gaussian : optional
        As for :func:`ssim`.
    reduction : {'mean', 'sum', 'none'}, optional
        How to reduce the per-image values; ``'none'`` returns shape ``(N,)``.

    Returns
    -------
    Tensor
        Scalar, or ``(N,)`` for ``reduction='none'``.

    Raises
    ------
    ValueError
        If the image is too small for the number of scales, or ``weights`` is empty.
    """
    _check_pair(pred, target)
    w = [float(v) for v in weights]
    m = len(w)
    if m == 0:
        raise ValueError("weights must contain at least one scale")
    min_side = min(pred.shape[-2:])
    need = (win_size - 1) * 2 ** (m - 1)
    if min_side <= need:
        raise ValueError(
            f"MS-SSIM with {m} scales and win_size={win_size} needs min(H, W) > "
            f"(win_size - 1) * 2**(scales - 1) = {need}; got {tuple(pred.shape[-2:])}. "
            "Use larger images, fewer weights or a smaller window."
        )
    pred, target = _common_float(pred, target)
    taps = _window_1d(win_size, sigma, gaussian)
    weight_t = torch.tensor(w, dtype=pred.dtype, device=pred.device)
    terms = []
    x, y = pred, target
    for j in range(m):
        ssim_c, cs_c = _ssim_cs(x, y, data_range, taps, k1, k2)
        terms.append(torch.relu(cs_c if j < m - 1 else ssim_c))
        if j < m - 1:
            x, y = _downsample2(x), _downsample2(y)
    stacked = torch.stack(terms, dim=0)  # (M, N, C)
    per_channel = torch.prod(stacked ** weight_t.view(m, 1, 1), dim=0)
    return _reduce(per_channel.mean(dim=1), reduction)


# --------------------------------------------------------------------------------------------------
# loss modules
# --------------------------------------------------------------------------------------------------


class SSIMLoss(nn.Module):
    """``1 - ssim(pred, target)``; keyword arguments are passed on to :func:`ssim`.

    Parameters
    ----------
    **kwargs
        ``data_range``, ``win_size``, ``sigma``, ``k1``, ``k2``, ``gaussian``, ``reduction``.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.kwargs = dict(kwargs)

    @property
    def min_side(self) -> int:
        """The smallest image side this loss accepts (its window)."""
        return int(self.kwargs.get("win_size", 11))

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Return ``1 - SSIM``."""
        return 1.0 - ssim(pred, target, **self.kwargs)


def ms_ssim_weights_for(
    side: int, weights: Sequence[float] = MS_SSIM_WEIGHTS, win_size: int = 11
) -> tuple[float, ...]:
    """The MS-SSIM weights an image of ``min(H, W) = side`` can use: the first ``M`` scales
    whose coarsest still holds the window (``side > (win_size - 1) * 2 ** (M - 1)``), rescaled
    to the sum of all the weights (the full five scales need 161 px, four 81, three 41, two 21,
    one 11).

    Raises
    ------
    ConfigError
        If not even one scale fits (``side <= win_size - 1``), naming the minimum.
    """
    w = [float(v) for v in weights]
    m = len(w)
    while m and side <= (win_size - 1) * 2 ** (m - 1):
        m -= 1
    if m == 0:
        raise ConfigError(
            f"MS-SSIM needs images of at least {win_size} px (its {win_size}x{win_size} "
            f"window); this output is {side} px: drop ms_ssim from the loss or use larger crops"
        )
    kept = w[:m]
    return tuple(v * sum(w) / sum(kept) for v in kept)


class MSSSIMLoss(nn.Module):
    """``1 - ms_ssim(pred, target)``; keyword arguments are passed on to :func:`ms_ssim`.

    On images smaller than the full pyramid needs (161 px for the five default scales) it uses
    as many scales as fit, with the weights rescaled (:func:`ms_ssim_weights_for`), so any
    output of at least 11 px can be trained with it.

    Parameters
    ----------
    **kwargs
        ``data_range``, ``weights``, ``win_size``, ``sigma``, ``k1``, ``k2``, ``gaussian``,
        ``reduction``.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.kwargs = dict(kwargs)

    @property
    def min_side(self) -> int:
        """The smallest image side this loss accepts."""
        return int(self.kwargs.get("win_size", 11))

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Return ``1 - MS-SSIM`` over the scales that fit the image."""
        kwargs = dict(self.kwargs)
        kwargs["weights"] = ms_ssim_weights_for(
            min(pred.shape[-2:]),
            kwargs.get("weights", MS_SSIM_WEIGHTS),
            int(kwargs.get("win_size", 11)),
        )
        return 1.0 - ms_ssim(pred, target, **kwargs)


#: VGG-19 ``features`` configuration: conv3x3 output channels, ``"M"`` for 2x2 max-pooling.
VGG19_CONFIG: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)


def _vgg19_layer_names() -> tuple[str, ...]:
    names: list[str] = []
    block, idx = 1, 1
    for v in VGG19_CONFIG:
        if v == "M":
            names.append(f"pool{block}")
            block, idx = block + 1, 1
        else:
            names += [f"conv{block}_{idx}", f"relu{block}_{idx}"]
            idx += 1
    return tuple(names)


#: Names of the modules of ``vgg19.features`` in order (``conv1_1``, ``relu1_1``, ..., ``pool5``);
#: the position of a name is its index in torchvision's ``features`` ``Sequential``.
VGG19_LAYERS: tuple[str, ...] = _vgg19_layer_names()


def _vgg19_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 3
    for v in VGG19_CONFIG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            in_ch = int(v)
    return nn.Sequential(*layers)


def _features_state_dict(raw: object, path: str) -> dict[str, Tensor]:
    """Extract a ``features``-only state dict from a loaded checkpoint, or raise ValueError."""
    if isinstance(raw, Mapping) and "state_dict" in raw and isinstance(raw["state_dict"], Mapping):
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected a state dict (mapping of tensors), got {type(raw)!r}")
    keys = list(raw)
    if any(str(k).startswith("features.") for k in keys):
        # full torchvision-style vgg19 state dict: keep features.*, ignore classifier.*
        out = {k[len("features.") :]: v for k, v in raw.items() if k.startswith("features.")}
        other = [k for k in keys if not k.startswith(("features.", "classifier."))]
        if other:
            raise ValueError(f"{path}: unexpected keys in VGG-19 state dict: {sorted(other)}")
        return out
    return dict(raw)


class VGGPerceptualLoss(nn.Module):
    """VGG-19 feature (perceptual) loss: MSE between features of ``pred`` and ``target``.

    The VGG-19 convolutional stack (torchvision's ``vgg19().features`` layout, see
    :data:`VGG19_CONFIG`) is built here, so torchvision is not needed, and truncated after
    ``layer``. Inputs in ``[0, 1]`` are normalised with the ImageNet mean/std before the network;
    single-channel inputs are repeated to three channels. The network is frozen
    (``requires_grad=False``) and always in eval mode; gradients flow to the inputs only.

    Parameters
    ----------
    weights_path : str or os.PathLike
        Local ``.pth`` file (loaded with ``torch.load(..., weights_only=True)``) holding either a
        full torchvision-style ``vgg19`` state dict (``features.0.weight``, ...,
        ``classifier.*``, the classifier being ignored) or the ``features`` state dict alone
        (``0.weight``, ...). Nothing is ever downloaded.
    layer : str, optional
        Feature layer, one of :data:`VGG19_LAYERS` (default ``'relu5_4'``).

    Raises
    ------
    FileNotFoundError
        If ``weights_path`` is None or does not exist.
    ValueError
        If ``layer`` is unknown, or the state dict has missing or unexpected keys or tensors of
        the wrong shape.
    """

    #: ImageNet statistics used by torchvision's VGG weights.
    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self, weights_path: str | os.PathLike | None, layer: str = "relu5_4") -> None:
        super().__init__()
        if weights_path is None or not os.path.isfile(weights_path):
            raise FileNotFoundError(
                "VGGPerceptualLoss needs VGG-19 weights given by path (a local torchvision-style "
                f"vgg19 .pth state dict); nothing is downloaded. Got weights_path={weights_path!r}"
            )
        if layer not in VGG19_LAYERS:
            raise ValueError(f"unknown VGG-19 layer {layer!r}; valid layers: {list(VGG19_LAYERS)}")
        path = os.fspath(weights_path)
        features = _vgg19_features()
        state = _features_state_dict(torch.load(path, map_location="cpu", weights_only=True), path)
        expected = features.state_dict()
        missing = sorted(set(expected) - set(state), key=_natural_key)
        unexpected = sorted(set(state) - set(expected), key=_natural_key)
        if missing or unexpected:
            raise ValueError(
                f"{path}: VGG-19 features state dict mismatch; missing keys: {missing}; "
                f"unexpected keys: {unexpected}"
            )
        bad = [
            f"{k}: expected {tuple(v.shape)}, got {tuple(state[k].shape)}"
            for k, v in expected.items()
            if tuple(state[k].shape) != tuple(v.shape)
        ]
        if bad:
            raise ValueError(f"{path}: VGG-19 weights have wrong shapes: " + "; ".join(bad))
        features.load_state_dict(state, strict=True)
        self.layer = layer
        self.features = features[: VGG19_LAYERS.index(layer) + 1]
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1), persistent=False)
        self.eval()

    @property
    def min_side(self) -> int:
        """The smallest image side with a non-empty feature map at :attr:`layer`: 2 to the
        number of max-poolings before it."""
        pools = sum(isinstance(m, nn.MaxPool2d) for m in self.features)
        return 2**pools

    def train(self, mode: bool = True) -> VGGPerceptualLoss:
        """Keep the frozen network in eval mode whatever ``mode`` is."""
        return super().train(False)

    def extract(self, x: Tensor) -> Tensor:
        """Features of ``x`` (``(N, 1 or 3, H, W)`` in ``[0, 1]``) at :attr:`layer`."""
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"VGG loss expects (N, 1 or 3, H, W) input, got {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return self.features(x)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Return the mean squared error between the VGG features of ``pred`` and ``target``."""
        _check_pair(pred, target)
        if self.mean.device != pred.device:  # follow the inputs if the caller forgot .to(device)
            self.to(pred.device)
        return F.mse_loss(self.extract(pred), self.extract(target))


def _natural_key(key: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in key.replace(".", " . ").split())


# --------------------------------------------------------------------------------------------------
# combined loss
# --------------------------------------------------------------------------------------------------

_WEIGHT_KEYS = ("l1", "mse", "ssim", "ms_ssim", "vgg")
_OPTION_KEYS = ("vgg_weights", "vgg_layer")
VALID_SPEC_KEYS: tuple[str, ...] = _WEIGHT_KEYS + _OPTION_KEYS


class CombinedLoss(nn.Module):
    """Weighted sum of losses; ``forward(pred, target) -> (total, parts)``.

    Built by :func:`build_loss`. ``parts`` maps each term with non-zero weight to its *unweighted*
    value as a detached 0-d tensor (``total = sum(weight * part)``). Being an ``nn.Module``, it
    can be moved with ``.to(device)`` (which moves the VGG network, if any).

    Parameters
    ----------
    terms : dict of str to (float, callable)
        Name -> (weight, loss function ``(pred, target) -> scalar``).
    """

    def __init__(self, terms: Mapping[str, tuple[float, Callable[[Tensor, Tensor], Tensor]]]):
        super().__init__()
        self.weights = {name: float(w) for name, (w, _) in terms.items()}
        self.fns = {name: fn for name, (_, fn) in terms.items()}
        for name, fn in self.fns.items():
            if isinstance(fn, nn.Module):
                self.add_module(f"{name}_loss", fn)

    @property
    def min_side(self) -> int:
        """The smallest image side every term accepts (1 when none has a minimum)."""
        return max([int(getattr(fn, "min_side", 1)) for fn in self.fns.values()] + [1])

    def forward(self, pred: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Return the weighted total and the dict of unweighted, detached parts."""
        total: Tensor | None = None
        parts: dict[str, Tensor] = {}
        for name, weight in self.weights.items():
            value = self.fns[name](pred, target)
            parts[name] = value.detach()
            total = weight * value if total is None else total + weight * value
        assert total is not None
        return total, parts


def build_loss(spec: Mapping[str, object]) -> CombinedLoss:
    """Build a weighted training loss from a config dict.

    Parameters
    ----------
    spec : mapping
        Weights for ``'l1'``, ``'mse'``, ``'ssim'`` (loss ``1 - SSIM``), ``'ms_ssim'``
        (loss ``1 - MS-SSIM``) and ``'vgg'`` (:class:`VGGPerceptualLoss`), plus the options
        ``'vgg_weights'`` (path, required when ``vgg > 0``) and ``'vgg_layer'`` (default
        ``'relu5_4'``). Missing weights count as 0; terms with weight 0 are not computed.
        Example: ``{"l1": 1.0, "mse": 0.0, "ssim": 0.0, "ms_ssim": 0.4, "vgg": 0.0,
        "vgg_weights": None}``.

    Returns
    -------
    CombinedLoss
        Callable ``(pred, target) -> (total, parts)`` with ``parts`` a dict of named, unweighted,
        detached scalar tensors.

    Raises
    ------
    ValueError
        On unknown keys (the message lists the valid ones), negative or non-finite weights, or
        when every weight is zero.
    FileNotFoundError
        If ``vgg > 0`` and ``vgg_weights`` is missing.
    """
    if not isinstance(spec, Mapping):
        raise TypeError(f"loss spec must be a mapping, got {type(spec)!r}")
    unknown = sorted(set(spec) - set(VALID_SPEC_KEYS))
    if unknown:
        raise ValueError(f"unknown loss spec keys {unknown}; valid keys: {list(VALID_SPEC_KEYS)}")
    weights: dict[str, float] = {}
    for key in _WEIGHT_KEYS:
        raw = spec.get(key, 0.0)
        w = 0.0 if raw is None else float(raw)  # type: ignore[arg-type]
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"loss weight {key!r} must be a finite number >= 0, got {raw!r}")
        if w > 0:
            weights[key] = w
    if not weights:
        raise ValueError(f"loss spec has no positive weight among {list(_WEIGHT_KEYS)}: {spec}")
    factories: dict[str, Callable[[], Callable[[Tensor, Tensor], Tensor]]] = {
        "l1": nn.L1Loss,
        "mse": nn.MSELoss,
        "ssim": SSIMLoss,
        "ms_ssim": MSSSIMLoss,
        "vgg": lambda: VGGPerceptualLoss(
            spec.get("vgg_weights"),  # type: ignore[arg-type]
            layer=str(spec.get("vgg_layer") or "relu5_4"),
        ),
    }
    return CombinedLoss({name: (w, factories[name]()) for name, w in weights.items()})
