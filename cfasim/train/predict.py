"""A trained checkpoint as a NumPy callable for evaluation (:class:`cfasim.eval.models.Model`).

``cfasim evaluate --checkpoint [LABEL=]PATH`` builds one :class:`CheckpointModel` per option
with :func:`checkpoint_models` and hands them to :func:`cfasim.eval.engine.evaluate`, which
never imports torch. A checkpoint model runs on the RAW codes, rescaled to the checkpoint's
black / white levels when they differ, on CPU, as :func:`cfasim.train.export.process_raw` does
but in float (no 8-bit rounding) and loading the checkpoint once; a RAW whose side is not a
multiple of the model's size multiple is cropped to the largest one that is (top-left), and
the evaluation scores the matching target region.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from cfasim.errors import CheckpointError
from cfasim.train.checkpoint import load_checkpoint, model_from_checkpoint
from cfasim.train.models import count_parameters


def checkpoint_label(spec) -> tuple[str, Path]:
    """(label, path) of a ``[LABEL=]PATH`` option: ``LABEL=PATH`` unless a file of that whole
    name exists, else a path labelled by its file stem (its folder name for ``model.pt`` /
    ``checkpoint.pt``)."""
    text, label = str(spec), None
    if "=" in text and not Path(text).exists():
        label, text = text.split("=", 1)
    path = Path(text)
    if label is None:
        generic = path.stem in ("model", "checkpoint") and path.parent.name
        label = path.parent.name if generic else path.stem
    return label, path


class CheckpointModel:
    """A trained model loaded once, run on CPU on (H, W) RAW codes.

    Follows :class:`cfasim.eval.models.Model`: ``label``, ``source`` (the path), ``pattern``
    (the CFA it was trained on), ``__call__`` and ``cost``. Also ``architecture`` (the model
    spec's name) and ``multiple`` (the (y, x) size multiple of its RAW input).

    Raises
    ------
    CheckpointError
        When the file cannot be loaded (:func:`cfasim.train.checkpoint.load_checkpoint`) or is a
        clean-image teacher, which cannot process RAW mosaics.
    """

    def __init__(self, path, label: str | None = None):
        path = Path(path)
        ckpt = load_checkpoint(path, map_location="cpu")  # weights_only; CheckpointError
        if ckpt["adapter"].get("input", "mosaic") != "mosaic":
            raise CheckpointError(f"{path} is a clean-image teacher; it cannot process RAW mosaics")
        self.path = path
        self.label = label if label is not None else checkpoint_label(path)[0]
        self.source = str(path)
        self.model, self.adapter = model_from_checkpoint(ckpt, path)
        self.pattern = self.adapter.pattern
        self.architecture = ckpt["model_spec"]["name"]
        self.task = ckpt.get("config", {}).get("data", {}).get("task", "srgb")  # what it outputs
        self.condition = self.adapter.condition  # call with meta={"wb": gains, "noise": (s, r)}
        self.multiple = self.adapter.required_multiple(getattr(self.model, "input_multiple", 1))

    def __repr__(self) -> str:
        return f"CheckpointModel({str(self.path)!r}, label={self.label!r})"

    def _input(self, raw: np.ndarray, black: float, white: float) -> torch.Tensor:
        """(1, H', W') float32 RAW codes in the checkpoint's levels, cropped to the multiple."""
        my, mx = self.multiple
        h, w = raw.shape
        hh, ww = h - h % my, w - w % mx
        if hh == 0 or ww == 0:
            raise ValueError(
                f"RAW of {h}x{w} is smaller than the size multiple {my}x{mx} of {self.path}"
            )
        x = np.asarray(raw[:hh, :ww], dtype=np.float64)
        lo, hi = self.adapter.normalize
        as_stored = self.adapter.convention != "cfasim"  # e.g. the public PyNET code's
        if (lo, hi) != (black, white) and not as_stored:  # to the checkpoint's RAW format
            x = lo + (x - black) / (white - black) * (hi - lo)
        return torch.from_numpy(x.astype(np.float32))[None]

    def _forward(self, x: torch.Tensor, meta: dict | None = None) -> torch.Tensor:
        meta = meta or {}
        needs = {
            "wb": (self.adapter.uses_wb, 3, "white balance", "gains"),
            "noise": (self.adapter.uses_noise, 2, "noise level", "(shot, read) coefficients"),
        }
        args = {}
        for key, (need, size, what, values) in needs.items():
            if not need:
                continue
            if meta.get(key) is None:
                raise ValueError(
                    f"{self.path} is conditioned on the {what}: it needs each sample's {values} "
                    "(run it on a dataset sample)"
                )
            args[key] = torch.as_tensor(np.asarray(meta[key], dtype=np.float32)).reshape(1, size)
        inp = self.adapter(x, **args)
        return self.model(inp["packed"], inp["mosaic"])

    def __call__(
        self, raw: np.ndarray, black: float, white: float, meta: dict | None = None
    ) -> np.ndarray:
        """(H, W) RAW codes with levels black / white -> (H', W', 3) float64 in [0, 1] (sRGB,
        or linear for the linear task); ``meta``: the sample's ``wb`` gains for a model
        conditioned on them, ``noise`` its ``(shot, read)`` for one conditioned on the noise."""
        with torch.inference_mode():
            out = self._forward(self._input(raw, black, white), meta)
        return out[0].clamp(0, 1).permute(1, 2, 0).double().numpy()

    def cost(self, raw: np.ndarray, black: float, white: float, repeats: int) -> dict:
        """Parameters, MACs (FLOPs / 2, torch.utils.flop_counter) and median CPU latency of a
        forward pass on ``raw``: the keys of :attr:`cfasim.eval.report.EvaluationReport.models`."""
        x = self._input(raw, black, white)
        meta = {"wb": np.ones(3), "noise": np.zeros(2)}  # the cost does not depend on them
        with torch.inference_mode():
            with FlopCounterMode(display=False) as counter:
                out = self._forward(x, meta)
            times = []
            for _ in range(max(1, int(repeats))):
                t0 = time.perf_counter()
                self._forward(x, meta)
                times.append(time.perf_counter() - t0)
        macs = counter.get_total_flops() / 2
        mpx = out.shape[-2] * out.shape[-1] / 1e6
        return {
            "checkpoint": str(self.path),
            "architecture": self.architecture,
            "params": int(count_parameters(self.model)),
            "input": [int(x.shape[-2]), int(x.shape[-1])],
            "output": [int(out.shape[-2]), int(out.shape[-1])],
            "macs": int(macs),
            "gmac_per_mpx": float(macs / 1e9 / mpx),
            "latency_s_per_mpx": float(statistics.median(times) / mpx),
            "latency_repeats": max(1, int(repeats)),
            "threads": int(torch.get_num_threads()),
        }


def checkpoint_models(specs: Iterable) -> list[CheckpointModel]:
    """One :class:`CheckpointModel` per ``[LABEL=]PATH`` (:func:`checkpoint_label`), in order;
    :func:`cfasim.eval.engine.evaluate` makes repeated labels unique (``NAME#2``)."""
    return [CheckpointModel(path, label) for label, path in map(checkpoint_label, specs)]


def _image_metric(make, option: str, score):
    """An evaluation metric ``f(output, target)`` on (H, W, 3) images in [0, 1] from a torch
    network: ``make()`` builds it (a bad weights file is a one-line error naming ``option``),
    ``score(net, a, b)`` scores two (1, 3, H, W) batches."""
    try:
        net = make()
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as err:
        raise CheckpointError(f"{option}: {str(err).splitlines()[0][:300]}") from None

    def distance(out: np.ndarray, target: np.ndarray) -> float:
        with torch.inference_mode():
            a, b = (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(2, 0, 1)
                    for x in (out, target))  # fmt: skip
            return float(score(net, a[None], b[None]))

    return distance


def lpips_distance(linear_path, backbone_path=None):
    """LPIPS v0.1 as an evaluation metric: ``f(output, target)`` on (H, W, 3) sRGB in [0, 1]
    (mapped to [-1, 1]) -> :class:`cfasim.train.lpips.LPIPS` with the weights given by path
    (read with ``weights_only=True``). Lower is better; with it ``cfasim evaluate`` reports
    the real MIPI M4 for remosaic methods."""
    from cfasim.train.lpips import LPIPS

    return _image_metric(lambda: LPIPS(linear_path, backbone_path), "--lpips-weights",
                         lambda net, a, b: net(a * 2 - 1, b * 2 - 1)[0])  # fmt: skip


def vgg_distance(weights_path, layer: str = "relu5_4"):
    """The public PyNET code's VGG distance as an evaluation metric: ``f(output, target)`` on
    (H, W, 3) sRGB in [0, 1] -> mean squared difference of their VGG-19 ``layer`` features
    (ImageNet-normalised; :class:`cfasim.train.losses.VGGPerceptualLoss` with the weights in
    ``weights_path``, read with ``weights_only=True``). Lower is better."""
    from cfasim.train.losses import VGGPerceptualLoss

    return _image_metric(lambda: VGGPerceptualLoss(weights_path, layer=layer), "--vgg-weights",
                         lambda net, a, b: net(a, b))  # fmt: skip
