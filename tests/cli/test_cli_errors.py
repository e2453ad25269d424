"""One line for every user error, and one piece of advice for an unfinished build, from every
command that reads a dataset."""

import json
import shutil

import pytest

from cfasim.errors import DatasetError
from cfasim.pipeline import GenerateConfig, plan
from cfasim.pipeline.builder import create_store
from cfasim.testing.fixtures import run_cli as run

ADVICE = "continue it by running the same cfasim generate command with --resume"


def one_line_error(result, *needles):
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    assert lines[-1].startswith("Error: ") and all(n in lines[-1] for n in needles), lines


@pytest.fixture(scope="module")
def unfinished(tmp_path_factory):
    out = tmp_path_factory.mktemp("unfinished") / "u.zarr"
    create_store(plan(GenerateConfig(pattern="bayer", count=4, patch=16)), out)  # "building"
    return out


@pytest.fixture
def complete(tiny_store):
    return tiny_store


@pytest.mark.parametrize(
    "command",
    [
        ["export-dng", "{ds}", "{tmp}/dngs"],
        ["noise-check", "{ds}"],
        ["evaluate", "{ds}", "--out", "{tmp}/ev"],
    ],
)
def test_every_reader_gives_the_same_advice_for_an_unfinished_build(unfinished, tmp_path, command):
    args = [a.format(ds=unfinished, tmp=tmp_path) for a in command]
    one_line_error(run(*args), "unfinished build (status 'building')", ADVICE)


def test_info_and_validate_say_the_same(unfinished):
    info = run("info", unfinished)
    assert info.exit_code == 0 and ADVICE in info.output and "INCOMPLETE" in info.output
    report = run("validate", unfinished)
    assert report.exit_code == 1 and ADVICE in report.output


def test_the_training_dataset_says_the_same(unfinished):
    pytest.importorskip("torch")
    from cfasim.train.data import CFADataset

    with pytest.raises(DatasetError, match=ADVICE):
        CFADataset(unfinished)


@pytest.mark.parametrize(
    "command",
    [
        ["noise-check", "{ds}", "--split", "nope"],
        ["evaluate", "{ds}", "--split", "nope", "--out", "{tmp}/ev"],
        ["export-dng", "{ds}", "{tmp}/d", "--split", "nope"],
    ],
)
def test_an_unknown_split_is_one_line_naming_the_splits(complete, tmp_path, command):
    args = [a.format(ds=complete, tmp=tmp_path) for a in command]
    one_line_error(run(*args), "'nope'", "train, val, test")


def test_info_on_a_damaged_split_reports_it(complete, tmp_path):
    copy = tmp_path / "d.zarr"
    shutil.copytree(complete, copy)
    doc = json.loads((copy / "zarr.json").read_text())
    doc.pop("consolidated_metadata")  # read each split's own metadata
    (copy / "zarr.json").write_text(json.dumps(doc))
    (copy / "val" / "zarr.json").unlink()
    meta = json.loads((copy / "test" / "zarr.json").read_text())
    meta["attributes"].pop("count")  # what two concurrent writers used to leave
    (copy / "test" / "zarr.json").write_text(json.dumps(meta))
    result = run("info", copy)
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert "val          DAMAGED" in result.output and "test         DAMAGED" in result.output
    assert "train        10 samples" in result.output


def test_calibrate_refuses_a_missing_output_folder_before_fitting(tmp_path):
    for option in ("--out", "--plot"):
        args = ["calibrate", "--flats", tmp_path, "--darks", tmp_path, "--out", tmp_path / "p.toml"]
        if option == "--plot":
            args += ["--plot", tmp_path / "nowhere" / "ptc.png"]
        else:
            args[-1] = tmp_path / "nowhere" / "p.toml"
        one_line_error(run(*args), option, "does not exist")


def test_generate_into_a_file_or_a_missing_folder_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("keep")
    base = ["generate", "--count", "4", "--patch", "18", "--out"]
    one_line_error(run(*base, tmp_path / "afile"), "is a file")
    assert (tmp_path / "afile").read_text() == "keep"
    one_line_error(run(*base, tmp_path / "no" / "d.zarr"), "does not exist")
