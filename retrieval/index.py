"""``Index``: the one object the CLI, the UI, the benchmarks and generation talk to.

A small explicit API in the spirit of fiftyone-brain's similarity index::

    index = Index.open_or_create("./.vidsearch", ExtractorConfig())
    report = index.add(["./corpus"])          # incremental, resumable, bad files reported
    hits = index.search("query.mp4", k=10, by="both")
    index.remove([3, 7])

The extractor configuration is stored with the data (``manifest.json``); a query clip from outside
the index is embedded with exactly that configuration, and asking for another configuration is
refused with the list of differences instead of silently mixing vectors.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vidsearch.atomic import atomic_path
from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.corpus import FileStat, content_hash, discover_videos, stat_file
from vidsearch.indexers.features import ClipFeatures, embed_clip
from vidsearch.indexers.runtime import RuntimeConfig
from vidsearch.indexers.pipeline import FileResult, PipelineStats, run_pipeline
from vidsearch.indexers.spf import SpfSignature
from vidsearch.indexers.video import VideoInfo
from vidsearch.retrieval import store
from vidsearch.retrieval.filters import MetadataFilter
from vidsearch.retrieval.scoring import fused, motion_scores, pacing_scores, top_k
from vidsearch.retrieval.store import ConfigMismatchError, IndexLockedError, IndexNotFoundError, Manifest
from vidsearch.retrieval.types import FusionWeights, RangeQuery, RankBy, SearchHit
from vidsearch.retrieval.vector_index import IVF_THRESHOLD, VectorIndex

VECTOR_COLUMNS = ("moments",)
# Up to this many candidate clips are scored exactly with NumPy instead of going through FAISS.
EXACT_SCORING_LIMIT = 2_000
# Candidates taken from each side (motion via FAISS, pacing exactly) before fusing exact scores.
FUSION_SHORTLIST = 256
# Commit at least this often (seconds), and never spend more than ~1/10 of the time committing.
COMMIT_EVERY_S = 30.0


@dataclass
class AddReport:
    added: int = 0  # clips embedded (new or changed)
    reused: int = 0  # same content already indexed at another path: features copied
    skipped: int = 0  # unchanged since the last run
    removed: int = 0  # pruned (file gone) or replaced (file changed)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    stats: PipelineStats | None = None

    @property
    def ok(self) -> bool:
        return not self.failed


ProgressCallback = Callable[[FileResult | None, PipelineStats, int], None]


class Index:
    """A vidsearch index directory opened for reading (and writing through ``add``/``remove``)."""

    def __init__(self, directory: Path, manifest: Manifest, allow_download: bool = False):
        self.dir = Path(directory)
        self._allow_download = allow_download
        self.manifest = manifest
        self._schema = store.clips_schema(manifest.moments_dim, manifest.config.spf.resample)
        self._table, self._generation = store.read_clips(self.dir, self._schema)
        self._errors = store.read_errors(self.dir)
        self._vectors: VectorIndex | None = None
        self._arrays: dict[str, np.ndarray] | None = None
        self._encoder = None
        self._filter: MetadataFilter | None = None
        self._meta: pa.Table | None = None  # the table without vectors, set with the array view
        # Ids added / removed in memory since the last commit: applied to FAISS incrementally.
        self._pending_added: list[int] = []
        self._pending_removed: list[int] = []

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(cls, directory: str | os.PathLike, config: ExtractorConfig | None = None, *, allow_download: bool = False) -> "Index":
        """A new empty index. Loads the encoder once to learn its weights id and dimension."""
        from vidsearch.indexers.encoders import load_encoder

        directory = Path(directory)
        if (directory / store.MANIFEST).exists():
            raise store.IndexStoreError(f"an index already exists at {directory}; open it, or pass --rebuild to replace it")
        config = config or ExtractorConfig()
        encoder = load_encoder(config.backbone, allow_download=allow_download)
        config = config.with_weights(encoder.weights_id)
        dim = encoder.dim * (3 if config.aggregation == "concat" else 1)
        manifest = Manifest(config, [], store.now_utc().isoformat(), dim)
        directory.mkdir(parents=True, exist_ok=True)
        manifest.save(directory)
        index = cls(directory, manifest, allow_download)
        index._encoder = encoder
        return index

    @classmethod
    def open(cls, directory: str | os.PathLike, config: ExtractorConfig | None = None, *, allow_download: bool = False) -> "Index":
        """Open an existing index; if ``config`` is given it must match the stored one."""
        directory = Path(directory)
        manifest = Manifest.load(directory)
        if config is not None:
            check_config(manifest.config, config, directory)
        return cls(directory, manifest, allow_download)

    @classmethod
    def open_or_create(
        cls, directory: str | os.PathLike, config: ExtractorConfig | None = None, *, rebuild: bool = False, allow_download: bool = False
    ) -> "Index":
        directory = Path(directory)
        if rebuild and (directory / store.MANIFEST).exists():
            with _writer_lock(directory):
                shutil.rmtree(directory)
        if (directory / store.MANIFEST).exists():
            return cls.open(directory, config, allow_download=allow_download)
        return cls.create(directory, config, allow_download=allow_download)

    # ------------------------------------------------------------------ properties
    @property
    def config(self) -> ExtractorConfig:
        return self.manifest.config

    @property
    def roots(self) -> list[str]:
        return list(self.manifest.roots)

    def __len__(self) -> int:
        return self._table.num_rows

    @property
    def encoder(self):
        """The index's encoder, loaded on first use and checked against the stored weights id."""
        if self._encoder is None:
            from vidsearch.indexers.encoders import load_encoder

            encoder = load_encoder(self.config.backbone, allow_download=self._allow_download)
            if self.config.weights_id and encoder.weights_id != self.config.weights_id:
                raise ConfigMismatchError(
                    f"{self.dir}: the index was built with weights {self.config.weights_id} of "
                    f"{self.config.backbone!r}, but the loaded weights are {encoder.weights_id}; rebuild the index"
                )
            self._encoder = encoder
        return self._encoder

    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index, loaded from its file if it matches the Parquet generation, else rebuilt."""
        if self._vectors is None:
            path = store.faiss_path(self.dir, self._generation)
            if self._generation and path.exists():
                self._vectors = VectorIndex.load(path, self.manifest.moments_dim)
            else:
                a = self._array_view()
                self._vectors = VectorIndex.build(a["ids"], a["moments"], self.manifest.moments_dim)
        return self._vectors

    def _array_view(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            t, n = self._table, self._table.num_rows
            self._arrays = {
                "ids": t.column("id").to_numpy(),
                "moments": _fixed_list_to_numpy(t.column("moments"), n, self.manifest.moments_dim),
                "curves": _fixed_list_to_numpy(t.column("spf_curve"), n, self.config.spf.resample),
            }
            self._arrays["row_of"] = {int(i): r for r, i in enumerate(self._arrays["ids"])}
            self._arrays["sorter"] = np.argsort(self._arrays["ids"], kind="stable")
            self._meta = t.drop_columns(list(VECTOR_COLUMNS))
        return self._arrays

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Row positions of the given clip ids (ids not in the index are dropped), vectorised."""
        a = self._array_view()
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0 or len(a["ids"]) == 0:
            return np.empty(0, np.int64)
        sorted_ids = a["ids"][a["sorter"]]
        pos = np.clip(np.searchsorted(sorted_ids, ids), 0, len(sorted_ids) - 1)
        return np.sort(a["sorter"][pos[sorted_ids[pos] == ids]])

    # ------------------------------------------------------------------ reading
    def records(self) -> list[dict]:
        """Metadata rows (no moments vector), in id order."""
        return self._table.drop_columns(list(VECTOR_COLUMNS)).sort_by("id").to_pylist()

    def get(self, clip_id: int) -> dict:
        row = self._array_view()["row_of"].get(int(clip_id))
        if row is None:
            raise KeyError(f"no clip with id {clip_id} in {self.dir}")
        return self._meta.slice(row, 1).to_pylist()[0]

    def find_path(self, path: str | os.PathLike) -> dict | None:
        """The record of a file if it is indexed and unchanged since (same size and mtime)."""
        try:
            st = stat_file(path)
        except OSError:
            return None
        hits = self._table.filter(pc.equal(self._table.column("path"), st.path)).drop_columns(list(VECTOR_COLUMNS)).to_pylist()
        if hits and hits[0]["size"] == st.size and hits[0]["mtime"] == st.mtime:
            return hits[0]
        return None

    def errors(self) -> list[dict]:
        return self._errors.to_pylist()

    def stats(self) -> dict:
        t = self._table
        return {
            "index": str(self.dir),
            "clips": t.num_rows,
            "errors": self._errors.num_rows,
            "total_duration_s": float(pc.sum(t.column("duration")).as_py() or 0.0),
            "total_size_bytes": int(pc.sum(t.column("size")).as_py() or 0),
            "roots": self.roots,
            "backbone": self.config.backbone,
            "config_fingerprint": self.config.fingerprint(),
            "moments_dim": self.manifest.moments_dim,
            "faiss": "IVF" if self._table.num_rows and self.vectors.is_ivf else "flat",
            "created_at": self.manifest.created_at,
        }

    def features_of(self, clip_id: int) -> ClipFeatures:
        a = self._array_view()
        row = a["row_of"].get(int(clip_id))
        if row is None:
            raise KeyError(f"no clip with id {clip_id} in {self.dir}")
        rec = self.get(clip_id)
        sig = SpfSignature(
            curve=a["curves"][row],
            max_dev=rec["linearity_max"],
            mean_dev=rec["linearity_mean"],
            breakpoints=list(rec["segments"]),
            raw=a["curves"][row],
        )
        info = VideoInfo(rec["duration"], rec["fps"], rec["width"], rec["height"], rec["frame_count"])
        return ClipFeatures(a["moments"][row], sig, info)

    def embed(self, path: str | os.PathLike, start_s: float | None = None, end_s: float | None = None) -> ClipFeatures:
        """Features of any clip (or time range of a file), computed exactly as the index's
        segments were (raises VideoError)."""
        return embed_clip(path, self.config, self.encoder, start_s=start_s, end_s=end_s)

    # ------------------------------------------------------------------ search
    def search(
        self,
        query: str | os.PathLike | int | ClipFeatures,
        k: int = 10,
        by: RankBy = "motion",
        weights: FusionWeights = FusionWeights(),
        where: str | None = None,
        exclude_self: bool = True,
    ) -> list[SearchHit]:
        """The ``k`` clips most similar to ``query`` (a path, an indexed id, or features)."""
        if by not in ("motion", "pacing", "both"):
            raise ValueError(f"by must be 'motion', 'pacing' or 'both', got {by!r}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        feats, self_id = self._resolve_query(query)
        if len(self) == 0:
            return []
        a = self._array_view()
        rows = self._candidate_rows(feats, k + (1 if self_id is not None else 0), by, where)
        if self_id is not None and exclude_self:
            rows = rows[a["ids"][rows] != self_id]
        motion = motion_scores(feats.moments, a["moments"][rows])
        pacing = pacing_scores(feats.spf.curve, a["curves"][rows])
        score = fused(motion, pacing, by, weights)
        order = top_k(score, k)
        contrib = self._contributions(feats.moments, a["moments"][rows[order]])
        records = self._meta.take(pa.array(rows[order])).to_pylist()
        hits = []
        for rank, (pos, rec) in enumerate(zip(order, records), start=1):
            cid = int(rec["id"])
            hits.append(
                SearchHit(
                    rank=rank,
                    id=cid,
                    path=rec["path"],
                    score=float(score[pos]),
                    motion=float(motion[pos]),
                    pacing=float(pacing[pos]),
                    moment_contributions=None if contrib is None else tuple(float(c) for c in contrib[rank - 1]),
                    record=rec,
                    file_id=cid,  # schema 1: one segment per file, ids shared
                    start_s=0.0,
                    end_s=float(rec["duration"]),
                )
            )
        return hits

    def _resolve_query(self, query) -> tuple[ClipFeatures, int | None]:
        if isinstance(query, ClipFeatures):
            return query, None
        if isinstance(query, RangeQuery):
            return self.embed(query.path, query.start_s, query.end_s), None
        if isinstance(query, (int, np.integer)):
            return self.features_of(int(query)), int(query)
        rec = self.find_path(query)
        if rec is not None:
            return self.features_of(rec["id"]), rec["id"]
        return self.embed(query), None

    def _candidate_rows(self, feats: ClipFeatures, k: int, by: RankBy, where: str | None) -> np.ndarray:
        """Rows worth scoring exactly: every (filtered) row when that is cheap, else shortlists:
        FAISS for motion (restricted to the filtered ids), an exact pass for pacing (64-d)."""
        a = self._array_view()
        allowed = self.filter_ids(where) if where else None
        pool = len(self) if allowed is None else len(allowed)
        if by == "pacing" or pool <= max(4 * k, EXACT_SCORING_LIMIT):
            return np.arange(len(self)) if allowed is None else self._rows_of(allowed)
        shortlist = max(k, FUSION_SHORTLIST) if by == "both" else k
        rows = self._rows_of(self.vectors.search(feats.moments, shortlist, allowed)[1])
        if by == "both":  # the pacing side of the fusion gets its own shortlist, exact
            pacing_rows = np.arange(len(self)) if allowed is None else self._rows_of(allowed)
            best = top_k(pacing_scores(feats.spf.curve, a["curves"][pacing_rows]), shortlist)
            rows = np.union1d(rows, pacing_rows[best])
        return rows

    def _contributions(self, query: np.ndarray, others: np.ndarray) -> np.ndarray | None:
        if self.config.aggregation != "concat":
            return None
        from vidsearch.indexers.moments import moment_contributions

        return moment_contributions(query, others, self.manifest.moments_dim // 3)

    def filter_ids(self, where: str) -> np.ndarray:
        """Ids of the clips matching a SQL condition over the clip columns (DuckDB)."""
        if self._filter is None:
            self._array_view()
            self._filter = MetadataFilter(self._meta, self.config.spf.resample)
        return self._filter.ids(where)

    # ------------------------------------------------------------------ writing
    def add(
        self,
        paths: Iterable[str | os.PathLike],
        *,
        prune: bool = False,
        runtime: RuntimeConfig = RuntimeConfig(),
        progress: ProgressCallback | None = None,
        commit_every_s: float = COMMIT_EVERY_S,
    ) -> AddReport:
        """Index new and changed clips under ``paths``; unchanged ones are skipped.

        Work is committed every ``commit_every_s`` seconds, so an interrupted run keeps what it
        did and a rerun resumes from there.
        """
        paths = [Path(p) for p in paths]
        with _writer_lock(self.dir):
            self._reload()  # another writer may have committed since we opened
            report = AddReport()
            files = discover_videos(paths)
            self.manifest.roots = sorted(set(self.manifest.roots) | {str(p.resolve()) for p in paths})
            self.manifest.save(self.dir)
            todo, metas = self._plan(files, report)
            if prune:
                self._prune(report)
            writer = _BatchWriter(self, report, metas, commit_every_s)
            stats = PipelineStats()
            report.stats = stats
            if progress:
                progress(None, stats, len(todo))

            def on_result(result: FileResult) -> None:
                writer.accept(result)
                if progress:
                    progress(result, stats, len(todo))

            try:
                if todo:
                    encoder = self.encoder  # load (and check) before any decoding starts
                    run_pipeline(todo, self.config, encoder, runtime=runtime, stats=stats, on_result=on_result)
            finally:
                writer.commit()
            return report

    def remove(self, ids: Sequence[int]) -> int:
        """Remove clips by id; returns how many were removed."""
        with _writer_lock(self.dir):
            self._reload()
            present = set(self._table.column("id").to_pylist()) & {int(i) for i in ids}
            if present:
                self._drop_ids(sorted(present))
                self._commit()
            return len(present)

    def refresh(self) -> bool:
        """Pick up what another process committed since this index was opened (True if anything).

        Cheap when nothing changed (reads the Parquet footer only), so long-lived readers such as
        the web UI call it before each query.
        """
        if store.read_generation(self.dir) == self._generation:
            return False
        self._reload()
        return True

    def _reload(self) -> None:
        self.manifest = Manifest.load(self.dir)
        table, generation = store.read_clips(self.dir, self._schema)
        if generation != self._generation:
            self._table, self._generation = table, generation
            self._invalidate(vectors=True)
        self._errors = store.read_errors(self.dir)

    def _invalidate(self, vectors: bool) -> None:
        self._arrays = None
        self._filter = None
        if vectors:
            self._vectors = None

    def _plan(self, files: list[str], report: AddReport) -> tuple[list[str], dict[str, tuple[FileStat, str]]]:
        """Decide per file: skip (unchanged), reuse (same content elsewhere) or embed."""
        known = {r["path"]: r for r in self._table.select(["id", "path", "size", "mtime", "hash"]).to_pylist()}
        by_hash = {r["hash"]: r["id"] for r in known.values()}
        todo, metas, reuse = [], {}, []
        stale_ids = []
        touched = []
        for path in files:
            try:
                st = stat_file(path)
                row = known.get(st.path)
                if row and row["size"] == st.size and row["mtime"] == st.mtime:
                    report.skipped += 1
                    continue
                digest = content_hash(st.path)
            except OSError as exc:
                self._record_error(path, None, f"cannot read ({exc.strerror or exc})", report)
                continue
            if row and row["hash"] == digest:
                touched.append((row["id"], st))  # touched but identical: refresh size/mtime only
                report.skipped += 1
                continue
            if row:
                stale_ids.append(row["id"])  # changed content: replaced when the new row lands
            if digest in by_hash and by_hash[digest] not in stale_ids:
                reuse.append((by_hash[digest], st, digest))
                continue
            todo.append(st.path)
            metas[st.path] = (st, digest)
        self._drop_ids(stale_ids)
        report.removed += len(stale_ids)
        self._refresh_stats(touched)
        self._copy_rows(reuse, report)
        return todo, metas

    def _prune(self, report: AddReport) -> None:
        gone = [r["id"] for r in self._table.select(["id", "path"]).to_pylist() if not Path(r["path"]).exists()]
        self._drop_ids(gone)
        report.removed += len(gone)

    def _drop_ids(self, ids: list[int]) -> None:
        if ids:
            keep = pc.invert(pc.is_in(self._table.column("id"), pa.array(ids, pa.int64())))
            self._table = self._table.filter(keep)
            self._invalidate(vectors=False)
            self._pending_removed.extend(ids)

    def _refresh_stats(self, touched: list[tuple[int, FileStat]]) -> None:
        """New size/mtime for files whose content did not change (column-wise: no row objects)."""
        if not touched:
            return
        new = {cid: st for cid, st in touched}
        ids = self._table.column("id").to_numpy()
        size = self._table.column("size").to_numpy().copy()
        mtime = self._table.column("mtime").to_numpy().copy()
        for row in np.flatnonzero(np.isin(ids, list(new))):
            st = new[int(ids[row])]
            size[row], mtime[row] = st.size, st.mtime
        t = self._table
        t = t.set_column(t.schema.get_field_index("size"), "size", pa.array(size, pa.int64()))
        self._table = t.set_column(t.schema.get_field_index("mtime"), "mtime", pa.array(mtime, pa.float64()))

    def _copy_rows(self, reuse: list[tuple[int, FileStat, str]], report: AddReport) -> None:
        if not reuse:
            return
        a = self._array_view()
        rows = []
        next_id = self._next_id()
        for src_id, st, digest in reuse:
            src = self._table.slice(a["row_of"][src_id], 1).to_pylist()[0]
            src.update(id=next_id, path=st.path, size=st.size, mtime=st.mtime, hash=digest, indexed_at=store.now_utc())
            rows.append(src)
            next_id += 1
        self._table = pa.concat_tables([self._table, pa.Table.from_pylist(rows, schema=self._schema)])
        self._invalidate(vectors=False)
        self._pending_added.extend(r["id"] for r in rows)
        report.reused += len(rows)

    def _next_id(self) -> int:
        return int(pc.max(self._table.column("id")).as_py() or 0) + 1 if self._table.num_rows else 1

    def _record_error(self, path: str, st: FileStat | None, reason: str, report: AddReport) -> None:
        report.failed.append((path, reason))
        keep = pc.not_equal(self._errors.column("path"), path)
        row = {"path": path, "size": st.size if st else None, "mtime": st.mtime if st else None, "reason": reason, "at": store.now_utc()}
        self._errors = pa.concat_tables([self._errors.filter(keep), pa.Table.from_pylist([row], schema=store.ERRORS_SCHEMA)])

    def _clear_error(self, path: str) -> None:
        if self._errors.num_rows:
            self._errors = self._errors.filter(pc.not_equal(self._errors.column("path"), path))

    def _append_rows(self, rows: list[dict]) -> list[int]:
        """Give the new rows fresh ids and add them to the in-memory table."""
        next_id = self._next_id()
        for r in rows:
            r["id"] = next_id
            next_id += 1
        self._table = pa.concat_tables([self._table, pa.Table.from_pylist(rows, schema=self._schema)])
        self._invalidate(vectors=False)
        self._pending_added.extend(r["id"] for r in rows)
        return [r["id"] for r in rows]

    def _commit(self) -> None:
        """Persist the table (the commit point), then the FAISS file and the errors table."""
        added = np.asarray(self._pending_added, dtype=np.int64)
        removed = np.asarray(self._pending_removed, dtype=np.int64)
        self._pending_added, self._pending_removed = [], []
        self._generation = store.write_clips(self.dir, self._table)
        self._invalidate(vectors=False)
        vectors = self._vectors
        if vectors is None or (len(self) > IVF_THRESHOLD and not vectors.is_ivf):
            self._vectors = None
            vectors = self.vectors  # rebuilt from the table
        else:
            vectors.remove(removed)
            a = self._array_view()
            rows = [a["row_of"][int(i)] for i in added if int(i) in a["row_of"]]
            vectors.add(a["ids"][rows], a["moments"][rows])
        with atomic_path(store.faiss_path(self.dir, self._generation)) as tmp:
            vectors.save(tmp)
        store.remove_stale_faiss(self.dir, self._generation)
        store.write_errors(self.dir, self._errors)


class _BatchWriter:
    """Turns pipeline results into rows and commits them every so often."""

    def __init__(self, index: Index, report: AddReport, metas: dict[str, tuple[FileStat, str]], every_s: float):
        self.index, self.report, self.metas, self.every_s = index, report, metas, every_s
        self.rows: list[dict] = []
        self.last_commit = time.perf_counter()
        self.commit_cost = 0.0

    def accept(self, result: FileResult) -> None:
        st, digest = self.metas[result.path]
        if result.error is not None:
            self.index._record_error(result.path, st, result.error, self.report)
        else:
            # Schema 1 stores one row per file: its single (whole-file) segment.
            self.rows.append(_row(st, digest, result.segments[0].features))
            self.index._clear_error(result.path)
            self.report.added += 1
        if time.perf_counter() - self.last_commit > max(self.every_s, 10 * self.commit_cost):
            self.commit()

    def commit(self) -> None:
        t0 = time.perf_counter()
        if self.rows:
            self.index._append_rows(self.rows)
            self.rows = []
        self.index._commit()
        self.last_commit = time.perf_counter()
        self.commit_cost = self.last_commit - t0


def _row(st: FileStat, digest: str, f: ClipFeatures) -> dict:
    info = f.info
    return {
        "path": st.path,
        "size": st.size,
        "mtime": st.mtime,
        "hash": digest,
        "duration": info.duration,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "frame_count": info.frame_count,
        "spf_curve": np.asarray(f.spf.curve, dtype=np.float32).tolist(),
        "linearity_max": float(f.spf.max_dev),
        "linearity_mean": float(f.spf.mean_dev),
        "segments": [int(b) for b in f.spf.breakpoints],
        "moments": f.moments.astype(np.float32).tolist(),
        "indexed_at": store.now_utc(),
    }


def _fixed_list_to_numpy(column: pa.ChunkedArray, n: int, width: int) -> np.ndarray:
    if n == 0:
        return np.zeros((0, width), np.float32)
    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(flat, dtype=np.float32).reshape(n, width)


def check_config(stored: ExtractorConfig, requested: ExtractorConfig, directory: Path) -> None:
    """Raise ConfigMismatchError listing the differences (weights ids compared only if both set)."""
    req = requested if requested.weights_id else requested.with_weights(stored.weights_id)
    diffs = stored.differences(req)
    if diffs:
        raise ConfigMismatchError(
            f"{directory}: the index was built with another extractor configuration:\n  "
            + "\n  ".join(diffs)
            + "\nuse the index's settings, another --index DIR, or --rebuild to re-embed everything"
        )


class _WriterLock:
    def __init__(self, directory: Path):
        from filelock import FileLock

        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / store.LOCK
        self.lock = FileLock(str(self.path))

    def __enter__(self):
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=0)
        except Timeout as exc:
            raise IndexLockedError(f"{self.path.parent}: another vidsearch process is writing to this index (lock {self.path})") from exc
        store.remove_stale_temps(self.path.parent)
        return self

    def __exit__(self, *exc) -> None:
        self.lock.release()


def _writer_lock(directory: Path) -> _WriterLock:
    return _WriterLock(Path(directory))


__all__ = ["Index", "AddReport", "IndexNotFoundError", "ConfigMismatchError", "IndexLockedError"]
