"""CFA adapters: a batch of RAW mosaics -> model inputs, with torch ops only (CPU or GPU).

:class:`CFAAdapter` normalises RAW codes to linear values and packs the mosaic for a network:

- ``"planes"``: the block-wise 4-plane packing of :meth:`cfasim.cfa.CFAPattern.pack_planes`
  (PyNET-QxQ's packing; plain 2x2 packing for Bayer), ``(N, H, W) -> (N, 4, H/2, W/2)``; block
  patterns of any block size only (Bayer, Quad, Nona, QxQ, ``blockN``);
- ``"s2d"``: full space-to-depth by the period (:meth:`CFAPattern.space_to_depth`),
  ``(N, H, W) -> (N, py*px, H/py, W/px)``; any tile (up to :data:`cfasim.cfa.MAX_PERIOD`, so at
  most 1024 channels, 4096 with the masks).

Channel layouts are those of the NumPy methods, channels first (NumPy gives channels last).
:func:`clean_to_s2d` packs the clean linear RGB of a dataset for the clean-image teacher.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from cfasim.cfa import CFAPattern, get_pattern

PACKINGS = ("planes", "s2d")
"""Packings of :class:`CFAAdapter`."""
CONDITIONS = ("none", "wb", "noise", "wb+noise")
"""Per-sample metadata a model may be conditioned on (``model.condition``): the white balance,
the noise level, or both."""

INPUT_CONVENTIONS = {
    "cfasim": None,  # (code - black) / (white - black), planes in raster order
    "pynet1020": ("pynet", (0.0, 1020.0)),  # the public PyNET code: no black level, / (4 * 255)
    "pynet1023": ("pynet", (0.0, 1023.0)),  # the same with the true 10-bit maximum
}
"""How RAW codes become a model's input: cfasim's (black-subtracted, raster planes) or the
public PyNET code's (no black subtraction, / 1020 or / 1023, planes in the order B, Gb, R, Gr:
``raw[1::2, 1::2], raw[0::2, 1::2], raw[0::2, 0::2], raw[1::2, 0::2]`` for RGGB), so that
public checkpoints run unchanged."""


def convention_settings(convention: str, black: float, white: float, packing: str = "planes"):
    """``(order, normalize)`` of :class:`CFAAdapter` for an input convention of a dataset with
    levels ``black``/``white``.

    Raises
    ------
    ConfigError
        For an unknown convention, or a PyNET convention without ``planes`` packing.
    """
    from cfasim.errors import ConfigError

    if convention not in INPUT_CONVENTIONS:
        raise ConfigError(
            f"model.input_convention = {convention!r}: choose one of {', '.join(INPUT_CONVENTIONS)}"
        )
    settings = INPUT_CONVENTIONS[convention]
    if settings is None:
        return "raster", (float(black), float(white))
    if packing != "planes":
        raise ConfigError(f"model.input_convention = {convention!r} needs model.packing = planes")
    return settings


class CFAAdapter:
    """Normalise and pack a batch of CFA mosaics for a network.

    Parameters
    ----------
    pattern
        A :class:`cfasim.cfa.CFAPattern` or a pattern spec (``"nona"``, ``"qxq:grbg"``,
        ``"block5"``, tile text).
    packing
        ``"planes"`` (block-wise 4-plane packing, block patterns only) or ``"s2d"`` (space-to-depth
        by the period, any tile); see the module docstring.
    with_mask
        Also return the three one-hot colour-site masks (R, G, B; W sites are 0 in all three) and
        append them to ``packed``, packed the same way, colour-major: the channels are
        ``[mosaic (C), R mask (C), G mask (C), B mask (C)]``.
    normalize
        ``(black, white)``: RAW codes become ``(raw - black) / (white - black)``, **not clipped**:
        noise can put codes below black (negative values), and clipping them would bias dark
        regions; codes above white do not occur (the ADC clips at white). ``None`` leaves float
        input as it is (already linear); integer input then raises ValueError. Kept as the
        attribute ``normalize`` (a tuple of floats, or ``None``).
    order
        Plane order of ``"planes"`` packing: ``"raster"`` (block positions top-left, top-right,
        bottom-left, bottom-right, as ``pattern.plane_colors()`` says) or ``"pynet"``.
    condition
        One of :data:`CONDITIONS`. ``"wb"``: the model is conditioned on the sample's white
        balance, as a classical pipeline is: every colour site of the normalised mosaic is
        multiplied by its channel's gain (the stored white-balance gains times the digital gain,
        passed to :meth:`__call__` as ``wb``) before packing, so the network sees a balanced
        mosaic. ``"noise"``: a noise-level map is appended to ``packed``, packed like the
        mosaic (``packed_channels`` more channels, after the masks): the per-site standard
        deviation ``sqrt(max(shot * x, 0) + read)`` of the normalised mosaic x, estimated from x
        itself as Brooks et al. (2019, Sec. 4) give their denoiser the shot / read variance map,
        with the sample's stored coefficients (``noise``: ``(shot, read)`` in normalised units);
        with ``"wb+noise"`` both, the map then scaled by the gains (the noise of the balanced
        mosaic the network sees).

    Raises
    ------
    ValueError
        Unknown packing, or ``"planes"`` for a pattern that is not a block pattern.
    """

    def __init__(
        self,
        pattern: CFAPattern | str,
        packing: str = "planes",
        with_mask: bool = False,
        normalize: tuple[float, float] | None = None,
        order: str = "raster",
        convention: str = "cfasim",
        condition: str = "none",
    ):
        self.pattern = get_pattern(pattern)
        if condition not in CONDITIONS:
            raise ValueError(f"unknown condition {condition!r}; choose one of {CONDITIONS}")
        self.condition = condition
        self.uses_wb = condition in ("wb", "wb+noise")
        self.uses_noise = condition in ("noise", "wb+noise")
        if packing not in PACKINGS:
            raise ValueError(f"unknown packing {packing!r}; choose one of {', '.join(PACKINGS)}")
        if packing == "planes" and self.pattern.block is None:
            raise ValueError(
                f"'planes' packing needs a block pattern (bayer, quad, nona, qxq, blockN); "
                f"{self.pattern.label!r} is not one: use packing='s2d'"
            )
        self.packing = packing
        self.with_mask = bool(with_mask)
        self.order = order
        self.convention = convention  # a non-cfasim one takes RAW codes as stored (no rescale)
        self._planes = self.pattern.plane_order(order) if packing == "planes" else None
        if normalize is None:
            self.normalize = None
        else:
            black, white = (float(v) for v in normalize)
            if not white > black:
                raise ValueError(f"normalize=(black, white) needs white > black, got {normalize}")
            self.normalize = (black, white)
        py, px = self.pattern.period
        self._tile = torch.tensor(self.pattern.tile_rows, dtype=torch.int64)
        self._mask_cache: dict[tuple, torch.Tensor] = {}
        if packing == "planes":
            self.factor = (2, 2)
            self.packed_channels = 4
        else:
            self.factor = (py, px)
            self.packed_channels = py * px

    @classmethod
    def for_dataset(cls, dataset, packing: str = "planes", with_mask: bool = False, **kwargs):
        """Adapter for a :class:`cfasim.train.data.CFADataset` (its pattern, black and white)."""
        kwargs.setdefault("normalize", (dataset.black, dataset.white))
        return cls(dataset.pattern, packing=packing, with_mask=with_mask, **kwargs)

    @property
    def in_channels(self) -> int:
        """Channels of ``packed``: C, 4C with the masks, one C more with the noise map (C = 4
        for planes, py*px for s2d)."""
        return self.packed_channels * ((4 if self.with_mask else 1) + int(self.uses_noise))

    # -- sizes ----------------------------------------------------------------------------------

    def required_multiple(self, input_multiple: int = 1) -> tuple[int, int]:
        """Mosaic (height, width) multiples that fit the period and a packed-size multiple."""
        if input_multiple < 1:
            raise ValueError(f"input_multiple must be >= 1, got {input_multiple}")
        (py, px), (fy, fx) = self.pattern.period, self.factor
        return math.lcm(py, fy * input_multiple), math.lcm(px, fx * input_multiple)

    def check_size(
        self, height: int, width: int, input_multiple: int = 1, model: str | None = None
    ) -> tuple[int, int]:
        """Check a mosaic size; return the packed (h, w).

        Parameters
        ----------
        height, width
            Mosaic size.
        input_multiple
            What the model needs its (packed) input size to be divisible by, e.g. 16 for a
            network with four 2x downsamplings.
        model
            Model name for the error message.

        Raises
        ------
        ValueError
            Naming the pattern, the size, the period, the packed-size multiple and the mosaic
            multiple that satisfies both.
        """
        my, mx = self.required_multiple(input_multiple)
        if height > 0 and width > 0 and height % my == 0 and width % mx == 0:
            return height // self.factor[0], width // self.factor[1]
        py, px = self.pattern.period
        period = f"{py}" if py == px else f"{py}x{px}"
        mult = f"{my}" if my == mx else f"{my}x{mx}"
        need = f"needs a multiple of {period} (period)"
        if input_multiple > 1:
            who = f" for {model}" if model else ""
            need += f" and packed size divisible by {input_multiple}{who}"
        fy, fx = self.factor
        factor = f"{fy}" if fy == fx else f"{fy}x{fx}"
        hint = ""
        if height >= my and width >= mx:
            hint = f", e.g. crop to {height // my * my}x{width // mx * mx}"
        raise ValueError(
            f"{self.pattern.label} mosaic {height}x{width}: {need} -> mosaic multiple of {mult} "
            f"({self.packing!r} packing divides the size by {factor}){hint}"
        )

    def packed_size(self, height: int, width: int) -> tuple[int, int]:
        """Packed (h, w) of a mosaic size (ValueError unless it is a multiple of the period)."""
        return self.check_size(height, width)

    # -- packing --------------------------------------------------------------------------------

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """Pack mosaics (N, H, W) or (N, 1, H, W) -> (N, C, h, w); no normalisation."""
        x = _as_nhw(x)
        n, h, w = x.shape
        self.check_size(h, w)
        if self.packing == "s2d":
            py, px = self.pattern.period
            x = x.reshape(n, h // py, py, w // px, px).permute(0, 2, 4, 1, 3)
            return x.reshape(n, py * px, h // py, w // px)
        b = self.pattern.block
        # (n, block row, pos y, in-block y, block col, pos x, in-block x)
        x = x.reshape(n, h // (2 * b), 2, b, w // (2 * b), 2, b).permute(0, 2, 5, 1, 3, 4, 6)
        x = x.reshape(n, 4, h // 2, w // 2)
        if self._planes != (0, 1, 2, 3):
            x = x[:, list(self._planes)]
        return x

    def masks(self, height: int, width: int, device=None) -> torch.Tensor:
        """(3, height, width) float32 one-hot masks of the R, G and B sites (cached)."""
        key = (height, width, str(torch.device(device) if device is not None else "cpu"))
        m = self._mask_cache.get(key)
        if m is None:
            idx = self.color_index(height, width, device)
            colors = torch.arange(3, device=idx.device).view(3, 1, 1)
            m = (idx.unsqueeze(0) == colors).to(torch.float32)
            self._mask_cache[key] = m
        return m

    def color_index(self, height: int, width: int, device=None) -> torch.Tensor:
        """(height, width) int64 colour of every site (0 R, 1 G, 2 B, 3 W; cached)."""
        key = ("index", height, width, str(torch.device(device) if device is not None else "cpu"))
        idx = self._mask_cache.get(key)
        if idx is None:
            self.check_size(height, width)
            py, px = self.pattern.period
            idx = self._tile.to(device).repeat(height // py, width // px)
            self._mask_cache[key] = idx
        return idx

    def to_linear(self, raw: torch.Tensor) -> torch.Tensor:
        """RAW codes -> float32 linear values ``(raw - black) / (white - black)``, not clipped."""
        if self.normalize is None:
            if not raw.is_floating_point():
                raise ValueError(
                    f"integer RAW codes ({raw.dtype}) need normalize=(black, white); "
                    "use CFAAdapter.for_dataset(dataset) or pass the store's raw_format"
                )
            return raw.to(torch.float32)
        black, white = self.normalize
        return (raw.to(torch.float32) - black) * (1.0 / (white - black))

    def __call__(
        self, raw: torch.Tensor, wb: torch.Tensor | None = None, noise: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Normalise and pack a batch.

        Parameters
        ----------
        raw
            (N, H, W) or (N, 1, H, W) mosaics, uint16 RAW codes or float.
        wb
            (N, 3) per-sample channel gains, required when conditioned on the white balance
            (ignored otherwise).
        noise
            (N, 2) per-sample ``(shot, read)`` variance coefficients in normalised units,
            required when conditioned on the noise level (ignored otherwise).

        Returns
        -------
        dict
            ``packed`` (N, in_channels, h, w) float32, ``mosaic`` (N, 1, H, W) float32 and with
            ``with_mask`` also ``mask`` (N, 3, H, W) float32 (an expanded view, do not modify).
        """
        raw = _as_nhw(raw)
        n, h, w = raw.shape
        self.check_size(h, w)
        mosaic = self.to_linear(raw)
        sigma = self._noise_map(noise, mosaic) if self.uses_noise else None
        if self.uses_wb:
            gains = self._site_gains(wb, n, h, w, raw.device)
            mosaic = mosaic * gains
            sigma = None if sigma is None else sigma * gains
        packed = [self.pack(mosaic)]
        out = {"mosaic": mosaic.unsqueeze(1)}
        if self.with_mask:
            m = self.masks(h, w, raw.device)
            packed.append(self.pack(m).reshape(1, -1, *packed[0].shape[-2:]).expand(n, -1, -1, -1))
            out["mask"] = m.unsqueeze(0).expand(n, -1, -1, -1)
        if sigma is not None:
            packed.append(self.pack(sigma))
        out["packed"] = (torch.cat(packed, dim=1) if len(packed) > 1 else packed[0]).contiguous()
        return out

    def _noise_map(self, noise, mosaic: torch.Tensor) -> torch.Tensor:
        """(N, H, W) noise standard deviation of each site, from the sample's coefficients."""
        n = mosaic.shape[0]
        if noise is None:
            raise ValueError(
                "this model is conditioned on the noise level: pass noise=(N, 2) (shot, read)"
            )
        noise = torch.as_tensor(noise, dtype=torch.float32, device=mosaic.device).reshape(-1, 2)
        if noise.shape[0] != n or not bool(torch.isfinite(noise).all()) or bool((noise < 0).any()):
            raise ValueError(
                f"noise must be {n} finite, non-negative (shot, read) pairs, got "
                f"{tuple(noise.shape)}"
            )
        shot, read = noise[:, 0].view(n, 1, 1), noise[:, 1].view(n, 1, 1)
        return torch.sqrt((shot * mosaic).clamp(min=0) + read)

    def _site_gains(self, wb, n: int, h: int, w: int, device) -> torch.Tensor:
        """(N, H, W) gain of each site's colour (W sites: 1)."""
        if wb is None:
            raise ValueError("this model is conditioned on white balance: pass wb=(N, 3) gains")
        wb = torch.as_tensor(wb, dtype=torch.float32, device=device).reshape(-1, 3)
        if wb.shape[0] != n or not bool(torch.isfinite(wb).all()):
            raise ValueError(f"wb must be {n} finite gain triples, got {tuple(wb.shape)}")
        idx = self.color_index(h, w, device).reshape(-1)
        table = torch.cat([wb, torch.ones(n, 1, device=device)], dim=1)  # index 3: W sites
        return table[:, idx].reshape(n, h, w)

    @staticmethod
    def clean_to_s2d(clean: torch.Tensor, channels_last: bool | None = None) -> torch.Tensor:
        """Same as the module function :func:`clean_to_s2d`."""
        return clean_to_s2d(clean, channels_last)

    def __repr__(self) -> str:
        return (
            f"CFAAdapter({self.pattern.label!r}, packing={self.packing!r}, "
            f"with_mask={self.with_mask}, normalize={self.normalize}, "
            f"in_channels={self.in_channels})"
        )


def clean_to_s2d(clean: torch.Tensor, channels_last: bool | None = None) -> torch.Tensor:
    """Space-to-depth by 2 of clean linear RGB: (N, H, W, 3) or (N, 3, H, W) -> (N, 12, H/2, W/2).

    Channel ``k = c * 4 + dy * 2 + dx`` holds colour c (R, G, B) at offset (dy, dx) in each 2x2
    cell (``torch.nn.functional.pixel_unshuffle``). Values are kept (float32), not normalised.

    Parameters
    ----------
    clean
        Batch of clean images; the layout is taken from ``channels_last`` or, if ``None``, from
        which axis has size 3 (channels last when the last axis is 3 and axis 1 is not).
    """
    if clean.ndim != 4:
        raise ValueError(
            f"expected (N, H, W, 3) or (N, 3, H, W) clean RGB, got {tuple(clean.shape)}"
        )
    if channels_last is None:
        channels_last = clean.shape[-1] == 3 and clean.shape[1] != 3
    if channels_last:
        clean = clean.permute(0, 3, 1, 2)
    _, c, h, w = clean.shape
    if c != 3 or h % 2 or w % 2:
        raise ValueError(
            f"expected 3-channel clean RGB with even height and width, got {tuple(clean.shape)} "
            f"({'channels last' if channels_last else 'channels first'})"
        )
    return F.pixel_unshuffle(clean.to(torch.float32), 2)


def _as_nhw(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3:
        raise ValueError(
            f"expected mosaics of shape (N, H, W) or (N, 1, H, W), got {tuple(x.shape)}"
        )
    return x
