"""cfasim's earlier reading of LW-ISP (``lwisp_compact``): an attention U-Net student and teachers.

The published network is :mod:`cfasim.train.models.lwisp`; this family is kept under its own
names (``lwisp_compact``, ``lwisp_compact_teacher``, ``lwisp_compact_clean_teacher``) because
earlier results in docs/ were measured with it.

What is paper fact and what is cfasim's design choice
-----------------------------------------------------
LW-ISP (H. Chen, K. Ma, arXiv 2210.03904) is known to cfasim only from its abstract and first
page; no code is public. The following are **paper facts** (abstract):

* the network is a **U-Net** mapping RAW to RGB;
* it uses a **fine-grained attention module**;
* it uses a **plug-and-play upsampling block** "suitable for low-level tasks";
* it is trained by **heterogeneous distillation**, transferring "the implicit features and
  reconstruction information of the clean image" from a teacher to the student;
* it has about **23x fewer parameters** and **81x less computation** than the previous best method
  (which baseline is meant is not stated), with +0.38 dB PSNR.

Everything architectural below is a **cfasim design choice** (see ``models.md`` §4.3-4.4), chosen
to fit the implied budget of about 1-2 M parameters and a few GMACs per 448x448 output:

* four scales with widths ``(16, 32, 64, 128)`` on the packed 4-plane RAW input;
* each scale is an :class:`AttentionBlock` (two 3x3 convs, LeakyReLU(0.2), attention, residual);
* the "fine-grained attention" is read as channel attention (squeeze-and-excitation) followed by
  spatial attention (depthwise kxk conv + 1x1 conv to one map, sigmoid gate), see
  :class:`ChannelSpatialAttention`;
* downsampling between scales is a learnable 3x3 stride-2 conv (+ LeakyReLU);
* the "plug-and-play upsampling block" is any of three interchangeable blocks built by
  :func:`make_upsampler` (``"pixelshuffle"``, ``"bilinear"``, ``"transposed"``), used both between
  decoder scales and in the head that lifts packed resolution to the output resolution;
* the output is 3-channel RGB through a sigmoid; an optional full-resolution mosaic skip (as in
  PyNET-QxQ) is concatenated before the last conv;
* the heterogeneous-distillation teacher (:func:`compact_clean_teacher`) is the same family, wider,
  and sees the *clean linear camera RGB image* (space-to-depth packed by
  :func:`cfasim.train.cfa_adapter.clean_to_s2d`) instead of the noisy mosaic; its decoder features
  (:meth:`CompactLWISP.feature_layers`) and output are the distillation targets. This reading of
  "heterogeneous" (teacher and student see different inputs) is a hypothesis.

Resolution convention
---------------------
The input is packed: ``(N, in_channels, h, w)`` with ``h = H / 2`` for a mosaic of size ``H x W``
(4-plane packing). The output is ``(N, 3, output_scale * h, output_scale * w)``: ``output_scale=2``
gives mosaic resolution, ``output_scale=4`` twice the mosaic resolution (DSLR targets as in ZRR),
``output_scale=1`` packed resolution. ``h`` and ``w`` must be multiples of
``CompactLWISP.input_multiple = 2 ** (levels - 1)`` (8 for the default four scales).

Parameter counts and MACs (defaults; MACs = conv FLOPs / 2 for one 224x224 packed input producing
448x448x3, ``torch.utils.flop_counter``; see ``tests/train/test_models_lwisp.py``):

=================  ==========  ==========================================
model              parameters  MACs
=================  ==========  ==========================================
student            930,210     3.21 G (PyNET: 47,554,738 / 342.2 G)
teacher            3,695,418   12.45 G
clean teacher      3,697,978   12.58 G (12-channel input)
=================  ==========  ==========================================

The student has 1.96 % of PyNET's parameters (51x fewer) and about 1/107 of its MACs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "UPSAMPLERS",
    "AttentionBlock",
    "BilinearConvUpsampler",
    "ChannelGate",
    "ChannelSpatialAttention",
    "CompactLWISP",
    "PixelShuffleUpsampler",
    "SpatialGate",
    "TransposedConvUpsampler",
    "compact_clean_teacher",
    "compact_student",
    "compact_teacher",
    "make_upsampler",
]

NEGATIVE_SLOPE = 0.2
"""LeakyReLU slope used throughout (as in PyNET)."""


# --------------------------------------------------------------------------------------------
# attention
# --------------------------------------------------------------------------------------------


class ChannelGate(nn.Module):
    """Squeeze-and-excitation channel gate; returns the gate, not the gated feature.

    Global average pool -> 1x1 conv (``c -> c // reduction``) -> ReLU -> 1x1 conv
    (``-> c``) -> sigmoid.

    Parameters
    ----------
    c : int
        Number of channels.
    reduction : int, optional
        Channel reduction of the bottleneck (hidden width ``max(1, c // reduction)``).
    """

    def __init__(self, c: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(1, c // reduction)
        self.fc1 = nn.Conv2d(c, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the channel gate of shape ``(N, c, 1, 1)``, values in (0, 1)."""
        s = F.adaptive_avg_pool2d(x, 1)
        return torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class SpatialGate(nn.Module):
    """Spatial gate: depthwise ``k x k`` conv, 1x1 conv to one map, sigmoid.

    The two linear convs form a factorised ``k x k`` conv from ``c`` channels to one map (cheap:
    ``c * (k * k + 2) + 1`` parameters).

    Parameters
    ----------
    c : int
        Number of channels.
    kernel_size : int, optional
        Odd size of the depthwise kernel (5 by default).
    """

    def __init__(self, c: int, kernel_size: int = 5) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.depthwise = nn.Conv2d(c, c, kernel_size, padding=kernel_size // 2, groups=c)
        self.project = nn.Conv2d(c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the spatial gate of shape ``(N, 1, H, W)``, values in (0, 1)."""
        return torch.sigmoid(self.project(self.depthwise(x)))


class ChannelSpatialAttention(nn.Module):
    """cfasim's reading of LW-ISP's "fine-grained attention": channel then spatial gating.

    ``y = x * g_c(x)``, then ``out = y * g_s(y)`` with the channel gate :class:`ChannelGate`
    (per-channel weight in (0, 1)) and the spatial gate :class:`SpatialGate` (per-pixel weight in
    (0, 1)), i.e. a CBAM-like sequential design. "Fine-grained" is read as "per channel and per
    pixel"; the paper's actual module is not public.

    Parameters
    ----------
    c : int
        Number of channels (input = output).
    reduction : int, optional
        Channel reduction of the channel gate.
    spatial_kernel : int, optional
        Depthwise kernel size of the spatial gate (5 or 7).

    Notes
    -----
    With the last layer of both gates zero-initialised, both gates equal 0.5 and the module
    returns ``0.25 * x``. The gates are submodules (``channel_gate``, ``spatial_gate``) whose
    outputs are the gate tensors, so forward hooks can inspect them.
    """

    def __init__(self, c: int, reduction: int = 4, spatial_kernel: int = 5) -> None:
        super().__init__()
        self.channel_gate = ChannelGate(c, reduction)
        self.spatial_gate = SpatialGate(c, spatial_kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply channel then spatial gating; the output has the input's shape."""
        y = x * self.channel_gate(x)
        return y * self.spatial_gate(y)


class AttentionBlock(nn.Module):
    """Residual block: 3x3 conv, LeakyReLU, 3x3 conv, attention, plus (projected) input.

    ``out = LeakyReLU(attn(conv2(LeakyReLU(conv1(x)))) + skip(x))`` where ``skip`` is the
    identity if ``c_in == c_out`` and a 1x1 conv otherwise. Spatial size is preserved.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    reduction : int, optional
        Channel reduction of the attention's channel gate.
    spatial_kernel : int, optional
        Depthwise kernel size of the attention's spatial gate.
    negative_slope : float, optional
        LeakyReLU slope.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        reduction: int = 4,
        spatial_kernel: int = 5,
        negative_slope: float = NEGATIVE_SLOPE,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.act = nn.LeakyReLU(negative_slope)
        self.attention = ChannelSpatialAttention(c_out, reduction, spatial_kernel)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``(N, c_out, H, W)`` for an input ``(N, c_in, H, W)``."""
        y = self.conv2(self.act(self.conv1(x)))
        return self.act(self.attention(y) + self.skip(x))


# --------------------------------------------------------------------------------------------
# plug-and-play upsampling blocks
# --------------------------------------------------------------------------------------------


def _check_factor(factor: int) -> int:
    if int(factor) != factor or factor < 1:
        raise ValueError(f"upsampling factor must be a positive integer, got {factor!r}")
    return int(factor)


class PixelShuffleUpsampler(nn.Module):
    """Sub-pixel conv: 3x3 conv to ``c_out * factor**2`` channels, then ``PixelShuffle(factor)``.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    factor : int, optional
        Integer upsampling factor (1 gives a plain 3x3 conv).
    """

    def __init__(self, c_in: int, c_out: int, factor: int = 2) -> None:
        super().__init__()
        self.factor = _check_factor(factor)
        self.conv = nn.Conv2d(c_in, c_out * self.factor**2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(self.factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``(N, c_out, factor * H, factor * W)``."""
        return self.shuffle(self.conv(x))


class BilinearConvUpsampler(nn.Module):
    """Bilinear resize by ``factor`` (``align_corners=False``), then a 3x3 conv ``c_in -> c_out``.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    factor : int, optional
        Integer upsampling factor (1 skips the resize).
    """

    def __init__(self, c_in: int, c_out: int, factor: int = 2) -> None:
        super().__init__()
        self.factor = _check_factor(factor)
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``(N, c_out, factor * H, factor * W)``."""
        if self.factor > 1:
            x = F.interpolate(x, scale_factor=self.factor, mode="bilinear", align_corners=False)
        return self.conv(x)


class TransposedConvUpsampler(nn.Module):
    """Transposed conv with stride ``factor`` and an output of exactly ``factor`` x the input.

    Kernel ``2 * factor`` and padding ``factor // 2`` for even factors, kernel ``2 * factor + 1``
    and padding ``(factor + 1) // 2`` for odd ones; both satisfy ``k - 2 p = factor`` so that
    ``(H - 1) * factor - 2 p + k = factor * H``. A kernel that is a multiple of the stride for even
    factors keeps the checkerboard artefacts of transposed convs small.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    factor : int, optional
        Integer upsampling factor.
    """

    def __init__(self, c_in: int, c_out: int, factor: int = 2) -> None:
        super().__init__()
        self.factor = f = _check_factor(factor)
        if f % 2 == 0:
            k, p = 2 * f, f // 2
        else:
            k, p = 2 * f + 1, (f + 1) // 2
        self.conv = nn.ConvTranspose2d(c_in, c_out, k, stride=f, padding=p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``(N, c_out, factor * H, factor * W)``."""
        return self.conv(x)


UPSAMPLERS: dict[str, type[nn.Module]] = {
    "pixelshuffle": PixelShuffleUpsampler,
    "bilinear": BilinearConvUpsampler,
    "transposed": TransposedConvUpsampler,
}
"""Upsampling blocks by name; every block maps ``(N, c_in, H, W) -> (N, c_out, fH, fW)``."""


def make_upsampler(kind: str, c_in: int, c_out: int, factor: int = 2) -> nn.Module:
    """Build a plug-and-play upsampling block by name.

    Parameters
    ----------
    kind : {"pixelshuffle", "bilinear", "transposed"}
        Block type (see :data:`UPSAMPLERS`). All are linear (no activation) so they can be
        swapped without changing the rest of the network.
    c_in, c_out : int
        Input and output channels.
    factor : int, optional
        Integer upsampling factor; the output is exactly ``factor`` times the input size.

    Returns
    -------
    torch.nn.Module
        The block.

    Raises
    ------
    ValueError
        If ``kind`` is unknown (the message lists the choices) or ``factor`` is not a positive
        integer.
    """
    try:
        cls = UPSAMPLERS[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown upsampler {kind!r}; choose one of {sorted(UPSAMPLERS)}"
        ) from None
    return cls(c_in, c_out, factor)


# --------------------------------------------------------------------------------------------
# the U-Net
# --------------------------------------------------------------------------------------------


class CompactLWISP(nn.Module):
    """Attention U-Net RAW -> RGB in the spirit of LW-ISP (architecture: cfasim design choice).

    Layout for ``L = len(widths)`` scales (defaults: ``L = 4``, widths ``w = (16, 32, 64, 128)``),
    packed input ``(N, in_channels, h, w)``::

        module            operation                                         output
        enc[0]            AttentionBlock(in_channels -> w0)                 w0 @ h
        down[i-1],enc[i]  3x3 conv stride 2 (w_{i-1}) + LReLU,              w_i @ h / 2**i
                          AttentionBlock(w_{i-1} -> w_i)
        bottleneck        = enc[L-1] (deepest scale)                        w_{L-1} @ h / 2**(L-1)
        up[i], dec[i]     upsampler(w_{i+1} -> w_i, x2) + LReLU,            w_i @ h / 2**i
                          concat enc[i] output, AttentionBlock(2 w_i -> w_i)
        head_up           upsampler(w0 -> w0, x output_scale) + LReLU       w0 @ output_scale * h
        (mosaic skip)     concat the (N, 1, 2h, 2w) mosaic                  w0 + 1 channels
        head_conv         3x3 conv -> 3, sigmoid                            3 @ output_scale * h

    Decoder scales run deepest first (``i = L-2 .. 0``); all convs use zero padding.

    Parameters
    ----------
    in_channels : int, optional
        Channels of the packed input (4 for 4-plane RAW packing, 12 for the space-to-depth packed
        clean RGB of :func:`compact_clean_teacher`).
    widths : sequence of int, optional
        Channel width per scale, finest first; ``len(widths)`` (>= 2) is the number of scales.
    upsampler : str, optional
        Upsampling block kind for the decoder and the head, see :func:`make_upsampler`.
    output_scale : int, optional
        Output size relative to the packed input: 1 (packed), 2 (mosaic resolution for 4-plane
        packing) or 4 (twice the mosaic resolution, DSLR targets); any positive integer works.
    mosaic_skip : bool, optional
        Concatenate the full-resolution mosaic ``(N, 1, 2h, 2w)`` before the last conv (as in
        PyNET-QxQ). Only valid with ``output_scale == 2``.
    reduction : int, optional
        Channel reduction of the attention's channel gate.
    spatial_kernel : int, optional
        Depthwise kernel of the attention's spatial gate.

    Attributes
    ----------
    input_multiple : int
        ``2 ** (len(widths) - 1)``; packed height and width must be multiples of it (8 by
        default; class attribute for the default depth, instance attribute otherwise).
    output_scale : int
        The output scale relative to the packed input.

    Raises
    ------
    ValueError
        On an unknown upsampler, fewer than two scales, an invalid ``output_scale``, or
        ``mosaic_skip`` with ``output_scale != 2``.
    """

    input_multiple: int = 8
    output_scale: int = 2
    out_channels: int = 3

    def __init__(
        self,
        in_channels: int = 4,
        widths: Sequence[int] = (16, 32, 64, 128),
        upsampler: str = "pixelshuffle",
        output_scale: int = 2,
        mosaic_skip: bool = False,
        reduction: int = 4,
        spatial_kernel: int = 5,
    ) -> None:
        super().__init__()
        widths = tuple(int(c) for c in widths)
        if len(widths) < 2:
            raise ValueError(f"LWISP needs at least two scales, got widths={widths}")
        if upsampler not in UPSAMPLERS:
            raise ValueError(f"unknown upsampler {upsampler!r}; choose one of {sorted(UPSAMPLERS)}")
        if int(output_scale) != output_scale or output_scale < 1:
            raise ValueError(f"output_scale must be a positive integer, got {output_scale!r}")
        if mosaic_skip and output_scale != 2:
            raise ValueError(
                "mosaic_skip concatenates the mosaic at mosaic resolution (2x the packed input) "
                f"and needs output_scale == 2, got output_scale={output_scale}"
            )
        self.in_channels = int(in_channels)
        self.widths = widths
        self.upsampler = upsampler
        self.output_scale = int(output_scale)
        self.mosaic_skip = bool(mosaic_skip)
        self.input_multiple = 2 ** (len(widths) - 1)
        act = NEGATIVE_SLOPE

        def block(c_in: int, c_out: int) -> AttentionBlock:
            return AttentionBlock(c_in, c_out, reduction, spatial_kernel, act)

        self.act = nn.LeakyReLU(act)
        self.enc = nn.ModuleList([block(self.in_channels, widths[0])])
        self.down = nn.ModuleList()
        for c_prev, c in itertools.pairwise(widths):
            self.down.append(nn.Conv2d(c_prev, c_prev, 3, stride=2, padding=1))
            self.enc.append(block(c_prev, c))
        # up[i] / dec[i] produce scale i (i = 0 .. L-2)
        self.up = nn.ModuleList(
            make_upsampler(upsampler, widths[i + 1], widths[i], 2) for i in range(len(widths) - 1)
        )
        self.dec = nn.ModuleList(block(2 * c, c) for c in widths[:-1])
        self.head_up = make_upsampler(upsampler, widths[0], widths[0], self.output_scale)
        self.head_conv = nn.Conv2d(
            widths[0] + int(self.mosaic_skip), self.out_channels, 3, padding=1
        )

    @property
    def bottleneck(self) -> AttentionBlock:
        """The deepest encoder block (``enc[-1]``), shared by encoder and decoder."""
        return self.enc[-1]

    def feature_layers(self) -> dict[str, nn.Module]:
        """Modules whose outputs are the per-scale decoder features, for distillation hooks.

        Returns
        -------
        dict of str to torch.nn.Module
            For ``L`` scales and packed input ``(N, C, h, w)`` (defaults in brackets):

            * ``"dec{L-1}"`` (``"dec3"``): the bottleneck, ``(N, widths[-1], h/2**(L-1), ...)``
              [128 @ h/8];
            * ``"dec{i}"`` for ``i = L-2 .. 0``: decoder block of scale ``i``,
              ``(N, widths[i], h/2**i, w/2**i)`` [``dec2``: 64 @ h/4, ``dec1``: 32 @ h/2,
              ``dec0``: 16 @ h];
            * ``"head"``: the head upsampler (before its LeakyReLU),
              ``(N, widths[0], output_scale*h, output_scale*w)`` [16 @ 2h].

            Ordered deepest first. Student and teacher share the names; channel counts differ
            (use 1x1 adapters).
        """
        n = len(self.widths)
        layers: dict[str, nn.Module] = {f"dec{n - 1}": self.bottleneck}
        for i in reversed(range(n - 1)):
            layers[f"dec{i}"] = self.dec[i]
        layers["head"] = self.head_up
        return layers

    def _check_inputs(self, x: torch.Tensor, mosaic: torch.Tensor | None) -> None:
        m = self.input_multiple
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"LWISP expects a packed input (N, {self.in_channels}, h, w), "
                f"got shape {tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        if h % m or w % m or h == 0 or w == 0:
            raise ValueError(
                f"LWISP needs the packed input's height and width to be non-zero multiples of {m} "
                f"(2**(scales-1) for {len(self.widths)} scales); got shape {tuple(x.shape)}"
            )
        if self.mosaic_skip:
            want = (x.shape[0], 1, 2 * h, 2 * w)
            if mosaic is None:
                raise ValueError(f"mosaic_skip=True needs mosaic of shape {want}, got None")
            if tuple(mosaic.shape) != want:
                raise ValueError(
                    f"mosaic must have shape {want} for packed input {tuple(x.shape)}, "
                    f"got {tuple(mosaic.shape)}"
                )

    def forward(self, x: torch.Tensor, mosaic: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruct RGB from the packed input.

        Parameters
        ----------
        x : torch.Tensor
            Packed input ``(N, in_channels, h, w)``; ``h`` and ``w`` multiples of
            :attr:`input_multiple`.
        mosaic : torch.Tensor, optional
            Full-resolution mosaic ``(N, 1, 2h, 2w)``; required iff ``mosaic_skip``, ignored
            otherwise (every cfasim model takes ``forward(packed, mosaic)``).

        Returns
        -------
        torch.Tensor
            RGB in (0, 1), shape ``(N, 3, output_scale * h, output_scale * w)``.

        Raises
        ------
        ValueError
            On a wrong channel count, a size not divisible by :attr:`input_multiple` (the message
            names the multiple and the received shape), or a missing / unexpected / mis-shaped
            mosaic.
        """
        self._check_inputs(x, mosaic)
        skips = []
        y = self.enc[0](x)
        for down, enc in zip(self.down, self.enc[1:], strict=True):
            skips.append(y)
            y = enc(self.act(down(y)))
        for i in reversed(range(len(self.widths) - 1)):
            y = self.act(self.up[i](y))
            y = self.dec[i](torch.cat([y, skips[i]], dim=1))
        y = self.act(self.head_up(y))
        if self.mosaic_skip:
            y = torch.cat([y, mosaic.to(y.dtype)], dim=1)
        return torch.sigmoid(self.head_conv(y))


# --------------------------------------------------------------------------------------------
# constructors
# --------------------------------------------------------------------------------------------

STUDENT_WIDTHS = (16, 32, 64, 128)
TEACHER_WIDTHS = (32, 64, 128, 256)


def compact_student(**kw) -> CompactLWISP:
    """LW-ISP student: :class:`CompactLWISP` with the defaults (4-plane RAW, widths 16/32/64/128).

    Parameters
    ----------
    **kw
        Forwarded to :class:`CompactLWISP` (overrides the defaults).

    Returns
    -------
    CompactLWISP
        930,210 parameters with the defaults (< 1/20 of PyNET's 47,554,738).
    """
    return CompactLWISP(**kw)


def compact_teacher(**kw) -> CompactLWISP:
    """Wider member of the family (widths 32/64/128/256), RAW input by default.

    Parameters
    ----------
    **kw
        Forwarded to :class:`CompactLWISP`; ``widths`` defaults to ``(32, 64, 128, 256)``. Pass
        ``in_channels=12`` for a teacher on space-to-depth packed RGB (or use
        :func:`compact_clean_teacher`).

    Returns
    -------
    CompactLWISP
        3,695,418 parameters with the defaults.
    """
    kw.setdefault("widths", TEACHER_WIDTHS)
    return CompactLWISP(**kw)


def compact_clean_teacher(**kw) -> CompactLWISP:
    """Heterogeneous-distillation teacher that reconstructs from the clean linear camera RGB.

    cfasim's reading of LW-ISP's heterogeneous distillation (hypothesis, ``models.md`` §4.4): the
    teacher sees the *clean* (noise-free, full-colour) linear camera RGB image at mosaic
    resolution ``(N, 3, H, W)``, packed by :func:`cfasim.train.cfa_adapter.clean_to_s2d`
    (space-to-depth, factor 2) to
    ``(N, 12, h, w)`` with ``h = H / 2`` -- the same grid as the student's 4-plane RAW packing, so
    that teacher and student features align scale by scale and the output convention
    (``output_scale`` times the packed size) is identical. The student (RAW input) then
    matches the teacher's :meth:`CompactLWISP.feature_layers` outputs and its output.

    Parameters
    ----------
    **kw
        Forwarded to :func:`compact_teacher`; ``in_channels`` defaults to 12.

    Returns
    -------
    CompactLWISP
        3,697,978 parameters with the defaults.
    """
    kw.setdefault("in_channels", 12)
    return compact_teacher(**kw)
