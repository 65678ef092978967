"""The sampled-frame decode of long files: decoder options and splitting a file across processes.

    python -m benchmarks.decode_split [--groups 60s,1080p] [--skip-pipeline]

1. Decoder options for the seeking sampler (``indexers/decode/video.py``), side by side on the same
   clips, in this process: seconds per clip and whether the 32 sampled frames are IDENTICAL to
   the default's (full-resolution RGB, hashed). An option that changes a pixel would change
   vectors: it can only be a distinct config, so it is reported and never made a default.
2. Splitting one file's targets across decode processes (``indexers/decode/split.py``), through
   the real ``DecodePool`` (process start-up included): one worker vs one worker + a helper.
3. The same through ``run_pipeline`` (decode + encoder on the same cores), split vs not: what
   decides ``split_decode.MIN_PART_PIXEL_FRAMES``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.ingest import GROUPS, group_of, run_ours
from benchmarks.ingest_corpus import DEFAULT_CACHE, LONG_CLIPS, ensure_corpus

# name -> (stream settings applied right after the file is opened, SKIP_NONREF_MARGIN or None)
OPTIONS = {
    "default (FFmpeg's own threads, non-ref frames skipped up to 4 frames before a target)": ({}, None),
    "non-ref frames never skipped": ({}, 10**9),
    "non-ref skip margin 32 frames (the default before)": ({}, 32),
    "non-ref skip margin 16 frames": ({}, 16),
    "non-ref skip margin 8 frames": ({}, 8),
    "non-ref skip margin 2 frames": ({}, 2),
    "non-ref skip margin 0 (skipped targets decoded again)": ({}, 0),
    "1 thread (FFmpeg's slice threads off)": ({"thread_count": 1}, None),
    "2 frame threads": ({"thread_type": "FRAME", "thread_count": 2}, None),
    "thread_type AUTO, 2 threads": ({"thread_type": "AUTO", "thread_count": 2}, None),
    "2 slice threads": ({"thread_type": "SLICE", "thread_count": 2}, None),
    "flags2 FAST": ({"flags2": "fast"}, None),
    "skip_loop_filter on non-ref frames": ({"options": {"skip_loop_filter": "noref"}}, None),
}


def _apply(stream, settings: dict) -> None:
    import av

    for key, value in settings.items():
        if key == "flags2":
            stream.codec_context.flags2 = int(av.codec.context.Flags2[value])
        elif key == "options":
            stream.codec_context.options = dict(value)
        else:
            setattr(stream, key, value)


def sample_with(path: Path, frames: int, settings: dict, margin: int | None) -> tuple[float, float, list[str]]:
    """Wall and CPU seconds (this process, FFmpeg's threads included) to sample ``frames``
    full-resolution frames with these settings, and their hashes."""
    from vidsearch.indexers.decode import video

    real_open, saved_margin = video._open, video.SKIP_NONREF_MARGIN

    def opened(p):
        container, stream = real_open(p)
        _apply(stream, settings)
        return container, stream

    video._open = opened
    video.SKIP_NONREF_MARGIN = saved_margin if margin is None else margin
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        raw, _ = video._sample_pyav(path, frames)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        video._open, video.SKIP_NONREF_MARGIN = real_open, saved_margin
    return seconds, cpu, [hashlib.sha1(f.tobytes()).hexdigest() for f in raw]


def options_table(groups: dict[str, list[Path]], frames: int) -> None:
    print("\n## 1. decoder options, seconds per clip for the sampled frames: wall / CPU (same frames as the default?)")
    print("| option | " + " | ".join(GROUPS[g] for g in groups) + " |")
    print("|---|" + "---|" * len(groups))
    for path in [p for paths in groups.values() for p in paths][:1]:  # warm-up: imports, caches
        sample_with(path, 2, {}, None)
    reference: dict[Path, list[str]] = {}
    for name, (settings, margin) in OPTIONS.items():
        cells = []
        for paths in groups.values():
            wall, cpu, same = 0.0, 0.0, True
            for path in paths:
                seconds, cpu_s, hashes = sample_with(path, frames, settings, margin)
                wall, cpu = wall + seconds, cpu + cpu_s
                same &= reference.setdefault(path, hashes) == hashes
            cells.append(
                f"{wall / len(paths):.2f} / {cpu / len(paths):.2f} ({'identical' if same else 'DIFFERENT frames'})"
            )
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def pool_seconds(paths: list[Path], config, size: int, helpers: int) -> tuple[float, int]:
    """Seconds to decode ``paths`` through a one-worker ``DecodePool`` (``helpers`` > 0: split
    every file into 1 + helpers parts), and the files split."""
    from vidsearch.indexers.decode.pool import DecodePool
    from vidsearch.indexers.decode.split import SplitRule

    split = SplitRule(1.0) if helpers else None
    pool = DecodePool(1, config, size, split=split, part_workers=1 + helpers)
    t0 = time.perf_counter()
    for _ in pool.events(map(str, paths)):
        pass
    return time.perf_counter() - t0, pool.split_files


def split_tables(groups: dict[str, list[Path]], backbone: str, pipeline: bool) -> None:
    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.indexers.decode import split as split_decode

    config = ExtractorConfig(backbone=backbone, segment=SegmentConfig(mode="none"))
    print("\n## 2. decode only through the DecodePool (process start-up included), seconds per clip")
    print("| clips | 1 worker | 1 worker + 1 helper, every file in 2 parts | speed-up |")
    print("|---|---|---|---|")
    for group, paths in groups.items():
        whole, _ = pool_seconds(paths, config, 224, 0)
        split, n = pool_seconds(paths, config, 224, 1)
        assert n == len(paths)
        print(
            f"| {GROUPS[group]} ({len(paths)}) | {whole / len(paths):.2f} | {split / len(paths):.2f} | "
            f"{whole / split:.2f}x |",
            flush=True,
        )
    if not pipeline:
        return
    from vidsearch.indexers.encoders import load_encoder

    encoder = load_encoder(backbone)
    config = config.with_weights(encoder.weights_id)
    run_ours(groups[next(iter(groups))][:1], config, encoder)  # warm-up (and the guard's verdict cached)
    print("\n## 3. run_pipeline (default runtime: 1 decode worker, encoder on all cores), seconds per clip")
    print(
        "| clips | not split (--part-workers 1) | every file split in 2 (--part-workers "
        "2, threshold lowered) | default rule | files split by the default rule |"
    )
    print("|---|---|---|---|---|")
    saved = split_decode.MIN_PART_PIXEL_FRAMES
    for group, paths in groups.items():
        whole, _, _ = run_ours(paths, config, encoder, part_workers=1)
        split_decode.MIN_PART_PIXEL_FRAMES = 1.0
        try:
            split, _, stats = run_ours(paths, config, encoder, part_workers=2)
        finally:
            split_decode.MIN_PART_PIXEL_FRAMES = saved
        assert stats.split_files == len(paths)
        default, _, stats = run_ours(paths, config, encoder)
        n = len(paths)
        print(
            f"| {GROUPS[group]} ({n}) | {whole / n:.2f} | {split / n:.2f} ({whole / split:.2f}x) | "
            f"{default / n:.2f} | {stats.split_files} of {n} |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="60s,1080p")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--real-clips", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real-clips"
    )
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--max-clips", type=int, default=2, help="clips per group")
    parser.add_argument("--backbone", default="dinov2-s14")
    parser.add_argument("--skip-options", action="store_true")
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args(argv)
    wanted = args.groups.split(",")
    specs = [s for s in LONG_CLIPS if group_of(Path(s.name)) in wanted and (args.cache / s.name).exists()]
    corpus = ensure_corpus(args.cache, args.real_clips, specs)
    groups = {g: [p for p in corpus if group_of(p) == g][: args.max_clips] for g in wanted}
    groups = {g: paths for g, paths in groups.items() if paths}
    print(
        f"# sampled-frame decode, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} "
        f"CPUs, load {os.getloadavg()[0]:.1f}"
    )
    print("clips: " + "; ".join(f"{GROUPS[g]}: {', '.join(p.name for p in paths)}" for g, paths in groups.items()))
    if not args.skip_options:
        options_table(groups, args.frames)
    split_tables(groups, args.backbone, not args.skip_pipeline)
    print(f"\nload at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
