"""PyNET (teacher) and PyNET-QxQ (student) for packed 4-plane RAW input.

Both models take the 4-plane packed mosaic ``x`` of shape ``(N, 4, h, w)`` (block-wise packing, see
``cfasim.cfa``) and return RGB in ``[0, 1]`` at twice the packed size, ``(N, 3, 2h, 2w)``.

``PyNET`` follows the layer table of the PyTorch variant of PyNET (Ignatov et al., CVPRW 2020):
a six-level inverted pyramid whose levels 5 (coarsest) to 1 run at ``h / 2**(L - 1)`` and level 0
at ``2h``. Every level ``L >= 1`` has its own sigmoid output head, which is what level-by-level
training supervises. In the reference configuration (``in_channels=4``, ``width=32``,
``levels=5`` and both instance-norm flags on) it has exactly 47,554,738 parameters.

``PyNETQxQ`` is the PyNET-QxQ student (Cho et al., IEEE Access 2023): PyNET level 1 at half width
without the coarser levels, a sub-pixel (PixelShuffle) up-sampling to full resolution and a skip
of the full-resolution single-channel mosaic into the last convolution. Reference configuration:
exactly 1,074,126 parameters.

The building blocks (:class:`ConvLayer`, :class:`MultiConvBlock`, :class:`UpsampleConv`) are the
ones of the PyTorch PyNET: reflection padding, LeakyReLU(0.2), optional affine instance norm.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "ConvLayer",
    "MultiConvBlock",
    "PyNET",
    "PyNETQxQ",
    "UpsampleConv",
]

#: Kernel sizes of the parallel branches of a :class:`MultiConvBlock`.
KERNEL_SIZES = (3, 5, 7, 9)

#: Largest reflection padding used at each PyNET level (largest kernel // 2); a level's feature map
#: must be larger than this on both axes.
_MAX_PAD = {1: 4, 2: 3, 3: 2, 4: 1, 5: 1}


class ConvLayer(nn.Module):
    """Reflection pad -> ``Conv2d`` -> optional instance norm -> optional LeakyReLU(0.2).

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    k : int
        Odd kernel size; the input is reflection-padded by ``k // 2`` so the size is preserved.
    instance_norm : bool, default False
        Apply ``InstanceNorm2d(c_out, affine=True)`` after the convolution.
    relu : bool, default True
        Apply ``LeakyReLU(0.2)`` last. ``False`` gives a plain (padded) convolution, as used by the
        output heads.
    """

    def __init__(
        self, c_in: int, c_out: int, k: int, instance_norm: bool = False, relu: bool = True
    ) -> None:
        super().__init__()
        if k < 1 or k % 2 == 0:
            raise ValueError(f"ConvLayer needs an odd kernel size, got {k}")
        self.in_channels = c_in
        self.out_channels = c_out
        self.pad = nn.ReflectionPad2d(k // 2)
        self.conv = nn.Conv2d(c_in, c_out, k, stride=1, bias=True)
        self.norm = nn.InstanceNorm2d(c_out, affine=True) if instance_norm else None
        self.act = nn.LeakyReLU(0.2) if relu else None

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer to ``x`` of shape ``(N, c_in, H, W)``; returns ``(N, c_out, H, W)``."""
        x = self.conv(self.pad(x))
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        return x


class MultiConvBlock(nn.Module):
    """PyNET multi-convolution block ``MB(c_in -> n, max_kernel)``.

    One branch per kernel size ``k`` in ``(3, 5, 7, 9)`` with ``k <= max_kernel``; each branch is
    ``ConvLayer(c_in -> n, k)`` followed by ``ConvLayer(n -> n, k)``. Branch outputs are
    concatenated along channels in increasing kernel order, so the block outputs
    ``n * len(branches)`` channels (``max_kernel`` 3 -> n, 5 -> 2n, 7 -> 3n, 9 -> 4n).

    Parameters
    ----------
    c_in : int
        Input channels.
    n : int
        Output channels of every branch.
    max_kernel : int
        Largest kernel size, one of 3, 5, 7, 9.
    instance_norm : bool, default False
        Use instance norm in every :class:`ConvLayer` of the block.
    """

    def __init__(self, c_in: int, n: int, max_kernel: int, instance_norm: bool = False) -> None:
        super().__init__()
        if max_kernel not in KERNEL_SIZES:
            raise ValueError(f"max_kernel must be one of {KERNEL_SIZES}, got {max_kernel}")
        self.kernel_sizes = tuple(k for k in KERNEL_SIZES if k <= max_kernel)
        self.in_channels = c_in
        self.out_channels = n * len(self.kernel_sizes)
        self.branches = nn.ModuleList(
            nn.Sequential(
                ConvLayer(c_in, n, k, instance_norm=instance_norm),
                ConvLayer(n, n, k, instance_norm=instance_norm),
            )
            for k in self.kernel_sizes
        )

    def forward(self, x: Tensor) -> Tensor:
        """Run all branches on ``x`` and concatenate their outputs along channels."""
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class UpsampleConv(nn.Module):
    """Bilinear x2 up-sampling (``align_corners=True``) -> reflection pad -> 3x3 conv -> LeakyReLU.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.in_channels = c_in
        self.out_channels = c_out
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=1, bias=True)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        """Return ``(N, c_out, 2H, 2W)`` for ``x`` of shape ``(N, c_in, H, W)``."""
        return self.act(self.conv(self.pad(self.up(x))))


def _head(c_in: int) -> ConvLayer:
    """Output head: padded 3x3 conv to 3 channels, no norm, no activation (sigmoid later)."""
    return ConvLayer(c_in, 3, 3, instance_norm=False, relu=False)


def _cat(*tensors: Tensor | None) -> Tensor:
    """Concatenate the non-``None`` tensors along channels (a single tensor is returned as is)."""
    present = [t for t in tensors if t is not None]
    return present[0] if len(present) == 1 else torch.cat(present, dim=1)


# -------------------------------------------------------------------------------------------------
# PyNET levels. Each level module owns its encoder block ``d1`` (run on the pooled encoder features
# of the finer level, or on the input for level 1), its decoder body, its output head ``out`` and,
# for levels >= 2, the two up-sampling layers ``up_a`` / ``up_b`` (t_{L-1}a / t_{L-1}b) that feed
# the next finer level. ``top=True`` marks the coarsest level of a truncated pyramid
# (``levels < 5``): there are no t_a / t_b inputs, so those concatenations are dropped, and so is
# any residual add whose shapes no longer match. With ``width`` = w, level L has
# c_L = w * 2**(L - 1) channels.
# -------------------------------------------------------------------------------------------------


class _Level(nn.Module):
    """Common interface of the PyNET levels (see the comment above)."""

    d1: MultiConvBlock
    out: ConvLayer | None
    feature: nn.Module  # module whose output is the last feature map before the output head

    def decode(self, d1: Tensor, ta: Tensor | None, tb: Tensor | None) -> Tensor:
        """Return the level's last feature map from its encoder output and the coarser t inputs."""
        raise NotImplementedError

    def output(self, feat: Tensor) -> Tensor:
        """Sigmoid RGB output of the level from its last feature map."""
        return torch.sigmoid(self.out(feat))

    def upsample(self, feat: Tensor) -> tuple[Tensor, Tensor]:
        """The two up-sampled inputs (t_a, t_b) for the next finer level."""
        return self.up_a(feat), self.up_b(feat)


class _Level5(_Level):
    """Level 5 (coarsest, 1/16 of the packed size): four MB(.,3) blocks, no residuals."""

    def __init__(self, w: int, instance_norm: bool) -> None:
        super().__init__()
        c = 16 * w
        self.d1 = MultiConvBlock(c // 2, c, 3, instance_norm)
        self.d2 = MultiConvBlock(c, c, 3, instance_norm)
        self.d3 = MultiConvBlock(c, c, 3, instance_norm)
        self.d4 = MultiConvBlock(c, c, 3, instance_norm)
        self.out = _head(c)
        self.up_a = UpsampleConv(c, c // 2)
        self.up_b = UpsampleConv(c, c // 2)
        self.feature = self.d4

    def decode(self, d1: Tensor, ta: Tensor | None, tb: Tensor | None) -> Tensor:
        return self.d4(self.d3(self.d2(d1)))


class _Level4(_Level):
    """Level 4 (1/8): cat(d1, t4a) -> MB -> 2 residual MBs -> MB -> cat(., t4b) -> MB."""

    def __init__(self, w: int, instance_norm: bool, top: bool) -> None:
        super().__init__()
        c = 8 * w
        t = 0 if top else c
        self.d1 = MultiConvBlock(c // 2, c, 3, instance_norm)
        self.d3 = MultiConvBlock(c + t, c, 3, instance_norm)
        self.d4 = MultiConvBlock(c, c, 3, instance_norm)
        self.d5 = MultiConvBlock(c, c, 3, instance_norm)
        self.d6 = MultiConvBlock(c, c, 3, instance_norm)
        self.d8 = MultiConvBlock(c + t, c, 3, instance_norm)
        self.out = _head(c)
        self.up_a = UpsampleConv(c, c // 2)
        self.up_b = UpsampleConv(c, c // 2)
        self.feature = self.d8

    def decode(self, d1: Tensor, ta: Tensor | None, tb: Tensor | None) -> Tensor:
        d3 = self.d3(_cat(d1, ta))
        d4 = self.d4(d3) + d3
        d5 = self.d5(d4) + d4
        d6 = self.d6(d5)
        return self.d8(_cat(d6, tb))


class _Level3(_Level):
    """Level 3 (1/4): cat(d1, t3a) -> 3 residual MB(.,5) -> MB(.,5) -> cat(., d1, t3b) -> MB."""

    def __init__(self, w: int, instance_norm: bool, top: bool) -> None:
        super().__init__()
        c = 4 * w
        t = 0 if top else c
        self.d1 = MultiConvBlock(c // 2, c, 3, instance_norm)
        self.d3 = MultiConvBlock(c + t, c, 5, instance_norm)  # 2c out
        self.d4 = MultiConvBlock(2 * c, c, 5, instance_norm)
        self.d5 = MultiConvBlock(2 * c, c, 5, instance_norm)
        self.d6 = MultiConvBlock(2 * c, c, 5, instance_norm)
        self.d8 = MultiConvBlock(3 * c + t, c, 3, instance_norm)
        self.out = _head(c)
        self.up_a = UpsampleConv(c, c // 2)
        self.up_b = UpsampleConv(c, c // 2)
        self.feature = self.d8

    def decode(self, d1: Tensor, ta: Tensor | None, tb: Tensor | None) -> Tensor:
        d2 = _cat(d1, ta)
        d3 = self.d3(d2)
        if d3.shape[1] == d2.shape[1]:  # residual only when t3a is present (channels match)
            d3 = d3 + d2
        d4 = self.d4(d3) + d3
        d5 = self.d5(d4) + d4
        d6 = self.d6(d5)
        return self.d8(_cat(d6, d1, tb))


class _Level2(_Level):
    """Level 2 (1/2): MB(.,5), three residual MB(.,7), MB(.,7), MB(.,5), MB(.,3) with d1 skips."""

    def __init__(self, w: int, instance_norm: bool, top: bool) -> None:
        super().__init__()
        c = 2 * w
        t = 0 if top else c
        self.d1 = MultiConvBlock(c // 2, c, 3, instance_norm)
        self.d3 = MultiConvBlock(c + t, c, 5, instance_norm)  # 2c
        self.d5 = MultiConvBlock(3 * c, c, 7, instance_norm)  # 3c
        self.d6 = MultiConvBlock(3 * c, c, 7, instance_norm)
        self.d7 = MultiConvBlock(3 * c, c, 7, instance_norm)
        self.d8 = MultiConvBlock(3 * c, c, 7, instance_norm)
        self.d10 = MultiConvBlock(4 * c, c, 5, instance_norm)  # 2c
        self.d12 = MultiConvBlock(2 * c + t, c, 3, instance_norm)  # c
        self.out = _head(c)
        self.up_a = UpsampleConv(c, c // 2)
        self.up_b = UpsampleConv(c, c // 2)
        self.feature = self.d12

    def decode(self, d1: Tensor, ta: Tensor | None, tb: Tensor | None) -> Tensor:
        d3 = self.d3(_cat(d1, ta))
        d4 = torch.cat([d3, d1], dim=1)
        d5 = self.d5(d4) + d4
        d6 = self.d6(d5) + d5
        d7 = self.d7(d6) + d6
        d8 = self.d8(d7)
        d10 = self.d10(torch.cat([d8, d1], dim=1))
        return self.d12(_cat(d10, tb))


class _Level1(_Level):
    """Level 1 (packed resolution), the d1..d14 chain of the layer table.

    ``d1``, ``d3`` and ``d14`` never use instance norm; ``d5`` .. ``d12`` use it if
    ``instance_norm`` is set. ``head=False`` omits the level-1 output head (PyNET-QxQ has none).
    """

    def __init__(
        self, c_in: int, w: int, instance_norm: bool, top: bool, head: bool = True
    ) -> None:
        super().__init__()
        c = w
        t = 0 if top else c
        self.d1 = MultiConvBlock(c_in, c, 3, False)
        self.d3 = MultiConvBlock(c + t, c, 5, False)  # 2c
        self.d5 = MultiConvBlock(3 * c, c, 7, instance_norm)  # 3c
        self.d6 = MultiConvBlock(3 * c, c, 9, instance_norm)  # 4c
        self.d7 = MultiConvBlock(4 * c, c, 9, instance_norm)
        self.d8 = MultiConvBlock(4 * c, c, 9, instance_norm)
        self.d9 = MultiConvBlock(4 * c, c, 9, instance_norm)
        self.d10 = MultiConvBlock(4 * c, c, 7, instance_norm)  # 3c
        self.d12 = MultiConvBlock(4 * c, c, 5, instance_norm)  # 2c
        self.d14 = MultiConvBlock(3 * c + t, c, 3, False)  # c
        self.out = _head(c) if head else None
        self.feature = self.d14

    def decode(self, d1: Tensor, ta: Tensor | None, tb: Tensor | None) -> Tensor:
        d3 = self.d3(_cat(d1, ta))
        d5 = self.d5(torch.cat([d3, d1], dim=1))
        d6 = self.d6(d5)
        d7 = self.d7(d6) + d6
        d8 = self.d8(d7) + d7
        d9 = self.d9(d8) + d8
        d10 = self.d10(d9)
        d12 = self.d12(torch.cat([d10, d1], dim=1))
        return self.d14(_cat(d12, tb, d1))


class _Level0(nn.Module):
    """PyNET level 0: t0 = UpsampleConv(w -> w/2) to twice the packed size, then conv(w/2 -> 3)."""

    def __init__(self, w: int) -> None:
        super().__init__()
        self.up = UpsampleConv(w, w // 2)
        self.out = _head(w // 2)
        self.feature = self.up

    def forward(self, feat1: Tensor) -> Tensor:
        """Sigmoid RGB at ``2h x 2w`` from the level-1 feature map."""
        return torch.sigmoid(self.out(self.up(feat1)))


def _shape_text(x: Tensor) -> str:
    return "x".join(str(s) for s in x.shape[1:]) if x.ndim >= 3 else "x".join(map(str, x.shape))


class PyNET(nn.Module):
    """PyNET inverted-pyramid RAW-to-RGB network (PyTorch variant of the layer table).

    Levels ``levels .. 1`` run at ``h / 2**(L - 1)`` of the packed input; level 0 at ``2h``. The
    forward pass always computes every coarser level, and ``level`` selects which output is
    returned (the one supervised in level-by-level training, 5 -> 0). All modules exist whatever
    ``level`` is, so the parameter count does not depend on it.

    Parameters
    ----------
    level : int, default 0
        Output level returned by :meth:`forward`, ``0 <= level <= levels``. Can be changed later by
        assigning ``model.level``.
    instance_norm : bool, default True
        Instance norm in all multi-conv blocks of levels 2-5 (including their encoder blocks).
    instance_norm_level_1 : bool, default True
        Instance norm in the level-1 blocks d5-d12 (d1, d3, d14 never use it).
    in_channels : int, default 4
        Packed input planes.
    width : int, default 32
        Level-1 channel width ``w`` (even); level ``L`` uses ``w * 2**(L - 1)`` channels and
        level 0 ``w / 2``. ``width=16`` gives a half-width PyNET.
    levels : int, default 5
        Number of pyramid levels above level 0, 1 to 5. ``levels < 5`` drops the coarsest levels:
        the new coarsest level keeps its layer table minus the concatenations with the (now
        absent) up-sampled inputs t_a / t_b, and minus the one residual add (level 3, d3) whose
        shapes then no longer match. ``levels=1, width=16`` is the PyNET-QxQ level-1 body with
        PyNET's level 0.

    Attributes
    ----------
    input_multiple : int
        Packed height and width must be multiples of this (``2**(levels - 1)``, 16 for the
        reference).
    output_scale : int
        Output side / packed side of the level-0 output (2).

    Notes
    -----
    Reference configuration (``in_channels=4, width=32, levels=5``, both instance-norm flags True):
    exactly 47,554,738 parameters. Each level's feature map must also be larger than its largest
    reflection padding, so the smallest packed size is 32 for ``levels=5`` (level 5 at 2x2).
    """

    input_multiple = 16
    output_scale = 2

    def __init__(
        self,
        level: int = 0,
        instance_norm: bool = True,
        instance_norm_level_1: bool = True,
        in_channels: int = 4,
        width: int = 32,
        levels: int = 5,
    ) -> None:
        super().__init__()
        if not 1 <= levels <= 5:
            raise ValueError(f"levels must be in 1..5, got {levels}")
        if width < 2 or width % 2:
            raise ValueError(f"width must be a positive even number, got {width}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be positive, got {in_channels}")
        self.in_channels = in_channels
        self.width = width
        self.levels = levels
        self.input_multiple = 2 ** (levels - 1)
        w = width
        self.level1 = _Level1(in_channels, w, instance_norm_level_1, top=levels == 1)
        if levels >= 2:
            self.level2 = _Level2(w, instance_norm, top=levels == 2)
        if levels >= 3:
            self.level3 = _Level3(w, instance_norm, top=levels == 3)
        if levels >= 4:
            self.level4 = _Level4(w, instance_norm, top=levels == 4)
        if levels >= 5:
            self.level5 = _Level5(w, instance_norm)
        self.level0 = _Level0(w)
        self.pool = nn.MaxPool2d(2, 2)
        self.level = level

    @property
    def level(self) -> int:
        """Output level returned by :meth:`forward` (0 = full resolution)."""
        return self._level

    @level.setter
    def level(self, value: int) -> None:
        if not 0 <= int(value) <= self.levels:
            raise ValueError(f"level must be in 0..{self.levels}, got {value}")
        self._level = int(value)

    def _pyramid(self, lvl: int) -> _Level:
        return getattr(self, f"level{lvl}")

    def check_input(self, x: Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is ``(N, in_channels, h, w)`` with a usable size."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"PyNET expects packed input of shape (N, {self.in_channels}, h, w), "
                f"got {tuple(x.shape)}"
            )
        m = self.input_multiple
        h, w = x.shape[-2:]
        if h % m or w % m:
            raise ValueError(
                f"PyNET needs packed height and width divisible by {m} (mosaic divisible by "
                f"{2 * m}), got {_shape_text(x)}"
            )
        for lvl in range(1, self.levels + 1):
            s = min(h, w) // 2 ** (lvl - 1)
            if s <= _MAX_PAD[lvl]:
                raise ValueError(
                    f"PyNET input too small: level {lvl} would be {s} px, needs > {_MAX_PAD[lvl]} "
                    f"(packed side >= {(_MAX_PAD[lvl] + 1) * 2 ** (lvl - 1)}), got {_shape_text(x)}"
                )

    def _run(self, x: Tensor, stop: int, all_outputs: bool) -> dict[int, Tensor]:
        self.check_input(x)
        # Encoder: d1 of every level, max-pooled between levels.
        enc: dict[int, Tensor] = {}
        h = x
        for lvl in range(1, self.levels + 1):
            if lvl > 1:
                h = self.pool(h)
            h = enc[lvl] = self._pyramid(lvl).d1(h)
        # Decoder: coarse to fine, down to ``stop``.
        outputs: dict[int, Tensor] = {}
        ta = tb = None
        feat = None
        for lvl in range(self.levels, max(stop, 1) - 1, -1):
            block = self._pyramid(lvl)
            feat = block.decode(enc[lvl], ta, tb)
            if all_outputs or lvl == stop:
                outputs[lvl] = block.output(feat)
            if lvl > max(stop, 1):
                ta, tb = block.upsample(feat)
        if stop == 0:
            outputs[0] = self.level0(feat)
        return outputs

    def forward(self, x: Tensor, mosaic: Tensor | None = None) -> Tensor:
        """RGB output of level ``self.level``.

        Parameters
        ----------
        x : Tensor
            Packed planes ``(N, in_channels, h, w)``, ``h`` and ``w`` multiples of
            :attr:`input_multiple`.
        mosaic : Tensor, optional
            Ignored; accepted so that PyNET and :class:`PyNETQxQ` share one call signature.

        Returns
        -------
        Tensor
            ``(N, 3, 2h, 2w)`` for level 0, ``(N, 3, h / 2**(L - 1), w / 2**(L - 1))`` for level
            ``L >= 1``, values in ``[0, 1]``.

        Raises
        ------
        ValueError
            If ``x`` has the wrong shape or a size not usable by the pyramid.
        """
        return self._run(x, self.level, all_outputs=False)[self.level]

    def forward_levels(self, x: Tensor, mosaic: Tensor | None = None) -> dict[int, Tensor]:
        """Outputs of every level from ``levels`` (coarsest) down to ``self.level``.

        Returns
        -------
        dict[int, Tensor]
            Level -> sigmoid RGB output, shapes as in :meth:`forward`.
        """
        return self._run(x, self.level, all_outputs=True)

    def feature_layers(self) -> dict[str, nn.Module]:
        """Modules whose outputs are each level's last feature map before its output head.

        Register forward hooks on them for feature distillation. A hook fires only when the level
        is computed, i.e. for levels ``>= self.level``. With ``w = width`` and packed size ``h``:

        - ``"level5"``: ``level5.d4``, ``16w`` channels at ``h/16``;
        - ``"level4"``: ``level4.d8``, ``8w`` channels at ``h/8``;
        - ``"level3"``: ``level3.d8``, ``4w`` channels at ``h/4``;
        - ``"level2"``: ``level2.d12``, ``2w`` channels at ``h/2``;
        - ``"level1"``: ``level1.d14``, ``w`` channels at ``h``;
        - ``"level0"``: ``level0.up`` (t0), ``w/2`` channels at ``2h``.

        Only levels up to ``levels`` are present.
        """
        layers = {f"level{lvl}": self._pyramid(lvl).feature for lvl in range(self.levels, 0, -1)}
        layers["level0"] = self.level0.feature
        return layers


class PyNETQxQ(nn.Module):
    """PyNET-QxQ student: PyNET level 1 at half width + sub-pixel level 0 with a mosaic skip.

    Layers: the level-1 chain d1..d14 with width ``width`` and no coarser levels (no pooling, no
    t1a / t1b inputs, no level-1 output head); t0 = conv3x3(width -> 4 * width) + PixelShuffle(2),
    i.e. ``width`` channels at twice the packed size; concatenation with the full-resolution
    single-channel mosaic; conv3x3(width + 1 -> 3); sigmoid.

    Parameters
    ----------
    in_channels : int, default 4
        Packed input planes.
    width : int, default 16
        Channel width of level 1 (PyNET uses 32).
    instance_norm : bool, default True
        Instance norm in blocks d5-d12 (d1, d3, d14 never use it).

    Attributes
    ----------
    input_multiple : int
        1: no pooling, any packed size (larger than 4 px) works.
    output_scale : int
        Output side / packed side (2).

    Notes
    -----
    Reference configuration (``in_channels=4, width=16, instance_norm=True``): exactly 1,074,126
    parameters.
    """

    input_multiple = 1
    output_scale = 2
    level = 0
    levels = 1

    def __init__(self, in_channels: int = 4, width: int = 16, instance_norm: bool = True) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        self.in_channels = in_channels
        self.width = width
        self.level1 = _Level1(in_channels, width, instance_norm, top=True, head=False)
        self.t0 = nn.Sequential(
            ConvLayer(width, 4 * width, 3, instance_norm=False, relu=False), nn.PixelShuffle(2)
        )
        self.out = ConvLayer(width + 1, 3, 3, instance_norm=False, relu=False)

    def check_input(self, x: Tensor, mosaic: Tensor) -> None:
        """Raise ``ValueError`` unless x is ``(N, C, h, w)`` and mosaic ``(N, 1, 2h, 2w)``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"PyNETQxQ expects packed input of shape (N, {self.in_channels}, h, w), "
                f"got {tuple(x.shape)}"
            )
        n, _, h, w = x.shape
        if mosaic is None or tuple(mosaic.shape) != (n, 1, 2 * h, 2 * w):
            got = None if mosaic is None else tuple(mosaic.shape)
            raise ValueError(
                f"PyNETQxQ needs the full-resolution mosaic of shape (N, 1, 2h, 2w) = "
                f"{(n, 1, 2 * h, 2 * w)} for packed input {tuple(x.shape)}, got {got}"
            )
        if min(h, w) <= _MAX_PAD[1]:
            raise ValueError(
                f"PyNETQxQ input too small: packed side must be > {_MAX_PAD[1]}, "
                f"got {_shape_text(x)}"
            )

    def forward(self, x: Tensor, mosaic: Tensor) -> Tensor:
        """Full-resolution RGB from packed planes and the mosaic.

        Parameters
        ----------
        x : Tensor
            Packed planes ``(N, in_channels, h, w)``.
        mosaic : Tensor
            The same mosaic unpacked, ``(N, 1, 2h, 2w)``.

        Returns
        -------
        Tensor
            ``(N, 3, 2h, 2w)`` in ``[0, 1]``.

        Raises
        ------
        ValueError
            If the shapes do not match as described.
        """
        self.check_input(x, mosaic)
        feat = self.level1.decode(self.level1.d1(x), None, None)
        t0 = self.t0(feat)
        return torch.sigmoid(self.out(torch.cat([t0, mosaic.to(t0.dtype)], dim=1)))

    def forward_levels(self, x: Tensor, mosaic: Tensor) -> dict[int, Tensor]:
        """``{0: forward(x, mosaic)}``; the student has no side outputs (same API as PyNET)."""
        return {0: self.forward(x, mosaic)}

    def feature_layers(self) -> dict[str, nn.Module]:
        """Modules whose outputs are the student's feature maps, for distillation hooks.

        - ``"level1"``: ``level1.d14``, ``width`` channels at the packed size ``h`` (the counterpart
          of PyNET's ``"level1"``);
        - ``"level0"``: ``t0`` (conv + PixelShuffle), ``width`` channels at ``2h``, before the
          concatenation with the mosaic.
        """
        return {"level1": self.level1.feature, "level0": self.t0}
