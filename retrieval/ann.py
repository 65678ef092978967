"""Approximate nearest-neighbour indexes over the segments (placeholder: exact search only).

Below ``ANN_THRESHOLD`` live segments every query is answered by the exact scan of
``search.py``; the compressed indexes for larger stores are built here.
"""

from __future__ import annotations

from pathlib import Path

from vidsearch.retrieval.reader import SnapshotReader
from vidsearch.retrieval.snapshot import Snapshot
from vidsearch.retrieval.store import Manifest


class AnnSet:
    @classmethod
    def load(cls, reader: SnapshotReader) -> "AnnSet | None":
        return None


def update_ann(directory: Path, manifest: Manifest, snapshot: Snapshot, rebuild: bool = False) -> tuple[Snapshot, list[Path]]:
    return snapshot, []
