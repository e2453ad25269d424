"""Installable as documented: the wheel, installed in a fresh virtual environment outside the
clone, generates a dataset and trains on it with a shipped config addressed by name.

Slow (a wheel build and a venv): run with ``python -m pytest -m slow tests/test_wheel.py``;
``.ci/run`` runs it. The venv sees this interpreter's site-packages for the dependencies
(nothing is downloaded), but cfasim itself comes from the wheel alone.
"""

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run(cmd, cwd, env=None):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{cmd}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, a working folder outside the clone) with the wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp), str(ROOT)], tmp)
    (wheel,) = tmp.glob("cfasim_isp-*.whl")
    venv.create(tmp / "venv", system_site_packages=True, with_pip=True)
    bin_dir = tmp / "venv" / "bin"
    run([str(bin_dir / "pip"), "install", "-q", "--no-deps", str(wheel)], tmp)
    work = tmp / "work"
    work.mkdir()
    return bin_dir, work, wheel


def test_the_wheel_holds_one_package_with_its_data(installed):
    names = zipfile.ZipFile(installed[2]).namelist()
    top = {n.split("/")[0] for n in names if not n.startswith("cfasim_isp-")}
    assert top == {"cfasim"}
    for data in (
        "cfasim/py.typed",
        "cfasim/train/configs/lwisp_nona_tiny.toml",
        "cfasim/sensor/profiles/phone-qxq-0p56um.toml",
    ):
        assert data in names


def test_generate_and_train_from_the_installed_wheel(installed):
    bin_dir, work, _ = installed
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = run([str(bin_dir / "python"), "-c", "import cfasim; print(cfasim.__file__)"], work, env)
    assert str(bin_dir.parent) in where and str(ROOT) not in where
    cfasim = str(bin_dir / "cfasim")
    out = run([cfasim, "generate", "--count", "8", "--patch", "96", "--out", "d.zarr"], work, env)
    assert "wrote d.zarr" in out
    run([cfasim, "validate", "d.zarr"], work, env)
    args = ["train", "--config", "lwisp_nona_tiny", "--dataset", "d.zarr", "--steps", "2"]
    args += ["--set", "data.crop=96", "--set", "data.batch_size=2", "--set", "data.val_samples=1"]
    args += ["--set", "train.val_every=2", "--out", "run"]
    run([cfasim, *args], work, env)
    assert (work / "run" / "model.pt").is_file()
