"""Where curation's per-batch work runs: in this process (``local``) or as Ray Data tasks (``ray``).

Every streaming step is a map over work items (a batch of segment ids, or a pack of clusters)
followed by a reduction on the driver. The map function carries the source it reads; an
:class:`~vidsearch.curation.source.IndexSource` pickles as its directory, so each Ray task
opens the index itself and reads only its own batch (on a cluster the index sits on storage
every node mounts). Results come back in item order on both
engines and the driver reduces them in that order, which is why both give the same selection.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

import numpy as np

from vidsearch.errors import ConfigError

EngineName = Literal["local", "ray"]
ENGINES = ("local", "ray")
# Rows of moments one work item reads at once: with 1,152-dim float32 moments about 75 MB.
BATCH = 16_384


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")


def chunks(ids: np.ndarray, batch: int) -> list[np.ndarray]:
    """``ids`` cut into consecutive batches of at most ``batch``."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1 (got {batch})")
    return [ids[start : start + batch] for start in range(0, len(ids), batch)]


def run_map(fn: Callable[[Any], Any], items: Iterable[Any], engine: EngineName = "local") -> Iterator[Any]:
    """``fn(item)`` for each item, yielded in item order. Locally the items are made one at a
    time as they are consumed; Ray needs them all to plan its tasks."""
    check_engine(engine)
    if engine == "local":
        return map(fn, items)
    items = list(items)
    return _ray_map(fn, items) if items else iter(())


def _apply(row: dict, fn: Callable[[Any], Any]) -> dict:
    """One work item as a Ray Data task (tasks reuse Ray's worker processes: no actor to start
    per step; an IndexSource in ``fn`` reopens its index from the directory)."""
    return {"i": row["i"], "out": pickle.dumps(fn(pickle.loads(row["item"])), protocol=5)}


def _ray_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    from vidsearch.indexers.ray_engine import connect

    connect(None)
    import ray

    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    rows = [{"i": i, "item": pickle.dumps(item, protocol=5)} for i, item in enumerate(items)]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map(_apply, fn_kwargs={"fn": fn}, num_cpus=1)
    for row in ds.iter_rows():
        yield pickle.loads(row["out"])
