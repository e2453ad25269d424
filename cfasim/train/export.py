"""Export trained models to TorchScript and ONNX, and run them on RAW input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from cfasim.cfa import CFAPattern
from cfasim.data.reader import open_dataset
from cfasim.errors import (
    CfasimError,
    CheckpointError,
    DatasetError,
    RawFormatError,
    SourceError,
    UnknownSplitError,
)
from cfasim.train.checkpoint import load_checkpoint, model_from_checkpoint


class _Packed(torch.nn.Module):
    """Model + CFA adapter as one module taking (N, H, W) normalised-RAW codes."""

    def __init__(self, model, adapter):
        super().__init__()
        self.model, self.adapter = model, adapter

    def forward(self, raw):
        inp = self.adapter(raw)
        return self.model(inp["packed"], inp["mosaic"])


def example_raw(adapter, side: int, batch: int = 1, width: int | None = None) -> torch.Tensor:
    """A (batch, side, width or side) mid-grey RAW input for tracing and exporting."""
    black, white = adapter.normalize
    return torch.full((batch, side, width or side), (black + white) / 2.0)


def mosaic_model(checkpoint):
    """(model, adapter) of a checkpoint whose model takes RAW mosaics (not a clean teacher)."""
    ckpt = load_checkpoint(checkpoint)
    if ckpt["adapter"].get("input", "mosaic") != "mosaic":
        raise CheckpointError(
            f"{checkpoint} is a clean-image teacher; it cannot process RAW mosaics"
        )
    condition = ckpt["adapter"].get("condition", "none")
    if condition != "none":
        raise CheckpointError(
            f"{checkpoint} is conditioned on each sample's metadata (model.condition = "
            f"{condition!r}), which export and process-raw do not pass (yet): score it with "
            "cfasim evaluate"
        )
    return model_from_checkpoint(ckpt, checkpoint)


def export_model(checkpoint, out_dir, fmt: str = "torchscript", side: int = 96) -> Path:
    """Write ``model.pt`` (TorchScript, traced at ``side`` x ``side``) or ``model.onnx`` (any
    batch and any size that is a multiple of the model's mosaic multiple) from a checkpoint
    into ``out_dir``; the exported module takes (N, H, W) RAW codes (float) and returns
    (N, 3, H', W') sRGB. The ONNX exporter may also write the weights to
    ``out_dir/model.onnx.data`` (external data), which must stay beside ``model.onnx``."""
    if fmt not in ("torchscript", "onnx"):
        raise ValueError(f"unknown export format {fmt!r}; choose 'torchscript' or 'onnx'")
    model, adapter = mosaic_model(checkpoint)
    module = _Packed(model, adapter).eval()
    multiple = adapter.required_multiple(getattr(model, "input_multiple", 1))
    adapter.check_size(side, side, getattr(model, "input_multiple", 1))  # a clear size error
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CfasimError(f"export folder {out_dir} is a file")
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "torchscript":
        return export_torchscript(module, example_raw(adapter, side), out_dir / "model.pt")
    return export_onnx(module, adapter, multiple, side, out_dir / "model.onnx")


def export_torchscript(module, raw: torch.Tensor, path: Path) -> Path:
    """Trace ``module`` on ``raw`` and save it (TorchScript)."""
    with torch.no_grad(), warnings.catch_warnings():
        # TorchScript is deprecated upstream but still what many deployment runtimes load;
        # the size checks inside the models are constant for a traced input size
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.jit.trace(module, raw).save(str(path))
    return path


def onnx_dynamic_shapes(multiple: tuple[int, int]) -> dict:
    """``dynamic_shapes`` of the ONNX export: any batch, and height / width any positive
    multiple of the model's mosaic ``multiple`` (expressed as multiple * Dim, so the
    adapter's and the models' divisibility checks hold for every size the graph accepts)."""
    from torch.export import Dim

    my, mx = multiple
    blocks_y, blocks_x = Dim("blocks_y", min=1), Dim("blocks_x", min=1)
    return {"raw": {0: Dim("batch", min=1), 1: my * blocks_y, 2: mx * blocks_x}}


def export_onnx(module, adapter, multiple: tuple[int, int], side: int, path: Path) -> Path:
    """Export with the dynamo exporter and dynamic batch / height / width.

    The dynamo exporter (torch.export) is used because it expresses the models' size checks as
    constraints on the input dims (``multiple * Dim``) and keeps every shape symbolic; the
    legacy TorchScript-based exporter would need ``dynamic_axes`` on a trace whose Python size
    arithmetic (the adapter's reshapes, the models' checks) is fixed at the traced size. The
    example is a batch of 2, not square, with >= 2 multiples per side, so that no dim is
    specialised to 1 or tied to another."""
    my, mx = multiple
    height = side if side >= 2 * my else 2 * side  # side is a multiple of my and mx
    width = height + mx  # height is a multiple of mx too
    example = example_raw(adapter, height, batch=2, width=width)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.export internals
        warnings.filterwarnings("ignore", "While compiling, we found certain side effects")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=["raw"],
            output_names=["rgb"],
            dynamo=True,
            dynamic_shapes=onnx_dynamic_shapes(multiple),
            verbose=False,
        )
    return path


def process_raw(checkpoint, raw: np.ndarray) -> np.ndarray:
    """Run a checkpoint on one (H, W) RAW mosaic -> (H', W', 3) uint8 sRGB."""
    model, adapter = mosaic_model(checkpoint)
    my, mx = adapter.required_multiple(getattr(model, "input_multiple", 1))
    h, w = raw.shape
    hh, ww = h - h % my, w - w % mx  # crop to the largest size the model accepts
    if hh == 0 or ww == 0:
        raise ValueError(f"RAW of {h}x{w} is smaller than the model's size multiple {my}x{mx}")
    with torch.no_grad():
        out = _Packed(model, adapter)(torch.from_numpy(raw[:hh, :ww].astype(np.float32))[None])
    rgb = out[0].clamp(0, 1).permute(1, 2, 0).numpy()
    return np.ascontiguousarray((rgb * 255 + 0.5).astype(np.uint8))


def load_raw_input(checkpoint, path, split: str = "test", index: int = 0) -> np.ndarray:
    """RAW codes from a cfasim dataset sample (a folder), or from a Bayer RAW file read with
    :func:`cfasim.source.raw.read_raw` (whose CFA must be the checkpoint's pattern, and which is
    rescaled to the checkpoint's black/white). Every problem with the input is a one-line
    :class:`~cfasim.errors.CfasimError`."""
    ckpt = load_checkpoint(checkpoint)
    pattern = CFAPattern.from_dict(ckpt["adapter"]["pattern"])
    path = Path(path)
    if path.is_dir():
        return dataset_raw(path, pattern, split, index)
    if not path.exists():
        raise SourceError(f"input {path} does not exist")
    return raw_file_codes(path, pattern, tuple(ckpt["adapter"]["normalize"]))


def dataset_raw(path: Path, pattern, split: str, index: int) -> np.ndarray:
    """Sample ``index`` of ``split`` of a cfasim dataset (read through
    :func:`cfasim.data.reader.open_dataset`), whose pattern must be ``pattern``."""
    dataset = open_dataset(path)  # DatasetError: not cfasim, unknown format, unfinished
    if dataset.pattern != pattern:
        raise DatasetError(
            f"{path} holds {dataset.pattern.name} mosaics; the model expects {pattern.name}"
        )
    if split not in dataset.splits:
        have = ", ".join(sorted(dataset.splits))
        raise UnknownSplitError(f"no split {split!r} in {path}; splits: {have}")
    arrays = dataset[split].arrays
    if "raw" not in arrays:
        raise DatasetError(f"{path} split {split!r} has no samples")
    raw = arrays["raw"]
    if index >= len(raw):
        raise DatasetError(f"{split} has {len(raw)} samples; no index {index}")
    return raw[index]  # a CheckedArray: a damaged shard is a DatasetError naming it


def raw_file_codes(path: Path, pattern, normalize: tuple[float, float]) -> np.ndarray:
    """The mosaic of a Bayer RAW file, rescaled from its black / white levels (per pixel) to
    the checkpoint's ``normalize`` = (black, white); RawFormatError for anything else."""
    from cfasim.source.raw import read_raw

    frame = read_raw(path)  # RawFormatError: unreadable, linear, monochrome, non-Bayer
    if frame.pattern != pattern:
        raise RawFormatError(path, f"{frame.pattern.name}; the model expects {pattern.name}")
    black = frame.black_map()
    lo, hi = normalize
    return lo + (frame.mosaic.astype(np.float64) - black) / (frame.white - black) * (hi - lo)
