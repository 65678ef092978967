"""Speed benchmark: indexing throughput, decode vs encoder share, encoder GFLOP/s vs a GEMM peak
measured in the same run, and query latency at 10k and 100k stored vectors.

    python -m vidsearch.bench.throughput [--clips 16] [--backbone dinov2-s14] [--sizes 10000,100000]

Everything printed is measured in this run on this machine; nothing is copied from elsewhere.
The query part uses synthetic unit vectors and curves (what is timed is the search, not the data).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np


def gemm_peak_gflops(n: int = 1024, repeats: int = 20, dtype: str = "float32") -> float:
    """Matrix-multiply throughput of torch on this machine at ``dtype`` (best of ``repeats``)."""
    import torch

    a, b = torch.randn(n, n, dtype=getattr(torch, dtype)), torch.randn(n, n, dtype=getattr(torch, dtype))
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def encoder_gflops(encoder, batch: int = 32, repeats: int = 3) -> tuple[float, float]:
    """(achieved GFLOP/s, frames/s) of the encoder's forward pass alone on random frames."""
    frames = np.random.default_rng(0).integers(0, 255, (batch, encoder.image_size, encoder.image_size, 3), dtype=np.uint8)
    encoder.encode(frames[:2])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        encoder.encode(frames, batch_size=batch)
        best = min(best, time.perf_counter() - t0)
    return encoder.flops_per_image * batch / best / 1e9, batch / best


def make_corpus(folder: Path, clips: int, seconds: float = 5.0, fps: int = 16, size: int = 256) -> list[Path]:
    """``clips`` moving-pattern clips (80 frames at 256 px by default), varied motion and look."""
    from vidsearch.indexers.video import write_video

    rng = np.random.default_rng(0)
    n = int(seconds * fps)
    out = []
    yy, xx = np.mgrid[0:size, 0:size]
    for c in range(clips):
        t = np.linspace(0, 1, n)
        freq, phase = rng.uniform(0.5, 3), rng.uniform(0, 2 * np.pi)
        cx = size * (0.5 + 0.35 * np.cos(2 * np.pi * freq * t + phase))
        cy = size * (0.5 + 0.35 * np.sin(2 * np.pi * freq * t * rng.uniform(0.5, 2)))
        colour, back = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
        frames = np.empty((n, size, size, 3), np.uint8)
        for i in range(n):
            mask = (xx - cx[i]) ** 2 + (yy - cy[i]) ** 2 < (size / 8) ** 2
            frames[i] = back
            frames[i][mask] = colour
        out.append(write_video(folder / f"clip_{c:03d}.mp4", frames, fps))
    return out


def bench_indexing(backbone: str, clips: int) -> dict:
    from vidsearch.indexers.config import ExtractorConfig
    from vidsearch.retrieval.index import Index

    work = Path(tempfile.mkdtemp(prefix="vidsearch-bench-"))
    try:
        make_corpus(work / "corpus", clips)
        index = Index.create(work / "idx", ExtractorConfig(backbone=backbone))
        encoder = index.encoder
        t0 = time.perf_counter()
        report = index.add([work / "corpus"])
        wall = time.perf_counter() - t0
        s = report.stats
        peak_rss_mb = _peak_rss_mb()  # indexing is the heaviest step so far in this process
        gflops, fwd_fps = encoder_gflops(encoder)
        return {
            "peak_rss_mb": peak_rss_mb,
            "index_bytes_per_clip": _dir_bytes(work / "idx") / max(s.clips, 1),
            "clips": s.clips,
            "frames": s.frames,
            "wall_s": wall,
            "clips_per_s": s.clips / wall,
            "frames_per_s": s.frames / wall,
            "decode_share": s.decode_s / wall,
            "encode_share": s.encode_s / wall,
            "encoder_gflops": gflops,
            "encoder_forward_fps": fwd_fps,
            "flops_per_frame_g": encoder.flops_per_image / 1e9,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dir_bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.iterdir() if f.is_file())


def synthetic_index(directory: Path, n: int, ivf: bool, dim: int = 1152, curve_len: int = 64):
    """An index directory holding ``n`` clustered unit vectors and monotone curves.

    Vectors are drawn around ``n / 100`` random centres (cosine ~0.9 within a cluster), so nearest
    neighbours are meaningful and an ANN recall figure says something.
    """
    import pyarrow as pa

    from vidsearch.atomic import atomic_path
    from vidsearch.indexers.config import ExtractorConfig
    from vidsearch.retrieval import store
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.vector_index import VectorIndex

    rng = np.random.default_rng(n)
    centres = rng.normal(size=(max(1, n // 100), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vecs = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.5 / np.sqrt(dim), size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    curves = np.sort(rng.uniform(size=(n, curve_len)), axis=1).astype(np.float32)
    curves = (curves - curves[:, :1]) / (curves[:, -1:] - curves[:, :1])
    config = ExtractorConfig(weights_id="synthetic")
    store.Manifest(config, [], store.now_utc().isoformat(), dim).save(directory)
    schema = store.clips_schema(dim, curve_len)
    cols = {
        "id": pa.array(np.arange(1, n + 1)),
        "path": pa.array([f"/synthetic/{i}.mp4" for i in range(n)]),
        "size": pa.array(np.full(n, 1000)),
        "mtime": pa.array(np.zeros(n)),
        "hash": pa.array([f"{i:032x}" for i in range(n)]),
        "duration": pa.array(rng.uniform(1, 20, n)),
        "fps": pa.array(np.full(n, 25.0)),
        "width": pa.array(np.full(n, 640, np.int32)),
        "height": pa.array(np.full(n, 360, np.int32)),
        "frame_count": pa.array(np.full(n, 125)),
        "spf_curve": pa.FixedSizeListArray.from_arrays(pa.array(curves.ravel()), curve_len),
        "linearity_max": pa.array(np.zeros(n, np.float32)),
        "linearity_mean": pa.array(np.zeros(n, np.float32)),
        "segments": pa.array([[] for _ in range(n)], pa.list_(pa.int32())),
        "moments": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), dim),
        "indexed_at": pa.array([store.now_utc()] * n, pa.timestamp("s", tz="UTC")),
    }
    table = pa.Table.from_pydict(cols).cast(schema)
    generation = store.write_clips(directory, table)
    with atomic_path(store.faiss_path(directory, generation)) as tmp:
        VectorIndex.build(cols["id"].to_numpy(), vecs, dim, ivf=ivf).save(tmp)  # as a commit would
    return Index.open(directory), vecs


def bench_queries(n: int, ivf: bool, queries: int = 100) -> dict:
    from vidsearch.indexers.features import ClipFeatures
    from vidsearch.indexers.spf import SpfSignature

    work = Path(tempfile.mkdtemp(prefix="vidsearch-qbench-"))
    try:
        t0 = time.perf_counter()
        index, vecs = synthetic_index(work, n, ivf)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        _ = index.vectors
        load_s = time.perf_counter() - t0
        rng = np.random.default_rng(1)
        curve = np.linspace(0, 1, 64, dtype=np.float32)
        result = {
            "n": n,
            "faiss": "IVF" if index.vectors.is_ivf else "flat",
            "build_s": build_s,
            "load_s": load_s,
            "disk_mb": _dir_bytes(work) / 2**20,
        }
        picks = rng.integers(0, n, queries)
        feats = []
        for i in picks:
            q = vecs[i] + rng.normal(scale=0.02, size=vecs.shape[1]).astype(np.float32)
            q /= np.linalg.norm(q)
            feats.append(ClipFeatures(q, SpfSignature(curve, 0.0, 0.0, [], curve)))
        for label, kwargs in (("motion", {"by": "motion"}), ("both", {"by": "both"}), ("motion+where", {"by": "motion", "where": "duration > 10"})):
            index.search(feats[0], k=10, **kwargs)  # warm-up (DuckDB table for filters, caches)
            times = []
            for f in feats:
                t0 = time.perf_counter()
                index.search(f, k=10, **kwargs)
                times.append(time.perf_counter() - t0)
            result[f"{label}_p50_ms"] = 1000 * float(np.percentile(times, 50))
            result[f"{label}_p95_ms"] = 1000 * float(np.percentile(times, 95))
        # ANN quality: recall@10 of the FAISS result against exact numpy search
        hits = 0
        for f in feats[:50]:
            exact = set((np.argsort(-(vecs @ f.moments))[:10] + 1).tolist())
            hits += len(exact & {h.id for h in index.search(f, k=10)})
        result["recall_at_10"] = hits / (50 * 10)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--backbone", default="dinov2-s14")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--skip-indexing", action="store_true")
    args = parser.parse_args(argv)
    import torch

    print(f"# vidsearch throughput benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, {platform.processor() or platform.platform()}")
    peak = gemm_peak_gflops()
    print(f"GEMM peak (torch float32 1024^3, best of 20): {peak:.1f} GFLOP/s")
    if not args.skip_indexing:
        r = bench_indexing(args.backbone, args.clips)
        print(f"\n## indexing ({args.backbone}, {r['clips']} clips x 5 s @ 16 fps, 256 px, 32 frames/clip)")
        print(f"wall {r['wall_s']:.1f} s: {r['clips_per_s']:.2f} clips/s, {r['frames_per_s']:.1f} frames/s")
        print(f"decode time / wall {r['decode_share']:.0%} (background thread, overlaps), encoder+features / wall {r['encode_share']:.0%}")
        print(f"peak resident memory after indexing: {r['peak_rss_mb']:.0f} MB; index on disk: {r['index_bytes_per_clip'] / 1024:.1f} KiB per clip")
        print(
            f"encoder forward: {r['encoder_forward_fps']:.1f} frames/s, {r['flops_per_frame_g']:.2f} GFLOP/frame -> "
            f"{r['encoder_gflops']:.1f} GFLOP/s = {r['encoder_gflops'] / peak:.0%} of the GEMM peak"
        )
    print("\n## query latency (k=10, 100 queries, synthetic clustered 1152-d vectors + 64-pt curves)")
    print("| stored | FAISS | motion p50/p95 ms | both p50/p95 ms | motion+where p50/p95 ms | recall@10 vs exact | open s | on disk MB |")
    print("|---|---|---|---|---|---|---|---|")
    for n, ivf in ((int(s), ivf) for s in args.sizes.split(",") for ivf in (False, True)):
        q = bench_queries(n, ivf)
        print(
            f"| {n:,} | {q['faiss']} | {q['motion_p50_ms']:.2f} / {q['motion_p95_ms']:.2f} | {q['both_p50_ms']:.2f} / {q['both_p95_ms']:.2f} "
            f"| {q['motion+where_p50_ms']:.2f} / {q['motion+where_p95_ms']:.2f} | {q['recall_at_10']:.3f} | {q['load_s']:.2f} "
            f"| {q['disk_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
