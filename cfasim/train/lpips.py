"""LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric",
CVPR 2018, version 0.1) with its weights given by path: nothing is downloaded.

The distance between images ``x0`` and ``x1`` in [-1, 1] is

    d(x0, x1) = sum_l mean_hw( w_l . (f_l(x0) / |f_l(x0)| - f_l(x1) / |f_l(x1)|)^2 )

where ``f_l`` are the activations after five ReLUs of an ImageNet backbone (AlexNet: relu1..5;
VGG-16: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3) of the input shifted and scaled by
:data:`SHIFT` / :data:`SCALE`, ``|.|`` is the Euclidean norm over channels (plus 1e-10), and
``w_l`` the learned non-negative channel weights (a 1x1 convolution without bias).

Two files make the metric: the backbone, a torchvision-style ``alexnet`` / ``vgg16`` state dict
(``features.N.weight`` ...; the classifier is ignored), and the linear weights of the ``lpips``
package (``weights/v0.1/alex.pth`` or ``vgg.pth``: ``lin0.model.1.weight`` ...). A full state
dict of the package's ``LPIPS`` module (``net.sliceK.N.weight`` and ``linK.model.1.weight``) is
accepted alone. Both are read with ``torch.load(..., weights_only=True)``: a file that needs
code to unpickle is refused. The backbone (AlexNet or VGG-16) follows from the linear weights'
channel counts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import Tensor, nn

SHIFT = (-0.030, -0.088, -0.188)
"""LPIPS input shift (per RGB channel), applied to images in [-1, 1]."""
SCALE = (0.458, 0.448, 0.450)
"""LPIPS input scale (per RGB channel)."""
EPS = 1e-10
"""Added to the channel norm before dividing by it."""

# Backbones as torchvision's ``features``: ("C", out, kernel, stride, padding) or ("M",) for a
# 3x3 / stride-2 (AlexNet) or 2x2 / stride-2 (VGG) max-pooling; ReLU after each conv.
_ALEX = (("C", 64, 11, 4, 2), ("M",), ("C", 192, 5, 1, 2), ("M",), ("C", 384, 3, 1, 1),
         ("C", 256, 3, 1, 1), ("C", 256, 3, 1, 1))  # fmt: skip
_VGG16 = (("C", 64, 3, 1, 1), ("C", 64, 3, 1, 1), ("M",), ("C", 128, 3, 1, 1), ("C", 128, 3, 1, 1),
          ("M",), ("C", 256, 3, 1, 1), ("C", 256, 3, 1, 1), ("C", 256, 3, 1, 1), ("M",),
          ("C", 512, 3, 1, 1), ("C", 512, 3, 1, 1), ("C", 512, 3, 1, 1), ("M",),
          ("C", 512, 3, 1, 1), ("C", 512, 3, 1, 1), ("C", 512, 3, 1, 1))  # fmt: skip
BACKBONES = {"alex": _ALEX, "vgg": _VGG16}
"""The backbones LPIPS v0.1 uses, by the ``lpips`` package's names."""
TAPS = {"alex": (1, 4, 7, 9, 11), "vgg": (3, 8, 15, 22, 29)}
"""Index in ``features`` of the five ReLUs whose outputs LPIPS compares."""
CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
"""Channels of the five compared activations (the linear weights' shapes)."""


def backbone_features(net: str) -> nn.Sequential:
    """The convolutional part of AlexNet or VGG-16 in torchvision's ``features`` layout (module
    ``N`` is ``features.N``), up to the last ReLU LPIPS uses."""
    layers: list[nn.Module] = []
    in_ch = 3
    for spec in BACKBONES[net]:
        if spec[0] == "M":
            layers.append(nn.MaxPool2d(3, 2) if net == "alex" else nn.MaxPool2d(2, 2))
        else:
            _, out, k, stride, pad = spec
            layers += [nn.Conv2d(in_ch, out, k, stride, pad), nn.ReLU(inplace=False)]
            in_ch = out
    return nn.Sequential(*layers)


def _load(path) -> Mapping:
    """A state dict read without executing code; a clear ValueError otherwise."""
    if path is None or not os.path.isfile(path):
        raise FileNotFoundError(f"LPIPS weights not found: {path!r} (give local files; nothing is "
                                "downloaded)")  # fmt: skip
    try:
        raw = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as err:  # weights_only refuses pickled code; anything else is damage
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path}: not a tensor-only state dict ({msg})") from None
    if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected a state dict, got {type(raw).__name__}")
    return raw


def split_state(linear: Mapping, backbone: Mapping | None) -> tuple[str, dict, dict]:
    """(net, backbone ``features`` state dict, linear weights ``{l: (1, C_l, 1, 1)}``) from the
    files' state dicts; the package's ``net.sliceK.N`` keys map to ``features.N``."""
    lin = {int(k[3]): v for k, v in linear.items() if k.startswith("lin") and k.endswith(".weight")}
    if sorted(lin) != [0, 1, 2, 3, 4]:
        raise ValueError(f"LPIPS linear weights need lin0..lin4, found {sorted(lin)}")
    channels = tuple(int(lin[i].shape[1]) for i in range(5))
    nets = [n for n, c in CHANNELS.items() if c == channels]
    if not nets:
        raise ValueError(f"LPIPS linear weights have channels {channels}: neither AlexNet "
                         f"{CHANNELS['alex']} nor VGG-16 {CHANNELS['vgg']}")  # fmt: skip
    source = backbone if backbone is not None else linear
    features = {}
    for k, v in source.items():
        parts = k.split(".")
        if parts[0] == "features":
            features[".".join(parts[1:])] = v
        elif parts[0] == "net" and parts[1].startswith("slice"):
            features[".".join(parts[2:])] = v
    if not features:
        raise ValueError("no backbone weights: give the torchvision alexnet / vgg16 state dict")
    return nets[0], features, {i: lin[i] for i in range(5)}


class LPIPS(nn.Module):
    """The LPIPS v0.1 distance (see the module docstring), frozen, in eval mode.

    Parameters
    ----------
    linear_path : str or os.PathLike
        The ``lpips`` package's linear weights (``alex.pth`` / ``vgg.pth``), or a full
        ``LPIPS`` state dict (then ``backbone_path`` may be omitted).
    backbone_path : str or os.PathLike, optional
        torchvision-style ``alexnet`` / ``vgg16`` state dict.

    Raises
    ------
    FileNotFoundError
        A file does not exist.
    ValueError
        A file is not a tensor-only state dict, or its keys or shapes do not match.
    """

    def __init__(self, linear_path, backbone_path=None) -> None:
        super().__init__()
        backbone = None if backbone_path is None else _load(backbone_path)
        self.net, features, lin = split_state(_load(linear_path), backbone)
        last = TAPS[self.net][-1]
        self.features = backbone_features(self.net)[: last + 1]
        expected = self.features.state_dict()
        features = {k: v for k, v in features.items() if int(k.split(".")[0]) <= last}
        if set(features) != set(expected):
            raise ValueError(
                f"LPIPS {self.net} backbone keys differ: missing "
                f"{sorted(set(expected) - set(features))}, unexpected "
                f"{sorted(set(features) - set(expected))}"
            )
        bad = [k for k, v in expected.items() if tuple(features[k].shape) != tuple(v.shape)]
        if bad:
            raise ValueError(f"LPIPS {self.net} backbone tensors of the wrong shape: {bad}")
        self.features.load_state_dict(features)
        self.lin = nn.ParameterList([nn.Parameter(lin[i].float(), requires_grad=False)
                                     for i in range(5)])  # fmt: skip
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def train(self, mode: bool = True) -> LPIPS:
        """Stay in eval mode."""
        return super().train(False)

    def activations(self, x: Tensor) -> list[Tensor]:
        """The five compared activations of ``x`` ((N, 3, H, W) in [-1, 1])."""
        h = (x - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in TAPS[self.net]:
                out.append(h)
        return out

    def forward(self, x0: Tensor, x1: Tensor) -> Tensor:
        """Per-image LPIPS of two (N, 3, H, W) batches in [-1, 1]: shape (N,)."""
        total = 0
        for f0, f1, w in zip(self.activations(x0), self.activations(x1), self.lin, strict=True):
            n0 = f0 / (f0.pow(2).sum(1, keepdim=True).sqrt() + EPS)
            n1 = f1 / (f1.pow(2).sum(1, keepdim=True).sqrt() + EPS)
            total = total + ((n0 - n1) ** 2 * w).sum(1).mean((1, 2))
        return total
