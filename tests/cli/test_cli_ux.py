"""The friendlier CLI: --json of info / validate, -v / -q, progress bars on stderr only,
named option groups and help on every option, shell completion of patterns and sensors."""

import io
import json
import logging
import re
import shutil
from pathlib import Path

import click
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

import cfasim.sensor
from cfasim import progress
from cfasim.cli import main
from cfasim.cli.group import configure_logging
from cfasim.store.generate_config import OPTION_GROUPS, option_params


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# -- --json ---------------------------------------------------------------------------------------


def test_info_json_holds_the_numbers_info_prints(tiny_store):
    text = invoke("info", tiny_store)
    js = invoke("info", "--json", tiny_store)
    assert text.exit_code == 0 and js.exit_code == 0, text.output + js.output
    record = json.loads(js.stdout)  # stdout is exactly one JSON document
    lines = {ln[:12].strip(): ln[13:] for ln in text.stdout.splitlines()}
    assert lines["pattern"].startswith(f"{record['pattern']['name']}  tile ")
    assert record["pattern"]["tile_text"] in lines["pattern"]
    h, w = record["pattern"]["period"]
    assert lines["pattern"].endswith(f"period {h}x{w}") and (h, w) == (4, 4)
    fmt = record["raw_format"]
    assert lines["raw format"] == f"{fmt['bits']}-bit, black {fmt['black']}, white {fmt['white']}"
    assert int(lines["seed"]) == record["seed"] == 1
    assert record["noise"] == lines["noise"] == "brooks" and record["sensor"] is None
    assert sum(s["count"] for s in record["splits"].values()) == 12
    for name, split in record["splits"].items():
        line = lines[name]
        assert line.startswith(f"{split['count']} samples  ")
        for array, spec in split["arrays"].items():
            assert f"{array} {tuple(spec['shape'])} {spec['dtype']}" in line
        assert line.endswith(f"{split['bytes'] / 2**20:.1f} MiB")
    assert set(record["splits"]["train"]["arrays"]) == {"raw", "target", "clean"}
    assert lines["total"] == f"{record['bytes'] / 2**20:.1f} MiB on disk"
    files = sum(f.stat().st_size for f in Path(tiny_store).rglob("*") if f.is_file())
    assert record["bytes"] == files


def test_validate_json_ok_and_not_ok(tiny_store, tmp_path):
    good = invoke("validate", "--json", tiny_store)
    assert good.exit_code == 0, good.output
    report = json.loads(good.stdout)
    assert report["ok"] is True and report["problems"] == [] and report["checked"] > 0
    assert report["path"] == str(tiny_store)
    text = invoke("validate", tiny_store).stdout
    assert text.startswith(f"OK: {tiny_store}: {report['checked']} checks, 0 problem(s)")

    broken = tmp_path / "broken.zarr"
    shutil.copytree(tiny_store, broken)
    shard = next(p for p in sorted((broken / "train" / "raw").rglob("*")) if p.is_file())
    shard.unlink()
    bad = invoke("validate", "--json", broken)
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False
    assert any("shard file missing" in p for p in report["problems"]), report["problems"]
    assert any(shard.name in p for p in report["problems"])


def test_validate_json_stdout_stays_json_with_bars_on(tiny_store, monkeypatch):
    monkeypatch.setattr(progress, "bars_wanted", lambda file=None: True)
    result = invoke("validate", "--json", tiny_store)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True
    assert "validate train/raw" in result.stderr and "checksums" in result.stderr


# -- logging and bars -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "level"),
    [([], logging.INFO), (["-q"], logging.WARNING), (["-v"], logging.DEBUG), (["-vv"], 10)],
)
def test_verbosity_sets_the_cfasim_logger(flags, level):
    assert invoke(*flags, "patterns").exit_code == 0
    assert logging.getLogger("cfasim").level == level


def test_verbose_and_quiet_exclude_each_other():
    result = invoke("-v", "-q", "patterns")
    assert result.exit_code == 2 and "exclude each other" in result.output


def test_quiet_hides_logs_and_bars(capsys):
    logger = configure_logging(quiet=True)
    logging.getLogger("cfasim.train").info("hidden")
    logging.getLogger("cfasim.train").warning("shown")
    tty = io.StringIO()
    tty.isatty = lambda: True
    assert not progress.bars_wanted(tty)
    configure_logging()
    assert progress.bars_wanted(tty) and not progress.bars_wanted(io.StringIO())
    logger.info("info again")
    err = capsys.readouterr().err
    assert err == "shown\ninfo again\n"


def test_evaluate_sample_lines_only_with_verbose(tiny_store, tmp_path):
    args = ["evaluate", tiny_store, "--baselines", "tent", "--limit", "1", "--crops", "0"]
    plain = invoke(*args, "--out", tmp_path / "a")
    verbose = invoke("-v", *args, "--out", tmp_path / "b")
    assert plain.exit_code == 0 and verbose.exit_code == 0, plain.output + verbose.output
    assert "test[0]" not in plain.output
    line = re.search(r"DEBUG cfasim\.eval: test\[0\] tent (\d+\.\d\d)", verbose.stderr)
    psnr = json.loads((tmp_path / "b" / "evaluation.json").read_text())
    per_sample = psnr["methods"]["tent"]["per_sample"]["psnr"][0]
    assert float(line.group(1)) == pytest.approx(per_sample, abs=0.005)


def test_progress_bar_text_has_the_postfix():
    out = io.StringIO()
    with progress.progress_bar(desc="train", total=4, unit="step", enabled=True, file=out) as bar:
        for _ in range(4):
            bar.set_postfix_str("loss 0.01235, psnr 31.23 dB", refresh=True)
            bar.update(1)
    text = out.getvalue()
    assert "train:" in text and "/4 [" in text and "step/s" in text  # ETA and rate
    assert "loss 0.01235, psnr 31.23 dB" in text
    quiet = io.StringIO()
    with progress.progress_bar(range(3), desc="x", enabled=False, file=quiet) as it:
        assert list(it) == [0, 1, 2]
    assert quiet.getvalue() == ""


# -- help and option groups -----------------------------------------------------------------------


def all_commands(group=main, path=("cfasim",)):
    yield path, group
    for name, command in getattr(group, "commands", {}).items():
        yield from all_commands(command, (*path, name))


def test_every_option_of_every_command_has_help():
    missing = [
        f"{' '.join(path)} {param.opts[0]}"
        for path, command in all_commands()
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert len(list(all_commands())) >= 15
    assert missing == []


def test_generate_help_in_named_groups():
    result = invoke("generate", "--help")
    assert result.exit_code == 0
    titles = ["Output", *OPTION_GROUPS, "Execution"]
    positions = [result.stdout.index(f"\n{t}:\n") for t in titles]
    assert positions == sorted(positions)
    grouped = [name for names in OPTION_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(option_params())  # every content option, exactly once
    source = result.stdout[positions[1] : positions[2]]
    assert "--source-kind" in source and "--pattern" not in source


# -- shell completion -----------------------------------------------------------------------------


def completions(args, incomplete):
    complete = ShellComplete(main, {}, "cfasim", "_CFASIM_COMPLETE")
    return [c.value for c in complete.get_completions(args, incomplete)]


def test_pattern_completion():
    assert completions(["generate", "--pattern"], "q") == [
        "quad",
        "qxq",
        *(f"{n}:{p}" for n in ("quad", "qxq") for p in ("rggb", "grbg", "gbrg", "bggr")),
    ]
    assert completions(["generate", "--pattern"], "nona:g") == ["nona:grbg", "nona:gbrg"]
    everything = completions(["generate", "--pattern"], "")
    assert len(everything) == 4 * 5 and everything[:4] == ["bayer", "quad", "nona", "qxq"]


def test_sensor_completion():
    folder = Path(cfasim.sensor.__file__).parent / "profiles"
    names = sorted(p.stem for p in folder.glob("*.toml"))
    assert sorted(completions(["generate", "--sensor"], "")) == names
    phones = sorted(n for n in names if n.startswith("phone"))
    assert sorted(completions(["generate", "--sensor"], "phone")) == phones and phones
    assert sorted(completions(["sensors", "show"], "")) == names


def test_completion_through_the_environment(monkeypatch):
    env = {"_CFASIM_COMPLETE": "bash_complete", "COMP_WORDS": "cfasim generate --pattern ba"}
    result = CliRunner().invoke(main, [], env={**env, "COMP_CWORD": "3"}, prog_name="cfasim")
    assert result.stdout.splitlines()[:2] == ["plain,bayer", "plain,bayer:rggb"]
