"""Typed training config: every key's expected type, minimums, choices, and one-line errors;
the dataclasses the tables come from; printing and listing configs."""

import dataclasses
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cfasim.cli import main
from cfasim.errors import ConfigError
from cfasim.train.config import (
    CHOICES,
    DEFAULTS,
    KEY_TYPES,
    MINIMUMS,
    OPTIONAL,
    PathValue,
    TrainConfig,
    as_config,
    load_config,
    load_train_config,
    shipped_configs,
    to_toml,
    typed_value,
)

WRONG = {  # a TOML/JSON literal of the wrong type for each expected type, and its repr
    int: ('"abc"', "'abc'"),
    float: ('"fast"', "'fast'"),
    bool: ('"yes"', "'yes'"),
    str: ("3", "3"),
    PathValue: ("[1, 2]", "[1, 2]"),
    dict: ("3", "3"),
    list: ('"x"', "'x'"),
}
TYPE_WORDS = {int: "int", float: "float", bool: "bool", str: "str", PathValue: "path"}
TYPE_WORDS |= {dict: "table", list: "list"}


def load(*overrides):
    return load_config(None, ['data.dataset="d.zarr"', *overrides])


def test_every_key_has_a_type_and_every_default_fits_it():
    keys = {f"{s}.{k}" for s, section in DEFAULTS.items() for k in section}
    assert set(KEY_TYPES) == keys
    assert set(MINIMUMS) <= keys and set(CHOICES) <= keys
    for name, types in KEY_TYPES.items():
        section, key = name.split(".")
        default = DEFAULTS[section][key]
        assert typed_value(name, default, types) == default
        if default is None:
            assert OPTIONAL in types, name


@pytest.mark.parametrize("name", sorted(KEY_TYPES))
def test_a_wrongly_typed_value_names_key_value_and_type(name):
    literal, shown = WRONG[KEY_TYPES[name][0]]
    with pytest.raises(ConfigError) as err:
        load(f"{name}={literal}")
    message = str(err.value)
    assert message.startswith(f"{name} = {shown}: expected {TYPE_WORDS[KEY_TYPES[name][0]]}")
    if OPTIONAL in KEY_TYPES[name]:
        assert message.split(", got")[0].endswith("or null")


def test_values_are_converted_to_their_types():
    cfg = load("train.lr=1", "train.weight_decay=0", "data.val_crop=null", "train.threads=2")
    assert cfg["train"]["lr"] == 1.0 and isinstance(cfg["train"]["lr"], float)
    assert isinstance(cfg["train"]["weight_decay"], float)
    assert cfg["data"]["val_crop"] is None and cfg["train"]["threads"] == 2
    cfg = load_config(None, data__dataset=Path("d.zarr"), train__out=Path("runs/x"))
    assert cfg["data"]["dataset"] == "d.zarr" and cfg["train"]["out"] == str(Path("runs/x"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.steps=true", "train.steps = True: expected int, got bool"),
        ("train.steps=2.5", "train.steps = 2.5: expected int, got float"),
        ("data.augment=1", "data.augment = 1: expected bool (true or false), got int"),
        ("train.threads=0", "train.threads = 0: must be >= 1"),
        ("train.log_every=0", "train.log_every = 0: must be >= 1"),
        ("data.num_workers=-1", "data.num_workers = -1: must be >= 0"),
        ("train.lr_schedule=linear", "train.lr_schedule must be one of cosine, constant"),
        ("model.packing=rows", "model.packing must be one of planes, s2d; got 'rows'"),
        ("train.stepz=3", "unknown config key 'train.stepz'"),
        ("optim.lr=3", "unknown config key 'optim'"),
        ("trainsteps=3", "must look like section.key=value"),
    ],
)
def test_config_errors(override, message):
    with pytest.raises(ConfigError) as err:
        load(override)
    assert message in str(err.value)


def test_toml_file_values_are_checked_too(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[train]\nsteps = "many"\n')
    with pytest.raises(ConfigError, match=r"train\.steps = 'many': expected int, got str"):
        load_config(path, data__dataset="d.zarr")
    path.write_text("train = 3\n")
    with pytest.raises(ConfigError, match="train = 3: expected a table"):
        load_config(path, data__dataset="d.zarr")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_cli_train_bad_value_is_one_line(tmp_path):
    pytest.importorskip("torch")  # the train command checks for torch first
    result = CliRunner().invoke(
        main, ["train", "--dataset", str(tmp_path / "d.zarr"), "--set", "train.steps=abc"]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output == "Error: train.steps = 'abc': expected int, got str\n"


# -- the dataclasses ------------------------------------------------------------------------------


def test_the_tables_come_from_the_dataclasses():
    assert DEFAULTS == TrainConfig().to_dict()
    fields = {
        f"{section.name}.{f.name}"
        for section in dataclasses.fields(TrainConfig)
        for f in dataclasses.fields(section.default_factory)
    }
    assert set(KEY_TYPES) == fields
    assert KEY_TYPES["data.dataset"] == (PathValue, OPTIONAL)
    assert KEY_TYPES["train.lr"] == (float,) and KEY_TYPES["distill.stages"] == (list,)
    assert CHOICES["model.packing"] == ("planes", "s2d")  # from Literal["planes", "s2d"]
    assert MINIMUMS["data.num_workers"] == 0 and "data.dataset" not in MINIMUMS
    assert TrainConfig().train.loss is not TrainConfig().train.loss  # no shared defaults


def test_typed_config_and_plain_dicts():
    overrides = ['data.dataset="d.zarr"', "train.lr=1", "model.args={ widths = [4, 8] }"]
    config = load_train_config(None, overrides)
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert config.model.args == {"widths": [4, 8]} and config.data.crop == 96
    cfg = config.to_dict()
    assert cfg == load_config(None, overrides)
    assert type(cfg["model"]) is dict and list(cfg) == ["model", "data", "train", "distill"]
    assert as_config(cfg) == config  # and back
    partial = as_config({"train": {"threads": 2}})  # missing keys take their defaults
    assert partial.train.threads == 2 and partial.data.num_workers == 0
    with pytest.raises(ConfigError, match=r"train\.steps = '3': expected int, got str"):
        as_config(dataclasses.replace(config, train=dataclasses.replace(config.train, steps="3")))
    with pytest.raises(ConfigError, match="unknown config key 'optim'"):
        as_config({"optim": {}})
    with pytest.raises(ConfigError, match="no dataset"):
        load_train_config(None)
    assert load_train_config(None, partial=True).data.dataset is None


@pytest.mark.parametrize("name", shipped_configs())
def test_printed_toml_reads_back_to_the_same_config(name, tmp_path):
    config = load_train_config(name, ["train.threads=2"], partial=True)
    text = to_toml(config)
    assert set(tomllib.loads(text)) == {"model", "data", "train", "distill"}
    (tmp_path / "printed.toml").write_text(text)
    assert load_train_config(tmp_path / "printed.toml", partial=True) == config


# -- the CLI --------------------------------------------------------------------------------------


def test_cli_print_config_needs_no_dataset_and_does_not_train(tmp_path):
    args = ["train", "--config", "lwisp_nona_hetero", "--print-config", "--steps", "7"]
    args += ["--out", str(tmp_path / "run"), "--set", "data.crop=48"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    printed = tomllib.loads(result.output)
    assert printed["train"]["steps"] == 7 and printed["data"]["crop"] == 48
    assert printed["distill"]["mode"] == "heterogeneous" and "teacher" not in printed["distill"]
    assert "# dataset = null  (unset)" in result.output
    assert not (tmp_path / "run").exists()
    bad = CliRunner().invoke(main, ["train", "--print-config", "--set", "data.crop=0"])
    assert bad.exit_code == 1 and bad.output == "Error: data.crop = 0: must be >= 1\n"


def test_cli_list_configs():
    result = CliRunner().invoke(main, ["train", "--list-configs"])
    assert result.exit_code == 0
    assert result.output.splitlines() == shipped_configs()
    assert "lwisp_nona_tiny" in result.output.splitlines()
