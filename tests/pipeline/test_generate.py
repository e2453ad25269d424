"""`cfasim generate` / `cfasim info` end to end: store layout, determinism, metadata, bad input."""

import json
import warnings

import numpy as np
import pytest
import xarray as xr
import zarr

from cfasim.cfa import CFAPattern, get_pattern
from cfasim.isp.steps import UnprocessParams
from cfasim.pipeline import builder as gen
from cfasim.pipeline import source_kinds
from cfasim.sim.noise import NoiseLevels
from cfasim.sim.simulate import RawFormat, simulate_raw
from cfasim.store import generate_config
from cfasim.store import schema as dataset
from cfasim.testing.fixtures import run_cli as run
from cfasim.testing.fixtures import write_png


def make(tmp_path, name="d.zarr", *extra, pattern="nona", count=20, patch=48):
    out = tmp_path / name
    result = run(
        "generate", "--pattern", pattern, "--count", count, "--patch", patch, "--out", out, *extra
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def nona_store(tmp_path_factory):
    return make(
        tmp_path_factory.mktemp("gen"), "nona.zarr", "--clean", "--seed", "5", "--workers", "2"
    )


def test_store_layout_opens_with_plain_zarr_and_xarray(nona_store):
    root = zarr.open_group(str(nona_store), mode="r")
    attrs = root.attrs["cfasim"]
    assert attrs["status"] == "complete" and attrs["format_version"] == dataset.FORMAT_VERSION
    assert CFAPattern.from_dict(attrs["pattern"]) == get_pattern("nona")
    assert attrs["splits"] == {"train": 16, "val": 2, "test": 2}
    train = root["train"]
    assert train["raw"].shape == (16, 48, 48) and train["raw"].dtype == np.uint16
    assert train["target"].shape == (16, 48, 48, 3) and train["target"].dtype == np.uint8
    assert train["clean"].dtype == np.float16
    assert train["raw"].chunks == (1, 48, 48)
    k = attrs["config"]["shard_samples"]
    assert train["raw"].shards == (min(k, 16), 48, 48)
    for name in dataset.META_ARRAYS:
        assert train[name].shape[0] == 16
        assert train[name].metadata.dimension_names[0] == "sample"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # consolidated metadata: no fallback warning
        ds = xr.open_zarr(str(nona_store), group="train")
    assert ds["raw"].dims == ("sample", "y", "x")
    assert ds["target"].dims == ("sample", "target_y", "target_x", "channel")
    assert ds["clean"].dims == ("sample", "y", "x", "channel")
    assert ds["rgb2cam"].dims == ("sample", "cam", "rgb")
    np.testing.assert_array_equal(ds["raw"].values, train["raw"][...])


def test_raw_is_reproducible_from_stored_metadata(nona_store):
    root = zarr.open_group(str(nona_store), mode="r")
    a = root.attrs["cfasim"]
    g = root["val"]
    fmt = RawFormat(**a["raw_format"])
    pattern = CFAPattern.from_dict(a["pattern"])
    for i in range(2):
        params = UnprocessParams(
            g["xyz2cam"][i], g["wb_gains"][i][0], g["wb_gains"][i][2], g["digital_gain"][i]
        )
        np.testing.assert_allclose(params.rgb2cam, g["rgb2cam"][i], atol=1e-15)
        levels = NoiseLevels(g["shot_noise"][i], g["read_noise"][i])
        raw, clean = simulate_raw(
            g["target"][i],
            pattern,
            params,
            levels,
            fmt,
            seed=a["seed"],
            sample=int(g["sample_index"][i]),
            clean=True,
        )
        np.testing.assert_array_equal(raw, g["raw"][i])
        np.testing.assert_array_equal(clean.astype(np.float16), g["clean"][i])
    # the same scene is rendered again from the per-sample seed
    seed = int(g["seed"][0])
    from cfasim.source.scenes import dead_leaves

    np.testing.assert_array_equal(
        dead_leaves(48, 48, source_kinds.scene_seed(seed)), g["target"][0]
    )
    assert list(g["sample_index"][...]) == [16, 17]


def test_noise_in_store_matches_stored_levels(tmp_path):
    out = make(
        tmp_path,
        "n.zarr",
        "--clean",
        "--noise",
        "shot=4e-3,read=1e-4",
        "--bits",
        "14",
        "--count",
        8,
        "--splits",
        "1,0,0",
        pattern="bayer",
        patch=96,
    )
    g = zarr.open_group(str(out), mode="r")["train"]
    fmt = RawFormat(14, 64)
    v = fmt.to_linear(g["raw"][...])
    pattern = get_pattern("bayer")
    clean = pattern.mosaic(g["clean"][...].astype(np.float64))
    inside = (clean > 0.02) & (clean < 0.9)  # away from the clips
    resid = (v - clean)[inside]
    predicted = 4e-3 * clean[inside] + 1e-4 + (1 / (fmt.white - fmt.black)) ** 2 / 12
    # normalised residuals have unit variance; float16 clean adds < 1e-3 relative error
    z = resid / np.sqrt(predicted)
    assert z.var() == pytest.approx(1.0, rel=0.02) and abs(z.mean()) < 0.02


def test_workers_one_and_two_give_identical_bytes(tmp_path):
    a = make(tmp_path, "a.zarr", "--workers", "1", "--seed", "9", count=30)
    b = make(tmp_path, "b.zarr", "--workers", "2", "--seed", "9", count=30)
    c = make(tmp_path, "c.zarr", "--workers", "1", "--seed", "10", count=30)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) > 10
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    ga = zarr.open_group(str(a), mode="r")["train"]
    gc = zarr.open_group(str(c), mode="r")["train"]
    assert not np.array_equal(ga["raw"][...], gc["raw"][...])


@pytest.mark.parametrize(
    "pattern, patch", [("bayer", 32), ("quad:grbg", 32), ("qxq", 64), ("RGB/GBR/BRG", 30)]
)
def test_every_pattern_generates(tmp_path, pattern, patch):
    out = make(tmp_path, "p.zarr", "--splits", "1,0,0", pattern=pattern, count=3, patch=patch)
    root = zarr.open_group(str(out), mode="r")
    p = CFAPattern.from_dict(root.attrs["cfasim"]["pattern"])
    assert p == get_pattern(pattern)
    assert root["train"]["raw"].shape == (3, patch, patch)
    assert "raw" not in root["val"]  # empty splits have no data arrays


def test_folder_source_crops_on_the_period_and_keeps_splits_apart(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "photos"
    for i in range(6):
        write_png(src / f"a{i}.png", rng.integers(0, 256, (70 + i, 90, 3), dtype=np.uint8))
    write_png(src / "deep" / "b16.png", rng.integers(0, 65536, (80, 80, 3), dtype=np.uint16))
    write_png(src / "tiny.png", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "f.zarr"
    result = run(
        "generate", "--source", src, "--pattern", "quad", "--count", 20, "--patch", 48, "--out", out
    )
    assert result.exit_code == 0, result.output
    assert "skipped 1 source file" in result.output and "tiny.png" in result.output
    root = zarr.open_group(str(out), mode="r")
    sources = root.attrs["cfasim"]["sources"]
    assert [s["path"] for s in sources] == [f"a{i}.png" for i in range(6)] + ["deep/b16.png"]
    used = {}
    for split in dataset.SPLITS:
        g = root[split]
        boxes, ids = g["crop_box"][...], g["source_id"][...]
        used[split] = set(ids.tolist())
        for j in range(g.attrs["count"]):
            y0, x0, h, w = boxes[j]
            s = sources[ids[j]]
            assert y0 % 4 == 0 and x0 % 4 == 0 and (h, w) == (48, 48)
            assert y0 + h <= s["height"] and x0 + w <= s["width"]
            from cfasim.source.images import load_image

            image = load_image(src / s["path"])[y0 : y0 + h, x0 : x0 + w]
            if image.dtype == np.uint8:
                np.testing.assert_array_equal(g["target"][j], image)
            else:
                np.testing.assert_array_equal(g["target"][j], source_kinds.to_uint8(image))
    assert not (used["train"] & used["val"]) and not (used["train"] & used["test"])
    assert not (used["val"] & used["test"])


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path):
    shown = run("generate", "--count", 4, "--patch", 48, "--out", tmp_path / "a.zarr", "--progress")
    assert shown.exit_code == 0 and "generate: 100%" in shown.output and "4/4" in shown.output
    quiet = run("generate", "--count", 4, "--patch", 48, "--out", tmp_path / "b.zarr")
    assert quiet.exit_code == 0 and "100%" not in quiet.output  # CliRunner is not a TTY


def test_info_prints_summary(nona_store):
    result = run("info", nona_store)
    assert result.exit_code == 0
    for text in (
        "nona:rggb",
        "status       complete",
        "train        16 samples",
        "brooks",
        "raw (16, 48, 48) uint16",
        "MiB",
    ):
        assert text in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pattern", "hexa"], "unknown CFA pattern"),
        (["--pattern", "RGX/GBB"], "unknown CFA pattern"),
        (["--patch", "50"], "not a multiple of the nona:rggb period 6x6; try 48"),
        (["--splits", "0.5,0.5"], "train,val,test"),
        (["--splits", "0.5,0.6,0.1"], "summing to 1"),
        (["--noise", "loud"], "bad noise spec"),
        (["--black-level", "2000"], "black"),
    ],
)
def test_bad_options_fail_with_a_clear_message(tmp_path, args, message):
    result = run("generate", "--out", tmp_path / "x.zarr", "--count", 2, *args)
    assert result.exit_code != 0 and message in result.output
    assert not (tmp_path / "x.zarr").exists()


def test_bad_sources(tmp_path):
    out = tmp_path / "x.zarr"
    result = run("generate", "--source", tmp_path / "nope", "--out", out)
    assert result.exit_code == 1 and "nope" in result.output and not out.exists()
    (tmp_path / "empty").mkdir()
    result = run("generate", "--source", tmp_path / "empty", "--out", out)
    assert result.exit_code == 1 and "no JPEG/PNG/TIFF" in result.output and not out.exists()
    small = tmp_path / "small"
    write_png(small / "a.png", np.zeros((10, 10, 3), np.uint8))
    result = run("generate", "--source", small, "--out", out)
    assert result.exit_code == 1 and "too small" in result.output and not out.exists()
    write_png(small / "b.png", np.zeros((300, 300, 3), np.uint8))
    result = run("generate", "--source", small, "--out", out)  # one image, three splits
    assert result.exit_code == 1 and "--splits 1,0,0" in result.output and not out.exists()


def test_existing_output_is_never_lost(tmp_path):
    out = make(tmp_path, "d.zarr", count=3)
    before = (out / "zarr.json").read_bytes()
    result = run("generate", "--count", 3, "--patch", 48, "--out", out)
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert (out / "zarr.json").read_bytes() == before
    make(tmp_path, "d.zarr", "--overwrite", "--seed", "3", count=3)  # a cfasim store: replaced
    assert zarr.open_group(str(out), mode="r").attrs["cfasim"]["seed"] == 3
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    result = run("generate", "--count", 3, "--patch", 48, "--out", precious, "--overwrite")
    assert result.exit_code == 1 and "not a cfasim dataset" in result.output
    assert (precious / "chapter1.tex").read_text() == "years of work"


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    result = run("generate", "--count", 2, "--patch", 48, "--out", blocker / "d.zarr")
    assert result.exit_code == 1 and "does not exist" in result.output


def test_failed_build_is_left_marked_incomplete(tmp_path, monkeypatch):
    calls = []
    real = gen.render_shard

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(gen, "render_shard", flaky)
    out = tmp_path / "broken.zarr"
    result = run("generate", "--count", 40, "--patch", 48, "--workers", 1, "--out", out)
    assert result.exit_code == 1 and "disk full" in result.output and "--resume" in result.output
    info = run("info", out)
    assert "INCOMPLETE" in info.output
    meta = json.loads((out / "zarr.json").read_text())
    assert meta["attributes"]["cfasim"]["status"] == "building"


def test_info_on_non_dataset(tmp_path):
    result = run("info", tmp_path)
    assert result.exit_code == 1 and "not" in result.output


def test_split_counts_and_shard_ranges():
    cfg = generate_config.GenerateConfig(count=256).validated()
    assert cfg.split_counts() == {"train": 204, "val": 26, "test": 26}
    assert generate_config.GenerateConfig(count=1).validated().split_counts() == {
        "train": 1,
        "val": 0,
        "test": 0,
    }
    assert dataset.shard_ranges(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert cfg.shard_samples == dataset.shard_samples_for(2 * 288 * 288)


def test_scale_two_targets_at_twice_the_raw_resolution(tmp_path):
    from cfasim.sim.simulate import downscale_display

    out = make(tmp_path, "s2.zarr", "--scale", "2", "--splits", "1,0,0", count=3)
    root = zarr.open_group(str(out), mode="r")
    g = root["train"]
    assert g.attrs["scale"] == 2 and root.attrs["cfasim"]["config"]["scale"] == 2
    assert g["raw"].shape == (3, 48, 48) and g["target"].shape == (3, 96, 96, 3)
    a = root.attrs["cfasim"]
    params = UnprocessParams(
        g["xyz2cam"][1], g["wb_gains"][1][0], g["wb_gains"][1][2], g["digital_gain"][1]
    )
    sensor = downscale_display(g["target"][1], 2, params)
    raw, _ = simulate_raw(
        sensor,
        CFAPattern.from_dict(a["pattern"]),
        params,
        NoiseLevels(g["shot_noise"][1], g["read_noise"][1]),
        RawFormat(**a["raw_format"]),
        seed=a["seed"],
        sample=1,
    )
    np.testing.assert_array_equal(raw, g["raw"][1])
    # averaging in linear light: a flat image stays flat, a step edge is averaged in linear
    flat = np.full((4, 4, 3), 200, np.uint8)
    assert len(np.unique(downscale_display(flat, 2, params))) == 1
    with pytest.raises(ValueError, match="multiple of the scale 2"):
        downscale_display(np.zeros((5, 4, 3), np.uint8), 2, params)


def test_scale_two_from_a_folder(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(2):
        write_png(tmp_path / "src" / f"{i}.png", rng.integers(0, 256, (130, 120, 3), np.uint8))
    out = tmp_path / "f2.zarr"
    result = run(
        "generate",
        "--source",
        tmp_path / "src",
        "--scale",
        "2",
        "--patch",
        "48",
        "--count",
        4,
        "--splits",
        "1,0,0",
        "--pattern",
        "quad",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    g = zarr.open_group(str(out), mode="r")["train"]
    boxes = g["crop_box"][...]
    assert (boxes[:, 2:] == 96).all() and (boxes[:, :2] % 8 == 0).all()  # 2 x the 4x4 period


def test_a_fixed_camera_keeps_its_matrix_and_draws_the_white_balance(tmp_path):
    import cfasim

    """--camera (the 'camera' task): every sample has the bank camera's matrix; the white
    balance and the other draws are those of the random-camera build with the same seed."""
    from cfasim.isp.color import CAMERA_NAMES, CAMERA_XYZ2CAM
    from cfasim.store.generate_config import GenerateConfig
    from cfasim.testing.fixtures import build_store, run_cli

    fixed = cfasim.open_dataset(build_store(tmp_path / "f.zarr", count=6, patch=24,
                                            camera="olympus-em10"))  # fmt: skip
    free = cfasim.open_dataset(build_store(tmp_path / "r.zarr", count=6, patch=24))
    want = CAMERA_XYZ2CAM[CAMERA_NAMES.index("olympus-em10")]
    for i in range(len(fixed["train"])):
        a, b = fixed["train"][i], free["train"][i]
        np.testing.assert_array_equal(a["xyz2cam"], want)
        np.testing.assert_array_equal(a["wb_gains"], b["wb_gains"])
        assert a["shot_noise"] == b["shot_noise"] and not np.array_equal(a["raw"], b["raw"])
    assert fixed.config["camera"] == "olympus-em10" and "camera" not in free.config
    assert GenerateConfig(**fixed.config).validated().camera == "olympus-em10"  # round trip
    bad = run_cli("generate", "--source-kind", "raw", "--source", tmp_path, "--camera",
                  "nexus6p", "--out", tmp_path / "x.zarr")  # fmt: skip
    assert bad.exit_code != 0 and "has its own camera" in bad.output
    assert not (tmp_path / "x.zarr").exists()
