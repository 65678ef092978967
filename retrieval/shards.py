"""An index split into shards by file id, served by Ray actors (or in this process), one ranking.

``split(index, out, n)`` writes ``n`` ordinary store indexes (``out/shard-000`` ...): shard ``s``
holds the live segments of the files with ``file_id % n == s``, with their original segment and
file ids, so a file's segments always share a shard and ``group_by="file"`` needs no cross-shard
step. ``ShardedIndex`` opens them and answers ``search`` by fanning the query out to every shard
and merging: scores are absolute (cosines and the pacing score, fused with fixed weights), so the
best ``k`` of the shards' best ``k`` by score is the single index's top ``k`` wherever each shard
ranks exactly (the exact scan below the ANN threshold; above it each shard's shortlist is that
of an index its size). A query given as a segment id, or as a path or time range of a file the
shards hold, is read from the shard that holds it and sent to all as features, its own segments
left out; any other clip is embedded once, in this process, with the shards' configuration.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from vidsearch.atomic import atomic_path
from vidsearch.indexers.features import ClipFeatures
from vidsearch.retrieval.queries import QueryPlan, merge_hits
from vidsearch.retrieval.search import validate
from vidsearch.retrieval.types import FusionWeights, GroupBy, RankBy, SearchHit

if TYPE_CHECKING:
    from vidsearch.retrieval.index import Query

LAYOUT = "shards.json"


class ShardError(ValueError):
    """A sharded index that cannot be opened (message names the folder and the reason)."""


def split(index, out: str | os.PathLike, shards: int) -> list[Path]:
    """Write the live segments of ``index`` as ``shards`` indexes under ``out`` (by file id)."""
    from vidsearch.retrieval.store import snapshot as snap
    from vidsearch.retrieval.store.ann import update_ann
    from vidsearch.retrieval.store.fragment import FragmentData, write_files, write_fragment

    if shards < 1:
        raise ShardError(f"{out}: shards must be >= 1 (got {shards})")
    out = Path(out)
    if (out / LAYOUT).exists():
        raise ShardError(f"{out}: already holds a sharded index")
    reader = index._reader
    dirs = [out / f"shard-{s:03d}" for s in range(shards)]
    fragments: list[list] = [[] for _ in range(shards)]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=False)
        index.manifest.save(d)
    for f, rows in reader.iter_live():
        table = f.read_columns(None).take(pa.array(rows))
        owner = table.column("file_id").to_numpy() % shards
        posters = f.posters() if f.ref.posters else {}
        for s in range(shards):
            mine = np.flatnonzero(owner == s)
            if not len(mine):
                continue
            ids = table.column("id").to_numpy()[mine]
            data = FragmentData(
                table.take(pa.array(mine)),
                np.asarray(f.moments[rows[mine]]),
                np.asarray(f.curves[rows[mine]]),
                {int(i): posters[int(i)] for i in ids if int(i) in posters},
                index.manifest.moments_codec,
            )
            fragments[s].append(write_fragment(dirs[s], data))
    files = reader.files
    file_owner = files.column("file_id").to_numpy() % shards
    base = reader.snapshot
    for s, d in enumerate(dirs):
        part = write_files(d, files.filter(pa.array(file_owner == s)))
        shard = snap.Snapshot(
            fragments=tuple(fragments[s]),
            file_parts=(part,),
            next_segment_id=base.next_segment_id,
            next_file_id=base.next_file_id,
        )
        shard, _ = update_ann(d, index.manifest, shard, rebuild=True)
        snap.commit(d, shard)
    with atomic_path(out / LAYOUT, suffix=".json") as tmp:
        tmp.write_text(json.dumps({"shards": [d.name for d in dirs], "by": "file_id", "source": str(index.dir)}))
    return dirs


class Shard:
    """One shard's index, in this process or as a Ray actor (the same methods either way)."""

    def __init__(self, directory: str):
        from vidsearch.retrieval.index import Index

        self.index = Index.open(Path(directory))

    def __len__(self) -> int:
        return len(self.index)

    def size(self) -> int:
        return len(self.index)

    def features(self, segment_id: int) -> ClipFeatures | None:
        """The stored features of a segment this shard holds, else None."""
        try:
            return self.index.features_of(int(segment_id))
        except KeyError:
            return None

    def plan(self, query, keep_overlapping: bool) -> QueryPlan:
        """Which of this shard's segments a path or time range is (metadata only)."""
        return self.index.plan_query(query, keep_overlapping)

    def search(self, plan: QueryPlan, k: int, by: RankBy, weights, where, group_by, strict_direction: bool):
        """The shard's best ``k`` for the query's features, leaving out ``plan.own`` (segment ids
        are those of the single index, so the ids another shard holds are simply absent here)."""
        return self.index.search(plan, k, by, weights, where, group_by=group_by, strict_direction=strict_direction)


class ShardedIndex:
    """The shards of ``directory`` searched as one index (``engine``: "local" or "ray" actors)."""

    def __init__(self, directory: str | os.PathLike, engine: str = "local"):
        directory = Path(directory)
        try:
            layout = json.loads((directory / LAYOUT).read_text())
        except (OSError, ValueError) as exc:
            raise ShardError(f"{directory}: not a sharded index ({exc})") from exc
        self._paths = [str(directory / name) for name in layout["shards"]]
        self._embedder = None
        if engine == "local":
            self._shards, self._remote = [Shard(p) for p in self._paths], False
        elif engine == "ray":
            from vidsearch.indexers.ray_engine import connect

            connect(None)
            import ray

            actor = ray.remote(num_cpus=0)(Shard)
            self._shards, self._remote = [actor.remote(p) for p in self._paths], True
        else:
            raise ShardError(f"engine must be 'local' or 'ray' (got {engine!r})")

    def _all(self, method: str, *args) -> list:
        if not self._remote:
            return [getattr(s, method)(*args) for s in self._shards]
        import ray

        return ray.get([getattr(s, method).remote(*args) for s in self._shards])

    def __len__(self) -> int:
        return sum(self._all("size"))

    def embed(self, path, start_s=None, end_s=None, mirror: bool = False) -> ClipFeatures:
        """A clip's features as the shards' shared configuration makes them, in this process (the
        encoder loads here once, on first use)."""
        if self._embedder is None:
            from vidsearch.retrieval.index import Index

            self._embedder = Index.open(Path(self._paths[0]))
        return self._embedder.embed(path, start_s, end_s, mirror=mirror)

    def _queries(self, query, by: RankBy, exclude_self: bool, keep_overlapping: bool, strict: bool):
        """The query's features (one per stored segment it is made of) and the segment ids to leave
        out: a segment id or an indexed file is read from the shard that holds it, anything else
        is embedded once here."""
        if isinstance(query, ClipFeatures):
            return [query], ()
        if isinstance(query, (int, np.integer)):
            found = [f for f in self._all("features", int(query)) if f is not None]
            if not found:
                raise KeyError(f"segment {int(query)} is in no shard")
            return found[:1], (int(query),) if exclude_self else ()
        plans = self._all("plan", query, keep_overlapping)
        holder = next((i for i, p in enumerate(plans) if p.own), None)
        own = plans[holder].own if holder is not None and exclude_self else ()
        if holder is not None and plans[holder].stored:
            if not self._remote:
                return [self._shards[holder].features(sid) for sid in plans[holder].stored], own
            import ray

            refs = [self._shards[holder].features.remote(sid) for sid in plans[holder].stored]
            return ray.get(refs), own
        plan = plans[0]
        return [self.embed(plan.path, plan.start_s, plan.end_s, mirror=not strict and by != "pacing")], own

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
        """The ``k`` best segments over all shards, ranked as one index of the same rows would:
        ``query`` is what ``Index.search`` takes (a path, a ``RangeQuery``, a segment id or features)."""
        validate(k, by, group_by)
        queries, own = self._queries(query, by, exclude_self, keep_overlapping, strict_direction)
        ranked = []
        for feats in queries:
            plan = QueryPlan(features=feats, own=own)
            parts = self._all("search", plan, k, by, weights, where, group_by, strict_direction)
            ranked.append(merge_hits(parts, k, group_by))
        return ranked[0] if len(ranked) == 1 else merge_hits(ranked, k, group_by)
