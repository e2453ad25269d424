"""Model families: PyNET (teacher), PyNET-QxQ (student), LW-ISP as published (student and
teachers) and cfasim's earlier compact reading of LW-ISP.

Every model takes ``forward(packed, mosaic=None)`` with ``packed`` (N, C, h, w) and the
full-resolution mosaic (N, 1, H, W), returns RGB in [0, 1] at ``output_scale`` x the packed
size, and names its distillation layers in ``feature_layers()``.
"""

from __future__ import annotations

LWISP_MODELS = {
    "lwisp": ("lwisp", "lwisp_student"),
    "lwisp_teacher": ("lwisp", "lwisp_teacher"),
    "lwisp_clean_teacher": ("lwisp", "lwisp_clean_teacher"),
    "lwisp_compact": ("lwisp_compact", "compact_student"),
    "lwisp_compact_teacher": ("lwisp_compact", "compact_teacher"),
    "lwisp_compact_clean_teacher": ("lwisp_compact", "compact_clean_teacher"),
}
"""LW-ISP model name -> (module of cfasim.train.models, factory)."""

MODEL_NAMES = ("pynet", "pynet_qxq", *LWISP_MODELS)


def build_model(spec: dict):
    """Model from ``{"name": ..., "args": {...}}`` (the ``[model]`` section of a config)."""
    name, args = spec["name"], dict(spec.get("args", {}))
    if name == "pynet":
        from cfasim.train.models.pynet import PyNET

        return PyNET(**args)
    if name == "pynet_qxq":
        from cfasim.train.models.pynet import PyNETQxQ

        return PyNETQxQ(**args)
    if name in LWISP_MODELS:
        from importlib import import_module

        module, factory = LWISP_MODELS[name]
        return getattr(import_module(f"cfasim.train.models.{module}"), factory)(**args)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
