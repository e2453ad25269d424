"""Model families: PyNET (teacher), PyNET-QxQ (student), LW-ISP (student and teachers).

Every model takes ``forward(packed, mosaic=None)`` with ``packed`` (N, C, h, w) and the
full-resolution mosaic (N, 1, H, W), returns RGB in [0, 1] at ``output_scale`` x the packed
size, and names its distillation layers in ``feature_layers()``.
"""

from __future__ import annotations

MODEL_NAMES = ("pynet", "pynet_qxq", "lwisp", "lwisp_teacher", "lwisp_clean_teacher")


def build_model(spec: dict):
    """Model from ``{"name": ..., "args": {...}}`` (the ``[model]`` section of a config)."""
    name, args = spec["name"], dict(spec.get("args", {}))
    if name == "pynet":
        from cfasim.train.models.pynet import PyNET

        return PyNET(**args)
    if name == "pynet_qxq":
        from cfasim.train.models.pynet import PyNETQxQ

        return PyNETQxQ(**args)
    if name in ("lwisp", "lwisp_teacher", "lwisp_clean_teacher"):
        from cfasim.train.models import lwisp

        factory = {
            "lwisp": lwisp.lwisp_student,
            "lwisp_teacher": lwisp.lwisp_teacher,
            "lwisp_clean_teacher": lwisp.lwisp_clean_teacher,
        }[name]
        return factory(**args)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
