"""Heteroscedastic Poisson-Gaussian noise in normalised units (Brooks et al. 2019).

A clean linear value v in [0, 1] (0 = black level, 1 = white level) becomes
``v + sqrt(shot * v + read) * z`` with z ~ N(0, 1): variance = shot * v + read. The shot term is
the Gaussian approximation of photon noise, the read term collects signal-independent noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NOISE_MODES = ("brooks", "fixed", "none")

LOG_SHOT_RANGE = (math.log(1e-4), math.log(1.2e-2))
"""Natural-log range of the shot coefficient in Brooks' sampling."""
READ_FROM_SHOT = (2.18, 1.20, 0.26)
"""log(read) = slope * log(shot) + intercept + N(0, sigma): (slope, intercept, sigma)."""


@dataclass(frozen=True)
class NoiseLevels:
    """Variance coefficients of one sample: variance = shot * v + read."""

    shot: float
    read: float

    def variance(self, v: np.ndarray) -> np.ndarray:
        return self.shot * np.asarray(v, dtype=np.float64) + self.read


@dataclass(frozen=True)
class NoiseModel:
    """How noise levels are chosen per sample.

    ``brooks``: log(shot) ~ U(log 1e-4, log 1.2e-2), log(read) = 2.18 log(shot) + 1.20 + N(0, 0.26)
    (natural logs); ``fixed``: the given shot and read for every sample; ``none``: no noise.
    """

    mode: str = "brooks"
    shot: float = 0.0
    read: float = 0.0

    def __post_init__(self):
        if self.mode not in NOISE_MODES:
            raise ValueError(f"unknown noise mode {self.mode!r}; choose one of {NOISE_MODES}")
        if self.shot < 0 or self.read < 0:
            raise ValueError(
                f"noise coefficients must be >= 0, got shot={self.shot}, read={self.read}"
            )

    @classmethod
    def parse(cls, text: str) -> NoiseModel:
        """``brooks``, ``none``, or ``shot=1e-3,read=1e-5`` (fixed levels)."""
        t = text.strip().lower()
        if t in ("brooks", "none"):
            return cls(t)
        values = {}
        for part in t.split(","):
            key, sep, val = part.partition("=")
            if not sep or key.strip() not in ("shot", "read"):
                raise ValueError(
                    f"bad noise spec {text!r}; use 'brooks', 'none' or 'shot=S,read=R'"
                )
            try:
                values[key.strip()] = float(val)
            except ValueError:
                raise ValueError(f"bad number {val!r} in noise spec {text!r}") from None
        return cls("fixed", values.get("shot", 0.0), values.get("read", 0.0))

    def spec(self) -> str:
        """Inverse of :meth:`parse`."""
        return self.mode if self.mode != "fixed" else f"shot={self.shot!r},read={self.read!r}"

    def sample(self, rng: np.random.Generator) -> NoiseLevels:
        """Noise levels of one sample (draws from ``rng`` only in ``brooks`` mode)."""
        if self.mode == "none":
            return NoiseLevels(0.0, 0.0)
        if self.mode == "fixed":
            return NoiseLevels(self.shot, self.read)
        log_shot = rng.uniform(*LOG_SHOT_RANGE)
        slope, intercept, sigma = READ_FROM_SHOT
        log_read = slope * log_shot + intercept + rng.normal(0.0, sigma)
        return NoiseLevels(math.exp(log_shot), math.exp(log_read))
