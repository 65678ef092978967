"""Helpers every ``vidsearch`` command line shares (main CLI, bench, generation, ui).

They live below ``app/``, ``bench/`` and ``generation/`` so those packages do not import each
other for them. Errors that are the user's to fix print one clear line on stderr
(``error: <file or thing>: <reason>``) and exit with status 2, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console

T = TypeVar("T")
console = Console(stderr=True)


class UserError(Exception):
    """An error whose message is all the user needs (no traceback)."""


def fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _user_error_types() -> tuple[type[BaseException], ...]:
    from vidsearch.indexers.decode.video import VideoError
    from vidsearch.indexers.descriptors.spf import SpfError
    from vidsearch.indexers.encoders.errors import EncoderError
    from vidsearch.retrieval.filters import FilterError
    from vidsearch.retrieval.store.manifest import IndexStoreError

    return (
        VideoError,
        IndexStoreError,
        FilterError,
        EncoderError,
        SpfError,
        UserError,
        FileNotFoundError,
        KeyError,
        ValueError,
    )


def run_or_exit(fn: Callable[[], T], extra: tuple[type[BaseException], ...] = ()) -> T:
    """Run ``fn``; a user error (the common types plus ``extra``) becomes one line, exit status 2."""
    try:
        return fn()
    except _user_error_types() + extra as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        fail(str(message))
        raise  # unreachable: fail() raises typer.Exit


IndexOption = typer.Option(Path(".vidsearch"), "--index", "-i", help="Index directory.", envvar="VIDSEARCH_INDEX")


def parse_floats(text: str, n: int, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{what} must be {n} comma-separated numbers, got {text!r}") from None
    if len(values) != n:
        raise ValueError(f"{what} must be {n} comma-separated numbers, got {text!r}")
    return values
