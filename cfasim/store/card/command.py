"""The ``cfasim generate`` command line that regenerates a store, and its parser back to the config.

Both use the one table of generate options (:mod:`cfasim.store.generate_config`), so the
command the card prints is the command the CLI accepts.
"""

from __future__ import annotations

import shlex

import click

from cfasim.errors import ConfigError
from cfasim.store.generate_config import (
    GenerateConfig,
    config_dict,
    content_options,
    option_params,
)


def generate_command(config: dict, out: str) -> tuple[str, dict]:
    """The ``cfasim generate`` command line that rebuilds a store from its config.

    Every content-affecting option of ``cfasim generate`` is written explicitly (not only the
    non-default ones), so the command stays exact if a default changes. Parameters of the
    config that the installed CLI has no option for are returned separately, and only when
    the value the CLI would use differs from the stored one.

    Parameters
    ----------
    config : dict
        ``attrs["cfasim"]["config"]`` of a store.
    out : str
        Value of ``--out``.

    Returns
    -------
    command : str
        Shell-quoted command line.
    missing : dict
        Config keys (and stored values) that the command cannot express.
    """
    options = option_params()
    args = ["cfasim", "generate"]
    missing = {}
    for key, value in config.items():
        param = options.get(key)
        if param is None or not getattr(param, "opts", None):
            missing[key] = value
        else:
            args += _option_words(param, value)
    args += ["--out", out]
    if missing:
        missing = _unexpressible(config, args, missing)
    return shlex.join(args), missing


def _option_words(param: click.Option, value) -> list[str]:
    """The words of one option: a flag (or its ``--no-`` form) for a bool, nothing for None."""
    if isinstance(value, bool):
        if value:
            return [param.opts[0]]
        return [param.secondary_opts[0]] if param.secondary_opts else []
    if value is None:
        return []
    return [param.opts[0], _option_text(value)]


def _option_text(value) -> str:
    """An option value as the CLI parses it back exactly (floats by ``repr``, lists joined)."""
    if isinstance(value, list | tuple):
        return ",".join(repr(float(v)) if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _unexpressible(config: dict, args: list[str], candidates: dict) -> dict:
    """Keys whose stored value differs from what the CLI derives from ``args``."""
    try:
        rebuilt = config_from_command(shlex.join(args))
    except Exception:  # the CLI or the pipeline cannot rebuild it: report all candidates
        return candidates
    return {k: v for k, v in candidates.items() if rebuilt.get(k) != v}


def config_from_command(command: str) -> dict:
    """Parse a ``cfasim generate`` command line back into the config it generates.

    Mirrors what ``cfasim generate`` does: parse the options with click, build a
    ``GenerateConfig`` from those it accepts, validate it.

    Parameters
    ----------
    command : str
        A command line as written by :func:`generate_command`.

    Returns
    -------
    dict
        The config as it would be stored in the dataset attributes.

    Raises
    ------
    cfasim.errors.ConfigError
        If ``command`` is not a ``cfasim generate`` command line, or a value is out of range.
    """
    words = shlex.split(command)
    if words[:2] != ["cfasim", "generate"]:
        raise ConfigError(f"not a cfasim generate command: {command!r}")
    parser = click.command()(click.option("--out")(content_options(lambda **kw: None)))
    params = parser.make_context("generate", words[2:]).params
    params.pop("out")
    return config_dict(GenerateConfig(**params).validated())
