"""checksums.json and the store validator: coverage, determinism, and every kind of damage."""

import json
import shutil
import warnings

import numpy as np
import pytest
import zarr

from cfasim.store import checksums as manifest
from cfasim.store.validate import validate
from cfasim.testing.fixtures import build_store

RAW_SHARD = "train/raw/c/1/0/0"  # train has 10 samples in shards of 4: shards 0, 1, 2


def make_store(out, **overrides):
    return build_store(out, **{"pattern": "nona", "count": 12, "patch": 48, "shard_samples": 4,
                               **overrides})  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("manifest") / "d.zarr")


@pytest.fixture
def copy(store, tmp_path):
    out = tmp_path / "d.zarr"
    shutil.copytree(store, out)
    return out


def all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def snapshot(root):
    return {
        rel: ((root / rel).read_bytes(), (root / rel).stat().st_mtime_ns) for rel in all_files(root)
    }


def test_manifest_covers_every_file_with_sha256_and_size(store):
    doc = json.loads((store / "checksums.json").read_text())
    assert doc["algorithm"] == "sha256"
    files = doc["files"]
    assert sorted(files) == [f for f in all_files(store) if f != "checksums.json"]
    assert list(files) == sorted(files)
    assert {"zarr.json", "README.md", "croissant.json", RAW_SHARD} <= set(files)
    for rel, entry in files.items():
        assert entry == {
            "sha256": manifest.hash_file(store / rel),
            "bytes": (store / rel).stat().st_size,
        }


def test_manifest_is_deterministic(store, copy):
    first = (store / "checksums.json").read_bytes()
    manifest.write_manifest(copy)  # same content, other folder, rewritten
    assert (copy / "checksums.json").read_bytes() == first


def test_hash_file_streams_large_files(tmp_path):
    import hashlib

    data = np.random.default_rng(0).bytes(3 * manifest.BLOCK + 123)
    (tmp_path / "f").write_bytes(data)
    assert manifest.hash_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_fresh_store_validates(store):
    report = validate(store)
    assert report.ok, report.format()
    assert report.problems == [] and report.warnings == []
    assert report.checked > 100
    assert report.format().startswith("OK")


def test_flipped_byte_in_a_raw_shard_is_found_and_named(copy):
    path = copy / RAW_SHARD
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    report = validate(copy)
    assert not report.ok
    assert any(RAW_SHARD in p and "sha256" in p for p in report.problems), report.format()
    assert all(RAW_SHARD in p for p in report.problems), report.format()
    assert RAW_SHARD in report.format() and report.format().startswith("INVALID")


def test_truncated_shard_is_found(copy):
    path = copy / "val/target/c/0/0/0/0"
    path.write_bytes(path.read_bytes()[:-10])
    report = validate(copy)
    assert not report.ok
    assert any("val/target/c/0/0/0/0" in p and "size" in p for p in report.problems)
    assert any("cannot decode" in p for p in report.problems), report.format()


def test_missing_shard_is_a_problem(copy):
    (copy / "train/target/c/2/0/0/0").unlink()
    report = validate(copy)
    assert not report.ok
    problems = "\n".join(report.problems)
    assert "train/target/c/2/0/0/0: shard file missing" in problems
    assert "train/target/c/2/0/0/0: listed in checksums.json, missing" in problems


def test_missing_split_and_wrong_count(copy):
    shutil.rmtree(copy / "val")
    meta = json.loads((copy / "test/zarr.json").read_text())
    meta["attributes"]["count"] = 5
    (copy / "test/zarr.json").write_text(json.dumps(meta))
    report = validate(copy, checksums=False)
    problems = "\n".join(report.problems)
    assert "val: split listed in attributes but missing" in problems
    assert "test/zarr.json: count 5" in problems


def test_leftovers_are_warnings_not_failures(copy):
    (copy / f"{RAW_SHARD}.partial").write_bytes(b"half")
    (copy / "notes.txt").write_text("x")
    report = validate(copy)
    assert report.ok, report.format()
    assert any(f"{RAW_SHARD}.partial" in w for w in report.warnings)
    assert any("notes.txt" in w for w in report.warnings)
    with pytest.warns(UserWarning, match="not part of the dataset"):
        doc = manifest.write_manifest(copy)
    assert f"{RAW_SHARD}.partial" not in doc["files"] and "notes.txt" not in doc["files"]


def test_extra_shard_beyond_the_grid_is_a_warning(copy):
    (copy / "train/raw/c/7/0").mkdir(parents=True)
    shutil.copy(copy / RAW_SHARD, copy / "train/raw/c/7/0/0")
    report = validate(copy)
    assert report.ok
    assert any("train/raw/c/7/0/0" in w for w in report.warnings)


def test_incomplete_or_unknown_store_is_rejected(copy, tmp_path):
    meta = json.loads((copy / "zarr.json").read_text())
    meta["attributes"]["cfasim"]["status"] = "building"
    meta["attributes"]["cfasim"]["format_version"] = 99
    (copy / "zarr.json").write_text(json.dumps(meta))
    problems = "\n".join(validate(copy).problems)
    assert "unfinished build (status 'building')" in problems
    assert "unknown format_version 99" in problems
    assert "zarr.json: sha256 mismatch" in problems or "zarr.json: size" in problems
    empty = tmp_path / "empty"
    empty.mkdir()
    report = validate(empty)
    assert not report.ok and "zarr.json" in report.problems[0]
    (empty / "zarr.json").write_text(json.dumps({"node_type": "group", "zarr_format": 3}))
    assert "not a cfasim store" in validate(empty).problems[0]


def test_bad_values_are_found_even_with_matching_checksums(copy):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = zarr.open_group(str(copy), mode="r+", use_consolidated=False)["train"]
        gain = g["digital_gain"][...]
        gain[3] = np.nan
        g["digital_gain"][...] = gain
        raw = g["raw"][4:8]
        raw[0, 0, 0] = 4000
        g["raw"][4:8] = raw
    manifest.write_manifest(copy)
    report = validate(copy)
    problems = "\n".join(report.problems)
    assert "train/digital_gain: 1 non-finite value(s)" in problems
    assert f"{RAW_SHARD}: 1 RAW value(s) above the white level 1023" in problems


def test_missing_manifest_is_a_problem(copy):
    (copy / "checksums.json").unlink()
    report = validate(copy)
    assert report.problems == ["checksums.json: missing"]
    assert validate(copy, checksums=False).ok


def test_validate_never_modifies_the_store(copy):
    path = copy / RAW_SHARD
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))
    (copy / "leftover.partial").write_bytes(b"")
    before = snapshot(copy)
    validate(copy)
    assert snapshot(copy) == before


def test_cli_validate_on_a_generated_store(tmp_path):
    from click.testing import CliRunner

    from cfasim.cli import main

    out = tmp_path / "v.zarr"
    runner = CliRunner()
    made = runner.invoke(main, ["generate", "--count", "12", "--patch", "48", "--out", str(out)])
    assert made.exit_code == 0, made.output
    for name in ("README.md", "croissant.json", "checksums.json"):
        assert (out / name).is_file()  # written by every build
    ok = runner.invoke(main, ["validate", str(out)])
    assert ok.exit_code == 0, ok.output
    shard = next(out.glob("train/raw/c/0/0/0"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    bad = runner.invoke(main, ["validate", str(out)])
    assert bad.exit_code == 1 and "train/raw/c/0/0/0" in bad.output
