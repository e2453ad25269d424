"""Public PyNET / PyNET-QxQ weights as ordinary cfasim checkpoints (``cfasim import-weights``).

The public PyTorch checkpoints (aiff22/PyNET-PyTorch ``model.py``; Minhyeok01/PyNET-QxQ
``Model/pynet_qxq_student_only.py``) are state dicts of the same layers as cfasim's
:class:`~cfasim.train.models.pynet.PyNET` and :class:`~cfasim.train.models.pynet.PyNETQxQ`,
named differently:

=====================================================  ============================================
public name                                            cfasim name
=====================================================  ============================================
``conv_l{L}_d{N}.conv_{k}{a,b}.conv2d.{weight,bias}``  ``level{L}.d{N}.branches.{i}.{0,1}.conv.*``
``conv_l{L}_d{N}.conv_{k}{a,b}.instance.*``            ``level{L}.d{N}.branches.{i}.{0,1}.norm.*``
``conv_t{L-1}{a,b}.conv2d.*`` (PyNET)                   ``level{L}.up_{a,b}.conv.*``
``conv_l{L}_out.conv2d.*`` (PyNET)                      ``level{L}.out.conv.*``
``conv_t0.conv2d.*`` / ``conv_l0_d1.conv2d.*`` (PyNET)  ``level0.up.conv.*`` / ``level0.out.conv.*``
``conv_t0.upchannel.*`` (QxQ)                           ``t0.0.conv.*``
``conv_l0_d1.conv2d.*`` (QxQ)                           ``out.conv.*``
=====================================================  ============================================

with ``i`` the index of kernel ``k`` in (3, 5, 7, 9). A ``module.`` prefix (``nn.DataParallel``)
is dropped. Every public tensor must map to exactly one cfasim parameter and every parameter be
filled; whether level-1 instance norms exist is read from the file. The file is loaded with
``weights_only=True`` only. The checkpoint records the public input convention
(:data:`cfasim.train.cfa_adapter.INPUT_CONVENTIONS`): PyNET's raw / 1020 in plane order
B, Gb, R, Gr on Bayer RGGB (Zurich RAW-to-RGB); PyNET-QxQ's raw / 1023 on QxQ in its GRBG
phase, planes (B, G top-left, R, G bottom-right), i.e. the same plane order.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from cfasim.cfa import get_pattern
from cfasim.errors import CheckpointError
from cfasim.train.cfa_adapter import CFAAdapter, convention_settings
from cfasim.train.checkpoint import CHECKPOINT_FORMAT, adapter_record, save_checkpoint
from cfasim.train.models import build_model

KERNELS = (3, 5, 7, 9)
FAMILIES = {
    "pynet": {"pattern": "bayer:rggb", "convention": "pynet1020"},
    "pynet_qxq": {"pattern": "qxq:grbg", "convention": "pynet1023"},
}
_BLOCK = re.compile(r"conv_l(\d)_d(\d+)\.conv_(\d)([ab])\.(conv2d|instance)\.(weight|bias)")
_PYNET_LAYERS = [
    (re.compile(r"conv_t([0-4])([ab])\.conv2d\.(weight|bias)"), None),
    (re.compile(r"conv_l([1-5])_out\.conv2d\.(weight|bias)"), r"level\1.out.conv.\2"),
    (re.compile(r"conv_t0\.conv2d\.(weight|bias)"), r"level0.up.conv.\1"),
    (re.compile(r"conv_l0_d1\.conv2d\.(weight|bias)"), r"level0.out.conv.\1"),
]
_QXQ_LAYERS = [
    (re.compile(r"conv_t0\.upchannel\.(weight|bias)"), r"t0.0.conv.\1"),
    (re.compile(r"conv_l0_d1\.conv2d\.(weight|bias)"), r"out.conv.\1"),
]


def cfasim_name(family: str, public: str) -> str | None:
    """The cfasim parameter name of a public one (None: no mapping)."""
    m = _BLOCK.fullmatch(public)
    if m:
        level, n, k, ab, kind, p = m.groups()
        if int(k) not in KERNELS:
            return None
        sub = "conv" if kind == "conv2d" else "norm"
        i, j = KERNELS.index(int(k)), 0 if ab == "a" else 1
        return f"level{level}.d{n}.branches.{i}.{j}.{sub}.{p}"
    for pattern, template in _PYNET_LAYERS if family == "pynet" else _QXQ_LAYERS:
        m = pattern.fullmatch(public)
        if m and template is None:  # conv_t{L-1}{a,b}: an up-sampler of level L
            t, ab, p = m.groups()
            return None if t == "0" else f"level{int(t) + 1}.up_{ab}.conv.{p}"
        if m:
            return m.expand(template)
    return None


def read_public(path) -> dict[str, torch.Tensor]:
    """The public state dict of ``path`` (weights only; a ``module.`` prefix dropped)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a pickle payload, garbage, a truncated file: never unpickled
        text = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path} is not a weights-only PyTorch state dict ({text})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def map_state(family: str, public: dict[str, torch.Tensor], model) -> dict[str, torch.Tensor]:
    """The public tensors under cfasim's names for ``model``, each consumed exactly once;
    CheckpointError naming the first unmatched, missing or misshapen keys."""
    own = dict(model.named_parameters())  # unique names (no aliases)
    mapped, unknown = {}, []
    for name, tensor in public.items():
        target = cfasim_name(family, name)
        if target is None or target not in own or target in mapped:
            unknown.append(name)
        else:
            mapped[target] = tensor
    missing = sorted(set(own) - set(mapped))
    shapes = [n for n, t in mapped.items() if tuple(t.shape) != tuple(own[n].shape)]
    for what, names in (("unexpected", unknown), ("missing", missing), ("shape mismatch", shapes)):
        if names:
            raise CheckpointError(
                f"the weights do not fit cfasim's {family}: {len(names)} {what} key(s), e.g. "
                f"{', '.join(sorted(names)[:4])}"
            )
    return mapped


def import_weights(family: str, path, out) -> Path:
    """Write ``out``: a cfasim checkpoint of the public ``family`` weights in ``path``."""
    if family not in FAMILIES:
        raise CheckpointError(f"unknown family {family!r}; choose {', '.join(FAMILIES)}")
    public = read_public(path)
    args = _model_args(family, public)
    spec = {"name": family, "args": args}
    model = build_model(spec)
    mapped = map_state(family, public, model)
    model.load_state_dict(mapped, strict=False)  # every parameter filled (checked above)
    return save_checkpoint(_checkpoint(family, spec, model), out)


def _model_args(family: str, public: dict[str, torch.Tensor]) -> dict:
    """What the file says of the model: its width (the first block's channels) and whether
    level 1 has instance norms."""
    first = public.get("conv_l1_d1.conv_3a.conv2d.weight")
    if first is None:
        raise CheckpointError(f"the weights are not {family}'s: no conv_l1_d1 (its first block)")
    norms = any(
        (m := _BLOCK.fullmatch(k)) and m.group(1) == "1" and m.group(5) == "instance"
        for k in public
    )
    norm_key = "instance_norm_level_1" if family == "pynet" else "instance_norm"
    return {"width": int(first.shape[0]), norm_key: norms}


def _checkpoint(family: str, spec: dict, model) -> dict:
    info = FAMILIES[family]
    order, normalize = convention_settings(info["convention"], 0, 1023)
    adapter = CFAAdapter(get_pattern(info["pattern"]), normalize=normalize, order=order,
                         convention=info["convention"])  # fmt: skip
    return {
        "format": CHECKPOINT_FORMAT,
        "model_spec": spec,
        "model": model.state_dict(),
        "adapter": adapter_record(adapter),
        "imported": {"family": family, "from": "public weights"},
    }
