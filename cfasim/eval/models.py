"""The model protocol of the evaluation: a trained model arrives as a labelled NumPy callable.

The evaluation layer never imports torch nor :mod:`cfasim.train`; whoever has a model (the
``cfasim evaluate`` command builds them from ``--checkpoint`` with
:class:`cfasim.train.predict.CheckpointModel`, a test may write a plain NumPy function) wraps it
in an object following :class:`Model` and passes it to :func:`cfasim.eval.engine.evaluate`.

Required:

- ``label`` (str): the method's name in the report (made unique against the baselines and the
  other models by :func:`unique_labels`: ``NAME``, ``NAME#2``, ...);
- ``__call__(raw, black, white) -> rgb``: ``raw`` the (H, W) RAW codes of one sample, ``black``
  / ``white`` its levels (floats); ``rgb`` an (H', W', 3) float array of display sRGB in [0, 1]
  with H' <= H * scale and W' <= W * scale (the split's target size). A smaller output (e.g. a
  RAW cropped to the model's size multiple) is scored against the top-left target region of its
  size.

Optional (looked up with ``getattr``):

- ``source`` (str, default the label): where the model comes from, e.g. the checkpoint path;
  written as the method's ``source`` and in the report's ``options["checkpoints"]``;
- ``pattern`` (:class:`~cfasim.cfa.CFAPattern` or None, default None): the CFA the model was
  trained on; the evaluation refuses a dataset of another pattern;
- ``cost(raw, black, white, repeats) -> dict``: called once, on the first sample; the dict is
  the model's entry of :attr:`cfasim.eval.report.EvaluationReport.models` and must hold the
  keys the Markdown cost table shows: ``architecture``, ``params``, ``gmac_per_mpx``,
  ``latency_s_per_mpx``, ``threads`` (see that attribute for the full list a checkpoint gives).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np

from cfasim.cfa import CFAPattern


@runtime_checkable
class Model(Protocol):
    """A labelled callable: (H, W) RAW codes with levels black / white -> (H', W', 3) sRGB.

    ``source``, ``pattern`` and ``cost`` are optional (see the module docstring).
    """

    label: str

    def __call__(self, raw: np.ndarray, black: float, white: float) -> np.ndarray:
        """(H, W) RAW codes -> (H', W', 3) float display sRGB in [0, 1]."""
        ...


def model_source(model) -> str:
    """The model's ``source`` (e.g. its checkpoint path), its label when it has none."""
    return str(getattr(model, "source", None) or model.label)


def check_model(model, pattern: CFAPattern) -> None:
    """Refuse an object that is not a :class:`Model`, or a model trained on another pattern."""
    if not callable(model) or not isinstance(getattr(model, "label", None), str):
        raise TypeError(f"a model must be a callable with a str label, got {model!r}")
    trained = getattr(model, "pattern", None)
    if trained is not None and trained != pattern:
        raise ValueError(
            f"{model_source(model)} was trained on {trained.name}; the dataset is {pattern.name}"
        )


def unique_labels(labels: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """``labels`` made unique against ``taken`` and each other, in order: a repeated ``NAME``
    becomes ``NAME#2``, ``NAME#3``, ..."""
    seen = set(taken)
    out = []
    for base in labels:
        label, k = base, 2
        while label in seen:
            label, k = f"{base}#{k}", k + 1
        seen.add(label)
        out.append(label)
    return out
