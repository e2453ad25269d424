"""cfasim: simulated camera RAW for Bayer and non-Bayer colour filter arrays.

The names below are cfasim's public Python API; each is imported when first used, so
``import cfasim`` stays light (no Numba, Zarr or PyTorch until a name needs them)::

    import cfasim

    pattern = cfasim.get_pattern("nona")                      # CFA patterns
    cfasim.build(cfasim.plan(cfasim.GenerateConfig(count=8)), "nona.zarr")
    ds = cfasim.open_dataset("nona.zarr")                     # the reader
    raw = ds["train"][0]["raw"]

The subpackages follow the data flow (``source``, ``isp``, ``sim``, ``sensor``, ``store``,
``pipeline``, ``data``, ``eval``, ``train``, ``cli``); docs/architecture.md draws them.
"""

from importlib import import_module

__version__ = "0.1.0"
DISTRIBUTION = "cfasim-isp"
"""The name to ``pip install`` (``cfasim`` on PyPI is an unrelated project)."""

_API = {
    # CFA patterns
    "CFAPattern": "cfasim.cfa",
    "get_pattern": "cfasim.cfa",
    # the ISP and its parameters
    "UnprocessParams": "cfasim.isp.steps",
    "process": "cfasim.isp.steps",
    "unprocess": "cfasim.isp.steps",
    # simulation
    "RawFormat": "cfasim.sim.simulate",
    "NoiseLevels": "cfasim.sim.noise",
    "simulate_raw": "cfasim.sim.simulate",
    "SensorProfile": "cfasim.sensor.profile",
    "load_profile": "cfasim.sensor.profile",
    # building and reading datasets
    "GenerateConfig": "cfasim.store.generate_config",
    "plan": "cfasim.pipeline.planning",
    "build": "cfasim.pipeline.builder",
    "open_dataset": "cfasim.data.reader",
    "validate": "cfasim.store.validate",
    "write_dng": "cfasim.data.dng",
    # errors
    "CfasimError": "cfasim.errors",
    "DatasetError": "cfasim.errors",
}

__all__ = ["DISTRIBUTION", "__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value  # imported once
        return value
    raise AttributeError(f"module 'cfasim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
