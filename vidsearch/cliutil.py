"""Helpers every ``vidsearch`` command line shares (main CLI, bench, generation, ui).

They live below ``app/``, ``bench/`` and ``generation/`` so those packages do not import each
other for them. Errors that are the user's to fix (``vidsearch/errors.py``) print one clear line
on stderr (``error: <file or thing>: <reason>``) and exit with status 2; any other exception is a
bug and prints its traceback; ``VIDSEARCH_DEBUG=1`` keeps the traceback of every error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console

from vidsearch.errors import ConfigError, VidsearchError

T = TypeVar("T")
console = Console(stderr=True)


class UserError(VidsearchError):
    """An error whose message is all the user needs (no traceback)."""


def fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def debugging() -> bool:
    """``VIDSEARCH_DEBUG=1``: every error keeps its traceback, typed user errors included."""
    return os.environ.get("VIDSEARCH_DEBUG", "") not in ("", "0")


def run_or_exit(fn: Callable[[], T]) -> T:
    """Run ``fn``; a typed user error (:class:`vidsearch.errors.VidsearchError`) becomes one line
    and exit status 2. Anything else is a bug: it propagates with its traceback."""
    try:
        return fn()
    except VidsearchError as exc:
        if debugging():
            raise
        fail(str(exc))
        raise  # unreachable: fail() raises typer.Exit


IndexOption = typer.Option(Path(".vidsearch"), "--index", "-i", help="Index directory.", envvar="VIDSEARCH_INDEX")


def parse_floats(text: str, n: int, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{what} must be {n} comma-separated numbers, got {text!r}") from None
    if len(values) != n:
        raise ConfigError(f"{what} must be {n} comma-separated numbers, got {text!r}")
    return values
