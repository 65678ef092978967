"""A selection: the segments a curation step kept, with what the steps learned about them.

Every ``vidsearch curate`` step reads an index and optionally a previous selection
(``--from selection.parquet``) and writes a new one, so steps chain in any order. A selection is
a Parquet file with an ``id`` column (segment ids of one index) plus annotation columns added by
the steps (``cluster``, ``dup_count``, ``semantic_change``, ``pacing_class``...); its footer
records which index it belongs to (directory and configuration fingerprint) and the steps that
produced it, each with its parameters and how many segments every rule removed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vidsearch.atomic import atomic_path
from vidsearch.errors import VidsearchError

META_KEY = b"vidsearch.selection"
FORMAT = "vidsearch.selection/1"


class SelectionError(VidsearchError, ValueError):
    """A selection file that cannot be used with this index (message names the file)."""


@dataclass
class StepReport:
    """What one step did: counts before and after, and how many each rule removed."""

    step: str
    params: dict[str, Any]
    before: int
    after: int
    removed: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{self.step}: {self.before} -> {self.after} segments"]
        out += [f"  {rule}: removed {n}" for rule, n in self.removed.items()]
        return out


@dataclass
class Selection:
    ids: np.ndarray  # int64 segment ids
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # aligned with ids
    steps: list[dict[str, Any]] = field(default_factory=list)
    index: str = ""
    fingerprint: str = ""

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64)
        for name, values in self.columns.items():
            if len(values) != len(self.ids):
                raise ValueError(f"column {name!r} has {len(values)} values for {len(self.ids)} segments")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def everything(cls, source) -> Selection:
        return cls(source.ids(), index=source.directory, fingerprint=source.fingerprint)

    def take(self, positions: np.ndarray) -> Selection:
        """The segments at ``positions`` (an index array or a boolean mask), annotations kept."""
        positions = np.asarray(positions)
        return Selection(
            self.ids[positions],
            {k: np.asarray(v)[positions] for k, v in self.columns.items()},
            list(self.steps),
            self.index,
            self.fingerprint,
        )

    def with_columns(self, **columns: np.ndarray) -> Selection:
        return Selection(
            self.ids,
            {**self.columns, **{k: np.asarray(v) for k, v in columns.items()}},
            list(self.steps),
            self.index,
            self.fingerprint,
        )

    def record(self, report: StepReport) -> Selection:
        self.steps.append(
            {
                "step": report.step,
                "params": report.params,
                "before": report.before,
                "after": report.after,
                "removed": report.removed,
            }
        )
        return self

    def to_table(self) -> pa.Table:
        cols = {"id": pa.array(self.ids)}
        for name, values in self.columns.items():
            values = np.asarray(values)
            cols[name] = pa.array(list(values)) if values.ndim > 1 else pa.array(values)
        meta = {"format": FORMAT, "index": self.index, "fingerprint": self.fingerprint, "steps": self.steps}
        return pa.table(cols).replace_schema_metadata({META_KEY: json.dumps(meta, default=str).encode()})

    def write(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        with atomic_path(path, suffix=".parquet") as tmp:
            pq.write_table(self.to_table(), tmp)
        return path

    @classmethod
    def read(cls, path: str | os.PathLike, source=None) -> Selection:
        """Load a selection; with ``source``, check it belongs to that index and drop segments
        removed from the index since (they cannot be curated any more)."""
        path = Path(path)
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise SelectionError(f"{path}: not a readable selection ({exc})") from exc
        raw = (table.schema.metadata or {}).get(META_KEY)
        if raw is None or "id" not in table.column_names:
            raise SelectionError(f"{path}: not a vidsearch selection (no {META_KEY.decode()} metadata or id column)")
        meta = json.loads(raw)
        columns = {}
        for name in table.column_names:
            if name == "id":
                continue
            col = table.column(name).combine_chunks()
            columns[name] = (
                np.array(col.to_pylist(), dtype=np.float32)
                if pa.types.is_list(col.type)
                else col.to_numpy(zero_copy_only=False)
            )
        sel = cls(
            table.column("id").to_numpy(),
            columns,
            meta.get("steps", []),
            meta.get("index", ""),
            meta.get("fingerprint", ""),
        )
        if source is not None:
            if sel.fingerprint and sel.fingerprint != source.fingerprint:
                raise SelectionError(
                    f"{path}: this selection was made on another index ({sel.index}, config {sel.fingerprint}); "
                    f"the ids do not refer to {source.directory} (config {source.fingerprint})"
                )
            sel = sel.take(np.isin(sel.ids, source.ids()))
            sel.index, sel.fingerprint = source.directory, source.fingerprint
        return sel
