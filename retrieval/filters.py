"""Metadata filters: a SQL condition over the clip columns, evaluated by DuckDB.

The clips' metadata (no moments vectors: they are large and FAISS already holds them) is loaded
into an in-memory DuckDB table named ``clips``, with ``spf_curve`` cast to ``FLOAT[N]`` so array
functions such as ``array_cosine_similarity`` work on it. External access is then switched off:
a filter typed into the UI cannot read or write files through DuckDB.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


class FilterError(ValueError):
    pass


class MetadataFilter:
    def __init__(self, metadata: pa.Table, curve_len: int):
        import duckdb

        self._con = duckdb.connect(":memory:")
        self._con.register("clips_arrow", metadata)
        self._con.execute(
            f"CREATE TABLE clips AS SELECT * REPLACE (CAST(spf_curve AS FLOAT[{curve_len}]) AS spf_curve) FROM clips_arrow"
        )
        self._con.unregister("clips_arrow")
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")
        self.columns = [r[0] for r in self._con.execute("DESCRIBE clips").fetchall()]

    def ids(self, where: str) -> np.ndarray:
        """Ids of the rows for which ``where`` holds (raises FilterError with DuckDB's reason)."""
        if ";" in where:
            raise FilterError(f"filter must be a single SQL condition, got {where!r}")
        import duckdb

        try:
            return self._con.execute(f"SELECT id FROM clips WHERE ({where})").fetchnumpy()["id"].astype(np.int64)
        except duckdb.Error as exc:
            raise FilterError(f"bad filter {where!r}: {exc}. Columns: {', '.join(self.columns)}") from exc
