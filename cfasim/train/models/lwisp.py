"""LW-ISP as published (H. Chen, K. Ma, arXiv 2210.03904): an attention U-Net RAW -> RGB.

Built from the structure of the public implementation (``shared/reference/lwisp-public.md``),
whose parameter count (1,997,449) and MACs (4.21 G at 224x224x3) give exactly the paper's
"23x fewer parameters, 81x less computation" against PyNET. Layout for widths
``w = (16, 32, 64, 128)`` (``L = 4`` stages), input ``(N, C, h, w)``::

    stem        3x3 conv C -> w0                                         w0 @ h        (e)
    enc[i]      two 3x3 convs -> w_i (the skip feature s_i)               w_i @ h/2**i
                2x2 max pool, fine-grained attention: [p + CA(p), p + SA(p)]  2 w_i @ h/2**(i+1)
    context     3x3 conv 2 w_{L-1} -> 2 w_{L-1}; spatial mean -> Linear -> w_{L-1}, ReLU,
                broadcast over s_{L-1}
    bottleneck  two 3x3 convs on [s_{L-1}, context] -> w_{L-1}            w_{L-1} @ h/2**(L-1)
    up[i]       plug-and-play up-sampler w_{i+1} -> w_i (3x3 conv to 4 w_i, LReLU,
                PixelShuffle 2, 3x3 conv + LReLU), applied to the decoder feature AND to the
                encoder feature s_{i+1} (shared weights), the two added
    dec[i]      3x3 conv on [up, s_i] -> w_i                              w_i @ h/2**i
    gate        dec[0] * e (multiplicative gate of the first and last feature maps)
    head_up     (output_scale s > 1) one more up-sampler w0 -> w0 (x s)  w0 @ s h
    out         3x3 conv -> 3, sigmoid                                    3 @ output_scale * h

CA is squeeze-and-excitation (reduction 8), SA is CBAM-style (channel max and mean -> 5x5 conv,
no bias -> sigmoid); every other conv uses reflection padding and LeakyReLU(0.2), as PyNET.

Two configurations (``tests/train/test_models_lwisp.py`` pins their counts):

* the published one: ``in_channels=3, output_scale=1`` (RGB in, RGB out at the same size):
  1,997,449 parameters, 4.21 GMAC at 224x224x3;
* the RAW variant cfasim trains (the default): ``in_channels=4`` packed planes in, and the
  up-sampler the public code has commented out enabled (``output_scale=2``), so the output is
  the full-resolution RGB of the mosaic: 2,009,193 parameters.

``widths`` of any length >= 1 give the same design at another depth (the packed size must then
be a multiple of ``m = 2 ** len(widths)``, at least ``2 m``). Heterogeneous distillation (the
paper's training) has no public code: cfasim's reading is in :func:`lwisp_clean_teacher` and
docs/training.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "LWISP",
    "ChannelAttention",
    "FineGrainedAttention",
    "SpatialAttention",
    "UpsamplingBlock",
    "lwisp_clean_teacher",
    "lwisp_student",
    "lwisp_teacher",
]

NEGATIVE_SLOPE = 0.2
STUDENT_WIDTHS = (16, 32, 64, 128)
TEACHER_WIDTHS = (32, 64, 128, 256)


def conv3x3(c_in: int, c_out: int, act: bool = True) -> nn.Sequential:
    """Reflection-padded 3x3 conv (with bias), then LeakyReLU(0.2) unless ``act`` is False."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3)]
    if act:
        layers.append(nn.LeakyReLU(NEGATIVE_SLOPE))
    return nn.Sequential(*layers)


def double_conv(c_in: int, c_out: int) -> nn.Sequential:
    """Two :func:`conv3x3` layers ``c_in -> c_out -> c_out``."""
    return nn.Sequential(conv3x3(c_in, c_out), conv3x3(c_out, c_out))


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation: ``x * sigmoid(W2 relu(W1 mean(x)))`` with 1x1 convs
    ``c -> c // reduction -> c`` (biases on)."""

    def __init__(self, c: int, reduction: int = 8):
        super().__init__()
        hidden = max(1, c // reduction)
        self.squeeze = nn.Conv2d(c, hidden, 1)
        self.excite = nn.Conv2d(hidden, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.excite(torch.relu(self.squeeze(y))))


class SpatialAttention(nn.Module):
    """CBAM spatial attention: ``x * sigmoid(conv([max_c x, mean_c x]))``, a kxk conv without
    bias, zero padding."""

    def __init__(self, kernel: int = 5):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class FineGrainedAttention(nn.Module):
    """Channel and spatial attention in parallel, each added residually, concatenated:
    ``[p + CA(p), p + SA(p)]`` (channels double)."""

    def __init__(self, c: int, reduction: int = 8, kernel: int = 5):
        super().__init__()
        self.channel = ChannelAttention(c, reduction)
        self.spatial = SpatialAttention(kernel)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return torch.cat([p + self.channel(p), p + self.spatial(p)], dim=1)


class UpsamplingBlock(nn.Module):
    """The plug-and-play up-sampler: 3x3 conv ``c_in -> f^2 c_out``, LeakyReLU,
    PixelShuffle(f), then a 3x3 conv ``c_out -> c_out`` + LeakyReLU (the "post-conv"); the
    published network uses ``f = 2``."""

    def __init__(self, c_in: int, c_out: int, factor: int = 2):
        super().__init__()
        self.expand = conv3x3(c_in, factor * factor * c_out)
        self.shuffle = nn.PixelShuffle(factor)
        self.post = conv3x3(c_out, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.shuffle(self.expand(x)))


class LWISP(nn.Module):
    """The published LW-ISP network (see the module docstring for its layout).

    Parameters
    ----------
    in_channels : int
        Input channels: 4 for packed RAW planes (default), 3 for the published RGB
        configuration, 12 for the space-to-depth packed clean image of a clean teacher.
    widths : sequence of int
        Encoder widths, finest first (the published network: 16, 32, 64, 128).
    output_scale : int
        1: output at the input size (published); 2: one more up-sampler, the output at twice
        the input size (the mosaic resolution of 4-plane packed RAW); any ``s > 2``: that
        up-sampler shuffles by ``s`` (e.g. 4 for DSLR targets at twice the mosaic size, or the
        period of a space-to-depth packing).
    reduction, spatial_kernel : int
        Channel-attention reduction (8) and spatial-attention kernel (5).
    """

    out_channels = 3

    def __init__(
        self,
        in_channels: int = 4,
        widths: Sequence[int] = STUDENT_WIDTHS,
        output_scale: int = 2,
        reduction: int = 8,
        spatial_kernel: int = 5,
    ):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if not widths or min(widths) < 1:
            raise ValueError(f"LW-ISP needs at least one positive width, got {widths}")
        if int(output_scale) < 1:
            raise ValueError(f"LW-ISP output_scale must be >= 1, got {output_scale}")
        output_scale = int(output_scale)
        self.in_channels, self.widths, self.output_scale = int(in_channels), widths, output_scale
        self.input_multiple = 2 ** len(widths)
        self.stem = conv3x3(self.in_channels, widths[0])
        self.enc = nn.ModuleList()
        self.att = nn.ModuleList()
        c_in = widths[0]
        for w in widths:
            self.enc.append(double_conv(c_in, w))
            self.att.append(FineGrainedAttention(w, reduction, spatial_kernel))
            c_in = 2 * w
        last = widths[-1]
        self.context_conv = conv3x3(2 * last, 2 * last)
        self.context_fc = nn.Linear(2 * last, last)
        self.bottleneck = double_conv(2 * last, last)
        self.up = nn.ModuleList(
            UpsamplingBlock(widths[i + 1], widths[i]) for i in range(len(widths) - 1)
        )
        self.dec = nn.ModuleList(conv3x3(2 * widths[i], widths[i]) for i in range(len(widths) - 1))
        self.head_up = (
            UpsamplingBlock(widths[0], widths[0], output_scale) if output_scale > 1 else None
        )
        self.out = conv3x3(widths[0], self.out_channels, act=False)

    def _encode(self, x: torch.Tensor):
        """(stem feature, skip features s_0..s_{L-1}, deepest attended map)."""
        first = self.stem(x)
        skips, p = [], first
        for enc, att in zip(self.enc, self.att, strict=True):
            s = enc(p)
            skips.append(s)
            p = att(nn.functional.max_pool2d(s, 2))
        return first, skips, p

    def _context(self, deepest: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """The global-context vector, broadcast over the deepest skip feature's grid."""
        v = torch.relu(self.context_fc(self.context_conv(deepest).mean(dim=(2, 3))))
        return v[:, :, None, None].expand(-1, -1, *skip.shape[-2:])

    def forward(self, packed: torch.Tensor, mosaic: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, in_channels, h, w)`` -> ``(N, 3, output_scale * h, output_scale * w)`` in
        [0, 1]; ``mosaic`` is accepted for the uniform model interface and unused."""
        self._check(packed)
        first, skips, deepest = self._encode(packed)
        y = self.bottleneck(torch.cat([skips[-1], self._context(deepest, skips[-1])], dim=1))
        for i in reversed(range(len(self.widths) - 1)):
            up = self.up[i](y) + self.up[i](skips[i + 1])
            y = self.dec[i](torch.cat([up, skips[i]], dim=1))
        y = y * first
        if self.head_up is not None:
            y = self.head_up(y)
        return torch.sigmoid(self.out(y))

    def _check(self, packed: torch.Tensor) -> None:
        m = self.input_multiple
        if packed.ndim != 4 or packed.shape[1] != self.in_channels:
            raise ValueError(
                f"LW-ISP expects (N, {self.in_channels}, h, w), got {tuple(packed.shape)}"
            )
        if packed.shape[-2] % m or packed.shape[-1] % m or min(packed.shape[-2:]) < 2 * m:
            raise ValueError(
                f"LW-ISP needs the input's height and width to be multiples of {m} and at least "
                f"{2 * m} (the deepest map is reflection-padded), got {tuple(packed.shape[-2:])}"
            )

    def feature_layers(self) -> dict[str, nn.Module]:
        """Modules whose outputs are the decoder features, deepest first, for distillation:
        ``dec{L-1}`` (the bottleneck), ``dec{i}`` for ``i = L-2 .. 0`` (``w_i`` channels at
        ``h / 2**i``, ``dec0`` before the gate) and ``head`` (the output up-sampler, when
        ``output_scale`` > 1)."""
        n = len(self.widths)
        layers: dict[str, nn.Module] = {f"dec{n - 1}": self.bottleneck}
        for i in reversed(range(n - 1)):
            layers[f"dec{i}"] = self.dec[i]
        if self.head_up is not None:
            layers["head"] = self.head_up
        return layers


def lwisp_student(**kw) -> LWISP:
    """The published LW-ISP on packed RAW (4 planes in, full-resolution RGB out): 2,009,193
    parameters with the defaults."""
    return LWISP(**kw)


def lwisp_teacher(**kw) -> LWISP:
    """A teacher sized from the published student: the same network at twice its widths
    (32, 64, 128, 256), RAW input by default."""
    kw.setdefault("widths", TEACHER_WIDTHS)
    return LWISP(**kw)


def lwisp_clean_teacher(**kw) -> LWISP:
    """The heterogeneous-distillation teacher (cfasim's reading, a hypothesis): the doubled
    network seeing the clean linear camera RGB, space-to-depth packed to 12 channels on the
    student's packed grid (:func:`cfasim.train.cfa_adapter.clean_to_s2d`), so its decoder
    features align with the student's scale by scale."""
    kw.setdefault("in_channels", 12)
    return lwisp_teacher(**kw)
