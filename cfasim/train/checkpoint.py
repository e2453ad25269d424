"""Checkpoints: plain tensors + JSON-like metadata, loaded with weights_only=True only.

A cfasim checkpoint (format :data:`CHECKPOINT_FORMAT`) is a dict written by ``torch.save``
holding only tensors and plain data (dicts, lists, numbers, strings, None), so that
``torch.load(..., weights_only=True)`` reads it and a crafted file can never run code:

- ``format``, ``model_spec`` (``{"name", "args"}`` for :func:`cfasim.train.models.build_model`),
  ``model`` (the state dict) and ``adapter`` (:func:`adapter_record`): every checkpoint
  (:data:`CHECKPOINT_KEYS`);
- ``optimizer``, ``scheduler``, ``scaler``, ``step``, ``epoch``, ``batch_in_epoch``, ``rng``:
  what ``--resume`` needs (:data:`RESUME_KEYS`), and ``distill_adapters``, ``config`` (the
  training config as a plain dict) from the trainer.

:func:`save_checkpoint` writes atomically; :func:`load_checkpoint` reads and checks;
:func:`model_from_checkpoint` rebuilds the model and its CFA adapter.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch

from cfasim.cfa import CFAPattern
from cfasim.errors import CheckpointError
from cfasim.train.cfa_adapter import CFAAdapter
from cfasim.train.models import build_model

CHECKPOINT_FORMAT = 1
"""The checkpoint format this version writes and reads."""
CHECKPOINT_KEYS = ("model_spec", "model", "adapter")
"""Keys every cfasim checkpoint has (the model and its CFA adapter)."""
RESUME_KEYS = ("optimizer", "scheduler", "scaler", "step", "epoch", "batch_in_epoch", "rng")
"""The further keys ``--resume`` needs."""

_PLAIN_SCALARS = (bool, int, float, str)


# -- writing --------------------------------------------------------------------------------------


def adapter_record(adapter: CFAAdapter, model_input: str = "mosaic") -> dict:
    """The ``adapter`` entry of a checkpoint: what the model's input is (``"mosaic"`` or
    ``"clean"``) and the CFA adapter's settings (read back by :func:`adapter_from_record`)."""
    return {
        "input": model_input,
        "pattern": adapter.pattern.to_dict(),
        "packing": adapter.packing,
        "with_mask": adapter.with_mask,
        "normalize": list(adapter.normalize),
        "order": adapter.order,
        "input_convention": adapter.convention,
        "condition": adapter.condition,
    }


def save_checkpoint(state: dict, path) -> Path:
    """Write ``state`` to ``path`` atomically (a crash never leaves a half-written file), after
    checking with :func:`check_plain` that it loads back with ``weights_only=True``."""
    path = Path(path)
    check_plain(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def check_plain(value, where: str = "checkpoint") -> None:
    """Raise TypeError (a bug) unless ``value`` is plain data that ``torch.load(...,
    weights_only=True)`` reads back: dict / OrderedDict / list / tuple of None, bool, int,
    float, str and tensors. Types are compared exactly: numpy scalars (``np.float64`` is a
    float subclass), paths and other objects are refused."""
    if value is None or type(value) in _PLAIN_SCALARS or isinstance(value, torch.Tensor):
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            check_plain(key, f"{where} key {key!r}")
            check_plain(item, f"{where}[{key!r}]")
        return
    if type(value) in (list, tuple, torch.Size):
        for i, item in enumerate(value):
            check_plain(item, f"{where}[{i}]")
        return
    raise TypeError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}, not plain")


# -- reading --------------------------------------------------------------------------------------


def load_checkpoint(path, map_location="cpu") -> dict:
    """A cfasim checkpoint, read with ``torch.load(weights_only=True)``: tensors and plain data
    only, so a crafted file can never run code while it is read.

    Raises
    ------
    CheckpointError
        One line naming the file and what is wrong with it: missing, not a file, refused
        (it pickles code or objects), not a torch file (empty, text, truncated, damaged, a
        foreign zip), or a torch file that is not a cfasim checkpoint.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": refused anyway
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for unreadable files; all mean "bad file"
        raise CheckpointError(load_failure_message(path, err)) from err
    check_checkpoint_content(path, ckpt)
    return ckpt


def load_failure_message(path: Path, err: Exception) -> str:
    """One line saying why ``torch.load(path, weights_only=True)`` failed with ``err``."""
    refused = re.search(r"GLOBAL ([\w.]+)", str(err))
    if refused:
        return (
            f"refused to load checkpoint {path}: it would import {refused.group(1)} (pickled "
            "code or objects); a cfasim checkpoint holds only tensors and plain data"
        )
    kind = file_kind(path)
    if kind.startswith("a zip archive"):  # torch's reason says which part it could not read
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        kind += f" ({lines[0][:120]})" if lines else ""
    return f"checkpoint {path} is not a torch checkpoint file: {kind}"


def file_kind(path: Path) -> str:
    """A few words on what a file that torch cannot load looks like."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "the file is empty"
    if head.startswith(b"PK\x03\x04"):
        if zipfile.is_zipfile(path):
            return "a zip archive that torch cannot read as a checkpoint"
        return "a truncated or damaged zip archive"
    if head.startswith(b"\x80"):
        return "pickle data that is truncated, damaged or not from torch.save"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "unrecognised binary data"
    return "a text file" if b"\0" not in head else "unrecognised binary data"


def check_checkpoint_content(path: Path, ckpt) -> None:
    """Refuse loaded data that is not a cfasim checkpoint of :data:`CHECKPOINT_FORMAT`."""
    if not isinstance(ckpt, dict) or "format" not in ckpt:
        what = type(ckpt).__name__ if not isinstance(ckpt, dict) else "dict without 'format'"
        raise CheckpointError(f"{path} is not a cfasim training checkpoint (a torch {what})")
    if ckpt["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is a cfasim checkpoint of format {ckpt['format']!r}; this version reads "
            f"format {CHECKPOINT_FORMAT}"
        )
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt.get(k), dict)]
    if missing:
        raise CheckpointError(f"{path} is a damaged cfasim checkpoint: no {', '.join(missing)}")


def check_resumable(path, ckpt: dict, model_spec: dict) -> None:
    """Refuse a checkpoint that ``--resume`` cannot continue: one without the training state
    (:data:`RESUME_KEYS`, e.g. a hand-made one) or of another model than the config's."""
    missing = [k for k in RESUME_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} cannot be resumed: no {', '.join(missing)}")
    if ckpt["model_spec"] != model_spec:
        raise CheckpointError(
            f"{path} holds model {ckpt['model_spec']}; the config asks for {model_spec}"
        )


def adapter_from_record(record: dict) -> CFAAdapter:
    """The CFA adapter of a checkpoint's ``adapter`` entry (see :func:`adapter_record`)."""
    return CFAAdapter(
        CFAPattern.from_dict(record["pattern"]),
        packing=record["packing"],
        with_mask=record["with_mask"],
        normalize=tuple(record["normalize"]),
        order=record.get("order", "raster"),  # checkpoints before input conventions: raster
        convention=record.get("input_convention", "cfasim"),
        condition=record.get("condition", "none"),  # checkpoints before conditioning: none
    )


def model_from_checkpoint(ckpt: dict, source="checkpoint"):
    """(model in eval mode, adapter) of a loaded checkpoint; ``source`` (its path) names it in
    the CheckpointError raised when the stored spec, weights or adapter do not fit together."""
    try:
        model = build_model(ckpt["model_spec"])
        model.load_state_dict(ckpt["model"])
        adapter = adapter_from_record(ckpt["adapter"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{source} is a damaged cfasim checkpoint: {one_line(err)}") from err
    model.eval()
    return model, adapter


def one_line(err: BaseException, limit: int = 200) -> str:
    """An exception's message on one line (its lines joined by "; "), at most ``limit`` long."""
    text = "; ".join(ln.strip() for ln in str(err).splitlines() if ln.strip())
    text = text.replace(":; ", ": ") or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
