"""The camera ISP as an ordered list of invertible steps.

``process`` runs the steps forward (linear camera RGB -> display sRGB); ``unprocess`` runs their
inverses in reverse order (display sRGB -> linear camera RGB), after Brooks et al. 2019, with
cfasim's forward ISP the exact inverse of its unprocessing (Brooks' own ``process`` omits the
brightening gain and the tone curve).

Forward order: white balance + digital gain (highlight-safe) -> colour correction (cam -> sRGB)
-> clip to [0, 1] -> transfer curve (sRGB or gamma 2.2) -> tone curve (smoothstep).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cfasim.isp import color


@dataclass(frozen=True)
class WhiteBalance:
    """Camera-RGB gains ``digital_gain * (red_gain, 1, blue_gain)``, highlight-safe."""

    red_gain: float
    blue_gain: float
    digital_gain: float

    @property
    def inverse_gains(self) -> np.ndarray:
        return color.inverse_gains(self.red_gain, self.blue_gain, self.digital_gain)

    def forward(self, cam: np.ndarray) -> np.ndarray:
        return color.invert_safe_gains(cam, self.inverse_gains)

    def inverse(self, balanced: np.ndarray) -> np.ndarray:
        return color.apply_safe_gains(np.asarray(balanced, dtype=np.float64), self.inverse_gains)


@dataclass(frozen=True)
class ColorCorrection:
    """Camera RGB -> linear sRGB by ``inv(rgb2cam)``; the inverse applies ``rgb2cam``."""

    rgb2cam: np.ndarray = field(repr=False)

    def forward(self, cam: np.ndarray) -> np.ndarray:
        return np.asarray(cam, dtype=np.float64) @ np.linalg.inv(self.rgb2cam).T

    def inverse(self, rgb: np.ndarray) -> np.ndarray:
        return np.asarray(rgb, dtype=np.float64) @ self.rgb2cam.T


@dataclass(frozen=True)
class Clip:
    """Clip to [0, 1]: the one lossy step (saturated sensor / out-of-gamut colours)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, 0.0, 1.0)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, 0.0, 1.0)


@dataclass(frozen=True)
class Transfer:
    """Display transfer curve (see :data:`cfasim.isp.color.TRANSFERS`)."""

    name: str = "srgb"

    def forward(self, lin: np.ndarray) -> np.ndarray:
        return color.encode(lin, self.name)

    def inverse(self, v: np.ndarray) -> np.ndarray:
        return color.decode(v, self.name)


@dataclass(frozen=True)
class ToneCurve:
    """Global smoothstep tone curve."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return color.smoothstep(x)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        return color.inverse_smoothstep(y)


@dataclass(frozen=True)
class UnprocessParams:
    """Per-sample parameters of the ISP: camera matrix, gains, transfer curve, tone curve."""

    xyz2cam: np.ndarray = field(repr=False)
    red_gain: float
    blue_gain: float
    digital_gain: float
    transfer: str = "srgb"
    tone: bool = True

    @classmethod
    def sample(cls, rng: np.random.Generator, transfer: str = "srgb", tone: bool = True):
        """Brooks et al. sampling: random camera matrix and gains."""
        xyz2cam = color.random_xyz2cam(rng)
        red, blue, digital = color.sample_gains(rng)
        return cls(xyz2cam, red, blue, digital, transfer, tone)

    @property
    def rgb2cam(self) -> np.ndarray:
        return color.rgb2cam_from_xyz2cam(self.xyz2cam)

    @property
    def channel_gains(self) -> np.ndarray:
        """Camera-RGB gains of the forward ISP: ``digital_gain * (red_gain, 1, blue_gain)``."""
        return self.digital_gain * np.array([self.red_gain, 1.0, self.blue_gain])

    def steps(self) -> list:
        """The ISP steps in forward (processing) order."""
        steps = [
            WhiteBalance(self.red_gain, self.blue_gain, self.digital_gain),
            ColorCorrection(self.rgb2cam),
            Clip(),
            Transfer(self.transfer),
        ]
        if self.tone:
            steps.append(ToneCurve())
        return steps

    @property
    def inverse_gains(self) -> np.ndarray:
        return color.inverse_gains(self.red_gain, self.blue_gain, self.digital_gain)


def linear_to_display(lin: np.ndarray, transfer: str = "srgb", tone: bool = True) -> np.ndarray:
    """Inverse of :func:`display_to_linear`: transfer curve, then tone curve."""
    x = color.encode(lin, transfer)
    return color.smoothstep(x) if tone else x


def display_to_linear(v: np.ndarray, transfer: str = "srgb", tone: bool = True) -> np.ndarray:
    """The per-value part of unprocessing: inverse tone curve, then inverse transfer."""
    x = np.asarray(v, dtype=np.float64)
    if tone:
        x = color.inverse_smoothstep(x)
    return color.decode(x, transfer)


def process(cam: np.ndarray, params: UnprocessParams) -> np.ndarray:
    """Linear camera RGB (..., 3) -> display sRGB in [0, 1]."""
    x = np.asarray(cam, dtype=np.float64)
    for step in params.steps():
        x = step.forward(x)
    return x


def unprocess(srgb: np.ndarray, params: UnprocessParams) -> np.ndarray:
    """Display sRGB in [0, 1] (..., 3) -> linear camera RGB in [0, 1] (clipped)."""
    x = np.asarray(srgb, dtype=np.float64)
    for step in reversed(params.steps()):
        x = step.inverse(x)
    return np.clip(x, 0.0, 1.0)
