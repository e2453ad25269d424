"""The bytes a build writes do not change: one tiny store per source kind (and one with sensor
physics and optics) is built from committed inputs and its checksums are compared with golden
copies committed before the code was reorganised.

The dataset card (README.md) names module paths in its Python example, so it is left out, and so
is the card's preview.png: its text is drawn by matplotlib with FreeType, whose glyphs differ
between their versions (the PNG is still byte-identical for identical stores on one machine,
which the BLAS test below checks). Leaving them out of the comparison of ``checksums.json``'s
entries is enough: the manifest lists every file but itself. Every other file (each zarr.json,
every shard, croissant.json) must match. To re-record after an
intended format change, run this file with ``CFASIM_UPDATE_GOLDEN=1`` set (and say why in the
commit).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cfasim.pipeline import GenerateConfig, build, plan

GOLDEN = Path(__file__).parent / "golden"
LEFT_OUT = ("README.md", "preview.png")

KINDS = {
    "builtin": dict(pattern="nona", count=6, patch=24, shard_samples=2, clean=True, seed=11),
    "images": dict(
        pattern="qxq:grbg", source="photos", count=6, patch=16, scale=2, shard_samples=2, seed=12
    ),
    "raw": dict(pattern="quad", source="dngs", source_kind="raw", count=4, patch=16, seed=13),
    "zurich": dict(source="zrr", source_kind="zurich", count=6, patch=16, seed=14),
    "pairs": dict(
        pattern="bayer",
        source="pairs/raw",
        targets="pairs/rgb",
        source_kind="pairs",
        scale=2,
        count=4,
        patch=16,
        splits=(0.5, 0.25, 0.25),
        seed=15,
    ),
    "sensor": dict(
        pattern="qxq",
        count=4,
        patch=32,
        sensor="phone-qxq-0p56um",
        iso=1600,
        optics="psf=1.0,shading=1500,crosstalk=0.02,blooming",
        clean=True,
        seed=16,
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_store_bytes_match_the_golden_checksums(kind, tmp_path, monkeypatch):
    shutil.copytree(GOLDEN / "inputs", tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)  # relative source paths: the stored config is the same anywhere
    build(plan(GenerateConfig(**KINDS[kind]), workers=2), Path(f"{kind}.zarr"), workers=2)
    files = json.loads(Path(f"{kind}.zarr/checksums.json").read_text())["files"]
    got = {rel: entry for rel, entry in files.items() if rel not in LEFT_OUT}
    golden = GOLDEN / "checksums" / f"{kind}.json"
    if os.environ.get("CFASIM_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(golden.read_text())
    changed = sorted(rel for rel in set(got) | set(want) if got.get(rel) != want.get(rel))
    assert not changed, f"{kind}: {len(changed)} file(s) differ from the golden: {changed[:8]}"


BUILD_AND_PRINT_CHECKSUMS = """
import json, sys
from pathlib import Path
from cfasim.pipeline import GenerateConfig, build, plan
cfg = GenerateConfig(**json.loads(sys.argv[1]))
build(plan(cfg), Path("s.zarr"), workers=1, progress=False)
print(Path("s.zarr/checksums.json").read_text())
"""


@pytest.mark.parametrize("kind", ["builtin", "raw", "sensor"])
def test_stores_do_not_depend_on_the_blas_kernel(kind, tmp_path):
    """The same store whichever OpenBLAS kernel the CPU gets (generic SSE3 vs Haswell FMA):
    stored colour matrices were once BLAS products, which an AVX-512 machine rounded
    differently. (On CPUs where the variable means nothing, both runs are simply equal.)"""
    sums = []
    for core in ("Prescott", "Haswell"):
        folder = tmp_path / core
        shutil.copytree(GOLDEN / "inputs", folder)
        env = {**os.environ, "OPENBLAS_CORETYPE": core}
        out = subprocess.run(
            [sys.executable, "-c", BUILD_AND_PRINT_CHECKSUMS, json.dumps(KINDS[kind])],
            cwd=folder, env=env, capture_output=True, text=True, check=True, timeout=300,
        )  # fmt: skip
        sums.append(json.loads(out.stdout)["files"])
    assert sums[0] == sums[1]
