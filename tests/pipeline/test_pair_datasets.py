"""Datasets of real captured pairs: Zurich RAW-to-RGB and generic two-folder pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cfasim import open_dataset
from cfasim.cli import main
from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.source.images import SourceError, load_image
from cfasim.source.pairs import load_mosaic
from cfasim.store.validate import validate
from cfasim.testing.fixtures import make_zrr, raw10, smooth8, write_jpeg, write_png

S = 32


def zrr_root(tmp_path: Path) -> Path:
    root = tmp_path / "zrr"
    make_zrr(root / "train", raw_stems=range(6), target_stems=range(6), size=S)
    make_zrr(root / "test", raw_stems=range(2), target_stems=range(2), size=S)
    return root


def test_zurich_dataset_stores_pairs_as_captured(tmp_path):
    root = zrr_root(tmp_path)
    cfg = GenerateConfig(
        source=str(root), source_kind="zurich", patch=16, seed=3, splits=(0.54, 0.36, 0.1)
    )
    p = plan(cfg)
    assert p.config.pattern == "bayer:rggb" and p.config.noise == "none"
    out = tmp_path / "zrr.zarr"
    build(p, out, progress=False)
    ds = open_dataset(out)
    # the held-out test/ folder is the test split; train/ feeds train and val (0.6 : 0.4)
    assert (len(ds["train"]), len(ds["val"]), len(ds["test"])) == (4, 2, 2)
    used = [int(i) for s in ("train", "val", "test") for i in ds[s].arrays["source_id"]]
    assert sorted(used) == list(range(8))  # every patch exactly once
    test_sources = {ds.attrs["sources"][i]["split_hint"] for i in ds["test"].arrays["source_id"]}
    assert test_sources == {"test"}
    for split in ("train", "val"):
        hints = {ds.attrs["sources"][i]["split_hint"] for i in ds[split].arrays["source_id"]}
        assert hints == {"train"}
    for split in ("train", "val", "test"):
        sp = ds[split]
        for i in range(len(sp)):
            item = sp[i]
            src = ds.attrs["sources"][int(sp.meta(i)["source_id"])]
            y0, x0, h, w = (int(v) for v in sp.meta(i)["crop_box"])
            assert (h, w) == (16, 16) and y0 % 2 == 0 and x0 % 2 == 0
            mosaic = load_mosaic(root / src["path"])
            target = load_image(root / src["target"])
            np.testing.assert_array_equal(item["raw"], mosaic[y0 : y0 + 16, x0 : x0 + 16])
            np.testing.assert_array_equal(item["target"], target[y0 : y0 + 16, x0 : x0 + 16])
            assert np.isnan(sp.meta(i)["xyz2cam"]).all() and np.isnan(sp.meta(i)["shot_noise"])
    report = validate(out)
    assert report.ok, report.format()
    card = (out / "README.md").read_text()
    assert "captured, not simulated" in card and "Zurich RAW-to-RGB" in card
    assert "Unprocessing chain" not in card
    with pytest.raises(ValueError, match="real captured pair"):
        ds["train"].params(0)


def test_zurich_validate_flags_non_nan_parameters(tmp_path):
    import zarr

    out = tmp_path / "zrr.zarr"
    cfg = GenerateConfig(source=str(zrr_root(tmp_path)), source_kind="zurich", count=4, patch=16)
    build(plan(cfg), out, progress=False)
    arr = zarr.open_array(str(out / "train" / "wb_gains"), mode="r+")
    arr[0] = [2.0, 1.0, 1.5]
    report = validate(out, checksums=False)
    assert not report.ok
    assert "train/wb_gains: 3 value(s) where real pairs store NaN" in report.format()


def test_generic_pairs_scale_two(tmp_path):
    raws, targets = tmp_path / "raw", tmp_path / "rgb"
    for i in range(4):
        write_png(raws / f"im{i}.png", raw10(S, S, seed=i))
        write_png(targets / f"im{i}.png", smooth8(2 * S, 2 * S))
    cfg = GenerateConfig(
        pattern="quad",
        source=str(raws),
        targets=str(targets),
        source_kind="pairs",
        scale=2,
        count=4,
        patch=16,
        splits=(0.5, 0.25, 0.25),
    )
    out = tmp_path / "pairs.zarr"
    build(plan(cfg), out, progress=False)
    ds = open_dataset(out)
    sp = ds["train"]
    item = sp[0]
    y0, x0, h, w = (int(v) for v in sp.meta(0)["crop_box"])
    assert (h, w) == (32, 32) and y0 % 8 == 0 and x0 % 8 == 0  # quad period 4, scale 2
    src = ds.attrs["sources"][int(sp.meta(0)["source_id"])]
    mosaic = load_mosaic(raws / src["path"])
    np.testing.assert_array_equal(
        item["raw"], mosaic[y0 // 2 : y0 // 2 + 16, x0 // 2 : x0 // 2 + 16]
    )
    assert item["target"].shape == (32, 32, 3)
    assert validate(out).ok


def test_pairs_bad_files_skipped_with_reasons(tmp_path):
    raws, targets = tmp_path / "raw", tmp_path / "rgb"
    for i in range(3):
        write_png(raws / f"im{i}.png", raw10(S, S, seed=i))
        write_jpeg(targets / f"im{i}.jpg", smooth8(S, S))
    (raws / "im1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    write_png(raws / "small.png", raw10(8, 8))
    write_jpeg(targets / "small.jpg", smooth8(8, 8))
    cfg = GenerateConfig(
        pattern="bayer",
        source=str(raws),
        targets=str(targets),
        source_kind="pairs",
        count=2,
        patch=16,
        splits=(1, 0, 0),
    )
    p = plan(cfg)
    reasons = dict(p.skipped)
    assert len(p.sources) == 2
    assert "cannot load mosaic" in reasons[str(raws / "im1.png")]
    assert "too small: mosaic 8x8 < 16x16" in reasons[str(raws / "small.png")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source_kind": "zurich", "pattern": "nona"}, "Bayer RGGB, not nona:rggb"),
        ({"source_kind": "zurich", "noise": "brooks"}, "use --noise none"),
        ({"source_kind": "zurich", "clean": True}, "drop --clean"),
        ({"source_kind": "pairs"}, "needs the target folder"),
        ({"source_kind": "images", "targets": "x"}, "only used with --source-kind pairs"),
        ({"source_kind": "zurich", "source": "builtin"}, "needs a folder"),
    ],
)
def test_real_pair_config_errors(kwargs, message):
    kwargs = {"source": "somewhere", **kwargs}
    with pytest.raises(ValueError, match=message):
        GenerateConfig(patch=48, **kwargs).validated()


def test_zurich_uses_every_patch_once_in_the_release_splits(tmp_path):
    root = zrr_root(tmp_path)
    p = plan(GenerateConfig(source=str(root), source_kind="zurich", patch=S))  # defaults
    assert p.config.count is None and p.config.splits is None  # all patches, the folders
    assert {s.name: s.count for s in p.splits} == {"train": 6, "val": 0, "test": 2}
    for sp in p.splits:  # the release's numbering, the whole patch
        stems = [p.sources[i]["path"] for i in sp.meta["source_id"]]
        assert stems == sorted(stems, key=lambda t: int(Path(t).stem))
        assert (sp.meta["crop_box"][:, :2] == 0).all()
    smaller = plan(GenerateConfig(source=str(root), source_kind="zurich", count=4, patch=S))
    assert {s.name: s.count for s in smaller.splits} == {"train": 3, "val": 0, "test": 1}
    with pytest.raises(SourceError, match=r"--count 9: the Zurich folder has 8 patches"):
        plan(GenerateConfig(source=str(root), source_kind="zurich", count=9, patch=S))


def test_a_zurich_folder_with_only_test_gives_a_test_split(tmp_path):
    root = tmp_path / "zrr"
    make_zrr(root / "test", raw_stems=range(2), target_stems=range(2), size=S)
    p = plan(GenerateConfig(source=str(root), source_kind="zurich", patch=16))
    assert {s.name: s.count for s in p.splits} == {"train": 0, "val": 0, "test": 2}


def test_cli_zurich_and_regeneration_command(tmp_path):
    from cfasim.store.card import config_from_command, generate_command

    root = zrr_root(tmp_path)
    out = tmp_path / "cli.zarr"
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--source-kind",
            "zurich",
            "--source",
            str(root),
            "--count",
            "4",
            "--patch",
            "16",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "bayer" in result.output
    ds = open_dataset(out)
    command, missing = generate_command(ds.config, str(out))
    assert missing == {}
    assert config_from_command(command) == ds.config


def test_dng_export_of_real_pairs_is_refused(tmp_path):
    from cfasim.data.dng import export_dng

    out = tmp_path / "zrr.zarr"
    cfg = GenerateConfig(source=str(zrr_root(tmp_path)), source_kind="zurich", count=4, patch=16)
    build(plan(cfg), out, progress=False)
    with pytest.raises(ValueError, match="real captured pairs"):
        export_dng(out, "train", "0:1", tmp_path / "dng")
