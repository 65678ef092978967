"""Sharded vs single index: the same synthetic segments as one store index and as ``--shards``
indexes split by file id (``retrieval/shards.py``), searched in this process and on Ray actors.

Prints build and split time, per-query p50 / p95 for ``--by motion`` and ``--by both`` on each,
and recall@10 of each against the exact top 10 of the single index (exact scan).

    python -m benchmarks.shards --size 200000 --shards 4 [--work DIR] [--ray]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.curation import cpu_model
from benchmarks.store import synthetic_index


def _timed(search, queries: list[int], by: str) -> tuple[list[float], list[list[int]]]:
    times, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = search(q, k=10, by=by)
        times.append((time.perf_counter() - t0) * 1000)
        found.append([h.id for h in hits])
    return times, found


def _recall(exact: list[list[int]], found: list[list[int]]) -> float:
    return float(np.mean([len(set(e) & set(f)) / max(len(e), 1) for e, f in zip(exact, found)]))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=200_000)
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--dim", type=int, default=1152)
    p.add_argument("--ray", action="store_true", help="Also serve the shards from Ray actors (local Ray).")
    p.add_argument("--work", type=Path, default=None, help="Where the indexes are built (default: a temp dir).")
    p.add_argument("--reuse", action="store_true", help="Measure the indexes already built and split in --work.")
    args = p.parse_args(argv)
    from vidsearch.retrieval import search
    from vidsearch.retrieval.shards import ShardedIndex, split

    work = args.work or Path(tempfile.mkdtemp(prefix="vidsearch-shards-bench-"))
    build_s = split_s = 0.0
    if args.reuse and (work / "sharded" / "shards.json").exists():
        from vidsearch.retrieval.index import Index

        single = Index.open(work / "single")
    else:
        shutil.rmtree(work / "single", ignore_errors=True)
        shutil.rmtree(work / "sharded", ignore_errors=True)
        t0 = time.perf_counter()
        single = synthetic_index(work / "single", args.size, dim=args.dim)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        split(single, work / "sharded", args.shards)
        split_s = time.perf_counter() - t0
    queries = [
        int(q) for q in np.random.default_rng(0).choice(np.arange(1, args.size + 1), args.queries, replace=False)
    ]
    engines = {
        "single index": single.search,
        f"{args.shards} shards, this process": ShardedIndex(work / "sharded").search,
    }
    if args.ray:
        import ray

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        engines[f"{args.shards} shards, Ray actors"] = ShardedIndex(work / "sharded", engine="ray").search
    limit = search.EXACT_SCORING_LIMIT
    search.EXACT_SCORING_LIMIT = 10**12
    exact = {by: _timed(single.search, queries, by)[1] for by in ("motion", "both")}
    search.EXACT_SCORING_LIMIT = limit
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {cpu_model()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}; {len(single):,} segments ({args.dim}-d float16), "
        + ("reused" if args.reuse and not build_s else f"built in {build_s:.0f} s, split in {split_s:.0f} s")
        + f", {args.shards} shards; {len(queries)} stored segments as queries, k=10"
    )
    print("| served by | motion p50 / p95 ms | motion recall@10 | both p50 / p95 ms | both recall@10 |")
    print("|---|---|---|---|---|")
    for name, fn in engines.items():
        fn(queries[0], k=10)  # warm-up: loads the ANN indexes
        row = [name]
        for by in ("motion", "both"):
            times, found = _timed(fn, queries, by)
            row += [
                f"{np.percentile(times, 50):.1f} / {np.percentile(times, 95):.1f}",
                f"{_recall(exact[by], found):.3f}",
            ]
        print("| " + " | ".join(row) + " |", flush=True)
    if args.ray:
        ray.shutdown()
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
