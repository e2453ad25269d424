"""Checkpoints are read with ``weights_only=True`` only: a crafted ``.pt`` never runs code, and
every unusable checkpoint or input is one line (exit 1, no traceback) on every command."""

import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from cfasim.cfa import CFAPattern  # noqa: E402
from cfasim.cli import main  # noqa: E402
from cfasim.errors import CheckpointError  # noqa: E402
from cfasim.pipeline import GenerateConfig, build, plan  # noqa: E402
from cfasim.testing.fixtures import MarkerPayload  # noqa: E402
from cfasim.train.checkpoint import (  # noqa: E402
    CHECKPOINT_FORMAT,
    check_plain,
    load_checkpoint,
    save_checkpoint,
)
from cfasim.train.config import load_config  # noqa: E402
from cfasim.train.models import build_model  # noqa: E402
from cfasim.train.trainer import Trainer  # noqa: E402

BLOCKS = {"bayer": 1, "quad": 2, "nona": 3}
TINY_SPEC = {"name": "lwisp", "args": {"widths": [4, 8], "in_channels": 4}}
TINY_SET = ["--set", "model.args={ widths = [4, 8] }", "--set", "data.crop=24"]
TINY_SET += ["--set", "data.batch_size=2", "--set", "train.threads=1"]


def tiny_checkpoint(path, pattern: str = "bayer"):
    """A valid format-1 checkpoint of an untrained 2-scale LW-ISP (no dataset needed)."""
    torch.manual_seed(0)
    model = build_model(TINY_SPEC)
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "model_spec": TINY_SPEC,
        "model": model.state_dict(),
        "adapter": {
            "input": "mosaic",
            "pattern": CFAPattern.block_bayer(BLOCKS[pattern]).to_dict(),
            "packing": "planes",
            "with_mask": False,
            "normalize": [64.0, 1023.0],
        },
    }
    torch.save(ckpt, path)
    return path


def bad_checkpoint(kind: str, folder, marker=None):
    """A file that is not a loadable cfasim checkpoint, of the given kind."""
    path = folder / f"{kind}.pt"
    if kind == "evil":
        torch.save({"format": CHECKPOINT_FORMAT, "model_spec": MarkerPayload(marker)}, path)
    elif kind == "evil-legacy":  # torch's pre-zip serialization
        payload = {"format": CHECKPOINT_FORMAT, "model": MarkerPayload(marker)}
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    elif kind == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "text":
        path.write_text("this is a text file, not a checkpoint\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = tiny_checkpoint(folder / "whole.pt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.txt", "a zip archive, not torch.save's")
    elif kind == "no-format":
        torch.save({"model": {"w": torch.zeros(3)}}, path)
    elif kind == "missing":
        pass
    else:
        raise AssertionError(kind)
    return path


def assert_one_line_error(result, *needles):
    """Exit 1 with exactly one ``Error: ...`` line, the last one, containing ``needles``; no
    traceback and no exception escaping the command (CliRunner hides tracebacks)."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("Error: ")]
    assert errors == [lines[-1]], result.output
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


@pytest.fixture(scope="module")
def bayer_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "bayer.zarr"
    cfg = GenerateConfig(pattern="bayer", count=6, patch=48, splits=(0.5, 0.25, 0.25))
    build(plan(cfg.validated()), out, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("good") / "model.pt")


def checkpoint_commands(store, ckpt, tmp_path) -> dict[str, list[str]]:
    """Every CLI command that loads a checkpoint, loading ``ckpt``."""
    train = ["train", "--dataset", str(store), "--steps", "1", *TINY_SET]
    resume_out = tmp_path / "resumed"
    resume_out.mkdir(exist_ok=True)
    if ckpt.exists():
        (resume_out / "checkpoint.pt").write_bytes(ckpt.read_bytes())
    evaluate = ["evaluate", str(store), "--checkpoint", str(ckpt), "--baselines", "none"]
    teacher = ["--distill", "output", "--teacher", str(ckpt)]
    return {
        "process-raw": ["process-raw", str(ckpt), str(store), "--out", str(tmp_path / "x.png")],
        "export": ["export", str(ckpt), str(tmp_path / "exported")],
        "evaluate": [*evaluate, "--crops", "0", "--out", str(tmp_path / "eval")],
        "train --teacher": [*train, "--out", str(tmp_path / "t"), *teacher],
        "train.init": [*train, "--out", str(tmp_path / "i"), "--set", f'train.init="{ckpt}"'],
        "train --resume": [*train, "--out", str(resume_out), "--resume"],
    }


COMMANDS = ["process-raw", "export", "evaluate", "train --teacher", "train.init", "train --resume"]


# -- loading --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["evil", "evil-legacy"])
def test_pickled_code_is_refused_and_never_runs(tmp_path, kind):
    marker = tmp_path / "MARKER"
    path = bad_checkpoint(kind, tmp_path, marker)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "refused" in message and "system" in message  # names what it would have imported
    assert not marker.exists()


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("garbage", "not a torch checkpoint file"),
        ("text", "a text file"),
        ("empty", "the file is empty"),
        ("truncated", "a truncated or damaged zip archive"),
        ("zip", "a zip archive that torch cannot read as a checkpoint"),
        ("no-format", "not a cfasim training checkpoint"),
        ("missing", "does not exist"),
    ],
)
def test_unloadable_checkpoints_are_one_line(tmp_path, kind, what):
    path = bad_checkpoint(kind, tmp_path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and what in message


def test_a_folder_and_other_formats_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="is not a file"):
        load_checkpoint(tmp_path)
    torch.save({"format": CHECKPOINT_FORMAT + 1, "model": {}}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match=f"this version reads format {CHECKPOINT_FORMAT}"):
        load_checkpoint(tmp_path / "future.pt")
    torch.save({"format": CHECKPOINT_FORMAT, "model": {}}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="damaged cfasim checkpoint: no model_spec, adapter"):
        load_checkpoint(tmp_path / "partial.pt")


def test_trainer_state_is_plain_and_loads_with_weights_only(bayer_store, tmp_path):
    """Everything a checkpoint holds (optimizer, scheduler, scaler, RNG included) passes
    weights_only=True; a checkpoint written by ``torch.save(state)`` as format-1 files always
    were keeps loading."""
    cfg = load_config(
        None,
        ["model.args={ widths = [4, 8] }", "data.crop=24", "data.batch_size=2"],
        data__dataset=bayer_store,  # a Path: the config stores it as a string
        train__out=tmp_path / "run",
        train__threads=1,
    )
    tr = Trainer(cfg, log=lambda *a: None)
    tr.train_step(next(tr._batches()))
    state = tr.state()
    check_plain(state)
    assert state["config"]["data"]["dataset"] == str(bayer_store)
    torch.save(state, tmp_path / "old-style.pt")  # what the previous code wrote
    loaded = load_checkpoint(tmp_path / "old-style.pt")
    assert loaded["step"] == 1 and loaded["optimizer"]["state"][0]["step"] == 1
    assert torch.equal(loaded["rng"]["torch"], state["rng"]["torch"])
    assert loaded["scheduler"]["last_epoch"] == 1
    saved = load_checkpoint(tr.save())
    assert saved["config"] == state["config"]


def test_check_plain_refuses_numpy_scalars_and_objects():
    check_plain({"a": [1, 2.0, "x", None, True, (3, 4)], 5: torch.zeros(2)})
    with pytest.raises(TypeError, match=r"checkpoint\['lr'\] is a numpy.float64"):
        check_plain({"lr": np.float64(1e-3)})  # a float subclass that weights_only refuses
    with pytest.raises(TypeError, match="PosixPath"):
        check_plain({"out": [tmp := __import__("pathlib").Path("runs")]})
    assert tmp.name == "runs"


def test_save_checkpoint_is_atomic_and_refuses_objects(tmp_path):
    path = tmp_path / "deep" / "ckpt.pt"
    source = tiny_checkpoint(tmp_path / "src.pt")
    state = torch.load(source, weights_only=True)
    assert save_checkpoint(state, path) == path and not path.with_suffix(".tmp").exists()
    assert load_checkpoint(path)["model_spec"] == TINY_SPEC
    before = path.read_bytes()
    with pytest.raises(TypeError, match="PosixPath"):
        save_checkpoint({**state, "config": {"out": tmp_path}}, path)
    assert path.read_bytes() == before  # nothing written, the old file untouched


# -- the CLI --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_refuses_a_malicious_checkpoint_without_running_it(bayer_store, tmp_path, command):
    marker = tmp_path / "MARKER"
    bad = bad_checkpoint("evil", tmp_path, marker)
    args = checkpoint_commands(bayer_store, bad, tmp_path)[command]
    result = CliRunner().invoke(main, args)
    assert not marker.exists(), "the checkpoint's pickled os.system call ran"
    name = "checkpoint.pt" if command == "train --resume" else "evil.pt"  # --resume: a copy
    assert_one_line_error(result, "refused to load checkpoint", name, "posix.system")


@pytest.mark.parametrize("kind", ["garbage", "text", "truncated", "zip", "no-format", "missing"])
@pytest.mark.parametrize("command", COMMANDS)
def test_cli_bad_checkpoint_files_are_one_line(bayer_store, tmp_path, command, kind):
    bad = bad_checkpoint(kind, tmp_path)
    args = checkpoint_commands(bayer_store, bad, tmp_path)[command]
    if command == "train --resume":
        bad = tmp_path / "resumed" / "checkpoint.pt"  # --resume loads (a copy in) OUT
    assert_one_line_error(CliRunner().invoke(main, args), str(bad))
    assert not (tmp_path / "exported").exists()  # export refuses before creating its folder


def test_cli_loads_a_good_checkpoint_everywhere(bayer_store, good_checkpoint, tmp_path):
    """The same commands run with a valid checkpoint (so the refusals above are about the
    files, not the command lines)."""
    for command, args in checkpoint_commands(bayer_store, good_checkpoint, tmp_path).items():
        if command == "train --resume":
            continue  # a model-only checkpoint cannot resume: tested below
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (command, result.output)
    resume = checkpoint_commands(bayer_store, good_checkpoint, tmp_path)["train --resume"]
    assert_one_line_error(CliRunner().invoke(main, resume), "cannot be resumed: no optimizer")


def test_weights_that_do_not_fit_the_spec_are_one_line(tmp_path):
    ckpt = torch.load(tiny_checkpoint(tmp_path / "a.pt"), weights_only=True)
    ckpt["model_spec"] = {"name": "lwisp", "args": {"widths": [4, 16], "in_channels": 4}}
    torch.save(ckpt, tmp_path / "mismatch.pt")
    result = CliRunner().invoke(main, ["export", str(tmp_path / "mismatch.pt"), str(tmp_path)])
    assert_one_line_error(result, "mismatch.pt is a damaged cfasim checkpoint", "size mismatch")


# -- process-raw inputs ---------------------------------------------------------------------------


def write_dng(path, data, photometric, samples_per_pixel_patch=None):
    """A DNG written with tifffile (CFA, LinearRaw or a patched one-sample LinearRaw)."""
    import tifffile

    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "cfasim-test", True),  # UniqueCameraModel
        (50717, "H", 1, 1023, True),  # WhiteLevel
    ]
    kwargs = {"planarconfig": "contig"} if data.ndim == 3 else {}
    tifffile.imwrite(
        path, data, photometric=photometric, subfiletype=0, extratags=tags, metadata=None, **kwargs
    )
    if samples_per_pixel_patch is not None:  # tifffile refuses one-sample LinearRaw
        with tifffile.TiffFile(path, mode="r+b") as tif:
            tif.pages[0].tags[262].overwrite(samples_per_pixel_patch)
    return path


def raw_inputs(folder) -> dict:
    """Unusable INPUT files for process-raw and a word each that the error must contain."""
    import imagecodecs

    rng = np.random.default_rng(3)
    (folder / "garbage.dng").write_bytes(rng.bytes(5000))
    jpeg = imagecodecs.jpeg_encode(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    (folder / "corrupt.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    codes = rng.integers(64, 1023, (48, 64)).astype(np.uint16)
    write_dng(folder / "mono.dng", codes, "minisblack", samples_per_pixel_patch=34892)
    rgb = rng.integers(64, 1023, (48, 64, 3)).astype(np.uint16)
    write_dng(folder / "linear.dng", rgb, 34892)
    return {
        "garbage.dng": "unreadable",
        "corrupt.jpg": "unreadable",
        "mono.dng": "no CFA (monochrome",
        "linear.dng": "linear DNG",
    }


def test_process_raw_refuses_unusable_inputs_in_one_line(good_checkpoint, tmp_path):
    pytest.importorskip("rawpy")
    runner = CliRunner()
    for name, reason in raw_inputs(tmp_path).items():
        args = ["process-raw", str(good_checkpoint), str(tmp_path / name)]
        args += ["--out", str(tmp_path / "x.png")]
        assert_one_line_error(runner.invoke(main, args), "unusable RAW file", name, reason)
    missing = runner.invoke(main, ["process-raw", str(good_checkpoint), str(tmp_path / "no.dng")])
    assert_one_line_error(missing, "no.dng", "does not exist")
    assert not (tmp_path / "x.png").exists()


def test_process_raw_output_folder_and_split_errors(bayer_store, good_checkpoint, tmp_path):
    runner = CliRunner()
    base = ["process-raw", str(good_checkpoint), str(bayer_store)]
    nowhere = tmp_path / "missing_folder" / "x.png"
    result = runner.invoke(main, [*base, "--out", str(nowhere)])
    assert_one_line_error(result, str(tmp_path / "missing_folder"), "does not exist")
    result = runner.invoke(main, [*base, "--split", "nope", "--out", str(tmp_path / "x.png")])
    assert_one_line_error(result, "no split 'nope'", "test, train, val")
    (tmp_path / "a_folder.png").mkdir()
    result = runner.invoke(main, [*base, "--out", str(tmp_path / "a_folder.png")])
    assert_one_line_error(result, "cannot write", "a_folder.png")
    ok = runner.invoke(main, [*base, "--out", str(tmp_path / "ok.png")])
    assert ok.exit_code == 0 and "wrote" in ok.output


def test_nona_checkpoint_on_a_bayer_dataset_is_one_line(bayer_store, tmp_path):
    nona = tiny_checkpoint(tmp_path / "nona.pt", "nona")
    result = CliRunner().invoke(main, ["process-raw", str(nona), str(bayer_store)])
    assert_one_line_error(result, "holds bayer:rggb mosaics; the model expects nona:rggb")
