"""The writer lock: one process writes an index at a time; readers never take it."""

from __future__ import annotations

from pathlib import Path

from vidsearch.retrieval.store.manifest import LOCK, IndexLockedError, remove_stale_temps
from vidsearch.retrieval.store.snapshot import collect_garbage


class WriterLock:
    def __init__(self, directory: Path):
        from filelock import FileLock

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / LOCK
        self.lock = FileLock(str(self.path))

    def __enter__(self) -> WriterLock:
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=0)
        except Timeout as exc:
            raise IndexLockedError(
                f"{self.path.parent}: another vidsearch process is writing to this index (lock {self.path})"
            ) from exc
        try:
            remove_stale_temps(self.path.parent)  # a killed writer's half-written files
            collect_garbage(self.path.parent)  # ... and its whole ones no snapshot references
        except BaseException:
            self.lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.lock.release()
