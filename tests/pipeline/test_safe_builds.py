"""Builds never lose data: --overwrite keeps the old dataset until the new one is complete,
one writer per dataset (a real second process), resume refuses changed sources, and a build
killed while finishing is repaired by --resume."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import fsspec
import imagecodecs
import numpy as np
import pytest

import cfasim.pipeline.builder as gen
from cfasim import open_dataset
from cfasim.errors import DatasetError, DatasetLockedError, SourceError
from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.store import checksums as manifest
from cfasim.store.lock import build_lock, lock_location
from cfasim.store.output import recover_swap, staging_path
from cfasim.store.validate import validate
from cfasim.testing.fixtures import run_cli as run
from cfasim.testing.fixtures import snapshot, write_photos

SMALL = ["--pattern", "quad", "--count", "8", "--patch", "16", "--workers", "1"]


@pytest.fixture
def kept(tmp_path):
    """A complete dataset that must survive whatever the next command does."""
    out = tmp_path / "keep.zarr"
    assert run("generate", *SMALL, "--out", out).exit_code == 0
    return out, snapshot(out)


# -- --overwrite never deletes before the new build is known to be possible -------------------


def test_overwrite_with_a_missing_source_keeps_the_old_dataset(kept, tmp_path):
    out, before = kept
    result = run("generate", "--source", tmp_path / "nonexistent", "--out", out, "--overwrite")
    assert result.exit_code == 1 and "does not exist" in result.output
    assert "Traceback" not in result.output
    assert snapshot(out) == before


def test_overwrite_with_unreadable_images_keeps_the_old_dataset(kept, tmp_path):
    out, before = kept
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    result = run("generate", "--source", bad, "--out", out, "--overwrite")
    assert result.exit_code == 1 and "usable" in result.output
    assert snapshot(out) == before


def test_overwrite_that_fails_while_rendering_keeps_the_old_dataset(kept, monkeypatch):
    out, before = kept
    real = gen.render_shard

    def fails_on_the_second_shard(p, target, split, a, b, **kw):
        if (split, a) != ("train", 0):
            raise OSError("disk full")
        return real(p, target, split, a, b, **kw)

    monkeypatch.setattr(gen, "render_shard", fails_on_the_second_shard)
    args = ["generate", *SMALL, "--seed", "9", "--shard-samples", "2", "--out", out]
    result = run(*args, "--overwrite")
    assert result.exit_code == 1 and "disk full" in result.output
    assert "old dataset is kept" in result.output
    assert snapshot(out) == before
    assert staging_path(out).is_dir()  # the unfinished replacement, beside it
    monkeypatch.setattr(gen, "render_shard", real)
    assert run(*args, "--overwrite").exit_code == 0
    assert not staging_path(out).exists()
    assert open_dataset(out).config["seed"] == 9 and validate(out).ok


def test_resume_continues_an_interrupted_replacement_then_swaps_it_in(kept, monkeypatch):
    out, before = kept
    real = gen.render_shard
    calls = []

    def killed_after_one_shard(*args, **kw):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(gen, "render_shard", killed_after_one_shard)
    args = ["generate", *SMALL, "--seed", "4", "--shard-samples", "2", "--out", out]
    result = run(*args, "--overwrite")
    assert result.exit_code == 1 and "interrupted" in result.output and "--resume" in result.output
    assert snapshot(out) == before
    monkeypatch.setattr(gen, "render_shard", real)
    result = run(*args, "--resume")
    assert result.exit_code == 0, result.output
    reference = out.with_name("ref.zarr")
    assert run(*args[:-1], reference).exit_code == 0
    assert snapshot(out) == snapshot(reference)  # the interrupted replacement, continued


def test_library_build_never_deletes_foreign_data(tmp_path):
    photos = write_photos(tmp_path / "photos")
    before = snapshot(photos)
    cfg = GenerateConfig(pattern="bayer", count=4, patch=16)
    with pytest.raises(DatasetError, match="not a cfasim dataset"):
        build(plan(cfg), photos, progress=False)
    with pytest.raises(DatasetError, match="not a cfasim dataset; refusing to delete"):
        build(plan(cfg), photos, progress=False, overwrite=True)
    assert snapshot(photos) == before


def test_library_build_refuses_an_existing_dataset_without_overwrite(kept):
    out, before = kept
    with pytest.raises(DatasetError, match="already exists; pass --overwrite"):
        build(plan(GenerateConfig(pattern="quad", count=8, patch=16, seed=1)), out)
    assert snapshot(out) == before


def test_a_symlinked_out_is_refused_in_one_line(kept, tmp_path):
    out, before = kept
    link = tmp_path / "link.zarr"
    link.symlink_to(out)
    result = run("generate", *SMALL, "--out", link, "--overwrite")
    assert result.exit_code == 1 and "symbolic link" in result.output
    assert "Traceback" not in result.output and snapshot(out) == before


@pytest.mark.parametrize("done", [True, False])
def test_a_swap_cut_between_its_renames_is_finished_or_undone(kept, done):
    out, before = kept
    staged, retired = staging_path(out), out.with_name(f".{out.name}.cfasim-old")
    staged.mkdir()
    (staged / "zarr.json").write_text(
        json.dumps({"attributes": {"cfasim": {"status": "complete" if done else "building"}}})
    )
    os.rename(out, retired)  # the kill fell between the two renames of the swap
    recover_swap(out)
    assert not retired.exists()
    if done:
        assert json.loads((out / "zarr.json").read_text())["attributes"]["cfasim"]["status"] == (
            "complete"
        )
    else:
        assert snapshot(out) == before


# -- one writer per dataset ------------------------------------------------------------------


def wait_for(predicate, timeout=120.0):
    deadline = time.time() + timeout
    while not predicate() and time.time() < deadline:
        time.sleep(0.01)
    return predicate()


def test_a_second_build_refuses_while_the_first_runs_and_a_dead_ones_lock_is_taken_over(
    tmp_path,
):
    out = tmp_path / "busy.zarr"
    args = ["generate", "--pattern", "quad", "--count", "3000", "--patch", "64"]
    args += ["--shard-samples", "4", "--workers", "1", "--out", str(out)]
    first = subprocess.Popen(
        [sys.executable, "-m", "cfasim.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: (out / "train" / "raw" / "c").is_dir())
        second = subprocess.run(
            [sys.executable, "-m", "cfasim.cli", *args], capture_output=True, text=True
        )
        assert second.returncode == 1
        assert f"being written by another build (process {first.pid} on" in second.stderr
        assert "Traceback" not in second.stderr
        again = subprocess.run(
            [sys.executable, "-m", "cfasim.cli", *args, "--overwrite"],
            capture_output=True,
            text=True,
        )
        assert again.returncode == 1 and "being written by another build" in again.stderr
    finally:
        first.send_signal(signal.SIGKILL)  # dies holding the lock
        first.wait()
    lock = lock_location(out)
    assert json.loads(lock.read_text())["pid"] == first.pid  # left behind by the dead build
    small = ["generate", *SMALL, "--out", str(out), "--overwrite"]  # replaces the killed build
    replaced = subprocess.run([sys.executable, "-m", "cfasim.cli", *small], capture_output=True,
                              text=True)  # fmt: skip
    assert replaced.returncode == 0, replaced.stderr
    assert f"took over the stale lock {lock} left by process {first.pid}" in replaced.stderr
    assert not lock.exists()
    assert validate(out).ok and len(open_dataset(out)) == 8


def test_a_lock_that_cannot_be_proven_stale_is_reported_with_the_command_that_clears_it():
    url = "memory://locks/d.zarr"
    fs = fsspec.filesystem("memory")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True).stdout.strip()  # fmt: skip
    holder = {"pid": int(dead), "host": socket.gethostname(), "started": "2026-01-01T00:00:00"}
    fs.pipe_file("/locks/d.zarr.lock", json.dumps(holder).encode())
    with pytest.raises(DatasetLockedError, match="stale lock") as err:
        with build_lock(url):
            pass
    assert f"process {dead}" in str(err.value) and ".rm('memory://locks/d.zarr.lock')" in str(
        err.value
    )
    fs.rm("/locks", recursive=True)
    with build_lock(url):  # and a free one is taken, then released
        assert fs.exists("/locks/d.zarr.lock")
    assert not fs.exists("/locks/d.zarr.lock")


# -- --resume refuses a changed source ----------------------------------------------------------


def interrupted_folder_build(tmp_path, monkeypatch):
    photos = write_photos(tmp_path / "photos", n=4, side=48)
    out = tmp_path / "photos.zarr"
    args = ["generate", "--source", photos, "--pattern", "bayer", "--count", "8", "--patch"]
    args += ["16", "--shard-samples", "2", "--workers", "1", "--out", out]
    real, calls = gen.render_shard, []

    def killed(*a, **kw):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(gen, "render_shard", killed)
    assert run(*args).exit_code == 1
    monkeypatch.setattr(gen, "render_shard", real)
    return photos, args


def test_resume_refuses_a_replaced_photo_and_names_it(tmp_path, monkeypatch):
    photos, args = interrupted_folder_build(tmp_path, monkeypatch)
    stat = (photos / "p2.png").stat()
    image = np.full((48, 48, 3), 7, dtype=np.uint8)  # same size, other content
    (photos / "p2.png").write_bytes(imagecodecs.png_encode(image))
    os.utime(photos / "p2.png", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime too
    result = run(*args, "--resume")
    assert result.exit_code == 1 and "source file(s) changed" in result.output
    assert "p2.png" in result.output and "Traceback" not in result.output


def test_resume_with_unchanged_photos_completes(tmp_path, monkeypatch):
    _, args = interrupted_folder_build(tmp_path, monkeypatch)
    result = run(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert validate(args[-1]).ok


def test_a_photo_changed_during_a_build_stops_it_naming_the_file(tmp_path):
    photos = write_photos(tmp_path / "photos", n=3, side=48)
    cfg = GenerateConfig(source=str(photos), pattern="bayer", count=6, patch=16)
    p = plan(cfg)
    (photos / "p0.png").write_bytes(imagecodecs.png_encode(np.zeros((48, 48, 3), np.uint8)))
    with pytest.raises(SourceError, match=r"p0\.png changed since the build was planned"):
        build(p, tmp_path / "x.zarr", progress=False)


# -- complete is written last ---------------------------------------------------------------------


def test_a_build_killed_while_finishing_is_repaired_by_resume(tmp_path, monkeypatch):
    out, reference = tmp_path / "f.zarr", tmp_path / "ref.zarr"
    args = ["generate", *SMALL, "--shard-samples", "2"]
    assert run(*args, "--out", reference).exit_code == 0

    def killed(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(manifest, "write_manifest", killed)
    assert run(*args, "--out", out).exit_code == 1
    monkeypatch.undo()
    root = json.loads((out / "zarr.json").read_text())
    assert root["attributes"]["cfasim"]["status"] == "finalizing"
    assert not validate(out).ok
    with pytest.raises(DatasetError, match=r"unfinished build .* --resume"):
        open_dataset(out)
    result = run(*args, "--out", out, "--resume")
    assert result.exit_code == 0 and "0 shard(s) rendered" in result.output
    assert snapshot(out) == snapshot(reference)


def test_a_complete_store_without_checksums_is_refinished_by_resume(kept):
    out, before = kept
    (out / "checksums.json").unlink()  # an older cfasim wrote "complete" before the checksums
    assert not validate(out).ok
    result = run("generate", *SMALL, "--out", out, "--resume")
    assert result.exit_code == 0 and validate(out).ok
    assert snapshot(out) == before
