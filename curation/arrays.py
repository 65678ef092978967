"""A :class:`~vidsearch.curation.source.SegmentSource` over arrays already in memory (or memory-
mapped): the benchmark's million synthetic segments, and tests that need exact control."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


class ArraySource:
    """Segments ``0..n-1`` with the given moments (n, 3D) and optional metadata columns."""

    def __init__(
        self,
        moments: np.ndarray,
        columns: dict[str, np.ndarray] | None = None,
        backbone: str = "synthetic",
        block: int | None = -1,
    ):
        self._moments = moments
        self._columns = dict(columns or {})
        n = len(moments)
        if "hash" not in self._columns:  # (not setdefault: that would build a string per segment anyway)
            self._columns["hash"] = np.array([f"h{i}" for i in range(n)], dtype=object)
        for name, default in (
            ("start_s", 0.0),
            ("end_s", 5.0),
            ("duration", 5.0),
            ("width", 640),
            ("height", 360),
            ("size", 1_000_000),
        ):
            if name not in self._columns:
                self._columns[name] = np.full(n, default)
        self.directory = "<arrays>"
        self.fingerprint = "arrays"
        self.backbone = backbone
        self.moments_dim = moments.shape[1]
        self.moment_block = self.moments_dim // 3 if block == -1 else block

    def __len__(self) -> int:
        return len(self._moments)

    def ids(self) -> np.ndarray:
        return np.arange(len(self), dtype=np.int64)

    def moments(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(self._moments[np.asarray(ids)], dtype=np.float32)

    def table(self, ids: np.ndarray, columns: Sequence[str]) -> pa.Table:
        ids = np.asarray(ids, dtype=np.int64)
        return pa.table(
            {
                "id": ids,
                **{
                    c: pa.array(list(self._columns[c][ids]) if self._columns[c].ndim > 1 else self._columns[c][ids])
                    for c in columns
                    if c != "id"
                },
            }
        )

    def get(self, segment_id: int) -> dict:
        return {c: v[segment_id] for c, v in self._columns.items()}

    def poster(self, segment_id: int) -> bytes | None:
        return None

    def where(self, sql: str) -> np.ndarray:
        """Ids whose scalar columns satisfy ``sql`` (DuckDB, external access off)."""
        import duckdb

        scalars = {c: v for c, v in self._columns.items() if np.asarray(v).ndim == 1 and c != "hash"}
        con = duckdb.connect(":memory:")
        con.register("segments", pa.table({"id": self.ids(), **scalars}))
        con.execute("SET enable_external_access = false")
        return np.sort(con.execute(f"SELECT id FROM segments WHERE ({sql})").fetchnumpy()["id"].astype(np.int64))

    def activity(self, ids: np.ndarray, progress=None) -> np.ndarray:
        return np.asarray(self._columns["activity"][np.asarray(ids)], dtype=np.float32)
