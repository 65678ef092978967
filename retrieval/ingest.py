"""What ``Index.add`` does with each file before and after the pipeline: the plan (skip an
unchanged file, refresh a touched one, reuse the features of a copy, embed the rest) and the
writer that stages results and commits them every so often, so an interrupted run keeps its work.

Two kinds of file are not decoded again unless asked: one that failed before and has not changed
since (same size and mtime as the errors table recorded; ``retry_failed`` decodes it again), and
one the user removed (``Index.remove`` records it as an exclusion; it comes back when its content
changes or with ``include_removed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vidsearch.indexers.corpus import FileStat, content_hash, stat_file
from vidsearch.indexers.pipeline import FileResult, PipelineStats
from vidsearch.retrieval.store.transaction import Transaction


@dataclass
class AddReport:
    found: int = 0  # video files found under the paths given
    added: int = 0  # files embedded (new or changed)
    reused: int = 0  # same content already indexed at another path: features copied
    skipped: int = 0  # unchanged since the last run
    removed: int = 0  # files pruned (gone) or replaced (changed)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    failed_earlier: list[tuple[str, str]] = field(default_factory=list)  # unchanged since they failed: not retried
    excluded: list[str] = field(default_factory=list)  # removed by the user and unchanged: not added back
    segments: int = 0  # segments stored by this run (embedded or copied)
    stats: PipelineStats | None = None

    @property
    def ok(self) -> bool:
        return not self.failed


class BatchWriter:
    """Turns pipeline results into staged rows and commits them every so often."""

    def __init__(
        self,
        commit: Callable[[Transaction], None],
        tx: Transaction,
        report: AddReport,
        metas: dict[str, tuple[FileStat, str]],
        every_s: float,
    ):
        self._commit, self.tx, self.report, self.metas, self.every_s = commit, tx, report, metas, every_s
        self.last_commit = time.perf_counter()
        self.commit_cost = 0.0
        self.systemic: list[str] = []  # reasons of the failures that were not the files' fault

    def accept(self, result: FileResult) -> None:
        st, digest = self.metas[result.path]
        error = result.error
        if result.systemic:  # reported, but not recorded against the file: a rerun retries it
            self.systemic.append(error)
            self.report.failed.append((result.path, error))
            return
        if error is None:
            try:
                self.tx.add_file(st, digest, result.info or result.segments[0].features.info, result.segments)
            except ValueError as exc:
                error = str(exc)
        if error is not None:
            self.tx.record_error(result.path, st, error)
            self.report.failed.append((result.path, error))
        else:
            self.tx.clear_error(result.path)
            self.report.added += 1
            self.report.segments += len(result.segments)
        if time.perf_counter() - self.last_commit > max(self.every_s, 10 * self.commit_cost):
            self.commit()

    def commit(self) -> None:
        t0 = time.perf_counter()
        self._commit(self.tx)
        self.last_commit = time.perf_counter()
        self.commit_cost = self.last_commit - t0


def plan_files(
    tx: Transaction, files: list[str], report: AddReport, *, retry_failed: bool = False, include_removed: bool = False
) -> tuple[list[str], dict[str, tuple[FileStat, str]]]:
    """Decide per file: skip (unchanged, failed earlier, removed by the user), refresh (touched),
    reuse (same content elsewhere) or embed."""
    table = tx.reader.files
    rows = table.select(["file_id", "path", "size", "mtime", "hash"]).to_pylist()
    known = {r["path"]: r for r in rows}
    by_hash = {r["hash"]: r["file_id"] for r in rows}
    failed = {r["path"]: r for r in tx.errors.to_pylist()}
    excluded = {r["path"]: r for r in tx.exclusions.to_pylist()}
    todo, metas, stale = [], {}, []
    for path in files:
        try:
            st = stat_file(path)
            row = known.get(st.path)
            if row and row["size"] == st.size and row["mtime"] == st.mtime:
                report.skipped += 1
                continue
            error = failed.get(st.path)
            if error and not retry_failed and _same_stat(error, st):
                report.failed_earlier.append((st.path, error["reason"]))
                continue
            removed = excluded.get(st.path)
            if removed and not include_removed and _same_stat(removed, st):
                report.excluded.append(st.path)
                continue
            digest = content_hash(st.path)
        except OSError as exc:
            reason = f"cannot read ({exc.strerror or exc})"
            tx.record_error(path, None, reason)
            report.failed.append((path, reason))
            continue
        if removed and not include_removed and removed["hash"] == digest:
            report.excluded.append(st.path)  # touched, same content: still removed
            continue
        if removed:
            tx.include_file(st.path)  # changed since it was removed, or asked for again
        if row and row["hash"] == digest:
            tx.refresh_file(row["file_id"], st)  # touched but identical: new size/mtime only
            report.skipped += 1
            continue
        if row:
            stale.append(row["file_id"])  # changed content: its segments are replaced
        if digest in by_hash and by_hash[digest] not in stale:
            tx.copy_file(by_hash[digest], st, digest)
            tx.clear_error(st.path)
            report.reused += 1
            continue
        todo.append(st.path)
        metas[st.path] = (st, digest)
    tx.delete_files(stale)
    report.removed += len(stale)
    return todo, metas


def _same_stat(recorded: dict, st: FileStat) -> bool:
    return recorded["size"] == st.size and recorded["mtime"] == st.mtime
