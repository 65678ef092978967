"""``vidsearch index --config FILE``: option values from a TOML file, under the command line's.

The file's keys are the command's long option names without the leading dashes (``delta-alpha``,
``decode-workers``; ``_`` may stand for ``-``). Each value is converted as the option converts its
text, so a file and a command line that say the same thing build the same configs. The weight
options also take a list of numbers. Precedence: command line (and environment) > file > default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import typer

from vidsearch.errors import ConfigError, InputNotFoundError

LIST_OPTIONS = ("alpha", "delta_alpha")  # weight options that also take a TOML list
NOT_IN_FILE = ("config_file",)


def _keys(command) -> dict[str, Any]:
    """Every key a file may use for ``command``, to its parameter."""
    keys = {}
    for param in command.params:
        if param.param_type_name != "option" or param.name in NOT_IN_FILE:
            continue
        for opt in param.opts:
            if opt.startswith("--"):
                keys[opt[2:]] = param
    return keys


def read_options(path: Path, ctx: typer.Context) -> dict[str, Any]:
    """The parameter values ``path`` sets for ``ctx``'s command, leaving out those given on the
    command line or in the environment. Raises ``ConfigError`` naming the file and the key."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not a valid TOML file ({exc})") from None
    keys = _keys(ctx.command)
    values = {}
    for key, value in data.items():
        param = keys.get(key.replace("_", "-"))
        if param is None:
            raise ConfigError(
                f"{path}: unknown key {key!r} (the keys are the options of `vidsearch index --help` "
                "without the dashes, e.g. segment, decode-workers)"
            )
        if isinstance(value, list) and param.name in LIST_OPTIONS:
            value = ",".join(str(v) for v in value)
        elif isinstance(value, (list, dict)):
            raise ConfigError(f"{path}: {key}: expects one value, got {value!r}")
        try:
            converted = param.process_value(ctx, value)
        except typer.BadParameter as exc:
            raise ConfigError(f"{path}: {key}: {exc.message}") from None
        source = ctx.get_parameter_source(param.name)
        if source is None or source.name == "DEFAULT":
            values[param.name] = converted
    return values
