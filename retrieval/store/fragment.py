"""One fragment: the rows a single commit added, written once and never changed.

    fragments/<name>/segments.parquet   segment rows sorted by id (schema.segments_schema)
    fragments/<name>/ids.npy            the segment ids, int64 (row order)
    fragments/<name>/moments.npy        SemanticMoments, float16 (n, D), memory-mapped by readers
                     (or moments.u8.npy / moments.u6.npy + moments.range.npy: integer codes, ``vectors.py``)
    fragments/<name>/curves.npy         SPF curves, float16 (n, L)
    fragments/<name>/aux_flow.npy       the flow descriptor, float16 (n, F) (NaN rows: none stored;
                                        int6 indexes: u8 + range)
    fragments/<name>/posters.parquet    (id, jpeg) for segments with a poster, if any

Vectors are float16 on disk (2 bytes a value: 2.3 KB for a 1152-d moments vector) and read
through ``np.load(mmap_mode="r")``, so opening an index reads no vectors and a query touches
only the rows it scores. Aux descriptors that every query scores (``ARRAY_AUX``: flow) live in
such arrays too, not in the Parquet file: a re-rank of 512 candidates would otherwise decode up to
512 row groups of 257-float lists. ``FragmentReader`` still presents them as the ``aux_<name>``
columns of its rows (records, compaction), and reads older fragments that kept them in Parquet.
Each file is written through ``atomic_path``; the fragment becomes visible only when a snapshot
that lists it is committed.
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
from vidsearch.retrieval.store.codecs import STORED_AS, CodedRows, load_array, mapped, save_npy, write_array
from vidsearch.retrieval.store.manifest import IndexDamagedError, damaged
from vidsearch.retrieval.store.schema import AUX_PREFIX, FILES_SCHEMA
from vidsearch.retrieval.store.snapshot import FILES, FRAGMENTS, FragmentRef

SEGMENT_ROW_GROUP = 512  # rows per Parquet row group: a record lookup decodes one group, so keep it small
# Each search hit decodes one row group of every column: LZ4 decodes several times faster than
# zstd for a few bytes more a segment.
SEGMENT_COMPRESSION = "lz4"
POSTER_ROW_GROUP = 64
# The same segment rows as uncompressed Arrow IPC, memory-mapped by readers: a search hit's record
# is a zero-copy slice instead of a Parquet row-group decode, for ~72 B a segment on disk
# (docs/performance.md). DuckDB's filters scan it too (``filters.py``); fragments written before it
# are read from their Parquet.
SEGMENT_TABLE = "segments.arrow"
ARRAY_AUX = ("flow",)  # aux descriptors stored as float16 arrays (scored per candidate), not Parquet columns


@dataclass
class FragmentData:
    """What a commit hands to ``write_fragment`` (segments sorted by id, arrays in row order)."""

    segments: pa.Table
    moments: np.ndarray  # (n, D)
    curves: np.ndarray  # (n, L)
    posters: dict[int, bytes]
    moments_codec: str = "float16"  # see vectors.MOMENTS_CODECS


def new_name() -> str:
    return f"{os.urandom(8).hex()}"


def write_fragment(directory: Path, data: FragmentData, name: str | None = None) -> FragmentRef:
    """Write a fragment's files; on any failure (disk full...) the folder is removed again."""
    name = name or new_name()
    folder = directory / FRAGMENTS / name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        ids = data.segments.column("id").to_numpy().astype(np.int64)
        segments = data.segments
        stored_as = STORED_AS[data.moments_codec]
        for aux in ARRAY_AUX:
            if AUX_PREFIX + aux in segments.column_names:
                write_array(
                    folder, AUX_PREFIX + aux, _dense(segments.column(AUX_PREFIX + aux)), stored_as.get(aux, "float16")
                )
                segments = segments.drop_columns([AUX_PREFIX + aux])
        with atomic_path(folder / "segments.parquet") as tmp:
            pq.write_table(segments, tmp, row_group_size=SEGMENT_ROW_GROUP, compression=SEGMENT_COMPRESSION)
        with atomic_path(folder / SEGMENT_TABLE) as tmp:
            with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, segments.schema) as writer:
                writer.write_table(segments)
        save_npy(folder / "ids.npy", ids)
        write_array(folder, "moments", data.moments, data.moments_codec)
        write_array(folder, "curves", data.curves, stored_as["curves"])
        if data.posters:
            keys = sorted(data.posters)
            table = pa.table(
                {"id": pa.array(keys, pa.int64()), "jpeg": pa.array([data.posters[k] for k in keys], pa.binary())}
            )
            with atomic_path(folder / "posters.parquet") as tmp:
                pq.write_table(table, tmp, row_group_size=POSTER_ROW_GROUP, compression="none")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    lo, hi = (int(ids[0]), int(ids[-1])) if len(ids) else (0, -1)
    return FragmentRef(name, len(ids), lo, hi, bool(data.posters))


def fill_list_rows(column: pa.ChunkedArray | pa.Array, out: np.ndarray) -> np.ndarray:
    """Write the non-null rows of a list column of ``out.shape[1]`` values into ``out`` (null rows
    keep whatever ``out`` holds) and return it."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    present = np.asarray(column.is_valid())
    if present.any():  # flatten() skips null rows and honours the array's offset
        out[present] = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, out.shape[1])
    return out


def _dense(column: pa.ChunkedArray) -> np.ndarray:
    """A fixed-size list column as float16 (n, dim); null rows become NaN rows."""
    return fill_list_rows(column, np.full((len(column), column.type.list_size), np.nan, np.float16))


def _as_column(rows: np.ndarray) -> pa.FixedSizeListArray:
    """float16 rows as a float32 fixed-size list column (NaN rows: null)."""
    values = np.nan_to_num(np.asarray(rows, np.float32), nan=0.0)
    mask = pa.array(np.isnan(np.asarray(rows[:, 0], np.float32))) if len(rows) and rows.shape[1] else None
    return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel(), pa.float32()), rows.shape[1], mask=mask)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows of an older fragment in ``schema`` (columns it lacks become nulls; Parquet gave its
    timestamps back in ms)."""
    for name in schema.names:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, schema.field(name).type))
    return table.select(schema.names).cast(schema)


def write_files(directory: Path, files: pa.Table) -> str:
    """A part of the files table (the file rows one commit added or refreshed) as files/<name>."""
    name = f"{new_name()}.parquet"
    with atomic_path(directory / FILES / name) as tmp:
        pq.write_table(conform(files, FILES_SCHEMA), tmp, compression="zstd")
    return name


def read_files(directory: Path, name: str) -> pa.Table:
    path = directory / FILES / name
    try:
        return conform(pq.read_table(path), FILES_SCHEMA)
    except FileNotFoundError as exc:  # pyarrow's names no file: the reader's retry needs it
        raise FileNotFoundError(2, "No such file or directory", str(path)) from exc
    except (ValueError, OSError, pa.ArrowException) as exc:
        raise damaged(directory, f"{FILES}/{name}", f"unreadable ({exc})") from exc


class FragmentReader:
    """Lazy, read-only access to one fragment (arrays memory-mapped, Parquet read by row group).

    Opening a file checks what costs nothing next to mapping it: the header parses, the file is
    as long as the header says, it has the snapshot's row count, the ids ascend strictly from the
    snapshot's first to its last id. Any failure is an ``IndexDamagedError`` naming the fragment
    and the file; a missing file stays ``FileNotFoundError`` (a concurrent ``compact``, retried)."""

    def __init__(self, directory: Path, ref: FragmentRef):
        self.ref = ref
        self.folder = directory / FRAGMENTS / ref.name

    def damaged(self, name: str, what: str) -> IndexDamagedError:
        return damaged(self.folder.parent.parent, f"fragment {self.ref.name}, {name}", what)

    def _open(self, name: str, load, rows: bool = True):
        try:
            array = load()
        except FileNotFoundError:
            raise
        except (ValueError, EOFError, OSError, pa.ArrowException) as exc:
            raise self.damaged(name, f"unreadable ({exc})") from exc
        if rows and array is not None and len(array) != self.ref.segments:
            raise self.damaged(name, f"{len(array)} rows where the snapshot lists {self.ref.segments}")
        return array

    @cached_property
    def ids(self) -> np.ndarray:
        ids = self._open("ids.npy", lambda: mapped(self.folder / "ids.npy"))
        if ids.dtype != np.int64 or ids.ndim != 1:
            raise self.damaged("ids.npy", f"{ids.dtype} {ids.shape}, not int64 ids")
        if len(ids) and (ids[0] != self.ref.min_id or ids[-1] != self.ref.max_id or not np.all(ids[1:] > ids[:-1])):
            span = f"{self.ref.min_id} to {self.ref.max_id}"
            raise self.damaged("ids.npy", f"ids are not unique and ascending from {span}")
        return ids

    @cached_property
    def moments(self) -> np.ndarray | CodedRows:
        return self._open("moments", lambda: load_array(self.folder, "moments"))

    @cached_property
    def curves(self) -> np.ndarray | CodedRows:
        return self._open("curves", lambda: load_array(self.folder, "curves"))

    @cached_property
    def _segments_file(self) -> pq.ParquetFile:
        segments = self._open("segments.parquet", lambda: pq.ParquetFile(self.folder / "segments.parquet"), rows=False)
        if segments.metadata.num_rows != self.ref.segments:
            raise self.damaged("segments.parquet", f"{segments.metadata.num_rows} rows, not {self.ref.segments}")
        return segments

    @cached_property
    def _table(self) -> pa.Table | None:
        """The segment rows memory-mapped from ``SEGMENT_TABLE`` (None: a fragment written before it)."""
        path = self.folder / SEGMENT_TABLE
        if not path.exists():
            if not self.folder.is_dir():
                raise FileNotFoundError(2, "No such file or directory", str(path))
            return None

        def load() -> pa.Table:
            with pa.ipc.open_file(pa.memory_map(str(path))) as reader:
                return reader.read_all()

        return self._open(SEGMENT_TABLE, load)

    def _mapped(self, columns: list[str] | None) -> pa.Table:
        """``columns`` (None: all) of the memory-mapped segment table (fragments that have one)."""
        return self._table if columns is None else self._table.select(columns)

    @cached_property
    def aux_arrays(self) -> dict[str, np.ndarray | CodedRows]:
        """The fragment's memory-mapped aux arrays by name (NaN rows where none stored)."""
        return {
            name: array
            for name in ARRAY_AUX
            if (array := self._open(AUX_PREFIX + name, lambda n=name: load_array(self.folder, AUX_PREFIX + n, False)))
            is not None
        }

    @property
    def column_names(self) -> list[str]:
        """Segment columns this fragment was written with (older ones may lack newer aux columns)."""
        schema = self._segments_file.schema_arrow if self._table is None else self._table.schema
        return schema.names + [AUX_PREFIX + name for name in self.aux_arrays]

    @property
    def segments_path(self) -> Path:
        return self.folder / "segments.parquet"

    @cached_property
    def _group_rows(self) -> int:
        """Rows per row group of this file (all groups but the last are full)."""
        meta = self._segments_file.metadata
        return meta.row_group(0).num_rows if meta.num_row_groups else 1

    def _split(self, columns: list[str] | None) -> tuple[list[str] | None, list[str]]:
        """(Parquet columns, array aux names) for the requested ``columns`` (None: all)."""
        arrays = [n for n in self.aux_arrays if columns is None or AUX_PREFIX + n in columns]
        if columns is None:
            return None, arrays
        in_arrays = {AUX_PREFIX + n for n in arrays}
        return [c for c in columns if c not in in_arrays], arrays

    def _with_arrays(self, table: pa.Table | None, positions: np.ndarray | None, arrays: list[str]) -> pa.Table:
        """``table`` (None: no Parquet columns asked for) with the array aux columns appended."""
        columns = {
            AUX_PREFIX + n: _as_column(np.asarray(self.aux_arrays[n][slice(None) if positions is None else positions]))
            for n in arrays
        }
        if table is None:
            return pa.table(columns)
        for name, column in columns.items():
            table = table.append_column(name, column)
        return table

    def rows(self, positions: np.ndarray, columns: list[str] | None = None) -> pa.Table:
        """Segment rows at ``positions`` (sorted or not): slices of the memory-mapped table, or
        (older fragments) decoding only their Parquet row groups."""
        positions = np.asarray(positions, dtype=np.int64)
        parquet_columns, arrays = self._split(columns)
        if parquet_columns == []:
            return self._with_arrays(None, positions, arrays)
        if self._table is not None:
            return self._with_arrays(self._mapped(parquet_columns).take(pa.array(positions)), positions, arrays)
        size = self._group_rows
        groups = np.unique(positions // size)
        table = self._segments_file.read_row_groups(
            groups.tolist(), columns=parquet_columns, use_threads=False
        )  # a few groups: threads cost more (0.20 vs 0.16 ms a group)
        offsets = np.searchsorted(groups, positions // size)
        return self._with_arrays(table.take(pa.array(offsets * size + positions % size)), positions, arrays)

    def read_columns(self, columns: list[str] | None) -> pa.Table:
        parquet_columns, arrays = self._split(columns)
        if parquet_columns == []:
            table = None
        elif self._table is not None:
            table = self._mapped(parquet_columns)
        else:
            table = self._segments_file.read(columns=parquet_columns)
        return self._with_arrays(table, None, arrays)

    def posters(self) -> dict[int, bytes]:
        table = self._posters()
        return dict(zip(table.column("id").to_pylist(), table.column("jpeg").to_pylist()))

    def poster(self, segment_id: int) -> bytes | None:
        if not self.ref.posters:
            return None
        table = self._posters([("id", "=", int(segment_id))])
        return table.column("jpeg")[0].as_py() if table.num_rows else None

    def _posters(self, filters=None) -> pa.Table:
        try:
            return pq.read_table(self.folder / "posters.parquet", filters=filters)
        except FileNotFoundError:
            raise
        except (ValueError, OSError, pa.ArrowException) as exc:
            raise self.damaged("posters.parquet", f"unreadable ({exc})") from exc
