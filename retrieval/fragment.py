"""One fragment: the rows a single commit added, written once and never changed.

    fragments/<name>/segments.parquet   segment rows sorted by id (schema.segments_schema)
    fragments/<name>/ids.npy            the segment ids, int64 (row order)
    fragments/<name>/moments.npy        SemanticMoments, float16 (n, D), memory-mapped by readers
    fragments/<name>/curves.npy         SPF curves, float16 (n, L), memory-mapped by readers
    fragments/<name>/posters.parquet    (id, jpeg) for segments with a poster, if any

Vectors are float16 on disk (2 bytes a value: 2.3 KB for a 1152-d moments vector) and read
through ``np.load(mmap_mode="r")``, so opening an index reads no vectors and a query touches
only the rows it scores. Each file is written through ``atomic_path``; the fragment becomes
visible only when a snapshot that lists it is committed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vidsearch.atomic import atomic_path
from vidsearch.retrieval.schema import FILES_SCHEMA
from vidsearch.retrieval.snapshot import FILES, FRAGMENTS, FragmentRef

SEGMENT_ROW_GROUP = 512  # rows per Parquet row group: a record lookup decodes one group (measured: 4096 cost ~15 ms a hit)
POSTER_ROW_GROUP = 64


@dataclass
class FragmentData:
    """What a commit hands to ``write_fragment`` (segments sorted by id, arrays in row order)."""

    segments: pa.Table
    moments: np.ndarray  # (n, D)
    curves: np.ndarray  # (n, L)
    posters: dict[int, bytes]


def new_name() -> str:
    return f"{os.urandom(8).hex()}"


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)


def write_fragment(directory: Path, data: FragmentData, name: str | None = None) -> FragmentRef:
    """Write a fragment's files; on any failure (disk full...) the folder is removed again."""
    name = name or new_name()
    folder = directory / FRAGMENTS / name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        ids = data.segments.column("id").to_numpy().astype(np.int64)
        with atomic_path(folder / "segments.parquet") as tmp:
            pq.write_table(data.segments, tmp, row_group_size=SEGMENT_ROW_GROUP, compression="zstd")
        _save_npy(folder / "ids.npy", ids)
        _save_npy(folder / "moments.npy", np.asarray(data.moments, dtype=np.float16))
        _save_npy(folder / "curves.npy", np.asarray(data.curves, dtype=np.float16))
        if data.posters:
            keys = sorted(data.posters)
            table = pa.table({"id": pa.array(keys, pa.int64()), "jpeg": pa.array([data.posters[k] for k in keys], pa.binary())})
            with atomic_path(folder / "posters.parquet") as tmp:
                pq.write_table(table, tmp, row_group_size=POSTER_ROW_GROUP, compression="none")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    lo, hi = (int(ids[0]), int(ids[-1])) if len(ids) else (0, -1)
    return FragmentRef(name, len(ids), lo, hi, bool(data.posters))


def write_files(directory: Path, files: pa.Table) -> str:
    """A part of the files table (the file rows one commit added or refreshed) as files/<name>."""
    name = f"{new_name()}.parquet"
    with atomic_path(directory / FILES / name) as tmp:
        pq.write_table(files.cast(FILES_SCHEMA), tmp, compression="zstd")
    return name


def read_files(directory: Path, name: str) -> pa.Table:
    return pq.read_table(directory / FILES / name).cast(FILES_SCHEMA)


class FragmentReader:
    """Lazy, read-only access to one fragment (arrays memory-mapped, Parquet read by row group)."""

    def __init__(self, directory: Path, ref: FragmentRef):
        self.ref = ref
        self.folder = directory / FRAGMENTS / ref.name

    @cached_property
    def ids(self) -> np.ndarray:
        return np.load(self.folder / "ids.npy", mmap_mode="r")

    @cached_property
    def moments(self) -> np.ndarray:
        return np.load(self.folder / "moments.npy", mmap_mode="r")

    @cached_property
    def curves(self) -> np.ndarray:
        return np.load(self.folder / "curves.npy", mmap_mode="r")

    @cached_property
    def _segments_file(self) -> pq.ParquetFile:
        return pq.ParquetFile(self.folder / "segments.parquet")

    @property
    def column_names(self) -> list[str]:
        """Segment columns this fragment was written with (older ones may lack newer aux columns)."""
        return self._segments_file.schema_arrow.names

    @property
    def segments_path(self) -> Path:
        return self.folder / "segments.parquet"

    @cached_property
    def _group_rows(self) -> int:
        """Rows per row group of this file (all groups but the last are full)."""
        meta = self._segments_file.metadata
        return meta.row_group(0).num_rows if meta.num_row_groups else 1

    def rows(self, positions: np.ndarray, columns: list[str] | None = None) -> pa.Table:
        """Segment rows at ``positions`` (sorted or not), decoding only their row groups."""
        positions = np.asarray(positions, dtype=np.int64)
        size = self._group_rows
        groups = np.unique(positions // size)
        table = self._segments_file.read_row_groups(groups.tolist(), columns=columns)
        offsets = np.searchsorted(groups, positions // size)
        return table.take(pa.array(offsets * size + positions % size))

    def read_columns(self, columns: list[str]) -> pa.Table:
        return self._segments_file.read(columns=columns)

    def posters(self) -> dict[int, bytes]:
        table = pq.read_table(self.folder / "posters.parquet")
        return dict(zip(table.column("id").to_pylist(), table.column("jpeg").to_pylist()))

    def poster(self, segment_id: int) -> bytes | None:
        if not self.ref.posters:
            return None
        table = pq.read_table(self.folder / "posters.parquet", filters=[("id", "=", int(segment_id))])
        return table.column("jpeg")[0].as_py() if table.num_rows else None
