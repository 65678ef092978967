"""Speed benchmark: indexing throughput, decode vs encoder share, encoder GFLOP/s vs a GEMM peak
measured in the same run (the store's query benchmark is ``benchmarks.store``).

    python -m benchmarks.throughput [--clips 16] [--backbone dinov2-s14]

Everything printed is measured in this run on this machine; nothing is copied from elsewhere.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np


def gemm_peak_gflops(n: int = 1024, repeats: int = 20, dtype: str = "float32", device: str = "cpu") -> float:
    """Matrix-multiply throughput of torch on ``device`` at ``dtype`` (best of ``repeats``; on a GPU
    each product is timed to its completion)."""
    import torch

    a = torch.randn(n, n, dtype=getattr(torch, dtype), device=device)
    b = torch.randn(n, n, dtype=getattr(torch, dtype), device=device)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    torch.mm(a, b)
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def encoder_gflops(encoder, batch: int = 32, repeats: int = 3) -> tuple[float, float]:
    """(achieved GFLOP/s, frames/s) of the encoder's forward pass alone on random frames."""
    frames = np.random.default_rng(0).integers(
        0, 255, (batch, encoder.image_size, encoder.image_size, 3), dtype=np.uint8
    )
    encoder.encode(frames[:2])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        encoder.encode(frames, batch_size=batch)
        best = min(best, time.perf_counter() - t0)
    return encoder.flops_per_image * batch / best / 1e9, batch / best


def make_corpus(folder: Path, clips: int, seconds: float = 5.0, fps: int = 16, size: int = 256) -> list[Path]:
    """``clips`` moving-pattern clips (80 frames at 256 px by default), varied motion and look."""
    from vidsearch.indexers.decode.video import write_video

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
    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.retrieval.index import Index

    work = Path(tempfile.mkdtemp(prefix="vidsearch-bench-"))
    try:
        make_corpus(work / "corpus", clips)
        index = Index.create(work / "idx", ExtractorConfig(segment=SegmentConfig(mode="none"), backbone=backbone))
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
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--backbone", default="dinov2-s14")
    parser.add_argument("--skip-indexing", action="store_true")
    args = parser.parse_args(argv)
    import torch

    print(f"# vidsearch throughput benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"{platform.processor() or platform.platform()}"
    )
    peak = gemm_peak_gflops()
    print(f"GEMM peak (torch float32 1024^3, best of 20): {peak:.1f} GFLOP/s")
    if not args.skip_indexing:
        r = bench_indexing(args.backbone, args.clips)
        print(f"\n## indexing ({args.backbone}, {r['clips']} clips x 5 s @ 16 fps, 256 px, 32 frames/clip)")
        print(f"wall {r['wall_s']:.1f} s: {r['clips_per_s']:.2f} clips/s, {r['frames_per_s']:.1f} frames/s")
        print(
            f"decode time / wall {r['decode_share']:.0%} (background thread, overlaps), "
            f"encoder+features / wall {r['encode_share']:.0%}"
        )
        print(
            f"peak resident memory after indexing: {r['peak_rss_mb']:.0f} MB; index on disk: "
            f"{r['index_bytes_per_clip'] / 1024:.1f} KiB per clip"
        )
        print(
            f"encoder forward: {r['encoder_forward_fps']:.1f} frames/s, {r['flops_per_frame_g']:.2f} GFLOP/frame -> "
            f"{r['encoder_gflops']:.1f} GFLOP/s = {r['encoder_gflops'] / peak:.0%} of the GEMM peak"
        )
    print("\nquery latency, recall and the store's memory/disk figures: python -m benchmarks.store")


if __name__ == "__main__":
    main()
