"""``Index``: the one object the CLI, the UI, the benchmarks and generation talk to.

A small explicit API in the spirit of fiftyone-brain's similarity index::

    index = Index.open_or_create("./.vidsearch", ExtractorConfig())
    report = index.add(["./corpus"])          # incremental, resumable, bad files reported
    hits = index.search("query.mp4", k=10, by="both")
    index.remove([3, 7])                      # segment ids

The index stores files and their segments (the unit of search) in append-only fragments listed
by snapshots (``snapshot.py``); this class ties the pieces together: a reader of the current
snapshot (``reader.py``), the searcher (``search.py``), the ANN indexes (``ann.py``), the
ingest transaction (``ingest.py``), the writer lock (``lock.py``). The extractor configuration is
stored with the data: a query clip from outside the index is embedded with exactly that
configuration, and asking for another one is refused with the list of differences.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from vidsearch.errors import IndexingError
from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.corpus import discover_videos, stat_file
from vidsearch.indexers.decode.video import VideoInfo
from vidsearch.indexers.descriptors.spf import SpfSignature
from vidsearch.indexers.features import ClipFeatures, embed_clip
from vidsearch.indexers.pipeline import FileResult, PipelineStats, run_pipeline
from vidsearch.indexers.presets import PresetRecord
from vidsearch.indexers.runtime import RuntimeConfig
from vidsearch.retrieval.filters import MetadataFilter
from vidsearch.retrieval.ingest import AddReport, BatchWriter, plan_files
from vidsearch.retrieval.queries import QueryPlan, merge_hits, plan_query
from vidsearch.retrieval.scoring import moment_contributions
from vidsearch.retrieval.search import Searcher, SearchRequest, validate
from vidsearch.retrieval.store import snapshot as snap
from vidsearch.retrieval.store.codecs import check_codec
from vidsearch.retrieval.store.lock import WriterLock
from vidsearch.retrieval.store.manifest import (
    MANIFEST,
    ConfigMismatchError,
    IndexDamagedError,
    IndexLockedError,
    IndexNotFoundError,
    IndexStoreError,
    Manifest,
    damaged,
    now_utc,
)
from vidsearch.retrieval.store.reader import SnapshotReader
from vidsearch.retrieval.store.schema import AUX_PREFIX
from vidsearch.retrieval.store.transaction import Transaction, read_errors
from vidsearch.retrieval.types import FusionWeights, GroupBy, RangeQuery, RankBy, SearchHit
from vidsearch.status import report

# Commit at least this often (seconds), and never spend more than ~1/10 of the time committing.
COMMIT_EVERY_S = 30.0
# A read whose snapshot was compacted away moves to the newest snapshot, at most this many times.
READ_RETRIES = 3

Query = str | os.PathLike | int | RangeQuery | ClipFeatures | QueryPlan


ProgressCallback = Callable[[FileResult | None, PipelineStats, int], None]


class Index:
    """A vidsearch index directory opened for reading (and writing through ``add``/``remove``)."""

    def __init__(self, directory: Path, manifest: Manifest, allow_download: bool = False):
        self.dir = Path(directory)
        self._allow_download = allow_download
        self.manifest = manifest
        self._encoder = None
        self._load(snap.latest(self.dir))

    def _load(self, snapshot: snap.Snapshot) -> None:
        self._reader = SnapshotReader(self.dir, self.manifest, snapshot)
        self._filter: MetadataFilter | None = None
        self._ann = None
        self._ann_loaded = False
        self._calibration = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(
        cls,
        directory: str | os.PathLike,
        config: ExtractorConfig | None = None,
        *,
        allow_download: bool = False,
        moments_codec: str = "float16",
        preset: PresetRecord | None = None,
    ) -> Index:
        """A new empty index. Loads the encoder once to learn its weights id and dimension.
        ``moments_codec="int8"`` stores moments in half the space (``retrieval/store/codecs.py``);
        ``preset`` records the indexing preset the config came from (``indexers/presets.py``)."""
        from vidsearch.indexers.encoders import load_encoder

        directory = Path(directory)
        if (directory / MANIFEST).exists():
            raise IndexStoreError(f"an index already exists at {directory}; open it, or pass --rebuild to replace it")
        config = config or ExtractorConfig()
        encoder = load_encoder(config.backbone, allow_download=allow_download, input_px=config.input_px)
        config = config.with_weights(encoder.weights_id)
        dim = encoder.dim * (config.moment_blocks if config.aggregation == "concat" else 1)
        manifest = Manifest(config, [], now_utc().isoformat(), dim, moments_codec=moments_codec, preset=preset)
        directory.mkdir(parents=True, exist_ok=True)
        manifest.save(directory)
        index = cls(directory, manifest, allow_download)
        index._encoder = encoder
        return index

    @classmethod
    def open(
        cls, directory: str | os.PathLike, config: ExtractorConfig | None = None, *, allow_download: bool = False
    ) -> Index:
        """Open an existing index; if ``config`` is given it must match the stored one."""
        directory = Path(directory)
        manifest = Manifest.load(directory)
        if config is not None:
            check_config(manifest.config, config, directory)
        return cls(directory, manifest, allow_download)

    @classmethod
    def open_or_create(
        cls,
        directory: str | os.PathLike,
        config: ExtractorConfig | None = None,
        *,
        rebuild: bool = False,
        allow_download: bool = False,
        moments_codec: str | None = None,
        preset: PresetRecord | None = None,
    ) -> Index:
        """Open the index at ``directory`` or create it; ``moments_codec`` (None: float16) and
        ``preset`` apply to a new index only, and an existing one stored with another codec is refused."""
        directory = Path(directory)
        if moments_codec is not None:
            check_codec(moments_codec)
        if rebuild and (directory / MANIFEST).exists():
            with WriterLock(directory):
                shutil.rmtree(directory)
        if (directory / MANIFEST).exists():
            index = cls.open(directory, config, allow_download=allow_download)
            if moments_codec is not None and index.manifest.moments_codec != moments_codec:
                raise IndexStoreError(
                    f"{directory} stores moments as {index.manifest.moments_codec}, not "
                    f"{moments_codec}: pass --rebuild to re-create it"
                )
            return index
        return cls.create(
            directory, config, allow_download=allow_download, moments_codec=moments_codec or "float16", preset=preset
        )

    # ------------------------------------------------------------------ properties
    @property
    def config(self) -> ExtractorConfig:
        return self.manifest.config

    @property
    def roots(self) -> list[str]:
        return list(self.manifest.roots)

    @property
    def version(self) -> int:
        """The snapshot version this object reads."""
        return self._reader.snapshot.version

    def __len__(self) -> int:
        """Live segments."""
        return len(self._reader)

    @property
    def encoder(self):
        """The index's encoder, loaded on first use and checked against the stored weights id."""
        if self._encoder is None:
            from vidsearch.indexers.encoders import load_encoder

            report(f"loading the encoder {self.config.backbone}")
            encoder = load_encoder(
                self.config.backbone, allow_download=self._allow_download, input_px=self.config.input_px
            )
            if self.config.weights_id and encoder.weights_id != self.config.weights_id:
                raise ConfigMismatchError(
                    f"{self.dir}: the index was built with weights {self.config.weights_id} of "
                    f"{self.config.backbone!r}, but the loaded weights are {encoder.weights_id}; rebuild the index"
                )
            self._encoder = encoder
        return self._encoder

    @property
    def ann(self):
        """The ANN indexes of the current snapshot (None below the size where exact search is used)."""
        if not self._ann_loaded:
            from vidsearch.retrieval.store.ann import AnnSet

            self._ann = AnnSet.load(self._reader)
            self._ann_loaded = True
        return self._ann

    # ------------------------------------------------------------------ reading
    def has_segment(self, segment_id: int) -> bool:
        """Whether a live segment has this id."""
        return self._read(lambda r: r.contains(int(segment_id)))

    def get(self, segment_id: int) -> dict:
        """Segment + file columns of one segment (incl. ``spf_curve``); KeyError if unknown."""
        return self._read(lambda r: r.records(np.array([int(segment_id)]))[0])

    def records(self) -> list[dict]:
        """Every live segment's record, in id order (small indexes and tests: reads all rows)."""
        return self._read(lambda r: [rec for batch in _pages(r) for rec in batch])

    def page(self, offset: int, limit: int, contains: str | None = None) -> list[dict]:
        """``limit`` segment records from ``offset`` in id order (no curves), for pickers;
        ``contains`` keeps files whose path contains that text (case-insensitive)."""
        return self._read(lambda r: r.page(offset, limit, contains))

    def segments_of(self, path_or_file_id: str | os.PathLike | int) -> list[dict]:
        """The live segments of an indexed file (by path or file id), in file order; [] if not indexed."""

        def run(r: SnapshotReader) -> list[dict]:
            if isinstance(path_or_file_id, (int, np.integer)):
                file_id = int(path_or_file_id)
            else:
                row = r.file_by_path(_abspath(path_or_file_id))
                if row is None:
                    return []
                file_id = row["file_id"]
            return r.segments_of_file(file_id)

        return self._read(run)

    def poster(self, segment_id: int) -> bytes | None:
        """The segment's JPEG poster, None if it has none; KeyError if unknown."""
        return self._read(lambda r: r.poster(int(segment_id)))

    def moments(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """float32 (n, D) moments of the given segment ids, in that order (from float16 on disk)."""
        return self._read(lambda r: r.moments(np.asarray(ids, np.int64)))

    def curves(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """float32 (n, curve_len) SPF curves of the given segment ids, in that order."""
        return self._read(lambda r: r.curves(np.asarray(ids, np.int64)))

    def iter_batches(
        self, columns: Sequence[str], batch_size: int = 4096
    ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """``(ids, {column: array})`` over all live segments of the current snapshot, batch by batch."""
        yield from self._reader.iter_batches(list(columns), batch_size)

    def find_path(self, path: str | os.PathLike) -> dict | None:
        """The file row of an indexed file if it is unchanged since (same size and mtime)."""
        try:
            st = stat_file(path)
        except OSError:
            return None
        row = self._read(lambda r: r.file_by_path(st.path))
        if row and row["size"] == st.size and row["mtime"] == st.mtime:
            return row
        return None

    def errors(self) -> list[dict]:
        return read_errors(self.dir, self._reader.snapshot.errors).to_pylist()

    def exclusions(self) -> list[dict]:
        """Files removed with ``remove`` that ``add`` leaves out until they change."""
        from vidsearch.retrieval.store.schema import EXCLUSIONS_SCHEMA
        from vidsearch.retrieval.store.transaction import read_side_table

        return read_side_table(
            self.dir, snap.EXCLUSIONS, self._reader.snapshot.exclusions, EXCLUSIONS_SCHEMA
        ).to_pylist()

    def stats(self) -> dict:
        r = self._reader
        files = r.files
        s = r.snapshot
        ann = self.ann
        return {
            "index": str(self.dir),
            "schema_version": 2,
            "snapshot": s.version,
            "segments": len(r),
            "files": files.num_rows,
            "fragments": len(s.fragments),
            "deleted_segments": s.n_deleted,
            "errors": len(self.errors()),
            "excluded_files": len(self.exclusions()),
            "total_duration_s": float(np.sum(files.column("duration").to_numpy())) if files.num_rows else 0.0,
            "total_size_bytes": int(np.sum(files.column("size").to_numpy())) if files.num_rows else 0,
            "disk_bytes": _dir_bytes(self.dir),
            "roots": self.roots,
            "backbone": self.config.backbone,
            "segment_mode": self.config.segment.mode,
            "config_fingerprint": self.config.fingerprint(),
            "moments_dim": self.manifest.moments_dim,
            "aux": dict(self.manifest.aux_dims),
            "vector_search": "exact" if ann is None else ann.describe(),
            "created_at": self.manifest.created_at,
            "preset": str(self.manifest.preset) if self.manifest.preset is not None else None,
        }

    def features_of(self, segment_id: int) -> ClipFeatures:
        """The stored features of a segment (moments and curve as float32 from float16)."""
        rec = self.get(segment_id)
        curve = np.asarray(rec["spf_curve"], np.float32)
        sig = SpfSignature(
            curve=curve,
            max_dev=rec["linearity_max"],
            mean_dev=rec["linearity_mean"],
            breakpoints=list(rec["breakpoints"]),
            raw=curve,
        )
        info = VideoInfo(
            rec["end_s"] - rec["start_s"],
            rec["fps"],
            rec["width"],
            rec["height"],
            rec["end_frame"] - rec["start_frame"],
        )
        aux = {
            k[len(AUX_PREFIX) :]: np.asarray(v, np.float32)
            for k, v in rec.items()
            if k.startswith(AUX_PREFIX) and v is not None
        }
        return ClipFeatures(self.moments([segment_id])[0], sig, info, aux)

    def embed(
        self, path: str | os.PathLike, start_s: float | None = None, end_s: float | None = None, mirror: bool = False
    ) -> ClipFeatures:
        """Features of any clip (or time range of a file), computed exactly as the index's
        segments were (raises VideoError); ``mirror``: with the flipped frames' moments too."""
        encoder = self.encoder
        report(f"decoding and embedding {path}")
        return embed_clip(path, self.config, encoder, start_s=start_s, end_s=end_s, mirror=mirror)

    def filter_ids(self, where: str) -> np.ndarray:
        """Sorted ids of the live segments matching a SQL condition over segment + file columns."""
        if self._filter is None:
            self._filter = MetadataFilter(self._reader)
        return self._filter.ids(where)

    def _read(self, fn):
        """Run a read; if a concurrent ``compact`` removed files of our snapshot, move to the
        newest snapshot and run it again. A file of the index still missing then is damage."""
        for attempt in range(READ_RETRIES):
            try:
                return fn(self._reader)
            except FileNotFoundError as exc:
                if attempt == READ_RETRIES - 1 or not self.refresh():
                    missing, home = Path(exc.filename or "").resolve(), self.dir.resolve()
                    if home not in missing.parents:
                        raise
                    raise damaged(self.dir, str(missing.relative_to(home)), "missing") from exc

    # ------------------------------------------------------------------ search
    def plan_query(self, query: Query, keep_overlapping: bool = False) -> QueryPlan:
        """Where ``query``'s features will come from (stored segments or embedding) and which
        segments are the query itself; reads metadata only (``retrieval/queries.py``)."""
        return plan_query(self, query, keep_overlapping)

    def search(
        self,
        query: Query,
        k: int = 10,
        by: RankBy = "motion",
        weights: FusionWeights = FusionWeights(),
        where: str | None = None,
        exclude_self: bool = True,
        group_by: GroupBy = "segment",
        keep_overlapping: bool = False,
        strict_direction: bool = False,
    ) -> list[SearchHit]:
        """The ``k`` segments most similar to ``query``: a path, an indexed segment id, a
        ``RangeQuery`` (a time range of any file), features or a ``QueryPlan``. ``group_by="file"``
        keeps the best segment of each file. The query itself is left out unless
        ``exclude_self=False``: an indexed segment, an indexed file's segments, and the segments a
        time range overlaps (only the ones it is made of with ``keep_overlapping=True``). An indexed
        file or segment is searched with its stored features (a file of several segments with
        each, each hit at its best score) and nothing is decoded. A mirrored copy of the query's
        motion counts as the same motion unless ``strict_direction`` (then the flow must point the
        same way on screen)."""
        validate(k, by, group_by)
        plan = self.plan_query(query, keep_overlapping)
        if plan.features is not None:
            queries = [plan.features]
        elif plan.stored:
            queries = [self.features_of(sid) for sid in plan.stored]
        else:
            mirror = not strict_direction and by != "pacing"
            queries = [self.embed(plan.path, plan.start_s, plan.end_s, mirror=mirror)]
        exclude = np.asarray(plan.own if exclude_self else [], np.int64)

        def run(r: SnapshotReader) -> list[SearchHit]:
            allowed = self.filter_ids(where) if where else None
            searcher = Searcher(r, self.ann, self._contributions)
            return [
                searcher.search(SearchRequest(f, k, by, weights, allowed, exclude, group_by, strict_direction))
                for f in queries
            ]

        ranked = self._read(run)
        hits = ranked[0] if len(ranked) == 1 else merge_hits(ranked, k, group_by)
        cal = self.calibration
        if cal is not None and hits:
            for h, pct in zip(hits, cal.percentile([h.score for h in hits], by, weights, strict_direction)):
                h.calibrated = float(pct)
        return hits

    @property
    def calibration(self):
        """The index's calibration of raw scores (``retrieval/calibration.py``): the stored one
        while it still represents the index, else estimated from a seeded sample (the same sample
        for the same index, so a reopened index reads the same); None below 2 segments."""
        from vidsearch.retrieval.calibration import Calibration

        n = len(self)
        if self._calibration is None or self._calibration.is_stale(n):
            stored = Calibration.load(self.dir)
            self._calibration = (
                stored if stored is not None and not stored.is_stale(n) else self._estimate_calibration()
            )
        return self._calibration

    def _estimate_calibration(self):
        from vidsearch.retrieval.calibration import estimate, sample_items

        def run(r: SnapshotReader):
            live = [np.asarray(f.ids)[rows] for f, rows in r.iter_live()]
            ids = np.concatenate(live) if live else np.empty(0, np.int64)
            if len(ids) < 2:
                return None
            ids = ids[sample_items(len(ids))]
            return estimate(r.moments(ids), r.curves(ids), r.aux(ids, "flow"), n_items=len(r), rates=r.rates(ids))

        return self._read(run)

    def _refresh_calibration(self) -> None:
        """Re-estimate and store the calibration when the index has outgrown it (writer only)."""
        from vidsearch.retrieval.calibration import Calibration

        stored = Calibration.load(self.dir)
        if stored is not None and not stored.is_stale(len(self)):
            return
        cal = self._estimate_calibration()
        if cal is not None:
            try:
                cal.save(self.dir)
            except OSError:  # a cache: estimated again next time (a full disk is reported by the commit)
                pass
        self._calibration = cal

    def _contributions(self, query: np.ndarray, others: np.ndarray) -> np.ndarray | None:
        if self.config.aggregation != "concat":
            return None
        return moment_contributions(query, others, self.manifest.moments_dim // self.config.moment_blocks)

    # ------------------------------------------------------------------ writing
    def add(
        self,
        paths: Iterable[str | os.PathLike],
        *,
        prune: bool = False,
        runtime: RuntimeConfig = RuntimeConfig(),
        progress: ProgressCallback | None = None,
        commit_every_s: float = COMMIT_EVERY_S,
        retry_failed: bool = False,
        include_removed: bool = False,
        record_roots: bool = True,
    ) -> AddReport:
        """Index new and changed files under ``paths`` (all their segments); unchanged ones are
        skipped, and so are files that failed before and have not changed (unless
        ``retry_failed``) and files removed with ``remove`` (unless changed or ``include_removed``).
        Work is committed every ``commit_every_s`` seconds, so an interrupted run keeps what it
        did and a rerun resumes from there. ``record_roots`` False leaves ``paths`` out of the
        manifest's roots (``repair`` re-embedding single files)."""
        paths = [Path(p) for p in paths]
        with WriterLock(self.dir):
            self.refresh()  # another writer may have committed since we opened
            report = AddReport()
            files = discover_videos(paths)
            report.found = len(files)
            tx = Transaction(self._reader, self._read(lambda r: read_errors(self.dir, r.snapshot.errors)))
            if record_roots:  # saved by the commit (never before: a failed commit leaves the manifest as it was)
                self.manifest.roots = sorted(set(self.manifest.roots) | {str(p.resolve()) for p in paths})
            todo, metas = plan_files(tx, files, report, retry_failed=retry_failed, include_removed=include_removed)
            if prune:
                gone = [
                    int(f)
                    for f, p in zip(
                        tx.reader.files.column("file_id").to_pylist(), tx.reader.files.column("path").to_pylist()
                    )
                    if not Path(p).exists()
                ]
                tx.delete_files(gone)
                report.removed += len(gone)
            writer = BatchWriter(self._commit, tx, report, metas, commit_every_s)
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
                self._refresh_calibration()
            if todo and len(writer.systemic) == len(todo):
                raise IndexingError(f"{self.dir}: none of the {len(todo)} files could be indexed: {writer.systemic[0]}")
            return report

    def remove(self, ids: Sequence[int], *, allow_readd: bool = False) -> int:
        """Remove segments by id (a file left without segments is removed too); returns how many.

        A removed file is recorded as an exclusion in the same commit, so the next ``add`` of its
        folder leaves it out until it changes; ``allow_readd`` removes it without that."""
        with WriterLock(self.dir):
            self.refresh()
            tx = Transaction(self._reader, read_errors(self.dir, self._reader.snapshot.errors))
            n = tx.delete_segments(np.asarray(list(ids), np.int64))
            if n and not allow_readd:
                tx.exclude_files(tx.deleted_files)
            if n:
                self._commit(tx)
            return n

    def compact(self) -> dict:
        """Merge small fragments, drop tombstoned rows and old snapshots (see ``compaction.py``)."""
        from vidsearch.retrieval.store.compaction import compact

        with WriterLock(self.dir):
            self.refresh()
            result = compact(self._reader)
            self.refresh()
            return result

    def verify(self, deep: bool = False):
        """Check the index's files against its snapshot (``retrieval/store/verify.py``): a
        ``VerifyReport`` whose ``ok`` is False and ``lines()`` name each damaged part."""
        from vidsearch.retrieval.store.verify import verify

        return verify(self.dir, deep)

    def refresh(self) -> bool:
        """Pick up what another process committed since this index was opened (True if anything).

        Cheap when nothing changed (lists the snapshots folder), so long-lived readers such as
        the web UI call it before each query."""
        if snap.latest_version(self.dir) == self._reader.snapshot.version:
            return False
        self.manifest = Manifest.load(self.dir)
        self._load(snap.latest(self.dir))
        return True

    def _commit(self, tx: Transaction) -> None:
        from vidsearch.retrieval.store.ann import update_ann

        reader = tx.commit(lambda s: update_ann(self.dir, self.manifest, s))
        self._load(reader.snapshot)


def _pages(reader: SnapshotReader, size: int = 4096) -> Iterator[list[dict]]:
    for f, rows in reader.iter_live():
        ids = np.asarray(f.ids)[rows]
        for start in range(0, len(ids), size):
            yield reader.records(ids[start : start + size])


def _abspath(path: str | os.PathLike) -> str:
    return str(Path(path).resolve())


def _dir_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


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


__all__ = ["Index", "AddReport", "IndexNotFoundError", "ConfigMismatchError", "IndexLockedError", "IndexDamagedError"]
