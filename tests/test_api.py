"""The public Python API: a small surface at the package root, imported lazily."""

import subprocess
import sys

import cfasim

SURFACE = {
    "CFAPattern",
    "CfasimError",
    "DISTRIBUTION",
    "DatasetError",
    "GenerateConfig",
    "NoiseLevels",
    "RawFormat",
    "SensorProfile",
    "UnprocessParams",
    "__version__",
    "build",
    "get_pattern",
    "load_profile",
    "open_dataset",
    "plan",
    "process",
    "simulate_raw",
    "unprocess",
    "validate",
    "write_dng",
}


def test_the_surface_is_exactly_the_documented_names():
    assert set(cfasim.__all__) == SURFACE
    assert SURFACE <= set(dir(cfasim))


def test_every_name_resolves_to_its_implementation():
    for name in cfasim.__all__:
        value = getattr(cfasim, name)
        if callable(value) and not isinstance(value, type):
            assert value.__module__.startswith("cfasim."), name
    assert cfasim.open_dataset is __import__("cfasim.data.reader").data.reader.open_dataset


def test_unknown_names_raise_attribute_error():
    try:
        cfasim.no_such_thing  # noqa: B018
    except AttributeError as err:
        assert "no_such_thing" in str(err)
    else:
        raise AssertionError("expected AttributeError")


def test_import_cfasim_is_light():
    code = (
        "import sys, cfasim; heavy = {'numba', 'zarr', 'torch', 'dask'} & set(sys.modules);"
        "print(sorted(heavy)); sys.exit(bool(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_api_builds_and_reads_a_dataset(tmp_path):
    out = tmp_path / "api.zarr"
    cfasim.build(cfasim.plan(cfasim.GenerateConfig(pattern="bayer", count=4, patch=16)), out)
    ds = cfasim.open_dataset(out)
    assert ds.pattern == cfasim.get_pattern("bayer") and cfasim.validate(out).ok
