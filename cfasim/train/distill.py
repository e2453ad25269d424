"""Knowledge distillation behind one interface: feature hooks, 1x1 adapters, output and feature
losses, weights from the config.

A :class:`Distiller` holds a frozen teacher and hooks named layers of student and teacher (each
model's ``feature_layers()``). For every (student layer, teacher layer) pair a 1x1 convolution
maps the student's channels to the teacher's; the feature loss is the mean squared difference
(student features resized to the teacher's size when they differ). The output loss is the L1
distance between student and teacher outputs.

The two schemes of the project are configurations of it:

- **progressive** (PyNET-QxQ, reading A of docs/training.md): ``stages`` train the student
  coarse to fine; stage k matches the teacher's level-k features/outputs before the next stage
  adds the finer level and the ground truth; reading B, a chain of shrinking teacher assistants
  (``distill.assistants``), trains each assistant from the previous model, then the student
  from the last assistant (:func:`cfasim.train.trainer.assistant_chain`);
- **heterogeneous** (LW-ISP): the teacher sees the *clean* linear camera image (cfasim stores
  it), the student the noisy mosaic; the teacher's decoder features and its reconstruction
  guide the student together with the ground-truth loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cfasim.errors import ConfigError


@dataclass
class Stage:
    """Loss weights of one distillation stage (``steps`` = 0 means 'until the end')."""

    steps: int = 0
    gt_weight: float = 1.0
    output_weight: float = 0.0
    feature_weight: float = 0.0
    features: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict) -> Stage:
        unknown = set(d) - {"steps", "gt_weight", "output_weight", "feature_weight", "features"}
        if unknown:
            raise ConfigError(f"unknown distillation stage keys {sorted(unknown)}")
        feats = [tuple(p) for p in d.get("features", [])]
        if any(len(p) != 2 for p in feats):
            raise ConfigError(f"features must be [student_layer, teacher_layer] pairs, got {feats}")
        return cls(
            int(d.get("steps", 0)),
            float(d.get("gt_weight", 1.0)),
            float(d.get("output_weight", 0.0)),
            float(d.get("feature_weight", 0.0)),
            feats,
        )


class _Recorder:
    """Forward hooks that keep the latest output of named modules."""

    def __init__(self, layers: dict[str, nn.Module], names):
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles = []
        for name in names:
            if name not in layers:
                raise ConfigError(f"no feature layer {name!r}; available: {sorted(layers)}")
            self.handles.append(layers[name].register_forward_hook(self._hook(name)))

    def _hook(self, name):
        def hook(module, args, output):
            self.outputs[name] = output

        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


class Distiller(nn.Module):
    """Teacher, hooks and adapters for one student; :meth:`losses` gives the distillation terms.

    Parameters
    ----------
    student, teacher : models with ``feature_layers()``; the teacher is frozen (eval mode).
    stages : the distillation stages (:class:`Stage`), run in order by step count.
    teacher_input : ``"mosaic"`` (same packed input as the student) or ``"clean"`` (the clean
        linear camera image, space-to-depth packed: heterogeneous distillation).
    probe : example inputs ``(student_args, teacher_args)`` used once to size the adapters.
    """

    def __init__(self, student, teacher, stages, teacher_input="mosaic", probe=None):
        super().__init__()
        if teacher_input not in ("mosaic", "clean"):
            raise ValueError(f"teacher_input must be 'mosaic' or 'clean', got {teacher_input!r}")
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.stages = list(stages)
        self.teacher_input = teacher_input
        pairs = sorted({pair for st in self.stages for pair in st.features})
        self._student_rec = _Recorder(student.feature_layers(), sorted({s for s, _ in pairs}))
        self._teacher_rec = _Recorder(teacher.feature_layers(), sorted({t for _, t in pairs}))
        self.adapters = nn.ModuleDict()
        if pairs:
            if probe is None:
                raise ValueError("feature distillation needs probe inputs to size the adapters")
            with torch.no_grad():
                student(*probe[0])
                teacher(*probe[1])
            for s, t in pairs:
                cs = self._student_rec.outputs[s].shape[1]
                ct = self._teacher_rec.outputs[t].shape[1]
                self.adapters[_key(s, t)] = nn.Conv2d(cs, ct, 1)

    def stage_at(self, step: int) -> Stage:
        """The stage that applies at a (0-based) training step."""
        start = 0
        for st in self.stages:
            if st.steps == 0 or step < start + st.steps:
                return st
            start += st.steps
        return self.stages[-1]

    def total_steps(self) -> int | None:
        """Sum of the stages' steps, or None if the last stage is open-ended."""
        if not self.stages or self.stages[-1].steps == 0:
            return None
        return sum(st.steps for st in self.stages)

    def teacher_forward(self, teacher_args) -> torch.Tensor:
        with torch.no_grad():
            return self.teacher(*teacher_args)

    def losses(self, stage: Stage, student_out, teacher_out) -> dict[str, torch.Tensor]:
        """Distillation terms of a stage (weighted), after student and teacher forward passes."""
        parts = {}
        if stage.output_weight:
            parts["distill_output"] = stage.output_weight * F.l1_loss(student_out, teacher_out)
        if stage.feature_weight and stage.features:
            total = 0.0
            for s, t in stage.features:
                fs = self.adapters[_key(s, t)](self._student_rec.outputs[s])
                ft = self._teacher_rec.outputs[t].detach()
                if fs.shape[-2:] != ft.shape[-2:]:
                    fs = F.interpolate(fs, size=ft.shape[-2:], mode="bilinear", align_corners=False)
                total = total + F.mse_loss(fs, ft)
            parts["distill_feature"] = stage.feature_weight * total / len(stage.features)
        return parts

    def remove_hooks(self):
        self._student_rec.remove()
        self._teacher_rec.remove()


def _key(student_layer: str, teacher_layer: str) -> str:
    return f"{student_layer}__to__{teacher_layer}".replace(".", "_")
