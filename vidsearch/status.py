"""Progress of long library work (decoding, embedding, rendering), shown by whoever listens.

Library code calls :func:`report` at each stage and step; it costs nothing when nobody listens.
The command lines listen with :func:`shown_on`, which draws a rich bar on stderr (so ``--json``
output on stdout stays clean) and, when stderr is not a terminal, prints one line per stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")
Listener = Callable[[str, int | None, int | None], None]
_listener: ContextVar[Listener | None] = ContextVar("vidsearch_status", default=None)


def report(stage: str, done: int | None = None, total: int | None = None) -> None:
    """Say what is being done (``stage``) and, for counted work, how far it is."""
    listener = _listener.get()
    if listener is not None:
        listener(stage, done, total)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


@contextmanager
def shown_on(console) -> Iterator[None]:
    """Show the reports made inside the block on ``console`` (a rich Console on stderr): a bar
    with the stage, its count and the time spent; plain lines where it is not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if not console.is_terminal:
        seen: list[str] = []

        def line(stage: str, done: int | None, total: int | None) -> None:
            if not seen or seen[-1] != stage:
                seen.append(stage)
                console.print(f"working on: {stage}", highlight=False, soft_wrap=True)

        with listening(line):
            yield
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task("starting", total=None)

    def show(stage: str, done: int | None, total: int | None) -> None:
        bar.update(task, description=stage, completed=done or 0, total=total)

    with bar, listening(show):
        yield


def run_shown(console, work: Callable[[], T]) -> T:
    """``work()`` with its reports shown on ``console`` (see :func:`shown_on`)."""
    with shown_on(console):
        return work()
