"""Arrow schemas of the index tables: files (one row per file), segments (one row per segment),
errors, exclusions (files the user removed). Vectors are not here: moments and SPF curves live in
per-fragment float16 arrays."""

from __future__ import annotations

import pyarrow as pa

FILES_SCHEMA = pa.schema(
    [
        ("file_id", pa.int64()),
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime", pa.float64()),
        ("hash", pa.string()),
        ("duration", pa.float64()),
        ("fps", pa.float64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("frame_count", pa.int64()),
        ("inode", pa.int64()),  # null in indexes written before: the UI then checks the content hash
        ("device", pa.int64()),
    ]
)

ERRORS_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime", pa.float64()),
        ("reason", pa.string()),
        ("at", pa.timestamp("s", tz="UTC")),
    ]
)

EXCLUSIONS_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime", pa.float64()),
        ("hash", pa.string()),
        ("removed_at", pa.timestamp("s", tz="UTC")),
    ]
)

AUX_PREFIX = "aux_"


def segments_schema(aux_dims: dict[str, int]) -> pa.Schema:
    """Segment rows; each aux descriptor is its own fixed-size column ``aux_<name>``."""
    fields = [
        ("id", pa.int64()),
        ("file_id", pa.int64()),
        ("segment_index", pa.int32()),
        ("start_frame", pa.int64()),
        ("end_frame", pa.int64()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("linearity_max", pa.float32()),
        ("linearity_mean", pa.float32()),
        ("breakpoints", pa.list_(pa.int32())),
        ("indexed_at", pa.timestamp("s", tz="UTC")),
    ]
    fields += [(AUX_PREFIX + name, pa.list_(pa.float32(), dim)) for name, dim in sorted(aux_dims.items())]
    return pa.schema(fields)


FILE_COLUMNS = tuple(FILES_SCHEMA.names)
