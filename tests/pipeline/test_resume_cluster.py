"""Interrupted builds (a real kill -9) resume byte-identically; cluster builds match threads."""

import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from cfasim.cli import main

ARGS = [
    "--pattern",
    "quad",
    "--count",
    "96",
    "--patch",
    "160",
    "--shard-samples",
    "4",
    "--seed",
    "3",
    "--workers",
    "1",
]


def files(root):
    return {p.relative_to(root): p for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_bytes(a, b):
    fa, fb = files(a), files(b)
    assert sorted(fa) == sorted(fb)
    for rel in fa:
        assert fa[rel].read_bytes() == fb[rel].read_bytes(), rel


def shard_files(root):
    """Files of the complete shards: raw and target both written (a kill can fall between)."""
    done = []
    for raw in root.glob("*/raw/c/*/0/0"):
        split_dir = raw.parents[4]
        target = split_dir / "target" / raw.relative_to(split_dir / "raw") / "0"
        if target.is_file():
            done += [raw, target]
    return done


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.zarr"
    result = CliRunner().invoke(main, ["generate", *ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_kill_9_then_resume_is_byte_identical(reference, tmp_path):
    out = tmp_path / "killed.zarr"
    cmd = [sys.executable, "-m", "cfasim.cli", "generate", *ARGS, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(shard_files(out)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait()
    done_before = {p: os.stat(p).st_mtime_ns for p in shard_files(out)}
    assert 3 <= len(done_before) < 24, "the kill should land in the middle of the build"
    assert '"status": "building"' in (out / "zarr.json").read_text()

    result = CliRunner().invoke(main, ["generate", *ARGS, "--out", str(out), "--resume"])
    assert result.exit_code == 0, result.output
    assert "shard(s) rendered by this run" in result.output
    for path, mtime in done_before.items():  # complete shards were not rewritten
        assert os.stat(path).st_mtime_ns == mtime
    assert not list(out.rglob("*.partial"))
    assert_same_bytes(reference, out)
    # resuming a complete store does nothing
    again = CliRunner().invoke(main, ["generate", *ARGS, "--out", str(out), "--resume"])
    assert again.exit_code == 0 and "(0 shard(s) rendered" in again.output
    assert_same_bytes(reference, out)


def test_resume_refuses_different_settings(reference, tmp_path):
    import shutil

    out = tmp_path / "copy.zarr"
    shutil.copytree(reference, out)
    args = [a if a != "3" else "4" for a in ARGS]  # another seed
    result = CliRunner().invoke(main, ["generate", *args, "--out", str(out), "--resume"])
    assert result.exit_code == 1 and "different settings (seed)" in result.output
    assert_same_bytes(reference, out)


def test_local_cluster_of_two_processes_matches_threads(reference, tmp_path):
    out = tmp_path / "cluster.zarr"
    args = [a if a != "1" else "2" for a in ARGS]  # --workers 2
    result = CliRunner().invoke(main, ["generate", *args, "--processes", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert_same_bytes(reference, out)


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        main,
        ["generate", *ARGS, "--out", str(tmp_path / "x.zarr"), "--scheduler", "tcp://127.0.0.1:9"],
    )
    assert result.exit_code == 1 and "cannot reach the Dask scheduler" in result.output
