"""Evaluation without torch: classical baselines, metrics, the evaluation engine and its report;
trained models arrive as callables (:mod:`cfasim.eval.models`).

Modules: :mod:`~cfasim.eval.baselines` (classical demosaicers), :mod:`~cfasim.eval.metrics`
(PSNR, SSIM, MS-SSIM, CIEDE2000, KLD; the one NumPy PSNR of cfasim),
:mod:`~cfasim.eval.rendering` (a baseline's sRGB of a sample), :mod:`~cfasim.eval.scoring`
(one method's scores on one sample), :mod:`~cfasim.eval.noise` (noise bins),
:mod:`~cfasim.eval.crops` (figure crops), :mod:`~cfasim.eval.models` (the model protocol),
:mod:`~cfasim.eval.engine` (:func:`evaluate`) and :mod:`~cfasim.eval.report`
(:class:`EvaluationReport`). ``evaluate`` and ``EvaluationReport`` are importable from here;
their modules load on first use.
"""

from __future__ import annotations

_LAZY = {"evaluate": "cfasim.eval.engine", "EvaluationReport": "cfasim.eval.report"}

__all__ = ["EvaluationReport", "evaluate"]


def __getattr__(name: str):
    """``evaluate`` and ``EvaluationReport``, imported on first access."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cfasim.eval' has no attribute {name!r}")
