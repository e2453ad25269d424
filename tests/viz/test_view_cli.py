"""``cfasim view``: the PNG it writes and its one-line errors."""

import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cfasim.cli import main
from cfasim.pipeline import GenerateConfig, build, plan
from cfasim.viz import preview as P


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-view") / "qxq.zarr"
    build(plan(GenerateConfig(pattern="qxq", count=10, patch=16, seed=9)), out, progress=False)
    return out


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_view_writes_the_chosen_samples(store, tmp_path):
    out = tmp_path / "v.png"
    result = run("view", store, "--split", "train", "--indices", "0,3", "--out", out)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    image = np.asarray(Image.open(io.BytesIO(out.read_bytes())).convert("RGB"))
    assert image.shape == (*P.figure_pixels(2)[::-1], 3)
    from cfasim.data.reader import open_dataset

    ds = open_dataset(store)
    png = P.preview_png(ds["train"], ds.attrs, name=str(store), split_name="train",
                        indices=[0, 3])  # fmt: skip
    assert out.read_bytes() == png
    first = run("view", store, "--split", "train", "--random", "2", "--seed", "1", "--out", out,
                "--overwrite")  # fmt: skip
    assert first.exit_code == 0, first.output
    drawn = P.choose_indices(8, random=2, seed=1)
    assert out.read_bytes() == P.preview_png(
        ds["train"], ds.attrs, name=str(store), split_name="train", indices=drawn
    )


def test_view_of_a_store_at_a_url(store, tmp_path):
    out = tmp_path / "u.png"
    result = run("view", f"file://{store}", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000


@pytest.mark.parametrize(
    "args, message",
    [
        (["--split", "nope"], "no split 'nope'"),
        (["--indices", "0,7"], "index 7 is out of range: the split has 1 samples"),
        (["--indices", "a,b"], "bad --indices 'a,b'"),
        (["--indices", "0", "--random", "1"], "not both"),
        (["--split", "train", "--random", "9"], "cannot draw 9 samples from a split of 8"),
    ],
)
def test_view_errors_are_one_line(store, tmp_path, args, message):
    result = run("view", store, *args, "--out", tmp_path / "x.png")
    assert result.exit_code == 1
    assert message in result.output and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "x.png").exists()


def test_view_never_overwrites_silently_and_refuses_foreign_folders(store, tmp_path):
    out = tmp_path / "mine.png"
    out.write_bytes(b"user's file")
    result = run("view", store, "--out", out)
    assert result.exit_code == 1 and "already exists; pass --overwrite" in result.output
    assert out.read_bytes() == b"user's file"
    result = run("view", tmp_path, "--out", tmp_path / "y.png")
    assert result.exit_code == 1 and "is not a Zarr group" in result.output
