"""A rich progress bar for indexing: clips/s, frames/s, ETA."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vidsearch.indexers.pipeline import FileResult, PipelineStats


class IndexProgress:
    def __init__(self, console: Console):
        self._progress = Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = None

    def __enter__(self) -> IndexProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def update(self, result: FileResult | None, stats: PipelineStats, total: int) -> None:
        if self._task is None:
            if not total:  # nothing to embed: no bar (and no ETA of -:--:--)
                return
            self._task = self._progress.add_task("index", total=total, rate="")
        wall = max(stats.wall_s, 1e-9)
        done = stats.clips + stats.failed
        rate = f"{stats.clips / wall:.2f} clips/s  {stats.frames / wall:.1f} frames/s"
        self._progress.update(self._task, completed=done, rate=rate)
        if result is not None and result.error:
            self._progress.console.print(
                f"[red]failed[/] {result.path}: {result.error}", highlight=False, soft_wrap=True
            )
