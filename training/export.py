"""Export trained models to TorchScript and ONNX, and run them on RAW input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from training.trainer import load_checkpoint, model_from_checkpoint


class _Packed(torch.nn.Module):
    """Model + CFA adapter as one module taking (N, H, W) normalised-RAW codes."""

    def __init__(self, model, adapter):
        super().__init__()
        self.model, self.adapter = model, adapter

    def forward(self, raw):
        inp = self.adapter(raw)
        return self.model(inp["packed"], inp["mosaic"])


def example_raw(adapter, side: int) -> torch.Tensor:
    black, white = adapter.normalize
    return torch.full((1, side, side), (black + white) / 2.0)


def export_model(checkpoint, out_dir, fmt: str = "torchscript", side: int = 96) -> Path:
    """Write ``model.pt`` (TorchScript, traced) or ``model.onnx`` from a checkpoint; the exported
    module takes (N, H, W) RAW codes (float) and returns (N, 3, H', W') sRGB."""
    model, adapter = model_from_checkpoint(load_checkpoint(checkpoint))
    module = _Packed(model, adapter).eval()
    raw = example_raw(adapter, side)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # TorchScript is deprecated upstream but still what many deployment runtimes load;
        # the size checks inside the models are constant for a traced input size
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        if fmt == "torchscript":
            path = out_dir / "model.pt"
            torch.jit.trace(module, raw).save(str(path))
        elif fmt == "onnx":
            path = out_dir / "model.onnx"
            torch.onnx.export(
                module, (raw,), str(path), input_names=["raw"], output_names=["rgb"], dynamo=True
            )
        else:
            raise ValueError(f"unknown export format {fmt!r}; choose 'torchscript' or 'onnx'")
    return path


def process_raw(checkpoint, raw: np.ndarray) -> np.ndarray:
    """Run a checkpoint on one (H, W) RAW mosaic -> (H', W', 3) uint8 sRGB."""
    ckpt = load_checkpoint(checkpoint)
    if ckpt["adapter"].get("input", "mosaic") != "mosaic":
        raise ValueError(f"{checkpoint} is a clean-image teacher; it cannot process RAW mosaics")
    model, adapter = model_from_checkpoint(ckpt)
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
    """RAW codes from a cfasim dataset sample, or from a RAW file read with rawpy (whose CFA
    must be the checkpoint's pattern, and which is rescaled to the checkpoint's black/white)."""
    from cfasim.cfa import CFAPattern

    ckpt = load_checkpoint(checkpoint)
    pattern = CFAPattern.from_dict(ckpt["adapter"]["pattern"])
    path = Path(path)
    if path.is_dir():
        import zarr

        from cfasim.dataset import open_root

        root = open_root(path)
        stored = CFAPattern.from_dict(root.attrs["cfasim"]["pattern"])
        if stored != pattern:
            raise ValueError(
                f"{path} holds {stored.name} mosaics; the model expects {pattern.name}"
            )
        arr = zarr.open_group(str(path), mode="r")[split]["raw"]
        if index >= arr.shape[0]:
            raise IndexError(f"{split} has {arr.shape[0]} samples; no index {index}")
        return np.asarray(arr[index])
    import rawpy

    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    with rawpy.imread(str(path)) as rp:
        if rp.raw_pattern is None or rp.raw_pattern.shape != (2, 2):
            raise ValueError(f"{path}: only 2x2 Bayer RAW files are supported")
        desc = rp.color_desc.decode()  # e.g. "RGBG": raw_pattern indexes into it
        letters = "".join(desc[c] for c in rp.raw_pattern.ravel())
        file_pattern = CFAPattern.from_tile(
            np.array(["RGB".index(c) for c in letters]).reshape(2, 2)
        )
        if file_pattern != pattern:
            raise ValueError(f"{path} is {file_pattern.name}; the model expects {pattern.name}")
        raw = rp.raw_image_visible.astype(np.float64)
        black = float(np.mean(rp.black_level_per_channel))
        white = float(rp.white_level)
    lo, hi = ckpt["adapter"]["normalize"]
    return lo + (raw - black) / (white - black) * (hi - lo)
