"""`generate --source-kind raw`: real Bayer RAW files re-mosaicked onto any CFA."""

import numpy as np
import zarr
from click.testing import CliRunner

from cfasim.cfa import CFAPattern, get_pattern
from cfasim.cli import main
from cfasim.data.dng import write_dng
from cfasim.isp import color
from cfasim.isp.steps import UnprocessParams, process
from cfasim.sim.noise import NoiseLevels
from cfasim.sim.simulate import RawFormat, simulate_raw_linear
from cfasim.source.raw import bin_to_linear_rgb, read_raw
from cfasim.testing.fixtures import camera_dng


def test_qxq_dataset_from_dngs(tmp_path):
    src = tmp_path / "dngs"
    src.mkdir()
    for i, phase in enumerate(["rggb", "grbg", "gbrg", "bggr", "rggb"]):
        camera_dng(src / f"shot{i}.dng", i, phase)
    nona = get_pattern("nona")  # a non-Bayer DNG is refused with a reason
    write_dng(
        src / "nona.dng",
        np.full((96, 96), 300, np.uint16),
        nona,
        256,
        4095,
        color.CAMERA_XYZ2CAM[0],
        np.ones(3),
    )
    (src / "broken.dng").write_bytes(b"not a raw file")
    out = tmp_path / "qxq.zarr"
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--source",
            str(src),
            "--source-kind",
            "raw",
            "--pattern",
            "qxq:grbg",
            "--count",
            "10",
            "--patch",
            "48",
            "--clean",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "skipped 2 source file" in result.output and "non-Bayer" in result.output
    root = zarr.open_group(str(out), mode="r")
    a = root.attrs["cfasim"]
    assert [s["path"] for s in a["sources"]] == [f"shot{i}.dng" for i in range(5)]
    g = root["train"]
    assert g["raw"].shape == (8, 48, 48)
    for j in range(2):
        src_entry = a["sources"][int(g["source_id"][j])]
        np.testing.assert_allclose(g["wb_gains"][j], [2.0, 1.0, 1 / 0.6], rtol=1e-5)
        y0, x0, h, w = g["crop_box"][j]
        lin = bin_to_linear_rgb(read_raw(src / src_entry["path"]))[y0 : y0 + h, x0 : x0 + w]
        # the stored RAW is the binned linear signal re-mosaicked onto QxQ, with noise
        raw, clean = simulate_raw_linear(
            lin,
            CFAPattern.from_dict(a["pattern"]),
            NoiseLevels(g["shot_noise"][j], g["read_noise"][j]),
            RawFormat(**a["raw_format"]),
            seed=a["seed"],
            sample=int(g["sample_index"][j]),
            clean=True,
        )
        np.testing.assert_array_equal(raw, g["raw"][j])
        np.testing.assert_array_equal(clean.astype(np.float16), g["clean"][j])  # = the crop
        # the target is cfasim's ISP of the same linear image with the file's metadata
        params = UnprocessParams(
            g["xyz2cam"][j], g["wb_gains"][j][0], g["wb_gains"][j][2], g["digital_gain"][j]
        )
        target = np.round(process(lin, params) * 255).astype(np.uint8)
        np.testing.assert_array_equal(target, g["target"][j])
    ok = CliRunner().invoke(main, ["validate", str(out)])
    assert ok.exit_code == 0, ok.output


def test_raw_kind_needs_a_folder(tmp_path):
    result = CliRunner().invoke(
        main, ["generate", "--source-kind", "raw", "--out", str(tmp_path / "x.zarr")]
    )
    assert result.exit_code == 2 and "RAW sources need a folder" in result.output
